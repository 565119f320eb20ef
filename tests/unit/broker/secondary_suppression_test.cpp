// The broker's disclosure control in-process (broker/secondary_suppression.cpp,
// fpx/disclosure_control.hpp): the LP audit finds what subtraction reveals,
// secondary suppression closes it, and an observer's check of a record.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "fpx/broker/config.hpp"
#include "fpx/disclosure_control.hpp"
#include "secondary_suppression.hpp"

using namespace fpx;
using disclosure::Table;

namespace {

constexpr std::int64_t kThreshold = 3;

stats::TracingFacts tracing(const std::string& from, const std::string& to, const std::string& outcome = "",
                            std::vector<std::string> grounds = {}) {
  stats::TracingFacts facts;
  facts.requester = from;
  facts.requested = to;
  facts.acknowledged_hours = 5;
  facts.acknowledged_within_clock = true;
  if (!outcome.empty()) {
    facts.answered_hours = 48;
    facts.answered_within_clock = true;
    facts.outcome = outcome;
    facts.refusal_grounds = std::move(grounds);
  }
  return facts;
}

// Three answers from NE, one a refusal; four from BF; one request to ML.
std::vector<stats::TracingFacts> single_refusal_among_answers() {
  std::vector<stats::TracingFacts> facts{tracing("SN", "NE", "partial_chain"), tracing("SN", "NE", "partial_chain"),
                                         tracing("SN", "NE", "refused", {"ongoing_investigation"})};
  for (int i = 0; i < 4; ++i) facts.push_back(tracing("SN", "BF", "no_record"));
  facts.push_back(tracing("SN", "ML"));
  return facts;
}

const disclosure::Cell& cell(const disclosure::PeriodTables& tables, Table table, std::string_view a,
                             std::string_view b, std::string_view measure) {
  auto at = tables.find(table, a, b, measure);
  REQUIRE(at.has_value());
  return tables.cells[*at];
}

std::string record_of(const disclosure::PeriodTables& tables) {
  nlohmann::json record{{"kind", "statistics"}, {"method", disclosure::kMethod}, {"threshold", kThreshold}};
  disclosure::write_tables(record, tables);
  return record.dump();
}

}  // namespace

TEST_CASE("primary suppression alone leaves a single refusal recoverable by subtraction and the audit says so") {
  auto tables = disclosure::build_tables(single_refusal_among_answers(), {{"Sahel", {"BF", "ML", "NE", "SN"}}});
  disclosure::suppress_primary(tables, kThreshold);
  const auto& refused = cell(tables, Table::pair, "SN", "NE", "outcome.refused");
  REQUIRE(refused.suppressed);
  auto intervals = broker::audit_suppressed_cells(tables);
  REQUIRE(intervals.ok());
  // "answered" 3 minus "partial_chain" 2 ... both small, but the total's
  // outcomes and SN->ML's single request are pinned by the marginals.
  auto disclosed = std::count_if(intervals->begin(), intervals->end(), [](const auto& i) { return i.discloses(3, 3); });
  CHECK(disclosed > 0);
}

TEST_CASE("secondary suppression leaves no suppressed cell that may be small narrower than the protection range") {
  auto tables = disclosure::build_tables(single_refusal_among_answers(), {{"Sahel", {"BF", "ML", "NE", "SN"}}});
  auto secondary = broker::protect_tables(tables, kThreshold, 3);
  REQUIRE(secondary.ok());
  CHECK(*secondary > 0);
  auto intervals = broker::audit_suppressed_cells(tables);
  REQUIRE(intervals.ok());
  REQUIRE_FALSE(intervals->empty());
  for (const auto& interval : *intervals) {
    INFO(disclosure::describe(tables.cells[interval.cell]) << " in [" << interval.low << ", " << interval.high << "]");
    CHECK_FALSE(interval.discloses(kThreshold, 3));
  }
  // Large cells that protect nothing stay shown.
  CHECK(cell(tables, Table::pair, "SN", "BF", "requests").value == 4);
  CHECK_FALSE(cell(tables, Table::pair, "SN", "BF", "requests").suppressed);
  CHECK(cell(tables, Table::pair, "SN", "NE", "outcome.refused").suppressed);
  CHECK(cell(tables, Table::requested, "ML", "", "requests").suppressed);
}

