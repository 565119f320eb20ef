// Thread CPU time spent in each stage of the submit path, summed over every
// message since start: where the broker's time goes, per stage, without a
// profiler. Read with clock_gettime(CLOCK_THREAD_CPUTIME_ID), which is a
// system call, never a vDSO one (1.3 us on these virtual machines): read
// around every stage of every message it cost a tenth of the broker's CPU.
// So each thread times a random one pass in kStageSampleEvery through each
// stage (and the first) and the totals are scaled by passes over timed passes. It stays on in
// production at about a sixteenth of that cost.
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

  // One timed pass through `stage`: it took `cpu_ns` and stands for itself alone.
  void add(StageTimer stage, std::int64_t cpu_ns) { add(stage, cpu_ns, 1); }
  // A pass not timed: it counts in the scaling of the timed ones.
  void add_untimed(StageTimer stage) { ++passes_[static_cast<std::size_t>(stage)]; }
  // Another thread's times (a verify worker's) added into these.
  void add(const StageTimes& other) {
    for (std::size_t i = 0; i < kStageTimerCount; ++i) {
      ns_[i] += other.ns_[i];
      timed_[i] += other.timed_[i];
      passes_[i] += other.passes_[i];
    }
  }
  // One more message taken off the participants endpoint.
  void count_message() { ++messages_; }
  std::uint64_t messages() const { return messages_; }
  // The estimated total: the timed passes' time times passes over timed passes.
  std::int64_t microseconds(StageTimer stage) const;

  // "stage cpu us: messages=N decode=U open=U ... route=U", the form the
  // benchmark parses (cumulative microseconds since start).
  std::string describe() const;

 private:
  void add(StageTimer stage, std::int64_t cpu_ns, std::uint64_t passes) {
    const auto i = static_cast<std::size_t>(stage);
    ns_[i] += cpu_ns;
    ++timed_[i];
    passes_[i] += passes;
  }

  std::array<std::int64_t, kStageTimerCount> ns_{};      // of the timed passes
  std::array<std::uint64_t, kStageTimerCount> timed_{};  // passes timed
  std::array<std::uint64_t, kStageTimerCount> passes_{}; // passes, timed or not
  std::uint64_t messages_ = 0;
};

// Whether this thread times its next pass through `stage`: its first pass,
// then each with a chance of one in kStageSampleEvery (a per-thread
// xorshift, not a system call).
bool time_this_pass(StageTimer stage);

// One pass through a stage: on a sampled pass, adds the thread CPU time from
// its construction to its destruction; on the others, only counts the pass.
class ScopedStageTimer {
 public:
  ScopedStageTimer(StageTimes& times, StageTimer stage)
      : times_(times), stage_(stage), started_ns_(time_this_pass(stage) ? StageTimes::thread_cpu_ns() : -1) {}
  ~ScopedStageTimer() {
    if (started_ns_ < 0) {
      times_.add_untimed(stage_);
    } else {
      times_.add(stage_, StageTimes::thread_cpu_ns() - started_ns_);
    }
  }
  ScopedStageTimer(const ScopedStageTimer&) = delete;
  ScopedStageTimer& operator=(const ScopedStageTimer&) = delete;

 private:
  StageTimes& times_;
  StageTimer stage_;
  std::int64_t started_ns_;
};

}  // namespace fpx::broker
