// fpx-bench --lean --witnesses N (issue 13): the lean run twice in one
// invocation, first without witnesses and then with N real `fpx witness
// serve` processes on loopback, both with a checkpoint a second; the second
// run also prints how long a checkpoint took from being handed to the
// witnesses to being served with their cosignatures (the broker's
// "witnesses: checkpoint ... served with" log lines).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace fpx::bench {

// N witnesses following the broker's log, each a child process; killed when destroyed.
class BenchWitnesses {
 public:
  // fpx_bin: the `fpx` binary; broker_chain: the broker's chain.pem (the log's key).
  BenchWitnesses(const std::filesystem::path& fpx_bin, const std::filesystem::path& dir,
                 const std::filesystem::path& broker_chain, int count);
  ~BenchWitnesses();
  BenchWitnesses(const BenchWitnesses&) = delete;
  BenchWitnesses& operator=(const BenchWitnesses&) = delete;
  // The broker's [[witnesses]] tables for them.
  const std::string& broker_toml() const { return toml_; }

 private:
  std::vector<pid_t> pids_;
  std::string toml_;
};

// From the broker's log: per checkpoint, ms from handing it to the
// witnesses to serving it with `cosignatures` of them (rounds with fewer are counted apart).
struct WitnessRounds {
  std::vector<double> complete_ms;
  std::size_t incomplete = 0;
};
WitnessRounds parse_witness_rounds(const std::string& log, std::size_t cosignatures);

}  // namespace fpx::bench