TEST_CASE("an observer's check of a record passes on the broker's tables and fails on a changed count") {
  auto tables = disclosure::build_tables(single_refusal_among_answers(), {{"Sahel", {"BF", "ML", "NE", "SN"}}});
  REQUIRE(broker::protect_tables(tables, kThreshold, 3).ok());
  auto check = disclosure::check_record(record_of(tables));
  REQUIRE(check.ok());
  CHECK(check->failures.empty());
  CHECK(check->relations_checked > 0);

  auto changed = nlohmann::json::parse(record_of(tables));
  for (auto& row : changed["byRequested"]) {
    if (row["requested"] == "BF") row["counts"]["requests"] = 5;  // the pair and the total still say 4
  }
  auto caught = disclosure::check_record(changed.dump());
  REQUIRE(caught.ok());
  CHECK_FALSE(caught->failures.empty());

  auto small = nlohmann::json::parse(record_of(tables));
  small["total"]["counts"]["outcome.refused"] = 1;  // a count under the threshold, shown
  auto shown = disclosure::check_record(small.dump());
  REQUIRE(shown.ok());
  CHECK_THAT(shown->failures.front(), Catch::Contains("should have been suppressed"));

  CHECK_FALSE(disclosure::check_record(R"({"method":"cell-suppression/v1","states":"SN"})").ok());
  CHECK_FALSE(disclosure::check_record(R"({"method":"old"})").ok());
  // A short record naming many states is refused before any table is laid out for them.
  nlohmann::json many{{"method", disclosure::kMethod}, {"threshold", 3}, {"pairs", nlohmann::json::array()}};
  for (int i = 0; i < 400; ++i) many["states"].push_back(std::string(1, char('A' + i % 26)) + std::to_string(i));
  auto refused = disclosure::check_record(many.dump());
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.error().message, Catch::Contains("not one per ordered pair"));
}

TEST_CASE("the broker refuses two statistics periods and reads quarters on the calendar") {
  auto two = broker::parse_broker_config("[oversight]\nstatistics_periods = [\"month\", \"day\"]\n", "broker.toml");
  REQUIRE_FALSE(two.ok());
  CHECK_THAT(two.error().describe(), Catch::Contains("overlapping periods"));

  auto quarter = broker::parse_statistics_period("quarter");
  REQUIRE(quarter.ok());
  constexpr std::int64_t k2026_05_17 = 1778976000000;  // 2026-05-17T00:00:00Z
  constexpr std::int64_t k2026_04_01 = 1775001600000;
  constexpr std::int64_t k2026_07_01 = 1782864000000;
  CHECK(quarter->start_of(k2026_05_17) == k2026_04_01);
  CHECK(quarter->end_of(k2026_04_01) == k2026_07_01);
}

// --- year tables linked to their periods (issue 12, item 3) ----------------

