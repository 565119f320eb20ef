// Recomputing the broker's public statistics from the facts it reveals
// after the embargo (DOMAIN.md "Public oversight feed"): what an observer
// does to check the figures without trusting the exchange.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fpx/ids.hpp"
#include "fpx/result.hpp"

namespace fpx::client {

// A leaf a revealed fact is in: prove it with ObserverClient::inclusion_proof
// against a verified checkpoint, and the fact is in the log.
struct RevealedLeaf {
  std::uint64_t leaf_index = 0;
  Sha256Digest leaf_hash{};
};

struct RevealCheck {
  std::vector<std::string> failures;  // empty: every published cell recounts exactly
  std::vector<RevealedLeaf> leaves;   // each distinct leaf once
  std::size_t facts = 0;
  std::size_t cells_checked = 0;      // published numbers compared with their recount
};

// `statistics` is the signed text of a final statistics record (its feed
// sequence `statistics_sequence`); `reveals` the signed texts of every
// reveal record naming that sequence. Checks each fact against its part
// hash, rebuilds its leaf, recounts every published pair and compares each
// number it shows; a fact of a suppressed cell is a failure too (the reveal
// would undo the suppression). invalid_argument when a record is not what
// its kind says.
Result<RevealCheck> check_revealed_statistics(std::string_view statistics, std::uint64_t statistics_sequence,
                                              std::span<const std::string> reveals);

}  // namespace fpx::client
