// The oversight publisher: the public side of "account". Allow-listed feed
// records, signed checkpoints of the transparency log, process statistics,
// and the answers of the observers' read-only endpoint (whose socket the
// loop owns and lends here). Writes into the loop's open transaction.
// Private to broker/.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include <zmq.hpp>

#include "admission.hpp"
#include "fpx/broker/broker.hpp"
#include "fpx/broker/config.hpp"
#include "fpx/broker/enrollment.hpp"
#include "fpx/broker/store.hpp"
#include "fpx/frames.hpp"
#include "fpx/envelope.hpp"
#include "fpx/identity.hpp"
#include "fpx/process_statistics.hpp"
#include "fpx/public_records.hpp"
#include "loop_clock.hpp"
#include "pending_writes.hpp"
#include "statistics_worker.hpp"
#include "witness_requests.hpp"

namespace fpx::broker {

// What one observer may make the broker send: a page of 1 MiB a second on
// average, 8 MiB at once (feeds and proofs a real observer reads in seconds).
inline constexpr double kObserverReplyBytesPerSecond = 1024.0 * 1024;
inline constexpr double kObserverReplyBurstBytes = 8.0 * 1024 * 1024;
// Replies queued per observer connection (ZeroMQ's send queue): a client may
// have half this many requests outstanding (ZeroMQ learns what the peer read
// in steps of half the queue); a reply that finds the queue full is dropped,
// counted and audited (docs/PROTOCOL.md §11). With the byte budget above, a
// connection that never reads holds at most this many pages.
inline constexpr int kObserverSendQueue = 64;
// Requests queued per observer connection before the broker reads them.
inline constexpr int kObserverReceiveQueue = 64;
// Largest frame the observers endpoint takes off the wire (disconnects beyond).
inline constexpr std::int64_t kObserverMaxFrameBytes = 64 * 1024;
// Frames the loop takes off the observers socket a second, all observers
// together (and at most as many at once). Issue 14: muted or not, a
// connection flooding undecodable requests made the broker receive (and
// ZeroMQ decrypt) about 430,000 frames a second, the CPU every participant
// waits for (the victim's p99 4.8x). Past this budget the socket is left out
// of the poll until the budget refills, so ZeroMQ's receive queue (64 per
// connection) fills and TCP holds the flood back at the flooder's end. Real
// observers ask a few requests a second each (the token bucket allows 200):
// fair queueing gives each connection its turn within the budget.
inline constexpr double kObserverFramesPerSecond = 2'000;
inline constexpr double kObserverFramesBurst = 2'000;

// Whether the timer transaction that signed a checkpoint was committed.
enum class CommitOutcome { committed, rolled_back };

// Whether an observer's connection is still there: a probe frame its client
// ignores, whose send fails at once for a peer that is gone (ConnectionCap).
bool observer_still_there(zmq::socket_t& observers, const std::string& routing_id);

class OversightPublisher {
 public:
  OversightPublisher(const BrokerConfig& config, Store& store, const Identity& identity, const Enrollment& enrollment,
                     Admission& admission, BrokerCounters& counters, PendingWrites& pending, const LoopClock& clock)
      : config_(config),
        store_(store),
        identity_(identity),
        enrollment_(enrollment),
        admission_(admission),
        counters_(counters),
        pending_(pending),
        clock_(clock),
        observer_reply_budget_(kObserverReplyBytesPerSecond, kObserverReplyBurstBytes) {
    if (!config_.witnesses.empty()) {
      witnesses_ = std::make_unique<WitnessRequests>(config_.witnesses,
                                                     std::chrono::milliseconds(config_.oversight.witness_timeout_ms));
      witness_sizes_.assign(config_.witnesses.size(), 0);
    }
  }

  // account: the public record of an accepted message, if it has one.
  Status publish_message(const OpenedEnvelope& opened, const InsertedMessage& inserted);
  // From the timers: a signed checkpoint when the log grew.
  void publish_checkpoint_if_grown();
  // After the transaction that held publish_checkpoint_if_grown: a
  // checkpoint that is now durable goes to the witnesses (never one that may
  // still be rolled back: its size could be signed again with another root).
  void checkpoint_committed(CommitOutcome outcome);
  // Each timer turn, before its transaction, on the loop thread: takes the
  // witnesses' answers (never waits), asks again where a witness needs a
  // proof from another size, and says whether cosignatures wait to be
  // published (publish_cosignatures, in the turn's transaction).
  bool collect_cosignatures();
  Status publish_cosignatures();
  // The note served for `latest` (latestCheckpoint, logProof): with the
  // cosignatures its witnesses returned, once they came.
  std::string served_checkpoint_note(const CheckpointRow& latest) const;
  // Whether a period has ended or an embargo is over, or the statistics
  // thread has a period's result: read without a transaction, so that an
  // idle broker makes no durable commit for nothing.
  Result<bool> statistics_due();
  // In the loop's transaction: writes the record of a period the statistics
  // thread has finished, records empty periods, and hands the next period
  // with tracings to the statistics thread (never solves on the loop).
  Status publish_due_statistics();
  // Answers what waits on the observers socket (a bounded number per turn,
  // and kObserverFramesPerSecond over all turns).
  void answer_observers(zmq::socket_t& observers);
  // Whether the loop may read the observers socket now (its frame budget
  // holds a frame): when not, the loop leaves the socket out of its poll.
  bool may_read_observers();

