#include "support/command_run.hpp"

#include <sys/wait.h>

#include <cstdlib>

#include "support/test_pki.hpp"

namespace fpx::test {

std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (const char c : text) {
    if (c == '\'') {
      out.append("'\\''");
    } else {
      out.push_back(c);
    }
  }
  out.push_back('\'');
  return out;
}

CommandRun run_command(const std::vector<std::string>& words, const std::filesystem::path& output_dir,
                       const std::filesystem::path& working_dir) {
  // Appends only: g++ 12 -O2 warns falsely (-Wrestrict) on "literal" + std::string.
  static int counter = 0;
  const std::string stem = "run-" + std::to_string(++counter);
  const auto out_file = output_dir / (stem + ".out");
  const auto err_file = output_dir / (stem + ".err");
  std::string command;
  if (!working_dir.empty()) command.append("cd ").append(shell_quote(working_dir.string())).append(" && ");
  command.append("env -u FPX_PROFILE");
  for (const auto& word : words) command.append(" ").append(shell_quote(word));
  command.append(" >").append(shell_quote(out_file.string()));
  command.append(" 2>").append(shell_quote(err_file.string()));
  const int status = std::system(command.c_str());
  CommandRun run;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.out = read_file(out_file);
  run.err = read_file(err_file);
  return run;
}

CommandRun run_fpx(const std::filesystem::path& output_dir, const std::vector<std::string>& args) {
  std::vector<std::string> words{std::string(FPX_BIN_DIR) + "/fpx"};
  words.insert(words.end(), args.begin(), args.end());
  return run_command(words, output_dir);
}

}  // namespace fpx::test
