#include <algorithm>
#include <cmath>

#include "fpx/broker/stages.hpp"
#include "fpx/wire/messages.capnp.h"

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

double ByteBudget::available(const ParticipantId& principal, std::int64_t now_ms) const {
  auto found = buckets_.find(principal);
  if (found == buckets_.end()) return burst_;
  const std::int64_t elapsed = std::max<std::int64_t>(0, now_ms - found->second.updated_ms);
  return std::min(burst_, found->second.tokens + static_cast<double>(elapsed) * rate_per_ms_);
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

DailyQuota::DailyQuota(std::uint64_t bytes_per_day, double stored_bytes_per_minute, double stored_burst_bytes)
    : bytes_per_day_(bytes_per_day),
      minute_rate_per_ms_(stored_bytes_per_minute / 60'000.0),
      minute_burst_(stored_burst_bytes) {}

Status DailyQuota::admit(const ParticipantId& participant, std::int64_t now_ms, std::uint64_t stored_bytes,
                         const StoredSince& stored_since, std::uint32_t& retry_after_ms) {
  // The day first: its wait (to 00:00 UTC) is the longer one to tell.
  if (auto day = admit_day(participant, now_ms, stored_bytes, stored_since, retry_after_ms); !day) return day;
  return admit_minute(participant, now_ms, stored_bytes, stored_since, retry_after_ms);
}

Status DailyQuota::admit_day(const ParticipantId& participant, std::int64_t now_ms, std::uint64_t bytes,
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
  return day_refusal(participant, used, bytes, now_ms, retry_after_ms);
}

Status DailyQuota::day_refusal(const ParticipantId& participant, std::uint64_t used, std::uint64_t bytes,
                               std::int64_t now_ms, std::uint32_t& retry_after_ms) const {
  const std::int64_t next_day = day_start_ms(now_ms) + 24LL * 3600 * 1000;
  retry_after_ms = static_cast<std::uint32_t>(std::max<std::int64_t>(1, next_day - now_ms));
  return make_error(ErrorCode::quota_exceeded,
                    participant.str() + " has stored " + std::to_string(used) + " bytes today (UTC) of its quota of " +
                        std::to_string(bytes_per_day_) + " a day, and this message of " + std::to_string(bytes) +
                        " bytes does not fit; nothing was stored: resend it after 00:00 UTC (in " +
                        std::to_string(retry_after_ms) + " ms), or ask the exchange's operator for a larger "
                        "limits.quota_bytes_per_day");
}

Status DailyQuota::admit_minute(const ParticipantId& participant, std::int64_t now_ms, std::uint64_t bytes,
                                const StoredSince& stored_since, std::uint32_t& retry_after_ms) {
  auto found = minute_.find(participant);
  if (found == minute_.end()) {
    // First sight since a start (or a rollback): the bucket starts from what
    // the store holds from the last refill period (the time a full burst
    // takes to come back), never fuller than it really was.
    const auto refill_ms = static_cast<std::int64_t>(std::ceil(minute_burst_ / minute_rate_per_ms_));
    auto stored = stored_since(participant, now_ms - refill_ms);
    if (!stored) return std::move(stored).take_error();
    const double tokens = std::max(0.0, minute_burst_ - static_cast<double>(*stored));
    found = minute_.emplace(participant, Bucket{tokens, now_ms}).first;
  }
  Bucket& bucket = found->second;
  const std::int64_t elapsed = std::max<std::int64_t>(0, now_ms - bucket.updated_ms);
  bucket.tokens = std::min(minute_burst_, bucket.tokens + static_cast<double>(elapsed) * minute_rate_per_ms_);
  bucket.updated_ms = now_ms;
  // A message larger than the burst could never fit: it is admitted from a
  // full bucket and leaves it in debt, which the participant's next
  // messages wait out (the rate holds on average).
  const double due = std::min(static_cast<double>(bytes), minute_burst_);
  if (bucket.tokens >= due) return {};
  return minute_refusal(participant, bucket.tokens, due, bytes, retry_after_ms);
}

Status DailyQuota::minute_refusal(const ParticipantId& participant, double tokens, double due, std::uint64_t bytes,
                                  std::uint32_t& retry_after_ms) const {
  retry_after_ms = static_cast<std::uint32_t>(
      std::clamp(std::ceil((due - tokens) / minute_rate_per_ms_), 1.0, 24.0 * 3600 * 1000));
  const auto per_minute = static_cast<std::uint64_t>(minute_rate_per_ms_ * 60'000.0);
  return make_error(ErrorCode::quota_exceeded,
                    participant.str() + " stores more than this broker keeps per participant and minute (" +
                        std::to_string(per_minute) + " bytes a minute, bursts of " +
                        std::to_string(static_cast<std::uint64_t>(minute_burst_)) + "); this message needs " +
                        std::to_string(bytes) + " and nothing was stored: resend it after " +
                        std::to_string(retry_after_ms) +
                        " ms (the fpx client library keeps it and does so by itself), or ask the exchange's "
                        "operator for a larger limits.stored_bytes_per_minute");
}

Status DailyQuota::precheck(const ParticipantId& participant, std::int64_t now_ms, std::uint64_t envelope_bytes,
                            std::uint32_t& retry_after_ms) const {
  // The least this message can cost: its envelope (an alert's watched
  // serials only add to it). Counts not yet read from the store are
  // admit()'s to read: this check never queries.
  const std::uint64_t least = envelope_bytes * kStoredBytesPerEnvelopeByte;
  if (auto day = used_.find(participant); day != used_.end() && day->second.start_ms == day_start_ms(now_ms) &&
                                          day->second.bytes + least > bytes_per_day_) {
    return day_refusal(participant, day->second.bytes, least, now_ms, retry_after_ms);
  }
  auto found = minute_.find(participant);
  if (found == minute_.end()) return {};
  const Bucket& bucket = found->second;
  const std::int64_t elapsed = std::max<std::int64_t>(0, now_ms - bucket.updated_ms);
  const double tokens = std::min(minute_burst_, bucket.tokens + static_cast<double>(elapsed) * minute_rate_per_ms_);
  const double due = std::min(static_cast<double>(least), minute_burst_);
  if (tokens >= due) return {};
  return minute_refusal(participant, tokens, due, least, retry_after_ms);
}

void DailyQuota::charge(const ParticipantId& participant, std::int64_t now_ms, std::uint64_t stored_bytes) {
  auto found = used_.find(participant);
  // admit() loaded today's count; a day that turned in between starts at this message.
  if (found == used_.end() || found->second.start_ms != day_start_ms(now_ms)) {
    used_.insert_or_assign(participant, Day{day_start_ms(now_ms), stored_bytes});
  } else {
    found->second.bytes += stored_bytes;
  }
  // admit() refilled the bucket at now_ms; without it (a forget() in
  // between) the next admit() reads the store, which holds this message.
  if (auto bucket = minute_.find(participant); bucket != minute_.end()) {
    bucket->second.tokens -= static_cast<double>(stored_bytes);
  }
}

std::uint64_t DailyQuota::stored_bytes_of(const OpenedEnvelope& opened, std::uint64_t envelope_bytes) {
  const std::uint64_t envelope = envelope_bytes * kStoredBytesPerEnvelopeByte;
  auto body = opened.message.body();
  if (!body.isAlert()) return envelope;
  auto alert = body.getAlert();
  if (alert.getKind() != wire::AlertKind::STOLEN && alert.getKind() != wire::AlertKind::LOST) return envelope;
  // Every listed firearm counted, as an upper bound of what the workflow
  // registers (it skips serials too short to match); a range is one row.
  const auto batch = alert.getBatch();
  const std::uint64_t rows =
      alert.getFirearms().size() + batch.getFirearms().size() + batch.getSerialRanges().size();
  return envelope + rows * kStoredBytesPerWatchedSerial;
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
