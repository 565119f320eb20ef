#include "secondary_suppression.hpp"

#include <glpk.h>

#include <algorithm>
#include <cmath>
#include <memory>
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

// The cell to give up to widen `cell`'s interval: the smallest non-zero
// shown cell it shares a relation with (least information lost), else a
// zero one, else the smallest shown cell anywhere.
std::optional<std::size_t> complement_for(const disclosure::PeriodTables& tables, std::size_t cell) {
  auto candidates = neighbours(tables, cell);
  if (candidates.empty()) {
    for (std::size_t i = 0; i < tables.cells.size(); ++i) {
      if (!tables.cells[i].suppressed) candidates.push_back(i);
    }
  }
  std::optional<std::size_t> best;
  auto rank = [&](std::size_t i) {
    const auto value = tables.cells[i].value;
    return std::pair{value == 0 ? 1 : 0, value};  // non-zero first, then smallest
  };
  for (auto candidate : candidates) {
    if (!best || rank(candidate) < rank(*best)) best = candidate;
  }
  return best;
}

}  // namespace

Result<std::vector<FeasibleInterval>> audit_suppressed_cells(const disclosure::PeriodTables& tables) {
  std::vector<FeasibleInterval> intervals;
  if (std::none_of(tables.cells.begin(), tables.cells.end(), [](const auto& c) { return c.suppressed; })) {
    return intervals;
  }
  if (tables.cells.size() > kMaxAuditedCells) {
    return make_error(ErrorCode::too_large,
                      "the period's tables have " + std::to_string(tables.cells.size()) +
                          " cells, more than the disclosure audit takes (" + std::to_string(kMaxAuditedCells) +
                          "): group states into fewer, or raise kMaxAuditedCells after measuring the audit");
  }
  auto problem = build_problem(tables);
  glp_adv_basis(problem.get(), 0);
  for (std::size_t i = 0; i < tables.cells.size(); ++i) {
    if (!tables.cells[i].suppressed) continue;
    const int column = static_cast<int>(i) + 1;
    auto low = optimise(problem.get(), column, GLP_MIN);
    if (!low) return std::move(low).take_error();
    auto high = optimise(problem.get(), column, GLP_MAX);
    if (!high) return std::move(high).take_error();
    FeasibleInterval interval;
    interval.cell = i;
    interval.low = std::max(0.0, std::ceil(low->value_or(0.0) - kIntegerSlack));
    if (*high) interval.high = std::floor(**high + kIntegerSlack);
    intervals.push_back(interval);
  }
  return intervals;
}

Result<std::size_t> protect_tables(disclosure::PeriodTables& tables, std::int64_t threshold, std::int64_t protection) {
  disclosure::suppress_primary(tables, threshold);
  std::size_t secondary = 0;
  for (;;) {
    auto intervals = audit_suppressed_cells(tables);
    if (!intervals) return std::move(intervals).take_error();
    std::set<std::size_t> complements;
    for (const auto& interval : *intervals) {
      if (interval.width() >= static_cast<double>(protection)) continue;
      if (auto complement = complement_for(tables, interval.cell)) complements.insert(*complement);
    }
    if (complements.empty()) {
      // Every interval is wide enough, or nothing is left to suppress
      // (then every cell is suppressed, and every interval unbounded).
      return secondary;
    }
    for (auto cell : complements) tables.cells[cell].suppressed = true;
    secondary += complements.size();
  }
}

}  // namespace fpx::broker
