// CSO observers following the public feed while fpx-bench loads the broker
// (fpx-bench --observers N): what following costs the participants.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fpx/observer_client.hpp"

namespace fpx::bench {

// One thread per observer, each as `fpx observe --follow` does: a page
// whenever there is news, else a poll a second; and every 10 s, as a
// periodic `fpx log verify`, the latest checkpoint and its consistency with
// the one before.
class Observers {
 public:
  using Connect = std::function<std::unique_ptr<client::ObserverClient>(int index)>;

  ~Observers();
  // Returns once every observer is connected and has followed once.
  void start(int count, const Connect& connect);
  void stop();

  std::int64_t requests() const { return requests_.load(); }
  std::int64_t failures() const { return failures_.load(); }
  std::string first_error();

 private:
  void follow(int index, const Connect& connect);
  void failed(const std::string& what);

  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<int> following_{0};
  std::atomic<std::int64_t> requests_{0};
  std::atomic<std::int64_t> failures_{0};
  std::mutex mutex_;
  std::string first_error_;
};

}  // namespace fpx::bench
