// The session and delivery router: live sessions by certificate, their
// routing ids, in-flight windows, catch-up and resends, the connections a
// newer session closed, and every frame sent to a participant. Deliveries
// leave only from the store, after the transaction that stored them is
// durable. The loop owns the participants socket and lends it here; only
// the loop thread calls this. Private to broker/.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "after_commit.hpp"
#include "fpx/broker/broker.hpp"
#include "fpx/broker/enrollment.hpp"
#include "loop_clock.hpp"
#include "pending_writes.hpp"

namespace fpx::broker {

// One certificate's live connection: a participant's own certificate or one
// of its officers'. Officers' sessions coexist; a newer connection of the
// same certificate (a reconnect) takes over the older one.
struct Session {
  ParticipantId participant;
  std::string officer;               // empty: the participant's own certificate
  CurvePublicKey certificate_key{};  // the certificate's CURVE key: one session per certificate
  std::string routing_id;
  std::uint64_t last_pushed = 0;                    // highest pending delivery id sent in this session
  std::map<std::uint64_t, std::int64_t> in_flight;  // delivery id -> sent at, unconfirmed
  bool caught_up = false;                           // has been sent what colleagues confirmed before it connected
};

// "ne.focal-point" for a participant's own certificate, "ne.focal-point/amadou"
// for an officer's: the principal of audit rows and log lines.
std::string principal_label(const ParticipantId& participant, const std::string& officer);

// Sessions one participant may make the broker hold at once: each holds an
// in-flight window, resend timers and a catch-up read, so a participant
// enrolling (or an operator mistakenly enrolling) many officer certificates
// cannot grow the broker's memory and work without end. A connection over
// the limit is refused with `unavailable`; reconnects of a certificate that
// holds a session never count twice.
inline constexpr std::size_t kMaxSessionsPerParticipant = 32;
// An officer's new session is sent at most this many of the deliveries its
// colleagues already confirmed (the newest, still within their hold time),
// so that each officer sees what came in while it was away without a
// reconnect replaying a whole month of traffic.
inline constexpr std::size_t kMaxCatchUpDeliveries = 256;
// Routing ids of closed (taken-over) connections remembered: beyond it the
// memory is cleared (routing ids are never reused), so a reconnect loop
// cannot grow it without end.
inline constexpr std::size_t kMaxClosedRoutingIds = 100000;

class SessionRouter {
 public:
  SessionRouter(zmq::socket_t& router, Store& store, const BrokerConfig& config, BrokerCounters& counters,
                PendingWrites& pending, AfterCommit& after_commit, const LoopClock& clock)
      : router_(router),
        store_(store),
        config_(config),
        counters_(counters),
        pending_(pending),
        after_commit_(after_commit),
        clock_(clock) {}

  // The connection's session, attached (or taken over) now; nullptr: the
  // participant holds kMaxSessionsPerParticipant sessions already.
  Session* attach(const EnrolledCertificate& certificate, const std::string& routing_id);
  // A connection a newer session of its certificate took over: it stays closed.
  bool is_closed(const std::string& routing_id) const { return closed_routing_ids_.count(routing_id) != 0; }
  // One frame to a connection, never blocking; a peer that is gone
  // (EHOSTUNREACH) loses its session, its deliveries wait in the store.
  void send(const std::string& routing_id, const Bytes& frame);
  // Whether a connection is still there: a probe frame (clients ignore it,
  // PROTOCOL §4.2) whose send fails at once for a peer that is gone, which
  // then loses its session as in send(). For the cap on connections per
  // key (ConnectionCap), asked only of a key at its cap.
  bool still_connected(const std::string& routing_id);
  // Sends the participant's sessions what waits for them, within their windows.
  void push_deliveries(const ParticipantId& participant);
  void resend_overdue();
  // After a committed confirmation: no session of the participant resends these.
  void leave_in_flight(const ParticipantId& participant, const std::vector<std::uint64_t>& delivery_ids);
  // After a reload: sessions whose certificate is no longer enrolled end.
  void close_not_enrolled(const Enrollment& enrollment);
  std::string label(const std::string& routing_id) const;
  std::size_t size() const { return sessions_.size(); }
  // For the metrics (broker/publish_metrics.cpp): deliveries sent and not
  // confirmed over every session, and when each of `delivery_ids` was last
  // sent to one of the participant's sessions (loop clock, ms).
  std::size_t in_flight_count() const {
    std::size_t count = 0;
    for (const auto& [key, session] : sessions_) count += session.in_flight.size();
    return count;
  }
  std::vector<std::int64_t> sent_at(const ParticipantId& participant,
                                    const std::vector<std::uint64_t>& delivery_ids) const {
    std::vector<std::int64_t> times;
    auto found = sessions_of_.find(participant);
    if (found == sessions_of_.end()) return times;
    for (auto id : delivery_ids) {
      for (const auto& key : found->second) {
        auto session = sessions_.find(key);
        if (session == sessions_.end()) continue;
        if (auto sent = session->second.in_flight.find(id); sent != session->second.in_flight.end()) {
          times.push_back(sent->second);
          break;
        }
      }
    }
    return times;
  }

 private:
  void push_to_session(Session& session);
  void drop(const std::string& routing_id);

  zmq::socket_t& router_;
  Store& store_;
  const BrokerConfig& config_;
  BrokerCounters& counters_;
  PendingWrites& pending_;
  AfterCommit& after_commit_;
  const LoopClock& clock_;
  std::map<CurvePublicKey, Session> sessions_;  // by certificate (CURVE key)
  std::map<std::string, CurvePublicKey> session_by_routing_id_;
  std::map<ParticipantId, std::set<CurvePublicKey>> sessions_of_;  // a participant's live sessions
  // Connections whose session a newer one took over: they stay closed.
  std::set<std::string> closed_routing_ids_;
};

}  // namespace fpx::broker
