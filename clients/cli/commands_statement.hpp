// fpx statement (issue 12): a focal point's signed statement on its own
// state's published figures for one period, which the exchange publishes on
// the oversight feed beside them. Registered by one object, so main.cpp
// carries two lines for it.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "cli.hpp"

namespace fpx::cli {

struct StatementOptions {
  std::string period;  // the period's start: its statistics record's periodStart, or ms since the epoch
  std::string text;
  bool dry_run = false;
};
int run_statement(const GlobalOptions& global, const StatementOptions& options);

class StatementCommands {
 public:
  StatementCommands(CLI::App& app, const GlobalOptions& global);
  std::optional<int> run_parsed() const;

 private:
  const GlobalOptions& global_;
  StatementOptions options_;
  CLI::App* statement_ = nullptr;
};

}  // namespace fpx::cli
