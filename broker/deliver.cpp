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
#include <spdlog/spdlog.h>

#include "broker_impl.hpp"

namespace fpx::broker {

std::string principal_label(const ParticipantId& participant, const std::string& officer) {
  return officer.empty() ? participant.str() : participant.str() + "/" + officer;
}

std::string Broker::Impl::session_label(const std::string& routing_id) const {
  auto owner = session_by_routing_id.find(routing_id);
  if (owner == session_by_routing_id.end()) return "?";
  auto session = sessions.find(owner->second);
  if (session == sessions.end()) return "?";
  return principal_label(session->second.participant, session->second.officer);
}

void Broker::Impl::drop_session(const std::string& routing_id) {
  auto owner = session_by_routing_id.find(routing_id);
  if (owner == session_by_routing_id.end()) return;
  auto session = sessions.find(owner->second);
  if (session != sessions.end() && session->second.routing_id == routing_id) {
    spdlog::info("session of {} gone", principal_label(session->second.participant, session->second.officer));
    if (auto of = sessions_of.find(session->second.participant); of != sessions_of.end()) {
      of->second.erase(session->first);
      if (of->second.empty()) sessions_of.erase(of);
    }
    sessions.erase(session);
  }
  session_by_routing_id.erase(owner);
}

Session* Broker::Impl::attach_session(const EnrolledCertificate& certificate, const std::string& routing_id) {
  auto existing = sessions.find(certificate.curve_key);
  if (existing != sessions.end() && existing->second.routing_id == routing_id) return &existing->second;
  // A routing id another certificate's (stale) session still holds: that
  // session is over; it must never receive this connection's traffic, nor
  // this connection its deliveries.
  if (auto owner = session_by_routing_id.find(routing_id);
      owner != session_by_routing_id.end() && owner->second != certificate.curve_key) {
    drop_session(routing_id);
  }
  const std::string label = principal_label(certificate.id, certificate.officer);
  if (existing != sessions.end()) {
    // One session per certificate: a newer connection of the same
    // certificate is its holder reconnecting, and takes over; the older one
    // is told why instead of silently losing its deliveries. Officers hold
    // certificates of their own, so they never take each other over.
    ++counters.sessions_taken_over;
    spdlog::info("{}: a new session of the same certificate takes over from the previous one", label);
    const std::string previous = existing->second.routing_id;
    session_by_routing_id.erase(previous);
    if (closed_routing_ids.size() > 100000) closed_routing_ids.clear();  // bounded; ids are never reused
    closed_routing_ids.insert(previous);
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
    session_by_routing_id[routing_id] = certificate.curve_key;
    push_after_commit.insert(certificate.id);
    return &session;
  }
  auto& live = sessions_of[certificate.id];
  if (live.size() >= kMaxSessionsPerParticipant) return nullptr;
  Session& session = sessions[certificate.curve_key];
  session.participant = certificate.id;
  session.officer = certificate.officer;
  session.certificate_key = certificate.curve_key;
  session.routing_id = routing_id;
  live.insert(certificate.curve_key);
  session_by_routing_id[routing_id] = certificate.curve_key;
  push_after_commit.insert(certificate.id);  // a new session gets everything pending
  return &session;
}

void Broker::Impl::push_to_session(Session& session) {
  const std::string routing_id = session.routing_id;
  const CurvePublicKey key = session.certificate_key;
  const ParticipantId participant = session.participant;
  // Still ours: a send can drop a session whose peer has gone.
  auto still_ours = [&]() -> Session* {
    auto owner = session_by_routing_id.find(routing_id);
    if (owner == session_by_routing_id.end() || owner->second != key) return nullptr;
    auto found = sessions.find(key);
    return found == sessions.end() || found->second.routing_id != routing_id ? nullptr : &found->second;
  };
  if (!session.caught_up) {
    session.caught_up = true;
    // What colleagues confirmed before this session began: sent once, not
    // resent and not counted in the in-flight window (nothing waits on its
    // confirmation, which changes nothing in the store).
    auto confirmed = store->confirmed_deliveries(participant, 0, now_ms, kMaxCatchUpDeliveries);
    if (!confirmed) {
      spdlog::error("deliveries confirmed for {}: {}", participant.str(), confirmed.error().describe());
    } else {
      for (const auto& delivery : *confirmed) {
        if (still_ours() == nullptr) return;
        send(routing_id, encode_delivery(delivery.delivery_id, delivery.envelope));
        ++counters.deliveries_sent;
      }
    }
  }
  Session* live = still_ours();
  if (live == nullptr) return;
  const std::size_t in_flight = live->in_flight.size();
  if (in_flight >= config.limits.max_in_flight) return;
  auto pending = store->pending_deliveries(participant, live->last_pushed, config.limits.max_in_flight - in_flight);
  if (!pending) {
    spdlog::error("deliveries of {}: {}", participant.str(), pending.error().describe());
    return;
  }
  for (const auto& delivery : *pending) {
    if (still_ours() == nullptr) return;  // never to someone else
    send(routing_id, encode_delivery(delivery.delivery_id, delivery.envelope));
    Session* after = still_ours();
    if (after == nullptr) return;  // gone meanwhile
    after->in_flight[delivery.delivery_id] = now_ms;
    after->last_pushed = delivery.delivery_id;
    delivered_marks.push_back(delivery.delivery_id);
    ++counters.deliveries_sent;
  }
}

void Broker::Impl::push_deliveries(const ParticipantId& participant) {
  auto found = sessions_of.find(participant);
  if (found == sessions_of.end()) return;  // offline: it waits in the store
  // Every officer's session sees every delivery. Copied: a send may drop a session.
  const std::vector<CurvePublicKey> keys(found->second.begin(), found->second.end());
  for (const auto& key : keys) {
    auto session = sessions.find(key);
    if (session != sessions.end()) push_to_session(session->second);
  }
}

void Broker::Impl::leave_in_flight(const ParticipantId& participant, const std::vector<std::uint64_t>& delivery_ids) {
  auto found = sessions_of.find(participant);
  if (found == sessions_of.end()) return;
  // Confirmed once for all the participant's officers: no session resends it.
  for (const auto& key : found->second) {
    auto session = sessions.find(key);
    if (session == sessions.end()) continue;
    for (auto id : delivery_ids) session->second.in_flight.erase(id);
  }
}

void Broker::Impl::resend_overdue() {
  std::set<ParticipantId> due;
  for (auto& [key, session] : sessions) {
    std::uint64_t first_overdue = 0;
    for (const auto& [delivery_id, sent_at] : session.in_flight) {
      if (sent_at + config.timing.resend_after_ms <= now_ms) {
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
