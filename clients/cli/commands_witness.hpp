// fpx witness (init, serve, log-key), fpx log compare, fpx log evidence check
// (issue 13): registered on the command line by one object, so main.cpp
// carries two lines for all of them.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli.hpp"

namespace fpx::cli {

struct WitnessInitOptions {
  std::string dir;
  std::string name;
  std::string listen = "127.0.0.1:7480";
  std::vector<std::string> logs;  // "ORIGIN=VKEY"
  std::string passphrase_file;
  std::string passphrase_env;
};
int run_witness_init(const GlobalOptions& global, const WitnessInitOptions& options);

struct WitnessServeOptions {
  std::string config;
};
int run_witness_serve(const GlobalOptions& global, const WitnessServeOptions& options);

struct WitnessLogKeyOptions {
  std::string broker_cert;
  std::string origin = "fpx.exchange/log";
};
int run_witness_log_key(const GlobalOptions& global, const WitnessLogKeyOptions& options);

struct LogCompareOptions {
  std::string file;          // a checkpoint note another observer shared
  std::string evidence_dir;  // default: the profile's evidence/
};
int run_log_compare(const GlobalOptions& global, const LogCompareOptions& options);

struct EvidenceCheckOptions {
  std::string file;
  std::string log_key;  // the log's vkey the evidence must name (default: whatever the file names)
};
int run_evidence_check(const GlobalOptions& global, const EvidenceCheckOptions& options);

// Adds `witness` to `app` and `compare`, `evidence check` to `log`;
// run_parsed() runs whichever was given, nullopt if none.
class WitnessCommands {
 public:
  WitnessCommands(CLI::App& app, CLI::App& log, const GlobalOptions& global);
  std::optional<int> run_parsed() const;

 private:
  const GlobalOptions& global_;
  WitnessInitOptions init_options_;
  WitnessServeOptions serve_options_;
  WitnessLogKeyOptions log_key_options_;
  LogCompareOptions compare_options_;
  EvidenceCheckOptions evidence_options_;
  CLI::App* init_ = nullptr;
  CLI::App* serve_ = nullptr;
  CLI::App* log_key_ = nullptr;
  CLI::App* compare_ = nullptr;
  CLI::App* evidence_check_ = nullptr;
};

}  // namespace fpx::cli
