#include "timers.hpp"

namespace fpx::broker {

namespace {
constexpr std::int64_t kDeadLetterScanMs = 5'000;
// Periods end on the second at the finest ("10s"): checking once a second is enough.
constexpr std::int64_t kStatisticsCheckMs = 1'000;
constexpr std::int64_t kCrlWarningEveryMs = 3600'000;
constexpr std::int64_t kCountersLogEveryMs = 60'000;  // operators see the counters without a metrics stack
}  // namespace

Timers::Timers(const BrokerConfig& config) {
  period_ms_[index(TimerJob::resend_and_report)] = kTimerTickMs;
  period_ms_[index(TimerJob::dead_letter_scan)] = kDeadLetterScanMs;
  period_ms_[index(TimerJob::clock_scan)] = config.clocks.scan_every_ms;
  period_ms_[index(TimerJob::log_checkpoint)] = config.oversight.checkpoint_every_ms;
  period_ms_[index(TimerJob::statistics_check)] = kStatisticsCheckMs;
  period_ms_[index(TimerJob::crl_warning)] = kCrlWarningEveryMs;
  period_ms_[index(TimerJob::counters_log)] = kCountersLogEveryMs;
}

}  // namespace fpx::broker
