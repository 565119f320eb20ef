// What an observer checks of the broker's public statistics without any
// microdata (DOMAIN.md "Public oversight feed", docs/PROTOCOL.md
// "Statistics: disclosure control"): every record is a leaf of the log
// (checked with the rest of the feed), and within a record every shown
// count keeps the threshold and every relation between the tables whose
// cells are all shown holds exactly (marginals are the sums of their pairs,
// outcomes add up to "answered", parts are at most their whole).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "fpx/result.hpp"

namespace fpx::client {

struct StatisticsCheck {
  std::vector<std::string> failures;  // empty: the record is consistent
  std::size_t cells_shown = 0;
  std::size_t cells_suppressed = 0;
  std::size_t relations_checked = 0;  // relations whose every cell is shown
};

// `statistics` is the signed text of a statistics record, decoded first
// through the feed's one codec (records::decode_statistics_record): its
// refusals as they are (malformed or too_large naming the record and field,
// malformed for a record of another kind, unsupported_version for a
// statistics record of another method); invalid_argument for tables the
// consistency check cannot lay out.
Result<StatisticsCheck> check_published_statistics(std::string_view statistics);

}  // namespace fpx::client
