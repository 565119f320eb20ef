// The ZAP gate (ZeroMQ RFC 27): answers the CURVE handshakes of both
// endpoints from the enrolment, counts failed handshakes, and remembers
// which refusals it audited so that a handshake flood is not an audit flood.
// The loop owns the sockets and hands them in. Private to broker/.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <zmq.hpp>

#include "fpx/broker/broker.hpp"
#include "fpx/broker/enrollment.hpp"
#include "loop_clock.hpp"
#include "pending_writes.hpp"

namespace fpx::broker {

inline constexpr const char* kObserversZapDomain = "fpx-observers";
// ZAP metadata property naming the connection's certificate (its CURVE key,
// Z85): the User-Id names the participant, this names which certificate.
inline constexpr const char* kCertificateProperty = "Fpx-Certificate";

class ZapGate {
 public:
  ZapGate(const Enrollment& enrollment, BrokerCounters& counters, PendingWrites& pending, const LoopClock& clock)
      : enrollment_(enrollment), counters_(counters), pending_(pending), clock_(clock) {}

  // Answers every ZAP request waiting on `zap` (REP on inproc://zeromq.zap.01).
  void answer_requests(zmq::socket_t& zap);
  // Counts the handshake failures a monitor socket reports (either endpoint).
  void count_handshake_failures(zmq::socket_t& events);
  // From the timers: a log line and an audit row, at most once a second.
  void report_handshake_failures();

 private:
  const Enrollment& enrollment_;
  BrokerCounters& counters_;
  PendingWrites& pending_;
  const LoopClock& clock_;
  std::map<std::string, std::int64_t> refusal_audited_;  // key -> last audited, bounds audit growth
  std::int64_t last_refusal_audit_ms_ = 0;
  std::int64_t last_handshake_report_ms_ = 0;
  std::uint64_t handshake_failures_unreported_ = 0;
};

}  // namespace fpx::broker
