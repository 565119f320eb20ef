#include "language.hpp"

#include <cstdlib>

#include <CLI/CLI.hpp>
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

namespace {

// The profile's language without load_profile's revocation warning: the
// command that runs next loads the profile and warns once.
std::optional<text::Language> profile_language(std::string dir) {
  if (dir.empty()) {
    if (const char* env = std::getenv(kProfileEnv); env != nullptr) dir = env;
  }
  if (dir.empty()) return std::nullopt;
  auto profile = load_profile_dir(dir, PinsNeeded::no);
  if (!profile) return std::nullopt;
  auto language = resolve_language(*profile, {});
  if (!language) return std::nullopt;
  return *language;
}

}  // namespace

text::Language language_for_errors(const GlobalOptions& global) {
  if (auto language = text::parse_language(global.language)) return *language;
  if (auto language = profile_language(global.profile)) return *language;
  return text::language_from_environment();
}

text::Language language_before_parsing(int argc, const char* const* argv) {
  // CLI11 itself finds --lang and --profile wherever they stand (before or
  // after the command, "--lang fr" or "--lang=fr"); everything else is left
  // for the real parse, which reports what is wrong with it.
  CLI::App scan;
  scan.set_help_flag();
  scan.allow_extras();
  scan.prefix_command(false);
  GlobalOptions global;
  scan.add_option("--lang", global.language);
  scan.add_option("--profile", global.profile);
  try {
    scan.parse(argc, argv);
  } catch (const CLI::ParseError&) {
    // "--lang" with no value, say: the real parse says so, in the language found so far.
  }
  return language_for_errors(global);
}

std::string fill_values(std::string_view text, const std::vector<std::string>& values) {
  std::string out(text);
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::string marker = "{" + std::to_string(i + 1) + "}";
    for (auto at = out.find(marker); at != std::string::npos; at = out.find(marker, at + values[i].size())) {
      out.replace(at, marker.size(), values[i]);
    }
  }
  return out;
}

}  // namespace fpx::cli
