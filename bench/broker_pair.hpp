// Two real fpx-broker processes on one PostgreSQL store (issue 16's
// failover): the same broker identity (one pinned key, broker/README.md),
// each with its own endpoints and holder name. One leads (binds its
// endpoints); the other stands by inside fpx-broker until the lease lapses
// or the leader's database session ends (broker/store_pg/README.md).
// Failures print and exit, as bench_support does.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "bench_support.hpp"

namespace fpx::bench {

struct BrokerPairSettings {
  std::filesystem::path binary;
  std::string store_dsn;
  // [store] lease_ms: how long a silent leader keeps the lead. A killed
  // leader's session ends at once, so this only bounds a paused one.
  std::int64_t lease_ms = 5000;
  std::int64_t log_checkpoint_every_ms = 100;
  std::string log_level = "info";
};

class BrokerPair {
 public:
  static constexpr int kBrokers = 2;

  // Issues the broker identity, enrolls `participants`, starts broker 0
  // (returns once it leads) and broker 1 (once it stands by).
  BrokerPair(BenchPki& pki, const std::vector<std::string>& participants, BrokerPairSettings settings);
  ~BrokerPair();  // SIGKILL both: the store outlives them
  BrokerPair(const BrokerPair&) = delete;
  BrokerPair& operator=(const BrokerPair&) = delete;

  const std::string& endpoint(int broker) const { return endpoints_[broker]; }
  const std::string& observers_endpoint(int broker) const { return observers_endpoints_[broker]; }
  std::filesystem::path chain_path() const;
  CurvePublicKey curve_public_key() const;
  client::BrokerPins broker_pins() const;
  const std::filesystem::path& log_path(int broker) const { return logs_[broker]; }

  // The broker that said "listening" since its last start and still runs; -1: none.
  int leader();
  // Until some broker leads, or `within` passes (then -1); restarts a
  // broker that exited on its own meanwhile.
  int wait_leader(std::chrono::milliseconds within);
  void kill_hard(int broker);
  // Starts it again with the same config; returns once it leads or stands by.
  void start(int broker);
  // A broker that exited on its own (deposed: another took the lead while
  // it could not reach the store) is started again as a standby; returns
  // how many were.
  int restart_exited();
  int exits_on_their_own() const { return exits_on_their_own_; }

 private:
  bool running(int broker);

  BenchPki& pki_;
  BrokerPairSettings settings_;
  std::filesystem::path dir_;
  std::string endpoints_[kBrokers];
  std::string observers_endpoints_[kBrokers];
  std::filesystem::path configs_[kBrokers];
  std::filesystem::path logs_[kBrokers];
  std::size_t log_offsets_[kBrokers] = {0, 0};  // the log's size at the last start
  pid_t pids_[kBrokers] = {-1, -1};
  bool exited_[kBrokers] = {false, false};  // reaped without our kill, not yet restarted
  int exits_on_their_own_ = 0;
};

}  // namespace fpx::bench
