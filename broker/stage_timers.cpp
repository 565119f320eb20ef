#include "fpx/broker/stage_timers.hpp"

#include <ctime>

#include <spdlog/fmt/fmt.h>

namespace fpx::broker {

std::int64_t StageTimes::thread_cpu_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

std::uint32_t stage_pass_weight(StageTimer stage) {
  thread_local std::array<bool, kStageTimerCount> passed_before{};
  thread_local std::uint64_t state = 0x9e3779b97f4a7c15ULL;  // one generator per thread, for every stage
  bool& passed = passed_before[static_cast<std::size_t>(stage)];
  if (!passed) {
    passed = true;
    return 1;
  }
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return state % kStageSampleEvery == 0 ? kStageSampleEvery : 0;
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
