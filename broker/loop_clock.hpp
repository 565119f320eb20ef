// The loop's clock: read once per batch (and per timer tick), so that every
// stage of a batch judges its messages at the same instant. Private to broker/.
#pragma once

#include <cstdint>
#include <utility>

#include "fpx/broker/broker.hpp"

namespace fpx::broker {

class LoopClock {
 public:
  explicit LoopClock(Clock clock) : clock_(std::move(clock)) {}
  // Reads the clock; now_ms() answers this reading until the next tick.
  std::int64_t tick() {
    now_ms_ = clock_();
    return now_ms_;
  }
  std::int64_t now_ms() const { return now_ms_; }
  // A fresh reading that does not move now_ms() (ZAP and observer answers,
  // which run between batches).
  std::int64_t read() const { return clock_(); }

 private:
  Clock clock_;
  std::int64_t now_ms_ = 0;
};

}  // namespace fpx::broker
