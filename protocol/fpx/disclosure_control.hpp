// Disclosure control of the public process statistics (docs/PROTOCOL.md
// "Statistics: disclosure control"). One period of the grid gives one set of
// linked tables: per pair of states, per requesting state, per requested
// state, per region of the requested state, and the total, each over the
// same measures. The tables, the linear relations an observer knows hold
// between their cells, primary suppression and the check an observer runs
// on a published record live here, so the broker and the clients count
// alike; the broker's secondary suppression (an LP audit) is in
// broker/secondary_suppression.cpp.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "fpx/process_statistics.hpp"
#include "fpx/result.hpp"

namespace fpx::disclosure {

// Named in every statistics record, so a reader knows how to read it.
inline constexpr std::string_view kMethod = "cell-suppression/v1";
// "answeredWithin30Days": durations are published as counts in a band,
// never as a mean or percentile of a small group (one outlier is one request).
inline constexpr std::int64_t kAnsweredBandHours = 30 * 24;
// The indicator in the spirit of SDG 16.4.2 (docs/PROTOCOL.md "The
// indicator"): tracings whose final answer established the firearm's
// illicit origin or context, the numerator; `requests` is its denominator
// (every request names its firearm's recovery as seized, found or
// surrendered). A record written before the measure existed lacks it: read
// as unknown (suppressed), never as an error.
inline constexpr std::string_view kOriginEstablished = "originEstablished";
// The final outcomes that establish it: where the firearm left legal
// control, or who last held it legally. (A partial chain does not.)
bool establishes_origin(std::string_view outcome);

// The measures of every table, in publication order. Outcomes and grounds
// are the full closed lists, zeros included, so that a category's presence
// says nothing.
const std::vector<std::string>& measures();

enum class Table { pair, requester, requested, region, total };
std::string_view table_name(Table table);  // the record's key: "pairs", "byRequester", ...

struct Cell {
  Table table = Table::pair;
  std::string requester;  // "" where the table sums over it
  std::string requested;
  std::string region;
  std::string measure;
  std::int64_t value = 0;
  bool suppressed = false;
  // Already published (a period's cell linked into its year's audit): its
  // suppression stands as published; only the other cells may be hidden
  // to protect it.
  bool fixed = false;
};

// sum(coefficient * cell) == 0 (equal) or <= 0 (at_most).
enum class Relation { equal, at_most };
struct Term {
  std::size_t cell = 0;
  int coefficient = 0;
};
struct Constraint {
  std::vector<Term> terms;
  Relation relation = Relation::equal;
};

struct PeriodTables {
  std::vector<std::string> states;  // every state in the period's tracings, sorted
  std::map<std::string, std::vector<std::string>> regions;  // region -> its member states here
  std::vector<Cell> cells;
  // Every linear relation an observer knows between the cells: each
  // marginal is the sum of its pairs, outcomes add up to "answered",
  // "within the clock" is at most its whole, a refused or restricted answer
  // names one to three grounds.
  std::vector<Constraint> constraints;
  // Index of a cell by its table, dimension and measure.
  std::optional<std::size_t> find(Table table, std::string_view key_a, std::string_view key_b,
                                   std::string_view measure) const;
};

// The tables of one period's tracings. `regions`: region -> member states
// (the broker's [regions]); only regions with a member in the period, and
// not every state of it (that row would be the total), appear.
PeriodTables build_tables(std::span<const stats::TracingFacts> facts,
                          const std::map<std::string, std::vector<std::string>>& regions);

// Primary suppression: every count from 1 to threshold - 1. Zeros stand,
// and so do fixed cells (already published).
void suppress_primary(PeriodTables& tables, std::int64_t threshold);

// The year's tables linked to the period tables they sum (docs/PROTOCOL.md
// "Year tables"), for one audit of everything a reader can combine: the
// year's cells first (in `year`'s layout, so the first year.cells.size()
// cells of the result are the year's), then each period's cells, fixed as
// published (values: the true counts; suppressed: as published), with each
// table's own relations, and one relation per pair cell of the year: the
// sum of that pair's cells over the periods (a period without one of the
// states has none: zero). Every other cell of the year follows from its
// pairs by the year's own relations, and so for the periods.
PeriodTables link_year(const PeriodTables& year, const std::vector<PeriodTables>& periods);

// Writes the tables into a statistics record as docs/PROTOCOL.md gives
// them: "states", "regions", "measures", then one row object per row of
// "pairs", "byRequester", "byRequested", "byRegion" and "total", each with
// its "counts" by measure, null where suppressed.
void write_tables(nlohmann::json& record, const PeriodTables& tables);

// Rebuilds the tables of a published statistics record (the JSON object of
// the "statistics" kind, as in docs/PROTOCOL.md): values of suppressed cells
// are 0 and `suppressed` is set. invalid_argument when the record is not in
// this method's shape.
Result<PeriodTables> tables_of_record(std::string_view record_json);

// What an observer checks of one record without any microdata: every shown
// count is a non-negative integer outside 1..threshold-1, and every relation
// whose cells are all shown holds exactly. Empty: consistent.
struct ConsistencyCheck {
  std::vector<std::string> failures;
  std::size_t cells_shown = 0;
  std::size_t cells_suppressed = 0;
  std::size_t relations_checked = 0;  // relations with every cell shown
};
Result<ConsistencyCheck> check_record(std::string_view record_json);

std::string describe(const Cell& cell);  // "SN->NE requests", "total outcome.refused"

}  // namespace fpx::disclosure
