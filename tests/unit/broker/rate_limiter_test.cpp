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