namespace {

// A hidden 1 in the first period, a shown 3 in the second: a year of 4 alone
// would give the 1 away (4 - 3).
struct YearScenario {
  std::vector<stats::TracingFacts> first{tracing("SN", "NE", "partial_chain"), tracing("SN", "BF", "no_record"),
                                         tracing("SN", "BF", "no_record"), tracing("SN", "BF", "no_record")};
  std::vector<stats::TracingFacts> second{tracing("SN", "NE", "partial_chain"), tracing("SN", "NE", "partial_chain"),
                                          tracing("SN", "NE", "partial_chain"), tracing("SN", "BF", "no_record"),
                                          tracing("SN", "BF", "no_record"), tracing("SN", "BF", "no_record")};
  disclosure::PeriodTables first_tables = disclosure::build_tables(first, {});
  disclosure::PeriodTables second_tables = disclosure::build_tables(second, {});
  disclosure::PeriodTables year() const {
    auto all = first;
    all.insert(all.end(), second.begin(), second.end());
    return disclosure::build_tables(all, {});
  }
};

bool any_disclosed(const disclosure::PeriodTables& tables) {
  auto intervals = broker::audit_suppressed_cells(tables);
  REQUIRE(intervals.ok());
  for (const auto& interval : *intervals) {
    if (interval.discloses(kThreshold, kThreshold)) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("a year linked to its published periods is suppressed so that no difference reveals a period's cell") {
  YearScenario scenario;
  REQUIRE(broker::protect_tables(scenario.first_tables, kThreshold, kThreshold).ok());
  REQUIRE(broker::protect_tables(scenario.second_tables, kThreshold, kThreshold).ok());
  REQUIRE(cell(scenario.first_tables, Table::pair, "SN", "NE", "requests").suppressed);
  REQUIRE_FALSE(cell(scenario.second_tables, Table::pair, "SN", "NE", "requests").suppressed);
  const auto year = scenario.year();
  CHECK(cell(year, Table::pair, "SN", "NE", "requests").value == 4);

  // Without linking (primary suppression of the year alone), the year's 4
  // and the second period's 3 pin the first period's hidden 1.
  auto unprotected = disclosure::link_year(year, {scenario.first_tables, scenario.second_tables});
  disclosure::suppress_primary(unprotected, kThreshold);
  CHECK(any_disclosed(unprotected));

  auto linked = disclosure::link_year(year, {scenario.first_tables, scenario.second_tables});
  auto secondary = broker::protect_tables(linked, kThreshold, kThreshold);
  REQUIRE(secondary.ok());
  CHECK(*secondary > 0);
  CHECK_FALSE(any_disclosed(linked));
  // The year's SN->NE requests are hidden; the periods stay as published.
  CHECK(linked.cells[*year.find(Table::pair, "SN", "NE", "requests")].suppressed);
  for (std::size_t i = 0; i < scenario.first_tables.cells.size(); ++i) {
    CHECK(linked.cells[year.cells.size() + i].suppressed == scenario.first_tables.cells[i].suppressed);
  }
  const std::size_t second_at = year.cells.size() + scenario.first_tables.cells.size();
  for (std::size_t i = 0; i < scenario.second_tables.cells.size(); ++i) {
    CHECK(linked.cells[second_at + i].suppressed == scenario.second_tables.cells[i].suppressed);
  }
}

TEST_CASE("the indicator counts answers that established an origin and sums the outcomes that do") {
  std::vector<stats::TracingFacts> facts{tracing("SN", "NE", "point_of_diversion_established"),
                                         tracing("SN", "NE", "last_legal_holder_identified"),
                                         tracing("SN", "NE", "partial_chain"), tracing("SN", "NE")};
  auto tables = disclosure::build_tables(facts, {});
  CHECK(cell(tables, Table::pair, "SN", "NE", std::string(disclosure::kOriginEstablished)).value == 2);
  CHECK(cell(tables, Table::pair, "SN", "NE", "requests").value == 4);
  CHECK(disclosure::establishes_origin("point_of_diversion_established"));
  CHECK_FALSE(disclosure::establishes_origin("partial_chain"));
  // A record saying 3 established where the establishing outcomes add up to 2 breaks a relation.
  nlohmann::json record{{"kind", "statistics"}, {"method", disclosure::kMethod}, {"threshold", 1}};
  disclosure::write_tables(record, tables);
  CHECK(disclosure::check_record(record.dump())->failures.empty());
  record["total"]["counts"]["originEstablished"] = 3;
  CHECK_FALSE(disclosure::check_record(record.dump())->failures.empty());
  // A record older than the measure is read, the measure unknown.
  for (auto* table : {&record["pairs"], &record["byRequester"], &record["byRequested"]}) {
    for (auto& row : *table) row["counts"].erase("originEstablished");
  }
  record["total"]["counts"].erase("originEstablished");
  auto older = disclosure::tables_of_record(record.dump());
  REQUIRE(older.ok());
  CHECK(cell(*older, Table::total, "", "", std::string(disclosure::kOriginEstablished)).suppressed);
}
