// Public process statistics (DOMAIN.md "Public oversight feed") and the
// commitments that let observers recompute them. The broker tallies its
// lifecycle rows with these functions; an observer tallies the facts the
// broker reveals after the embargo with the same ones, and the two must agree
// on every published cell.
//
// Definitions, fixed here so both ends count alike:
// - one "tracing" is one requested state's handling of one request (a
//   lifecycle row), counted in the period its request was submitted;
// - acknowledgement and response times are whole hours since the request,
//   rounded down; median and 90th percentile are nearest-rank (the value at
//   rank ceil(p * n / 100) of the sorted list), so always an observed value;
// - a count from 1 to threshold - 1 is suppressed (shown as nothing); so are
//   percentiles over fewer than threshold values, and a whole pair of states
//   with fewer than threshold requests. Outcomes add up to "answered": while
//   the suppressed ones are a single cell or total under the threshold, the
//   smallest shown outcome is suppressed too.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fpx/crypto.hpp"
#include "fpx/ids.hpp"
#include "fpx/result.hpp"

namespace fpx::stats {

inline constexpr std::int64_t kDefaultSuppressionThreshold = 3;
inline constexpr std::int64_t kHourMs = 3600LL * 1000;

// One requested state's handling of one tracing request, as the statistics
// see it: never content, only the steps and when they happened.
struct TracingFacts {
  std::string requester;  // country codes
  std::string requested;
  std::optional<std::int64_t> acknowledged_hours;
  bool acknowledged_within_clock = false;
  std::optional<std::int64_t> answered_hours;
  std::string outcome;  // of the answer in force
  std::vector<std::string> refusal_grounds;
};

// Raw counts of one pair of states in one period, before suppression.
struct PairTally {
  std::int64_t requests = 0;
  std::int64_t acknowledged = 0;
  std::int64_t acknowledged_within_clock = 0;
  std::int64_t answered = 0;
  std::vector<std::int64_t> acknowledged_hours;  // one per acknowledged tracing
  std::vector<std::int64_t> answered_hours;      // one per answered tracing
  std::map<std::string, std::int64_t> outcomes;
  std::map<std::string, std::int64_t> refusal_grounds;
};

using PairKey = std::pair<std::string, std::string>;  // requester, requested
std::map<PairKey, PairTally> tally(std::span<const TracingFacts> facts);

struct Percentiles {
  std::optional<std::int64_t> median;
  std::optional<std::int64_t> p90;
};

// What is published of one pair: nullopt where suppressed.
struct PublishedPair {
  std::string requester;
  std::string requested;
  bool suppressed = false;  // fewer requests than the threshold: nothing else is shown
  std::optional<std::int64_t> requests;
  std::optional<std::int64_t> acknowledged;
  std::optional<std::int64_t> acknowledged_within_clock;
  std::optional<std::int64_t> answered;
  Percentiles acknowledged_hours;
  Percentiles answered_hours;
  std::map<std::string, std::optional<std::int64_t>> outcomes;
  std::map<std::string, std::optional<std::int64_t>> refusal_grounds;
};

PublishedPair publishable(const PairKey& pair, const PairTally& counts, std::int64_t threshold);

// Nearest-rank percentile (1..100) of a non-empty list; nullopt when empty.
std::optional<std::int64_t> nearest_rank(std::vector<std::int64_t> values, int percent);

// --- commitments -----------------------------------------------------------
// A transparency-log leaf commits to one or more parts, each SHA-256(salt ||
// metadata) with its own random salt, so that one part (a fact of a
// published cell) can be revealed while the others stay sealed. The leaf
// data is the part hash itself for a single part, else SHA-256 of a domain
// label and the part hashes in order.
inline constexpr std::string_view kLeafPartsLabel{"fpx/v1/leaf-parts\0", 18};
Sha256Digest commitment_part_hash(ByteView salt, std::string_view metadata);
Bytes leaf_data_of_parts(std::span<const Sha256Digest> part_hashes);

// The fact kinds a leaf part can state about one tracing; each counts in
// exactly one published cell (DOMAIN.md: suppressed cells stay sealed).
inline constexpr std::string_view kFactRequest = "request";
inline constexpr std::string_view kFactAcknowledged = "acknowledged";
inline constexpr std::string_view kFactAcknowledgedWithinClock = "acknowledgedWithinClock";
inline constexpr std::string_view kFactAnswered = "answered";
inline constexpr std::string_view kFactOutcome = "outcome";
inline constexpr std::string_view kFactRefusalGround = "refusalGround";

// Counts one revealed fact into its pair's tally: `hours` for acknowledged
// and answered, `value` for an outcome or a ground. invalid_argument for an
// unknown kind or a missing value.
Status add_revealed_fact(PairTally& tally, std::string_view fact, std::optional<std::int64_t> hours,
                         std::string_view value);

}  // namespace fpx::stats
