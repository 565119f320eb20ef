// The broker's loop: owns the sockets and wires the components that own
// the loop's state. Private to broker/.
//
//   ZapGate            ZAP answers, handshake failures        zap_gate.cpp
//   Admission          token bucket, byte budget, quota,      admission.cpp
//                      refusals and their audit
//   SessionRouter      sessions, deliveries, resends, sends   session_router.cpp
//   Workflow           tracing lifecycle, clocks, notices     workflow.cpp
//   OversightPublisher feed, checkpoints, statistics,         publish*.cpp, observer_endpoint.cpp
//                      observers' answers
//   Timers             what runs when                         timers.cpp
//
// A submitted message goes through the stages as a Submission value
// (fpx/broker/submission.hpp) in two phases per batch: verify (pure,
// before the transaction; the part a worker pool can take) and commit (in
// the batch's transaction, in arrival order). Verify runs on the
// VerifyPool's threads (verify_pool.hpp) while this one waits. Replies and deliveries leave
// after the commit is durable, from this thread only: the commit's sync runs
// on the CommitPipeline's thread (commit_pipeline.hpp) while this one takes
// and verifies the next batch.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "admission.hpp"
#include "commit_pipeline.hpp"
#include "after_commit.hpp"
#include "fpx/broker/broker.hpp"
#include "fpx/broker/enrollment.hpp"
#include "fpx/broker/stage_timers.hpp"
#include "fpx/broker/stages.hpp"
#include "fpx/broker/submission.hpp"
#include "fpx/frames.hpp"
#include "fpx/envelope.hpp"
#include "loop_clock.hpp"
#include "oversight_publisher.hpp"
#include "pending_writes.hpp"
#include "session_router.hpp"
#include "timers.hpp"
#include "verify_pool.hpp"
#include "workflow.hpp"
#include "zap_gate.hpp"

namespace fpx::broker {

// "accepted 12, duplicates 0, refused 3 (rate_limited 1), ..." for the log.
std::string describe_counters(const BrokerCounters& counters);

struct Broker::Impl {
  Impl(BrokerConfig config_in, Clock clock_in, Identity identity_in, TrustStore trust_in, Enrollment enrollment_in,
       std::unique_ptr<Store> store_in);

  // --- set-up (socket_setup.cpp) ---
  Status bind_sockets();

  // --- the loop (broker.cpp) ---
  Status poll_once(std::chrono::milliseconds timeout, int signal_fd);
  Status reload();
  // A batch in two steps, so that the next one is taken and verified while
  // the last one's sync runs: gather (read, decode, verify ahead: no store)
  // and commit (the transaction; its sync, pipelined when the store can).
  // Gathering starts a batch or adds to the one gathered while a sync runs.
  void gather_batch();
  // Whether the loop should read the router now: no batch gathered yet, or
  // one that may still grow while the last batch's sync runs.
  bool may_gather() const;
  // Whether the gathered batch waits a little longer for company
  // (timing.group_commit_wait_ms) before its transaction begins.
  bool commit_waits();
  void commit_batch();
  // The pipelined sync came back: act on the batch it made durable.
  void finish_sync();
  // At stop: the batch waiting for its sync and the one gathered, answered.
  void drain_pipeline();
  void run_timers();
  // One audit row (stage "enrol") per certificate the enrolment refused.
  void audit_enrollment_refusals();
  void flush_audit_at_stop();  // a clean stop writes what the timers would have
  // One log line with every counter (and one with the stages' CPU time):
  // each minute when they changed, and at stop.
  enum class Repeat { when_changed, always };
  void log_counters(Repeat repeat);
  // The metrics (publish_metrics.cpp): counters and gauges each tick; the
  // delivery latencies of a committed batch's confirmations.
  void publish_metrics();
  void observe_delivery_latency();

