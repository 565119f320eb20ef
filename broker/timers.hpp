// The loop's timers: the one place that says what runs when. The loop asks
// which jobs are due at its tick and tells when one ran; a job that could
// not run (its transaction did not begin) stays due. Private to broker/.
#pragma once

#include <array>
#include <cstdint>

#include "fpx/broker/config.hpp"

namespace fpx::broker {

// How often the loop wakes to look at its timers when no input arrives.
inline constexpr std::int64_t kTimerTickMs = 250;

enum class TimerJob {
  resend_and_report,  // overdue resends, handshake and refusal summaries: every tick
  dead_letter_scan,   // deliveries past their hold time
  clock_scan,         // tracing clocks: reminders and escalations (clocks.scan_every_ms)
  log_checkpoint,     // a signed checkpoint when the log grew (oversight.checkpoint_every_ms)
  statistics_check,   // whether a statistics period ended or an embargo is over
  crl_warning,        // CRLs that expire within a day
  counters_log,       // the counters line, when they changed
};
inline constexpr std::size_t kTimerJobCount = 7;

class Timers {
 public:
  explicit Timers(const BrokerConfig& config);

  bool due(TimerJob job, std::int64_t now_ms) const { return now_ms >= next_ms_[index(job)]; }
  // The job ran at now_ms: it is next due one period later.
  void ran(TimerJob job, std::int64_t now_ms) { next_ms_[index(job)] = now_ms + period_ms_[index(job)]; }

 private:
  static std::size_t index(TimerJob job) { return static_cast<std::size_t>(job); }
  std::array<std::int64_t, kTimerJobCount> period_ms_{};
  std::array<std::int64_t, kTimerJobCount> next_ms_{};  // all due at the first tick
};

}  // namespace fpx::broker
