// The witnesses' threads: each waits for a job, asks its witness
// (request_cosignature, clients/witness/), and leaves the answer for the loop.
#include "witness_requests.hpp"

#include "fpx/witness_client.hpp"

namespace fpx::broker {

WitnessRequests::WitnessRequests(std::vector<WitnessConfig> witnesses, std::chrono::milliseconds timeout)
    : timeout_(timeout), answers_(witnesses.size()) {
  for (auto& config : witnesses) workers_.push_back(std::make_unique<Worker>(Worker{std::move(config), {}, {}}));
  for (std::size_t i = 0; i < workers_.size(); ++i) workers_[i]->thread = std::thread([this, i] { run(i); });
}

WitnessRequests::~WitnessRequests() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& worker : workers_) {
    if (worker->thread.joinable()) worker->thread.join();
  }
}

void WitnessRequests::ask(std::size_t index, WitnessJob job) {
  {
    std::lock_guard lock(mutex_);
    workers_[index]->waiting = std::move(job);
  }
  wake_.notify_all();
}

std::vector<WitnessAnswer> WitnessRequests::take_answers() {
  std::vector<WitnessAnswer> taken;
  std::lock_guard lock(mutex_);
  for (auto& slot : answers_) {
    if (slot) taken.push_back(std::move(*slot));
    slot.reset();
  }
  return taken;
}

void WitnessRequests::run(std::size_t index) {
  Worker& worker = *workers_[index];
  const witness::WitnessEndpoint endpoint{worker.config.key, worker.config.url};
  for (;;) {
    WitnessJob job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || worker.waiting.has_value(); });
      if (stopping_) return;
      job = std::move(*worker.waiting);
      worker.waiting.reset();
    }
    // The store belongs to the loop: this thread has only the proof the loop
    // made from the size it believed. A 409 naming another size comes back
    // as needs_proof_from, and the loop asks again with a proof from it.
    std::optional<std::uint64_t> asked_from;
    auto proofs = [&](std::uint64_t old_size, std::uint64_t new_size) -> Result<std::vector<Sha256Digest>> {
      if (old_size == job.old_size && new_size == job.tree_size) return job.proof;
      asked_from = old_size;
      return make_error(ErrorCode::unavailable, "a proof from another size is made by the loop");
    };
    auto result = witness::request_cosignature(endpoint, job.note, proofs, {.old_size = job.old_size, .timeout = timeout_});
    WitnessAnswer answer;
    answer.witness = index;
    answer.tree_size = job.tree_size;
    if (result) {
      answer.outcome = WitnessOutcome::cosigned;
      answer.cosignatures = std::move(result->cosignatures);
      answer.witness_size = result->witness_size;
    } else if (asked_from) {
      answer.outcome = WitnessOutcome::needs_proof_from;
      answer.witness_size = *asked_from;
    } else {
      answer.error = std::move(result).take_error();
    }
    std::lock_guard lock(mutex_);
    answers_[index] = std::move(answer);
  }
}

}  // namespace fpx::broker
