// The PostgreSQL store's class, shared by the files of broker/store_pg/ and
// by no one else: the broker and the tests see only fpx/broker/store.hpp.
//
// The same Store as broker/store/ (SQLite), on one libpq connection owned by
// the broker's store thread, for exchanges that outgrow one machine.
//
// Durability: the connection runs with synchronous_commit = on (checked at
// open) on a server with fsync on (checked too), so COMMIT returns only
// after the commit record is flushed; with a synchronous standby configured
// on the server (synchronous_standby_names) it also waits for the standby.
// Durability::deferred sets synchronous_commit = off for that transaction
// alone: it survives a crash of the broker, and a crash of the server loses
// at most those last bookkeeping marks.
//
// One writer: ids (message seq, delivery and audit ids, feed sequences, log
// indexes) are the largest + 1 inside the writing transaction, exactly as in
// SQLite, so the log is dense and the feed has no gaps (a PostgreSQL
// sequence would leave gaps on every rollback). The writer is the leader
// (Leadership below): open_postgres_store takes a fenced lease, and every
// transaction begins by reading its term FOR SHARE, so a second broker
// waits (or is refused) instead of racing the first for the same ids, and
// a deposed leader's batch fails instead of committing.
#pragma once

#include <libpq-fe.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "fpx/broker/store.hpp"

