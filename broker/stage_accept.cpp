#include <algorithm>
#include <cmath>

#include "fpx/broker/stages.hpp"

namespace fpx::broker {

Status accept_frame(std::size_t frame_count, std::size_t payload_bytes, const Limits& limits) {
  // A DEALER sends one frame; the ROUTER adds the routing id in front.
  if (frame_count != 2) {
    return make_error(ErrorCode::malformed, "send exactly one frame per message (got " +
                                                std::to_string(frame_count - 1) + ")");
  }
  if (payload_bytes > limits.max_message_bytes) {
    return make_error(ErrorCode::too_large, "message of " + std::to_string(payload_bytes) +
                                                " bytes is over this broker's limit of " +
                                                std::to_string(limits.max_message_bytes));
  }
  return {};
}

Status RateLimiter::admit(const ParticipantId& participant, std::int64_t now_ms, std::uint32_t& retry_after_ms,
                          double cost) {
  auto [bucket, created] = buckets_.try_emplace(participant);
  Bucket& state = bucket->second;
  if (created) {
    state.tokens = burst_;
    state.updated_ms = now_ms;
  }
  std::int64_t elapsed = std::max<std::int64_t>(0, now_ms - state.updated_ms);
  state.tokens = std::min(burst_, state.tokens + static_cast<double>(elapsed) * rate_per_ms_);
  state.updated_ms = now_ms;
  // A cost over the burst could never be paid: it is taken from a full bucket.
  const double due = std::min(cost, burst_);
  if (state.tokens >= due) {
    state.tokens -= cost;
    return {};
  }
  retry_after_ms = static_cast<std::uint32_t>(std::ceil((due - state.tokens) / rate_per_ms_));
  return make_error(ErrorCode::rate_limited, "slow down: over this broker's rate limit for " + participant.str() +
                                                 "; retry after " + std::to_string(retry_after_ms) + " ms");
}

bool RateLimiter::would_admit(const ParticipantId& participant, std::int64_t now_ms) const {
  auto found = buckets_.find(participant);
  if (found == buckets_.end()) return true;  // a new bucket starts full
  const auto elapsed = static_cast<double>(std::max<std::int64_t>(0, now_ms - found->second.updated_ms));
  return std::min(burst_, found->second.tokens + elapsed * rate_per_ms_) >= 1.0;
}

double RateLimiter::tokens(const ParticipantId& participant, std::int64_t now_ms) const {
  auto found = buckets_.find(participant);
  if (found == buckets_.end()) return burst_;  // a new bucket starts full
  const auto elapsed = static_cast<double>(std::max<std::int64_t>(0, now_ms - found->second.updated_ms));
  return std::min(burst_, found->second.tokens + elapsed * rate_per_ms_);
}

Status ByteBudget::admit(const ParticipantId& principal, std::int64_t now_ms, std::uint32_t& retry_after_ms) {
  const Bucket& bucket = refill(principal, now_ms);
  if (bucket.tokens > 0) return {};
  retry_after_ms = static_cast<std::uint32_t>(std::ceil((1.0 - bucket.tokens) / rate_per_ms_));
  return make_error(ErrorCode::rate_limited, "slow down: " + principal.str() + " " + advice_ + " retry after " +
                                                 std::to_string(retry_after_ms) + " ms");
}

void ByteBudget::charge(const ParticipantId& principal, std::int64_t now_ms, std::size_t bytes) {
  refill(principal, now_ms).tokens -= static_cast<double>(bytes);
}

ByteBudget::Bucket& ByteBudget::refill(const ParticipantId& principal, std::int64_t now_ms) {
  auto [found, created] = buckets_.try_emplace(principal);
  Bucket& bucket = found->second;
  if (created) {
    bucket.tokens = burst_;
    bucket.updated_ms = now_ms;
  }
  const std::int64_t elapsed = std::max<std::int64_t>(0, now_ms - bucket.updated_ms);
  bucket.tokens = std::min(burst_, bucket.tokens + static_cast<double>(elapsed) * rate_per_ms_);
  bucket.updated_ms = now_ms;
  return bucket;
}

std::int64_t DailyQuota::day_start_ms(std::int64_t at_ms) {
  constexpr std::int64_t kDayMs = 24LL * 3600 * 1000;
  return at_ms - ((at_ms % kDayMs) + kDayMs) % kDayMs;
}

Status DailyQuota::admit(const ParticipantId& participant, std::int64_t now_ms, std::uint64_t bytes,
                         const StoredSince& stored_since, std::uint32_t& retry_after_ms) {
  const std::int64_t day = day_start_ms(now_ms);
  auto found = used_.find(participant);
  if (found == used_.end() || found->second.start_ms != day) {
    auto stored = stored_since(participant, day);
    if (!stored) return std::move(stored).take_error();
    found = used_.insert_or_assign(participant, Day{day, *stored}).first;
  }
  const std::uint64_t used = found->second.bytes;
  if (used + bytes <= bytes_per_day_) return {};
  const std::int64_t next_day = day + 24LL * 3600 * 1000;
  retry_after_ms = static_cast<std::uint32_t>(std::max<std::int64_t>(1, next_day - now_ms));
  return make_error(ErrorCode::quota_exceeded,
                    participant.str() + " has stored " + std::to_string(used) + " bytes today (UTC) of its quota of " +
                        std::to_string(bytes_per_day_) + " a day, and this message of " + std::to_string(bytes) +
                        " bytes does not fit; nothing was stored: resend it after 00:00 UTC (in " +
                        std::to_string(retry_after_ms) + " ms), or ask the exchange's operator for a larger "
                        "limits.quota_bytes_per_day");
}

void DailyQuota::charge(const ParticipantId& participant, std::int64_t now_ms, std::uint64_t bytes) {
  auto found = used_.find(participant);
  // admit() loaded today's count; a day that turned in between starts at this message.
  if (found == used_.end() || found->second.start_ms != day_start_ms(now_ms)) {
    used_.insert_or_assign(participant, Day{day_start_ms(now_ms), bytes});
    return;
  }
  found->second.bytes += bytes;
}

bool RefusalTally::audit_in_full(const std::string& stage, const std::string& principal, ErrorCode code,
                                 std::int64_t now_ms) {
  auto [found, created] = open_.try_emplace({stage, principal, code}, Window{now_ms, 0});
  Window& window = found->second;
  if (created) return true;
  if (now_ms - window.start_ms >= window_ms_) {
    if (window.uncounted > 0) ended_.push_back({stage, principal, code, window.uncounted, window.start_ms});
    window = Window{now_ms, 0};
    return true;
  }
  ++window.uncounted;
  return false;
}

std::vector<RefusalTally::Summary> RefusalTally::take_ended(std::int64_t now_ms) {
  std::vector<Summary> summaries = std::move(ended_);
  ended_.clear();
  for (auto window = open_.begin(); window != open_.end();) {
    if (now_ms - window->second.start_ms < window_ms_) {
      ++window;
      continue;
    }
    if (window->second.uncounted > 0) {
      const auto& [stage, principal, code] = window->first;
      summaries.push_back({stage, principal, code, window->second.uncounted, window->second.start_ms});
    }
    window = open_.erase(window);  // the next refusal opens a new window, audited in full
  }
  return summaries;
}

}  // namespace fpx::broker
