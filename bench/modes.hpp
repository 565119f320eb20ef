// fpx-bench's modes: FPX alone (the default), FPX with a participant
// flooding (--fairness), and FPX beside a peer broker (--peer NAME).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fpx/ids.hpp"

namespace fpx::bench {

struct BenchOptions {
  int messages = 20000;
  double rate = 1000;
  double latency_seconds = 10;
  int senders = 4;
  int recipients = 4;
  std::string broker_bin;
  bool keep_dir = false;
  // Peers: messages a sender may have published and not yet seen received.
  int peer_window = 100;
  // Fairness: the victim's paced rate (under the default limit), the length
  // of each of its two phases, and the flooder's unanswered submits at most.
  double victim_rate = 100;
  double fairness_seconds = 10;
  int flood_window = 256;
  // The broker's limits.batch_share (0: its default); 256 (= batch_max)
  // measures the broker without fair draining.
  int batch_share = 0;
  // Observers: the throughput phase runs again while this many follow the feed.
  int observers = 0;
  // Abuse (abuse.hpp): how long each flood runs while the victim works, and
  // which floods (empty: all of them).
  double abuse_seconds = 30;
  std::vector<std::string> abuse_kinds;
  // Lean (lean.hpp): submits in flight per sender, and whether the paced
  // latency phase runs (--latency-seconds given with --lean).
  int lean_window = 64;
  bool lean_latency = false;
  // Lean: the broker's limits.verify_workers (-1: its default), and the core
  // the broker is pinned to (-1: not pinned, so a verify worker may use the
  // load's core too).
  int verify_workers = -1;
  // Lean: the broker's timing.checkpoint_every_ms (0: its default).
  std::int64_t wal_checkpoint_every_ms = 0;
  // Lean, fairness and abuse: the broker's timing.group_commit_wait_ms (-1: its default).
  std::int64_t group_commit_wait_ms = -1;
  int broker_core = 0;
  // Lean: real `fpx witness serve` processes the broker asks to cosign each
  // checkpoint (witnesses.hpp); 0: none. With --witnesses N, fpx-bench runs
  // the lean figures with 0 and then N, checkpoints every second in both.
  int witnesses = 0;
  bool checkpoint_every_second = false;
  // RabbitMQ peer (peer_rabbitmq.cpp): unconfirmed publishes per publisher
  // in its two runs.
  std::vector<int> rabbitmq_windows{100, 1};
};

// What every system prints, measured the same way.
struct SystemFigures {
  std::string system;
  double acked_per_s = 0;     // acknowledgements (FPX: durable receipts) per second, senders flat out
  double received_per_s = 0;  // messages received by the receivers per second, same phase
  double broker_cpu_us_per_msg = 0;  // broker process user+system CPU per acknowledged message
  double p50_ms = 0;          // send slot -> received, at a fixed total rate
  double p99_ms = 0;
  std::int64_t lost = 0;      // acknowledged but never received (should be 0)
};

struct FpxRun {
  SystemFigures figures;
  double raw_verify_us = 0;
  std::vector<Bytes> envelopes;  // what was sent, so peers carry the same bytes
};

// fpx_bench.cpp: the default measurement.
FpxRun run_fpx(const BenchOptions& options);
// fairness.cpp: prints its own figures; returns the process exit code.
int run_fairness(const BenchOptions& options);

}  // namespace fpx::bench
