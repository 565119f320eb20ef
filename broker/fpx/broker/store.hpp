// The broker's durable state behind one small interface, so that a
// PostgreSQL store can be added for replicated deployments without touching
// the stages. The embedded default is SQLite (broker/store/).
//
// One writer: the broker loop owns the store and calls it from one thread.
// Every write happens inside begin()..commit(); commit() returns only when
// the transaction is durable (SQLite WAL, synchronous=FULL), and the loop
// sends receipts only after it. With a CommitSync (below) the loop instead
// commits with Durability::deferred and sends receipts once that sync,
// run on another thread, has returned (the pipelined commit). A batch of many messages shares one commit
// (group commit).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "fpx/ids.hpp"
#include "fpx/result.hpp"
#include "fpx/transparency_log.hpp"
#include "fpx/serial_range.hpp"

namespace fpx::broker {

enum class DeliveryState { stored, delivered, confirmed, dead_letter };
std::string_view delivery_state_name(DeliveryState state);

// One part of a transparency-log leaf (fpx/process_statistics.hpp): part 0
// is the event itself; the others each state one fact about one tracing (a
// requested state's handling of a request), which the reveal finds by it.
struct CommitmentPart {
  Bytes salt;  // 16 random bytes
  std::string metadata;
  std::optional<MessageId> tracing_request;  // set for facts
  CountryCode requested_country;
  std::string fact;  // stats::kFact*
};

// Who stored a message: a participant's submission, whose messages row is
// its acceptance's audit record where the store says so (Store::
// acceptance_record), or a notice the broker issued itself (audited apart).
enum class MessageOrigin { submission, broker_notice };

// Where an ordinary acceptance is on record (issue 15): an audit row of its
// own, or the message's row (sender, officer, stored time, id, type and
// recipient count), read back with the audit rows by `fpx-admin audit export`.
enum class AcceptanceRecord { audit_row, message_row };

struct NewMessage {
  MessageId id;
  Sha256Digest signed_sha256{};  // SHA-256 of header bytes || body bytes: what the signature binds
  Bytes envelope;                // exactly as received
  ParticipantId sender;
  CountryCode sender_country;
  std::string type;              // message_type_name()
  std::int64_t created_at_ms = 0;
  std::optional<MessageId> in_reply_to;
  std::vector<ParticipantId> recipients;  // resolved participants, in routing order
  std::int64_t hold_until_ms = 0;         // undelivered past this: dead letter
  Bytes log_leaf_data;                    // transparency-log leaf over the parts (process_statistics.hpp)
  std::vector<CommitmentPart> log_parts;  // kept sealed, for a reveal after the embargo
  std::string officer;                    // the signer certificate's officer; "" when the participant signed
  MessageOrigin origin = MessageOrigin::submission;
};

struct StoredMessage {
  std::int64_t seq = 0;  // arrival order
  MessageId id;
  Sha256Digest signed_sha256{};
  ParticipantId sender;
  CountryCode sender_country;
  std::string type;
  std::int64_t created_at_ms = 0;
  std::int64_t stored_at_ms = 0;
  std::uint64_t log_index = 0;
};

struct InsertedMessage {
  std::int64_t seq = 0;
  std::uint64_t log_index = 0;
};

struct AuditEntry {
  std::int64_t at_ms = 0;
  std::string principal;                 // authenticated participant id ("id/officer" for an officer), or ""
                                         // before identification
  std::optional<MessageId> message_id;   // when known
  std::string stage;                     // "accept", "open", "authorize", ... or "zap"
  ErrorCode outcome = ErrorCode::none;   // none: accepted
  std::string detail;
};

struct AuditRow : AuditEntry {
  std::int64_t id = 0;
};

struct PendingDelivery {
  std::uint64_t delivery_id = 0;
  MessageId message_id;
  Bytes envelope;
  int attempts = 0;
};

struct DeliveryStatusRow {
  ParticipantId recipient;
  DeliveryState state = DeliveryState::stored;
  std::int64_t updated_at_ms = 0;
  std::string reason;
};

struct DeadLetter {
  std::uint64_t delivery_id = 0;
  MessageId message_id;
  ParticipantId sender;
  ParticipantId recipient;
};

// A duplicate-request key: the first 16 bytes of SHA-256 over a
// domain-separated, normalised identity (stage_duplicate.cpp request_keys).
using RequestKey = std::array<std::uint8_t, 16>;

struct KeyedRequest {
  MessageId request_id;
  std::int64_t submitted_at_ms = 0;
  std::int64_t seq = 0;  // the message row's: ties of one batch's millisecond, newest last stored
};

// One requested state's lifecycle of a tracing request (DOMAIN.md
// "Lifecycle and clocks"). Times are 0 until the step happens.
struct LifecycleRow {
  MessageId request_id;
  CountryCode requested_country;
  ParticipantId requester;
  CountryCode requester_country;
  std::string priority;  // "routine" or "urgent"
  std::string state;     // submitted, delivered, acknowledged, needs_information, supplied, interim,
                         // final, restricted, refused, forwarded, withdrawn, closed
  std::int64_t submitted_at_ms = 0;
  std::int64_t delivered_at_ms = 0;
  std::int64_t acknowledged_at_ms = 0;
  std::int64_t answered_at_ms = 0;  // final, restricted or refused
  std::int64_t closed_at_ms = 0;
  std::int64_t ack_due_ms = 0;
  std::int64_t response_due_ms = 0;
  bool ack_reminded = false;
  bool response_reminded = false;
  std::string outcome;          // the final response's outcome
  std::string refusal_grounds;  // comma-separated grounds of a refusal or restriction
  std::int64_t updated_at_ms = 0;
  // The officer whose signed message acknowledged or answered ("" : the
  // requested focal point's own certificate, or not yet): status names them.
  std::string acknowledged_by;
  std::string answered_by;
};

// One early warning of a cso and its acknowledgement clock (PROTOCOL.md
// §8.5). Times are 0 until the step happens. Never its content: the
// public statistics count these rows per warned state.
struct WarningRow {
  MessageId warning_id;
  CountryCode country;  // the warned state: the cso's own
  ParticipantId sender;
  std::int64_t submitted_at_ms = 0;
  std::int64_t ack_due_ms = 0;
  std::int64_t acknowledged_at_ms = 0;  // the first acknowledgement's arrival
  std::string acknowledged_by;          // its officer, "" for the office's own certificate
  bool reminded = false;
};

// An active stolen/lost alert that lists a serial number.
struct WatchedSerialHit {
  MessageId alert_id;
  CountryCode alert_country;
  std::string serial;
};

// How durable a transaction's commit must be. A transaction that holds an
// accepted message (whose receipt waits on it) is `required`: fsynced before
// commit() returns. Bookkeeping alone (confirmations, delivered marks) is
// `deferred`: it survives a crash of the process, and a power cut loses at
// most those last marks, which only means a delivery is sent again.
enum class Durability { required, deferred };

// One record of the public oversight feed.
struct FeedRow {
  std::uint64_t sequence = 0;
  std::string kind;
  Bytes record;     // JSON text of allow-listed public fields
  Bytes signature;  // broker's Ed25519 over kFeedSignatureContext || record
};

struct CheckpointRow {
  std::uint64_t tree_size = 0;
  Sha256Digest root{};
  std::string note;  // C2SP signed note
  std::int64_t created_at_ms = 0;
};

// A sealed fact part, as the reveal reads it.
struct SealedFact {
  std::uint64_t leaf_index = 0;
  std::uint32_t part = 0;
  std::string fact;
  Bytes salt;
  std::string metadata;
};

struct StatisticsStart {
  std::int64_t first_submission_ms = 0;
  // Statistics cover only periods that begin at or after this: a store
  // upgraded from schema 3 has no facts to reveal before its upgrade.
  std::int64_t since_ms = 0;
};

// One period's statistics on the feed: the record's sequence (0 when the
// period had no tracing and nothing was published).
struct StatisticsRun {
  std::string period;
  std::int64_t start_ms = 0;
  std::uint64_t feed_sequence = 0;
};

// ---- receipt groups ----
struct ReceiptGroupRow {
  Bytes head;            // canonical ReceiptGroupHead, exactly as signed
  Bytes head_signature;  // Ed25519 over kReceiptGroupSignatureContext || head
  std::vector<Sha256Digest> leaves;
};
struct ReceiptMember {
  std::int64_t message_seq = 0;
  std::uint64_t leaf_index = 0;
};
// The pipelined group commit (broker/commit_pipeline.hpp): makes durable
// every transaction this store committed with Durability::deferred before
// sync() was called. Called from a thread other than the store's own, one
// call at a time, while the store's thread goes on with its next
// transaction; destroyed before the store.
class CommitSync {
 public:
  virtual ~CommitSync() = default;
  virtual Status sync() = 0;
};

struct StoredReceiptGroup {
  ReceiptGroupRow group;
  std::uint64_t leaf_index = 0;  // the asked message's leaf
};

// One retention purge (fpx-admin retention run, broker/store/retention.cpp).
struct RetentionPurge {
  std::string type;                  // message_type_name(), e.g. "tracing-request"
  std::string rule;                  // as configured ("5y"), for the audit row
  std::int64_t stored_before_ms = 0;  // now - retention
  std::int64_t now_ms = 0;
  std::size_t limit = 500;           // messages per call (per transaction)
  std::string principal;             // who ran it, for the audit rows
};

class Store {
 public:
  virtual ~Store() = default;

