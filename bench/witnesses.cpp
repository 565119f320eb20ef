#include "witnesses.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "bench_support.hpp"

namespace fpx::bench {

namespace fs = std::filesystem;

namespace {

// Runs `fpx` with `args` and returns its standard output (fails on a non-zero exit).
std::string run_fpx(const fs::path& fpx_bin, const std::vector<std::string>& args) {
  std::string command = fpx_bin.string();
  for (const auto& arg : args) command += " '" + arg + "'";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) fail("cannot run " + command);
  std::string out;
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
  if (::pclose(pipe) != 0) fail(command + " failed:\n" + out);
  return out;
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

}  // namespace

BenchWitnesses::BenchWitnesses(const fs::path& fpx_bin, const fs::path& dir, const fs::path& broker_chain, int count) {
  if (!fs::exists(fpx_bin)) fail("no fpx binary at " + fpx_bin.string() + " (it is looked for beside --broker-bin)");
  const std::string log_key = first_line(run_fpx(fpx_bin, {"witness", "log-key", "--broker-cert", broker_chain.string()}));
  for (int i = 0; i < count; ++i) {
    const std::string name = "w" + std::to_string(i + 1) + ".bench/w";
    const fs::path home = dir / ("witness-" + std::to_string(i + 1));
    const int port = free_port();
    const std::string init = run_fpx(fpx_bin, {"witness", "init", home.string(), "--name", name, "--listen",
                                               "127.0.0.1:" + std::to_string(port), "--log",
                                               "fpx.exchange/log=" + log_key});
    const auto at = init.find("vkey: ");
    if (at == std::string::npos) fail("fpx witness init printed no vkey:\n" + init);
    const std::string vkey = first_line(init.substr(at + 6));
    const fs::path out = home / "serve.out";
    const pid_t pid = ::fork();
    if (pid < 0) fail("fork failed");
    if (pid == 0) {
      std::freopen(out.c_str(), "w", stdout);
      std::freopen((home / "serve.err").c_str(), "w", stderr);
      const std::string config = (home / "witness.toml").string();
      ::execl(fpx_bin.c_str(), "fpx", "witness", "serve", "--config", config.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    pids_.push_back(pid);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (read_text(out).find("listening on") == std::string::npos) {
      if (std::chrono::steady_clock::now() > deadline) fail("fpx witness serve did not start: " + read_text(home / "serve.err"));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    toml_ += "[[witnesses]]\nname = \"" + name + "\"\nvkey = \"" + vkey + "\"\nurl = \"http://127.0.0.1:" +
             std::to_string(port) + "\"\n";
  }
}

BenchWitnesses::~BenchWitnesses() {
  for (pid_t pid : pids_) {
    ::kill(pid, SIGTERM);
    int status = 0;
    ::waitpid(pid, &status, 0);
  }
}

WitnessRounds parse_witness_rounds(const std::string& log, std::size_t cosignatures) {
  // "witnesses: checkpoint <size> served with <n> of <m> cosignatures <ms> ms after they were asked"
  WitnessRounds rounds;
  std::istringstream lines(log);
  std::string line;
  const std::string marker = "witnesses: checkpoint ";
  while (std::getline(lines, line)) {
    const auto at = line.find(marker);
    if (at == std::string::npos) continue;
    unsigned long long size = 0, got = 0, of = 0;
    double ms = 0;
    if (std::sscanf(line.c_str() + at + marker.size(), "%llu served with %llu of %llu cosignatures %lf ms", &size, &got,
                    &of, &ms) != 4) {
      continue;
    }
    if (got == cosignatures) {
      rounds.complete_ms.push_back(ms);
    } else {
      ++rounds.incomplete;
    }
  }
  return rounds;
}

}  // namespace fpx::bench
