// Admission: what a principal may make the broker do before any signature
// work, and how its refusals are answered and audited. Owns the token
// bucket (RateLimiter), the inbound byte budget, the daily storage quota
// and the refusal tally (one audit row per principal, stage and kind a
// second, a summary row for the rest). Private to broker/.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "after_commit.hpp"
#include "connection_guard.hpp"
#include "fpx/broker/broker.hpp"
#include "fpx/broker/stages.hpp"
#include "loop_clock.hpp"
#include "pending_writes.hpp"

namespace fpx::broker {

// Refusals of one principal, stage and kind in this window share one summary audit row.
inline constexpr std::int64_t kRateLimitAuditWindowMs = 1'000;

// CURVE sends each frame as a MESSAGE command: its name (8 bytes), a nonce
// (8) and a box (16-byte tag, 1 flags byte) around the frame. ZMQ_MAXMSGSIZE
// counts that encrypted frame, so the largest frame the broker accepts needs
// this much more to pass the transport.
inline constexpr std::int64_t kCurveFrameOverheadBytes = 33;
// The participants socket's ZMQ_MAXMSGSIZE: the largest frame accept_frame
// takes (limits.max_message_bytes) as CURVE carries it. Anything larger is
// refused by ZeroMQ from its length, before it is read or decrypted, and the
// connection is closed (issue 14: oversized frames were decrypted, read and
// answered one by one).
inline std::int64_t max_wire_frame_bytes(const Limits& limits) {
  return static_cast<std::int64_t>(limits.max_message_bytes) + kCurveFrameOverheadBytes;
}
// Frames one participants connection may have queued in ZeroMQ before the
// loop reads them (ZMQ_RCVHWM; then ZeroMQ stops reading its TCP stream).
// The queue counts frames: at the default 10,000, a flood of 32 KiB confirms
// parked tens of MB in the broker. 32 frames hold at most 32 MiB of the
// largest frames and far less of real traffic; a client with more in flight
// waits in its own queue (fpx-bench --lean keeps 64 in flight per sender).
inline constexpr int kParticipantReceiveQueue = 32;

// Which endpoint a connection is on: routing ids of the two ROUTER sockets
// are drawn independently and may collide.
enum class GuardedEndpoint { participants, observers };

class Admission {
 public:
  Admission(const Limits& limits, Store& store, BrokerCounters& counters, PendingWrites& pending,
            AfterCommit& after_commit, const LoopClock& clock);

  // Bytes of every participant frame (limits.bytes_per_second), charged
  // when admitted: a flood of large frames is refused by its size.
  Status admit_bytes(const ParticipantId& sender, std::size_t bytes, std::uint32_t& retry_after_ms);
  // One request's tokens (a confirm pays by its ids: kConfirmIdsPerToken).
  Status admit_request(const ParticipantId& participant, double cost, std::uint32_t& retry_after_ms) {
    return rate_limiter_.admit(participant, clock_.now_ms(), retry_after_ms, cost);
  }
  // Before open (issue 14): whether the sender's stored bytes of the day and
  // minute, as counted in memory, can hold a message of `envelope_bytes`
  // (DailyQuota::precheck), none taken.
  Status precheck_stored_bytes(const ParticipantId& participant, std::size_t envelope_bytes,
                               std::uint32_t& retry_after_ms) const {
    return daily_quota_.precheck(participant, clock_.now_ms(), envelope_bytes, retry_after_ms);
  }
  // Inbound bytes the sender may still send now (negative: in debt), none taken.
  double inbound_bytes_available(const ParticipantId& sender) const {
    return inbound_bytes_.available(sender, clock_.now_ms());
  }
  // Tokens the participant holds now, none taken.
  double tokens(const ParticipantId& participant) const { return rate_limiter_.tokens(participant, clock_.now_ms()); }
  bool would_admit(const ParticipantId& participant) const {
    return rate_limiter_.would_admit(participant, clock_.now_ms());
  }

  // A refusal answered (after the commit) and audited through the tally.
  void refuse(const std::string& routing_id, std::uint64_t request_id, const std::string& principal,
              const std::optional<MessageId>& about, const char* stage, const Error& error,
              std::uint32_t retry_after_ms = 0);
  // rate_limited: answered like any refusal, audited at stage "accept".
  void refuse_rate_limited(const std::string& routing_id, std::uint64_t request_id, const std::string& principal,
                           const Error& error, std::uint32_t retry_after_ms);
  // From the timers: one audit row per flooded window ended by `ended_by_ms`,
  // and one per mute of a connection that ended (ConnectionGuard).
  void report_summaries(std::int64_t ended_by_ms);
  // From the timers: the per-key connection tables probe their silent
  // connections and forget those that are gone (ConnectionCap::forget_idle).
  void forget_gone_connections(std::int64_t now_ms, const ConnectionCap::StillThere& participant_there,
                               const ConnectionCap::StillThere& observer_there);

  // A frame the broker cannot read (refused at accept: malformed, too
  // large, undecodable) from `routing_id`: answered with `error` while the
  // connection's reply bucket holds tokens, counted beyond, and the
  // connection muted when it keeps at it (ConnectionGuard).
  void refuse_unreadable(const std::string& routing_id, const std::string& principal, const Error& error);
  // Whether a frame of `connection` (a routing id; on the observers
  // endpoint the observer's User-Id: ConnectionGuard) arrives while it is
  // muted: then it is counted (tally, rate_limited) and must be dropped unread.
  bool drop_if_muted(GuardedEndpoint endpoint, const std::string& connection, const char* stage);
  ConnectionGuard& guard(GuardedEndpoint endpoint) {
    return endpoint == GuardedEndpoint::participants ? participants_guard_ : observers_guard_;
  }

  // Issue 14, after review: whether connection `routing_id` of CURVE key
  // `key` (its 32 bytes) may be served, from its first frame on: ok while
  // the key holds fewer live connections on `endpoint` than its cap
  // (kMaxConnectionsPerParticipantKey, kMaxConnectionsPerObserverKey);
  // `unavailable` saying what to do otherwise, for the caller to answer and
  // audit through the refusal tally (refuse(), refuse_observer()).
  Status admit_connection(GuardedEndpoint endpoint, const std::string& routing_id, const std::string& key,
                          const std::string& principal, const ConnectionCap::StillThere& still_there);
  ConnectionCap& connection_cap(GuardedEndpoint endpoint) {
    return endpoint == GuardedEndpoint::participants ? participants_cap_ : observers_cap_;
  }

  // The observers endpoint shares the token bucket and the tally.
  RateLimiter& rate_limiter() { return rate_limiter_; }
  RefusalTally& refusal_tally() { return refusal_tally_; }
  DailyQuota& daily_quota() { return daily_quota_; }

 private:
  Store& store_;
  BrokerCounters& counters_;
  PendingWrites& pending_;
  AfterCommit& after_commit_;
  const LoopClock& clock_;
  RateLimiter rate_limiter_;
  ByteBudget inbound_bytes_;  // limits.bytes_per_second: bytes of every participant frame
  DailyQuota daily_quota_;    // limits.quota_bytes_per_day
  RefusalTally refusal_tally_;  // every refusal kind, not only rate_limited
  ConnectionGuard participants_guard_;  // unreadable frames, per participants connection
  ConnectionGuard observers_guard_;     // undecodable requests, per observer (its User-Id)
  ConnectionCap participants_cap_{kMaxConnectionsPerParticipantKey};  // live connections per CURVE key
  ConnectionCap observers_cap_{kMaxConnectionsPerObserverKey};
};

}  // namespace fpx::broker
