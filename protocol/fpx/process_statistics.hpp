// Public process statistics (DOMAIN.md "Public oversight feed"): what one
// tracing contributes, and the commitments in the log to each fact about
// it. fpx/disclosure_control.hpp builds the published tables from these.
//
// Definitions, fixed here so both ends count alike:
// - one "tracing" is one requested state's handling of one request (a
//   lifecycle row), counted in the period its request was submitted;
// - acknowledgement and response times are whole hours since the request,
//   rounded down, and are published only as counts in bands (within the
//   clock, within 30 days), never as means or percentiles of small groups.
#pragma once

#include <cstdint>
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
  bool answered_within_clock = false;  // by the response clock's deadline
  std::string outcome;  // of the answer in force
  std::vector<std::string> refusal_grounds;
};

// One early warning of a cso (PROTOCOL.md §8.5), as the statistics see it:
// the warned state and whether its focal point acknowledged the warning by
// the clock's due time; never the content, never the cso.
struct WarningFacts {
  std::string country;
  bool acknowledged_within_clock = false;
};

// --- commitments -----------------------------------------------------------
// A transparency-log leaf commits to one or more parts, each SHA-256(salt ||
// metadata) with its own random salt, so that one part can be opened to
// the states party to it while the others stay sealed. Nothing is ever
// opened to the public (docs/PROTOCOL.md "Statistics: disclosure control"). The leaf
// data is the part hash itself for a single part, else SHA-256 of a domain
// label and the part hashes in order.
inline constexpr std::string_view kLeafPartsLabel{"fpx/v1/leaf-parts\0", 18};
Sha256Digest commitment_part_hash(ByteView salt, std::string_view metadata);
Bytes leaf_data_of_parts(std::span<const Sha256Digest> part_hashes);

// The fact kinds a leaf part can state about one tracing.
inline constexpr std::string_view kFactRequest = "request";
inline constexpr std::string_view kFactAcknowledged = "acknowledged";
inline constexpr std::string_view kFactAcknowledgedWithinClock = "acknowledgedWithinClock";
inline constexpr std::string_view kFactAnswered = "answered";
inline constexpr std::string_view kFactOutcome = "outcome";
inline constexpr std::string_view kFactRefusalGround = "refusalGround";

}  // namespace fpx::stats
