// The broker loop's state, shared by the files that each handle one kind of
// input (handle_*.cpp, zap_handler.cpp, deliver.cpp). Private to broker/.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include <zmq.hpp>

#include "fpx/broker/broker.hpp"
#include "fpx/broker/enrollment.hpp"
#include "fpx/broker/receipt_group.hpp"
#include "fpx/broker/stages.hpp"
#include "fpx/broker/wire_frames.hpp"
#include "fpx/envelope.hpp"
#include "fpx/process_statistics.hpp"

namespace fpx::broker {

// One certificate's live connection: a participant's own certificate or one
// of its officers'. Officers' sessions coexist; a newer connection of the
// same certificate (a reconnect) takes over the older one.
struct Session {
  ParticipantId participant;
  std::string officer;               // empty: the participant's own certificate
  CurvePublicKey certificate_key{};  // the certificate's CURVE key: one session per certificate
  std::string routing_id;
  std::uint64_t last_pushed = 0;                    // highest pending delivery id sent in this session
  std::map<std::uint64_t, std::int64_t> in_flight;  // delivery id -> sent at, unconfirmed
  bool caught_up = false;                           // has been sent what colleagues confirmed before it connected
};

// "ne.focal-point" for a participant's own certificate, "ne.focal-point/amadou"
// for an officer's: the principal of audit rows and log lines.
std::string principal_label(const ParticipantId& participant, const std::string& officer);

// Sessions one participant may make the broker hold at once: each holds an
// in-flight window, resend timers and a catch-up read, so a participant
// enrolling (or an operator mistakenly enrolling) many officer certificates
// cannot grow the broker's memory and work without end. A connection over
// the limit is refused with `unavailable`; reconnects of a certificate that
// holds a session never count twice.
inline constexpr std::size_t kMaxSessionsPerParticipant = 32;
// An officer's new session is sent at most this many of the deliveries its
// colleagues already confirmed (the newest, still within their hold time),
// so that each officer sees what came in while it was away without a
// reconnect replaying a whole month of traffic.
inline constexpr std::size_t kMaxCatchUpDeliveries = 256;
// ZAP metadata property naming the connection's certificate (its CURVE key,
// Z85): the User-Id names the participant, this names which certificate.
inline constexpr const char* kCertificateProperty = "Fpx-Certificate";

inline constexpr const char* kObserversZapDomain = "fpx-observers";
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
// Refusals of one principal, stage and kind in this window share one summary audit row.
inline constexpr std::int64_t kRateLimitAuditWindowMs = 1'000;

// "accepted 12, duplicates 0, refused 3 (rate_limited 1), ..." for the log.
std::string describe_counters(const BrokerCounters& counters);

// "acknowledged (routine); response due 2026-12-27 10:00" for status replies.
std::string describe_lifecycle(const LifecycleRow& row);

// Something to send once the batch's transaction is durable.
struct Outgoing {
  std::string routing_id;
  Bytes frame;
  std::uint64_t request_id = 0;  // the request it answers; 0 for deliveries and notices
  std::optional<GroupLeaf> receipt = std::nullopt;  // set: `frame` is this leaf's receipt, encoded after the seal
};

// The handling rules a broker notice carries: those of the message whose
// facts it repeats (a hit repeats a request's), so they travel with them.
struct NoticeHandling {
  std::vector<wire::HandlingCode> codes{wire::HandlingCode::H0_CRIME_FIGHTING_ONLY};
  std::string conditions;  // the H3 conditions, verbatim
};

struct Broker::Impl {
  Impl(BrokerConfig config_in, Clock clock_in, Identity identity_in, TrustStore trust_in, Enrollment enrollment_in,
       std::unique_ptr<Store> store_in);

  // --- set-up (socket_setup.cpp) ---
  Status bind_sockets();

  // --- the loop (broker.cpp) ---
  Status poll_once(std::chrono::milliseconds timeout, int signal_fd);
  Status reload();
  void process_batch();
  void run_timers();
  void send(const std::string& routing_id, const Bytes& frame);

