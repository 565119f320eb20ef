// Thread CPU time spent in each stage of the submit path, summed over every
// message since start: where the broker's time goes, per stage, without a
// profiler. Read with clock_gettime(CLOCK_THREAD_CPUTIME_ID), which is a
// system call, never a vDSO one (1.3 us on these virtual machines): read
// around every stage of every message it cost a tenth of the broker's CPU.
// So each thread times its first pass through each stage and then a random
// one in kStageSampleEvery, and a timed pass counts kStageSampleEvery times
// its time (the first pass once): an unbiased estimate that only grows, as
// the counter /metrics exports it as must. It stays on in production at a
// sixteenth of the cost.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace fpx::broker {

// In the order a message meets them; `commit` is the time in
// Store::commit(), `route` the replies and deliveries sent after it.
enum class StageTimer { decode, open, authorize, validate, dedupe, persist, receipt, account, commit, route };
inline constexpr std::size_t kStageTimerCount = 10;
// One pass in this many through a stage, per thread, is timed, at random:
// a stage passed twice per message (persist, account) would otherwise have
// the same one of its two passes timed every time.
inline constexpr std::uint32_t kStageSampleEvery = 16;

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

// How many passes this thread's next pass through `stage` stands for: 1 for
// its first, then kStageSampleEvery with a chance of one in
// kStageSampleEvery (a per-thread xorshift, not a system call), else 0: not
// timed.
std::uint32_t stage_pass_weight(StageTimer stage);

// One pass through a stage: when it is sampled, adds the thread CPU time
// from its construction to its destruction, times the passes it stands for.
class ScopedStageTimer {
 public:
  ScopedStageTimer(StageTimes& times, StageTimer stage)
      : times_(times),
        stage_(stage),
        weight_(stage_pass_weight(stage)),
        started_ns_(weight_ == 0 ? 0 : StageTimes::thread_cpu_ns()) {}
  ~ScopedStageTimer() {
    if (weight_ != 0) times_.add(stage_, (StageTimes::thread_cpu_ns() - started_ns_) * weight_);
  }
  ScopedStageTimer(const ScopedStageTimer&) = delete;
  ScopedStageTimer& operator=(const ScopedStageTimer&) = delete;

 private:
  StageTimes& times_;
  StageTimer stage_;
  std::uint32_t weight_;
  std::int64_t started_ns_;
};

}  // namespace fpx::broker
