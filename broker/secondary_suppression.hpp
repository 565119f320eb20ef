// Secondary suppression of one period's tables, checked by the audit an
// attacker would run (docs/PROTOCOL.md "Statistics: disclosure control"):
// for every suppressed cell, the smallest and largest value it can take
// given every shown cell and every relation between cells (a linear
// program, GLPK). A cell is disclosed when that interval reaches below the
// threshold yet is narrower than the protection range: a reader could
// tell a small count (or where a small count lies) from the published
// figures. More cells are suppressed until none is. (A wider-valued
// complementary cell narrowed to, say, [4, 5] discloses no small count.)
// Periods of the grid share no cell and no relation, so one period's audit
// is the audit of everything published about it until its year's tables:
// those are audited linked to the year's published periods
// (disclosure::link_year), whose cells are fixed (Cell::fixed): only the
// year's own cells are suppressed to protect them.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "fpx/disclosure_control.hpp"
#include "fpx/result.hpp"

namespace fpx::broker {

// Audited cells per period. The audit runs on the statistics thread
// (statistics_worker.hpp), never on the loop, once per period: measured (December 2026, loaded 2-vCPU machine) at 0.04 s of CPU
// for 3 states and 53 complements, 0.7 s for 6 states, 6.7 s for 10 states
// (2,109 cells, 120 tracings). Beyond this (about 15 states) the publisher
// refuses the period (and logs what to do) rather than hold the statistics
// thread for hours while later periods wait behind it.
inline constexpr std::size_t kMaxAuditedCells = 5'000;

struct FeasibleInterval {
  std::size_t cell = 0;
  double low = 0;
  double high = std::numeric_limits<double>::infinity();  // unbounded above
  double width() const { return high - low; }
  // Narrower than `protection` while reaching below `threshold`.
  bool discloses(std::int64_t threshold, std::int64_t protection) const {
    return low < static_cast<double>(threshold) && width() < static_cast<double>(protection);
  }
};

// Refuses (`too_large`, saying what to do) tables beyond kMaxAuditedCells:
// checked on the loop before a period is handed to the statistics thread.
Status check_audit_size(const disclosure::PeriodTables& tables);

// The interval of every suppressed cell given everything shown in `tables`.
Result<std::vector<FeasibleInterval>> audit_suppressed_cells(const disclosure::PeriodTables& tables);

// Primary then secondary suppression until no suppressed cell's interval
// discloses (FeasibleInterval::discloses). Returns how many cells were
// suppressed beyond the primary ones. A stop requested through `stop` ends
// the work between two linear programs with `unavailable` (a broker that
// stops does not wait for minutes of solving; the period is done again at
// the next start).
Result<std::size_t> protect_tables(disclosure::PeriodTables& tables, std::int64_t threshold, std::int64_t protection,
                                   std::stop_token stop = {});

// GLPK keeps an environment per thread that only glp_free_env releases: a
// thread that ran protect_tables calls this once its problems are gone, or
// that memory outlives the thread (LeakSanitizer reports it).
void release_solver_thread_state();

}  // namespace fpx::broker