  virtual Status begin(Durability durability = Durability::required) = 0;
  virtual Status commit() = 0;  // durable when it returns ok
  virtual void rollback() = 0;

  // A savepoint inside the current transaction: everything one submitted
  // message writes (a forward's sharing, its rows, receipt, workflow and
  // public record) is kept or undone as one, inside the batch's group commit.
  virtual Status open_savepoint() = 0;
  virtual Status release_savepoint() = 0;
  virtual void rollback_savepoint() = 0;  // undoes its writes and closes it

  virtual Result<std::optional<StoredMessage>> find_message(const MessageId& id) = 0;
  // Message, one delivery row per recipient (state stored) and its
  // transparency-log leaf, all in the current transaction.
  virtual Result<InsertedMessage> insert_message(const NewMessage& message, std::int64_t stored_at_ms) = 0;
  // message_row: insert_message of a submission already records its
  // acceptance, and the broker writes no audit row for it (SQLite, schema 11).
  virtual AcceptanceRecord acceptance_record() const { return AcceptanceRecord::audit_row; }
  // ---- receipt groups (broker/receipt_group.cpp, docs/PROTOCOL.md section 6) ----
  // One signed group per batch transaction, and per receipted message its
  // group and leaf; written once, just before the batch commits.
  virtual Status insert_receipt_group(const ReceiptGroupRow& group, std::span<const ReceiptMember> members) = 0;
  // The group a stored message was receipted in, to give a resend the same
  // receipt; nullopt for a message stored before receipt groups (schema 7).
  virtual Result<std::optional<StoredReceiptGroup>> receipt_group_of(std::int64_t message_seq) = 0;
  virtual Status append_audit(const AuditEntry& entry) = 0;

