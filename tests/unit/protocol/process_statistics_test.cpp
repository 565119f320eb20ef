// The public statistics' tables and the relations between them
// (fpx/disclosure_control.hpp); the broker's secondary suppression is tested
// in tests/unit/broker/secondary_suppression_test.cpp.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "fpx/disclosure_control.hpp"

using namespace fpx;

namespace {

stats::TracingFacts answered(const std::string& from, const std::string& to, const std::string& outcome,
                             std::vector<std::string> grounds = {}) {
  stats::TracingFacts facts;
  facts.requester = from;
  facts.requested = to;
  facts.acknowledged_hours = 2;
  facts.acknowledged_within_clock = true;
  facts.answered_hours = 100;
  facts.answered_within_clock = true;
  facts.outcome = outcome;
  facts.refusal_grounds = std::move(grounds);
  return facts;
}

std::int64_t value(const disclosure::PeriodTables& tables, disclosure::Table table, std::string_view a,
                   std::string_view b, std::string_view measure) {
  auto at = tables.find(table, a, b, measure);
  REQUIRE(at.has_value());
  return tables.cells[*at].value;
}

}  // namespace

TEST_CASE("the tables of a period count each tracing once in its pair and in every marginal") {
  std::vector<stats::TracingFacts> facts{answered("SN", "NE", "partial_chain"), answered("SN", "NE", "no_record"),
                                         answered("SN", "BF", "refused", {"ongoing_investigation"}),
                                         answered("NE", "BF", "partial_chain")};
  auto tables = disclosure::build_tables(facts, {{"Sahel", {"NE", "BF", "ML"}}, {"West", {"SN", "NE", "BF"}}});
  CHECK(tables.states == std::vector<std::string>{"BF", "NE", "SN"});
  CHECK(tables.regions.at("Sahel").size() == 2);  // ML had no tracing
  CHECK(tables.regions.count("West") == 0);        // every state of the period: the total again
  using disclosure::Table;
  CHECK(value(tables, Table::pair, "SN", "NE", "requests") == 2);
  CHECK(value(tables, Table::pair, "NE", "SN", "requests") == 0);
  CHECK(value(tables, Table::requester, "SN", "", "requests") == 3);
  CHECK(value(tables, Table::requested, "BF", "", "outcome.refused") == 1);
  CHECK(value(tables, Table::requested, "BF", "", "refusalGround.ongoing_investigation") == 1);
  CHECK(value(tables, Table::region, "Sahel", "", "requests") == 4);  // to NE 2, to BF 2
  CHECK(value(tables, Table::total, "", "", "answeredWithin30Days") == 4);  // 100 hours each
}
