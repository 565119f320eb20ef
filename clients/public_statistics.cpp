#include "fpx/public_statistics.hpp"

#include "fpx/disclosure_control.hpp"

namespace fpx::client {

Result<StatisticsCheck> check_published_statistics(std::string_view statistics) {
  auto checked = disclosure::check_record(statistics);
  if (!checked) return std::move(checked).take_error();
  StatisticsCheck check;
  check.failures = std::move(checked->failures);
  check.cells_shown = checked->cells_shown;
  check.cells_suppressed = checked->cells_suppressed;
  check.relations_checked = checked->relations_checked;
  return check;
}

}  // namespace fpx::client