  // Deliveries of `recipient` not yet confirmed (stored or delivered), in
  // arrival order, with delivery_id greater than `after`.
  virtual Result<std::vector<PendingDelivery>> pending_deliveries(const ParticipantId& recipient,
                                                                  std::uint64_t after, std::size_t limit) = 0;
  // Deliveries of `recipient` already confirmed (by any one of its
  // officers) whose message is still within its hold time at `now_ms`, with
  // delivery_id greater than `after`: the newest `limit` of them, oldest
  // first. An officer who connects later catches up on them.
  virtual Result<std::vector<PendingDelivery>> confirmed_deliveries(const ParticipantId& recipient, std::uint64_t after,
                                                                    std::int64_t now_ms, std::size_t limit) = 0;
  virtual Status mark_delivered(std::uint64_t delivery_id, std::int64_t at_ms) = 0;
  // Confirms only deliveries addressed to `recipient`; returns how many changed.
  virtual Result<int> confirm_deliveries(const ParticipantId& recipient, std::span<const std::uint64_t> delivery_ids,
                                         std::int64_t at_ms) = 0;
  // Turns every unconfirmed delivery whose hold time ended into a dead letter.
  virtual Result<std::vector<DeadLetter>> expire_deliveries(std::int64_t now_ms, const std::string& reason) = 0;
  virtual Result<std::vector<DeliveryStatusRow>> delivery_status(const MessageId& id) = 0;

