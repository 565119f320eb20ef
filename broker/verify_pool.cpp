// The verify workers (verify_pool.hpp): each thread verifies the jobs its
// PAIR socket brings, in order, with an opener over a TrustStore of its own
// (its chain cache is written by every verification, so it is never shared).
#include "verify_pool.hpp"

#include <cstring>
#include <functional>
#include <string>

#include <kj/exception.h>
#include <spdlog/spdlog.h>
#include <zmq_addon.hpp>

namespace fpx::broker {

namespace {

// The first frame of every message from the loop to a worker.
enum class WorkerCommand : std::uint8_t {
  verify = 1,         // second frame: a VerifyJobs pointer; answered with it
  replace_trust = 2,  // second frame: a TrustStore pointer; not answered
  stop = 3,           // not answered: the worker closes its socket and ends
};

// One worker's share of a batch, in the order sent.
using VerifyJobs = std::vector<std::unique_ptr<VerifyJob>>;

std::string worker_endpoint(std::size_t worker) { return "inproc://fpx-verify-" + std::to_string(worker); }

// A heap value's address as a frame. The caller keeps ownership until the
// send succeeded (then releases it): a failed send leaks nothing.
template <typename T>
zmq::message_t pointer_frame(const std::unique_ptr<T>& owned) {
  T* raw = owned.get();
  return zmq::message_t(&raw, sizeof raw);
}

// Ownership back from a frame made by pointer_frame.
template <typename T>
std::unique_ptr<T> take_pointer(const zmq::message_t& frame) {
  T* raw = nullptr;
  if (frame.size() != sizeof raw) return nullptr;  // cannot happen: only this file writes these sockets
  std::memcpy(&raw, frame.data(), sizeof raw);
  return std::unique_ptr<T>(raw);
}

zmq::message_t command_frame(WorkerCommand command) {
  const auto byte = static_cast<std::uint8_t>(command);
  return zmq::message_t(&byte, 1);
}

// Both ends hold at most one message per dispatch (a batch's jobs travel
// in one): no high-water mark all the same, so that the loop's sends can
// never block while the worker blocks on its replies.
void unbounded(zmq::socket_t& socket) {
  socket.set(zmq::sockopt::sndhwm, 0);
  socket.set(zmq::sockopt::rcvhwm, 0);
  socket.set(zmq::sockopt::linger, 0);
}

// One worker thread's life: connect, then verify until told to stop.
void run_worker(zmq::context_t& context, std::string endpoint, const BrokerConfig& config,
                const Enrollment& enrollment, TrustStore trust) {
  // The opener keeps a reference to `trust`: a replacement is move-assigned
  // into the same object, so the reference stays good.
  EnvelopeOpener opener(trust);
  try {
    zmq::socket_t socket(context, zmq::socket_type::pair);
    unbounded(socket);
    socket.connect(endpoint);
    for (;;) {
      std::vector<zmq::message_t> frames;
      if (!zmq::recv_multipart(socket, std::back_inserter(frames))) continue;
      if (frames.empty() || frames[0].size() != 1) continue;  // cannot happen: only the pool writes here
      const auto command = static_cast<WorkerCommand>(*frames[0].data<std::uint8_t>());
      if (command == WorkerCommand::stop) return;
      if (frames.size() != 2) continue;
      if (command == WorkerCommand::replace_trust) {
        if (auto replacement = take_pointer<TrustStore>(frames[1])) trust = std::move(*replacement);
        continue;
      }
      auto jobs = take_pointer<VerifyJobs>(frames[1]);
      if (!jobs) continue;
      for (auto& job : *jobs) {
        try {
          // The enrolment is read without a lock: the loop waits in collect()
          // while any job is out, and changes it only between batches.
          verify_submission(VerifyContext{config, opener, enrollment, job->now_ms}, job->submission, job->times);
          job->outcome = VerifyOutcome::verified;
        } catch (const kj::Exception&) {
          job->outcome = VerifyOutcome::threw;
        } catch (const std::exception&) {
          job->outcome = VerifyOutcome::threw;
        }
      }
      auto reply = pointer_frame(jobs);
      socket.send(reply, zmq::send_flags::none);
      (void)jobs.release();  // the loop owns them again
    }
  } catch (const zmq::error_t& error) {
    // Only when the context ends under the worker, which the pool's
    // destructor prevents by stopping the workers first.
    spdlog::error("verify worker {}: {}", endpoint, error.what());
  }
}

}  // namespace

struct VerifyPool::Worker {
  zmq::socket_t loop_end;        // PAIR, bound; used by the loop thread only
  VerifyJobs queued;             // sent, not yet dispatched
  std::size_t outstanding = 0;   // messages of jobs dispatched and not yet collected
  std::thread thread;
};

VerifyPool::VerifyPool(const BrokerConfig& config, std::vector<std::unique_ptr<Worker>> workers)
    : config_(config), workers_(std::move(workers)) {}

Result<std::unique_ptr<VerifyPool>> VerifyPool::start(zmq::context_t& context, const BrokerConfig& config,
                                                      const Enrollment& enrollment, std::size_t workers) {
  if (workers == 0 || workers > kMaxVerifyWorkers) {
    return make_error(ErrorCode::internal, "limits.verify_workers must be 1 to " + std::to_string(kMaxVerifyWorkers) +
                                               " for a pool (0 verifies on the loop)");
  }
  std::vector<TrustStore> stores;
  stores.reserve(workers);
  for (std::size_t i = 0; i < workers; ++i) {
    auto trust = TrustStore::load(config.root_ca, config.crl_dir);
    if (!trust) return std::move(trust).take_error();
    stores.push_back(std::move(trust).value());
  }
  std::vector<std::unique_ptr<Worker>> started;
  started.reserve(workers);
  // Built before any thread starts: if a bind fails, the pool's destructor
  // stops the workers already running.
  auto pool = std::unique_ptr<VerifyPool>(new VerifyPool(config, {}));
  for (std::size_t i = 0; i < workers; ++i) {
    auto worker = std::make_unique<Worker>();
    worker->loop_end = zmq::socket_t(context, zmq::socket_type::pair);
    unbounded(worker->loop_end);
    try {
      worker->loop_end.bind(worker_endpoint(i));
    } catch (const zmq::error_t& error) {
      return make_error(ErrorCode::internal,
                        "cannot start verify worker " + std::to_string(i) + ": " + error.what() +
                            "; set limits.verify_workers = 0 to verify on the loop thread, and report it");
    }
    worker->thread = std::thread(run_worker, std::ref(context), worker_endpoint(i), std::cref(config),
                                 std::cref(enrollment), std::move(stores[i]));
    pool->workers_.push_back(std::move(worker));
  }
  return pool;
}

VerifyPool::~VerifyPool() {
  for (auto& worker : workers_) {
    try {
      worker->loop_end.send(command_frame(WorkerCommand::stop), zmq::send_flags::none);
    } catch (const zmq::error_t& error) {
      spdlog::error("verify worker not told to stop: {}", error.what());
    }
  }
  for (auto& worker : workers_) {
    if (worker->thread.joinable()) worker->thread.join();
  }
}

bool VerifyPool::verified_on_loop(const ParticipantId& sender) const {
  return std::hash<std::string>{}(sender.str()) % (workers_.size() + 1) == workers_.size();
}

std::size_t VerifyPool::worker_for(const ParticipantId& sender) const {
  return std::hash<std::string>{}(sender.str()) % workers_.size();
}

void VerifyPool::send(std::unique_ptr<VerifyJob> job) {
  workers_[worker_for(job->submission.principal.id)]->queued.push_back(std::move(job));
}

void VerifyPool::dispatch() {
  for (auto& worker : workers_) {
    if (worker->queued.empty()) continue;
    auto jobs = std::make_unique<VerifyJobs>(std::move(worker->queued));
    worker->queued.clear();
    worker->loop_end.send(command_frame(WorkerCommand::verify), zmq::send_flags::sndmore);
    auto frame = pointer_frame(jobs);
    worker->loop_end.send(frame, zmq::send_flags::none);
    (void)jobs.release();  // the worker owns them until its reply
    ++worker->outstanding;
  }
}

std::vector<std::unique_ptr<VerifyJob>> VerifyPool::collect() {
  dispatch();
  std::vector<std::unique_ptr<VerifyJob>> done;
  // One worker after the other: the wait is the slowest worker's, and a
  // worker that finished early has its replies queued meanwhile.
  for (auto& worker : workers_) {
    for (; worker->outstanding > 0; --worker->outstanding) {
      zmq::message_t reply;
      (void)worker->loop_end.recv(reply, zmq::recv_flags::none);
      if (auto jobs = take_pointer<VerifyJobs>(reply)) {
        for (auto& job : *jobs) done.push_back(std::move(job));
      }
    }
  }
  return done;
}

Result<std::vector<TrustStore>> VerifyPool::load_trust_stores() const {
  std::vector<TrustStore> stores;
  stores.reserve(workers_.size());
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    auto trust = TrustStore::load(config_.root_ca, config_.crl_dir);
    if (!trust) return std::move(trust).take_error();
    stores.push_back(std::move(trust).value());
  }
  return stores;
}

void VerifyPool::replace_trust_stores(std::vector<TrustStore> stores) {
  for (std::size_t i = 0; i < workers_.size() && i < stores.size(); ++i) {
    auto store = std::make_unique<TrustStore>(std::move(stores[i]));
    workers_[i]->loop_end.send(command_frame(WorkerCommand::replace_trust), zmq::send_flags::sndmore);
    auto frame = pointer_frame(store);
    workers_[i]->loop_end.send(frame, zmq::send_flags::none);
    (void)store.release();  // the worker owns it now
  }
}

}  // namespace fpx::broker
