// FeedCover (fpx/observer_client.hpp): every record covered by the next
// checkpoint after it, the tail's grace, and no unbound record after a
// bound one. Records are verified FeedRecords as follow() makes them.
#include <catch2/catch.hpp>

#include "fpx/observer_client.hpp"

using namespace fpx;
using client::CoverFailure;
using client::FeedCover;
using client::FeedRecord;

namespace {

constexpr std::int64_t kMinute = 60'000;

FeedRecord record(std::uint64_t sequence, std::string kind, std::uint64_t log_index, bool bound = true) {
  FeedRecord out;
  out.sequence = sequence;
  out.kind = std::move(kind);
  out.signed_record = "{\"sequence\":" + std::to_string(sequence) + "}";
  out.log_index = log_index;
  out.bound = bound;
  return out;
}

FeedRecord checkpoint(std::uint64_t sequence, std::uint64_t tree_size) {
  FeedRecord out;
  out.sequence = sequence;
  out.kind = "checkpoint";
  out.tree_size = tree_size;
  return out;
}

}  // namespace

TEST_CASE("records covered by the next checkpoint pass and the tail waits within the grace") {
  FeedCover cover;
  REQUIRE(cover.add(record(1, "public-alert", 0), 0).ok());
  REQUIRE(cover.add(record(2, "statistics", 1), 0).ok());
  REQUIRE(cover.add(checkpoint(3, 2), 0).ok());
  CHECK(cover.covered() == 2);
  REQUIRE(cover.add(record(4, "campaign-report", 5), 10 * kMinute).ok());
  CHECK(cover.pending() == 1);
  CHECK_FALSE(cover.finish(3, 11 * kMinute, 2 * kMinute));  // young: pending
  CHECK(cover.pending() == 1);
  CHECK_FALSE(cover.finish(6, 30 * kMinute, 2 * kMinute));  // the latest checkpoint covers it
  CHECK(cover.pending() == 0);
}

TEST_CASE("a record the next checkpoint does not cover fails with the record and the checkpoint as evidence") {
  FeedCover cover;
  REQUIRE(cover.add(record(1, "public-alert", 9007199254740992ULL), 0).ok());
  REQUIRE(cover.add(record(2, "public-alert", 3), 0).ok());
  auto failed = cover.add(checkpoint(3, 4), 0);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().code == ErrorCode::bad_signature);
  REQUIRE(cover.failure());
  CHECK(cover.failure()->failure == CoverFailure::not_covered);
  CHECK(cover.failure()->sequence == 1);
  CHECK(cover.failure()->checkpoint_sequence == 3u);
  CHECK(cover.failure()->checkpoint_size == 4u);
  CHECK_THAT(failed.error().message, Catch::Contains("feed record 1 (public-alert) names log index 9007199254740992") &&
                                         Catch::Contains("(feed record 3) has tree size 4") &&
                                         Catch::Contains("{\"sequence\":1}"));
}

TEST_CASE("a message leaf named beyond the checkpoint is not covered either") {
  FeedCover cover;
  auto report = record(1, "campaign-report", 2);
  report.message_log_index = 40;
  REQUIRE(cover.add(report, 0).ok());
  auto failed = cover.add(checkpoint(2, 3), 0);
  REQUIRE_FALSE(failed.ok());
  CHECK(cover.failure()->log_index == 40);
}

TEST_CASE("a tail no checkpoint covers for longer than the grace fails as pending too long") {
  FeedCover cover;
  REQUIRE(cover.add(record(1, "public-alert", 10), 0).ok());
  auto late = cover.finish(4, 5 * kMinute, 2 * kMinute);
  REQUIRE(late);
  CHECK(late->failure == CoverFailure::pending_too_long);
  CHECK(late->waited_ms == 5 * kMinute);
  CHECK_THAT(late->describe(), Catch::Contains("no checkpoint covers it 300 s after it was fetched"));
}

TEST_CASE("unbound public records pass before the first bound one and fail after it") {
  FeedCover cover;
  REQUIRE(cover.add(record(1, "public-alert", 0, false), 0).ok());
  CHECK(cover.unbound() == 1);
  REQUIRE(cover.add(record(2, "campaign-report", 1, true), 0).ok());
  auto failed = cover.add(record(3, "public-alert", 2, false), 0);
  REQUIRE_FALSE(failed.ok());
  CHECK(cover.failure()->failure == CoverFailure::unbound_after_bound);
  CHECK_THAT(failed.error().message, Catch::Contains("is not bound to its leaf"));
}

TEST_CASE("an alert status or figures statement record is refused unbound even as the feed's first public record") {
  for (const char* kind : {"public-alert-status", "figures-statement"}) {
    INFO(kind);
    FeedCover cover;
    auto failed = cover.add(record(1, kind, 0, false), 0);
    REQUIRE_FALSE(failed.ok());
    CHECK(cover.failure()->failure == CoverFailure::unbound_after_bound);
    FeedCover bound;
    CHECK(bound.add(record(1, kind, 0, true), 0).ok());
  }
}
