// `fpx report --csv DIR`: every published statistics table of every saved
// period as CSV, one file per table (pairs.csv, by_requester.csv,
// by_requested.csv, by_region.csv, total.csv), one line per row and period,
// oldest period first. A suppressed count is an empty field, never 0.
// Issue 12: alerts.csv (every public alert with its validUntil, its status
// as of the day the file is written: active, expired or cancelled, and its
// public text) and statements.csv (every state's statement on its figures,
// naming the statistics record it answers).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "fpx/result.hpp"
#include "report_data.hpp"

namespace fpx::cli::report {

// Writes the files (each atomically) and returns their paths.
Result<std::vector<std::filesystem::path>> write_csv_tables(const ReportData& data, const std::filesystem::path& dir);

}  // namespace fpx::cli::report
