// Early-warning counts per warned state (fpx/warning_statistics.hpp).
#include "fpx/warning_statistics.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

namespace fpx::disclosure {

namespace {

using nlohmann::json;

constexpr std::size_t kMeasures = 2;  // warnings, acknowledgedWithinClock

// Most states any record may name: more is not a record of this exchange
// but a reader's denial of service (a parser must not build millions of cells).
constexpr std::size_t kMaxWarningStates = 256;

PeriodTables shape(std::vector<std::string> states) {
  std::sort(states.begin(), states.end());
  states.erase(std::unique(states.begin(), states.end()), states.end());
  PeriodTables tables;
  tables.states = states;
  auto add_row = [&tables](Table table, const std::string& state) {
    tables.cells.push_back({table, "", state, "", std::string(kWarningsMeasure), 0, false});
    tables.cells.push_back({table, "", state, "", std::string(kWarningsAcknowledgedMeasure), 0, false});
  };
  for (const auto& state : states) add_row(Table::requested, state);
  if (!states.empty()) add_row(Table::total, "");
  if (states.empty()) return tables;
  const std::size_t total = states.size() * kMeasures;
  for (std::size_t measure = 0; measure < kMeasures; ++measure) {
    Constraint sum{{{total + measure, -1}}, Relation::equal};
    for (std::size_t row = 0; row < states.size(); ++row) sum.terms.push_back({row * kMeasures + measure, 1});
    tables.constraints.push_back(std::move(sum));
  }
  for (std::size_t first = 0; first <= total; first += kMeasures) {
    // acknowledgedWithinClock - warnings <= 0
    tables.constraints.push_back({{{first + 1, 1}, {first, -1}}, Relation::at_most});
  }
  return tables;
}

Error malformed(const std::string& what) {
  return make_error(ErrorCode::invalid_argument, "statistics record: earlyWarnings: " + what);
}

Status read_counts(PeriodTables& tables, std::size_t first, const json& row, const std::string& where) {
  if (!row.is_object() || !row.contains("counts") || !row["counts"].is_object()) {
    return malformed(where + " without counts");
  }
  const json& counts = row["counts"];
  for (std::size_t i = 0; i < kMeasures; ++i) {
    Cell& cell = tables.cells[first + i];
    if (!counts.contains(cell.measure)) return malformed(where + " " + cell.measure + " is missing");
    const json& value = counts[cell.measure];
    if (value.is_null()) {
      cell.suppressed = true;
    } else if (value.is_number_integer() && value.get<std::int64_t>() >= 0) {
      cell.value = value.get<std::int64_t>();
    } else {
      return malformed(where + " " + cell.measure + " is neither a count nor null");
    }
  }
  return {};
}

}  // namespace

PeriodTables build_warning_tables(std::span<const stats::WarningFacts> facts) {
  std::vector<std::string> states;
  for (const auto& warning : facts) states.push_back(warning.country);
  PeriodTables tables = shape(std::move(states));
  const std::size_t total = tables.states.size() * kMeasures;
  for (const auto& warning : facts) {
    const auto at = std::lower_bound(tables.states.begin(), tables.states.end(), warning.country);
    const std::size_t first = static_cast<std::size_t>(at - tables.states.begin()) * kMeasures;
    ++tables.cells[first].value;
    ++tables.cells[total].value;
    if (warning.acknowledged_within_clock) {
      ++tables.cells[first + 1].value;
      ++tables.cells[total + 1].value;
    }
  }
  return tables;
}

void write_warning_tables(json& record, const PeriodTables& tables) {
  if (tables.cells.empty()) return;
  auto counts = [&tables](std::size_t first) {
    json out = json::object();
    for (std::size_t i = 0; i < kMeasures; ++i) {
      const Cell& cell = tables.cells[first + i];
      out[cell.measure] = cell.suppressed ? json(nullptr) : json(cell.value);
    }
    return out;
  };
  json table{{"measures", {kWarningsMeasure, kWarningsAcknowledgedMeasure}}, {"byState", json::array()}};
  for (std::size_t row = 0; row < tables.states.size(); ++row) {
    table["byState"].push_back({{"state", tables.states[row]}, {"counts", counts(row * kMeasures)}});
  }
  table["total"] = {{"counts", counts(tables.states.size() * kMeasures)}};
  record[std::string(kWarningsKey)] = std::move(table);
}

Result<PeriodTables> warning_tables_of_record(std::string_view record_json) {
  auto record = json::parse(record_json, nullptr, false);
  if (record.is_discarded() || !record.is_object()) return malformed("the record is not a JSON object");
  const std::string key(kWarningsKey);
  if (!record.contains(key)) return PeriodTables{};
  const json& table = record[key];
  if (!table.is_object() || !table.contains("byState") || !table["byState"].is_array() || !table.contains("total")) {
    return malformed("needs byState (an array) and total");
  }
  const json& rows = table["byState"];
  if (rows.size() > kMaxWarningStates) return malformed("more states than any exchange has");
  std::vector<std::string> states;
  for (const auto& row : rows) {
    if (!row.is_object() || !row.contains("state") || !row["state"].is_string()) {
      return malformed("a byState row without its state");
    }
    states.push_back(row["state"].get<std::string>());
  }
  if (std::set<std::string>(states.begin(), states.end()).size() != states.size()) {
    return malformed("a state listed twice");
  }
  PeriodTables tables = shape(states);
  for (const auto& row : rows) {
    const std::string state = row["state"].get<std::string>();
    const auto at = std::lower_bound(tables.states.begin(), tables.states.end(), state);
    const std::size_t first = static_cast<std::size_t>(at - tables.states.begin()) * kMeasures;
    if (auto read = read_counts(tables, first, row, "state " + state); !read) return std::move(read).take_error();
  }
  if (!tables.states.empty()) {
    if (auto read = read_counts(tables, tables.states.size() * kMeasures, table["total"], "total"); !read) {
      return std::move(read).take_error();
    }
  }
  return tables;
}

Result<ConsistencyCheck> check_warning_record(std::string_view record_json) {
  auto tables = warning_tables_of_record(record_json);
  if (!tables) return std::move(tables).take_error();
  const auto record = json::parse(record_json, nullptr, false);  // parsed above: an object
  if (tables->cells.empty()) return ConsistencyCheck{};
  if (!record.contains("threshold") || !record["threshold"].is_number_integer() ||
      record["threshold"].get<std::int64_t>() < 1) {
    return malformed("the record has no threshold (a positive integer) to check the counts against");
  }
  const std::int64_t threshold = record["threshold"].get<std::int64_t>();
  ConsistencyCheck check;
  for (const auto& cell : tables->cells) {
    if (cell.suppressed) {
      ++check.cells_suppressed;
      continue;
    }
    ++check.cells_shown;
    if (cell.value > 0 && cell.value < threshold) {
      check.failures.push_back("early warnings " + (cell.requested.empty() ? std::string("total") : cell.requested) +
                               " " + cell.measure + " shows " + std::to_string(cell.value) + ", below the threshold " +
                               std::to_string(threshold));
    }
  }
  for (const auto& constraint : tables->constraints) {
    bool all_shown = true;
    std::int64_t sum = 0;
    for (const auto& term : constraint.terms) {
      const Cell& cell = tables->cells[term.cell];
      if (cell.suppressed) all_shown = false;
      sum += term.coefficient * cell.value;
    }
    if (!all_shown) continue;
    ++check.relations_checked;
    const bool holds = constraint.relation == Relation::equal ? sum == 0 : sum <= 0;
    if (!holds)
      check.failures.push_back("early warnings: a published relation does not hold (sum " + std::to_string(sum) + ")");
  }
  return check;
}

}  // namespace fpx::disclosure
