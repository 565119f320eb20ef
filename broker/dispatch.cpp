// One inbound message: accept, identify, decode, rate-limit, then the one
// switch over the request kind. Library exceptions stop here: the message
// gets a typed error and the broker goes on serving everyone else.
#include <kj/exception.h>
#include <spdlog/spdlog.h>

#include "broker_impl.hpp"

namespace fpx::broker {

void Broker::Impl::audit(const std::string& principal, const std::optional<MessageId>& about, const char* stage,
                         ErrorCode outcome, std::string detail) {
  if (auto written = store->append_audit(audit_entry(now_ms, principal, about, stage, outcome, std::move(detail)));
      !written) {
    spdlog::error("audit row not written: {}", written.error().describe());
  }
}

void Broker::Impl::refuse(const std::string& routing_id, std::uint64_t request_id, const std::string& principal,
                          const std::optional<MessageId>& about, const char* stage, const Error& error,
                          std::uint32_t retry_after_ms) {
  ++counters.refused;
  // Decided before anything is written for this frame: a flood of refused
  // frames (malformed, too large, unknown, unauthorized...) costs one audit
  // row per principal, stage and kind a second, and a summary row with the
  // count of the rest, never a row each (tens of thousands a second).
  if (rate_limit_audit.audit_in_full(stage, principal, error.code, now_ms)) {
    audit(principal, about, stage, error.code, error.message);
  }
  spdlog::debug("refused at {} for {}: {}", stage, principal, error.describe());
  outgoing.push_back({routing_id, encode_error(request_id, error, about, retry_after_ms), request_id});
}

void Broker::Impl::refuse_rate_limited(const std::string& routing_id, std::uint64_t request_id,
                                       const std::string& principal, const Error& error,
                                       std::uint32_t retry_after_ms) {
  ++counters.rate_limited;
  ++counters.refused;
  if (rate_limit_audit.audit_in_full("accept", principal, now_ms)) {
    audit(principal, std::nullopt, "accept", error.code,
          error.message + "; more refusals of " + principal + " in the next " +
              std::to_string(kRateLimitAuditWindowMs) + " ms are audited as one summary row");
  }
  outgoing.push_back({routing_id, encode_error(request_id, error, std::nullopt, retry_after_ms), request_id});
}

void Broker::Impl::report_rate_limit_summaries(std::int64_t ended_by_ms) {
  for (const auto& summary : rate_limit_audit.take_ended(ended_by_ms)) {
    const std::string code(error_code_name(summary.code));
    std::string detail = std::to_string(summary.refusals);
    detail.append(" more ")
        .append(code)
        .append(" refusal(s) of ")
        .append(summary.principal)
        .append(" in the ")
        .append(std::to_string(kRateLimitAuditWindowMs))
        .append(" ms after the one audited in full; each was answered with ")
        .append(code);
    spdlog::warn("{} at {}", detail, summary.stage);
    deferred_audit.push_back(audit_entry(now_ms, summary.principal, std::nullopt, summary.stage, summary.code, detail));
  }
}

Broker::Impl::Inbound Broker::Impl::take_inbound(std::vector<zmq::message_t>& frames) {
  Inbound inbound;
  inbound.frame_count = frames.size();
  if (frames.empty()) return inbound;
  inbound.routing_id = frames.front().to_string();
  auto& payload = frames.back();  // gets() is not const
  inbound.payload_bytes = payload.size();
  try {
    // Set by our ZAP handler for this connection: the only source of identity.
    inbound.user_id = payload.gets("User-Id");
  } catch (const zmq::error_t&) {
    return inbound;  // cannot happen with zap_domain set; refused in handle_inbound
  }
  try {
    // Which of the participant's certificates (its own, or an officer's)
    // holds this connection: set by our ZAP handler beside the User-Id.
    if (auto key = z85_decode_key(payload.gets(kCertificateProperty))) inbound.certificate_key = *key;
  } catch (const zmq::error_t&) {
    // absent: refused in handle_inbound
  }
  // Decoding is signature-free and bounded; it comes first so that every
  // later refusal can name the request it answers.
  if (accept_frame(inbound.frame_count, inbound.payload_bytes, config.limits).ok()) {
    inbound.request = decode_client_frame(ByteView(static_cast<const std::uint8_t*>(payload.data()), payload.size()));
  }
  return inbound;
}

void Broker::Impl::handle_inbound(Inbound& inbound) {
  if (inbound.routing_id.empty()) return;
  const std::string& routing_id = inbound.routing_id;
  const std::string& user_id = inbound.user_id;
  if (user_id.empty()) {
    ++counters.internal_errors;
    spdlog::error("a message without a ZAP User-Id: refusing it");
    return;
  }
  {
    // Bytes of every frame, before anything else is done with it: a flood
    // of large frames is refused by its size, whatever it holds.
    const ParticipantId sender(user_id);
    std::uint32_t retry_after_ms = 0;
    if (auto admitted = inbound_bytes.admit(sender, now_ms, retry_after_ms); !admitted) {
      const std::uint64_t request_id = inbound.request && inbound.request->ok() ? (*inbound.request)->request_id : 0;
      refuse_rate_limited(routing_id, request_id, user_id, admitted.error(), retry_after_ms);
      return;
    }
    inbound_bytes.charge(sender, now_ms, inbound.payload_bytes);
  }
  if (auto accepted = accept_frame(inbound.frame_count, inbound.payload_bytes, config.limits); !accepted) {
    refuse(routing_id, 0, user_id, std::nullopt, "accept", accepted.error());
    return;
  }
  auto& request = *inbound.request;
  if (!request) {
    refuse(routing_id, 0, user_id, std::nullopt, "accept", request.error());
    return;
  }
  if (closed_routing_ids.count(routing_id) != 0) {
    // A newer session took this participant over: this connection may not take it back.
    outgoing.push_back({routing_id, encode_session_closed("a newer session of " + user_id + " is connected"),
                        request->request_id});
    return;
  }
  auto principal = identify(user_id, enrollment);
  if (!principal) {
    refuse(routing_id, request->request_id, user_id, std::nullopt, "identify", principal.error());
    return;
  }
  // The connection's own certificate must still be enrolled: revoking one
  // officer (a reload) ends that officer's live session, not its colleagues'.
  const EnrolledCertificate* certificate =
      inbound.certificate_key ? enrollment.certificate_by_curve_key(*inbound.certificate_key) : nullptr;
  if (certificate == nullptr || certificate->id != (*principal)->id) {
    refuse(routing_id, request->request_id, user_id, std::nullopt, "identify",
           make_error(ErrorCode::revoked, "the certificate this session of " + user_id +
                                              " connected with is no longer enrolled at this broker (revoked or "
                                              "withdrawn); connect with a current certificate, or ask the "
                                              "exchange's operator"));
    return;
  }
  const std::string label = principal_label(certificate->id, certificate->officer);
  if (attach_session(*certificate, routing_id) == nullptr) {
    refuse(routing_id, request->request_id, label, std::nullopt, "identify",
           make_error(ErrorCode::unavailable,
                      user_id + " already has " + std::to_string(kMaxSessionsPerParticipant) +
                          " sessions open (one per certificate), the most one participant may hold; close the "
                          "session of an officer who is not working, then connect again"));
    return;
  }

  try {
    switch (request->kind) {
      case ClientRequest::Kind::submit:
      case ClientRequest::Kind::status: {
        // Before any signature work: a flood costs a counter, not a verify.
        std::uint32_t retry_after_ms = 0;
        if (auto admitted = rate_limiter.admit((*principal)->id, now_ms, retry_after_ms); !admitted) {
          refuse_rate_limited(routing_id, request->request_id, label, admitted.error(), retry_after_ms);
          return;
        }
        if (request->kind == ClientRequest::Kind::submit) {
          handle_submit(**principal, request->request_id, request->envelope, routing_id);
        } else {
          handle_status(**principal, *request, routing_id);
        }
        break;
      }
      case ClientRequest::Kind::confirm: {
        // Each id is an UPDATE on the loop thread: a confirm pays by its ids.
        std::uint32_t retry_after_ms = 0;
        const double cost = 1.0 + static_cast<double>(request->delivery_ids.size()) / kConfirmIdsPerToken;
        if (auto admitted = rate_limiter.admit((*principal)->id, now_ms, retry_after_ms, cost); !admitted) {
          // Nothing confirmed: the deliveries stay in flight, are resent, and
          // the client confirms the resends.
          refuse_rate_limited(routing_id, request->request_id, label, admitted.error(), retry_after_ms);
          return;
        }
        handle_confirm(**principal, *request);
        break;
      }
      case ClientRequest::Kind::ping:
        outgoing.push_back({routing_id, encode_pong(request->request_id), request->request_id});
        break;
    }
  } catch (const kj::Exception& exception) {
    refuse(routing_id, request->request_id, label, std::nullopt, "open",
           make_error(ErrorCode::malformed, std::string("undecodable content: ") + exception.getDescription().cStr()));
  } catch (const std::exception& exception) {
    ++counters.internal_errors;
    refuse(routing_id, request->request_id, label, std::nullopt, "internal",
           make_error(ErrorCode::internal, std::string("the broker failed on this message (") + exception.what() +
                                               "); nothing was stored: report it to the operator"));
  }
}

}  // namespace fpx::broker
