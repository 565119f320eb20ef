// clients/cli/report_data.cpp: `fpx report` reads every saved record through
// the feed's one codec (protocol/fpx/public_records.hpp), statistics
// included: the rows it draws are the tables the codec decoded, and a
// damaged record stops the report with the codec's typed refusal naming the
// record and its field, as every other reader of the feed refuses it.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fpx/disclosure_control.hpp"
#include "fpx/public_records.hpp"
#include "report_data.hpp"
#include "support/sample_statistics_record.hpp"

namespace fpx::cli::report {
namespace {

// The sample month (tests/support/sample_statistics_record.hpp) at another sequence.
records::StatisticsRecord month_record(std::uint64_t sequence) {
  auto record = test::sample_statistics_record();
  record.sequence = sequence;
  return record;
}

FeedStore::SavedRecord saved(std::uint64_t sequence, std::string kind, std::string signed_record) {
  FeedStore::SavedRecord record;
  record.line = sequence;
  record.sequence = sequence;
  record.kind = std::move(kind);
  record.signed_record = std::move(signed_record);
  return record;
}

FeedStore::SavedRecord saved(const records::PublicRecord& record) {
  return saved(records::sequence_of(record), std::string(records::kind_name(records::kind_of(record))),
               records::encode_record(record));
}

records::CampaignReportRecord campaign(std::uint64_t sequence) {
  records::CampaignReportRecord report;
  report.sequence = sequence;
  report.log_index = 8;
  report.message = records::MessageLeaf{7, Sha256Digest{}};
  report.country = "SN";
  report.commission = "COMNAT-ALPC";
  report.regions = {"Dakar"};
  report.period_start = "2026-01-01";
  report.period_end = "2026-01-31";
  report.weapons_collected = 120;
  report.weapons_destroyed = 95;
  return report;
}

}  // namespace

TEST_CASE("The report draws a statistics record as the codec decoded its tables") {
  const auto published = month_record(3);
  auto data = read_report_data({saved(published)}, "");
  REQUIRE(data);
  REQUIRE(data->statistics);
  const StatisticsRecord& shown = *data->statistics;
  CHECK(shown.period == "month");
  CHECK(shown.threshold == 5);
  CHECK(shown.clocks.routine_respond == 720.0);
  CHECK(shown.warning_acknowledge_hours == 48.0);
  // One row per row of the tables, each measure from its cell.
  CHECK(shown.rows.size() * disclosure::measures().size() == published.tables.cells.size());
  auto pairs = shown.table("pairs");
  auto to_ne = std::find_if(pairs.begin(), pairs.end(), [](const RowStatistics* row) {
    return row->requester == "SN" && row->requested == "NE";
  });
  REQUIRE(to_ne != pairs.end());
  CHECK((*to_ne)->requests == Count(5));
  CHECK((*to_ne)->acknowledged_within_clock == Count(5));
  auto to_ml = std::find_if(pairs.begin(), pairs.end(), [](const RowStatistics* row) {
    return row->requester == "SN" && row->requested == "ML";
  });
  REQUIRE(to_ml != pairs.end());
  CHECK_FALSE((*to_ml)->requests);  // suppressed: no count, never 0
  // Outcomes by name, as the CSV's columns have always come.
  REQUIRE_FALSE((*to_ne)->outcomes.empty());
  CHECK(std::is_sorted((*to_ne)->outcomes.begin(), (*to_ne)->outcomes.end()));
  CHECK(shown.table("total").size() == 1);
  // Early warnings: NE, then the total.
  REQUIRE(shown.warnings.size() == 2);
  CHECK(shown.warnings[0].state == "NE");
  CHECK(shown.warnings[1].state.empty());
}

TEST_CASE("A statistics record with a field of the wrong type stops the report naming the record and field") {
  auto object = nlohmann::json::parse(records::encode_record(month_record(3)));
  object["threshold"] = "five";
  auto data = read_report_data({saved(campaign(1)), saved(3, "statistics", object.dump())}, "");
  REQUIRE_FALSE(data);
  CHECK(data.error().code == ErrorCode::malformed);
  CHECK_THAT(data.error().message, Catch::Contains("feed record 3 (statistics): field \"threshold\"") &&
                                       Catch::Contains("run `fpx log verify`"));
}

TEST_CASE("A statistics record missing a field stops the report naming the field") {
  auto object = nlohmann::json::parse(records::encode_record(month_record(3)));
  object.erase("periodEnd");
  auto data = read_report_data({saved(3, "statistics", object.dump())}, "");
  REQUIRE_FALSE(data);
  CHECK(data.error().code == ErrorCode::malformed);
  CHECK_THAT(data.error().message, Catch::Contains("feed record 3 (statistics): field \"periodEnd\" is missing"));
}

TEST_CASE("A campaign report with a text beyond the codec's bound stops the report as too large") {
  auto report = campaign(2);
  report.commission = std::string(records::kMaxRecordTextBytes + 1, 'c');
  auto data = read_report_data({saved(report)}, "");
  REQUIRE_FALSE(data);
  CHECK(data.error().code == ErrorCode::too_large);
  CHECK_THAT(data.error().message, Catch::Contains("feed record 2 (campaign-report): field \"commission\""));
}

TEST_CASE("A saved record that is not JSON stops the report naming the record") {
  auto data = read_report_data({saved(campaign(1)), saved(5, "statistics", "{\"kind\":")}, "");
  REQUIRE_FALSE(data);
  CHECK(data.error().code == ErrorCode::malformed);
  CHECK_THAT(data.error().message, Catch::Contains("feed record 5 (statistics): public record refused"));
}

TEST_CASE("Statistics records of the scheme before issue 12 are counted not drawn and the rest is read") {
  auto object = nlohmann::json::parse(records::encode_record(month_record(4)));
  object.erase("method");
  object["pairs"] = nlohmann::json::array({{{"requester", "SN"}, {"requested", "NE"}, {"suppressed", true}}});
  auto data = read_report_data({saved(campaign(1)), saved(4, "statistics", object.dump())}, "");
  REQUIRE(data);
  CHECK(data->older_format_records == 1);
  CHECK_FALSE(data->statistics);
  REQUIRE(data->campaigns.size() == 1);
  CHECK(data->campaigns[0].weapons_destroyed == 95);
}

TEST_CASE("A record of a kind this version does not know is passed over by the report") {
  auto data = read_report_data({saved(campaign(1)), saved(2, "weather", "{\"kind\":\"weather\",\"sequence\":2}")}, "");
  REQUIRE(data);
  CHECK(data->campaigns.size() == 1);
  CHECK(data->records == 2);
}

}  // namespace fpx::cli::report
