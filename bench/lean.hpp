// fpx-bench --lean: the broker's own figures, not the load generator's.
//
// Envelopes are sealed (and wrapped in their submit frames) before the run;
// the load is one thread driving raw CURVE DEALER sockets with the
// participants' real keys, several submits in flight per sender, and raw
// recipients that confirm every delivery without verifying it (verifying is
// the recipient's cost, not the broker's). The broker process is pinned to
// one core and the load to the other, so broker CPU, bytes written and
// throughput are the broker's.
#pragma once

#include <cstdint>
#include <vector>

#include "fpx/ids.hpp"
#include "modes.hpp"

namespace fpx::bench {

struct LeanRun {
  double raw_verify_us = 0;
  double throughput_msgs_per_s = 0;     // receipts per second, senders flat out
  double broker_cpu_us_per_msg = 0;     // per receipted message, deliveries and confirms included
  std::vector<Bytes> envelopes;         // a sample of what was sent, so peers carry the same bytes
};

// Prints the lean figures; with `options.lean_latency` also the paced
// latency phase. Fails (exits) if any submit is refused or a delivery is
// missing.
LeanRun run_lean(const BenchOptions& options);

// peer_rabbitmq.cpp, when built (librabbitmq found at configure time):
// RabbitMQ quorum queues with publisher confirms, one run per window of
// options.rabbitmq_windows, printed beside `fpx`'s lean figures.
bool rabbitmq_server_installed();
void run_rabbitmq(const BenchOptions& options, const LeanRun& fpx);

}  // namespace fpx::bench
