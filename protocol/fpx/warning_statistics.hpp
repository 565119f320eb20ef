// The public counts of civil society's early warnings (PROTOCOL.md §8.5 and
// §11 "Early warnings"): per warned state and in total, how many arrived in
// the period and how many its focal point acknowledged within the clock.
// A table apart from the tracing tables (its own cells and relations), and
// protected by the same disclosure control: primary suppression under the
// threshold, then the broker's secondary suppression and LP audit
// (broker/secondary_suppression.hpp) over these cells and relations.
#pragma once

#include <span>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "fpx/disclosure_control.hpp"
#include "fpx/process_statistics.hpp"

namespace fpx::disclosure {

// The statistics record's key for this table, and its two measures.
inline constexpr std::string_view kWarningsKey = "earlyWarnings";
inline constexpr std::string_view kWarningsMeasure = "warnings";
inline constexpr std::string_view kWarningsAcknowledgedMeasure = "acknowledgedWithinClock";

// Rows: one per warned state (Table::requested, `requested` = the state),
// then the total (Table::total); each row the two measures in that order.
// Relations: each measure's total is the sum of its states; a row's
// acknowledgedWithinClock is at most its warnings.
PeriodTables build_warning_tables(std::span<const stats::WarningFacts> facts);

// Writes record["earlyWarnings"] = {"measures", "byState": [{"state", "counts"}], "total": {"counts"}},
// a suppressed count as null. Nothing when `tables` has no cell.
void write_warning_tables(nlohmann::json& record, const PeriodTables& tables);

// The table of a statistics record, suppressed cells flagged (value 0), or
// invalid_argument when it is not in this shape. A record without the key
// (no warning that period) gives empty tables.
Result<PeriodTables> warning_tables_of_record(std::string_view record_json);

// What an observer checks of the table without microdata, as check_record()
// does for the tracing tables: every shown count outside 1..threshold-1
// (the record's own "threshold"), every relation whose cells are all shown holds.
Result<ConsistencyCheck> check_warning_record(std::string_view record_json);

}  // namespace fpx::disclosure
