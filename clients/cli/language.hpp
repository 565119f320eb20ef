// The language a person reads fpx in: `--lang fr|en`, else the profile's
// `[user] language`, else the environment ($LANGUAGE, $LC_ALL,
// $LC_MESSAGES, $LANG). Shared by `fpx desk` and the case commands, so both
// pick the same language from the same settings.
#pragma once

#include <string>

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

}  // namespace fpx::cli
