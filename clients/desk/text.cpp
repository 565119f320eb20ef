#include "text.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <utility>

namespace fpx::text {

namespace {

struct Entry {
  std::string_view english;
  std::string_view translated;
};

// Generated at build time from po/fr.po (cmake/catalogue.cmake).
constexpr Entry kFrench[] = {
#include "catalogue_fr.inc"
};

std::string lower(std::string_view text) {
  std::string out;
  for (const char c : text) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::optional<Language> parse_language(std::string_view tag) {
  // The language part of a POSIX locale name or a BCP 47 tag.
  const auto end = tag.find_first_of("_-.@:");
  const std::string language = lower(tag.substr(0, end));
  if (language == "fr") return Language::fr;
  if (language == "en") return Language::en;
  return std::nullopt;
}

std::string_view language_tag(Language language) { return language == Language::fr ? "fr" : "en"; }

Language language_from_environment() {
  for (const char* name : {"LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"}) {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') continue;
    if (auto language = parse_language(value)) return *language;
    // gettext's rule: the first set variable decides, except LANGUAGE, a list.
    if (std::string_view(name) != "LANGUAGE") return Language::en;
  }
  return Language::en;
}

std::string_view Catalogue::tr(std::string_view english) const {
  if (language_ == Language::en) return english;
  for (const auto& entry : kFrench) {
    if (entry.english == english) return entry.translated.empty() ? english : entry.translated;
  }
  return english;
}

std::size_t french_entry_count() { return std::size(kFrench); }

}  // namespace fpx::text
