// The per-participant token bucket (stage_accept.cpp), on explicit times.
#include <catch2/catch.hpp>

#include "fpx/broker/stages.hpp"

using namespace fpx;
using namespace fpx::broker;

TEST_CASE("A participant is admitted up to its burst, then refused with the time until the next token") {
  RateLimiter limiter(/*rate_per_second=*/10, /*burst=*/3);
  const ParticipantId flooder("ml.police");
  std::uint32_t retry_after_ms = 0;
  for (int i = 0; i < 3; ++i) REQUIRE(limiter.admit(flooder, 1000, retry_after_ms).ok());
  auto refused = limiter.admit(flooder, 1000, retry_after_ms);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::rate_limited);
  CHECK(retry_after_ms == 100);
  CHECK(limiter.admit(flooder, 1100, retry_after_ms).ok());
}

TEST_CASE("would_admit answers as admit would, without taking a token") {
  RateLimiter limiter(/*rate_per_second=*/10, /*burst=*/1);
  const ParticipantId flooder("ml.police");
  const ParticipantId other("sn.police");
  std::uint32_t retry_after_ms = 0;
  CHECK(limiter.would_admit(flooder, 1000));  // a new bucket starts full
  CHECK(limiter.would_admit(flooder, 1000));  // asking twice takes nothing
  REQUIRE(limiter.admit(flooder, 1000, retry_after_ms).ok());
  CHECK_FALSE(limiter.would_admit(flooder, 1050));
  CHECK_FALSE(limiter.admit(flooder, 1050, retry_after_ms).ok());
  CHECK(limiter.would_admit(flooder, 1100));
  CHECK(limiter.would_admit(other, 1050));  // buckets are per participant
}

