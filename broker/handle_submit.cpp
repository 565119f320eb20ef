#include <algorithm>
#include <cstring>

#include <capnp/serialize.h>
#include <spdlog/spdlog.h>

#include "fpx/wire/transport.capnp.h"

#include "broker_impl.hpp"

namespace fpx::broker {

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
    auto source = receipts.resend(*store, *verdict->duplicate_of, opened->envelope_sha256);
    if (!source) return refuse(routing_id, request_id, who, id, "receipt", source.error());
    if (auto* ready = std::get_if<Bytes>(&*source)) {
      outgoing.push_back({routing_id, encode_receipt(request_id, *ready), request_id});
    } else {
      outgoing.push_back({routing_id, {}, request_id, std::get<GroupLeaf>(*source)});
    }
    return;
  }

  // The participant's bytes of the day (limits.quota_bytes_per_day): after
  // dedupe, so a resend of an accepted message still gets its receipt.
  {
    std::uint32_t retry_after_ms = 0;
    auto stored_since = [this](const ParticipantId& sender, std::int64_t since_ms) {
      return store->bytes_stored_since(sender, since_ms);
    };
    if (auto fits = daily_quota.admit(principal.id, now_ms, envelope.size(), stored_since, retry_after_ms); !fits) {
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
  auto stored = [&]() -> Result<InsertedMessage> {
    if (opened->type == wire::MessageType::FORWARD) {
      if (auto shared = share_forwarded_request(*opened); !shared) return std::move(shared).take_error();
    }
    auto inserted = persist(context, *opened, envelope, signed_sha256, *recipients);
    if (!inserted) return std::move(inserted).take_error();
    failed_stage = "account";
    if (auto applied = apply_workflow(*opened, principal, *recipients); !applied) return std::move(applied).take_error();
    if (auto published = publish_message(*opened, *inserted); !published) return std::move(published).take_error();
    if (auto released = store->release_savepoint(); !released) return std::move(released).take_error();
    return inserted;
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
  // Its leaf in the batch's receipt group, only now that nothing of it can
  // be rolled back without the whole batch.
  const GroupLeaf receipt = receipts.add(stored->seq, id, opened->envelope_sha256, now_ms, stored->log_index);
  // The row names the officer who signed (the signer certificate's officer
  // extension, which open() checked equals the signed header's).
  const std::string& officer = opened->signer.participant.officer;
  audit(principal_label(principal.id, officer), id, "persist", ErrorCode::none,
        std::string(message_type_name(opened->type)) + " accepted for " + std::to_string(recipients->size()) +
            " recipient(s)" + (officer.empty() ? std::string() : "; signed by officer " + officer));
  ++counters.accepted;
  daily_quota.charge(principal.id, now_ms, envelope.size());
  // Sent only after the batch's commit: a receipt means "stored durably".
  outgoing.push_back({routing_id, {}, request_id, receipt});
  for (const auto& recipient : *recipients) push_after_commit.insert(recipient);
}

}  // namespace fpx::broker
