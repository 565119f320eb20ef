// Secondary suppression of one period's tables, checked by the audit an
// attacker would run (docs/PROTOCOL.md "Statistics: disclosure control"):
// for every suppressed cell, the smallest and largest value it can take
// given every shown cell and every relation between cells (a linear
// program, GLPK), and more cells suppressed until each such interval is at
// least the protection range wide. Periods of the grid share no cell and no
// relation, so one period's audit is the audit of everything published.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "fpx/disclosure_control.hpp"
#include "fpx/result.hpp"

namespace fpx::broker {

// Audited cells per period: two linear programs per suppressed cell per
// round; beyond this the publisher refuses the period (and logs what to do)
// rather than hold the loop thread for minutes. 40 states give about 33,000.
// TODO(perf): solve on a worker, warm-started, for a world-wide exchange.
inline constexpr std::size_t kMaxAuditedCells = 40'000;

struct FeasibleInterval {
  std::size_t cell = 0;
  double low = 0;
  double high = std::numeric_limits<double>::infinity();  // unbounded above
  double width() const { return high - low; }
};

// The interval of every suppressed cell given everything shown in `tables`.
Result<std::vector<FeasibleInterval>> audit_suppressed_cells(const disclosure::PeriodTables& tables);

// Primary then secondary suppression until no suppressed cell's interval
// is narrower than `protection`. Returns how many cells were suppressed
// beyond the primary ones.
Result<std::size_t> protect_tables(disclosure::PeriodTables& tables, std::int64_t threshold, std::int64_t protection);

}  // namespace fpx::broker
