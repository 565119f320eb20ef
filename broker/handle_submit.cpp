#include <algorithm>
#include <cstring>

#include <capnp/serialize.h>
#include <spdlog/spdlog.h>

#include "fpx/wire/transport.capnp.h"

#include "broker_impl.hpp"

namespace fpx::broker {

// A resend of an accepted message gets its stored receipt, byte for byte;
// if the resend wraps the same signed content in other envelope bytes, a
// receipt for those bytes (same id, time and log index) so that the sender
// can check it against what it sent.
Bytes Broker::Impl::duplicate_receipt(const StoredMessage& stored, const OpenedEnvelope& opened,
                                      std::uint64_t request_id) {
  if (stored.receipt.empty()) {
    // Stored, but its receipt was never recorded: receipt it now.
    return encode_receipt(request_id, sign_receipt(identity, stored.id, opened.envelope_sha256, stored.stored_at_ms,
                                                   stored.log_index));
  }
  auto words = kj::heapArray<capnp::word>(stored.receipt.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), stored.receipt.data(), words.size() * sizeof(capnp::word));
  capnp::FlatArrayMessageReader signed_reader(words);
  auto receipt_data = signed_reader.getRoot<wire::SignedReceipt>().getReceipt();
  auto receipt_words = kj::heapArray<capnp::word>(receipt_data.size() / sizeof(capnp::word));
  std::memcpy(receipt_words.begin(), receipt_data.begin(), receipt_words.size() * sizeof(capnp::word));
  kj::ArrayPtr<const capnp::word> segments[1] = {receipt_words};
  capnp::SegmentArrayMessageReader receipt_reader(kj::arrayPtr(segments, 1));
  auto hash = receipt_reader.getRoot<wire::Receipt>().getEnvelopeSha256();
  if (hash.size() == opened.envelope_sha256.size() &&
      std::equal(hash.begin(), hash.end(), opened.envelope_sha256.begin())) {
    return encode_receipt(request_id, stored.receipt);
  }
  return encode_receipt(request_id, sign_receipt(identity, stored.id, opened.envelope_sha256, stored.stored_at_ms,
                                                 stored.log_index));
}

void Broker::Impl::handle_submit(const EnrolledParticipant& principal, std::uint64_t request_id, const Bytes& envelope,
                                 const std::string& routing_id) {
  const std::string& who = principal.id.str();
  StageContext context = stage_context();
  // Only focal points and agencies submit: observers are read-only, and the
  // exchange's own identity issues its notices itself, never over the wire.
  if (principal.role != Role::focal_point && principal.role != Role::agency) {
    return refuse(routing_id, request_id, who, std::nullopt, "authorize",
                  make_error(ErrorCode::unauthorized,
                             principal.role == Role::observer
                                 ? "observers are read-only: they follow the public feed and may send nothing here"
                                 : "a " + std::string(role_name(principal.role)) + " may not submit messages"));
  }

  auto opened = open_submitted(context, principal, envelope);
  if (!opened) return refuse(routing_id, request_id, who, std::nullopt, "open", opened.error());
  const MessageId id = opened->message_id;

  auto recipients = authorize(context, principal, *opened);
  if (!recipients) return refuse(routing_id, request_id, who, id, "authorize", recipients.error());

  if (auto valid = validate_submitted(context, *opened); !valid) {
    return refuse(routing_id, request_id, who, id, "validate", valid.error());
  }

  const Sha256Digest signed_sha256 = signed_content_sha256(*opened);
  auto verdict = dedupe(context, *opened, signed_sha256);
  if (!verdict) return refuse(routing_id, request_id, who, id, "dedupe", verdict.error());
  if (verdict->duplicate_of) {
    // Same message again (a resend after a lost receipt): same receipt, no second delivery.
    ++counters.duplicates;
    audit(who, id, "dedupe", ErrorCode::none, "duplicate of an accepted message: receipt repeated");
    outgoing.push_back({routing_id, duplicate_receipt(*verdict->duplicate_of, *opened, request_id), request_id});
    return;
  }

  // The participant's stored bytes of the day (limits.quota_bytes_per_day)
  // and of the minute (limits.stored_bytes_per_minute): after dedupe, so a
  // resend of an accepted message still gets its receipt.
  const std::uint64_t stored_bytes = DailyQuota::stored_bytes_of(*opened, envelope.size());
  {
    std::uint32_t retry_after_ms = 0;
    auto stored_since = [this](const ParticipantId& sender, std::int64_t since_ms) {
      return store->bytes_stored_since(sender, since_ms);
    };
    if (auto fits = daily_quota.admit(principal.id, now_ms, envelope.size(), stored_bytes, stored_since, retry_after_ms);
        !fits) {
      return refuse(routing_id, request_id, who, id, "persist", fits.error(),
                    fits.error().code == ErrorCode::quota_exceeded ? retry_after_ms : 0);
    }
  }

  // One savepoint for everything this message writes: a failure at any
  // step undoes all of it (no shared forward without its forward, no
  // message without its lifecycle step) and the sender hears why.
  if (auto opened_savepoint = store->open_savepoint(); !opened_savepoint) {
    return refuse(routing_id, request_id, who, id, "persist", opened_savepoint.error());
  }
  const char* failed_stage = "persist";
  auto stored = [&]() -> Result<Bytes> {
    if (opened->type == wire::MessageType::FORWARD) {
      if (auto shared = share_forwarded_request(*opened); !shared) return std::move(shared).take_error();
    }
    auto inserted = persist(context, *opened, envelope, signed_sha256, *recipients);
    if (!inserted) return std::move(inserted).take_error();
    failed_stage = "receipt";
    Bytes signed_receipt = sign_receipt(identity, id, opened->envelope_sha256, now_ms, inserted->log_index);
    if (auto kept = store->set_receipt(inserted->seq, signed_receipt); !kept) return std::move(kept).take_error();
    failed_stage = "account";
    if (auto applied = apply_workflow(*opened, principal, *recipients); !applied) return std::move(applied).take_error();
    if (auto published = publish_message(*opened, *inserted); !published) return std::move(published).take_error();
    if (auto released = store->release_savepoint(); !released) return std::move(released).take_error();
    return signed_receipt;
  }();
  if (!stored) {
    store->rollback_savepoint();
    const ErrorCode code = stored.error().code;
    if (code == ErrorCode::internal || code == ErrorCode::io_error) {
      ++counters.internal_errors;
      spdlog::error("{} not stored: {} failed: {}", id.hex(), failed_stage, stored.error().describe());
    }
    return refuse(routing_id, request_id, who, id, failed_stage, stored.error());
  }
  const Bytes& receipt = *stored;
  // The row names the officer who signed (the signer certificate's officer
  // extension, which open() checked equals the signed header's).
  const std::string& officer = opened->signer.participant.officer;
  audit(principal_label(principal.id, officer), id, "persist", ErrorCode::none,
        std::string(message_type_name(opened->type)) + " accepted for " + std::to_string(recipients->size()) +
            " recipient(s)" + (officer.empty() ? std::string() : "; signed by officer " + officer));
  ++counters.accepted;
  daily_quota.charge(principal.id, now_ms, envelope.size(), stored_bytes);
  // Sent only after the batch's commit: a receipt means "stored durably".
  outgoing.push_back({routing_id, encode_receipt(request_id, receipt), request_id});
  for (const auto& recipient : *recipients) push_after_commit.insert(recipient);
}

}  // namespace fpx::broker
