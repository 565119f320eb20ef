#include "fpx/disclosure_control.hpp"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

namespace fpx::disclosure {

namespace {

// The closed lists of schemas/messages.capnp as the lifecycle names them
// (broker/workflow.cpp), plus the acknowledgement's rejected_as_malformed.
// "delayed" is never a final outcome.
constexpr std::string_view kOutcomes[] = {"point_of_diversion_established",
                                          "last_legal_holder_identified",
                                          "partial_chain",
                                          "no_record",
                                          "not_made_or_imported_here",
                                          "records_too_old",
                                          "insufficient_identifiers",
                                          "restricted",
                                          "refused",
                                          "rejected_as_malformed"};
constexpr std::string_view kGrounds[] = {"ongoing_investigation", "confidentiality_law", "national_security"};
constexpr std::string_view kOutcomePrefix = "outcome.";
constexpr std::string_view kGroundPrefix = "refusalGround.";

// A record names at most this many states and regions: a broker's record
// (signed, but the operator is not trusted) cannot make a reader build a
// table of billions of cells. Above the world's ~200 states; the pair rows
// must be in the record too (parse_unguarded), which bounds the rest.
constexpr std::size_t kMaxStatesInRecord = 512;
constexpr std::size_t kMaxRegionsInRecord = 256;

std::vector<std::string> make_measures() {
  std::vector<std::string> names{"requests",
                                 "acknowledged",
                                 "acknowledgedWithinClock",
                                 "answered",
                                 "answeredWithinClock",
                                 "answeredWithin30Days",
                                 std::string(kOriginEstablished)};
  for (auto outcome : kOutcomes) names.push_back(std::string(kOutcomePrefix).append(outcome));
  for (auto ground : kGrounds) names.push_back(std::string(kGroundPrefix).append(ground));
  return names;
}

// Adds the cells of one table row for every measure.
void add_row(PeriodTables& tables, Table table, const std::string& requester, const std::string& requested,
             const std::string& region) {
  for (const auto& measure : measures()) {
    tables.cells.push_back({table, requester, requested, region, measure, 0, false});
  }
}

std::size_t index_of(const PeriodTables& tables, Table table, std::string_view a, std::string_view b,
                     std::string_view measure) {
  auto found = tables.find(table, a, b, measure);
  return *found;  // the shapes are built together with the cells: a miss is a bug
}

// The relations an observer knows: see PeriodTables::constraints.
void add_constraints(PeriodTables& tables) {
  auto& out = tables.constraints;
  // Marginals: each the sum of its pairs.
  for (const auto& measure : measures()) {
    for (const auto& requester : tables.states) {
      Constraint sum{{{index_of(tables, Table::requester, requester, "", measure), -1}}, Relation::equal};
      for (const auto& requested : tables.states) {
        if (requester != requested) sum.terms.push_back({index_of(tables, Table::pair, requester, requested, measure), 1});
      }
      out.push_back(std::move(sum));
    }
    for (const auto& requested : tables.states) {
      Constraint sum{{{index_of(tables, Table::requested, requested, "", measure), -1}}, Relation::equal};
      for (const auto& requester : tables.states) {
        if (requester != requested) sum.terms.push_back({index_of(tables, Table::pair, requester, requested, measure), 1});
      }
      out.push_back(std::move(sum));
    }
    for (const auto& [region, members] : tables.regions) {
      Constraint sum{{{index_of(tables, Table::region, region, "", measure), -1}}, Relation::equal};
      for (const auto& member : members) sum.terms.push_back({index_of(tables, Table::requested, member, "", measure), 1});
      out.push_back(std::move(sum));
    }
    Constraint by_requester{{{index_of(tables, Table::total, "", "", measure), -1}}, Relation::equal};
    Constraint by_requested = by_requester;
    for (const auto& state : tables.states) {
      by_requester.terms.push_back({index_of(tables, Table::requester, state, "", measure), 1});
      by_requested.terms.push_back({index_of(tables, Table::requested, state, "", measure), 1});
    }
    out.push_back(std::move(by_requester));
    out.push_back(std::move(by_requested));
  }
  // Between measures, in every row of every table.
  for (std::size_t first = 0; first < tables.cells.size(); first += measures().size()) {
    const Cell& row = tables.cells[first];
    auto cell = [&](std::string_view measure) {
      const std::string_view a = row.table == Table::pair || row.table == Table::requester ? row.requester
                                 : row.table == Table::region                              ? row.region
                                                                                           : row.requested;
      // Both arms string_view: `? row.requested : ""` would make a temporary
      // std::string that dies before the view is read.
      const std::string_view b = row.table == Table::pair ? std::string_view(row.requested) : std::string_view();
      return index_of(tables, row.table, a, b, measure);
    };
    auto at_most = [&](std::string_view part, std::string_view whole) {
      out.push_back({{{cell(part), 1}, {cell(whole), -1}}, Relation::at_most});
    };
    at_most("acknowledged", "requests");
    at_most("acknowledgedWithinClock", "acknowledged");
    at_most("answered", "requests");
    at_most("answered", "acknowledged");  // an answer acknowledges too (workflow.cpp)
    at_most("answeredWithinClock", "answered");
    at_most("answeredWithin30Days", "answered");
    Constraint outcomes{{{cell("answered"), -1}}, Relation::equal};
    for (auto outcome : kOutcomes) outcomes.terms.push_back({cell(std::string(kOutcomePrefix).append(outcome)), 1});
    out.push_back(std::move(outcomes));
    // The indicator's numerator is the sum of the outcomes that establish an origin.
    Constraint established{{{cell(kOriginEstablished), -1}}, Relation::equal};
    for (auto outcome : kOutcomes) {
      if (establishes_origin(outcome)) established.terms.push_back({cell(std::string(kOutcomePrefix).append(outcome)), 1});
    }
    out.push_back(std::move(established));
    // A refused or restricted answer names one to three distinct grounds:
    // refusing <= sum(grounds) <= 3 * refusing, and each ground <= refusing.
    const std::size_t refused = cell("outcome.refused");
    const std::size_t restricted = cell("outcome.restricted");
    Constraint at_least_one{{{refused, 1}, {restricted, 1}}, Relation::at_most};
    Constraint at_most_three{{{refused, -3}, {restricted, -3}}, Relation::at_most};
    for (auto ground : kGrounds) {
      const std::size_t named = cell(std::string(kGroundPrefix).append(ground));
      at_least_one.terms.push_back({named, -1});
      at_most_three.terms.push_back({named, 1});
      out.push_back({{{named, 1}, {refused, -1}, {restricted, -1}}, Relation::at_most});
    }
    out.push_back(std::move(at_least_one));
    out.push_back(std::move(at_most_three));
  }
}

// Lays out the rows of every table for `states` and `regions`, zeroed.
PeriodTables shape(std::vector<std::string> states, const std::map<std::string, std::vector<std::string>>& regions) {
  PeriodTables tables;
  std::sort(states.begin(), states.end());
  states.erase(std::unique(states.begin(), states.end()), states.end());
  tables.states = std::move(states);
  for (const auto& [region, members] : regions) {
    std::vector<std::string> present;
    for (const auto& member : members) {
      if (std::binary_search(tables.states.begin(), tables.states.end(), member) &&
          std::find(present.begin(), present.end(), member) == present.end()) {
        present.push_back(member);
      }
    }
    // A region holding every state of the period is the total again: its
    // row would only repeat it (and add a relation to protect).
    if (!present.empty() && present.size() < tables.states.size()) tables.regions[region] = std::move(present);
  }
  for (const auto& requester : tables.states) {
    for (const auto& requested : tables.states) {
      if (requester != requested) add_row(tables, Table::pair, requester, requested, "");
    }
  }
  for (const auto& state : tables.states) add_row(tables, Table::requester, state, "", "");
  for (const auto& state : tables.states) add_row(tables, Table::requested, "", state, "");
  for (const auto& [region, members] : tables.regions) add_row(tables, Table::region, "", "", region);
  add_row(tables, Table::total, "", "", "");
  add_constraints(tables);
  return tables;
}

}  // namespace

bool establishes_origin(std::string_view outcome) {
  return outcome == "point_of_diversion_established" || outcome == "last_legal_holder_identified";
}

const std::vector<std::string>& measures() {
  static const std::vector<std::string> names = make_measures();  // immutable once built
  return names;
}

std::string_view table_name(Table table) {
  switch (table) {
    case Table::pair: return "pairs";
    case Table::requester: return "byRequester";
    case Table::requested: return "byRequested";
    case Table::region: return "byRegion";
    case Table::total: return "total";
  }
  return "?";
}

std::optional<std::size_t> PeriodTables::find(Table table, std::string_view key_a, std::string_view key_b,
                                              std::string_view measure) const {
  // Rows are laid out in blocks of measures(): find the row, then the measure.
  const auto& names = measures();
  auto measure_at = std::find(names.begin(), names.end(), measure);
  if (measure_at == names.end()) return std::nullopt;
  for (std::size_t first = 0; first < cells.size(); first += names.size()) {
    const Cell& row = cells[first];
    if (row.table != table) continue;
    const bool match = table == Table::pair        ? row.requester == key_a && row.requested == key_b
                       : table == Table::requester ? row.requester == key_a
                       : table == Table::requested ? row.requested == key_a
                       : table == Table::region    ? row.region == key_a
                                                   : true;
    if (match) return first + static_cast<std::size_t>(measure_at - names.begin());
  }
  return std::nullopt;
}

PeriodTables build_tables(std::span<const stats::TracingFacts> facts,
                          const std::map<std::string, std::vector<std::string>>& regions) {
  std::vector<std::string> states;
  for (const auto& tracing : facts) {
    states.push_back(tracing.requester);
    states.push_back(tracing.requested);
  }
  PeriodTables tables = shape(std::move(states), regions);
  for (const auto& tracing : facts) {
    if (tracing.requester == tracing.requested) continue;  // a state never traces with itself
    std::vector<std::string> counted{"requests"};
    if (tracing.acknowledged_hours) {
      counted.emplace_back("acknowledged");
      if (tracing.acknowledged_within_clock) counted.emplace_back("acknowledgedWithinClock");
    }
    if (tracing.answered_hours) {
      counted.emplace_back("answered");
      if (tracing.answered_within_clock) counted.emplace_back("answeredWithinClock");
      if (*tracing.answered_hours < kAnsweredBandHours) counted.emplace_back("answeredWithin30Days");
      counted.push_back(std::string(kOutcomePrefix).append(tracing.outcome));
      if (establishes_origin(tracing.outcome)) counted.emplace_back(kOriginEstablished);
      std::set<std::string> grounds(tracing.refusal_grounds.begin(), tracing.refusal_grounds.end());
      for (const auto& ground : grounds) counted.push_back(std::string(kGroundPrefix).append(ground));
    }
    for (const auto& measure : counted) {
      auto bump = [&](Table table, std::string_view a, std::string_view b) {
        if (auto at = tables.find(table, a, b, measure)) ++tables.cells[*at].value;
      };
      bump(Table::pair, tracing.requester, tracing.requested);
      bump(Table::requester, tracing.requester, "");
      bump(Table::requested, tracing.requested, "");
      for (const auto& [region, members] : tables.regions) {
        if (std::find(members.begin(), members.end(), tracing.requested) != members.end()) {
          bump(Table::region, region, "");
        }
      }
      bump(Table::total, "", "");
    }
  }
  return tables;
}

void suppress_primary(PeriodTables& tables, std::int64_t threshold) {
  for (auto& cell : tables.cells) {
    if (!cell.fixed && cell.value > 0 && cell.value < threshold) cell.suppressed = true;
  }
}

PeriodTables link_year(const PeriodTables& year, const std::vector<PeriodTables>& periods) {
  PeriodTables linked = year;
  std::vector<std::size_t> offsets;
  for (const auto& period : periods) {
    const std::size_t offset = linked.cells.size();
    offsets.push_back(offset);
    for (Cell cell : period.cells) {
      cell.fixed = true;
      linked.cells.push_back(std::move(cell));
    }
    for (Constraint constraint : period.constraints) {
      for (auto& term : constraint.terms) term.cell += offset;
      linked.constraints.push_back(std::move(constraint));
    }
  }
  for (std::size_t i = 0; i < year.cells.size(); ++i) {
    const Cell& cell = year.cells[i];
    if (cell.table != Table::pair) continue;
    Constraint sum{{{i, -1}}, Relation::equal};
    for (std::size_t p = 0; p < periods.size(); ++p) {
      if (auto at = periods[p].find(Table::pair, cell.requester, cell.requested, cell.measure)) {
        sum.terms.push_back({offsets[p] + *at, 1});
      }
    }
    linked.constraints.push_back(std::move(sum));
  }
  return linked;
}

std::string describe(const Cell& cell) {
  switch (cell.table) {
    case Table::pair: return cell.requester + "->" + cell.requested + " " + cell.measure;
    case Table::requester: return "from " + cell.requester + " " + cell.measure;
    case Table::requested: return "to " + cell.requested + " " + cell.measure;
    case Table::region: return "region " + cell.region + " " + cell.measure;
    case Table::total: return "total " + cell.measure;
  }
  return cell.measure;
}

namespace {

nlohmann::json counts_json(const PeriodTables& tables, std::size_t first) {
  nlohmann::json counts = nlohmann::json::object();
  for (std::size_t i = 0; i < measures().size(); ++i) {
    const auto& cell = tables.cells[first + i];
    counts[cell.measure] = cell.suppressed ? nlohmann::json(nullptr) : nlohmann::json(cell.value);
  }
  return counts;
}

}  // namespace

void write_tables(nlohmann::json& record, const PeriodTables& tables) {
  record["states"] = tables.states;
  record["regions"] = nlohmann::json::object();
  for (const auto& [region, members] : tables.regions) record["regions"][region] = members;
  record["measures"] = measures();
  for (auto table : {Table::pair, Table::requester, Table::requested,
                     Table::region}) {
    record[std::string(table_name(table))] = nlohmann::json::array();
  }
  for (std::size_t first = 0; first < tables.cells.size(); first += measures().size()) {
    const auto& row = tables.cells[first];
    nlohmann::json entry = nlohmann::json::object();
    switch (row.table) {
      case Table::pair:
        entry["requester"] = row.requester;
        entry["requested"] = row.requested;
        break;
      case Table::requester: entry["requester"] = row.requester; break;
      case Table::requested: entry["requested"] = row.requested; break;
      case Table::region: entry["region"] = row.region; break;
      case Table::total: break;
    }
    entry["counts"] = counts_json(tables, first);
    if (row.table == Table::total) {
      record["total"] = std::move(entry);
    } else {
      record[std::string(table_name(row.table))].push_back(std::move(entry));
    }
  }
}


namespace {

using nlohmann::json;

Error malformed(std::string what) {
  return make_error(ErrorCode::invalid_argument, "statistics record: " + std::move(what));
}

// Reads one row's counts into the cells laid out for it.
Status read_counts(PeriodTables& tables, Table table, std::string_view a, std::string_view b, const json& row) {
  if (!row.is_object() || !row.contains("counts") || !row["counts"].is_object()) {
    return malformed(std::string(table_name(table)) + " row without counts");
  }
  const json& counts = row["counts"];
  for (const auto& measure : measures()) {
    auto at = tables.find(table, a, b, measure);
    if (!at) return malformed(std::string(table_name(table)) + " row of an unknown state or region");
    if (!counts.contains(measure)) {
      // Older than the measure: unknown to the reader, as a suppressed cell is.
      if (measure == kOriginEstablished) {
        tables.cells[*at].suppressed = true;
        continue;
      }
      return malformed(describe(tables.cells[*at]) + " is missing");
    }
    const json& value = counts[measure];
    if (value.is_null()) {
      tables.cells[*at].suppressed = true;
    } else if (value.is_number_integer() && value.get<std::int64_t>() >= 0) {
      tables.cells[*at].value = value.get<std::int64_t>();
    } else {
      return malformed(describe(tables.cells[*at]) + " is neither a count nor null");
    }
  }
  return {};
}

Result<PeriodTables> parse_unguarded(std::string_view record_json) {
  auto record = json::parse(record_json, nullptr, false);
  if (record.is_discarded() || !record.is_object()) return malformed("not a JSON object");
  if (record.value("method", "") != kMethod) {
    return malformed("method is not " + std::string(kMethod) + ": read it with an fpx of the same version");
  }
  if (!record.contains("states") || !record["states"].is_array() || record["states"].size() > kMaxStatesInRecord) {
    return malformed("states missing or too many");
  }
  std::vector<std::string> states;
  for (const auto& state : record["states"]) states.push_back(state.get<std::string>());
  std::map<std::string, std::vector<std::string>> regions;
  if (record.contains("regions")) {
    if (!record["regions"].is_object() || record["regions"].size() > kMaxRegionsInRecord) {
      return malformed("regions is not an object of member lists");
    }
    for (const auto& [region, members] : record["regions"].items()) {
      for (const auto& member : members) regions[region].push_back(member.get<std::string>());
    }
  }
  // The tables are laid out before their rows are read: make the record
  // carry every pair row first, so what is allocated is bounded by the
  // record's own size (a short record naming 500 states must not make a
  // reader build a quarter of a million rows).
  const std::size_t pair_rows = record.contains("pairs") && record["pairs"].is_array() ? record["pairs"].size() : 0;
  if (pair_rows != states.size() * (states.size() - (states.empty() ? 0 : 1))) {
    return malformed("pairs holds " + std::to_string(pair_rows) + " rows, not one per ordered pair of its " +
                     std::to_string(states.size()) + " states");
  }
  PeriodTables tables = shape(states, regions);
  if (tables.states.size() != states.size()) return malformed("a state is named twice");
  for (const auto& [region, members] : regions) {
    auto kept = tables.regions.find(region);
    if (kept == tables.regions.end() || kept->second.size() != members.size()) {
      return malformed("region " + region + " names a state twice or one outside the period");
    }
  }
  const auto rows = [&](std::string_view key) -> const json& {
    static const json empty = json::array();  // immutable
    return record.contains(key) && record[std::string(key)].is_array() ? record[std::string(key)] : empty;
  };
  std::size_t rows_read = 0;
  for (const auto& row : rows("pairs")) {
    if (auto read = read_counts(tables, Table::pair, row.value("requester", ""), row.value("requested", ""), row);
        !read) {
      return std::move(read).take_error();
    }
    ++rows_read;
  }
  for (const auto& row : rows("byRequester")) {
    if (auto read = read_counts(tables, Table::requester, row.value("requester", ""), "", row); !read) {
      return std::move(read).take_error();
    }
    ++rows_read;
  }
  for (const auto& row : rows("byRequested")) {
    if (auto read = read_counts(tables, Table::requested, row.value("requested", ""), "", row); !read) {
      return std::move(read).take_error();
    }
    ++rows_read;
  }
  for (const auto& row : rows("byRegion")) {
    if (auto read = read_counts(tables, Table::region, row.value("region", ""), "", row); !read) {
      return std::move(read).take_error();
    }
    ++rows_read;
  }
  if (!record.contains("total")) return malformed("total is missing");
  if (auto read = read_counts(tables, Table::total, "", "", record["total"]); !read) return std::move(read).take_error();
  ++rows_read;
  if (rows_read * measures().size() != tables.cells.size()) {
    return malformed("a table has a row twice or lacks one: " + std::to_string(rows_read) + " rows for " +
                     std::to_string(tables.cells.size() / measures().size()));
  }
  return tables;
}

}  // namespace

Result<PeriodTables> tables_of_record(std::string_view record_json) {
  // A field of the wrong type in a signed record is the broker's fault, to
  // be reported like any other, never an exception out of the library.
  try {
    return parse_unguarded(record_json);
  } catch (const json::exception& error) {
    return malformed(std::string("a field of the wrong type: ") + error.what());
  }
}

Result<ConsistencyCheck> check_record(std::string_view record_json) {
  auto tables = tables_of_record(record_json);
  if (!tables) return std::move(tables).take_error();
  const auto record = json::parse(record_json, nullptr, false);
  const json threshold_json = record.value("threshold", json());
  if (!threshold_json.is_number_integer() || threshold_json.get<std::int64_t>() < 1) {
    return malformed("threshold is not a positive integer");
  }
  const std::int64_t threshold = threshold_json.get<std::int64_t>();
  ConsistencyCheck check;
  for (const auto& cell : tables->cells) {
    if (cell.suppressed) {
      ++check.cells_suppressed;
      continue;
    }
    ++check.cells_shown;
    if (cell.value > 0 && cell.value < threshold) {
      check.failures.push_back(describe(cell) + " shows " + std::to_string(cell.value) + ", under the threshold of " +
                               std::to_string(threshold) + ": it should have been suppressed");
    }
  }
  for (const auto& constraint : tables->constraints) {
    std::int64_t sum = 0;
    bool all_shown = true;
    for (const auto& term : constraint.terms) {
      const Cell& cell = tables->cells[term.cell];
      all_shown = all_shown && !cell.suppressed;
      sum += term.coefficient * cell.value;
    }
    if (!all_shown) continue;
    ++check.relations_checked;
    const bool holds = constraint.relation == Relation::equal ? sum == 0 : sum <= 0;
    if (!holds) {
      std::string text;
      for (const auto& term : constraint.terms) {
        const Cell& cell = tables->cells[term.cell];
        text.append(text.empty() ? "" : ", ").append(describe(cell)).append("=").append(std::to_string(cell.value));
      }
      check.failures.push_back("the published cells break a relation they must keep (" +
                               std::string(constraint.relation == Relation::equal ? "a sum" : "a bound") + "): " +
                               text);
    }
  }
  return check;
}

}  // namespace fpx::disclosure
