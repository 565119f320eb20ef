// The words of `fpx report` (HTML page and terminal output) in the reader's
// language (issue 17): French or English from the shared catalogue
// (clients/desk/po/fr.po, msgid = the English text), dates and numbers
// written as that language writes them. Only what a person reads changes:
// the CSV files, --json, element ids, CSS classes and data-* attributes stay
// the same in every language (scripts and tests read them).
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

#include "text.hpp"

namespace fpx::cli::report {

// Marks an English text for the catalogue (xgettext --keyword=N_); translated where shown.
constexpr const char* N_(const char* english) { return english; }

class Wording {
 public:
  explicit Wording(text::Language language) : catalogue_(language) {}
  text::Language language() const { return catalogue_.language(); }
  std::string_view tag() const { return text::language_tag(language()); }

  // The text in the reader's language (English when the catalogue lacks it).
  std::string tr(std::string_view english) const { return std::string(catalogue_.tr(english)); }
  // The translated text with "{1}", "{2}" ... replaced by `values`, in one
  // pass: a value holding "{2}" (record text from the feed) stays as it is.
  std::string fill(std::string_view english, std::initializer_list<std::string> values) const;

  // A date or time from a record, as the language writes it: English keeps
  // ISO 8601 as published ("2026-12-07", "2026-12-07T10:00:05Z"), French
  // writes "7 décembre 2026", "7 décembre 2026 à 10:00:05 UTC",
  // "décembre 2026" for a month. A text that is not one of these shapes is
  // shown as it is (never dropped).
  std::string date(std::string_view iso) const;

  // A count for reading: French groups thousands with a narrow no-break
  // space ("12 345"), English as published ("12345").
  std::string count(long long value) const;
  // A figure with one decimal where it has one: "2.5" / "2,5".
  std::string decimal(double value) const;

  // Punctuation between a label and its value, and between items: French
  // puts a space before the colon and the semicolon (": " / " : ", "; " / " ; ").
  std::string_view colon() const { return language() == text::Language::fr ? " : " : ": "; }
  std::string_view semicolon() const { return language() == text::Language::fr ? " ; " : "; "; }

 private:
  text::Catalogue catalogue_;
};

}  // namespace fpx::cli::report