  // Adds recipients to a stored message (a forward shares the request).
  virtual Status add_deliveries(const MessageId& id, const std::vector<ParticipantId>& recipients,
                                std::int64_t at_ms) = 0;
  // The envelope exactly as received, to re-read its signed header.
  virtual Result<std::optional<Bytes>> message_envelope(const MessageId& id) = 0;

  // --- tracing workflow ---
  virtual Status insert_lifecycle(const LifecycleRow& row) = 0;
  virtual Status update_lifecycle(const LifecycleRow& row) = 0;  // by request id and requested country
  virtual Result<std::vector<LifecycleRow>> lifecycle_of(const MessageId& request_id) = 0;
  // A confirmed delivery of a tracing request to a focal point of a
  // requested state dates that state's "delivered" step.
  virtual Status mark_lifecycle_delivered(std::uint64_t delivery_id, const ParticipantId& recipient,
                                          const CountryCode& recipient_country, std::int64_t at_ms) = 0;
  // Rows whose acknowledgement or response clock ran out without a reminder yet.
  virtual Result<std::vector<LifecycleRow>> lifecycle_due(std::int64_t now_ms) = 0;
  // Duplicate requests (broker/stage_duplicate.hpp): each tracing request's
  // keys (one per requested state and serial-numbered firearm, one per
  // reference to another channel) under its requesting state, so a new
  // request looks up only the requests that share a key with it.
  virtual Status insert_request_keys(const MessageId& request_id, const CountryCode& requester_country,
                                     std::int64_t submitted_at_ms, std::span<const RequestKey> keys) = 0;
  // Requests of `requester_country` stored under any of `keys`, submitted
  // in [from_ms, to_ms], other than `except`, with a lifecycle row not yet
  // closed or withdrawn: each once, newest first (submission time, then
  // seq), at most `limit` read per key and returned.
  virtual Result<std::vector<KeyedRequest>> open_requests_with_keys(const CountryCode& requester_country,
                                                                    std::span<const RequestKey> keys, std::int64_t from_ms,
                                                                   std::int64_t to_ms, const MessageId& except,
                                                                   std::size_t limit) = 0;
  // Whether the requests stored before the keys existed (a store migrated
  // to SQLite schema 10 / PostgreSQL 5) still need their keys; the broker
  // fills them in at start (backfill_request_keys) and marks it done.
  virtual Result<bool> request_keys_backfill_pending() = 0;
  // A request closed or withdrawn for every requested state, or whose body
  // retention purged, is no longer compared: its keys go.
  virtual Status delete_request_keys(const MessageId& request_id) = 0;
  virtual Status finish_request_keys_backfill() = 0;
  // Civil society's early warnings (broker/store/warnings.cpp): one row
  // per warning, the first acknowledgement dates it (later ones change
  // nothing), the clock scan reminds once.
  virtual Status insert_warning(const WarningRow& row) = 0;
  virtual Status acknowledge_warning(const MessageId& warning_id, std::int64_t at_ms, const std::string& by) = 0;
  virtual Result<std::vector<WarningRow>> warnings_due(std::int64_t now_ms) = 0;  // unacknowledged, not reminded
  virtual Status mark_warning_reminded(const MessageId& warning_id) = 0;
  virtual Result<std::vector<WarningRow>> warnings_submitted_between(std::int64_t from_ms, std::int64_t to_ms) = 0;
  // The stolen/lost registry: serials (normalised) of active alerts.
  // `reached_countries`: the states the alert was routed to (and its own).
  virtual Status watch_serials(const MessageId& alert_id, const CountryCode& alert_country,
                               const std::vector<CountryCode>& reached_countries,
                               const std::vector<std::string>& serials, std::int64_t valid_until_ms) = 0;
  // A batch alert's serial ranges (FirearmBatch.serialRanges, parsed by
  // fpx/serial_range.hpp): one row each, under the range's key, both ends
  // kept; matched by match_serial, counted by their width in
  // active_watched_serials and as one row each in watched_serials_added_since.
  virtual Status watch_serial_ranges(const MessageId& alert_id, const CountryCode& alert_country,
                                     const std::vector<CountryCode>& reached_countries,
                                     const std::vector<SerialSpan>& ranges, std::int64_t valid_until_ms) = 0;
  // Lifts the watch of an alert, only if `alert_country` raised it.
  virtual Status unwatch_serials(const MessageId& alert_id, const CountryCode& alert_country) = 0;
  // Active watched serials (valid at `now_ms`) of all alerts `alert_country`
  // raised; a range counts as many as its width.
  virtual Result<std::uint64_t> active_watched_serials(const CountryCode& alert_country, std::int64_t now_ms) = 0;
  // Bytes of the envelopes `sender` stored at or after `since_ms` (its daily quota).
  virtual Result<std::uint64_t> bytes_stored_since(const ParticipantId& sender, std::int64_t since_ms) = 0;
  // Serials put on watch by the stolen/lost alerts `sender` stored at or
  // after `since_ms`: their weight counts in its quota too (DailyQuota).
  virtual Result<std::uint64_t> watched_serials_added_since(const ParticipantId& sender, std::int64_t since_ms) = 0;
  // Active alerts listing `serial` (normalised), or a range holding it, that reached `requester_country`.
  virtual Result<std::vector<WatchedSerialHit>> match_serial(const std::string& serial,
                                                             const CountryCode& requester_country,
                                                             std::int64_t now_ms) = 0;

