// Suppression of small cells in the public statistics (fpx/process_statistics.hpp).
#include <catch2/catch.hpp>

#include "fpx/process_statistics.hpp"

using namespace fpx;

namespace {

stats::PairTally answered_with(const std::map<std::string, std::int64_t>& outcomes) {
  stats::PairTally tally;
  for (const auto& [outcome, count] : outcomes) {
    tally.outcomes[outcome] = count;
    tally.answered += count;
    tally.requests += count;
    for (std::int64_t i = 0; i < count; ++i) tally.answered_hours.push_back(1);
  }
  return tally;
}

}  // namespace

TEST_CASE("two small outcomes that add up to less than the threshold take a shown one with them") {
  // refused 1 + restricted 1 = answered 7 - 5: both would be exactly 1.
  auto published = stats::publishable({"SN", "NE"}, answered_with({{"refused", 1}, {"restricted", 1}, {"partial_chain", 5}}), 3);
  CHECK(published.answered == 7);
  CHECK_FALSE(published.outcomes["refused"].has_value());
  CHECK_FALSE(published.outcomes["restricted"].has_value());
  CHECK_FALSE(published.outcomes["partial_chain"].has_value());
}

TEST_CASE("a single small outcome takes the smallest shown one with it; larger totals stand") {
  auto one = stats::publishable({"SN", "NE"}, answered_with({{"refused", 1}, {"no_record", 4}, {"partial_chain", 6}}), 3);
  CHECK_FALSE(one.outcomes["refused"].has_value());
  CHECK_FALSE(one.outcomes["no_record"].has_value());
  CHECK(one.outcomes["partial_chain"] == 6);

  // Two suppressed cells totalling 4 (>= 3): "answered" minus the rest says only 4 = 2 + 2 or 1 + 3.
  auto two = stats::publishable({"SN", "NE"}, answered_with({{"refused", 2}, {"restricted", 2}, {"partial_chain", 6}}), 3);
  CHECK_FALSE(two.outcomes["refused"].has_value());
  CHECK_FALSE(two.outcomes["restricted"].has_value());
  CHECK(two.outcomes["partial_chain"] == 6);
}

TEST_CASE("a pair under the threshold shows nothing but its names; percentiles need threshold values") {
  stats::PairTally few;
  few.requests = 2;
  CHECK(stats::publishable({"SN", "ML"}, few, 3).suppressed);
  auto shown = stats::publishable({"SN", "NE"}, answered_with({{"partial_chain", 3}}), 3);
  CHECK_FALSE(shown.suppressed);
  CHECK(shown.answered_hours.median == 1);
  CHECK(stats::nearest_rank({5, 1, 30, 30, 80}, 50) == 30);
  CHECK(stats::nearest_rank({2, 2, 2, 5, 80}, 90) == 80);
  CHECK(stats::nearest_rank({}, 50) == std::nullopt);
}