  // --- one inbound message (handle_*.cpp) ---
  // One message taken from the socket, decoded before the batch's transaction
  // begins (decoding needs no store, and tells whether the batch must be durable).
  struct Inbound {
    std::string routing_id;
    std::string user_id;
    std::optional<CurvePublicKey> certificate_key;  // from kCertificateProperty
    std::size_t frame_count = 0;
    std::size_t payload_bytes = 0;
    std::optional<Result<ClientRequest>> request;  // nullopt: not decoded (refused at accept)
  };
  Inbound take_inbound(std::vector<zmq::message_t>& frames);
  void handle_inbound(Inbound& inbound);
  void handle_submit(const EnrolledParticipant& principal, std::uint64_t request_id, const Bytes& envelope,
                     const std::string& routing_id);
  void handle_confirm(const EnrolledParticipant& principal, const ClientRequest& request);
  void handle_status(const EnrolledParticipant& principal, const ClientRequest& request,
                     const std::string& routing_id);
  void refuse(const std::string& routing_id, std::uint64_t request_id, const std::string& principal,
              const std::optional<MessageId>& about, const char* stage, const Error& error,
              std::uint32_t retry_after_ms = 0);
  void audit(const std::string& principal, const std::optional<MessageId>& about, const char* stage,
             ErrorCode outcome, std::string detail);
  // rate_limited: answered like any refusal, audited through rate_limit_audit.
  void refuse_rate_limited(const std::string& routing_id, std::uint64_t request_id, const std::string& principal,
                           const Error& error, std::uint32_t retry_after_ms);
  // From the timers: one audit row per flooded window ended by `ended_by_ms`.
  void report_rate_limit_summaries(std::int64_t ended_by_ms);
  void flush_audit_at_stop();  // a clean stop writes what the timers would have
  // One log line with every counter: each minute when they changed, and at stop.
  void log_counters(bool always);

  // --- sessions and deliveries (deliver.cpp) ---
  // nullptr: the participant holds kMaxSessionsPerParticipant sessions already.
  Session* attach_session(const EnrolledCertificate& certificate, const std::string& routing_id);
  void push_deliveries(const ParticipantId& participant);
  void push_to_session(Session& session);
  void resend_overdue();
  // A session whose peer is gone (EHOSTUNREACH): forgotten, its deliveries wait in the store.
  void drop_session(const std::string& routing_id);
  // After a committed confirmation: no session of the participant resends these.
  void leave_in_flight(const ParticipantId& participant, const std::vector<std::uint64_t>& delivery_ids);
  std::string session_label(const std::string& routing_id) const;

  // --- ZAP and transport events (zap_handler.cpp) ---
  void handle_zap_requests();
  void handle_monitor_events(zmq::socket_t& events);  // either endpoint's handshake failures
  void report_handshake_failures();  // from the timers: a log line and an audit row, rate-limited

  // --- tracing workflow (workflow.cpp) ---
  Status apply_workflow(const OpenedEnvelope& opened, const EnrolledParticipant& principal,
                        const std::vector<ParticipantId>& recipients);
  Result<MessageId> issue_notice(wire::MessageType type, const std::vector<ParticipantId>& recipients,
                                 const std::optional<MessageId>& in_reply_to,
                                 const std::function<void(wire::Body::Builder)>& fill,
                                 const NoticeHandling& handling = {});
  Status share_forwarded_request(const OpenedEnvelope& forward);
  // One audit row (stage "enrol") per certificate the enrolment refused.
  void audit_enrollment_refusals();
  void close_sessions_no_longer_enrolled();  // after a reload
  void run_clock_scan();
  std::vector<ParticipantId> focal_points_of(const CountryCode& country) const;