  // --- public oversight feed ---
  virtual Result<std::uint64_t> next_feed_sequence() = 0;  // inside the writing transaction
  virtual Status append_feed(const FeedRow& row, std::int64_t at_ms) = 0;
  virtual Result<std::vector<FeedRow>> feed_page(std::uint64_t from_sequence, std::size_t limit) = 0;
  virtual Status append_checkpoint(const CheckpointRow& row) = 0;
  // A public record the broker writes, as the log's next leaf; returns its index.
  virtual Result<std::uint64_t> append_record_leaf(ByteView leaf_data, std::uint64_t feed_sequence,
                                                   std::int64_t at_ms) = 0;
  virtual Result<std::optional<CheckpointRow>> latest_checkpoint() = 0;

  // --- public statistics and their reveal ---
  // Lifecycle rows whose request was submitted in [from_ms, to_ms).
  virtual Result<std::vector<LifecycleRow>> lifecycle_submitted_between(std::int64_t from_ms, std::int64_t to_ms) = 0;
  // The first submission, and when statistics began (nullopt: no tracing yet).
  virtual Result<std::optional<StatisticsStart>> statistics_start() = 0;
  // The sealed fact parts about one tracing, in log order.
  virtual Result<std::vector<SealedFact>> facts_of_tracing(const MessageId& request_id,
                                                           const CountryCode& requested_country) = 0;
  // SHA-256(salt || metadata) of every part of a leaf, in part order.
  virtual Result<std::vector<Sha256Digest>> commitment_part_hashes(std::uint64_t leaf_index) = 0;
  // Every sealed part of a leaf, in part order (salts included: for a
  // message's own sender only, docs/PROTOCOL.md §6.1); not_found if none kept.
  virtual Result<std::vector<CommitmentPart>> commitment_parts(std::uint64_t leaf_index) = 0;
  // The latest period start of `period` already handled (published or found empty).
  virtual Result<std::optional<std::int64_t>> last_statistics_period(const std::string& period) = 0;
  // Published periods starting before `started_before` whose facts are not revealed yet.
  virtual Result<std::vector<StatisticsRun>> statistics_awaiting_reveal(const std::string& period,
                                                                        std::int64_t started_before) = 0;
  virtual Status record_statistics_run(const StatisticsRun& run, bool revealed) = 0;
  // Issue 12 (a state's statement on its figures): the published statistics
  // record of the period starting at `start_ms`, of any period kind (the
  // latest record if two kinds start then); nullopt when no period starting
  // then was published (none, not yet ended, or found empty).
  virtual Result<std::optional<StatisticsRun>> published_statistics_period(std::int64_t start_ms) = 0;