namespace fpx::broker {

// The sealed parts of a leaf as one value: broker/store/commitment_parts.cpp,
// shared so that both stores keep byte-identical parts.
namespace sqlite {
Bytes encode_commitment_parts(std::span<const CommitmentPart> parts);
std::optional<std::vector<CommitmentPart>> decode_commitment_parts(ByteView encoded);
}  // namespace sqlite

namespace pg {

// How often a standby asks whether the lease lapsed, as a share of the
// lease (and never more often than kMinStandbyPollMs: a standby's polls
// are a load the leader's server carries).
constexpr std::int64_t kStandbyPollsPerLease = 10;
constexpr std::int64_t kMinStandbyPollMs = 50;
// The leader renews this many times per lease: two renewals can fail (a
// slow server, a reconnect) before the lease lapses.
constexpr std::int64_t kRenewalsPerLease = 3;
// A takeover waits this long for the old leader's backends to end and for
// its open transaction's lock on the term; longer, and it retries at the
// next poll instead of stalling.
constexpr int kTakeoverWaitMs = 5'000;
// A broker that just closed its store keeps its backend listed for a moment
// after: a store that refuses to wait looks again for this long before it
// says another broker leads.
constexpr std::int64_t kRefuseGraceMs = 1'000;
// A server that does not answer a connection attempt within this is
// reported instead of stalling the broker's start (libpq waits forever by default).
constexpr int kConnectTimeoutSeconds = 10;
// A statement that runs longer than this (a lock held by an operator's
// session, a server stuck on a full disk) fails the batch, whose senders
// retry, instead of stalling the broker's loop without bound.
constexpr int kStatementTimeoutMs = 30'000;

struct ResultClear {
  void operator()(PGresult* result) const noexcept { PQclear(result); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultClear>;

struct ConnectionFinish {
  void operator()(PGconn* conn) const noexcept { PQfinish(conn); }
};
using ConnectionPtr = std::unique_ptr<PGconn, ConnectionFinish>;

// Parameters of one statement, every one sent in binary format: bytea and
// text as their bytes (no escaping, no string-built SQL), integers as
// big-endian int8. Each statement casts its parameters ($1::bigint), so the
// server knows their types. Values are copied: a Params may outlive nothing.
class Params {
 public:
  Params& add(std::int64_t value);
  Params& add(std::uint64_t value) { return add(static_cast<std::int64_t>(value)); }
  Params& add_text(std::string_view text);  // made valid UTF-8 without NUL (see postgres_connection.cpp)
  Params& add(ByteView blob);
  Params& add_null();
  // One-dimensional arrays (bigint[], text[], bytea[]) in PostgreSQL's
  // binary array format, so that one statement writes a variable number of
  // rows (a message's deliveries, a leaf's interior nodes) through unnest()
  // instead of one round trip per row.
  Params& add_array(std::span<const std::int64_t> values);
  Params& add_text_array(std::span<const std::string> values);  // each made valid UTF-8 as add_text
  Params& add_array(std::span<const ByteView> values);

  int count() const { return static_cast<int>(values_.size()); }
  const char* const* values() const { return values_.data(); }
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  Params& push(std::string bytes);
  std::deque<std::string> storage_;  // a deque: pointers into it stay valid as it grows
  std::vector<const char*> values_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
};

// A statement's rows, read in binary format.
class Rows {
 public:
  explicit Rows(ResultPtr result) : result_(std::move(result)) {}
  int size() const { return PQntuples(result_.get()); }
  bool is_null(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }
  std::int64_t integer(int row, int column) const;
  std::string text(int row, int column) const;
  Bytes blob(int row, int column) const;
  std::int64_t changed() const;  // rows an INSERT/UPDATE/DELETE touched

 private:
  ResultPtr result_;
};

// One prepared statement: its name on the connection and its SQL.
struct Statement {
  const char* name;
  const char* sql;
};

// One step of a pipeline (PostgresStore::run_pipelined): a prepared
// statement with its parameters, or (statement == nullptr) a fixed command
// of ours without parameters such as SAVEPOINT.
struct PipelineStep {
  const Statement* statement;
  const Params* params;
  const char* command;
  std::string_view what;
};

// The right edge of the transparency log as this writer last read or wrote
// it: the log's size and, for each set bit `level` of the size, the root of
// the complete subtree of 2^level leaves that ends just before it. That is
// every left sibling the next leaf can need, so appending a leaf computes
// its interior nodes without reading any (see plan_leaf).
struct LogEdge {
  std::uint64_t size = 0;
  std::array<Sha256Digest, 64> subtree{};
};

// What appending one leaf writes: its index and the interior nodes it
// completes (levels, indexes and hashes, as unnest() takes them), and the
// edge once it is written.
struct LeafAppend {
  std::uint64_t index = 0;
  std::vector<std::int64_t> node_levels;
  std::vector<std::int64_t> node_indexes;
  std::vector<Sha256Digest> node_hashes;
  LogEdge after;
};

// postgres_leadership.cpp: who writes. Holds its own connection (never the
// store's, which belongs to the store thread) and a thread that renews the
// lease every lease_ms / kRenewalsPerLease until it stops or is deposed.
class Leadership {
 public:
  // Takes the lead on `conn` (configured), or waits for it, or refuses,
  // as options.standby says.
  static Result<std::unique_ptr<Leadership>> take(ConnectionPtr conn, std::string where,
                                                  const PostgresStoreOptions& options);
  Leadership(ConnectionPtr conn, std::string where, PostgresStoreOptions options, std::int64_t term);
  ~Leadership();
  Leadership(const Leadership&) = delete;
  Leadership& operator=(const Leadership&) = delete;

  std::int64_t term() const { return term_; }
  bool deposed() const { return deposed_.load(); }
  // Another broker holds the term now: every later transaction fails, and
  // options.on_deposed is told (once).
  void depose(const std::string& why);

 private:
  void renew_until_stopped(std::stop_token stop);

  ConnectionPtr conn_;  // used by the renewing thread only, once started
  std::string where_;
  PostgresStoreOptions options_;
  std::int64_t term_;
  std::atomic<bool> deposed_{false};
  std::atomic<bool> told_{false};
  std::mutex wait_mutex_;
  std::condition_variable_any wait_;
  std::jthread renewer_;  // last: stopped and joined first
};

// Connects with the store's defaults under the operator's DSN and
// configures the session (postgres_connection.cpp).
Result<ConnectionPtr> connect_configured(const std::string& dsn, std::string* where);

class PostgresStore final : public Store {
 public:
  PostgresStore(ConnectionPtr conn, std::string where) : conn_(std::move(conn)), where_(std::move(where)) {}
  // The leader's term fences every transaction from then on (begin()), and
  // this connection's backend is named in leader_lease so that a takeover
  // can end it.
  Status lead(std::unique_ptr<Leadership> leadership);
  PostgresStore(const PostgresStore&) = delete;
  PostgresStore& operator=(const PostgresStore&) = delete;

  // postgres_connection.cpp
  Status prepare_statements();
  Status begin(Durability durability) override;
  Status commit() override;
  void rollback() override;
  Status open_savepoint() override;
  Status release_savepoint() override;
  void rollback_savepoint() override;
  Status checkpoint() override;
  Status start_background_checkpoints(std::chrono::milliseconds every) override;
  // postgres_retention.cpp
  Result<std::vector<MessageId>> purge_bodies(const RetentionPurge& purge) override;
  std::optional<std::string> take_background_checkpoint_error() override;

  // Runs a prepared statement; an SQLSTATE the caller maps itself (a unique
  // violation) comes back through `sqlstate`.
  Result<Rows> run(const Statement& statement, const Params& params, std::string_view what,
                   std::string* sqlstate = nullptr);
  Result<Rows> run(const Statement& statement, std::string_view what) { return run(statement, Params{}, what); }
  // Sends every step at once in libpq's pipeline mode and waits once: one
  // round trip instead of one per step. The results come back in order; the
  // first failure is returned, and the steps after it were not run (the
  // server skips them), so the caller undoes what it must itself.
  Result<std::vector<Rows>> run_pipelined(std::span<const PipelineStep> steps, std::string* sqlstate = nullptr);
  // A one-off statement without parameters (the schema check), not prepared.
  Result<Rows> run_once(const char* sql, std::string_view what);
  Status exec(const char* sql, std::string_view what);

  // postgres_messages.cpp
  Result<std::optional<StoredMessage>> find_message(const MessageId& id) override;
  Result<InsertedMessage> insert_message(const NewMessage& message, std::int64_t stored_at_ms) override;
  Status insert_receipt_group(const ReceiptGroupRow& group, std::span<const ReceiptMember> members) override;
  Result<std::optional<StoredReceiptGroup>> receipt_group_of(std::int64_t message_seq) override;
  Status append_audit(const AuditEntry& entry) override;
  Result<std::vector<PendingDelivery>> pending_deliveries(const ParticipantId& recipient, std::uint64_t after,
                                                          std::size_t limit) override;
  Result<std::vector<PendingDelivery>> confirmed_deliveries(const ParticipantId& recipient, std::uint64_t after,
                                                            std::int64_t now_ms, std::size_t limit) override;
  Status mark_delivered(std::uint64_t delivery_id, std::int64_t at_ms) override;
  Result<int> confirm_deliveries(const ParticipantId& recipient, std::span<const std::uint64_t> delivery_ids,
                                 std::int64_t at_ms) override;
  Result<std::vector<DeadLetter>> expire_deliveries(std::int64_t now_ms, const std::string& reason) override;
  Result<std::vector<DeliveryStatusRow>> delivery_status(const MessageId& id) override;
  Status add_deliveries(const MessageId& id, const std::vector<ParticipantId>& recipients,
                        std::int64_t at_ms) override;
  Result<std::optional<Bytes>> message_envelope(const MessageId& id) override;
  Result<std::uint64_t> bytes_stored_since(const ParticipantId& sender, std::int64_t since_ms) override;
  Result<std::vector<AuditRow>> audit_rows(std::int64_t after_id, std::size_t limit) override;

  // postgres_warnings.cpp
  Status insert_warning(const WarningRow& row) override;
  Status acknowledge_warning(const MessageId& warning_id, std::int64_t at_ms, const std::string& by) override;
  Result<std::vector<WarningRow>> warnings_due(std::int64_t now_ms) override;
  Status mark_warning_reminded(const MessageId& warning_id) override;
  Result<std::vector<WarningRow>> warnings_submitted_between(std::int64_t from_ms, std::int64_t to_ms) override;

  // postgres_workflow.cpp
  Status insert_lifecycle(const LifecycleRow& row) override;
  Status update_lifecycle(const LifecycleRow& row) override;
  Result<std::vector<LifecycleRow>> lifecycle_of(const MessageId& request_id) override;
  Status mark_lifecycle_delivered(std::uint64_t delivery_id, const ParticipantId& recipient,
                                  const CountryCode& recipient_country, std::int64_t at_ms) override;
  Result<std::vector<LifecycleRow>> lifecycle_due(std::int64_t now_ms) override;
  Status watch_serials(const MessageId& alert_id, const CountryCode& alert_country,
                       const std::vector<CountryCode>& reached_countries, const std::vector<std::string>& serials,
                       std::int64_t valid_until_ms) override;
  Status watch_serial_ranges(const MessageId& alert_id, const CountryCode& alert_country,
                             const std::vector<CountryCode>& reached_countries, const std::vector<SerialSpan>& ranges,
                             std::int64_t valid_until_ms) override;
  Status unwatch_serials(const MessageId& alert_id, const CountryCode& alert_country) override;
  Result<std::uint64_t> active_watched_serials(const CountryCode& alert_country, std::int64_t now_ms) override;
  Result<std::uint64_t> watched_serials_added_since(const ParticipantId& sender, std::int64_t since_ms) override;
  Result<std::vector<WatchedSerialHit>> match_serial(const std::string& serial, const CountryCode& requester_country,
                                                     std::int64_t now_ms) override;
  // postgres_request_keys.cpp
  Status insert_request_keys(const MessageId& request_id, const CountryCode& requester_country,
                             std::int64_t submitted_at_ms, std::span<const RequestKey> keys) override;
  Result<std::vector<KeyedRequest>> open_requests_with_keys(const CountryCode& requester_country, std::span<const RequestKey> keys,
                                                           std::int64_t from_ms, std::int64_t to_ms,
                                                           const MessageId& except, std::size_t limit) override;
  Result<bool> request_keys_backfill_pending() override;
  Status delete_request_keys(const MessageId& request_id) override;
  Status finish_request_keys_backfill() override;
  Result<std::vector<LifecycleRow>> lifecycle_submitted_between(std::int64_t from_ms, std::int64_t to_ms) override;
  Result<std::optional<StatisticsStart>> statistics_start() override;
  Result<std::vector<SealedFact>> facts_of_tracing(const MessageId& request_id,
                                                   const CountryCode& requested_country) override;
  Result<std::vector<Sha256Digest>> commitment_part_hashes(std::uint64_t leaf_index) override;
  Result<std::vector<CommitmentPart>> commitment_parts(std::uint64_t leaf_index) override;
  Result<std::optional<std::int64_t>> last_statistics_period(const std::string& period) override;
  Result<std::vector<StatisticsRun>> statistics_awaiting_reveal(const std::string& period,
                                                                std::int64_t started_before) override;
  Status record_statistics_run(const StatisticsRun& run, bool revealed) override;
  Result<std::optional<StatisticsRun>> published_statistics_period(std::int64_t start_ms) override;

  // postgres_feed_log.cpp
  Result<std::uint64_t> next_feed_sequence() override;
  Status append_feed(const FeedRow& row, std::int64_t at_ms) override;
  Result<std::vector<FeedRow>> feed_page(std::uint64_t from_sequence, std::size_t limit) override;
  Status append_checkpoint(const CheckpointRow& row) override;
  Result<std::uint64_t> append_record_leaf(ByteView leaf_data, std::uint64_t feed_sequence,
                                           std::int64_t at_ms) override;
  Result<std::optional<CheckpointRow>> latest_checkpoint() override;
  Result<std::uint64_t> log_size() override;
  Result<Sha256Digest> log_node(std::uint32_t level, std::uint64_t index) override;

  // The log's edge, read once per transaction (one statement) and kept up to
  // date by this store's own appends; forgotten at every begin, rollback,
  // savepoint rollback and failure, so it is never older than the database.
  // The statements that append check the server's log size against it and
  // write nothing on a mismatch (a bug, never a silent fork of the log).
  Result<LogEdge> log_edge();
  // Leaf `edge.size` completes one subtree per trailing 1 bit of its index
  // (the same rule and rows as the SQLite store's append_log_nodes): the
  // nodes to write, computed from the edge alone.
  static LeafAppend plan_leaf(const LogEdge& edge, const Sha256Digest& leaf);
  void forget_log_edge() { log_edge_.reset(); }
  void remember_log_edge(const LogEdge& edge) { log_edge_ = edge; }
  Error damaged(std::string_view what) const;
  // A write outside a live transaction would autocommit on its own, outside
  // the batch and its receipts; a transaction an error aborted outside any
  // savepoint keeps nothing. Both are refused.
  std::optional<Error> transaction_lost() const;

 private:
  Result<InsertedMessage> insert_message_rows(const NewMessage& message, std::int64_t stored_at_ms);
  Result<std::vector<PendingDelivery>> delivery_rows(const Rows& rows);
  Result<std::vector<LifecycleRow>> read_lifecycle(const Rows& rows);
  Result<std::vector<WarningRow>> read_warnings(const Rows& rows);
  Error fail(const PGresult* result, std::string_view what) const;
  Result<Rows> checked(ResultPtr result, std::string_view what, std::string* sqlstate);
  // After a lost connection (a server restart): reconnects once between
  // transactions and prepares the statements again.
  Status ensure_connected();
  // Opens the connection again (PQreset), whatever libpq thinks of it.
  Status reconnect();

  // Names this connection's backend in leader_lease (writer_pid), after
  // open and after every reconnect; a term no longer ours deposes us.
  Status register_writer();
  Error deposed_error() const;

  ConnectionPtr conn_;
  std::string where_;  // host/port/dbname for messages, never the password
  std::unique_ptr<Leadership> leadership_;  // null only before lead()
  bool unit_savepoint_open_ = false;
  std::optional<LogEdge> log_edge_;
};

Status check_schema(PostgresStore& store, const std::string& where);  // postgres_schema.cpp

}  // namespace pg

}  // namespace fpx::broker
