#include <set>

#include "fpx/broker/stages.hpp"

namespace fpx::broker {

LeafCommitment log_leaf_commitment(const OpenedEnvelope& opened, const std::vector<ParticipantId>& recipients,
                                   const Enrollment& enrollment, std::int64_t stored_at_ms) {
  // A salted commitment to the event's metadata, never its content: the
  // leaf data is SHA-256(salt || metadata). The random salt stops anyone
  // from confirming a guessed metadata line against the public log; salt
  // and metadata are kept sealed in the store for a reveal after the embargo.
  std::set<std::string> countries;
  for (const auto& id : recipients) {
    if (const auto* participant = enrollment.by_id(id)) countries.insert(participant->country.str());
  }
  // Appended piece by piece: g++ 12 -O2 warns falsely (-Wrestrict) on "a" + b chains.
  std::string metadata(message_type_name(opened.type));
  metadata.append("|").append(opened.signer.participant.country.str()).append("|");
  for (const auto& country : countries) metadata.append(country).append(",");
  metadata.append("|").append(std::to_string(stored_at_ms / (24LL * 3600 * 1000)));  // the day, not the time

  std::array<std::uint8_t, 16> salt{};
  random_bytes(salt);
  Sha256Digest commitment = sha256(concat({salt, as_bytes(metadata)}));
  return LeafCommitment{Bytes(salt.begin(), salt.end()), std::move(metadata),
                        Bytes(commitment.begin(), commitment.end())};
}

AuditEntry audit_entry(std::int64_t now_ms, const std::string& principal, const std::optional<MessageId>& id,
                       std::string stage, ErrorCode outcome, std::string detail) {
  AuditEntry entry;
  entry.at_ms = now_ms;
  entry.principal = principal;
  entry.message_id = id;
  entry.stage = std::move(stage);
  entry.outcome = outcome;
  entry.detail = std::move(detail);
  return entry;
}

}  // namespace fpx::broker
