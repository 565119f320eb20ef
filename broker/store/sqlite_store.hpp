// The SQLite store's class, shared by the files of broker/store/ and by no
// one else: the broker and the tests see only fpx/broker/store.hpp.
//
// The embedded Store: SQLite in WAL mode with synchronous=FULL, one
// connection owned by the broker's store thread.
//
// Durability: in WAL mode with synchronous=FULL every COMMIT fsyncs the WAL,
// so commit() returning ok means the transaction survives a power cut. Many
// messages share one begin()..commit() (group commit) to amortise that fsync.
//
// Checkpoints: SQLite's auto-checkpoint is off (wal_autocheckpoint=0) because
// it runs inside whichever COMMIT crosses the threshold and showed 16 ms p99
// spikes here (TOOLCHAIN trap 18). While the broker runs, a thread with a
// connection of its own makes a PASSIVE checkpoint every
// timing.checkpoint_every_ms: it copies committed frames back without
// blocking the writer. When that caught up quickly, a RESTART follows that
// copies the few frames committed meanwhile under the write lock (the
// writer waits for its two fsyncs) and restarts the WAL from its start
// (journal_size_limit shrinks a WAL a burst made large): under a steady
// load PASSIVE alone never let it restart (checkpointer.cpp). A checkpoint on the writer's own connection, as
// before, stalled the broker's loop for about 2 s when it copied a minute of
// traffic. checkpoint() (RESTART) remains for a clean stop. If an outside
// reader (an operator's sqlite3 shell) pins the WAL, checkpoints stop short
// and the WAL grows until it lets go.
#pragma once

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <condition_variable>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "fpx/broker/store.hpp"
#include "fpx/crypto.hpp"
#include "fpx/private_file.hpp"
#include "fpx/process_statistics.hpp"
#include "fpx/transparency_log.hpp"

namespace fpx::broker::sqlite {

// Short: the store thread must not stall the broker behind an outside
// process (an operator's sqlite3 shell) holding a lock.
constexpr int kBusyTimeoutMs = 200;

struct DatabaseCloser {
  void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
using DatabasePtr = std::unique_ptr<sqlite3, DatabaseCloser>;

struct StatementFinalizer {
  void operator()(sqlite3_stmt* statement) const noexcept { sqlite3_finalize(statement); }
};
using StatementPtr = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

// One use of a cached statement: binds, steps, reads columns, and always
// resets on scope exit. A statement left mid-result would keep a read
// transaction open, which blocks checkpoint(). Bindings use SQLITE_STATIC:
// every bound value outlives the Query, and clear_bindings drops the pointers.
class Query {
 public:
  explicit Query(sqlite3_stmt* statement) : statement_(statement) {}
  ~Query() {
    sqlite3_reset(statement_);
    sqlite3_clear_bindings(statement_);
  }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  Query& bind(int index, std::int64_t value) {
    remember(sqlite3_bind_int64(statement_, index, value));
    return *this;
  }
  Query& bind(int index, std::string_view text) {
    remember(sqlite3_bind_text64(statement_, index, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8));
    return *this;
  }
  // A zero-length span may carry a null pointer, which SQLite would store as
  // NULL; an empty blob is stored as an empty blob.
  Query& bind(int index, ByteView blob) {
    remember(blob.empty() ? sqlite3_bind_zeroblob(statement_, index, 0)
                          : sqlite3_bind_blob64(statement_, index, blob.data(), blob.size(), SQLITE_STATIC));
    return *this;
  }
  Query& bind_null(int index) {
    remember(sqlite3_bind_null(statement_, index));
    return *this;
  }

  // SQLITE_ROW, SQLITE_DONE or an error code (a failed bind reports here).
  int step() {
    if (bind_rc_ != SQLITE_OK) return bind_rc_;
    return sqlite3_step(statement_);
  }

  std::int64_t integer(int column) const { return sqlite3_column_int64(statement_, column); }
  bool is_null(int column) const { return sqlite3_column_type(statement_, column) == SQLITE_NULL; }
  std::string text(int column) const {
    const auto* data = sqlite3_column_text(statement_, column);
    const int size = sqlite3_column_bytes(statement_, column);
    if (data == nullptr) return {};
    return {reinterpret_cast<const char*>(data), static_cast<std::size_t>(size)};
  }
  Bytes blob(int column) const {
    const auto* data = static_cast<const std::uint8_t*>(sqlite3_column_blob(statement_, column));
    const int size = sqlite3_column_bytes(statement_, column);
    if (data == nullptr) return {};
    return {data, data + size};
  }

