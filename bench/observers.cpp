#include "observers.hpp"

#include <chrono>
#include <optional>

#include "bench_support.hpp"
#include "fpx/transparency_log.hpp"

namespace fpx::bench {

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kPollSlice = std::chrono::milliseconds(50);
constexpr int kSlicesPerPoll = 20;  // a poll a second once caught up, as fpx observe --follow
constexpr auto kVerifyEvery = std::chrono::seconds(10);

}  // namespace

Observers::~Observers() { stop(); }

void Observers::start(int count, const Connect& connect) {
  for (int index = 0; index < count; ++index) {
    threads_.emplace_back([this, index, connect] { follow(index, connect); });
  }
  // Measured only once every observer is connected and following.
  while (following_.load() < count) {
    if (failures_.load() > 0) fail("an observer failed: " + first_error());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void Observers::stop() {
  stop_ = true;
  for (auto& thread : threads_) thread.join();
  threads_.clear();
}

std::string Observers::first_error() {
  std::lock_guard lock(mutex_);
  return first_error_;
}

void Observers::failed(const std::string& what) {
  if (failures_.fetch_add(1) == 0) {
    std::lock_guard lock(mutex_);
    first_error_ = what;
  }
}

void Observers::follow(int index, const Connect& connect) {
  auto observer = connect(index);
  std::uint64_t next = 1;
  std::optional<Checkpoint> verified;
  // Staggered, so the checkpoint requests do not all come at once.
  auto next_verify = Clock::now() + std::chrono::milliseconds(100 * (index % 100));
  bool counted = false;
  while (!stop_) {
    auto page = observer->follow(next);
    ++requests_;
    if (!page) return failed("follow: " + page.error().describe());
    next = page->next_sequence;
    if (!counted) {
      counted = true;
      ++following_;
    }
    if (Clock::now() >= next_verify) {
      next_verify = Clock::now() + kVerifyEvery;
      auto head = observer->latest_checkpoint();
      ++requests_;
      if (head && verified && verified->size != 0 && verified->size < head->checkpoint.size) {
        auto proof = observer->consistency_proof(verified->size, head->checkpoint.size);
        ++requests_;
        if (!proof || !verify_consistency(verified->size, head->checkpoint.size, verified->root,
                                          head->checkpoint.root, *proof)) {
          return failed("a consistency proof did not verify");
        }
      }
      if (head) verified = head->checkpoint;
    }
    if (!page->records.empty()) continue;  // more may be waiting
    for (int slice = 0; slice < kSlicesPerPoll && !stop_; ++slice) std::this_thread::sleep_for(kPollSlice);
  }
}

}  // namespace fpx::bench
