#include "fpx/serial_range.hpp"

#include <cctype>

namespace fpx {

std::string normalise_serial(std::string_view serial) {
  std::string normal;
  for (char c : serial) {
    if (std::isalnum(static_cast<unsigned char>(c))) normal.push_back(static_cast<char>(std::toupper(c)));
  }
  return normal;
}

std::optional<SerialPlace> serial_place_of(std::string_view normalised) {
  std::size_t digits = 0;
  while (digits < normalised.size() &&
         std::isdigit(static_cast<unsigned char>(normalised[normalised.size() - 1 - digits]))) {
    ++digits;
  }
  if (digits == 0 || digits > kMaxSerialRangeDigits) return std::nullopt;
  const std::string_view prefix = normalised.substr(0, normalised.size() - digits);
  std::uint64_t number = 0;
  for (char c : normalised.substr(prefix.size())) number = number * 10 + static_cast<std::uint64_t>(c - '0');
  return SerialPlace{std::string(prefix) + "#" + std::to_string(digits), number};
}

Result<SerialSpan> parse_serial_range(std::string_view from, std::string_view to) {
  const std::string low = normalise_serial(from);
  const std::string high = normalise_serial(to);
  auto refuse = [&](const std::string& why) -> Result<SerialSpan> {
    return make_error(ErrorCode::schema_violation, "serial range \"" + std::string(from) + "\" to \"" +
                                                       std::string(to) + "\" " + why);
  };
  if (low.size() < kMinWatchedSerialLength || high.size() < kMinWatchedSerialLength) {
    return refuse("is too short to watch: each end needs at least " + std::to_string(kMinWatchedSerialLength) +
                  " letters or digits; list such firearms one by one");
  }
  auto first = serial_place_of(low);
  auto last = serial_place_of(high);
  if (!first || !last) {
    return refuse("must end in digits at both ends (1 to " + std::to_string(kMaxSerialRangeDigits) +
                  " of them), e.g. \"AK-1000\" to \"AK-1999\"");
  }
  if (first->key != last->key) {
    return refuse("must have the same prefix and the same number of digits at both ends (e.g. \"AK-0100\" to "
                  "\"AK-1999\", not \"AK-100\"); split it where the number of digits changes");
  }
  if (first->number > last->number) {
    return refuse("is inverted: \"from\" must not be above \"to\"; swap them");
  }
  SerialSpan span{first->key, first->number, last->number};
  if (span.width() > kMaxSerialRangeWidth) {
    return refuse("covers " + std::to_string(span.width()) + " serials, more than the " +
                  std::to_string(kMaxSerialRangeWidth) + " one range may; split it into several ranges (and alerts)");
  }
  return span;
}

}  // namespace fpx
