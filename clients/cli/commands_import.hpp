// fpx trace import FILE.csv [--drafts DIR] [--send] [--force] [--lang fr|en]
// (issue 17): a CSV of seized firearms, one per line, checked line by line
// (import_check.hpp); without --send the lines that pass are written as
// drafts (`fpx trace submit` reads them), with --send they are sent once the
// whole file was checked. Registered on `fpx trace` by one object.
#pragma once

#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "cli.hpp"

namespace fpx::cli {

struct ImportOptions {
  std::string file;
  std::string drafts;  // default: the profile's drafts/
  bool send = false;
  bool force = false;
};

class ImportCommand {
 public:
  // `--lang` after the command writes global.language, so that errors
  // (report_failure) are printed in the same language as the rest.
  ImportCommand(CLI::App& trace, GlobalOptions& global);
  std::optional<int> run_parsed() const;

 private:
  const GlobalOptions& global_;
  ImportOptions options_;
  CLI::App* command_ = nullptr;
};

}  // namespace fpx::cli
