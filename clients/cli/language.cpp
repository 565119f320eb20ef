#include "language.hpp"

#include <toml++/toml.h>

namespace fpx::cli {

Result<text::Language> resolve_language(const Profile& profile, const std::string& flag) {
  if (!flag.empty()) {
    if (auto language = text::parse_language(flag)) return *language;
    return make_error(ErrorCode::invalid_argument, "--lang '" + flag + "' is not available: use fr or en");
  }
  try {
    const auto table = toml::parse_file((profile.dir / kProfileFile).string());
    if (auto configured = table["user"]["language"].value<std::string>()) {
      if (auto language = text::parse_language(*configured)) return *language;
      return make_error(ErrorCode::invalid_argument,
                        "[user] language = \"" + *configured + "\" in " + (profile.dir / kProfileFile).string() +
                            " is not available: write fr or en");
    }
  } catch (const toml::parse_error&) {
    // load_profile already read this file; a failure here leaves the environment to decide.
  }
  return text::language_from_environment();
}

text::Language language_for_errors(const GlobalOptions& global) {
  if (auto language = text::parse_language(global.language)) return *language;
  if (auto profile = load_profile(global.profile)) {
    if (auto language = resolve_language(*profile, {})) return *language;
  }
  return text::language_from_environment();
}

}  // namespace fpx::cli