 private:
  void remember(int rc) {
    if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  }
  sqlite3_stmt* statement_;
  int bind_rc_ = SQLITE_OK;
};

inline std::int64_t to_sql(std::uint64_t value) { return static_cast<std::int64_t>(value); }
inline std::int64_t limit_to_sql(std::size_t limit) {
  constexpr auto kMax = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  return static_cast<std::int64_t>(limit > kMax ? kMax : limit);
}

// Rows were written by this code, so a malformed id means a damaged file.
inline std::optional<MessageId> message_id_from(const Bytes& bytes) { return MessageId::from_bytes(bytes); }

inline Sha256Digest digest_from(const Bytes& bytes) {
  Sha256Digest digest{};
  if (bytes.size() == digest.size()) std::copy(bytes.begin(), bytes.end(), digest.begin());
  return digest;
}

class SqliteStore final : public Store {
 public:
  SqliteStore(DatabasePtr db, std::string path, std::string vfs)
      : db_(std::move(db)), path_(std::move(path)), vfs_(std::move(vfs)) {}
  ~SqliteStore() override { stop_background_checkpoints(); }
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;
  Status prepare_statements();  // statements.cpp

  // connection.cpp
  Status begin(Durability durability) override;
  Status commit() override;
  void rollback() override;
  Status open_savepoint() override;
  Status release_savepoint() override;
  void rollback_savepoint() override;
  std::unique_ptr<CommitSync> commit_sync() override;

  // messages.cpp
  Result<std::optional<StoredMessage>> find_message(const MessageId& id) override;
  Result<InsertedMessage> insert_message(const NewMessage& message, std::int64_t stored_at_ms) override;
  // Schema 11: a submission's messages row is its acceptance's audit record (view audit_trail).
  AcceptanceRecord acceptance_record() const override { return AcceptanceRecord::message_row; }
  // At open: how many keys request_keys_recent holds (request_keys.cpp).
  Status count_recent_request_keys();
  Status insert_receipt_group(const ReceiptGroupRow& group, std::span<const ReceiptMember> members) override;
  Result<std::optional<StoredReceiptGroup>> receipt_group_of(std::int64_t message_seq) override;
  Result<std::vector<PendingDelivery>> pending_deliveries(const ParticipantId& recipient, std::uint64_t after,
                                                          std::size_t limit) override;
  Result<std::vector<PendingDelivery>> confirmed_deliveries(const ParticipantId& recipient, std::uint64_t after,
                                                            std::int64_t now_ms, std::size_t limit) override;
  // Rows of (delivery id, message id, envelope, attempts), as both delivery queries select them.
  Result<std::vector<PendingDelivery>> delivery_rows(Query& query, const char* what);
  Status mark_delivered(std::uint64_t delivery_id, std::int64_t at_ms) override;
  Result<int> confirm_deliveries(const ParticipantId& recipient, std::span<const std::uint64_t> delivery_ids,
                                 std::int64_t at_ms) override;
  Result<std::vector<DeadLetter>> expire_deliveries(std::int64_t now_ms, const std::string& reason) override;
  Result<std::vector<DeliveryStatusRow>> delivery_status(const MessageId& id) override;
  Status add_deliveries(const MessageId& id, const std::vector<ParticipantId>& recipients,
                        std::int64_t at_ms) override;
  Result<std::optional<Bytes>> message_envelope(const MessageId& id) override;
  Result<std::vector<MessageId>> purge_bodies(const RetentionPurge& purge) override;  // retention.cpp
  Result<std::uint64_t> bytes_stored_since(const ParticipantId& sender, std::int64_t since_ms) override;
  Result<std::uint64_t> watched_serials_added_since(const ParticipantId& sender, std::int64_t since_ms) override;

  // warnings.cpp
  Status insert_warning(const WarningRow& row) override;
  Status acknowledge_warning(const MessageId& warning_id, std::int64_t at_ms, const std::string& by) override;
  Result<std::vector<WarningRow>> warnings_due(std::int64_t now_ms) override;
  Status mark_warning_reminded(const MessageId& warning_id) override;
  Result<std::vector<WarningRow>> warnings_submitted_between(std::int64_t from_ms, std::int64_t to_ms) override;

