// Prometheus metrics of the broker: the loop thread publishes into atomics,
// a thread of its own serves them over HTTP (GET /metrics, text exposition
// format 0.0.4). The loop never waits on that thread: no lock is shared,
// every value is a relaxed atomic the loop stores and the scrape loads.
//
// Written here rather than with prometheus-cpp: Debian 12 does ship
// prometheus-cpp-dev 1.0.1, but its Histogram::Observe takes a mutex the
// scrape also takes (the loop would wait on a scrape), its exposer pulls
// in civetweb beside the cpp-httplib the project already uses, and the text
// format is a few lines of escaping (render_metrics, escape_help,
// escape_label_value below, unit-tested).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "fpx/broker/stage_timers.hpp"
#include "fpx/result.hpp"

namespace fpx::broker {

struct BrokerCounters;

// Upper bounds (seconds) of the latency histograms' buckets: a durable
// commit here takes 0.3 ms to 22 ms (TOOLCHAIN.md), a delivery's
// confirmation seconds to days (a focal point offline over a weekend).
inline constexpr std::array<double, 18> kLatencyBucketsSeconds = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60, 600, 3600, 86400};

// A histogram the loop observes into without a lock; a scrape reads a
// snapshot whose count is the sum of its buckets (never torn between them).
class LatencyHistogram {
 public:
  void observe(std::chrono::nanoseconds elapsed);
  struct Snapshot {
    std::array<std::uint64_t, kLatencyBucketsSeconds.size() + 1> cumulative{};  // last: +Inf, the count
    double sum_seconds = 0;
  };
  Snapshot snapshot() const;

 private:
  std::array<std::atomic<std::uint64_t>, kLatencyBucketsSeconds.size() + 1> buckets_{};  // not cumulative
  std::atomic<std::uint64_t> sum_ns_{0};
};

// Times one scope into a histogram (a store commit).
class ScopedLatency {
 public:
  explicit ScopedLatency(LatencyHistogram& histogram)
      : histogram_(histogram), started_(std::chrono::steady_clock::now()) {}
  ~ScopedLatency() { histogram_.observe(std::chrono::steady_clock::now() - started_); }
  ScopedLatency(const ScopedLatency&) = delete;
  ScopedLatency& operator=(const ScopedLatency&) = delete;

 private:
  LatencyHistogram& histogram_;
  std::chrono::steady_clock::time_point started_;
};

// Queue depths and expiry times the loop publishes each timer tick.
struct LoopGauges {
  std::uint64_t pending_writes = 0;  // audit rows and delivery marks waiting for the next transaction
  std::uint64_t sessions = 0;        // live participant sessions
  std::uint64_t in_flight = 0;       // deliveries sent and not yet confirmed, over every session
  std::uint64_t backlog = 0;         // messages read but held for the next batch (limits.batch_share)
  std::int64_t broker_certificate_not_after_ms = 0;
  std::int64_t root_certificate_not_after_ms = 0;
  std::int64_t crl_next_update_ms = 0;  // the earliest nextUpdate of the CRLs; 0: none loaded
  // The "stage cpu us:" line: frames decoded, thread CPU per stage (StageTimer order).
  std::uint64_t messages_decoded = 0;
  std::array<std::int64_t, kStageTimerCount> stage_cpu_us{};
};

class BrokerMetrics {
 public:
  // The loop's counters since start (BrokerCounters), copied each tick.
  void publish(const BrokerCounters& counters, const LoopGauges& gauges);

  // Receipt latency: from the turn that read a submit frame off the socket
  // to its receipt being sent after the durable commit.
  void batch_received() { batch_received_ = std::chrono::steady_clock::now(); }
  void receipts_sent(std::size_t count);

  LatencyHistogram receipt_latency;
  LatencyHistogram delivery_latency;  // a delivery first sent -> confirmed
  LatencyHistogram commit_time;       // Store::commit() (the fsync of group commit)

  // The exposition (text format 0.0.4) as of `now_ms` (expiry in seconds until).
  std::string render(std::int64_t now_ms) const;

 private:
  static constexpr std::size_t kCounterCount = 14;
  std::array<std::atomic<std::uint64_t>, kCounterCount> counters_{};
  std::atomic<std::uint64_t> pending_writes_{0}, sessions_{0}, in_flight_{0}, backlog_{0};
  std::atomic<std::int64_t> broker_not_after_ms_{0}, root_not_after_ms_{0}, crl_next_update_ms_{0};
  std::atomic<std::uint64_t> messages_decoded_{0};
  std::array<std::atomic<std::int64_t>, kStageTimerCount> stage_cpu_us_{};
  std::atomic<bool> published_{false};
  std::chrono::steady_clock::time_point batch_received_{};  // loop thread only
};

// Text-format escaping (Prometheus exposition format 0.0.4): HELP text
// escapes backslash and line feed; label values also escape the double quote.
std::string escape_help(std::string_view text);
std::string escape_label_value(std::string_view text);

// A request larger than this is refused before routing: the scrape endpoint
// has no use for a body, and a peer must not make the thread hold one.
inline constexpr std::size_t kMaxMetricsRequestBodyBytes = 0;
// Connections waiting for the scrape thread: beyond them, the listening
// thread serves the next one itself and accepts nothing meanwhile, so a
// flood of connections waits in the kernel's listen backlog, not in memory.
inline constexpr std::size_t kMaxQueuedScrapes = 8;
// A peer that sends its request slower than this is dropped (slowloris).
inline constexpr std::chrono::seconds kMetricsReadTimeout{2};

// Serves GET /metrics on `listen` ("HOST:PORT"; port 0 picks one) from a
// thread of its own until destroyed. Only GET /metrics is answered (200);
// any other path or method gets 404 or 405, a body 413.
class MetricsServer {
 public:
  static Result<std::unique_ptr<MetricsServer>> start(const std::string& listen, const BrokerMetrics& metrics);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;
  int port() const;

  struct State;

 private:
  explicit MetricsServer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace fpx::broker
