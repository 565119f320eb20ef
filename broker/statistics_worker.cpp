#include "statistics_worker.hpp"

#include <chrono>

#include "secondary_suppression.hpp"

namespace fpx::broker {

StatisticsWorker::StatisticsWorker() : thread_([this](std::stop_token stop) { run(stop); }) {}

StatisticsWorker::~StatisticsWorker() {
  thread_.request_stop();
  wake_.notify_all();
}  // jthread joins here

bool StatisticsWorker::busy() const {
  std::lock_guard lock(mutex_);
  return busy_;
}

bool StatisticsWorker::result_ready() const {
  std::lock_guard lock(mutex_);
  return result_.has_value();
}

bool StatisticsWorker::submit(SuppressionJob job) {
  {
    std::lock_guard lock(mutex_);
    if (busy_) return false;
    busy_ = true;
    job_ = std::move(job);
  }
  wake_.notify_one();
  return true;
}

std::optional<SuppressionResult> StatisticsWorker::take_result() {
  std::lock_guard lock(mutex_);
  if (!result_) return std::nullopt;
  std::optional<SuppressionResult> taken = std::move(result_);
  result_.reset();
  busy_ = false;
  return taken;
}

void StatisticsWorker::run(std::stop_token stop) {
  for (;;) {
    SuppressionJob job;
    {
      std::unique_lock lock(mutex_);
      if (!wake_.wait(lock, stop, [this] { return job_.has_value(); })) return;  // stop requested
      job = std::move(*job_);
      job_.reset();
    }
    const auto began = std::chrono::steady_clock::now();
    auto secondary = protect_tables(job.tables, job.threshold, job.protection, stop);
    if (secondary && !job.warnings.cells.empty()) {
      auto warnings = protect_tables(job.warnings, job.threshold, job.protection, stop);
      secondary = warnings ? Result<std::size_t>(*secondary + *warnings) : std::move(warnings);
    }
    release_solver_thread_state();  // every problem of this run is gone; GLPK's memory goes too
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - began;
    {
      std::lock_guard lock(mutex_);
      result_.emplace(SuppressionResult{std::move(job), std::move(secondary), took.count()});
    }
    if (stop.stop_requested()) return;
  }
}

}  // namespace fpx::broker
