// fpx trace show / owed / forward / supply / withdraw / close / search
// (issue 17): every step of a case on the command line, in French or
// English, over the same case files (clients/desk/case_files.hpp) and the
// same composing code (clients/desk/compose.hpp) as the desk. Registered on
// `fpx trace` by one object, so main.cpp carries two lines for all of them.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli.hpp"
#include "fpx/certificate.hpp"
#include "json_messages.hpp"
#include "profile.hpp"

namespace fpx::cli {

struct CaseStepOptions {
  std::string id;
  std::string to_country;  // forward
  std::string reason;      // forward, withdraw, close
  std::string note;        // supply
  std::vector<std::string> fields;  // supply: "path=value"
  bool dry_run = false;
};

struct CaseSearchOptions {
  std::string serial;
  std::string manufacturer;
  std::string case_reference;
  std::string state;
  std::string status;
  std::string from;   // YYYY-MM-DD
  std::string until;  // YYYY-MM-DD, inclusive
};

// fpx trace attachment ID N [--out FILE] (issue 17).
struct AttachmentSaveOptions {
  std::string id;
  std::size_t number = 0;  // 1-based, as `fpx trace show` lists them
  std::string out;         // default: the signed file name, in the current directory
  bool overwrite = false;
};

enum class CaseStep { forward, supply, withdraw, close };

class CaseCommands {
 public:
  CaseCommands(CLI::App& trace, const GlobalOptions& global);
  std::optional<int> run_parsed() const;

 private:
  const GlobalOptions& global_;
  std::string language_;  // --lang on any of these commands
  std::string show_id_;
  CaseStepOptions forward_, supply_, withdraw_, close_;
  CaseSearchOptions search_;
  AttachmentSaveOptions attachment_;
  CLI::App* attachment_command_ = nullptr;
  CLI::App* show_ = nullptr;
  CLI::App* owed_ = nullptr;
  CLI::App* forward_command_ = nullptr;
  CLI::App* supply_command_ = nullptr;
  CLI::App* withdraw_command_ = nullptr;
  CLI::App* close_command_ = nullptr;
  CLI::App* search_command_ = nullptr;
};

// Warns (stderr, or the JSON error with --json) when `draft`, a tracing
// request about to be sent by the profile's participant, repeats an open
// request of its own state (clients/desk/case_search.hpp); returns the exit
// code then, nullopt to go on.
// warn_only: a dry run, which sends nothing anyway.
enum class DuplicatePolicy { refuse, send_anyway, warn_only };
std::optional<int> check_duplicates(const GlobalOptions& global, const Profile& profile, const ParticipantInfo& me,
                                    const Draft& draft, DuplicatePolicy policy);

}  // namespace fpx::cli
