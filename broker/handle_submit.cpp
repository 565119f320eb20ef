#include <spdlog/spdlog.h>

#include "broker_impl.hpp"

namespace fpx::broker {

void Broker::Impl::handle_submit(const EnrolledParticipant& principal, std::uint64_t request_id, const Bytes& envelope,
                                 const std::string& routing_id) {
  const std::string& who = principal.id.str();
  StageContext context = stage_context();

  auto opened = open_submitted(context, envelope);
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
    outgoing.push_back({routing_id, encode_receipt(request_id, verdict->duplicate_of->receipt)});
    return;
  }

  if (opened->type == wire::MessageType::FORWARD) {
    if (auto shared = share_forwarded_request(*opened); !shared) {
      return refuse(routing_id, request_id, who, id, "persist", shared.error());
    }
  }
  auto inserted = persist(context, *opened, envelope, signed_sha256, *recipients);
  if (!inserted) return refuse(routing_id, request_id, who, id, "persist", inserted.error());
  Bytes receipt = sign_receipt(identity, id, opened->envelope_sha256, now_ms, inserted->log_index);
  if (auto stored = store->set_receipt(inserted->seq, receipt); !stored) {
    return refuse(routing_id, request_id, who, id, "receipt", stored.error());
  }
  if (auto applied = apply_workflow(*opened, principal); !applied) {
    // The message itself is stored and receipted; only its bookkeeping
    // failed. Loud, because the lifecycle now misses a step.
    ++counters.internal_errors;
    spdlog::error("workflow of {} not recorded: {}", id.hex(), applied.error().describe());
  }
  audit(who, id, "persist", ErrorCode::none,
        std::string(message_type_name(opened->type)) + " accepted for " + std::to_string(recipients->size()) +
            " recipient(s)");
  ++counters.accepted;
  // Sent only after the batch's commit: a receipt means "stored durably".
  outgoing.push_back({routing_id, encode_receipt(request_id, receipt)});
  for (const auto& recipient : *recipients) push_after_commit.insert(recipient);
}

}  // namespace fpx::broker
