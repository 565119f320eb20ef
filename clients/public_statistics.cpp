#include "fpx/public_statistics.hpp"

#include <map>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "fpx/process_statistics.hpp"
#include "fpx/transparency_log.hpp"

namespace fpx::client {

namespace {

using nlohmann::json;

Error malformed(std::string what) {
  return make_error(ErrorCode::invalid_argument, std::move(what));
}

std::optional<std::int64_t> count_of(const json& value) {
  if (value.is_number_integer()) return value.get<std::int64_t>();
  return std::nullopt;  // null: suppressed
}

std::string pair_name(const stats::PairKey& pair) { return pair.first + "->" + pair.second; }

class Recount {
 public:
  Recount(RevealCheck& check, std::int64_t threshold) : check_(check), threshold_(threshold) {}

  // One published number against its recount; nothing to compare when suppressed.
  void compare(const std::string& cell, const json& published, std::optional<std::int64_t> recounted) {
    auto shown = count_of(published);
    if (!shown) {
      if (!published.is_null()) check_.failures.push_back(cell + " is neither a count nor suppressed (null)");
      return;
    }
    ++check_.cells_checked;
    if (*shown > 0 && *shown < threshold_ && cell.find("Hours") == std::string::npos) {
      check_.failures.push_back(cell + " shows " + std::to_string(*shown) + ", under the threshold of " +
                                std::to_string(threshold_) + " it should have been suppressed");
    }
    if (!recounted || *recounted != *shown) {
      check_.failures.push_back(cell + ": published " + std::to_string(*shown) + ", revealed facts give " +
                                (recounted ? std::to_string(*recounted) : std::string("nothing")));
    }
  }

  // A named family (outcomes, grounds): every published count, and no
  // revealed fact outside a published cell.
  void compare_family(const std::string& prefix, const json& published,
                      const std::map<std::string, std::int64_t>& recounted) {
    if (!published.is_object()) {
      check_.failures.push_back(prefix + " is missing from the statistics record");
      return;
    }
    for (const auto& [name, value] : published.items()) {
      auto found = recounted.find(name);
      compare(prefix + "." + name, value, found == recounted.end() ? 0 : found->second);
    }
    for (const auto& [name, count] : recounted) {
      if (!published.contains(name) || published[name].is_null()) {
        check_.failures.push_back(prefix + "." + name + " is suppressed or absent, yet " + std::to_string(count) +
                                  " of its facts were revealed");
      }
    }
  }

