#include "report_text.hpp"

#include <array>
#include <cmath>
#include <cstdio>

namespace fpx::cli::report {

namespace {

constexpr std::array<const char*, 12> kFrenchMonths = {"janvier", "février", "mars",      "avril",   "mai",      "juin",
                                                       "juillet", "août",    "septembre", "octobre", "novembre", "décembre"};

bool digits(std::string_view text) {
  if (text.empty()) return false;
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

int to_int(std::string_view text) {
  int value = 0;
  for (const char c : text) value = value * 10 + (c - '0');
  return value;
}

}  // namespace

std::string Wording::fill(std::string_view english, std::initializer_list<std::string> values) const {
  const std::string pattern = tr(english);
  std::string out;
  out.reserve(pattern.size());
  for (std::size_t at = 0; at < pattern.size();) {
    if (pattern[at] == '{') {
      const auto end = pattern.find('}', at);
      if (end != std::string::npos && end > at + 1 && digits(std::string_view(pattern).substr(at + 1, end - at - 1))) {
        const auto index = static_cast<std::size_t>(to_int(std::string_view(pattern).substr(at + 1, end - at - 1)));
        if (index >= 1 && index <= values.size()) {
          out.append(*(values.begin() + (index - 1)));
          at = end + 1;
          continue;
        }
      }
    }
    out.push_back(pattern[at]);
    ++at;
  }
  return out;
}

std::string Wording::date(std::string_view iso) const {
  if (language() == text::Language::en) return std::string(iso);
  // YYYY-MM, YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ (what the feed publishes).
  if (iso.size() < 7 || !digits(iso.substr(0, 4)) || iso[4] != '-' || !digits(iso.substr(5, 2))) {
    return std::string(iso);
  }
  const int month = to_int(iso.substr(5, 2));
  if (month < 1 || month > 12) return std::string(iso);
  const std::string year(iso.substr(0, 4));
  const std::string month_name = kFrenchMonths[static_cast<std::size_t>(month - 1)];
  if (iso.size() == 7) return month_name + " " + year;
  if (iso.size() < 10 || iso[7] != '-' || !digits(iso.substr(8, 2))) return std::string(iso);
  const int day = to_int(iso.substr(8, 2));
  if (day < 1 || day > 31) return std::string(iso);
  std::string out = (day == 1 ? std::string("1er") : std::to_string(day)) + " " + month_name + " " + year;
  if (iso.size() == 10) return out;
  // A time of day: midnight is the day itself, anything else is written out.
  if (iso.size() == 20 && iso[10] == 'T' && iso[19] == 'Z') {
    const std::string_view time = iso.substr(11, 8);
    if (time == "00:00:00") return out;
    return out + " à " + std::string(time) + " UTC";
  }
  return std::string(iso);
}

std::string Wording::count(long long value) const {
  std::string digits_text = std::to_string(value < 0 ? -value : value);
  if (language() == text::Language::fr && digits_text.size() > 4) {
    // U+202F NARROW NO-BREAK SPACE, the French thousands separator.
    for (auto at = static_cast<long long>(digits_text.size()) - 3; at > 0; at -= 3) {
      digits_text.insert(static_cast<std::size_t>(at), "\u202f");
    }
  }
  return (value < 0 ? "-" : "") + digits_text;
}

std::string Wording::decimal(double value) const {
  char text[32];
  if (std::isfinite(value) && std::floor(value) == value && std::fabs(value) < 1e15) {
    return count(static_cast<long long>(value));
  }
  std::snprintf(text, sizeof text, "%.1f", value);
  std::string out = text;
  if (language() == text::Language::fr) {
    if (auto point = out.find('.'); point != std::string::npos) out[point] = ',';
  }
  return out;
}

}  // namespace fpx::cli::report
