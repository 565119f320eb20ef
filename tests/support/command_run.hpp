// Runs a command line for a test, as a user would type it, and captures its
// exit code, stdout and stderr (through files: no pipe can fill up).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace fpx::test {

struct CommandRun {
  int exit_code = -1;  // -1: killed by a signal
  std::string out;
  std::string err;
};

// `text` as one single-quoted shell word.
std::string shell_quote(const std::string& text);

// Runs `words` (each quoted) with FPX_PROFILE unset, so only flags count;
// the output files go to `output_dir`, and the command runs in
// `working_dir` when one is given.
CommandRun run_command(const std::vector<std::string>& words, const std::filesystem::path& output_dir,
                       const std::filesystem::path& working_dir = {});

// The fpx CLI built with the tests, run as run_command does.
CommandRun run_fpx(const std::filesystem::path& output_dir, const std::vector<std::string>& args);

}  // namespace fpx::test
