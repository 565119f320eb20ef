// Civil society's voice (issue 12 item 5, PROTOCOL.md §7.9): `fpx warn`
// and `fpx contribute` for a cso certificate, `fpx warning ack` for the
// focal point that received the warning. Registered by one object, so
// main.cpp carries two lines for all of them.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "cli.hpp"

namespace fpx::cli {

struct WarnOptions {
  std::string threat;
  std::string location;
  std::string firearm;
  std::string observed_on;  // YYYY-MM-DD
  bool dry_run = false;
};

struct ContributeOptions {
  std::string campaign;
  std::string period_start;  // YYYY-MM-DD
  std::string period_end;
  std::uint32_t weapons = 0;
  std::uint32_t ammunition = 0;
  std::string text;
  bool dry_run = false;
};

struct WarningAckOptions {
  std::string id;
  std::string note;
  bool dry_run = false;
};

class CsoCommands {
 public:
  CsoCommands(CLI::App& app, const GlobalOptions& global);
  std::optional<int> run_parsed() const;

 private:
  const GlobalOptions& global_;
  WarnOptions warn_;
  ContributeOptions contribute_;
  WarningAckOptions ack_;
  CLI::App* warn_command_ = nullptr;
  CLI::App* contribute_command_ = nullptr;
  CLI::App* ack_command_ = nullptr;
};

}  // namespace fpx::cli