  // ---- retention (broker/store/retention.cpp) ----
  // Inside a transaction: empties the envelope of up to `limit` messages of
  // `type` stored before `stored_before_ms` that the broker will not send
  // again (hold time over, no delivery pending), writes one audit row
  // (stage "retention") each and notes it in their deliveries' reason. The
  // messages row (signed_sha256), log leaves, nodes and receipts stay.
  // Returns the purged ids. The default refuses (a store that cannot purge yet).
  virtual Result<std::vector<MessageId>> purge_bodies(const RetentionPurge& purge);

  // Reads for tests and operators.
  virtual Result<std::vector<AuditRow>> audit_rows(std::int64_t after_id, std::size_t limit) = 0;
  virtual Result<std::uint64_t> log_size() = 0;
  // The transparency log's complete subtree hash over leaves
  // [index * 2^level, (index + 1) * 2^level) (level 0: the leaf hash),
  // written with the leaf that completes it; not_found until then.
  virtual Result<Sha256Digest> log_node(std::uint32_t level, std::uint64_t index) = 0;

  // A WAL checkpoint on this connection, waiting for readers (RESTART): at
  // a clean stop, so the next start finds a short WAL.
  virtual Status checkpoint() = 0;

  // While the broker runs: a PASSIVE checkpoint every `every` on a thread
  // and connection of their own. It copies committed frames back to the
  // database file without blocking this connection's transactions, so the
  // loop thread never stalls on one (a checkpoint of a minute's WAL on the
  // loop thread stalled it for about 2 s). Stops when the store is destroyed.
  virtual Status start_background_checkpoints(std::chrono::milliseconds every) = 0;
  // The last background checkpoint failure since the previous call, if any.
  virtual std::optional<std::string> take_background_checkpoint_error() = 0;

  // A CommitSync for this store's writer, or null if the store cannot make
  // a deferred commit durable apart from the commit itself; the broker
  // then commits every receipted batch with Durability::required and waits
  // for it on its loop, as before. A store without it needs no change.
  virtual std::unique_ptr<CommitSync> commit_sync() { return nullptr; }
};

// The store's log nodes as an fpx::NodeSource, for fpx::root and the proofs.
// Reads inside whatever transaction the store is in, so a proof made inside
// one sees that transaction's leaves.
class StoreNodeSource final : public NodeSource {
 public:
  explicit StoreNodeSource(Store& store) : store_(store) {}
  Result<Sha256Digest> node(std::uint32_t level, std::uint64_t index) override {
    return store_.log_node(level, index);
  }

 private:
  Store& store_;
};

// Opens (creating if needed) the SQLite store: WAL, synchronous=FULL,
// auto-checkpoint off, schema created or checked. `vfs` names a registered
// SQLite VFS to open the file through; empty is SQLite's default. Tests pass
// a shim that simulates a power cut (tests/support/power_cut_vfs.hpp).
Result<std::unique_ptr<Store>> open_sqlite_store(const std::filesystem::path& path, const std::string& vfs = {});

// What a PostgreSQL store does when another broker leads (issue 16).
enum class StandbyWait {
  refuse,  // open fails with `unavailable` at once (tools, tests)
  wait,    // open returns only once this broker took the lead (fpx-broker's standby)
};
// Leadership of a PostgreSQL store (broker/store_pg/postgres_leadership.cpp):
// a lease row renewed by the leader and a term every writing transaction
// checks, so one broker writes and a deposed one can never commit again.
struct PostgresStoreOptions {
  StandbyWait standby = StandbyWait::refuse;
  // A leader that has not renewed its lease for this long (paused, cut off)
  // is replaced; one whose connection ended is replaced at once.
  std::int64_t lease_ms = 5000;
  std::string holder;  // names this broker in leader_lease; empty: host name and pid
  // Asked between polls while standing by: true ends the wait (open fails).
  std::function<bool()> stop_waiting;
  // Called once, from any thread, when another broker took over: every
  // later transaction of this store fails; fpx-broker exits on it.
  std::function<void(const std::string& why)> on_deposed;
};

// Opens the PostgreSQL store (broker/store_pg/): connects with the libpq
// connection string `dsn` (which must hold no password: a passfile does),
// refuses a server with fsync off, creates or checks the schema, and takes
// the lead (or waits for it, or refuses: `options.standby`).
Result<std::unique_ptr<Store>> open_postgres_store(const std::string& dsn, const PostgresStoreOptions& options = {});

}  // namespace fpx::broker
