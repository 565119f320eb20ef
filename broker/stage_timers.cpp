#include "fpx/broker/stage_timers.hpp"

#include <ctime>

#include <spdlog/fmt/fmt.h>

namespace fpx::broker {

std::int64_t StageTimes::thread_cpu_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

std::string StageTimes::describe() const {
  return fmt::format(
      "stage cpu us: messages={} decode={} open={} authorize={} validate={} dedupe={} persist={} receipt={} account={} "
      "commit={} route={}",
      messages_, microseconds(StageTimer::decode), microseconds(StageTimer::open), microseconds(StageTimer::authorize),
      microseconds(StageTimer::validate), microseconds(StageTimer::dedupe), microseconds(StageTimer::persist),
      microseconds(StageTimer::receipt), microseconds(StageTimer::account), microseconds(StageTimer::commit),
      microseconds(StageTimer::route));
}

}  // namespace fpx::broker
