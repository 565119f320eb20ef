// The language a person reads fpx in: `--lang fr|en`, else the profile's
// `[user] language`, else the environment ($LANGUAGE, $LC_ALL,
// $LC_MESSAGES, $LANG). Shared by `fpx desk` and the case commands, so both
// pick the same language from the same settings.
#pragma once

#include <string>

#include "fpx/result.hpp"
#include "profile.hpp"
#include "text.hpp"

namespace fpx::cli {

Result<text::Language> resolve_language(const Profile& profile, const std::string& flag);

}  // namespace fpx::cli
