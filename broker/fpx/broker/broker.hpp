// fpx-broker's core: one loop thread owns every client-facing socket and
// all mutable broker state, multiplexed with zmq::poll. main.cpp is only
// argument parsing, logging set-up and signals; tests drive this class.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "fpx/broker/config.hpp"
#include "fpx/broker/metrics.hpp"
#include "fpx/broker/store.hpp"

namespace fpx::broker {

// Milliseconds since the Unix epoch. Tests of clocks pass a fake one; the
// release binary always uses the system clock.
using Clock = std::function<std::int64_t()>;

struct BrokerCounters {
  std::uint64_t accepted = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t refused = 0;
  std::uint64_t rate_limited = 0;
  std::uint64_t deliveries_sent = 0;
  std::uint64_t deliveries_confirmed = 0;
  std::uint64_t dead_letters = 0;
  std::uint64_t zap_refused = 0;
  std::uint64_t handshake_failures = 0;
  std::uint64_t sessions_taken_over = 0;
  std::uint64_t internal_errors = 0;
  std::uint64_t commits = 0;
  std::uint64_t durable_commits = 0;  // batches whose receipts waited for an fsync
  std::uint64_t observer_replies_dropped = 0;  // an observer's send queue was full
  std::uint64_t witness_conflicts = 0;  // a witness holds another history of the log (issue 13)
};

class Broker {
 public:
  // Loads the PKI, enrolment, identity and store, then binds the socket
  // (after the ZAP handler, which fails open otherwise).
  static Result<std::unique_ptr<Broker>> create(const BrokerConfig& config, Clock clock = {});
  ~Broker();

  // The endpoint actually bound (a tcp port of 0 is resolved).
  std::string endpoint() const;
  std::string observers_endpoint() const;

  // One turn of the loop: waits up to `timeout` for input and handles it,
  // then runs what is due (resends, dead letters, checkpoints).
  Status poll_once(std::chrono::milliseconds timeout);

  // Until SIGTERM or SIGINT arrive on `signal_fd` (a signalfd); SIGHUP reloads.
  Status run(int signal_fd);

  // Re-reads CRLs and enrolled certificates; live sessions are judged by
  // them from their next message on.
  Status reload();

  Store& store();
  const BrokerCounters& counters() const;
  // What fpx-broker serves on [metrics] listen (MetricsServer, another thread).
  const BrokerMetrics& metrics() const;

 private:
  struct Impl;
  explicit Broker(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fpx::broker