  // --- one inbound message (dispatch.cpp, handle_*.cpp) ---
  // One message taken from the socket, decoded before the batch's transaction
  // begins (decoding needs no store, and tells whether the batch must be durable).
  struct Inbound {
    std::string routing_id;
    std::string user_id;
    std::optional<CurvePublicKey> certificate_key;  // from kCertificateProperty
    std::size_t frame_count = 0;
    std::size_t payload_bytes = 0;
    std::optional<Result<ClientRequest>> request;  // nullopt: not decoded (refused at accept)
    std::optional<Submission> submission;          // a submit verified ahead of its admission
  };
  Inbound take_inbound(std::vector<zmq::message_t>& frames);
  // What verify_ahead has counted against each sender's budgets so far in
  // one batch: a batch taken in several reads (gather_batch) is judged as
  // one, so a flooder's later reads cost no verify its budget cannot admit.
  struct VerifyBudgets {
    std::map<ParticipantId, double> tokens_left;
    std::map<ParticipantId, double> bytes_left;
  };
  // Verifies the batch's submits from index `from` on before its transaction
  // (the pure stages), as many per sender as its token bucket will admit.
  void verify_ahead(std::vector<Inbound>& inbound, std::size_t from, VerifyBudgets& budgets);
  // Whether the batch may store a submit, judged at its commit clock (broker.cpp).
  Durability batch_durability(const std::vector<Inbound>& inbound);
  void handle_inbound(Inbound& inbound);
  void handle_submit(const EnrolledParticipant& principal, Inbound& inbound);
  void commit_submission(Submission& submission);
  void handle_confirm(const EnrolledParticipant& principal, const ClientRequest& request);
  void handle_status(const EnrolledParticipant& principal, const ClientRequest& request,
                     const std::string& routing_id);
  // A message's sender asks for its leaf's inclusion proof (handle_log_proof.cpp).
  void handle_log_proof(const EnrolledParticipant& principal, const ClientRequest& request,
                        const std::string& routing_id);
  // A focal point asks for its state's opened statistics facts of a period (handle_statistics_facts.cpp).
  void handle_statistics_facts(const EnrolledParticipant& principal, const ClientRequest& request,
                               const std::string& routing_id);
  // Sends what the batch decided, after its commit (or its rollback).
  void send_after_commit(Status committed);

  StageContext stage_context();
  VerifyContext verify_context() { return VerifyContext{config, opener, enrollment, loop_clock.now_ms()}; }

  BrokerConfig config;
  LoopClock loop_clock;
  Identity identity;
  TrustStore trust;
  EnvelopeOpener opener;
  Enrollment enrollment;
  std::unique_ptr<Store> store;
  BrokerCounters counters;
  BrokerMetrics metrics;  // atomics the metrics thread reads
  StageTimes stage_times;
  PendingWrites pending;     // rows for the next transaction
  AfterCommit after_commit;  // filled while a batch runs, acted on after its commit

  zmq::context_t context;
  zmq::socket_t zap;                // REP on inproc://zeromq.zap.01
  zmq::socket_t router;             // participants endpoint
  zmq::socket_t monitor;            // PAIR: the router's handshake events
  zmq::socket_t observers;          // observers endpoint: read requests only
  zmq::socket_t observers_monitor;  // PAIR: the observers endpoint's handshake events
  std::string bound_endpoint;
  std::string observers_bound_endpoint;
  // The verify workers (limits.verify_workers; null for 0: verify on this
  // thread). After the context: stopped and joined before it ends.
  std::unique_ptr<VerifyPool> verify_pool;
  // The sync thread of the pipelined commit (null: the store has none, and
  // each durable commit is waited for here). After the context and the
  // store: stopped before either ends, never under a running sync.
  std::unique_ptr<CommitPipeline> commit_pipeline;
  // A batch taken and verified, waiting for the previous batch's sync. It
  // grows while that sync runs (gather_batch): everything that arrives
  // during one fsync shares the next one.
  struct GatheredBatch {
    std::vector<std::vector<zmq::message_t>> frames;
    std::vector<Inbound> inbound;
    std::map<std::string, std::size_t> share;  // routing id -> messages in this batch
    VerifyBudgets budgets;
  };
  std::optional<GatheredBatch> gathered;
  // When the last batch that waited for an fsync began its transaction.
  std::chrono::steady_clock::time_point last_durable_commit;
  // A failed sync: committed messages may not be on disk, and a later sync
  // cannot say otherwise. The loop stops serving (commit_pipeline.hpp).
  std::optional<Error> sync_failure;

  // The components, after what they borrow.
  ZapGate zap_gate;
  Admission admission;
  SessionRouter sessions;
  Workflow workflow;
  OversightPublisher publisher;
  ReceiptGroup receipts;  // this batch's receipted messages, signed once before its commit
  Timers timers;

  // Messages read from the router that did not fit their connection's share
  // of a batch (limits.batch_share): they lead the next batch. Like
  // messages still in ZeroMQ's queues, nothing of them is stored yet: if the
  // broker stops first they go unanswered, and their clients resend.
  std::deque<std::vector<zmq::message_t>> backlog;

  std::string last_counters_logged;
  bool stopping = false;
};

}  // namespace fpx::broker
