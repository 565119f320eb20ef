// The observer endpoint: read requests only (schemas/observer.capnp has no
// other kind), answered from the store without a transaction. Observers can
// make the broker store or route nothing.
#include <algorithm>
#include <cerrno>
#include <cstring>

#include <kj/exception.h>
#include <spdlog/spdlog.h>
#include <zmq_addon.hpp>

#include "oversight_publisher.hpp"
#include "peer_probe.hpp"
#include "zap_gate.hpp"
#include "fpx/transparency_log.hpp"

namespace fpx::broker {

namespace {

constexpr std::uint32_t kMaxFeedPage = 1000;
// A page stops before this many bytes of records (always holding at least
// one): with the observers socket's send queue (socket_setup.cpp) it bounds
// what one connection that never reads can make the broker hold.
constexpr std::size_t kMaxFeedPageBytes = 1024 * 1024;

}  // namespace

// Whether an observer's connection is still there (ConnectionCap): a probe
// frame its client ignores, whose send fails at once for a peer that is gone.
bool observer_still_there(zmq::socket_t& observers, const std::string& routing_id) {
  return probe_peer(observers, routing_id, encode_observer_probe());
}

Bytes OversightPublisher::refuse_observer(const std::string& principal, std::uint64_t request_id, const Error& error) {
  // Audited like the participants endpoint's refusals: the first of each
  // kind per observer and second in full, the rest of that second as one
  // summary row (a flood of bad requests must not become an audit flood).
  // There is no batch transaction here: rows go with the timers' next one.
  ++counters_.refused;
  if (admission_.refusal_tally().audit_in_full("observer", principal, error.code, clock_.read())) {
    pending_.audit(audit_entry(clock_.read(), principal, std::nullopt, "observer", error.code, error.message));
  }
  return encode_observer_error(request_id, error);
}

Bytes OversightPublisher::answer_observer(const EnrolledParticipant& observer, const ObserverQuery& query) {
  const std::uint64_t request_id = query.request_id;

  std::uint32_t retry_after_ms = 0;
  auto admitted = admission_.rate_limiter().admit(observer.id, clock_.read(), retry_after_ms);
  if (admitted) admitted = observer_reply_budget_.admit(observer.id, clock_.read(), retry_after_ms);
  if (!admitted) {
    ++counters_.rate_limited;
    return refuse_observer(observer.id.str(), request_id, admitted.error());
  }
  Bytes reply = build_observer_reply(observer, query);
  observer_reply_budget_.charge(observer.id, clock_.read(), reply.size());
  return reply;
}

Bytes OversightPublisher::build_observer_reply(const EnrolledParticipant& observer, const ObserverQuery& query) {
  const std::uint64_t request_id = query.request_id;
  auto size = store_.log_size();
  if (!size) return refuse_observer(observer.id.str(), request_id, size.error());
  StoreNodeSource nodes(store_);

  switch (query.kind) {
    case ObserverQuery::Kind::follow: {
      std::uint32_t limit = query.max_records == 0 ? kMaxFeedPage : std::min(query.max_records, kMaxFeedPage);
      auto rows = store_.feed_page(std::max<std::uint64_t>(query.from_sequence, 1), limit);
      if (!rows) return refuse_observer(observer.id.str(), request_id, rows.error());
      std::size_t page_bytes = 0;
      for (std::size_t i = 0; i < rows->size(); ++i) {
        page_bytes += (*rows)[i].record.size() + (*rows)[i].signature.size();
        if (i > 0 && page_bytes > kMaxFeedPageBytes) {
          rows->resize(i);
          break;
        }
      }
      std::vector<FeedRecordFrame> records;
      records.reserve(rows->size());
      std::uint64_t next = std::max<std::uint64_t>(query.from_sequence, 1);
      for (FeedRow& row : *rows) {
        records.push_back(FeedRecordFrame{row.sequence, std::move(row.kind),
                                          std::string(row.record.begin(), row.record.end()), std::move(row.signature)});
        next = row.sequence + 1;
      }
      return encode_feed_page(request_id, records, next);
    }
    case ObserverQuery::Kind::latest_checkpoint: {
      auto latest = store_.latest_checkpoint();
      if (!latest) return refuse_observer(observer.id.str(), request_id, latest.error());
      if (!latest->has_value()) {
        // An answer, not a refusal: nothing to audit.
        return encode_observer_error(request_id, make_error(ErrorCode::not_found, "no checkpoint yet: the log is empty"));
      }
      return encode_checkpoint_reply(request_id, served_checkpoint_note(**latest));
    }
    case ObserverQuery::Kind::inclusion_proof: {
      if (query.tree_size > *size || query.leaf_index >= query.tree_size) {
        return refuse_observer(
            observer.id.str(), request_id,
            make_error(ErrorCode::invalid_argument,
                       "leaf " + std::to_string(query.leaf_index) + " of tree size " + std::to_string(query.tree_size) +
                           " does not exist; the log has " + std::to_string(*size) + " leaves"));
      }
      auto proof = inclusion_proof(nodes, query.leaf_index, query.tree_size);
      if (!proof) return refuse_observer(observer.id.str(), request_id, proof.error());
      return encode_proof_reply(request_id, *proof);
    }
    case ObserverQuery::Kind::consistency_proof: {
      if (query.second_tree_size > *size || query.first_tree_size > query.second_tree_size) {
        return refuse_observer(
            observer.id.str(), request_id,
            make_error(ErrorCode::invalid_argument, "no consistency proof from tree size " +
                                                        std::to_string(query.first_tree_size) + " to " +
                                                        std::to_string(query.second_tree_size) + "; the log has " +
                                                        std::to_string(*size) + " leaves"));
      }
      auto proof = consistency_proof(nodes, query.first_tree_size, query.second_tree_size);
      if (!proof) return refuse_observer(observer.id.str(), request_id, proof.error());
      return encode_proof_reply(request_id, *proof);
    }
    case ObserverQuery::Kind::unknown: break;
  }
  return refuse_observer(
      observer.id.str(), request_id,
      make_error(ErrorCode::unsupported_version, "unknown observer request: this broker speaks observer protocol v1"));
}

std::optional<Bytes> OversightPublisher::refuse_undecodable(const std::string& principal, const Error& error) {
  // Issue 14: each undecodable request was answered, about 50,000 a second
  // on the loop thread (a victim's p99 18x). Now answered at a bounded rate
  // per observer (all its connections together: the guard is keyed by its
  // User-Id), counted beyond, and the observer muted when it keeps at it
  // (ConnectionGuard).
  const std::int64_t now_ms = clock_.read();
  switch (admission_.guard(GuardedEndpoint::observers).unreadable(principal, principal, now_ms)) {
    case UnreadableVerdict::answer: return refuse_observer(principal, 0, error);
    case UnreadableVerdict::count_only:
      ++counters_.refused;
      if (admission_.refusal_tally().audit_in_full("observer", principal, error.code, now_ms)) {
        pending_.audit(audit_entry(now_ms, principal, std::nullopt, "observer", error.code,
                                   error.message + " (not answered: this connection sends more undecodable "
                                                   "requests than the broker answers)"));
      }
      return std::nullopt;
    case UnreadableVerdict::answer_and_mute: {
      ++counters_.refused;
      ++counters_.rate_limited;
      const Error muted = make_error(
          ErrorCode::rate_limited,
          principal + " sent more than " + std::to_string(kMuteAfterUnanswered) +
              " requests the broker cannot decode (the last: " + error.message + "); its requests, on every "
              "connection of it, are dropped unread for " + std::to_string(kMuteMs) +
              " ms. Fix the client that encodes them, then ask again after that time");
      pending_.audit(audit_entry(now_ms, principal, std::nullopt, "observer", ErrorCode::rate_limited, muted.message));
      return encode_observer_error(0, muted, static_cast<std::uint32_t>(kMuteMs));
    }
  }
  return std::nullopt;
}

void OversightPublisher::note_observer_reply_dropped(const std::string& principal) {
  // Its send queue is full: the observer sent more requests than it reads
  // replies. Nothing is lost that it cannot ask for again.
  ++counters_.observer_replies_dropped;
  if (admission_.refusal_tally().audit_in_full("observer", principal, ErrorCode::unavailable, clock_.read())) {
    pending_.audit(audit_entry(clock_.read(), principal, std::nullopt, "observer", ErrorCode::unavailable,
                                         "a reply was dropped: " + principal + " has " +
                                             std::to_string(kObserverSendQueue) +
                                             " replies unread on one connection; read replies before asking more"));
  }
}

bool OversightPublisher::may_read_observers() {
  const std::int64_t now_ms = clock_.read();
  const std::int64_t elapsed = std::max<std::int64_t>(0, now_ms - observer_frames_updated_ms_);
  observer_frames_ =
      std::min(kObserverFramesBurst, observer_frames_ + static_cast<double>(elapsed) * kObserverFramesPerSecond / 1000.0);
  observer_frames_updated_ms_ = now_ms;
  return observer_frames_ >= 1.0;
}

void OversightPublisher::answer_observers(zmq::socket_t& observers) {
  for (int handled = 0; handled < 256 && may_read_observers(); ++handled) {
    observer_frames_ -= 1.0;
    std::vector<zmq::message_t> frames;
    try {
      if (!zmq::recv_multipart(observers, std::back_inserter(frames), zmq::recv_flags::dontwait)) return;
    } catch (const zmq::error_t& error) {
      spdlog::error("observer receive: {}", error.what());
      return;
    }
    if (frames.size() < 2) continue;
    const std::string routing_id = frames.front().to_string();
    auto& payload = frames.back();
    Bytes reply;
    std::string user_id;
    try {
      user_id = payload.gets("User-Id");
    } catch (const zmq::error_t&) {
      continue;  // no ZAP User-Id: cannot happen with zap_domain set
    }
    // A muted observer's frames are dropped unread: not decoded, not
    // answered. Issue 14, after review: the guard is the observer's (its
    // User-Id), not one connection's, so that N connections of one observer
    // share one reply bucket and one mute instead of multiplying them.
    if (admission_.drop_if_muted(GuardedEndpoint::observers, user_id, "observer")) continue;
    try {
      const EnrolledParticipant* observer = enrollment_.by_id(ParticipantId(user_id));
      auto query = decode_observer_request(ByteView(static_cast<const std::uint8_t*>(payload.data()), payload.size()));
      // Issue 14, after review: live connections per observer key are
      // capped (ConnectionCap) before anything else is done for this one.
      Status admitted = make_error(ErrorCode::revoked, user_id + " connected without a certificate property");
      if (auto key = z85_decode_key(payload.gets(kCertificateProperty))) {
        admitted = admission_.admit_connection(GuardedEndpoint::observers, routing_id,
                                               std::string(key->begin(), key->end()), user_id,
                                               [&observers](const std::string& id) { return observer_still_there(observers, id); });
      }
      if (!admitted) {
        reply = refuse_observer(user_id, frames.size() == 2 && query ? query->request_id : 0, admitted.error());
      } else if (frames.size() != 2 || !query) {
        const Error error = frames.size() != 2
                                ? make_error(ErrorCode::malformed, "send one ObserverRequest per frame")
                                : query.error();
        auto unanswered = refuse_undecodable(user_id, error);
        if (!unanswered) continue;  // counted, not answered (ConnectionGuard)
        reply = std::move(*unanswered);
      } else if (observer == nullptr || observer->role != Role::observer) {
        // ZAP admits only observers here; a reload may have withdrawn one since.
        reply = refuse_observer(user_id, query->request_id,
                                make_error(ErrorCode::revoked, user_id + " is no longer an enrolled observer"));
      } else {
        reply = answer_observer(*observer, *query);
      }
    } catch (const kj::Exception& exception) {
      // Decoding does not throw; building a reply might, and must not stop the loop.
      reply = refuse_observer(user_id, 0,
                              make_error(ErrorCode::internal, std::string("cannot answer this ObserverRequest: ") +
                                                                  exception.getDescription().cStr()));
    } catch (const zmq::error_t&) {
      continue;  // no certificate property from ZAP: cannot happen with zap_domain set
    }
    try {
      zmq::message_t id(routing_id.data(), routing_id.size());
      zmq::message_t body(reply.data(), reply.size());
      bool sent = false;
      if (observers.send(id, zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
        sent = observers.send(body, zmq::send_flags::dontwait).has_value();
      }
      if (!sent) note_observer_reply_dropped(user_id);
    } catch (const zmq::error_t&) {
      // The observer left; it catches up from its last sequence next time.
    }
  }
}

}  // namespace fpx::broker
