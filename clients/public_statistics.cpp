#include "fpx/public_statistics.hpp"

#include "fpx/disclosure_control.hpp"
#include "fpx/public_records.hpp"
#include "fpx/warning_statistics.hpp"

namespace fpx::client {

Result<StatisticsCheck> check_published_statistics(std::string_view statistics) {
  // The record is read as every reader reads it, through the one codec of
  // the feed's records (bounded, no key twice, every field of its type),
  // before its counts are checked: a record the report refuses is refused
  // here the same way, never checked as if it were whole.
  if (auto decoded = records::decode_statistics_record(statistics); !decoded) return std::move(decoded).take_error();
  auto checked = disclosure::check_record(statistics);
  if (!checked) return std::move(checked).take_error();
  StatisticsCheck check;
  check.failures = std::move(checked->failures);
  check.cells_shown = checked->cells_shown;
  check.cells_suppressed = checked->cells_suppressed;
  check.relations_checked = checked->relations_checked;
  // Civil society's early warnings: a table of their own, the same promise.
  auto warnings = disclosure::check_warning_record(statistics);
  if (!warnings) return std::move(warnings).take_error();
  for (auto& failure : warnings->failures) check.failures.push_back(std::move(failure));
  check.cells_shown += warnings->cells_shown;
  check.cells_suppressed += warnings->cells_suppressed;
  check.relations_checked += warnings->relations_checked;
  return check;
}

}  // namespace fpx::client
