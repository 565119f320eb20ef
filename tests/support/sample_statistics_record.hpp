// One month's statistics record as the broker publishes it, for tests of the
// feed's readers (the records codec, fpx report, the hostile feed rows):
// SN asked NE five times and ML once (primary-suppressed under the
// threshold of 5), every request acknowledged within the clock; region
// "sahel" holds NE and ML; civil society warned NE twice (once
// acknowledged within the clock). Sequence 12, log index 40.
#pragma once

#include <string>
#include <vector>

#include "fpx/disclosure_control.hpp"
#include "fpx/process_statistics.hpp"
#include "fpx/public_records.hpp"
#include "fpx/warning_statistics.hpp"

namespace fpx::test {

inline records::StatisticsRecord sample_statistics_record() {
  records::StatisticsRecord record;
  record.sequence = 12;
  record.log_index = 40;
  record.period = "month";
  record.period_start = "2026-03-01T00:00:00Z";
  record.period_end = "2026-04-01T00:00:00Z";
  record.as_of = "2026-04-08T00:00:01Z";
  record.method = std::string(disclosure::kMethod);
  record.threshold = 5;
  record.protection_range = 2;
  record.answered_band_hours = disclosure::kAnsweredBandHours;
  record.clocks_hours = {24.0, 168.0, 72.0, 720.0, 48.0};
  record.counted_at_ms = 1775606400123;
  std::vector<stats::TracingFacts> facts(6);
  for (auto& fact : facts) {
    fact.requester = "SN";
    fact.requested = "NE";
    fact.acknowledged_hours = 3;
    fact.acknowledged_within_clock = true;
  }
  facts[5].requested = "ML";
  record.tables = disclosure::build_tables(facts, {{"sahel", {"NE", "ML"}}});
  disclosure::suppress_primary(record.tables, record.threshold);
  std::vector<stats::WarningFacts> warnings{{"NE", true}, {"NE", false}};
  record.warnings = disclosure::build_warning_tables(warnings);
  return record;
}

}  // namespace fpx::test