 private:
  // Numbers, signs and appends a record (and, for every kind but the
  // checkpoints, its own leaf: records::is_leaf_kind), encoded by the one
  // codec of protocol/fpx/public_records.hpp.
  Status publish_record(records::PublicRecord record);
  // Issue 12: the public-alert-status record of a cancel whose alert is on the feed.
  Status publish_alert_cancelled(const OpenedEnvelope& opened, const records::MessageLeaf& message);
  // The start of the oldest period of `period` not yet published; none before any tracing.
  Result<std::optional<std::int64_t>> first_unpublished_period(const StatisticsPeriod& period);
  // One period's tables from the store, for the statistics thread; none when
  // the period had no tracing (publish_statistics.cpp).
  Result<std::optional<SuppressionJob>> prepare_statistics(const StatisticsPeriod& period, std::int64_t start_ms);
  // The record of a suppressed period, final; its feed sequence.
  Result<std::uint64_t> write_statistics(const StatisticsPeriod& period, const SuppressionResult& done);
  // The period's run, in the transaction that wrote its record (0: none).
  Status record_statistics_run(const StatisticsPeriod& period, std::int64_t start_ms, std::uint64_t sequence);
  Bytes answer_observer(const EnrolledParticipant& observer, const ObserverQuery& query);
  Bytes build_observer_reply(const EnrolledParticipant& observer, const ObserverQuery& query);
  void note_observer_reply_dropped(const std::string& principal);
  Bytes refuse_observer(const std::string& principal, std::uint64_t request_id, const Error& error);
  // kObserverFramesPerSecond as a token bucket: frames it may still read.
  double observer_frames_ = kObserverFramesBurst;
  std::int64_t observer_frames_updated_ms_ = 0;
  // An undecodable request: its refusal to send, or none (counted, not
  // answered); bounded per observer, all its connections together.
  std::optional<Bytes> refuse_undecodable(const std::string& principal, const Error& error);
  std::int64_t now_ms() const { return clock_.now_ms(); }

  // One checkpoint being cosigned: who has yet to answer, what came back.
  struct WitnessRound {
    std::uint64_t tree_size = 0;
    Sha256Digest root{};
    std::string note;                  // the log's note, then with each cosignature added
    std::vector<bool> pending = {};    // per witness: asked, not answered yet
    std::vector<bool> asked_again = {};  // per witness: one more request from the size of its 409
    std::vector<std::string> signed_by = {};
    bool published = false;
    std::int64_t asked_at_ms = 0;  // when the loop handed it to the witnesses
    bool logged = false;           // its outcome logged (once)
  };
  void start_witness_round(std::uint64_t tree_size, const Sha256Digest& root, std::string note);
  void ask_witness(std::size_t index, const WitnessRound& round);

  const BrokerConfig& config_;
  Store& store_;
  const Identity& identity_;
  const Enrollment& enrollment_;
  Admission& admission_;
  BrokerCounters& counters_;
  PendingWrites& pending_;
  const LoopClock& clock_;
  ByteBudget observer_reply_budget_;
  StatisticsWorker statistics_worker_;  // last: its thread stops before the rest goes
  // Null without [[witnesses]].
  std::unique_ptr<WitnessRequests> witnesses_;
  std::vector<std::uint64_t> witness_sizes_;  // the size each witness last cosigned (as far as we know)
  bool witnesses_started_ = false;            // the checkpoint held at start was handed to them
  std::optional<WitnessRound> checkpoint_to_witness_;  // signed in the open transaction
  std::optional<WitnessRound> round_;                  // the checkpoint the witnesses are asked about
  std::optional<WitnessRound> unpublished_;            // an older round's cosignatures, to publish
  std::optional<std::pair<std::uint64_t, std::string>> served_;  // tree size, cosigned note
};

}  // namespace fpx::broker
