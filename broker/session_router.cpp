// route: sessions and deliveries. Deliveries leave only from the store, in
// arrival order, after the transaction that stored them is durable; each is
// resent until its recipient confirms it.
//
// A participant (an office) may have several officers connected at once,
// each through its own certificate. A delivery belongs to the participant:
// every live session of it is sent the delivery, the first confirmation (by
// any officer) confirms it for all and stops every resend, and an officer
// whose session starts later is first sent what its colleagues confirmed
// meanwhile (the newest kMaxCatchUpDeliveries still within their hold time).
#include <cerrno>

#include <spdlog/spdlog.h>

#include "session_router.hpp"
#include "peer_probe.hpp"

#include "fpx/frames.hpp"

namespace fpx::broker {

std::string principal_label(const ParticipantId& participant, const std::string& officer) {
  return officer.empty() ? participant.str() : participant.str() + "/" + officer;
}

std::string SessionRouter::label(const std::string& routing_id) const {
  auto owner = session_by_routing_id_.find(routing_id);
  if (owner == session_by_routing_id_.end()) return "?";
  auto session = sessions_.find(owner->second);
  if (session == sessions_.end()) return "?";
  return principal_label(session->second.participant, session->second.officer);
}

void SessionRouter::drop(const std::string& routing_id) {
  auto owner = session_by_routing_id_.find(routing_id);
  if (owner == session_by_routing_id_.end()) return;
  auto session = sessions_.find(owner->second);
  if (session != sessions_.end() && session->second.routing_id == routing_id) {
    spdlog::info("session of {} gone", principal_label(session->second.participant, session->second.officer));
    if (auto of = sessions_of_.find(session->second.participant); of != sessions_of_.end()) {
      of->second.erase(session->first);
      if (of->second.empty()) sessions_of_.erase(of);
    }
    sessions_.erase(session);
  }
  session_by_routing_id_.erase(owner);
}

Session* SessionRouter::attach(const EnrolledCertificate& certificate, const std::string& routing_id) {
  auto existing = sessions_.find(certificate.curve_key);
  if (existing != sessions_.end() && existing->second.routing_id == routing_id) return &existing->second;
  // A routing id another certificate's (stale) session still holds: that
  // session is over; it must never receive this connection's traffic, nor
  // this connection its deliveries.
  if (auto owner = session_by_routing_id_.find(routing_id);
      owner != session_by_routing_id_.end() && owner->second != certificate.curve_key) {
    drop(routing_id);
  }
  const std::string label = principal_label(certificate.id, certificate.officer);
  if (existing != sessions_.end()) {
    // One session per certificate: a newer connection of the same
    // certificate is its holder reconnecting, and takes over; the older one
    // is told why instead of silently losing its deliveries. Officers hold
    // certificates of their own, so they never take each other over.
    ++counters_.sessions_taken_over;
    spdlog::info("{}: a new session of the same certificate takes over from the previous one", label);
    const std::string previous = existing->second.routing_id;
    session_by_routing_id_.erase(previous);
    if (closed_routing_ids_.size() > kMaxClosedRoutingIds) closed_routing_ids_.clear();
    closed_routing_ids_.insert(previous);
    send(previous, encode_session_closed("a newer session of " + label +
                                         " (the same certificate) connected; this one is closed"));
    Session& session = existing->second;
    session.routing_id = routing_id;
    // The new connection has seen nothing: everything unconfirmed goes again.
    // Not the catch-up of colleagues' confirmed deliveries: this certificate's
    // client had it already, and a holder reconnecting in a loop must not
    // make the broker read and send it again each time.
    session.last_pushed = 0;
    session.in_flight.clear();
    session_by_routing_id_[routing_id] = certificate.curve_key;
    after_commit_.push_to.insert(certificate.id);
    return &session;
  }
  auto& live = sessions_of_[certificate.id];
  if (live.size() >= kMaxSessionsPerParticipant) return nullptr;
  Session& session = sessions_[certificate.curve_key];
  session.participant = certificate.id;
  session.officer = certificate.officer;
  session.certificate_key = certificate.curve_key;
  session.routing_id = routing_id;
  live.insert(certificate.curve_key);
  session_by_routing_id_[routing_id] = certificate.curve_key;
  after_commit_.push_to.insert(certificate.id);  // a new session gets everything pending
  return &session;
}

void SessionRouter::send(const std::string& routing_id, const Bytes& frame) {
  try {
    zmq::message_t id(routing_id.data(), routing_id.size());
    zmq::message_t payload(frame.data(), frame.size());
    // dontwait: a peer over its high-water mark must not stall everyone.
    if (!router_.send(id, zmq::send_flags::sndmore | zmq::send_flags::dontwait) ||
        !router_.send(payload, zmq::send_flags::dontwait)) {
      spdlog::warn("peer queue full; frame for {} not sent now (deliveries are resent)", label(routing_id));
    }
  } catch (const zmq::error_t& error) {
    // EHOSTUNREACH (router_mandatory): the peer is gone; its deliveries
    // stay pending in the store for its next session.
    spdlog::debug("send to {}: {}", label(routing_id), error.what());
    drop(routing_id);
  }
}

bool SessionRouter::still_connected(const std::string& routing_id) {
  if (probe_peer(router_, routing_id, encode_probe())) return true;
  drop(routing_id);
  return false;
}

void SessionRouter::close_not_enrolled(const Enrollment& enrollment) {
  // A reload that revokes a certificate ends its live session at once: its
  // frames would be refused anyway, but a connection that only listens must
  // not go on receiving the participant's deliveries.
  std::vector<std::string> ended;
  for (const auto& [key, session] : sessions_) {
    const EnrolledCertificate* certificate = enrollment.certificate_by_curve_key(key);
    if (certificate == nullptr || certificate->id != session.participant) ended.push_back(session.routing_id);
  }
  for (const auto& routing_id : ended) {
    // Its next frame is refused with `revoked` (dispatch.cpp), which tells
    // the holder why; until then it is sent nothing.
    spdlog::info("{}: its certificate is no longer enrolled; its session ends", label(routing_id));
    drop(routing_id);
  }
}

void SessionRouter::push_to_session(Session& session) {
  const std::string routing_id = session.routing_id;
  const CurvePublicKey key = session.certificate_key;
  const ParticipantId participant = session.participant;
  // Still ours: a send can drop a session whose peer has gone.
  auto still_ours = [&]() -> Session* {
    auto owner = session_by_routing_id_.find(routing_id);
    if (owner == session_by_routing_id_.end() || owner->second != key) return nullptr;
    auto found = sessions_.find(key);
    return found == sessions_.end() || found->second.routing_id != routing_id ? nullptr : &found->second;
  };
  if (!session.caught_up) {
    session.caught_up = true;
    // What colleagues confirmed before this session began: sent once, not
    // resent and not counted in the in-flight window (nothing waits on its
    // confirmation, which changes nothing in the store).
    auto confirmed = store_.confirmed_deliveries(participant, 0, clock_.now_ms(), kMaxCatchUpDeliveries);
    if (!confirmed) {
      spdlog::error("deliveries confirmed for {}: {}", participant.str(), confirmed.error().describe());
    } else {
      for (const auto& delivery : *confirmed) {
        if (still_ours() == nullptr) return;
        send(routing_id, encode_delivery(delivery.delivery_id, delivery.envelope));
        ++counters_.deliveries_sent;
      }
    }
  }
  Session* live = still_ours();
  if (live == nullptr) return;
  const std::size_t in_flight = live->in_flight.size();
  if (in_flight >= config_.limits.max_in_flight) return;
  auto pending = store_.pending_deliveries(participant, live->last_pushed, config_.limits.max_in_flight - in_flight);
  if (!pending) {
    spdlog::error("deliveries of {}: {}", participant.str(), pending.error().describe());
    return;
  }
  for (const auto& delivery : *pending) {
    if (still_ours() == nullptr) return;  // never to someone else
    send(routing_id, encode_delivery(delivery.delivery_id, delivery.envelope));
    Session* after = still_ours();
    if (after == nullptr) return;  // gone meanwhile
    after->in_flight[delivery.delivery_id] = clock_.now_ms();
    after->last_pushed = delivery.delivery_id;
    pending_.delivered(delivery.delivery_id);
    ++counters_.deliveries_sent;
  }
}

void SessionRouter::push_deliveries(const ParticipantId& participant) {
  auto found = sessions_of_.find(participant);
  if (found == sessions_of_.end()) return;  // offline: it waits in the store
  // Every officer's session sees every delivery. Copied: a send may drop a session.
  const std::vector<CurvePublicKey> keys(found->second.begin(), found->second.end());
  for (const auto& key : keys) {
    auto session = sessions_.find(key);
    if (session != sessions_.end()) push_to_session(session->second);
  }
}

void SessionRouter::leave_in_flight(const ParticipantId& participant, const std::vector<std::uint64_t>& delivery_ids) {
  auto found = sessions_of_.find(participant);
  if (found == sessions_of_.end()) return;
  // Confirmed once for all the participant's officers: no session resends it.
  for (const auto& key : found->second) {
    auto session = sessions_.find(key);
    if (session == sessions_.end()) continue;
    for (auto id : delivery_ids) session->second.in_flight.erase(id);
  }
}

void SessionRouter::resend_overdue() {
  std::set<ParticipantId> due;
  for (auto& [key, session] : sessions_) {
    std::uint64_t first_overdue = 0;
    for (const auto& [delivery_id, sent_at] : session.in_flight) {
      if (sent_at + config_.timing.resend_after_ms <= clock_.now_ms()) {
        first_overdue = delivery_id;
        break;  // in_flight is ordered: resend from the oldest overdue one on
      }
    }
    if (first_overdue == 0) continue;
    session.in_flight.erase(session.in_flight.lower_bound(first_overdue), session.in_flight.end());
    session.last_pushed = first_overdue - 1;
    due.insert(session.participant);
  }
  for (const auto& participant : due) push_deliveries(participant);
}

}  // namespace fpx::broker
