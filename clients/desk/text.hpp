// Texts for people in French and English (GNU gettext catalogues, compiled
// into the binary at build time: clients/desk/po/*.po, msgid = the English
// text). Built as its own library (fpx_text) so that the fpx command line can
// join the same catalogue: one domain, one set of terms (demande de traçage,
// point focal national, accusé de réception).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace fpx::text {

enum class Language { en, fr };

// "fr", "FR", "fr_SN.UTF-8", "fr-SN", "en_GB" -> the language; nullopt for
// one we have no catalogue for (or an empty text).
std::optional<Language> parse_language(std::string_view tag);
std::string_view language_tag(Language language);  // "fr", "en"

// The first of $LANGUAGE (its first entry), $LC_ALL, $LC_MESSAGES, $LANG
// naming a language we have; English otherwise. Works with no locale
// generated: nothing here calls setlocale().
Language language_from_environment();

// Looks texts up in the compiled catalogue of one language. A text missing
// from the catalogue is shown in English (never an empty string).
class Catalogue {
 public:
  explicit Catalogue(Language language) : language_(language) {}
  Language language() const { return language_; }
  std::string_view tr(std::string_view english) const;

 private:
  Language language_;
};

// How many texts the French catalogue holds (tests: it was compiled in).
std::size_t french_entry_count();

}  // namespace fpx::text
