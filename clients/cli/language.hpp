// The language a person reads fpx in: `--lang fr|en`, else the profile's
// `[user] language`, else the environment ($LANGUAGE, $LC_ALL,
// $LC_MESSAGES, $LANG). Shared by `fpx desk` and the case commands, so both
// pick the same language from the same settings.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "cli.hpp"
#include "fpx/result.hpp"
#include "profile.hpp"
#include "text.hpp"

namespace fpx::cli {

Result<text::Language> resolve_language(const Profile& profile, const std::string& flag);

// The language of an error report (report_failure), which must print even
// when the profile or the flag is what failed: `--lang` if it names a
// language, else the profile's if it loads, else the environment.
text::Language language_for_errors(const GlobalOptions& global);

// The language of `fpx --help` and of CLI11's usage errors, decided before
// the command line is parsed (CLI11 builds its help from the texts given
// when the options are added): `--lang` wherever it stands in argv, else the
// profile of `--profile` or $FPX_PROFILE, else the environment. A profile
// that fails to load, or a --lang we have no catalogue for, leaves the next
// source to decide: `--help` must always print.
text::Language language_before_parsing(int argc, const char* const* argv);

// "{1}", "{2}" in a translated text replaced by the values: the word order
// is the translation's, not the code's.
std::string fill_values(std::string_view text, const std::vector<std::string>& values);

}  // namespace fpx::cli
