// What fpx-bench --lean reads back from the broker's own log: the counters
// line it writes at stop ("counters since start: accepted N, ... commits N,
// ...") and, where the broker has it, the per-stage CPU line ("stage cpu us:
// messages=N decode=U open=U ..."). Pure text in, values out, so the
// parsing is unit-tested (tests/unit/bench/lean_figures_test.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fpx::bench {

struct BrokerCounters {
  std::int64_t accepted = 0;
  std::int64_t commits = 0;
};

// Cumulative CPU microseconds per stage since the broker started, in the
// order the line names them.
struct StageCpu {
  std::int64_t messages = 0;
  std::vector<std::pair<std::string, std::int64_t>> stage_us;
};

// The last counters line in `log` (the one written at stop), if any.
std::optional<BrokerCounters> parse_counters(std::string_view log);
// The last "stage cpu us:" line in `log`, if any and if it names a message
// count and at least one stage.
std::optional<StageCpu> parse_stage_cpu(std::string_view log);

// The value of one sample in a Prometheus text exposition (the broker's
// /metrics): `name_and_labels` is the whole series as written, such as
// `fpx_durable_commits_total` or `fpx_stage_cpu_seconds_total{stage="open"}`.
std::optional<double> metric_sample(std::string_view exposition, std::string_view name_and_labels);

}  // namespace fpx::bench
