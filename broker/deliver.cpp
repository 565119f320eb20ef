// route: sessions and deliveries. Deliveries leave only from the store, in
// arrival order, after the transaction that stored them is durable; each is
// resent until its recipient confirms it.
#include <spdlog/spdlog.h>

#include "broker_impl.hpp"

namespace fpx::broker {

Session& Broker::Impl::attach_session(const EnrolledParticipant& principal, const std::string& routing_id) {
  auto existing = sessions.find(principal.id);
  if (existing != sessions.end() && existing->second.routing_id == routing_id) return existing->second;
  // A routing id another participant's (stale) session still holds: that
  // session is over; it must never receive this connection's traffic, nor
  // this connection its deliveries.
  if (auto owner = session_by_routing_id.find(routing_id);
      owner != session_by_routing_id.end() && owner->second != principal.id) {
    sessions.erase(owner->second);
    session_by_routing_id.erase(owner);
  }
  if (existing != sessions.end()) {
    // One session per participant: the newer connection takes over, and the
    // older one is told why instead of silently losing its deliveries.
    ++counters.sessions_taken_over;
    spdlog::info("{}: a new session takes over from the previous one", principal.id.str());
    const std::string previous = existing->second.routing_id;
    session_by_routing_id.erase(previous);
    sessions.erase(existing);
    if (closed_routing_ids.size() > 100000) closed_routing_ids.clear();  // bounded; ids are never reused
    closed_routing_ids.insert(previous);
    send(previous, encode_session_closed("a newer session of " + principal.id.str() +
                                         " connected; this one is closed"));
  }
  Session& session = sessions[principal.id];
  session.participant = principal.id;
  session.routing_id = routing_id;
  session_by_routing_id[routing_id] = principal.id;
  push_after_commit.insert(principal.id);  // a new session gets everything pending
  return session;
}

void Broker::Impl::push_deliveries(const ParticipantId& participant) {
  auto found = sessions.find(participant);
  if (found == sessions.end()) return;  // offline: it waits in the store
  const std::string routing_id = found->second.routing_id;
  const std::size_t in_flight = found->second.in_flight.size();
  if (in_flight >= config.limits.max_in_flight) return;
  auto pending = store->pending_deliveries(participant, found->second.last_pushed,
                                           config.limits.max_in_flight - in_flight);
  if (!pending) {
    spdlog::error("deliveries of {}: {}", participant.str(), pending.error().describe());
    return;
  }
  for (const auto& delivery : *pending) {
    auto owner = session_by_routing_id.find(routing_id);
    if (owner == session_by_routing_id.end() || owner->second != participant) return;  // never to someone else
    send(routing_id, encode_delivery(delivery.delivery_id, delivery.envelope));
    auto session = sessions.find(participant);
    if (session == sessions.end() || session->second.routing_id != routing_id) return;  // gone meanwhile
    session->second.in_flight[delivery.delivery_id] = now_ms;
    session->second.last_pushed = delivery.delivery_id;
    delivered_marks.push_back(delivery.delivery_id);
    ++counters.deliveries_sent;
  }
}

void Broker::Impl::resend_overdue() {
  std::vector<ParticipantId> due;
  for (auto& [participant, session] : sessions) {
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
    due.push_back(participant);
  }
  for (const auto& participant : due) push_deliveries(participant);
}

}  // namespace fpx::broker