  // --- oversight (publish.cpp, observer_endpoint.cpp) ---
  // as_leaf: the record is also the log's next leaf (statistics, reveals).
  Status publish_record(const std::string& kind, nlohmann::json record, bool as_leaf = false);
  Status publish_message(const OpenedEnvelope& opened, const InsertedMessage& inserted);
  void publish_checkpoint_if_grown();
  // Statistics of one period (publish_statistics.cpp): the lifecycle rows
  // behind them, what was published, and the record's feed sequence (0:
  // the period had no tracing and nothing was published).
  struct PeriodStatistics {
    std::int64_t start_ms = 0;
    std::vector<LifecycleRow> rows;
    std::vector<stats::PublishedPair> pairs;
    std::uint64_t feed_sequence = 0;
  };
  Status publish_due_statistics();
  // Whether a period has ended or an embargo is over: read without a
  // transaction, so that an idle broker makes no durable commit for nothing.
  Result<bool> statistics_due();
  // The start of the oldest period of `period` not yet published; none before any tracing.
  Result<std::optional<std::int64_t>> first_unpublished_period(const StatisticsPeriod& period);
  Result<PeriodStatistics> publish_statistics(const StatisticsPeriod& period, std::int64_t start_ms, bool final);
  Status reveal_statistics(const StatisticsPeriod& period, const PeriodStatistics& statistics);
  void process_observer_requests();
  Bytes answer_observer(const EnrolledParticipant& observer, const ObserverQuery& query);
  Bytes build_observer_reply(const EnrolledParticipant& observer, const ObserverQuery& query);
  void note_observer_reply_dropped(const std::string& principal);
  Bytes refuse_observer(const std::string& principal, std::uint64_t request_id, const Error& error);

  StageContext stage_context();

  BrokerConfig config;
  Clock clock;
  Identity identity;
  TrustStore trust;
  EnvelopeOpener opener;
  Enrollment enrollment;
  std::unique_ptr<Store> store;
  RateLimiter rate_limiter;
  RefusalTally rate_limit_audit;  // every refusal kind, not only rate_limited
  ByteBudget observer_reply_budget;
  ByteBudget inbound_bytes;  // limits.bytes_per_second: bytes of every participant frame
  DailyQuota daily_quota;    // limits.quota_bytes_per_day
  BrokerCounters counters;

  zmq::context_t context;
  zmq::socket_t zap;      // REP on inproc://zeromq.zap.01
  zmq::socket_t router;   // participants endpoint
  zmq::socket_t monitor;  // PAIR: the router's handshake events
  zmq::socket_t observers;  // observers endpoint: read requests only
  zmq::socket_t observers_monitor;  // PAIR: the observers endpoint's handshake events
  std::string bound_endpoint;
  std::string observers_bound_endpoint;

  std::map<CurvePublicKey, Session> sessions;  // by certificate (CURVE key)
  std::map<std::string, CurvePublicKey> session_by_routing_id;
  std::map<ParticipantId, std::set<CurvePublicKey>> sessions_of;  // a participant's live sessions
  // Connections whose session a newer one took over: they stay closed.
  std::set<std::string> closed_routing_ids;

  // Messages read from the router that did not fit their connection's share
  // of a batch (limits.batch_share): they lead the next batch. Like
  // messages still in ZeroMQ's queues, nothing of them is stored yet: if the
  // broker stops first they go unanswered, and their clients resend.
  std::deque<std::vector<zmq::message_t>> backlog;

  // Filled while a batch runs, acted on after its commit.
  std::vector<Outgoing> outgoing;
  ReceiptGroup receipts{identity};  // this batch's receipted messages, signed once before the commit
  std::set<ParticipantId> push_after_commit;
  std::map<ParticipantId, std::vector<std::uint64_t>> confirmed_after_commit;  // leave the in-flight window
  std::vector<AuditEntry> deferred_audit;         // e.g. ZAP refusals, written with the next transaction
  std::vector<std::uint64_t> delivered_marks;     // deliveries sent, recorded with the next transaction
  std::map<std::string, std::int64_t> zap_refusal_logged;  // key -> last audited, bounds audit growth

  std::int64_t now_ms = 0;  // the clock, read once per batch
  std::int64_t next_timer_ms = 0;
  std::int64_t next_dead_letter_scan_ms = 0;
  std::int64_t next_clock_scan_ms = 0;
  std::int64_t next_log_checkpoint_ms = 0;
  std::int64_t next_statistics_ms = 0;
  std::int64_t next_crl_warning_ms = 0;
  std::int64_t next_counters_log_ms = 0;
  std::string last_counters_logged;
  std::int64_t last_handshake_report_ms = 0;
  std::int64_t last_zap_audit_ms = 0;
  std::uint64_t handshake_failures_unreported = 0;
  bool stopping = false;
};

}  // namespace fpx::broker