 private:
  RevealCheck& check_;
  std::int64_t threshold_;
};

// One revealed fact: its commitment, its leaf, and its count in `tally`.
// The days a period's requests can fall on: from its start's day, up to its
// end's day (excluded when the period ends at midnight).
struct PeriodDays {
  std::string first;
  std::string end;
  bool end_included = false;
  bool holds(const std::string& day) const { return day >= first && (day < end || (end_included && day == end)); }
};

PeriodDays period_days(const json& record) {
  const std::string start = record.value("periodStart", "");
  const std::string end = record.value("periodEnd", "");
  return {start.substr(0, 10), end.substr(0, 10), end.size() < 11 || end.substr(10) != "T00:00:00Z"};
}

Status take_fact(const json& fact, const stats::PairKey& pair, const PeriodDays& days, stats::PairTally& tally,
                 RevealCheck& check, std::set<std::pair<std::uint64_t, std::uint64_t>>& seen,
                 std::map<std::uint64_t, Sha256Digest>& leaves) {
  if (!fact.is_object() || !fact.contains("leafIndex") || !fact["leafIndex"].is_number_unsigned() ||
      !fact.contains("part") || !fact["part"].is_number_unsigned() || !fact.contains("salt") ||
      !fact["salt"].is_string() || !fact.contains("metadata") || !fact["metadata"].is_string() ||
      !fact.contains("partHashes") || !fact["partHashes"].is_array()) {
    return malformed("a revealed fact lacks leafIndex, part, salt, metadata or partHashes");
  }
  const auto leaf_index = fact["leafIndex"].get<std::uint64_t>();
  const auto part = fact["part"].get<std::uint64_t>();
  const std::string where = "leaf " + std::to_string(leaf_index) + " part " + std::to_string(part);
  if (!seen.insert({leaf_index, part}).second) {
    check.failures.push_back(where + " is revealed twice");
    return {};
  }
  auto salt = from_hex(fact["salt"].get<std::string>());
  std::vector<Sha256Digest> part_hashes;
  for (const auto& hex : fact["partHashes"]) {
    auto bytes = hex.is_string() ? from_hex(hex.get<std::string>()) : std::nullopt;
    if (!bytes || bytes->size() != sizeof(Sha256Digest)) return malformed(where + ": a part hash is not 32 hex bytes");
    Sha256Digest digest{};
    std::copy(bytes->begin(), bytes->end(), digest.begin());
    part_hashes.push_back(digest);
  }
  if (!salt || part >= part_hashes.size()) return malformed(where + ": bad salt or part index");
  const std::string metadata = fact["metadata"].get<std::string>();
  if (stats::commitment_part_hash(*salt, metadata) != part_hashes[part]) {
    check.failures.push_back(where + ": salt and metadata do not match the part's commitment");
    return {};
  }
  const Sha256Digest hash = leaf_hash(stats::leaf_data_of_parts(part_hashes));
  auto [known, inserted] = leaves.emplace(leaf_index, hash);
  if (!inserted && known->second != hash) {
    check.failures.push_back(where + ": its part hashes give another leaf than the leaf's other revealed parts");
    return {};
  }

  auto stated = json::parse(metadata, nullptr, false);
  if (stated.is_discarded() || !stated.is_object() || !stated.contains("fact") || !stated["fact"].is_string()) {
    check.failures.push_back(where + ": its metadata is not a fact");
    return {};
  }
  if (stated.value("requester", "") != pair.first || stated.value("requested", "") != pair.second) {
    check.failures.push_back(where + " is about " + stated.value("requester", "?") + "->" +
                             stated.value("requested", "?") + ", not the pair it is revealed for");
    return {};
  }
  if (!days.holds(stated.value("requestDay", ""))) {
    check.failures.push_back(where + " is about a request of " + stated.value("requestDay", "?") +
                             ", outside the period");
    return {};
  }
  std::optional<std::int64_t> hours;
  if (stated.contains("hours") && stated["hours"].is_number_integer()) hours = stated["hours"].get<std::int64_t>();
  std::string value = stated.value("outcome", stated.value("ground", ""));
  if (auto counted = stats::add_revealed_fact(tally, stated["fact"].get<std::string>(), hours, value); !counted) {
    check.failures.push_back(where + ": " + counted.error().message);
    return {};
  }
  ++check.facts;
  return {};
}

Result<RevealCheck> check_unguarded(std::string_view statistics, std::uint64_t statistics_sequence,
                                    std::span<const std::string> reveals) {
  auto published = json::parse(statistics, nullptr, false);
  if (published.is_discarded() || !published.is_object() || published.value("kind", "") != "statistics" ||
      !published.contains("pairs") || !published["pairs"].is_array()) {
    return malformed("not a statistics record");
  }
  RevealCheck check;
  if (!published.value("final", false)) {
    check.failures.push_back("statistics record " + std::to_string(statistics_sequence) +
                             " is not final: only final figures are revealed");
  }

  std::map<stats::PairKey, stats::PairTally> tallies;
  std::map<stats::PairKey, std::set<std::uint64_t>> chunks_seen;
  std::map<stats::PairKey, std::uint64_t> chunks_expected;
  std::set<std::pair<std::uint64_t, std::uint64_t>> seen;
  std::map<std::uint64_t, Sha256Digest> leaves;
  for (const auto& text : reveals) {
    auto reveal = json::parse(text, nullptr, false);
    if (reveal.is_discarded() || !reveal.is_object() || reveal.value("kind", "") != "reveal" ||
        !reveal.contains("facts") || !reveal["facts"].is_array()) {
      return malformed("not a reveal record");
    }
    if (reveal.value("statisticsSequence", std::uint64_t{0}) != statistics_sequence) {
      return malformed("a reveal record of another statistics record was passed");
    }
    stats::PairKey pair{reveal.value("requester", ""), reveal.value("requested", "")};
    chunks_seen[pair].insert(reveal.value("chunk", std::uint64_t{0}));
    chunks_expected[pair] = reveal.value("chunks", std::uint64_t{0});
    for (const auto& fact : reveal["facts"]) {
      if (auto taken = take_fact(fact, pair, period_days(published), tallies[pair], check, seen, leaves); !taken) {
        return std::move(taken).take_error();
      }
    }
  }
  for (const auto& [index, hash] : leaves) check.leaves.push_back({index, hash});

  Recount recount(check, published.value("threshold", std::int64_t{1}));
  std::set<stats::PairKey> published_pairs;
  for (const auto& entry : published["pairs"]) {
    stats::PairKey pair{entry.value("requester", ""), entry.value("requested", "")};
    published_pairs.insert(pair);
    const std::string name = pair_name(pair);
    if (entry.value("suppressed", false)) {
      if (tallies.count(pair) != 0) check.failures.push_back(name + " is suppressed, yet facts of it were revealed");
      continue;
    }
    if (chunks_seen[pair].size() != chunks_expected[pair] || chunks_expected[pair] == 0) {
      check.failures.push_back(name + ": its reveal is missing or incomplete (" +
                               std::to_string(chunks_seen[pair].size()) + " of " +
                               std::to_string(chunks_expected[pair]) + " records)");
      continue;
    }
    const stats::PairTally& counts = tallies[pair];
    recount.compare(name + " requests", entry.value("requests", json()), counts.requests);
    recount.compare(name + " acknowledged", entry.value("acknowledged", json()), counts.acknowledged);
    recount.compare(name + " acknowledgedWithinClock", entry.value("acknowledgedWithinClock", json()),
                    counts.acknowledged_within_clock);
    recount.compare(name + " answered", entry.value("answered", json()), counts.answered);
    for (const auto& [field, hours] : {std::pair{"acknowledgementHours", &counts.acknowledged_hours},
                                       std::pair{"responseHours", &counts.answered_hours}}) {
      const json percentiles = entry.value(field, json::object());
      recount.compare(name + " " + field + ".median", percentiles.value("median", json()),
                      stats::nearest_rank(*hours, 50));
      recount.compare(name + " " + field + ".p90", percentiles.value("p90", json()), stats::nearest_rank(*hours, 90));
    }
    recount.compare_family(name + " outcomes", entry.value("outcomes", json()), counts.outcomes);
    recount.compare_family(name + " refusalGrounds", entry.value("refusalGrounds", json()), counts.refusal_grounds);
  }
  for (const auto& [pair, counts] : tallies) {
    if (published_pairs.count(pair) == 0) {
      check.failures.push_back(pair_name(pair) + " has revealed facts but no published statistics");
    }
  }
  return check;
}

}  // namespace

Result<RevealCheck> check_revealed_statistics(std::string_view statistics, std::uint64_t statistics_sequence,
                                              std::span<const std::string> reveals) {
  // A field of the wrong type in a signed record is the broker's fault, to
  // be reported like any other, never an exception out of the library.
  try {
    return check_unguarded(statistics, statistics_sequence, reveals);
  } catch (const nlohmann::json::exception& error) {
    return malformed(std::string("a statistics or reveal record has a field of the wrong type: ") + error.what());
  }
}

}  // namespace fpx::client
