// What fpx-bench needs around the broker: a PKI written to disk as fpx-ca
// writes it, and a real fpx-broker process with a generated config. This
// mirrors tests/support (which asserts through Catch2 and so cannot be linked
// into a bench program): failures here print and exit.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "bench/temp_dir.hpp"
#include "fpx/broker_pins.hpp"
#include "fpx/identity.hpp"
#include "fpx/pki.hpp"

namespace fpx::bench {

[[noreturn]] void fail(const std::string& what);

// Owner-only permissions: key files must not be readable by others.
void write_file(const std::filesystem::path& path, const std::string& text);
std::string read_text(const std::filesystem::path& path);
// A free TCP port on loopback (for servers whose config names a fixed port).
int free_port();
bool port_accepts(int port);
// User + system CPU time of a process (all threads) so far, from
// /proc/<pid>/stat; 10 ms resolution, so measure phases of seconds.
double cpu_seconds_of(pid_t pid);
// Bytes a process caused to be written to storage so far (write_bytes of
// /proc/<pid>/io: counted when pages are dirtied, so page-cache writes
// count before they reach the disk).
std::int64_t write_bytes_of(pid_t pid);
// Pins the calling thread (and the threads and programs it starts later)
// to one core; returns false if the machine has no such core.
bool pin_to_core(int core);

template <typename T>
T must(Result<T> result, const char* what) {
  if (!result) fail(std::string(what) + ": " + result.error().describe());
  return std::move(result).value();
}

// Root CA plus one national intermediate per participant country, so every
// envelope carries a two-certificate chain as in a real deployment, and
// current (empty) CRLs, so both ends check revocation.
class BenchPki {
 public:
  explicit BenchPki(std::filesystem::path dir);

  // Issues a participant and writes its identity directory; returns it.
  std::filesystem::path issue(const std::string& id, const std::string& country, Role role);
  Identity identity(const std::string& id) const;
  // Rewrites the CRL directory: one current CRL per CA.
  void write_crls();

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path root_pem() const { return dir_ / "root-ca.pem"; }
  std::filesystem::path crl_dir() const { return dir_ / "crls"; }
  std::filesystem::path participant_dir(const std::string& id) const { return dir_ / "participants" / id; }

 private:
  std::filesystem::path dir_;
  pki::Authority root_;
  std::map<std::string, pki::Authority> intermediates_;
};

struct BrokerSettings {
  std::filesystem::path binary;
  // The default (200/s per participant) would make the bench measure the
  // rate limiter, not the broker.
  double rate_per_second = 1'000'000;
  double burst = 1'000'000;
  // Stored bytes per participant and minute: the bench's load is far above
  // a focal point's real traffic, and would measure the bound, not the
  // broker. 0: the broker's default (fpx-bench --abuse, which floods it).
  double stored_bytes_per_minute = 1e12;
  double stored_burst_bytes = 1e12;
  // 0: the broker's default.
  std::size_t batch_share = 0;
  // The broker's limits.verify_workers; -1: the broker's default.
  int verify_workers = -1;
  // The broker's timing.checkpoint_every_ms (WAL checkpoints); 0: its default.
  std::int64_t wal_checkpoint_every_ms = 0;
  // The broker's timing.group_commit_wait_ms; -1: its default.
  std::int64_t group_commit_wait_ms = -1;
  // Per-message debug logging would be part of what is measured.
  std::string log_level = "warn";
  // How often the transparency log's signed checkpoint is renewed; 0 keeps
  // the broker's default.
  std::int64_t log_checkpoint_every_ms = 0;
  // The core the broker (all its threads) runs on; -1: wherever the kernel
  // puts it. fpx-bench --lean keeps the load off the broker's core.
  int cpu_core = -1;
  // Non-empty: the broker keeps its state in this PostgreSQL database
  // ([store] backend = "postgres", fpx-bench --store postgres), not in SQLite.
  std::string store_dsn;
  // Non-empty: [metrics] listen (HOST:PORT), so the bench reads the
  // broker's counters per phase (fpx-bench --lean); empty: no endpoint.
  std::string metrics_listen;
};

// A real fpx-broker on 127.0.0.1 with its own config, enrolled directory and
// SQLite file. Stopped with SIGTERM when destroyed.
class BrokerProcess {
 public:
  // Issues the broker identity and enrolls `participants` (already issued).
  BrokerProcess(BenchPki& pki, const std::vector<std::string>& participants, BrokerSettings settings);
  ~BrokerProcess();
  BrokerProcess(const BrokerProcess&) = delete;
  BrokerProcess& operator=(const BrokerProcess&) = delete;

  const std::string& endpoint() const { return endpoint_; }
  const std::string& observers_endpoint() const { return observers_endpoint_; }
  const std::filesystem::path& database() const { return database_; }
  std::filesystem::path chain_path() const;  // the broker's chain.pem
  CurvePublicKey curve_public_key() const;
  // The pin of its signing key: clients and observers accept broker-signed
  // artefacts only from pinned keys.
  client::BrokerPins broker_pins() const;
  pid_t pid() const { return pid_; }
  const std::filesystem::path& log_path() const { return log_; }
  // User + system CPU time of the process (all threads) so far, from
  // /proc/<pid>/stat; 10 ms resolution, so measure phases of seconds.
  double cpu_seconds() const;
  // SIGTERM and wait; returns the exit status.
  int stop();
  // SIGKILL and wait: a crash, with no chance to drain or checkpoint.
  void kill_hard();
  // Starts it again (after stop or kill_hard): same config, same database,
  // same ports; returns once it listens.
  void start();
  // Appends TOML tables (such as [[witnesses]]) to its config, read at the next start().
  void append_config(const std::string& toml);

 private:
  BenchPki& pki_;
  BrokerSettings settings_;
  std::filesystem::path dir_;
  std::filesystem::path config_;
  std::filesystem::path log_;
  std::filesystem::path database_;
  std::string endpoint_;
  std::string observers_endpoint_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace fpx::bench
