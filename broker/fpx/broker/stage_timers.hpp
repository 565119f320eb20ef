// Thread CPU time spent in each stage of the submit path, summed over every
// message since start: where the broker's time goes, per stage, without a
// profiler. Read with clock_gettime(CLOCK_THREAD_CPUTIME_ID) (a vDSO call,
// tens of nanoseconds), so it stays on in production.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace fpx::broker {

// In the order a message meets them; `commit` is the time in
// Store::commit(), `route` the replies and deliveries sent after it.
enum class StageTimer { decode, open, authorize, validate, dedupe, persist, receipt, account, commit, route };
inline constexpr std::size_t kStageTimerCount = 10;

class StageTimes {
 public:
  // Thread CPU time now, in nanoseconds.
  static std::int64_t thread_cpu_ns();

  void add(StageTimer stage, std::int64_t cpu_ns) { ns_[static_cast<std::size_t>(stage)] += cpu_ns; }
  // Another thread's times (a verify worker's) added into these.
  void add(const StageTimes& other) {
    for (std::size_t i = 0; i < kStageTimerCount; ++i) ns_[i] += other.ns_[i];
  }
  // One more message taken off the participants endpoint.
  void count_message() { ++messages_; }
  std::uint64_t messages() const { return messages_; }
  std::int64_t microseconds(StageTimer stage) const { return ns_[static_cast<std::size_t>(stage)] / 1000; }

  // "stage cpu us: messages=N decode=U open=U ... route=U", the form the
  // benchmark parses (cumulative microseconds since start).
  std::string describe() const;

 private:
  std::array<std::int64_t, kStageTimerCount> ns_{};
  std::uint64_t messages_ = 0;
};

// Adds the thread CPU time from its construction to its destruction to one stage.
class ScopedStageTimer {
 public:
  ScopedStageTimer(StageTimes& times, StageTimer stage)
      : times_(times), stage_(stage), started_ns_(StageTimes::thread_cpu_ns()) {}
  ~ScopedStageTimer() { times_.add(stage_, StageTimes::thread_cpu_ns() - started_ns_); }
  ScopedStageTimer(const ScopedStageTimer&) = delete;
  ScopedStageTimer& operator=(const ScopedStageTimer&) = delete;

 private:
  StageTimes& times_;
  StageTimer stage_;
  std::int64_t started_ns_;
};

}  // namespace fpx::broker
