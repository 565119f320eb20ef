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
#include "fpx/broker/broker.hpp"
#include "fpx/broker/stages.hpp"
#include "loop_clock.hpp"
#include "pending_writes.hpp"

namespace fpx::broker {

// Refusals of one principal, stage and kind in this window share one summary audit row.
inline constexpr std::int64_t kRateLimitAuditWindowMs = 1'000;

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
  // From the timers: one audit row per flooded window ended by `ended_by_ms`.
  void report_summaries(std::int64_t ended_by_ms);

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
};

}  // namespace fpx::broker
