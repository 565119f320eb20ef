// One inbound message: accept, identify, decode, rate-limit, then the one
// switch over the request kind. Library exceptions stop here: the message
// gets a typed error and the broker goes on serving everyone else.
#include <kj/exception.h>
#include <spdlog/spdlog.h>

#include "broker_impl.hpp"

namespace fpx::broker {

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
    ScopedStageTimer timer(stage_times, StageTimer::decode);
    stage_times.count_message();
    inbound.request = decode_client_frame(ByteView(static_cast<const std::uint8_t*>(payload.data()), payload.size()));
  }
  return inbound;
}

void Broker::Impl::verify_ahead(std::vector<Inbound>& inbound, std::size_t from, VerifyBudgets& budgets) {
  // Signature work before admission only for what admission will let
  // through: a sender's submits are verified ahead while its token bucket
  // holds tokens for them (counted here, none taken), so a flood costs a
  // counter, not a verify; the byte budget before it is followed the same
  // way. The rest are verified in handle_submit, after their admission, as
  // before. A later gate (the session limit) may still refuse a message
  // verified here: its verdict is then dropped unused.
  //
  // With a verify pool the jobs go to the workers (one sender's to one
  // worker, in order), this thread verifies its own shard meanwhile, then
  // waits for every job before the transaction begins. That wait is what
  // makes the workers' lock-free reads safe: config and enrolment change
  // only on this thread, and never while a job is out.
  auto& tokens_left = budgets.tokens_left;
  auto& bytes_left = budgets.bytes_left;
  const std::int64_t now_ms = loop_clock.now_ms();
  std::vector<std::pair<std::size_t, Submission>> on_this_thread;
  for (std::size_t index = from; index < inbound.size(); ++index) {
    auto& message = inbound[index];
    if (message.user_id.empty()) continue;
    // The byte budget comes first in handle_inbound and is charged for every
    // frame, whatever it holds: follow it frame by frame, so that a sender
    // over its bytes costs no verify either.
    const ParticipantId sender(message.user_id);
    auto bytes = bytes_left.try_emplace(sender, admission.inbound_bytes_available(sender)).first;
    if (bytes->second <= 0) continue;  // refused by the byte budget, nothing charged
    bytes->second -= static_cast<double>(message.payload_bytes);
    const auto& request = message.request;
    if (!request || !request->ok()) continue;
    // Every request kind that takes tokens, in order, as admission will.
    auto tokens = tokens_left.try_emplace(sender, admission.tokens(sender)).first;
    const auto kind = (*request)->kind;
    if (kind == ClientRequest::Kind::confirm) {
      tokens->second -= 1.0 + static_cast<double>((*request)->delivery_ids.size()) / kConfirmIdsPerToken;
      continue;
    }
    if (kind == ClientRequest::Kind::status || kind == ClientRequest::Kind::log_proof ||
        kind == ClientRequest::Kind::statistics_facts) {
      tokens->second -= 1.0;
      continue;
    }
    if (kind != ClientRequest::Kind::submit) continue;
    if (sessions.is_closed(message.routing_id)) continue;
    auto principal = identify(message.user_id, enrollment);
    if (!principal) continue;
    if (tokens->second < 1.0) continue;
    tokens->second -= 1.0;
    // Issue 14: nor for a submit its sender's stored bytes cannot hold
    // (handle_submit refuses it before open, unless it is a resend).
    if (std::uint32_t wait = 0; !admission.precheck_stored_bytes(sender, (*request)->envelope.size(), wait)) continue;
    Submission submission;
    submission.routing_id = message.routing_id;
    submission.principal = **principal;
    submission.request_id = (*request)->request_id;
    submission.envelope = (*request)->envelope;
    if (verify_pool && !verify_pool->verified_on_loop(submission.principal.id)) {
      auto job = std::make_unique<VerifyJob>();
      job->index = index;
      job->now_ms = now_ms;
      job->submission = std::move(submission);
      verify_pool->send(std::move(job));
      continue;
    }
    on_this_thread.emplace_back(index, std::move(submission));
  }
  // The loop's own shard (all of it without a pool), while the workers verify theirs.
  if (verify_pool) verify_pool->dispatch();
  for (auto& [index, submission] : on_this_thread) {
    try {
      verify_submission(verify_context(), submission, stage_times);
    } catch (const kj::Exception&) {
      continue;  // verified again after admission, where the failure is answered
    } catch (const std::exception&) {
      continue;
    }
    inbound[index].submission = std::move(submission);
  }
  if (!verify_pool) return;
  for (auto& job : verify_pool->collect()) {
    // The workers' CPU time joins this thread's, so that the "stage cpu us"
    // line still shows where open and validate went.
    stage_times.add(job->times);
    // A job that threw is verified again after admission, where the failure is answered.
    if (job->outcome == VerifyOutcome::verified) inbound[job->index].submission = std::move(job->submission);
  }
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
    if (auto admitted = admission.admit_bytes(sender, inbound.payload_bytes, retry_after_ms); !admitted) {
      const std::uint64_t request_id = inbound.request && inbound.request->ok() ? (*inbound.request)->request_id : 0;
      admission.refuse_rate_limited(routing_id, request_id, user_id, admitted.error(), retry_after_ms);
      return;
    }
  }
  // Issue 14, after review: live connections per CURVE key are capped
  // (ConnectionCap), from a connection's first frame, before it can get a
  // session, take one over or hold a guard entry. A connection without the
  // certificate property is refused below (identify).
  if (inbound.certificate_key) {
    const std::string key(inbound.certificate_key->begin(), inbound.certificate_key->end());
    if (auto admitted = admission.admit_connection(GuardedEndpoint::participants, routing_id, key, user_id,
                                                   [this](const std::string& id) { return sessions.still_connected(id); });
        !admitted) {
      const std::uint64_t request_id = inbound.request && inbound.request->ok() ? (*inbound.request)->request_id : 0;
      admission.refuse(routing_id, request_id, user_id, std::nullopt, "identify", admitted.error());
      return;
    }
  }
  // Frames the broker cannot read are answered at a bounded rate per
  // connection, and a connection that keeps sending them is muted
  // (ConnectionGuard): a flood of them must not cost a reply each.
  if (auto accepted = accept_frame(inbound.frame_count, inbound.payload_bytes, config.limits); !accepted) {
    admission.refuse_unreadable(routing_id, user_id, accepted.error());
    return;
  }
  auto& request = *inbound.request;
  if (!request) {
    admission.refuse_unreadable(routing_id, user_id, request.error());
    return;
  }
  if (sessions.is_closed(routing_id)) {
    // A newer session took this participant over: this connection may not take it back.
    after_commit.reply(routing_id, encode_session_closed("a newer session of " + user_id + " is connected"),
                       request->request_id);
    return;
  }
  auto principal = identify(user_id, enrollment);
  if (!principal) {
    admission.refuse(routing_id, request->request_id, user_id, std::nullopt, "identify", principal.error());
    return;
  }
  // The connection's own certificate must still be enrolled: revoking one
  // officer (a reload) ends that officer's live session, not its colleagues'.
  const EnrolledCertificate* certificate =
      inbound.certificate_key ? enrollment.certificate_by_curve_key(*inbound.certificate_key) : nullptr;
  if (certificate == nullptr || certificate->id != (*principal)->id) {
    admission.refuse(routing_id, request->request_id, user_id, std::nullopt, "identify",
           make_error(ErrorCode::revoked, "the certificate this session of " + user_id +
                                              " connected with is no longer enrolled at this broker (revoked or "
                                              "withdrawn); connect with a current certificate, or ask the "
                                              "exchange's operator"));
    return;
  }
  const std::string label = principal_label(certificate->id, certificate->officer);
  if (sessions.attach(*certificate, routing_id) == nullptr) {
    admission.refuse(routing_id, request->request_id, label, std::nullopt, "identify",
           make_error(ErrorCode::unavailable,
                      user_id + " already has " + std::to_string(kMaxSessionsPerParticipant) +
                          " sessions open (one per certificate), the most one participant may hold; close the "
                          "session of an officer who is not working, then connect again"));
    return;
  }

  try {
    switch (request->kind) {
      case ClientRequest::Kind::submit:
      case ClientRequest::Kind::status:
      case ClientRequest::Kind::log_proof:
      case ClientRequest::Kind::statistics_facts: {
        // Before any signature work: a flood costs a counter, not a verify.
        std::uint32_t retry_after_ms = 0;
        if (auto admitted = admission.admit_request((*principal)->id, 1.0, retry_after_ms); !admitted) {
          admission.refuse_rate_limited(routing_id, request->request_id, label, admitted.error(), retry_after_ms);
          return;
        }
        if (request->kind == ClientRequest::Kind::submit) {
          handle_submit(**principal, inbound);
        } else if (request->kind == ClientRequest::Kind::log_proof) {
          handle_log_proof(**principal, *request, routing_id);
        } else if (request->kind == ClientRequest::Kind::statistics_facts) {
          handle_statistics_facts(**principal, *request, routing_id);
        } else {
          handle_status(**principal, *request, routing_id);
        }
        break;
      }
      case ClientRequest::Kind::confirm: {
        // Each id is an UPDATE on the loop thread: a confirm pays by its ids.
        std::uint32_t retry_after_ms = 0;
        const double cost = 1.0 + static_cast<double>(request->delivery_ids.size()) / kConfirmIdsPerToken;
        if (auto admitted = admission.admit_request((*principal)->id, cost, retry_after_ms); !admitted) {
          // Nothing confirmed: the deliveries stay in flight, are resent, and
          // the client confirms the resends.
          admission.refuse_rate_limited(routing_id, request->request_id, label, admitted.error(), retry_after_ms);
          return;
        }
        handle_confirm(**principal, *request);
        break;
      }
      case ClientRequest::Kind::ping:
        // The pong announces the frame limit (PROTOCOL §2.6): a client then
        // refuses a bigger message itself instead of sending it into a
        // connection the transport drops unread. At most 64 MiB (config.cpp).
        after_commit.reply(routing_id,
                           encode_pong(request->request_id, static_cast<std::uint32_t>(config.limits.max_message_bytes)),
                           request->request_id);
        break;
    }
  } catch (const kj::Exception& exception) {
    admission.refuse(routing_id, request->request_id, label, std::nullopt, "open",
           make_error(ErrorCode::malformed, std::string("undecodable content: ") + exception.getDescription().cStr()));
  } catch (const std::exception& exception) {
    ++counters.internal_errors;
    admission.refuse(routing_id, request->request_id, label, std::nullopt, "internal",
           make_error(ErrorCode::internal, std::string("the broker failed on this message (") + exception.what() +
                                               "); nothing was stored: report it to the operator"));
  }
}

}  // namespace fpx::broker