TEST_CASE("A flood of refusals is audited as the first in full and one summary per window") {
  RefusalTally tally(/*window_ms=*/1000);
  CHECK(tally.audit_in_full("accept", "ml.police", 10'000));
  for (int i = 0; i < 500; ++i) CHECK_FALSE(tally.audit_in_full("accept", "ml.police", 10'000 + i));
  CHECK(tally.audit_in_full("accept", "sn.police", 10'100));  // windows are per principal
  CHECK(tally.audit_in_full("observer", "ml.police", 10'100));  // and per stage
  CHECK(tally.take_ended(10'999).empty());  // not ended yet

  auto ended = tally.take_ended(11'000);
  REQUIRE(ended.size() == 1);  // the other two windows are still open, and have nothing uncounted
  CHECK(ended[0].stage == "accept");
  CHECK(ended[0].principal == "ml.police");
  CHECK(ended[0].refusals == 500);
  CHECK(ended[0].window_start_ms == 10'000);
  CHECK(tally.take_ended(20'000).empty());  // each summary once

  // A refusal after the window opens a new one, audited in full.
  CHECK(tally.audit_in_full("accept", "ml.police", 20'001));
}

TEST_CASE("A window that ends before the timers come round keeps its count for the next summary") {
  RefusalTally tally(/*window_ms=*/1000);
  CHECK(tally.audit_in_full("accept", "ml.police", 0));
  CHECK_FALSE(tally.audit_in_full("accept", "ml.police", 10));
  CHECK_FALSE(tally.audit_in_full("accept", "ml.police", 20));
  CHECK(tally.audit_in_full("accept", "ml.police", 1500));  // a new window; the old one's 2 are kept
  CHECK_FALSE(tally.audit_in_full("accept", "ml.police", 1600));
  auto ended = tally.take_ended(2500);
  REQUIRE(ended.size() == 2);
  CHECK(ended[0].refusals == 2);
  CHECK(ended[0].window_start_ms == 0);
  CHECK(ended[1].refusals == 1);
  CHECK(ended[1].window_start_ms == 1500);
}

TEST_CASE("Refusals of different kinds have windows of their own, and summaries keep their kind") {
  RefusalTally tally(/*window_ms=*/1000);
  CHECK(tally.audit_in_full("accept", "ml.police", ErrorCode::malformed, 0));
  CHECK(tally.audit_in_full("accept", "ml.police", ErrorCode::too_large, 0));  // another kind: in full too
  CHECK_FALSE(tally.audit_in_full("accept", "ml.police", ErrorCode::malformed, 10));
  CHECK_FALSE(tally.audit_in_full("accept", "ml.police", ErrorCode::malformed, 20));
  auto ended = tally.take_ended(1000);
  REQUIRE(ended.size() == 1);
  CHECK(ended[0].code == ErrorCode::malformed);
  CHECK(ended[0].refusals == 2);
}

TEST_CASE("A reply byte budget lets a burst through, then refuses until the debt is paid back") {
  ByteBudget budget(/*bytes_per_second=*/1000, /*burst_bytes=*/4000);
  const ParticipantId observer("cso.watch");
  std::uint32_t retry_after_ms = 0;
  REQUIRE(budget.admit(observer, 0, retry_after_ms).ok());
  budget.charge(observer, 0, 10'000);  // one large reply: 6000 bytes in debt
  auto refused = budget.admit(observer, 0, retry_after_ms);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::rate_limited);
  CHECK(retry_after_ms >= 6000);  // 6000 bytes at 1 byte a millisecond
  CHECK_FALSE(budget.admit(observer, 5000, retry_after_ms).ok());
  CHECK(budget.admit(observer, 6100, retry_after_ms).ok());
  CHECK(budget.admit(ParticipantId("cso.other"), 0, retry_after_ms).ok());  // budgets are per observer
}

TEST_CASE("A confirm pays by its ids: a cost over the burst is taken from a full bucket and leaves it in debt") {
  RateLimiter limiter(/*rate_per_second=*/10, /*burst=*/20);
  const ParticipantId confirmer("sn.police");
  std::uint32_t retry_after_ms = 0;
  const double cost = 1.0 + 4096 / kConfirmIdsPerToken;  // 65 tokens
  REQUIRE(limiter.admit(confirmer, 0, retry_after_ms, cost).ok());
  // 45 tokens in debt: 4.5 s at 10 a second before even one message passes.
  auto refused = limiter.admit(confirmer, 0, retry_after_ms);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::rate_limited);
  CHECK(retry_after_ms >= 4600);
  CHECK(retry_after_ms <= 4601);
  CHECK_FALSE(limiter.admit(confirmer, 4000, retry_after_ms).ok());
  CHECK(limiter.admit(confirmer, 4600, retry_after_ms).ok());
  // Not full again: a second large confirm waits for a full bucket.
  CHECK_FALSE(limiter.admit(confirmer, 4600, retry_after_ms, cost).ok());
  CHECK(retry_after_ms >= 2000);  // 20 tokens, a full bucket, at 10 a second
  CHECK(retry_after_ms <= 2001);
}

TEST_CASE("An inbound byte budget names what the participant did in its refusal") {
  ByteBudget budget(/*bytes_per_second=*/4096, /*burst_bytes=*/8192,
                    "sent more bytes than this broker takes; send less, and");
  const ParticipantId sender("sn.police");
  std::uint32_t retry_after_ms = 0;
  REQUIRE(budget.admit(sender, 0, retry_after_ms).ok());
  budget.charge(sender, 0, 12'288);
  auto refused = budget.admit(sender, 0, retry_after_ms);
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.error().message, Catch::Contains("sent more bytes") && Catch::Contains("retry after"));
}

TEST_CASE("The daily quota reads the day's bytes from the store once, then counts in memory until 00:00 UTC") {
  constexpr std::int64_t kDay = 24LL * 3600 * 1000;
  const std::int64_t day = 20'000 * kDay;  // a midnight UTC
  // The minute's bucket out of the way here (1e12 bytes a minute); it has a test of its own.
  DailyQuota quota(/*bytes_per_day=*/10'000, /*stored_bytes_per_minute=*/1e12, /*stored_burst_bytes=*/1e12);
  const ParticipantId sender("sn.police");
  int reads = 0;
  std::int64_t read_since = -1;
  auto stored_since = [&](const ParticipantId&, std::int64_t since_ms) -> Result<std::uint64_t> {
    if (since_ms % kDay != 0) return std::uint64_t{0};  // the minute's bucket asking
    ++reads;
    read_since = since_ms;
    return std::uint64_t{6'000};  // stored before a restart
  };
  std::uint32_t retry_after_ms = 0;
  REQUIRE(quota.admit(sender, day + 1000, 3'000, stored_since, retry_after_ms).ok());
  CHECK(reads == 1);
  CHECK(read_since == day);
  quota.charge(sender, day + 1000, 3'000);
  CHECK(quota.admit(sender, day + 2000, 1'000, stored_since, retry_after_ms).ok());  // exactly full
  auto refused = quota.admit(sender, day + 2000, 1'001, stored_since, retry_after_ms);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::quota_exceeded);
  CHECK(retry_after_ms == kDay - 2000);  // to the next 00:00 UTC
  CHECK_THAT(refused.error().message, Catch::Contains("00:00 UTC") && Catch::Contains("9000"));
  CHECK(reads == 1);  // counted in memory
  // The next day is read again (and starts from what the store holds for it).
  CHECK(quota.admit(sender, day + kDay, 3'000, stored_since, retry_after_ms).ok());
  CHECK(reads == 2);
  CHECK(read_since == day + kDay);
  // After a rollback the count is read again; a store failure refuses with its error.
  quota.forget();
  auto failing = [](const ParticipantId&, std::int64_t) -> Result<std::uint64_t> {
    return make_error(ErrorCode::io_error, "disk gone");
  };
  auto failed = quota.admit(sender, day + kDay, 1, failing, retry_after_ms);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().code == ErrorCode::io_error);
  CHECK(DailyQuota::day_start_ms(day + kDay - 1) == day);
}

TEST_CASE("The stored bytes of a minute are a token bucket that a restart does not refill") {
  constexpr std::int64_t kDay = 24LL * 3600 * 1000;
  const std::int64_t start = 20'000 * kDay + 3'600'000;
  // 60,000 bytes a minute is one byte a millisecond; bursts of 10,000.
  DailyQuota quota(/*bytes_per_day=*/1'000'000, /*stored_bytes_per_minute=*/60'000, /*stored_burst_bytes=*/10'000);
  const ParticipantId sender("sn.police");
  std::int64_t minute_read_since = -1;
  auto stored_since = [&](const ParticipantId&, std::int64_t since_ms) -> Result<std::uint64_t> {
    if (since_ms % kDay == 0) return std::uint64_t{0};  // the day's count
    minute_read_since = since_ms;
    return std::uint64_t{4'000};  // stored in the last refill period, before a restart
  };
  std::uint32_t retry_after_ms = 0;
  // The bucket starts at the burst less what the store holds from the last
  // 10 s (the time a full burst takes to come back): 6,000.
  REQUIRE(quota.admit(sender, start, 6'000, stored_since, retry_after_ms).ok());
  CHECK(minute_read_since == start - 10'000);
  quota.charge(sender, start, 6'000);
  auto refused = quota.admit(sender, start, 3'000, stored_since, retry_after_ms);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::quota_exceeded);
  CHECK(retry_after_ms == 3'000);  // 3,000 bytes at one a millisecond
  CHECK_THAT(refused.error().message, Catch::Contains("stored_bytes_per_minute") && Catch::Contains("resend it after 3000 ms"));
  // Not charged for the refusal: after the wait it fits, not a millisecond before.
  CHECK_FALSE(quota.admit(sender, start + 2'999, 3'000, stored_since, retry_after_ms).ok());
  REQUIRE(quota.admit(sender, start + 3'000, 3'000, stored_since, retry_after_ms).ok());
  quota.charge(sender, start + 3'000, 3'000);
  // Stored bytes beyond the envelope (an alert's watched serials) count in
  // the minute and the day alike: a message over the burst goes from a full bucket.
  const std::int64_t later = start + 60'000;  // the bucket is full again
  REQUIRE(quota.admit(sender, later, 25'000, stored_since, retry_after_ms).ok());
  quota.charge(sender, later, 25'000);
  auto in_debt = quota.admit(sender, later + 5'000, 100, stored_since, retry_after_ms);
  REQUIRE_FALSE(in_debt.ok());
  CHECK(retry_after_ms == 10'100);  // 15,000 of debt less 5 s of refill, then the 100
  // A rollback forgets the buckets: the next admit reads the store again.
  quota.forget();
  minute_read_since = -1;
  CHECK(quota.admit(sender, later + 30'000, 100, stored_since, retry_after_ms).ok());
  CHECK(minute_read_since == later + 30'000 - 10'000);
}

TEST_CASE("Refusals of every kind at every stage are tallied apart, each with its own summary") {
  RefusalTally tally(/*window_ms=*/1000);
  CHECK(tally.audit_in_full("open", "sn.police", ErrorCode::bad_signature, 0));
  CHECK(tally.audit_in_full("authorize", "sn.police", ErrorCode::unauthorized, 0));
  CHECK(tally.audit_in_full("persist", "sn.police", ErrorCode::quota_exceeded, 0));
  for (int i = 1; i <= 3; ++i) CHECK_FALSE(tally.audit_in_full("open", "sn.police", ErrorCode::bad_signature, i));
  CHECK_FALSE(tally.audit_in_full("persist", "sn.police", ErrorCode::quota_exceeded, 5));
  auto ended = tally.take_ended(1000);
  REQUIRE(ended.size() == 2);
  std::map<std::string, std::uint64_t> counts;
  for (const auto& summary : ended) counts[summary.stage] = summary.refusals;
  CHECK(counts["open"] == 3);
  CHECK(counts["persist"] == 1);
}

TEST_CASE("The quota's precheck refuses before open what the counts in memory cannot hold and changes nothing") {
  constexpr std::int64_t kDay = 24LL * 3600 * 1000;
  const std::int64_t start = 20'000 * kDay + 3'600'000;
  // One byte a millisecond, bursts of 10,000, 20,000 a day.
  DailyQuota quota(/*bytes_per_day=*/20'000, /*stored_bytes_per_minute=*/60'000, /*stored_burst_bytes=*/10'000);
  const ParticipantId sender("sn.police");
  auto nothing_stored = [](const ParticipantId&, std::int64_t) -> Result<std::uint64_t> { return std::uint64_t{0}; };
  std::uint32_t retry_after_ms = 0;
  // Nothing counted yet: the precheck never reads the store, admit() does.
  CHECK(quota.precheck(sender, start, 1'000'000, retry_after_ms).ok());
  REQUIRE(quota.admit(sender, start, 6'000, nothing_stored, retry_after_ms).ok());
  quota.charge(sender, start, 6'000);
  // 4,000 left in the bucket: an envelope of 2,000 bytes (4,000 of store) fits,
  // one of 2,001 does not, and the wait is the bucket's.
  CHECK(kStoredBytesPerEnvelopeByte == 2);
  CHECK(quota.precheck(sender, start, 2'000, retry_after_ms).ok());
  auto refused = quota.precheck(sender, start, 2'001, retry_after_ms);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::quota_exceeded);
  CHECK(retry_after_ms == 2);
  CHECK_THAT(refused.error().message, Catch::Contains("stored_bytes_per_minute"));
  // An envelope costing more than the burst (6,000 bytes: 12,000 of store)
  // asks only for a full bucket.
  CHECK_FALSE(quota.precheck(sender, start + 5'999, 6'000, retry_after_ms).ok());
  CHECK(quota.precheck(sender, start + 6'000, 6'000, retry_after_ms).ok());
  // Nothing was taken: admit() still finds the 4,000.
  REQUIRE(quota.admit(sender, start, 4'000, nothing_stored, retry_after_ms).ok());
  quota.charge(sender, start, 4'000);
  // The day: 10,000 of 20,000 used; a minute later the bucket is full again
  // but the day holds 10,000 more only.
  const std::int64_t later = start + 60'000;
  REQUIRE(quota.admit(sender, later, 10'000, nothing_stored, retry_after_ms).ok());
  quota.charge(sender, later, 9'000);
  auto day_refused = quota.precheck(sender, later + 60'000, 501, retry_after_ms);
  REQUIRE_FALSE(day_refused.ok());
  CHECK(day_refused.error().code == ErrorCode::quota_exceeded);
  CHECK_THAT(day_refused.error().message, Catch::Contains("00:00 UTC"));
  CHECK(quota.precheck(sender, later + 60'000, 500, retry_after_ms).ok());
}
