// Serial numbers as the stolen/lost registry compares them, and the serial
// ranges of a batch alert (FirearmBatch.serialRanges, PROTOCOL.md §8.4):
// one definition for the validator (protocol/) and the broker's watch list.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fpx/result.hpp"

namespace fpx {

// Digits a range's number part may have: 18 fit a signed 64-bit column in
// both stores (SQLite INTEGER, PostgreSQL BIGINT) with no overflow.
inline constexpr std::size_t kMaxSerialRangeDigits = 18;
// Serials one range may watch at most. A range is a standing question about
// every request naming one of its serials: as wide as the longest list of
// firearms an alert may describe (kMaxAlertFirearms), so a range watches
// nothing a listed batch could not. The broker's own bounds
// (limits.max_watched_serials_per_alert, ..._per_state) count a range by its
// width and are usually smaller.
inline constexpr std::uint64_t kMaxSerialRangeWidth = 100'000;
// Normalised serials shorter than this match too much to be watched.
inline constexpr std::size_t kMinWatchedSerialLength = 3;

// Serials are compared as marked but without case, spaces and dashes:
// "ak 4711-zg" and "AK4711ZG" are the same marking.
std::string normalise_serial(std::string_view serial);

// Where a normalised serial may fall in a range: its prefix (everything
// before the trailing digits) and the number its trailing digits spell,
// with their count ("AK1500": "AK", 1500, 4 digits). `key` names the
// prefix and the digit count together ("AK#4"): ranges are stored and
// looked up under it, and '#' never occurs in a normalised serial.
struct SerialPlace {
  std::string key;
  std::uint64_t number = 0;
};
// nullopt when the serial does not end in 1..kMaxSerialRangeDigits digits.
std::optional<SerialPlace> serial_place_of(std::string_view normalised);

// A parsed range: key as above, both ends included.
struct SerialSpan {
  std::string key;
  std::uint64_t low = 0;
  std::uint64_t high = 0;
  std::uint64_t width() const { return high - low + 1; }
};
// Parses "AK-1000" .. "AK-1999": both normalised to the same prefix and the
// same number of trailing digits, `from` not above `to`, the normalised
// ends at least kMinWatchedSerialLength long, the width at most
// kMaxSerialRangeWidth. schema_violation saying which rule failed otherwise.
Result<SerialSpan> parse_serial_range(std::string_view from, std::string_view to);

}  // namespace fpx