  // lifecycle.cpp
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
  Result<std::vector<WatchedSerialHit>> match_serial(const std::string& serial, const CountryCode& requester_country,
                                                     std::int64_t now_ms) override;
  Result<std::uint64_t> active_watched_serials(const CountryCode& alert_country, std::int64_t now_ms) override;

  // request_keys.cpp
  Status insert_request_keys(const MessageId& request_id, const CountryCode& requester_country,
                             std::int64_t submitted_at_ms, std::span<const RequestKey> keys) override;
  Result<std::vector<KeyedRequest>> open_requests_with_keys(const CountryCode& requester_country, std::span<const RequestKey> keys,
                                                           std::int64_t from_ms, std::int64_t to_ms,
                                                           const MessageId& except, std::size_t limit) override;
  Result<bool> request_keys_backfill_pending() override;
  Status delete_request_keys(const MessageId& request_id) override;
  Status finish_request_keys_backfill() override;

  // feed_log.cpp
  Result<std::uint64_t> append_record_leaf(ByteView leaf_data, std::uint64_t feed_sequence,
                                           std::int64_t at_ms) override;
  Result<std::uint64_t> next_feed_sequence() override;
  Status append_feed(const FeedRow& row, std::int64_t at_ms) override;
  Result<std::vector<FeedRow>> feed_page(std::uint64_t from_sequence, std::size_t limit) override;
  Status append_checkpoint(const CheckpointRow& row) override;
  Result<std::optional<CheckpointRow>> latest_checkpoint() override;
  Result<std::uint64_t> log_size() override;
  Result<Sha256Digest> log_node(std::uint32_t level, std::uint64_t index) override;

  // statistics.cpp
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

  // audit.cpp
  Status append_audit(const AuditEntry& entry) override;
  Result<std::vector<AuditRow>> audit_rows(std::int64_t after_id, std::size_t limit) override;

  // checkpointer.cpp
  Status start_background_checkpoints(std::chrono::milliseconds every) override;
  std::optional<std::string> take_background_checkpoint_error() override;
  Status checkpoint() override;

 private:

  // connection.cpp
  // Every write belongs to the caller's transaction. SQLite rolls the whole
  // transaction back on some failures (disk full, I/O error, out of memory),
  // even inside a savepoint; a write after that would run on its own in
  // autocommit, outside the batch and its receipts. It is refused instead,
  // so the rest of the batch fails cleanly and is retried by its senders.
  std::optional<Error> transaction_lost() const;
  Status done(int rc, std::string_view what);
  // Reads sqlite3_errmsg, so call it before the failing Query resets.
  Error fail(int rc, std::string_view what) const;
  Error damaged(std::string_view what) const;

  // messages.cpp
  Result<InsertedMessage> insert_message_rows(const NewMessage& message, std::int64_t stored_at_ms);

  // lifecycle.cpp
  Result<std::vector<LifecycleRow>> read_lifecycle(Query& query);

  // warnings.cpp: warnings come at the pace of people, so their
  // statements are prepared per call rather than cached with the hot path's.
  Result<StatementPtr> prepare_once(const char* sql, std::string_view what);
  Result<std::vector<WarningRow>> read_warnings(Query& query);

  // feed_log.cpp
  // Leaf `leaf_index` completes one subtree per trailing 1 bit of its index:
  // at each such level its subtree joins the complete left sibling already
  // stored. One insert per leaf on average, ~log2(n) at most.
  Status append_log_nodes(std::uint64_t leaf_index, const Sha256Digest& leaf);

  // checkpointer.cpp
  void run_background_checkpoints(std::chrono::milliseconds every);
  void stop_background_checkpoints();

  bool in_transaction() const { return sqlite3_get_autocommit(db_.get()) == 0; }

