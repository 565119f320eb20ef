#include "secondary_suppression.hpp"

#include <glpk.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <set>

namespace fpx::broker {

namespace {

// GLPK's problem object, owned here.
struct GlpkProblemFree {
  void operator()(glp_prob* problem) const { glp_delete_prob(problem); }
};
using GlpkProblem = std::unique_ptr<glp_prob, GlpkProblemFree>;

// Rounding slack of the simplex: LP bounds are rounded to the integers
// they stand for (cells are counts) after allowing this much float error.
constexpr double kIntegerSlack = 1e-6;

// One column per cell, one row per relation. Shown cells are fixed at their
// value; suppressed ones range over the non-negative numbers.
GlpkProblem build_problem(const disclosure::PeriodTables& tables) {
  GlpkProblem problem(glp_create_prob());
  glp_add_cols(problem.get(), static_cast<int>(tables.cells.size()));
  for (std::size_t i = 0; i < tables.cells.size(); ++i) {
    const auto& cell = tables.cells[i];
    const int column = static_cast<int>(i) + 1;
    if (cell.suppressed) {
      glp_set_col_bnds(problem.get(), column, GLP_LO, 0.0, 0.0);
    } else {
      const double value = static_cast<double>(cell.value);
      glp_set_col_bnds(problem.get(), column, GLP_FX, value, value);
    }
  }
  glp_add_rows(problem.get(), static_cast<int>(tables.constraints.size()));
  for (std::size_t r = 0; r < tables.constraints.size(); ++r) {
    const auto& constraint = tables.constraints[r];
    const int row = static_cast<int>(r) + 1;
    if (constraint.relation == disclosure::Relation::equal) {
      glp_set_row_bnds(problem.get(), row, GLP_FX, 0.0, 0.0);
    } else {
      glp_set_row_bnds(problem.get(), row, GLP_UP, 0.0, 0.0);
    }
    // GLPK's arrays are 1-based: index 0 is unused.
    std::vector<int> columns(1, 0);
    std::vector<double> coefficients(1, 0.0);
    for (const auto& term : constraint.terms) {
      columns.push_back(static_cast<int>(term.cell) + 1);
      coefficients.push_back(term.coefficient);
    }
    glp_set_mat_row(problem.get(), row, static_cast<int>(constraint.terms.size()), columns.data(),
                    coefficients.data());
  }
  return problem;
}

// Optimises one column; nullopt when unbounded in that direction.
Result<std::optional<double>> optimise(glp_prob* problem, int column, int direction) {
  glp_set_obj_coef(problem, column, 1.0);
  glp_set_obj_dir(problem, direction);
  glp_smcp parameters;
  glp_init_smcp(&parameters);
  parameters.msg_lev = GLP_MSG_OFF;
  parameters.presolve = GLP_OFF;  // keep the basis between solves: each is a few pivots from the last
  const int failed = glp_simplex(problem, &parameters);
  glp_set_obj_coef(problem, column, 0.0);
  if (failed != 0) {
    return make_error(ErrorCode::internal, "the disclosure audit's linear program failed (GLPK code " +
                                               std::to_string(failed) + "): statistics not published");
  }
  const int status = glp_get_status(problem);
  if (status == GLP_UNBND) return std::optional<double>{};
  if (status != GLP_OPT) {
    // The true counts satisfy every relation, so an infeasible program is a bug in the relations.
    return make_error(ErrorCode::internal, "the disclosure audit found the published tables infeasible (GLPK "
                                           "status " + std::to_string(status) + "): statistics not published");
  }
  return std::optional<double>{glp_get_obj_val(problem)};
}

// The shown cells that share a relation with `cell`.
std::vector<std::size_t> neighbours(const disclosure::PeriodTables& tables, std::size_t cell) {
  std::set<std::size_t> found;
  for (const auto& constraint : tables.constraints) {
    if (std::none_of(constraint.terms.begin(), constraint.terms.end(), [&](const auto& t) { return t.cell == cell; })) {
      continue;
    }
    for (const auto& term : constraint.terms) {
      if (!tables.cells[term.cell].suppressed) found.insert(term.cell);
    }
  }
  return {found.begin(), found.end()};
}

// How complements are chosen; protect_tables tries both and keeps the one
// that hides fewer cells (neither is optimal: that is a mixed-integer
// program, TODO(perf) if tables grow).
enum class Complements {
  // The smallest non-zero shown cell sharing a relation with the disclosed
  // cell: least information lost per cell, but in small tables one pair
  // hidden often pins the next.
  smallest_nearby,
  // The largest non-zero shown cell in any relation holding a suppressed
  // cell: a marginal or total, which frees many cells at once.
  largest_linked,
};

// The cell to give up to widen `cell`'s interval, by `how`; a zero only
// when no non-zero cell is left. A suppressed zero is itself a cell that
// may be small and needs protecting in turn, so zeros make poor complements.
std::optional<std::size_t> complement_for(const disclosure::PeriodTables& tables, std::size_t cell,
                                          Complements how) {
  auto pick = [&](const std::vector<std::size_t>& candidates, bool zeros, bool largest) {
    std::optional<std::size_t> best;
    for (auto candidate : candidates) {
      if (tables.cells[candidate].fixed) continue;  // published already: only the new cells can give way
      const auto value = tables.cells[candidate].value;
      if ((value == 0) != zeros) continue;
      if (!best || (largest ? value > tables.cells[*best].value : value < tables.cells[*best].value)) best = candidate;
    }
    return best;
  };
  std::vector<std::size_t> near;
  if (how == Complements::smallest_nearby) {
    near = neighbours(tables, cell);
  } else {
    std::set<std::size_t> linked;
    for (const auto& constraint : tables.constraints) {
      const bool holds_suppressed = std::any_of(constraint.terms.begin(), constraint.terms.end(),
                                                [&](const auto& t) { return tables.cells[t.cell].suppressed; });
      if (!holds_suppressed) continue;
      for (const auto& term : constraint.terms) {
        if (!tables.cells[term.cell].suppressed) linked.insert(term.cell);
      }
    }
    near.assign(linked.begin(), linked.end());
  }
  std::vector<std::size_t> anywhere;
  for (std::size_t i = 0; i < tables.cells.size(); ++i) {
    if (!tables.cells[i].suppressed) anywhere.push_back(i);
  }
  const bool largest = how == Complements::largest_linked;
  for (const auto* candidates : {&near, &anywhere}) {
    if (auto found = pick(*candidates, false, largest)) return found;
  }
  for (const auto* candidates : {&near, &anywhere}) {
    if (auto found = pick(*candidates, true, largest)) return found;
  }
  return std::nullopt;
}

}  // namespace

Status check_audit_size(const disclosure::PeriodTables& tables) {
  if (tables.cells.size() > kMaxAuditedCells) {
    return make_error(ErrorCode::too_large,
                      "the period's tables have " + std::to_string(tables.cells.size()) +
                          " cells, more than the disclosure audit takes (" + std::to_string(kMaxAuditedCells) +
                          "): group states into fewer, or raise kMaxAuditedCells after measuring the audit");
  }
  return {};
}

namespace {

Result<FeasibleInterval> interval_of(glp_prob* problem, std::size_t cell) {
  const int column = static_cast<int>(cell) + 1;
  auto low = optimise(problem, column, GLP_MIN);
  if (!low) return std::move(low).take_error();
  auto high = optimise(problem, column, GLP_MAX);
  if (!high) return std::move(high).take_error();
  FeasibleInterval interval;
  interval.cell = cell;
  interval.low = std::max(0.0, std::ceil(low->value_or(0.0) - kIntegerSlack));
  if (*high) interval.high = std::floor(**high + kIntegerSlack);
  return interval;
}

}  // namespace

Result<std::vector<FeasibleInterval>> audit_suppressed_cells(const disclosure::PeriodTables& tables) {
  std::vector<FeasibleInterval> intervals;
  if (std::none_of(tables.cells.begin(), tables.cells.end(), [](const auto& c) { return c.suppressed; })) {
    return intervals;
  }
  if (auto sized = check_audit_size(tables); !sized) return std::move(sized).take_error();
  auto problem = build_problem(tables);
  glp_std_basis(problem.get());
  for (std::size_t i = 0; i < tables.cells.size(); ++i) {
    if (!tables.cells[i].suppressed) continue;
    auto interval = interval_of(problem.get(), i);
    if (!interval) return std::move(interval).take_error();
    intervals.push_back(*interval);
  }
  return intervals;
}

namespace {

// Secondary suppression with one way of choosing complements, in place.
// Suppressing a cell only relaxes the program (its value is no longer
// fixed), so intervals only widen: a cell found safe stays safe and is not
// solved again, and the one program is kept, warm, across rounds.
Result<std::size_t> suppress_secondary(disclosure::PeriodTables& tables, std::int64_t threshold,
                                       std::int64_t protection, Complements how, const std::stop_token& stop) {
  if (auto sized = check_audit_size(tables); !sized) return std::move(sized).take_error();
  auto problem = build_problem(tables);
  glp_std_basis(problem.get());
  std::vector<bool> safe(tables.cells.size(), false);
  std::size_t secondary = 0;
  for (;;) {
    // The small ones, the likeliest to be disclosed, first.
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < tables.cells.size(); ++i) {
      if (tables.cells[i].suppressed && !safe[i]) order.push_back(i);
    }
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return tables.cells[a].value < tables.cells[b].value; });
    std::optional<std::size_t> disclosed;
    for (auto cell : order) {
      if (stop.stop_requested()) {
        return make_error(ErrorCode::unavailable,
                          "secondary suppression stopped with the broker: the period is published at the next start");
      }
      auto interval = interval_of(problem.get(), cell);
      if (!interval) return std::move(interval).take_error();
      if (interval->discloses(threshold, protection)) {
        disclosed = cell;
        break;
      }
      safe[cell] = true;
    }
    if (!disclosed) return secondary;
    auto complement = complement_for(tables, *disclosed, how);
    if (!complement) {
      // None left: every cell that may still be hidden is. Without fixed
      // cells every interval is then unbounded. With them (a year linked
      // to its published periods) every new cell is hidden, which leaves
      // the periods as safe as their own audits found them: a disclosure
      // here is a bug, and nothing is published.
      const bool any_fixed =
          std::any_of(tables.cells.begin(), tables.cells.end(), [](const auto& c) { return c.fixed; });
      if (!any_fixed) return secondary;
      return make_error(ErrorCode::internal, "the disclosure audit found " + disclosure::describe(tables.cells[*disclosed]) +
                                                 " narrowed with every new cell suppressed: statistics not published");
    }
    tables.cells[*complement].suppressed = true;
    glp_set_col_bnds(problem.get(), static_cast<int>(*complement) + 1, GLP_LO, 0.0, 0.0);
    ++secondary;
  }
}

}  // namespace

Result<std::size_t> protect_tables(disclosure::PeriodTables& tables, std::int64_t threshold, std::int64_t protection,
                                   std::stop_token stop) {
  disclosure::suppress_primary(tables, threshold);
  disclosure::PeriodTables other = tables;
  auto nearby = suppress_secondary(tables, threshold, protection, Complements::smallest_nearby, stop);
  if (!nearby) return nearby;
  auto linked = suppress_secondary(other, threshold, protection, Complements::largest_linked, stop);
  if (!linked) return linked;
  if (*linked < *nearby) {
    tables = std::move(other);
    return *linked;
  }
  return *nearby;
}

void release_solver_thread_state() { glp_free_env(); }

}  // namespace fpx::broker
