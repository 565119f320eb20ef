// The words of `fpx report` in French and English (issue 17): dates and
// numbers as each language writes them, placeholders filled in one pass, and
// the report's texts found in the compiled French catalogue.
#include <catch2/catch.hpp>

#include "report_text.hpp"

using fpx::cli::report::Wording;
using fpx::text::Language;

TEST_CASE("French report dates read as French writes them and English keeps ISO 8601") {
  const Wording french(Language::fr);
  CHECK(french.date("2026-12-07") == "7 décembre 2026");
  CHECK(french.date("2026-02-01") == "1er février 2026");
  CHECK(french.date("2026-12-07T00:00:00Z") == "7 décembre 2026");
  CHECK(french.date("2026-08-15T14:03:20Z") == "15 août 2026 à 14:03:20 UTC");
  CHECK(french.date("2026-11") == "novembre 2026");
  // Anything else is shown as published, never dropped or misread.
  CHECK(french.date("2026-13-01") == "2026-13-01");
  CHECK(french.date("yesterday") == "yesterday");
  CHECK(french.date("") == "");
  CHECK(french.date("2026-12-07T14:03") == "2026-12-07T14:03");
  const Wording english(Language::en);
  CHECK(english.date("2026-12-07") == "2026-12-07");
  CHECK(english.date("2026-08-15T14:03:20Z") == "2026-08-15T14:03:20Z");
}

TEST_CASE("French report numbers group thousands and use a decimal comma and a space before colons") {
  const Wording french(Language::fr);
  CHECK(french.count(412) == "412");
  CHECK(french.count(1234) == "1234");  // four digits stay together, as French typography allows
  CHECK(french.count(12345) == "12\u202f345");
  CHECK(french.count(1234567) == "1\u202f234\u202f567");
  CHECK(french.decimal(2.5) == "2,5");
  CHECK(french.decimal(72) == "72");
  CHECK(french.colon() == " : ");
  CHECK(french.semicolon() == " ; ");
  const Wording english(Language::en);
  CHECK(english.count(12345) == "12345");
  CHECK(english.decimal(2.5) == "2.5");
  CHECK(english.colon() == ": ");
}

TEST_CASE("A report text is filled in one pass so a value from the feed holding a placeholder stays as it is") {
  const Wording french(Language::fr);
  // A state's public text is the feed's, not ours: "{2}" in it is text.
  CHECK(french.fill("Cancelled by {1} on {2}", {"BF {2} {1}", "2026-12-07"}) ==
        "Annulée par BF {2} {1} le 2026-12-07");
  CHECK(french.fill("to {1}", {"NE"}) == "vers NE");
  CHECK(french.fill("{1} of {2} ({3} %)", {"4", "5"}) == "4 sur 5 ({3} %)");  // a missing value: the marker stays
  const Wording english(Language::en);
  CHECK(english.fill("{1} of {2} ({3} %)", {"4", "5", "80"}) == "4 of 5 (80 %)");
}

TEST_CASE("The report's headings and suppressed-cell notes are in the compiled French catalogue") {
  const Wording french(Language::fr);
  CHECK(french.tr("FPX public oversight report") == "Rapport public de suivi FPX");
  CHECK(french.fill("suppressed: fewer than {1} requests", {"3"}) == "masquée : moins de 3 demandes");
  CHECK(french.tr("requests") == "demandes de traçage reçues");
  CHECK(french.tr("answered within the clock") == "réponses dans les délais");
  CHECK(french.tr("country") == "pays");
  CHECK(french.tr("period") == "période");
  // A text the catalogue lacks is shown in English, never empty.
  CHECK(french.tr("a text no catalogue holds") == "a text no catalogue holds");
  CHECK(Wording(Language::en).tr("requests") == "requests");
}
