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
