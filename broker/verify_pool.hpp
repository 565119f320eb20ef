// Verification off the loop (DESIGN.md "Threads"): a pool of verify
// workers, each a thread with its own EnvelopeOpener over its own
// TrustStore, talking to the loop over inproc PAIR sockets of the loop's
// ZeroMQ context. A submit goes to the worker chosen by a hash of its
// principal's id, so one sender's submits are verified in order by one
// worker. The loop queues a batch's jobs, dispatches them (one message per
// worker, not one per job: each ZeroMQ message crossing threads costs a
// few microseconds of sends, receives and wake-ups on both ends), then
// collects every one before the batch's transaction begins: no job
// outlives its batch.
//
// Ownership: a VerifyJob (the Submission and what verify needs and
// returns) is a plain value on the heap that travels by pointer, not by
// serialization: the OpenedEnvelope that verify produces holds decoded Cap'n
// Proto buffers and certificates that have no wire form of their own, and a
// copy of every envelope would cost what the pool saves. Exactly one thread
// owns a job at any time: the loop until dispatch()'s send succeeds, the
// worker from its receive until its reply is sent, the loop again from
// collect(). A
// pointer (to the vector of one worker's jobs) sits in a message only
// between those two moments, and since every job sent is collected before
// the transaction (and before a stop), none is ever left in a queue.
// Private to broker/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "fpx/broker/config.hpp"
#include "fpx/broker/enrollment.hpp"
#include "fpx/broker/stage_timers.hpp"
#include "fpx/broker/submission.hpp"
#include "fpx/result.hpp"
#include "fpx/trust_store.hpp"

namespace fpx::broker {

// How a worker's verify of a job ended.
enum class VerifyOutcome {
  verified,  // the submission carries verify's verdict (accepted or refused)
  threw,     // a library threw: the loop verifies it again after admission, where the failure is answered
};

// One submit to verify, and its verdict.
struct VerifyJob {
  std::size_t index = 0;    // the loop's slot for it in the batch
  std::int64_t now_ms = 0;  // the batch's clock reading
  Submission submission;
  VerifyOutcome outcome = VerifyOutcome::threw;
  StageTimes times;  // the worker's thread CPU time on this job, per stage
};

class VerifyPool {
 public:
  // Starts `workers` threads (1..kMaxVerifyWorkers), each with a TrustStore
  // loaded from config.root_ca and config.crl_dir. The workers read `config`
  // and `enrollment` by reference: both belong to the loop, which changes
  // them only while no job is out (a reload runs between batches).
  static Result<std::unique_ptr<VerifyPool>> start(zmq::context_t& context, const BrokerConfig& config,
                                                   const Enrollment& enrollment, std::size_t workers);
  // Stops every worker and joins its thread.
  ~VerifyPool();
  VerifyPool(const VerifyPool&) = delete;
  VerifyPool& operator=(const VerifyPool&) = delete;

  std::size_t size() const { return workers_.size(); }
  // Whether the loop thread verifies `sender`'s submits itself: one shard in
  // size() + 1 is the loop's, so that it verifies, rather than only waits,
  // while the workers verify theirs. The same sender always lands in the
  // same shard, so its order holds wherever it is verified.
  bool verified_on_loop(const ParticipantId& sender) const;
  // The worker that verifies every submit of `sender` not verified on the loop.
  std::size_t worker_for(const ParticipantId& sender) const;

  // Queued for the worker of the job's principal; sent by dispatch() and
  // answered by the next collect().
  void send(std::unique_ptr<VerifyJob> job);
  // Sends each worker its queued jobs, as one message, so that they verify
  // while the loop does something else.
  void dispatch();
  // Exactly the jobs sent since the last collect (dispatched first if they
  // were not), each verified (or failed); blocks until all are back. Per
  // worker in the order sent.
  std::vector<std::unique_ptr<VerifyJob>> collect();

  // SIGHUP, in two steps so that a failure changes nothing: load one fresh
  // TrustStore per worker (root and the CRLs now on disk) ...
  Result<std::vector<TrustStore>> load_trust_stores() const;
  // ... then hand each worker its own, which it takes before its next job
  // (the socket keeps the order), so every submit sent after this call is
  // verified against the new CRLs.
  void replace_trust_stores(std::vector<TrustStore> stores);

  struct Worker;

 private:
  VerifyPool(const BrokerConfig& config, std::vector<std::unique_ptr<Worker>> workers);
  const BrokerConfig& config_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace fpx::broker