  // Declared first, so it is destroyed after every statement below.
  DatabasePtr db_;
  std::string path_;
  std::string vfs_;  // empty: SQLite's default
  Durability durability_ = Durability::required;  // open_sqlite_store sets synchronous=FULL
  // The broker's per-message savepoint is open: insert_message then opens
  // none of its own (one savepoint per message, not two nested).
  bool unit_savepoint_open_ = false;
  // Keys inserted into request_keys_recent since its last fold (an
  // overcount after a savepoint's rollback, which only folds sooner); read
  // at open and again after a transaction's rollback (which may undo a fold).
  std::int64_t recent_request_keys_ = 0;
  // request_keys.cpp: moves request_keys_recent into request_keys, in key
  // order, inside the transaction about to commit.
  Status fold_recent_request_keys();

  // The background checkpoints: their own connection, used by their thread only.
  DatabasePtr checkpoint_db_;
  std::thread checkpointer_;
  std::mutex checkpoint_mutex_;
  std::condition_variable checkpoint_wake_;
  bool checkpoint_stop_ = false;
  std::optional<std::string> checkpoint_error_;
  StatementPtr begin_;
  StatementPtr commit_;
  StatementPtr rollback_;
  StatementPtr insert_record_leaf_;
  StatementPtr unit_savepoint_;
  StatementPtr unit_release_;
  StatementPtr unit_rollback_;
  StatementPtr savepoint_;
  StatementPtr release_savepoint_;
  StatementPtr rollback_to_savepoint_;
  StatementPtr find_message_;
  StatementPtr next_leaf_index_;
  StatementPtr insert_message_;
  StatementPtr insert_delivery_;
  StatementPtr insert_leaf_;
  StatementPtr insert_leaf_fact_;
  StatementPtr lifecycle_between_;
  StatementPtr first_submission_;
  StatementPtr facts_of_tracing_;
  StatementPtr leaf_parts_;
  StatementPtr last_statistics_period_;
  StatementPtr statistics_awaiting_reveal_;
  StatementPtr record_statistics_run_;
  StatementPtr published_statistics_period_;
  StatementPtr log_leaf_hash_;
  StatementPtr log_node_;
  StatementPtr insert_log_node_;
  StatementPtr insert_receipt_group_;
  StatementPtr insert_receipt_member_;
  StatementPtr receipt_group_of_;
  StatementPtr append_audit_;
  StatementPtr pending_deliveries_;
  StatementPtr confirmed_deliveries_;
  StatementPtr mark_delivered_;
  StatementPtr confirm_delivery_;
  StatementPtr overdue_deliveries_;
  StatementPtr dead_letter_;
  StatementPtr delivery_status_;
  StatementPtr audit_rows_;
  StatementPtr add_delivery_;
  StatementPtr message_envelope_;
  StatementPtr insert_lifecycle_;
  StatementPtr update_lifecycle_;
  StatementPtr lifecycle_of_;
  StatementPtr lifecycle_due_;
  StatementPtr watch_serial_;
  StatementPtr watch_serial_range_;
  StatementPtr unwatch_serials_;
  StatementPtr match_serial_;
  StatementPtr insert_request_key_;
  StatementPtr fold_recent_request_keys_;
  StatementPtr clear_recent_request_keys_;
  StatementPtr open_requests_with_key_;
  StatementPtr open_recent_requests_with_key_;
  StatementPtr delete_request_keys_;
  StatementPtr delete_recent_request_keys_;
  StatementPtr active_watched_serials_;
  StatementPtr bytes_stored_since_;
  StatementPtr watched_serials_added_since_;
  StatementPtr mark_lifecycle_delivered_;
  StatementPtr next_feed_sequence_;
  StatementPtr append_feed_;
  StatementPtr feed_page_;
  StatementPtr append_checkpoint_;
  StatementPtr latest_checkpoint_;
};

// A leaf's sealed parts as the one value schema 6 keeps (commitment_parts.cpp);
// nullopt: not this store's encoding, a damaged file.
Bytes encode_commitment_parts(std::span<const CommitmentPart> parts);
std::optional<std::vector<CommitmentPart>> decode_commitment_parts(ByteView encoded);

// Runs SQL with no result rows worth reading (connection.cpp).
Status exec(sqlite3* db, const char* sql, const std::string& path);
Result<std::string> query_text(sqlite3* db, const char* sql, const std::string& path);
Result<std::int64_t> query_integer(sqlite3* db, const char* sql, const std::string& path);
// Creates the tables on a new file, migrates an older one (schema.cpp).
Status check_schema(sqlite3* db, const std::string& path);

}  // namespace fpx::broker::sqlite
