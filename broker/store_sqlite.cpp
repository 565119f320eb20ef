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
// blocking the writer, and once it has copied them all the writer's next
// transaction restarts the WAL from its start (journal_size_limit shrinks a
// WAL a burst made large). A checkpoint on the writer's own connection, as
// before, stalled the broker's loop for about 2 s when it copied a minute of
// traffic. checkpoint() (RESTART) remains for a clean stop. If an outside
// reader (an operator's sqlite3 shell) pins the WAL, checkpoints stop short
// and the WAL grows until it lets go.
#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
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

namespace fpx::broker {

std::string_view delivery_state_name(DeliveryState state) {
  switch (state) {
    case DeliveryState::stored: return "stored";
    case DeliveryState::delivered: return "delivered";
    case DeliveryState::confirmed: return "confirmed";
    case DeliveryState::dead_letter: return "dead_letter";
  }
  return "stored";
}

namespace {

// Bump when the schema changes, and teach open_sqlite_store to migrate from
// the previous version. A file with a newer version is refused, never guessed at.
constexpr int kSchemaVersion = 7;  // 2: log_nodes; 3: feed, checkpoints; 4: leaf parts, statistics runs;
                                   // 5: officers (who acknowledged and answered; confirmed deliveries by recipient)
                                   // 6: (the store restructuring's); 7: receipt groups (block at the end)

// Receipt groups (schema 7): defined in the block at the end of this file.
Status apply_receipt_groups_schema(sqlite3* db, const std::string& path);
Status migrate_to_version_7(sqlite3* db, const std::string& path);

// Short: the store thread must not stall the broker behind an outside
// process (an operator's sqlite3 shell) holding a lock.
constexpr int kBusyTimeoutMs = 200;

constexpr const char* kSchema = R"sql(
CREATE TABLE messages (
  seq            INTEGER PRIMARY KEY AUTOINCREMENT,  -- arrival order, never reused
  message_id     BLOB NOT NULL UNIQUE,
  signed_sha256  BLOB NOT NULL,
  envelope       BLOB NOT NULL,
  sender         TEXT NOT NULL,
  sender_country TEXT NOT NULL,
  type           TEXT NOT NULL,
  created_at_ms  INTEGER NOT NULL,
  stored_at_ms   INTEGER NOT NULL,
  in_reply_to    BLOB,
  hold_until_ms  INTEGER NOT NULL,
  log_index      INTEGER NOT NULL,  -- its leaf in log_leaves
  receipt        BLOB
);

CREATE TABLE deliveries (
  delivery_id    INTEGER PRIMARY KEY AUTOINCREMENT,  -- arrival order per recipient, never reused
  message_seq    INTEGER NOT NULL REFERENCES messages(seq),
  recipient      TEXT NOT NULL,
  state          TEXT NOT NULL CHECK (state IN ('stored', 'delivered', 'confirmed', 'dead_letter')),
  attempts       INTEGER NOT NULL DEFAULT 0,
  updated_at_ms  INTEGER NOT NULL,
  reason         TEXT NOT NULL DEFAULT '',
  UNIQUE (message_seq, recipient)
);

-- The delivery hot path reads only unconfirmed rows of one recipient in
-- delivery_id order: a partial index holds exactly those, already in that
-- order, so neither confirmed history nor a sort is ever touched.
CREATE INDEX deliveries_pending ON deliveries (recipient, delivery_id)
  WHERE state IN ('stored', 'delivered');

CREATE TABLE audit (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  at_ms       INTEGER NOT NULL,
  principal   TEXT NOT NULL,
  message_id  BLOB,
  stage       TEXT NOT NULL,
  outcome     TEXT NOT NULL,  -- error_code_name(), or 'accepted'
  detail      TEXT NOT NULL
);

CREATE TABLE log_leaves (
  leaf_index     INTEGER PRIMARY KEY,  -- 0-based and dense: the transparency log's order
  leaf_data      BLOB NOT NULL,
  leaf_hash      BLOB NOT NULL,        -- RFC 9162 leaf hash: SHA-256(0x00 || leaf_data)
  message_seq    INTEGER NOT NULL REFERENCES messages(seq),
  created_at_ms  INTEGER NOT NULL
);

-- One row per requested state of a tracing request: its lifecycle and clocks.
CREATE TABLE lifecycle (
  request_seq        INTEGER NOT NULL REFERENCES messages(seq),
  requested_country  TEXT NOT NULL,
  requester          TEXT NOT NULL,
  requester_country  TEXT NOT NULL,
  priority           TEXT NOT NULL,
  state              TEXT NOT NULL,
  submitted_at_ms    INTEGER NOT NULL,
  delivered_at_ms    INTEGER NOT NULL DEFAULT 0,
  acknowledged_at_ms INTEGER NOT NULL DEFAULT 0,
  answered_at_ms     INTEGER NOT NULL DEFAULT 0,
  closed_at_ms       INTEGER NOT NULL DEFAULT 0,
  ack_due_ms         INTEGER NOT NULL,
  response_due_ms    INTEGER NOT NULL,
  ack_reminded       INTEGER NOT NULL DEFAULT 0,
  response_reminded  INTEGER NOT NULL DEFAULT 0,
  outcome            TEXT NOT NULL DEFAULT '',
  refusal_grounds    TEXT NOT NULL DEFAULT '',
  updated_at_ms      INTEGER NOT NULL,
  PRIMARY KEY (request_seq, requested_country)
);

-- The stolen/lost registry: serial numbers of active alerts.
CREATE TABLE watched_serials (
  serial          TEXT NOT NULL,
  alert_seq       INTEGER NOT NULL REFERENCES messages(seq),
  alert_country   TEXT NOT NULL,
  valid_until_ms  INTEGER NOT NULL
);
CREATE INDEX watched_serials_by_serial ON watched_serials (serial);
CREATE INDEX watched_serials_by_alert ON watched_serials (alert_seq);
)sql";

// Schema version 2; apart from kSchema because the migration from version 1
// creates it too.
constexpr const char* kLogNodesSchema = R"sql(
-- The log's interior hashes, so that a proof reads O(log n) rows at any
-- size: row (level, idx) is the complete subtree over leaves
-- [idx * 2^level, (idx + 1) * 2^level), written in the transaction of the
-- leaf that completes it and never changed. Level 0 is log_leaves.leaf_hash,
-- not repeated here.
CREATE TABLE log_nodes (
  level  INTEGER NOT NULL CHECK (level >= 1),
  idx    INTEGER NOT NULL,
  hash   BLOB NOT NULL,  -- RFC 9162: SHA-256(0x01 || left || right)
  PRIMARY KEY (level, idx)
) WITHOUT ROWID;
)sql";

// Schema version 3: the public oversight feed and the signed checkpoints.
constexpr const char* kOversightSchema = R"sql(
-- The public feed observers follow: sequenced from 1 without gaps (rowid
-- max + 1 inside the writing transaction, never reused), each record the
-- broker-signed JSON of allow-listed public fields.
CREATE TABLE feed (
  seq            INTEGER PRIMARY KEY,
  kind           TEXT NOT NULL,
  record         BLOB NOT NULL,
  signature      BLOB NOT NULL,
  created_at_ms  INTEGER NOT NULL
);
-- What each leaf commits to, kept sealed (never served) until an embargo
-- reveals the events of published statistics cells.
CREATE TABLE log_commitments (
  leaf_index  INTEGER PRIMARY KEY,
  salt        BLOB NOT NULL,
  metadata    TEXT NOT NULL
);
-- Every checkpoint the broker signed: tree size, root, the signed note.
CREATE TABLE checkpoints (
  tree_size      INTEGER PRIMARY KEY,
  root_hash      BLOB NOT NULL,
  note           TEXT NOT NULL,
  created_at_ms  INTEGER NOT NULL
);
)sql";

// Schema version 4: leaves commit to parts, each with its own salt, so that
// the facts of published statistics cells can be revealed one by one while
// the rest stay sealed. Version 3's single commitments become part 0.
constexpr const char* kStatisticsSchema = R"sql(
CREATE TABLE log_commitment_parts (
  leaf_index         INTEGER NOT NULL,
  part               INTEGER NOT NULL,  -- 0: the event itself; then its facts
  salt               BLOB NOT NULL,
  metadata           TEXT NOT NULL,
  request_seq        INTEGER,           -- the tracing a fact is about: its request
  requested_country  TEXT,              -- and requested state (NULL for part 0)
  fact               TEXT,
  PRIMARY KEY (leaf_index, part)
) WITHOUT ROWID;
CREATE INDEX log_facts_by_tracing ON log_commitment_parts (request_seq, requested_country)
  WHERE request_seq IS NOT NULL;
INSERT INTO log_commitment_parts (leaf_index, part, salt, metadata)
  SELECT leaf_index, 0, salt, metadata FROM log_commitments;
DROP TABLE log_commitments;
CREATE INDEX lifecycle_by_submission ON lifecycle (submitted_at_ms);
-- Public records the broker writes (statistics, reveals) are leaves too:
-- a leaf belongs to a message or to a feed record, never both.
CREATE TABLE log_leaves_v4 (
  leaf_index     INTEGER PRIMARY KEY,
  leaf_data      BLOB NOT NULL,
  leaf_hash      BLOB NOT NULL,
  message_seq    INTEGER REFERENCES messages(seq),
  feed_seq       INTEGER,
  created_at_ms  INTEGER NOT NULL,
  CHECK ((message_seq IS NULL) != (feed_seq IS NULL))
);
INSERT INTO log_leaves_v4 (leaf_index, leaf_data, leaf_hash, message_seq, created_at_ms)
  SELECT leaf_index, leaf_data, leaf_hash, message_seq, created_at_ms FROM log_leaves;
DROP TABLE log_leaves;
ALTER TABLE log_leaves_v4 RENAME TO log_leaves;
-- The states a stolen/lost alert reached (",SN,NE,"): a request matches only
-- alerts that reached its state, so no state can watch serials to learn of
-- others' requests. Rows from version 3 reach no one until re-issued.
ALTER TABLE watched_serials ADD COLUMN reached_countries TEXT NOT NULL DEFAULT '';
-- Statistics cover periods from this time on: 0 for a store created with
-- leaf parts; the upgrade time for one migrated from version 3, whose
-- earlier leaves have no facts to reveal.
CREATE TABLE statistics_since (since_ms INTEGER NOT NULL);
-- Each period's statistics: when published (feed_sequence 0: the period
-- had no tracing) and when its facts were revealed after the embargo.
CREATE TABLE statistics_runs (
  period         TEXT NOT NULL,
  start_ms       INTEGER NOT NULL,
  revealed       INTEGER NOT NULL CHECK (revealed IN (0, 1)),
  feed_sequence  INTEGER NOT NULL,
  PRIMARY KEY (period, start_ms, revealed)
);
)sql";

// Schema version 5: several officers per participant. Apart from kSchema
// because the migration from version 4 runs it as it is.
constexpr const char* kOfficersSchema = R"sql(
-- The officer whose signed acknowledgement or answer moved a tracing ('':
-- the focal point's own certificate): status names them.
ALTER TABLE lifecycle ADD COLUMN acknowledged_by TEXT NOT NULL DEFAULT '';
ALTER TABLE lifecycle ADD COLUMN answered_by TEXT NOT NULL DEFAULT '';
-- An officer who connects later is sent the newest deliveries its
-- colleagues confirmed: read by recipient, newest first, without touching
-- other recipients' history.
CREATE INDEX deliveries_confirmed ON deliveries (recipient, delivery_id) WHERE state = 'confirmed';
)sql";

constexpr std::string_view kAccepted = "accepted";

std::string_view outcome_name(ErrorCode code) {
  return code == ErrorCode::none ? kAccepted : error_code_name(code);
}

// Audit rows written by this or an older build always name a known code;
// an unknown name (a newer build's) reads back as `internal` rather than failing the read.
ErrorCode parse_outcome(std::string_view name) {
  if (name == kAccepted) return ErrorCode::none;
  for (auto ordinal = static_cast<std::uint16_t>(ErrorCode::none);
       ordinal <= static_cast<std::uint16_t>(kLastErrorCode); ++ordinal) {
    const auto code = static_cast<ErrorCode>(ordinal);
    if (error_code_name(code) == name) return code;
  }
  return ErrorCode::internal;
}

std::optional<DeliveryState> parse_delivery_state(std::string_view name) {
  for (auto state : {DeliveryState::stored, DeliveryState::delivered, DeliveryState::confirmed,
                     DeliveryState::dead_letter}) {
    if (delivery_state_name(state) == name) return state;
  }
  return std::nullopt;
}

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

std::int64_t to_sql(std::uint64_t value) { return static_cast<std::int64_t>(value); }
std::int64_t limit_to_sql(std::size_t limit) {
  constexpr auto kMax = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  return static_cast<std::int64_t>(limit > kMax ? kMax : limit);
}

// Rows were written by this code, so a malformed id means a damaged file.
std::optional<MessageId> message_id_from(const Bytes& bytes) { return MessageId::from_bytes(bytes); }

Sha256Digest digest_from(const Bytes& bytes) {
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

  Status prepare_statements();

  Status begin(Durability durability) override {
    assert(!in_transaction());
    if (durability != durability_) {
      // WAL with synchronous=NORMAL commits without an fsync and stays
      // consistent; FULL fsyncs every commit. SQLite allows the switch only
      // between transactions.
      const char* pragma = durability == Durability::required ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL";
      if (int rc = sqlite3_exec(db_.get(), pragma, nullptr, nullptr, nullptr); rc != SQLITE_OK) {
        return fail(rc, "setting the commit durability");
      }
      durability_ = durability;
    }
    Query query(begin_.get());
    return done(query.step(), "starting a transaction");
  }

  Status commit() override {
    Query query(commit_.get());
    // On failure SQLite may or may not have rolled back already; the caller
    // calls rollback(), which is safe either way.
    return done(query.step(), "committing a transaction");
  }

  void rollback() override {
    if (in_transaction()) {
      Query query(rollback_.get());
      // A failed ROLLBACK leaves SQLite to roll back on its own (it does so
      // on the next use, or from the WAL on reopen); nothing more to do here.
      (void)query.step();
    }
  }

  Result<std::optional<StoredMessage>> find_message(const MessageId& id) override {
    Query query(find_message_.get());
    query.bind(1, ByteView(id.bytes));
    const int rc = query.step();
    if (rc == SQLITE_DONE) return std::optional<StoredMessage>{};
    if (rc != SQLITE_ROW) return fail(rc, "reading a message");
    StoredMessage message;
    message.seq = query.integer(0);
    message.id = id;
    message.signed_sha256 = digest_from(query.blob(1));
    message.sender = ParticipantId(query.text(2));
    message.sender_country = CountryCode(query.text(3));
    message.type = query.text(4);
    message.created_at_ms = query.integer(5);
    message.stored_at_ms = query.integer(6);
    message.log_index = static_cast<std::uint64_t>(query.integer(7));
    return std::optional<StoredMessage>{std::move(message)};
  }

  Result<std::uint64_t> append_record_leaf(ByteView leaf_data, std::uint64_t feed_sequence,
                                           std::int64_t at_ms) override {
    if (auto lost = transaction_lost()) return *std::move(lost);
    auto index = log_size();
    if (!index) return index;
    const auto hash = leaf_hash(leaf_data);
    Query query(insert_record_leaf_.get());
    query.bind(1, to_sql(*index)).bind(2, leaf_data).bind(3, ByteView(hash)).bind(4, to_sql(feed_sequence)).bind(5, at_ms);
    if (auto status = done(query.step(), "appending a public record's leaf"); !status) return std::move(status).take_error();
    if (auto status = append_log_nodes(*index, hash); !status) return std::move(status).take_error();
    return *index;
  }

  Status open_savepoint() override {
    if (auto lost = transaction_lost()) return *std::move(lost);
    Query query(unit_savepoint_.get());
    return done(query.step(), "starting a submission savepoint");
  }

  Status release_savepoint() override {
    Query query(unit_release_.get());
    return done(query.step(), "releasing a submission savepoint");
  }

  void rollback_savepoint() override {
    {
      Query undo(unit_rollback_.get());
      (void)undo.step();
    }
    Query release(unit_release_.get());
    (void)release.step();
  }

  Result<InsertedMessage> insert_message(const NewMessage& message, std::int64_t stored_at_ms) override {
    if (auto lost = transaction_lost()) return *std::move(lost);
    // A savepoint makes one message all-or-nothing inside a group commit: a
    // duplicate id (or any failure) in message 7 of a batch undoes only
    // message 7's rows and leaves the batch's other messages committable.
    {
      Query savepoint(savepoint_.get());
      if (auto status = done(savepoint.step(), "starting a message savepoint"); !status) return std::move(status).take_error();
    }
    auto inserted = insert_message_rows(message, stored_at_ms);
    if (!inserted) {
      Query undo(rollback_to_savepoint_.get());
      (void)undo.step();
    }
    Query release(release_savepoint_.get());
    if (auto status = done(release.step(), "releasing a message savepoint"); !status && inserted) {
      return std::move(status).take_error();
    }
    return inserted;
  }

  // ---- receipt groups: defined in the block at the end of this file ----
  Status insert_receipt_group(const ReceiptGroupRow& group, std::span<const ReceiptMember> members) override;
  Result<std::optional<StoredReceiptGroup>> receipt_group_of(std::int64_t message_seq) override;


  Status append_audit(const AuditEntry& entry) override {
    if (auto lost = transaction_lost()) return *std::move(lost);
    Query query(append_audit_.get());
    query.bind(1, entry.at_ms).bind(2, std::string_view(entry.principal));
    if (entry.message_id) {
      query.bind(3, ByteView(entry.message_id->bytes));
    } else {
      query.bind_null(3);
    }
    query.bind(4, std::string_view(entry.stage)).bind(5, outcome_name(entry.outcome)).bind(6, std::string_view(entry.detail));
    return done(query.step(), "appending an audit row");
  }

  Result<std::vector<PendingDelivery>> pending_deliveries(const ParticipantId& recipient, std::uint64_t after,
                                                          std::size_t limit) override {
    Query query(pending_deliveries_.get());
    query.bind(1, std::string_view(recipient.str())).bind(2, to_sql(after)).bind(3, limit_to_sql(limit));
    return delivery_rows(query, "reading pending deliveries");
  }

  Result<std::vector<PendingDelivery>> confirmed_deliveries(const ParticipantId& recipient, std::uint64_t after,
                                                            std::int64_t now_ms, std::size_t limit) override {
    Query query(confirmed_deliveries_.get());
    query.bind(1, std::string_view(recipient.str()))
        .bind(2, to_sql(after))
        .bind(3, now_ms)
        .bind(4, limit_to_sql(limit));
    return delivery_rows(query, "reading confirmed deliveries");
  }

  // Rows of (delivery id, message id, envelope, attempts), as both delivery queries select them.
  Result<std::vector<PendingDelivery>> delivery_rows(Query& query, const char* what) {
    std::vector<PendingDelivery> rows;
    for (;;) {
      const int rc = query.step();
      if (rc == SQLITE_DONE) return rows;
      if (rc != SQLITE_ROW) return fail(rc, what);
      PendingDelivery row;
      row.delivery_id = static_cast<std::uint64_t>(query.integer(0));
      auto id = message_id_from(query.blob(1));
      if (!id) return damaged("a message id in deliveries");
      row.message_id = *id;
      row.envelope = query.blob(2);
      row.attempts = static_cast<int>(query.integer(3));
      rows.push_back(std::move(row));
    }
  }

  Status mark_delivered(std::uint64_t delivery_id, std::int64_t at_ms) override {
    if (auto lost = transaction_lost()) return *std::move(lost);
    Query query(mark_delivered_.get());
    query.bind(1, at_ms).bind(2, to_sql(delivery_id));
    // Zero rows changed is fine: the delivery was confirmed or expired meanwhile.
    return done(query.step(), "marking a delivery delivered");
  }

  Result<int> confirm_deliveries(const ParticipantId& recipient, std::span<const std::uint64_t> delivery_ids,
                                 std::int64_t at_ms) override {
    if (auto lost = transaction_lost()) return *std::move(lost);
    int changed = 0;
    for (const auto delivery_id : delivery_ids) {
      Query query(confirm_delivery_.get());
      query.bind(1, at_ms).bind(2, to_sql(delivery_id)).bind(3, std::string_view(recipient.str()));
      if (auto status = done(query.step(), "confirming a delivery"); !status) return std::move(status).take_error();
      changed += sqlite3_changes(db_.get());
    }
    return changed;
  }

  Result<std::vector<DeadLetter>> expire_deliveries(std::int64_t now_ms, const std::string& reason) override {
    if (auto lost = transaction_lost()) return *std::move(lost);
    std::vector<DeadLetter> expired;
    {
      Query query(overdue_deliveries_.get());
      query.bind(1, now_ms);
      for (;;) {
        const int rc = query.step();
        if (rc == SQLITE_DONE) break;
        if (rc != SQLITE_ROW) return fail(rc, "finding overdue deliveries");
        DeadLetter row;
        row.delivery_id = static_cast<std::uint64_t>(query.integer(0));
        auto id = message_id_from(query.blob(1));
        if (!id) return damaged("a message id in messages");
        row.message_id = *id;
        row.sender = ParticipantId(query.text(2));
        row.recipient = ParticipantId(query.text(3));
        expired.push_back(std::move(row));
      }
    }
    for (const auto& row : expired) {
      Query query(dead_letter_.get());
      query.bind(1, now_ms).bind(2, std::string_view(reason)).bind(3, to_sql(row.delivery_id));
      if (auto status = done(query.step(), "dead-lettering a delivery"); !status) return std::move(status).take_error();
    }
    return expired;
  }

  Result<std::vector<DeliveryStatusRow>> delivery_status(const MessageId& id) override {
    Query query(delivery_status_.get());
    query.bind(1, ByteView(id.bytes));
    std::vector<DeliveryStatusRow> rows;
    for (;;) {
      const int rc = query.step();
      if (rc == SQLITE_DONE) return rows;
      if (rc != SQLITE_ROW) return fail(rc, "reading delivery status");
      DeliveryStatusRow row;
      row.recipient = ParticipantId(query.text(0));
      auto state = parse_delivery_state(query.text(1));
      if (!state) return damaged("a delivery state");
      row.state = *state;
      row.updated_at_ms = query.integer(2);
      row.reason = query.text(3);
      rows.push_back(std::move(row));
    }
  }

  Status add_deliveries(const MessageId& id, const std::vector<ParticipantId>& recipients,
                        std::int64_t at_ms) override {
    if (auto lost = transaction_lost()) return *std::move(lost);
    for (const auto& recipient : recipients) {
      Query query(add_delivery_.get());
      query.bind(1, ByteView(id.bytes)).bind(2, std::string_view(recipient.str())).bind(3, at_ms);
      if (auto status = done(query.step(), "adding a delivery"); !status) return status;
    }
    return {};
  }

  Result<std::optional<Bytes>> message_envelope(const MessageId& id) override {
    Query query(message_envelope_.get());
    query.bind(1, ByteView(id.bytes));
    const int rc = query.step();
    if (rc == SQLITE_DONE) return std::optional<Bytes>{};
    if (rc != SQLITE_ROW) return fail(rc, "reading an envelope");
    return std::optional<Bytes>{query.blob(0)};
  }

  Status insert_lifecycle(const LifecycleRow& row) override {
    if (auto lost = transaction_lost()) return *std::move(lost);
    Query query(insert_lifecycle_.get());
    query.bind(1, ByteView(row.request_id.bytes))
        .bind(2, std::string_view(row.requested_country.str()))
        .bind(3, std::string_view(row.requester.str()))
        .bind(4, std::string_view(row.requester_country.str()))
        .bind(5, std::string_view(row.priority))
        .bind(6, std::string_view(row.state))
        .bind(7, row.submitted_at_ms)
        .bind(8, row.ack_due_ms)
        .bind(9, row.response_due_ms)
        .bind(10, row.updated_at_ms);
    const int rc = query.step();
    if ((rc & 0xff) == SQLITE_CONSTRAINT) return {};  // already tracked (a forward to a state already asked)
    return done(rc, "storing a lifecycle row");
  }

  Status update_lifecycle(const LifecycleRow& row) override {
    if (auto lost = transaction_lost()) return *std::move(lost);
    Query query(update_lifecycle_.get());
    query.bind(1, std::string_view(row.state))
        .bind(2, row.delivered_at_ms)
        .bind(3, row.acknowledged_at_ms)
        .bind(4, row.answered_at_ms)
        .bind(5, row.closed_at_ms)
        .bind(6, static_cast<std::int64_t>(row.ack_reminded))
        .bind(7, static_cast<std::int64_t>(row.response_reminded))
        .bind(8, std::string_view(row.outcome))
        .bind(9, std::string_view(row.refusal_grounds))
        .bind(10, row.updated_at_ms)
        .bind(11, ByteView(row.request_id.bytes))
        .bind(12, std::string_view(row.requested_country.str()))
        .bind(13, std::string_view(row.acknowledged_by))
        .bind(14, std::string_view(row.answered_by));
    return done(query.step(), "updating a lifecycle row");
  }

  Result<std::vector<LifecycleRow>> lifecycle_of(const MessageId& request_id) override {
    Query query(lifecycle_of_.get());
    query.bind(1, ByteView(request_id.bytes));
    return read_lifecycle(query);
  }

  Status mark_lifecycle_delivered(std::uint64_t delivery_id, const ParticipantId& recipient,
                                  const CountryCode& recipient_country, std::int64_t at_ms) override {
    if (auto lost = transaction_lost()) return *std::move(lost);
    Query query(mark_lifecycle_delivered_.get());
    query.bind(1, at_ms)
        .bind(2, std::string_view(recipient_country.str()))
        .bind(3, to_sql(delivery_id))
        .bind(4, std::string_view(recipient.str()));
    return done(query.step(), "dating a delivery in the lifecycle");
  }

  Result<std::vector<LifecycleRow>> lifecycle_due(std::int64_t now_ms) override {
    Query query(lifecycle_due_.get());
    query.bind(1, now_ms);
    return read_lifecycle(query);
  }

  Status watch_serials(const MessageId& alert_id, const CountryCode& alert_country,
                       const std::vector<CountryCode>& reached_countries, const std::vector<std::string>& serials,
                       std::int64_t valid_until_ms) override {
    if (auto lost = transaction_lost()) return *std::move(lost);
    std::string reached = ",";
    for (const auto& country : reached_countries) reached.append(country.str()).append(",");
    for (const auto& serial : serials) {
      Query query(watch_serial_.get());
      query.bind(1, std::string_view(serial))
          .bind(2, ByteView(alert_id.bytes))
          .bind(3, std::string_view(alert_country.str()))
          .bind(4, valid_until_ms)
          .bind(5, std::string_view(reached));
      if (auto status = done(query.step(), "registering a watched serial"); !status) return status;
    }
    return {};
  }

  Status unwatch_serials(const MessageId& alert_id, const CountryCode& alert_country) override {
    if (auto lost = transaction_lost()) return *std::move(lost);
    Query query(unwatch_serials_.get());
    query.bind(1, ByteView(alert_id.bytes)).bind(2, std::string_view(alert_country.str()));
    return done(query.step(), "withdrawing watched serials");
  }

  Result<std::vector<WatchedSerialHit>> match_serial(const std::string& serial, const CountryCode& requester_country,
                                                     std::int64_t now_ms) override {
    Query query(match_serial_.get());
    std::string country = ",";
    country.append(requester_country.str()).append(",");
    query.bind(1, std::string_view(serial)).bind(2, now_ms).bind(3, std::string_view(country));
    std::vector<WatchedSerialHit> hits;
    for (;;) {
      const int rc = query.step();
      if (rc == SQLITE_DONE) return hits;
      if (rc != SQLITE_ROW) return fail(rc, "matching a serial");
      auto id = message_id_from(query.blob(0));
      if (!id) return damaged("alert id");
      hits.push_back({*id, CountryCode(query.text(1)), serial});
    }
  }

  Result<std::uint64_t> active_watched_serials(const CountryCode& alert_country, std::int64_t now_ms) override {
    Query query(active_watched_serials_.get());
    query.bind(1, std::string_view(alert_country.str())).bind(2, now_ms);
    const int rc = query.step();
    if (rc != SQLITE_ROW) return fail(rc, "counting a state's watched serials");
    return static_cast<std::uint64_t>(query.integer(0));
  }

  Result<std::uint64_t> bytes_stored_since(const ParticipantId& sender, std::int64_t since_ms) override {
    // TODO(perf): a scan of the messages table, once per participant and
    // UTC day (DailyQuota keeps the count in memory); an index on
    // (sender, stored_at_ms) would make it a range read.
    Query query(bytes_stored_since_.get());
    query.bind(1, std::string_view(sender.str())).bind(2, since_ms);
    const int rc = query.step();
    if (rc != SQLITE_ROW) return fail(rc, "reading a participant's stored bytes of the day");
    return static_cast<std::uint64_t>(query.integer(0));
  }

  Result<std::uint64_t> next_feed_sequence() override {
    Query query(next_feed_sequence_.get());
    const int rc = query.step();
    if (rc != SQLITE_ROW) return fail(rc, "reading the feed's next sequence");
    return static_cast<std::uint64_t>(query.integer(0));
  }

  Status append_feed(const FeedRow& row, std::int64_t at_ms) override {
    if (auto lost = transaction_lost()) return *std::move(lost);
    Query query(append_feed_.get());
    query.bind(1, to_sql(row.sequence))
        .bind(2, std::string_view(row.kind))
        .bind(3, ByteView(row.record))
        .bind(4, ByteView(row.signature))
        .bind(5, at_ms);
    return done(query.step(), "appending a feed record");
  }

  Result<std::vector<FeedRow>> feed_page(std::uint64_t from_sequence, std::size_t limit) override {
    Query query(feed_page_.get());
    query.bind(1, to_sql(from_sequence)).bind(2, limit_to_sql(limit));
    std::vector<FeedRow> rows;
    for (;;) {
      const int rc = query.step();
      if (rc == SQLITE_DONE) return rows;
      if (rc != SQLITE_ROW) return fail(rc, "reading the feed");
      rows.push_back({static_cast<std::uint64_t>(query.integer(0)), query.text(1), query.blob(2), query.blob(3)});
    }
  }

  Status append_checkpoint(const CheckpointRow& row) override {
    if (auto lost = transaction_lost()) return *std::move(lost);
    Query query(append_checkpoint_.get());
    query.bind(1, to_sql(row.tree_size))
        .bind(2, ByteView(row.root))
        .bind(3, std::string_view(row.note))
        .bind(4, row.created_at_ms);
    return done(query.step(), "storing a checkpoint");
  }

  Result<std::optional<CheckpointRow>> latest_checkpoint() override {
    Query query(latest_checkpoint_.get());
    const int rc = query.step();
    if (rc == SQLITE_DONE) return std::optional<CheckpointRow>{};
    if (rc != SQLITE_ROW) return fail(rc, "reading the latest checkpoint");
    CheckpointRow row;
    row.tree_size = static_cast<std::uint64_t>(query.integer(0));
    row.root = digest_from(query.blob(1));
    row.note = query.text(2);
    row.created_at_ms = query.integer(3);
    return std::optional<CheckpointRow>{std::move(row)};
  }

  Result<std::vector<LifecycleRow>> lifecycle_submitted_between(std::int64_t from_ms, std::int64_t to_ms) override {
    Query query(lifecycle_between_.get());
    query.bind(1, from_ms).bind(2, to_ms);
    return read_lifecycle(query);
  }

  Result<std::optional<StatisticsStart>> statistics_start() override {
    Query query(first_submission_.get());
    const int rc = query.step();
    if (rc != SQLITE_ROW) return fail(rc, "reading the first submission");
    if (query.is_null(0)) return std::optional<StatisticsStart>{};
    return std::optional<StatisticsStart>{StatisticsStart{query.integer(0), query.integer(1)}};
  }

  Result<std::vector<SealedFact>> facts_of_tracing(const MessageId& request_id,
                                                   const CountryCode& requested_country) override {
    Query query(facts_of_tracing_.get());
    query.bind(1, ByteView(request_id.bytes)).bind(2, std::string_view(requested_country.str()));
    std::vector<SealedFact> facts;
    for (;;) {
      const int rc = query.step();
      if (rc == SQLITE_DONE) return facts;
      if (rc != SQLITE_ROW) return fail(rc, "reading the facts of a tracing");
      SealedFact fact;
      fact.leaf_index = static_cast<std::uint64_t>(query.integer(0));
      fact.part = static_cast<std::uint32_t>(query.integer(1));
      fact.fact = query.text(2);
      auto salt = query.blob(3);
      fact.salt.assign(salt.begin(), salt.end());
      fact.metadata = query.text(4);
      facts.push_back(std::move(fact));
    }
  }

  Result<std::vector<Sha256Digest>> commitment_part_hashes(std::uint64_t leaf_index) override {
    Query query(commitment_parts_.get());
    query.bind(1, to_sql(leaf_index));
    std::vector<Sha256Digest> hashes;
    for (;;) {
      const int rc = query.step();
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return fail(rc, "reading a leaf's commitment");
      hashes.push_back(stats::commitment_part_hash(query.blob(0), query.text(1)));
    }
    if (hashes.empty()) {
      return make_error(ErrorCode::not_found, "leaf " + std::to_string(leaf_index) + " has no kept commitment");
    }
    return hashes;
  }

  Result<std::optional<std::int64_t>> last_statistics_period(const std::string& period) override {
    Query query(last_statistics_period_.get());
    query.bind(1, std::string_view(period));
    const int rc = query.step();
    if (rc != SQLITE_ROW) return fail(rc, "reading the statistics runs");
    if (query.is_null(0)) return std::optional<std::int64_t>{};
    return std::optional<std::int64_t>{query.integer(0)};
  }

  Result<std::vector<StatisticsRun>> statistics_awaiting_reveal(const std::string& period,
                                                                std::int64_t started_before) override {
    Query query(statistics_awaiting_reveal_.get());
    query.bind(1, std::string_view(period)).bind(2, started_before);
    std::vector<StatisticsRun> runs;
    for (;;) {
      const int rc = query.step();
      if (rc == SQLITE_DONE) return runs;
      if (rc != SQLITE_ROW) return fail(rc, "reading the statistics runs");
      runs.push_back({period, query.integer(0), static_cast<std::uint64_t>(query.integer(1))});
    }
  }

  Status record_statistics_run(const StatisticsRun& run, bool revealed) override {
    if (auto lost = transaction_lost()) return *std::move(lost);
    Query query(record_statistics_run_.get());
    query.bind(1, std::string_view(run.period))
        .bind(2, run.start_ms)
        .bind(3, std::int64_t{revealed ? 1 : 0})
        .bind(4, to_sql(run.feed_sequence));
    return done(query.step(), "recording a statistics run");
  }

  Result<std::vector<AuditRow>> audit_rows(std::int64_t after_id, std::size_t limit) override {
    Query query(audit_rows_.get());
    query.bind(1, after_id).bind(2, limit_to_sql(limit));
    std::vector<AuditRow> rows;
    for (;;) {
      const int rc = query.step();
      if (rc == SQLITE_DONE) return rows;
      if (rc != SQLITE_ROW) return fail(rc, "reading audit rows");
      AuditRow row;
      row.id = query.integer(0);
      row.at_ms = query.integer(1);
      row.principal = query.text(2);
      if (!query.is_null(3)) {
        row.message_id = message_id_from(query.blob(3));
        if (!row.message_id) return damaged("a message id in audit");
      }
      row.stage = query.text(4);
      row.outcome = parse_outcome(query.text(5));
      row.detail = query.text(6);
      rows.push_back(std::move(row));
    }
  }

  Result<std::uint64_t> log_size() override {
    Query query(next_leaf_index_.get());
    const int rc = query.step();
    if (rc != SQLITE_ROW) return fail(rc, "reading the log size");
    return static_cast<std::uint64_t>(query.integer(0));
  }

  Result<Sha256Digest> log_node(std::uint32_t level, std::uint64_t index) override {
    Query query(level == 0 ? log_leaf_hash_.get() : log_node_.get());
    query.bind(1, to_sql(index));
    if (level != 0) query.bind(2, static_cast<std::int64_t>(level));
    const int rc = query.step();
    if (rc == SQLITE_DONE) {
      return make_error(ErrorCode::not_found, "the log has no complete subtree at level " + std::to_string(level) +
                                                  ", index " + std::to_string(index) + " yet");
    }
    if (rc != SQLITE_ROW) return fail(rc, "reading a log node");
    const Bytes hash = query.blob(0);
    if (hash.size() != Sha256Digest{}.size()) return damaged("log hash");
    return digest_from(hash);
  }

  Status start_background_checkpoints(std::chrono::milliseconds every) override {
    if (checkpointer_.joinable()) return {};
    sqlite3* raw = nullptr;
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
    const int rc = sqlite3_open_v2(path_.c_str(), &raw, flags, vfs_.empty() ? nullptr : vfs_.c_str());
    DatabasePtr db(raw);
    if (rc != SQLITE_OK) {
      return make_error(ErrorCode::io_error, "opening a checkpoint connection to " + path_ + ": " +
                                                 (db ? sqlite3_errmsg(db.get()) : sqlite3_errstr(rc)));
    }
    // A connection that has not read the database yet has not opened its
    // WAL either, and its checkpoints quietly do nothing: read once.
    if (const int read = sqlite3_exec(db.get(), "SELECT count(*) FROM sqlite_schema", nullptr, nullptr, nullptr);
        read != SQLITE_OK) {
      return make_error(ErrorCode::io_error, "reading " + path_ + " on the checkpoint connection: " +
                                                 sqlite3_errmsg(db.get()));
    }
    checkpoint_db_ = std::move(db);
    checkpointer_ = std::thread([this, every] { run_background_checkpoints(every); });
    return {};
  }

  std::optional<std::string> take_background_checkpoint_error() override {
    std::lock_guard lock(checkpoint_mutex_);
    return std::exchange(checkpoint_error_, std::nullopt);
  }

  Status checkpoint() override {
    assert(!in_transaction());
    // RESTART, not TRUNCATE: the next commits overwrite the WAL file from its
    // start instead of growing a fresh one, so an fsync need not also commit
    // new blocks to the file system's journal. journal_size_limit (set at
    // open) still shrinks a WAL that a burst made large.
    const int rc = sqlite3_wal_checkpoint_v2(db_.get(), nullptr, SQLITE_CHECKPOINT_RESTART, nullptr, nullptr);
    return done(rc, "checkpointing the WAL");
  }

 private:
  bool in_transaction() const { return sqlite3_get_autocommit(db_.get()) == 0; }

  void run_background_checkpoints(std::chrono::milliseconds every) {
    std::unique_lock lock(checkpoint_mutex_);
    for (;;) {
      if (checkpoint_wake_.wait_for(lock, every, [this] { return checkpoint_stop_; })) return;
      lock.unlock();
      // PASSIVE takes no lock the writer waits on; BUSY only means another
      // checkpoint (the stop's) is running.
      const int rc = sqlite3_wal_checkpoint_v2(checkpoint_db_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr,
                                               nullptr);
      std::string failure;
      if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY) {
        failure = std::string("WAL checkpoint of ") + path_ + " failed: " + sqlite3_errmsg(checkpoint_db_.get());
      }
      lock.lock();
      if (!failure.empty()) checkpoint_error_ = std::move(failure);
    }
  }

  void stop_background_checkpoints() {
    {
      std::lock_guard lock(checkpoint_mutex_);
      checkpoint_stop_ = true;
    }
    checkpoint_wake_.notify_all();
    if (checkpointer_.joinable()) checkpointer_.join();
    checkpoint_db_.reset();
  }

  // Every write belongs to the caller's transaction. SQLite rolls the whole
  // transaction back on some failures (disk full, I/O error, out of memory),
  // even inside a savepoint; a write after that would run on its own in
  // autocommit, outside the batch and its receipts. It is refused instead,
  // so the rest of the batch fails cleanly and is retried by its senders.
  std::optional<Error> transaction_lost() const {
    if (in_transaction()) return std::nullopt;
    return make_error(ErrorCode::io_error,
                      "the store's transaction was rolled back by an earlier failure in this batch (see the "
                      "broker's log): this write was not made, and nothing of the batch will be committed");
  }

  Result<InsertedMessage> insert_message_rows(const NewMessage& message, std::int64_t stored_at_ms) {
    std::uint64_t log_index = 0;
    {
      Query query(next_leaf_index_.get());
      const int rc = query.step();
      if (rc != SQLITE_ROW) return fail(rc, "reading the next log index");
      log_index = static_cast<std::uint64_t>(query.integer(0));
    }

    std::int64_t seq = 0;
    {
      Query query(insert_message_.get());
      query.bind(1, ByteView(message.id.bytes))
          .bind(2, ByteView(message.signed_sha256))
          .bind(3, ByteView(message.envelope))
          .bind(4, std::string_view(message.sender.str()))
          .bind(5, std::string_view(message.sender_country.str()))
          .bind(6, std::string_view(message.type))
          .bind(7, message.created_at_ms)
          .bind(8, stored_at_ms);
      if (message.in_reply_to) {
        query.bind(9, ByteView(message.in_reply_to->bytes));
      } else {
        query.bind_null(9);
      }
      query.bind(10, message.hold_until_ms).bind(11, to_sql(log_index));
      const int rc = query.step();
      if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        return make_error(ErrorCode::id_reused, "message id " + message.id.hex() + " is already stored");
      }
      if (rc != SQLITE_DONE) return fail(rc, "storing a message");
      seq = sqlite3_last_insert_rowid(db_.get());
    }

    for (const auto& recipient : message.recipients) {
      Query query(insert_delivery_.get());
      query.bind(1, seq).bind(2, std::string_view(recipient.str())).bind(3, stored_at_ms);
      const int rc = query.step();
      if (rc == SQLITE_CONSTRAINT_UNIQUE) {
        return make_error(ErrorCode::invalid_argument,
                          "recipient " + recipient.str() + " is listed twice for message " + message.id.hex());
      }
      if (rc != SQLITE_DONE) return fail(rc, "storing a delivery");
    }

    {
      const auto hash = leaf_hash(message.log_leaf_data);
      Query query(insert_leaf_.get());
      query.bind(1, to_sql(log_index))
          .bind(2, ByteView(message.log_leaf_data))
          .bind(3, ByteView(hash))
          .bind(4, seq)
          .bind(5, stored_at_ms);
      if (auto status = done(query.step(), "appending a log leaf"); !status) return std::move(status).take_error();
      if (auto status = append_log_nodes(log_index, hash); !status) return std::move(status).take_error();
    }
    for (std::size_t part = 0; part < message.log_parts.size(); ++part) {
      const CommitmentPart& sealed = message.log_parts[part];
      Query query(insert_commitment_.get());
      query.bind(1, to_sql(log_index))
          .bind(2, static_cast<std::int64_t>(part))
          .bind(3, ByteView(sealed.salt))
          .bind(4, std::string_view(sealed.metadata));
      if (sealed.tracing_request) {
        query.bind(5, ByteView(sealed.tracing_request->bytes))
            .bind(6, std::string_view(sealed.requested_country.str()))
            .bind(7, std::string_view(sealed.fact));
      }
      if (auto status = done(query.step(), "keeping a leaf's commitment"); !status) return std::move(status).take_error();
    }
    return InsertedMessage{seq, log_index};
  }

  // Leaf `leaf_index` completes one subtree per trailing 1 bit of its index:
  // at each such level its subtree joins the complete left sibling already
  // stored. One insert per leaf on average, ~log2(n) at most.
  Status append_log_nodes(std::uint64_t leaf_index, const Sha256Digest& leaf) {
    Sha256Digest hash = leaf;
    for (std::uint32_t level = 0; ((leaf_index >> level) & 1) != 0; ++level) {
      auto left = log_node(level, (leaf_index >> level) - 1);
      if (!left) return std::move(left).take_error();
      hash = node_hash(*left, hash);
      Query query(insert_log_node_.get());
      query.bind(1, static_cast<std::int64_t>(level + 1)).bind(2, to_sql(leaf_index >> (level + 1))).bind(3, ByteView(hash));
      if (auto status = done(query.step(), "appending a log node"); !status) return status;
    }
    return {};
  }

  Result<std::vector<LifecycleRow>> read_lifecycle(Query& query) {
    std::vector<LifecycleRow> rows;
    for (;;) {
      const int rc = query.step();
      if (rc == SQLITE_DONE) return rows;
      if (rc != SQLITE_ROW) return fail(rc, "reading lifecycle rows");
      LifecycleRow row;
      auto id = message_id_from(query.blob(0));
      if (!id) return damaged("request id");
      row.request_id = *id;
      row.requested_country = CountryCode(query.text(1));
      row.requester = ParticipantId(query.text(2));
      row.requester_country = CountryCode(query.text(3));
      row.priority = query.text(4);
      row.state = query.text(5);
      row.submitted_at_ms = query.integer(6);
      row.delivered_at_ms = query.integer(7);
      row.acknowledged_at_ms = query.integer(8);
      row.answered_at_ms = query.integer(9);
      row.closed_at_ms = query.integer(10);
      row.ack_due_ms = query.integer(11);
      row.response_due_ms = query.integer(12);
      row.ack_reminded = query.integer(13) != 0;
      row.response_reminded = query.integer(14) != 0;
      row.outcome = query.text(15);
      row.refusal_grounds = query.text(16);
      row.updated_at_ms = query.integer(17);
      row.acknowledged_by = query.text(18);
      row.answered_by = query.text(19);
      rows.push_back(std::move(row));
    }
  }

  Status done(int rc, std::string_view what) {
    if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW) return {};
    return fail(rc, what);
  }

  // Reads sqlite3_errmsg, so call it before the failing Query resets.
  Error fail(int rc, std::string_view what) const {
    const int primary = rc & 0xff;
    std::string text{what};
    if (primary == SQLITE_FULL) {
      return make_error(ErrorCode::io_error, text + ": disk full at " + path_ +
                                                 "; free space on that volume, then retry (the transaction was not stored)");
    }
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
      return make_error(ErrorCode::unavailable,
                        text + ": " + path_ + " is locked by another connection (" + sqlite3_errmsg(db_.get()) +
                            "); close any other program using it (an sqlite3 shell) and retry");
    }
    return make_error(ErrorCode::io_error, text + ": " + sqlite3_errmsg(db_.get()) + " (" + sqlite3_errstr(rc) +
                                               ") in " + path_ + "; check the file, its permissions and its volume");
  }

  Error damaged(std::string_view what) const {
    return make_error(ErrorCode::io_error, std::string("the store ") + path_ + " holds a malformed " +
                                               std::string(what) + "; restore it from a backup");
  }

  // Declared first, so it is destroyed after every statement below.
  DatabasePtr db_;
  std::string path_;
  std::string vfs_;  // empty: SQLite's default
  Durability durability_ = Durability::required;  // open_sqlite_store sets synchronous=FULL

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
  StatementPtr insert_commitment_;
  StatementPtr lifecycle_between_;
  StatementPtr first_submission_;
  StatementPtr facts_of_tracing_;
  StatementPtr commitment_parts_;
  StatementPtr last_statistics_period_;
  StatementPtr statistics_awaiting_reveal_;
  StatementPtr record_statistics_run_;
  StatementPtr log_leaf_hash_;
  StatementPtr log_node_;
  StatementPtr insert_log_node_;
  // receipt groups (block at the end), prepared on first use
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
  StatementPtr unwatch_serials_;
  StatementPtr match_serial_;
  StatementPtr active_watched_serials_;
  StatementPtr bytes_stored_since_;
  StatementPtr mark_lifecycle_delivered_;
  StatementPtr next_feed_sequence_;
  StatementPtr append_feed_;
  StatementPtr feed_page_;
  StatementPtr append_checkpoint_;
  StatementPtr latest_checkpoint_;
};

// The columns read_lifecycle() expects, in its order.
#define FPX_LIFECYCLE_COLUMNS                                                                              \
  "m.message_id, l.requested_country, l.requester, l.requester_country, l.priority, l.state, "            \
  "l.submitted_at_ms, l.delivered_at_ms, l.acknowledged_at_ms, l.answered_at_ms, l.closed_at_ms, "        \
  "l.ack_due_ms, l.response_due_ms, l.ack_reminded, l.response_reminded, l.outcome, l.refusal_grounds, " \
  "l.updated_at_ms, l.acknowledged_by, l.answered_by"

Status SqliteStore::prepare_statements() {
  const std::pair<StatementPtr*, const char*> statements[] = {
      {&begin_, "BEGIN IMMEDIATE"},
      {&commit_, "COMMIT"},
      {&rollback_, "ROLLBACK"},
      {&insert_record_leaf_,
       "INSERT INTO log_leaves (leaf_index, leaf_data, leaf_hash, feed_seq, created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)"},
      {&unit_savepoint_, "SAVEPOINT submission"},
      {&unit_release_, "RELEASE submission"},
      {&unit_rollback_, "ROLLBACK TO submission"},
      {&savepoint_, "SAVEPOINT insert_message"},
      {&release_savepoint_, "RELEASE insert_message"},
      {&rollback_to_savepoint_, "ROLLBACK TO insert_message"},
      {&find_message_,
       "SELECT seq, signed_sha256, sender, sender_country, type, created_at_ms, stored_at_ms, log_index "
       "FROM messages WHERE message_id = ?1"},
      {&next_leaf_index_, "SELECT COALESCE(MAX(leaf_index) + 1, 0) FROM log_leaves"},
      {&insert_message_,
       "INSERT INTO messages (message_id, signed_sha256, envelope, sender, sender_country, type, created_at_ms, "
       "stored_at_ms, in_reply_to, hold_until_ms, log_index) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"},
      {&insert_delivery_,
       "INSERT INTO deliveries (message_seq, recipient, state, attempts, updated_at_ms) "
       "VALUES (?1, ?2, 'stored', 0, ?3)"},
      {&insert_leaf_,
       "INSERT INTO log_leaves (leaf_index, leaf_data, leaf_hash, message_seq, created_at_ms) "
       "VALUES (?1, ?2, ?3, ?4, ?5)"},
      {&insert_commitment_,
       "INSERT INTO log_commitment_parts (leaf_index, part, salt, metadata, request_seq, requested_country, fact) "
       "VALUES (?1, ?2, ?3, ?4, (SELECT seq FROM messages WHERE message_id = ?5), ?6, ?7)"},
      {&lifecycle_between_,
       "SELECT " FPX_LIFECYCLE_COLUMNS " FROM lifecycle AS l JOIN messages AS m ON m.seq = l.request_seq "
       "WHERE l.submitted_at_ms >= ?1 AND l.submitted_at_ms < ?2 ORDER BY l.request_seq, l.requested_country"},
      {&first_submission_,
       "SELECT MIN(submitted_at_ms), (SELECT MAX(since_ms) FROM statistics_since) FROM lifecycle"},
      {&facts_of_tracing_,
       "SELECT p.leaf_index, p.part, p.fact, p.salt, p.metadata FROM log_commitment_parts AS p "
       "WHERE p.request_seq = (SELECT seq FROM messages WHERE message_id = ?1) AND p.requested_country = ?2 "
       "ORDER BY p.leaf_index, p.part"},
      {&commitment_parts_, "SELECT salt, metadata FROM log_commitment_parts WHERE leaf_index = ?1 ORDER BY part"},
      {&last_statistics_period_, "SELECT MAX(start_ms) FROM statistics_runs WHERE period = ?1 AND revealed = 0"},
      {&statistics_awaiting_reveal_,
       "SELECT start_ms, feed_sequence FROM statistics_runs AS r WHERE r.period = ?1 AND r.revealed = 0 "
       "AND r.feed_sequence != 0 AND r.start_ms < ?2 AND NOT EXISTS (SELECT 1 FROM statistics_runs AS d "
       "WHERE d.period = r.period AND d.start_ms = r.start_ms AND d.revealed = 1) ORDER BY r.start_ms"},
      {&record_statistics_run_,
       "INSERT INTO statistics_runs (period, start_ms, revealed, feed_sequence) VALUES (?1, ?2, ?3, ?4)"},
      {&log_leaf_hash_, "SELECT leaf_hash FROM log_leaves WHERE leaf_index = ?1"},
      {&log_node_, "SELECT hash FROM log_nodes WHERE level = ?2 AND idx = ?1"},
      {&insert_log_node_, "INSERT INTO log_nodes (level, idx, hash) VALUES (?1, ?2, ?3)"},
      {&append_audit_,
       "INSERT INTO audit (at_ms, principal, message_id, stage, outcome, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"},
      {&pending_deliveries_,
       "SELECT d.delivery_id, m.message_id, m.envelope, d.attempts "
       "FROM deliveries AS d JOIN messages AS m ON m.seq = d.message_seq "
       "WHERE d.recipient = ?1 AND d.state IN ('stored', 'delivered') AND d.delivery_id > ?2 "
       "ORDER BY d.delivery_id LIMIT ?3"},
      // The newest `limit` (through the partial index deliveries_confirmed),
      // returned oldest first.
      {&confirmed_deliveries_,
       "SELECT delivery_id, message_id, envelope, attempts FROM ("
       "SELECT d.delivery_id, m.message_id, m.envelope, d.attempts "
       "FROM deliveries AS d INDEXED BY deliveries_confirmed JOIN messages AS m ON m.seq = d.message_seq "
       "WHERE d.recipient = ?1 AND d.state = 'confirmed' AND d.delivery_id > ?2 AND m.hold_until_ms >= ?3 "
       "ORDER BY d.delivery_id DESC LIMIT ?4) ORDER BY delivery_id"},
      {&mark_delivered_,
       "UPDATE deliveries SET state = 'delivered', attempts = attempts + 1, updated_at_ms = ?1 "
       "WHERE delivery_id = ?2 AND state IN ('stored', 'delivered')"},
      // The recipient term is what stops one participant confirming another's delivery.
      {&confirm_delivery_,
       "UPDATE deliveries SET state = 'confirmed', updated_at_ms = ?1 "
       "WHERE delivery_id = ?2 AND recipient = ?3 AND state IN ('stored', 'delivered')"},
      // INDEXED BY: without statistics the planner scans every delivery ever
      // made; the partial index holds only the unconfirmed backlog.
      {&overdue_deliveries_,
       "SELECT d.delivery_id, m.message_id, m.sender, d.recipient "
       "FROM deliveries AS d INDEXED BY deliveries_pending JOIN messages AS m ON m.seq = d.message_seq "
       "WHERE d.state IN ('stored', 'delivered') AND m.hold_until_ms < ?1 ORDER BY d.delivery_id"},
      {&dead_letter_,
       "UPDATE deliveries SET state = 'dead_letter', updated_at_ms = ?1, reason = ?2 "
       "WHERE delivery_id = ?3 AND state IN ('stored', 'delivered')"},
      {&delivery_status_,
       "SELECT d.recipient, d.state, d.updated_at_ms, d.reason "
       "FROM deliveries AS d JOIN messages AS m ON m.seq = d.message_seq "
       "WHERE m.message_id = ?1 ORDER BY d.delivery_id"},
      {&audit_rows_,
       "SELECT id, at_ms, principal, message_id, stage, outcome, detail FROM audit "
       "WHERE id > ?1 ORDER BY id LIMIT ?2"},
      {&add_delivery_,
       "INSERT OR IGNORE INTO deliveries (message_seq, recipient, state, attempts, updated_at_ms) "
       "SELECT seq, ?2, 'stored', 0, ?3 FROM messages WHERE message_id = ?1"},
      {&message_envelope_, "SELECT envelope FROM messages WHERE message_id = ?1"},
      {&insert_lifecycle_,
       "INSERT INTO lifecycle (request_seq, requested_country, requester, requester_country, priority, state, "
       "submitted_at_ms, ack_due_ms, response_due_ms, updated_at_ms) "
       "SELECT seq, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10 FROM messages WHERE message_id = ?1"},
      {&update_lifecycle_,
       "UPDATE lifecycle SET state = ?1, delivered_at_ms = ?2, acknowledged_at_ms = ?3, answered_at_ms = ?4, "
       "closed_at_ms = ?5, ack_reminded = ?6, response_reminded = ?7, outcome = ?8, refusal_grounds = ?9, "
       "updated_at_ms = ?10, acknowledged_by = ?13, answered_by = ?14 "
       "WHERE request_seq = (SELECT seq FROM messages WHERE message_id = ?11) AND requested_country = ?12"},
      {&lifecycle_of_,
       "SELECT " FPX_LIFECYCLE_COLUMNS " FROM lifecycle AS l JOIN messages AS m ON m.seq = l.request_seq "
       "WHERE m.message_id = ?1 ORDER BY l.requested_country"},
      // Clocks run only while the state still owes an answer.
      {&lifecycle_due_,
       "SELECT " FPX_LIFECYCLE_COLUMNS " FROM lifecycle AS l JOIN messages AS m ON m.seq = l.request_seq "
       "WHERE l.state NOT IN ('final', 'restricted', 'refused', 'forwarded', 'withdrawn', 'closed') AND "
       "((l.ack_reminded = 0 AND l.acknowledged_at_ms = 0 AND l.ack_due_ms <= ?1) OR "
       "(l.response_reminded = 0 AND l.response_due_ms <= ?1)) ORDER BY l.request_seq"},
      {&next_feed_sequence_, "SELECT COALESCE(MAX(seq), 0) + 1 FROM feed"},
      {&active_watched_serials_,
       "SELECT COUNT(*) FROM watched_serials WHERE alert_country = ?1 AND valid_until_ms >= ?2"},
      {&bytes_stored_since_,
       "SELECT COALESCE(SUM(length(envelope)), 0) FROM messages WHERE sender = ?1 AND stored_at_ms >= ?2"},
      {&append_feed_,
       "INSERT INTO feed (seq, kind, record, signature, created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)"},
      {&feed_page_, "SELECT seq, kind, record, signature FROM feed WHERE seq >= ?1 ORDER BY seq LIMIT ?2"},
      {&append_checkpoint_,
       "INSERT OR IGNORE INTO checkpoints (tree_size, root_hash, note, created_at_ms) VALUES (?1, ?2, ?3, ?4)"},
      {&latest_checkpoint_,
       "SELECT tree_size, root_hash, note, created_at_ms FROM checkpoints ORDER BY tree_size DESC LIMIT 1"},
      {&mark_lifecycle_delivered_,
       "UPDATE lifecycle SET state = 'delivered', delivered_at_ms = ?1, updated_at_ms = ?1 "
       "WHERE state = 'submitted' AND requested_country = ?2 AND request_seq = "
       "(SELECT message_seq FROM deliveries WHERE delivery_id = ?3 AND recipient = ?4)"},
      {&watch_serial_,
       "INSERT INTO watched_serials (serial, alert_seq, alert_country, valid_until_ms, reached_countries) "
       "SELECT ?1, seq, ?3, ?4, ?5 FROM messages WHERE message_id = ?2"},
      {&unwatch_serials_,
       "DELETE FROM watched_serials WHERE alert_seq = (SELECT seq FROM messages WHERE message_id = ?1) "
       "AND alert_country = ?2"},
      {&match_serial_,
       "SELECT m.message_id, w.alert_country FROM watched_serials AS w JOIN messages AS m ON m.seq = w.alert_seq "
       "WHERE w.serial = ?1 AND w.valid_until_ms >= ?2 AND instr(w.reached_countries, ?3) > 0"},
  };
  for (const auto& [slot, sql] : statements) {
    sqlite3_stmt* raw = nullptr;
    const int rc = sqlite3_prepare_v3(db_.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    slot->reset(raw);
    if (rc != SQLITE_OK) return fail(rc, "preparing a statement");
  }
  return {};
}

// Runs SQL with no result rows worth reading (pragmas that echo a value are
// fine: the value is ignored).
Status exec(sqlite3* db, const char* sql, const std::string& path) {
  char* message = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &message);
  if (rc == SQLITE_OK) return {};
  std::string text = message != nullptr ? message : sqlite3_errstr(rc);
  sqlite3_free(message);
  if ((rc & 0xff) == SQLITE_FULL) text = "disk full";
  return make_error(ErrorCode::io_error, "opening store " + path + ": " + text + " (running: " + sql +
                                             "); check the file, its permissions and free space");
}

// Steps a one-row statement (a pragma or a count) and hands the row to `read`.
template <typename Read>
Status query_row(sqlite3* db, const char* sql, const std::string& path, Read read) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db, sql, -1, &raw, nullptr);
  StatementPtr statement(raw);
  if (rc == SQLITE_OK) rc = sqlite3_step(statement.get());
  if (rc != SQLITE_ROW) {
    return make_error(ErrorCode::io_error, "opening store " + path + ": " + sqlite3_errmsg(db) + " (running: " + sql +
                                               "); check that the file is an FPX store and readable");
  }
  read(statement.get());
  return {};
}

Result<std::string> query_text(sqlite3* db, const char* sql, const std::string& path) {
  std::string value;
  auto status = query_row(db, sql, path, [&](sqlite3_stmt* row) {
    const auto* text = sqlite3_column_text(row, 0);
    if (text != nullptr) value = reinterpret_cast<const char*>(text);
  });
  if (!status) return std::move(status).take_error();
  return value;
}

Result<std::int64_t> query_integer(sqlite3* db, const char* sql, const std::string& path) {
  std::int64_t value = 0;
  auto status = query_row(db, sql, path, [&](sqlite3_stmt* row) { value = sqlite3_column_int64(row, 0); });
  if (!status) return std::move(status).take_error();
  return value;
}

// Version 1 had no log_nodes: creates the table and fills it from the
// leaves in one transaction (one pass, keeping the pending left subtree of
// each level, as append_log_nodes would have written them one by one).
Status migrate_from_version_1(sqlite3* db, const std::string& path) {
  if (auto status = exec(db, "BEGIN IMMEDIATE", path); !status) return status;
  auto status = exec(db, kLogNodesSchema, path);
  sqlite3_stmt* raw = nullptr;
  if (status && sqlite3_prepare_v2(db, "SELECT leaf_hash FROM log_leaves ORDER BY leaf_index", -1, &raw, nullptr) != SQLITE_OK) {
    status = make_error(ErrorCode::io_error, "migrating store " + path + ": " + sqlite3_errmsg(db));
  }
  StatementPtr leaves(raw);
  raw = nullptr;
  if (status && sqlite3_prepare_v2(db, "INSERT INTO log_nodes (level, idx, hash) VALUES (?1, ?2, ?3)", -1, &raw, nullptr) != SQLITE_OK) {
    status = make_error(ErrorCode::io_error, "migrating store " + path + ": " + sqlite3_errmsg(db));
  }
  StatementPtr insert(raw);
  std::vector<Sha256Digest> pending;  // pending[level]: the last complete subtree at that level
  for (std::uint64_t leaf_index = 0; status; ++leaf_index) {
    const int rc = sqlite3_step(leaves.get());
    if (rc == SQLITE_DONE) break;
    const auto* data = static_cast<const std::uint8_t*>(sqlite3_column_blob(leaves.get(), 0));
    if (rc != SQLITE_ROW || data == nullptr || sqlite3_column_bytes(leaves.get(), 0) != 32) {
      status = make_error(ErrorCode::io_error, "migrating store " + path + ": cannot read leaf " +
                                                   std::to_string(leaf_index) + "; restore it from a backup");
      break;
    }
    Sha256Digest hash{};
    std::copy(data, data + hash.size(), hash.begin());
    std::uint32_t level = 0;
    for (; ((leaf_index >> level) & 1) != 0 && status; ++level) {
      hash = node_hash(pending[level], hash);
      Query query(insert.get());
      query.bind(1, static_cast<std::int64_t>(level + 1)).bind(2, to_sql(leaf_index >> (level + 1))).bind(3, ByteView(hash));
      if (query.step() != SQLITE_DONE) {
        status = make_error(ErrorCode::io_error, "migrating store " + path + ": " + sqlite3_errmsg(db));
      }
    }
    if (pending.size() <= level) pending.resize(level + 1);
    pending[level] = hash;
  }
  leaves.reset();
  insert.reset();
  if (status) status = exec(db, "PRAGMA user_version = 2", path);
  if (status) status = exec(db, "COMMIT", path);
  if (!status) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  return status;
}

// Version 4 knew one session per participant: no officers in the lifecycle.
Status migrate_from_version_4(sqlite3* db, const std::string& path) {
  if (auto status = exec(db, "BEGIN IMMEDIATE", path); !status) return status;
  auto status = exec(db, kOfficersSchema, path);
  if (status) status = exec(db, "PRAGMA user_version = 5", path);
  if (status) status = exec(db, "COMMIT", path);
  if (!status) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  return status;
}

// Version 3 kept one commitment per leaf and no statistics runs.
Status migrate_from_version_3(sqlite3* db, const std::string& path) {
  if (auto status = exec(db, "BEGIN IMMEDIATE", path); !status) return status;
  auto status = exec(db, kStatisticsSchema, path);
  if (status) {
    status = exec(db, "INSERT INTO statistics_since VALUES (CAST(strftime('%s', 'now') AS INTEGER) * 1000)", path);
  }
  if (status) status = exec(db, "PRAGMA user_version = 4", path);
  if (status) status = exec(db, "COMMIT", path);
  if (!status) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  return status;
}

// Version 2 had no oversight tables.
Status migrate_from_version_2(sqlite3* db, const std::string& path) {
  if (auto status = exec(db, "BEGIN IMMEDIATE", path); !status) return status;
  auto status = exec(db, kOversightSchema, path);
  if (status) status = exec(db, "PRAGMA user_version = 3", path);
  if (status) status = exec(db, "COMMIT", path);
  if (!status) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  return status;
}

// Creates the tables on a new file, accepts the current version, refuses
// anything else rather than guessing.
Status check_schema(sqlite3* db, const std::string& path) {
  auto version = query_integer(db, "PRAGMA user_version", path);
  if (!version) return std::move(version).take_error();
  if (*version == kSchemaVersion) return {};
  if (*version == 1) {
    if (auto migrated = migrate_from_version_1(db, path); !migrated) return migrated;
  }
  if (*version <= 2 && *version >= 1) {
    if (auto migrated = migrate_from_version_2(db, path); !migrated) return migrated;
  }
  if (*version <= 3 && *version >= 1) {
    if (auto migrated = migrate_from_version_3(db, path); !migrated) return migrated;
  }
  if (*version <= 4 && *version >= 1) {
    if (auto migrated = migrate_from_version_4(db, path); !migrated) return migrated;
  }
  // Version 6 is the store restructuring's step (another branch): it runs here, before 7.
  if (*version <= 6 && *version >= 1) return migrate_to_version_7(db, path);
  if (*version > kSchemaVersion) {
    return make_error(ErrorCode::io_error, "store " + path + " has schema version " + std::to_string(*version) +
                                               ", newer than this broker understands (" +
                                               std::to_string(kSchemaVersion) +
                                               "); run the newer broker, or point this one at another file");
  }
  if (*version < 0) {
    return make_error(ErrorCode::io_error, "store " + path + " has an invalid schema version " +
                                               std::to_string(*version) + "; it is not an FPX store");
  }
  // Version 0: a new file, unless something else already put tables in it.
  auto tables = query_integer(db, "SELECT COUNT(*) FROM sqlite_schema", path);
  if (!tables) return std::move(tables).take_error();
  if (*tables != 0) {
    return make_error(ErrorCode::io_error, "store " + path +
                                               " is an SQLite file with tables but no FPX schema version; "
                                               "it is not an FPX store: point the broker at another file");
  }
  if (auto status = exec(db, "BEGIN IMMEDIATE", path); !status) return status;
  auto status = exec(db, kSchema, path);
  if (status) status = exec(db, kLogNodesSchema, path);
  if (status) status = exec(db, kOversightSchema, path);
  if (status) status = exec(db, kStatisticsSchema, path);
  if (status) status = exec(db, kOfficersSchema, path);
  if (status) status = apply_receipt_groups_schema(db, path);
  if (status) status = exec(db, "INSERT INTO statistics_since VALUES (0)", path);
  if (status) status = exec(db, ("PRAGMA user_version = " + std::to_string(kSchemaVersion)).c_str(), path);
  if (status) status = exec(db, "COMMIT", path);
  if (!status) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  return status;
}

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const std::filesystem::path& path, const std::string& vfs) {
  const std::string name = path.string();
  // Created 0600 before SQLite sees it, whatever the umask: the WAL and its
  // index take the database's mode, and a store others could read is refused.
  if (auto kept_private = prepare_private_database_file(path, "store"); !kept_private) {
    return std::move(kept_private).take_error();
  }
  sqlite3* raw = nullptr;
  // NOMUTEX: the connection belongs to the store thread alone (no mutexes in broker/).
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  const int rc = sqlite3_open_v2(name.c_str(), &raw, flags, vfs.empty() ? nullptr : vfs.c_str());
  DatabasePtr db(raw);  // closed on every path, even when the open failed
  if (rc != SQLITE_OK) {
    return make_error(ErrorCode::io_error, "opening store " + name + ": " +
                                               (db ? sqlite3_errmsg(db.get()) : sqlite3_errstr(rc)) +
                                               "; check that the directory exists and is writable");
  }
  sqlite3_extended_result_codes(db.get(), 1);
  sqlite3_busy_timeout(db.get(), kBusyTimeoutMs);

  // journal_mode answers with the mode actually in effect; some file systems
  // cannot do WAL (no shared memory), and then we refuse rather than run
  // with weaker guarantees than the design promises.
  auto mode = query_text(db.get(), "PRAGMA journal_mode = WAL", name);
  if (!mode) return std::move(mode).take_error();
  if (*mode != "wal") {
    return make_error(ErrorCode::io_error, "store " + name + " cannot use WAL journaling (got '" + *mode +
                                               "'); put it on a local file system");
  }
  for (const char* pragma : {"PRAGMA synchronous = FULL", "PRAGMA wal_autocheckpoint = 0", "PRAGMA foreign_keys = ON",
                             "PRAGMA journal_size_limit = 67108864"}) {
    if (auto status = exec(db.get(), pragma, name); !status) return std::move(status).take_error();
  }
  if (auto status = check_schema(db.get(), name); !status) return std::move(status).take_error();

  auto store = std::make_unique<SqliteStore>(std::move(db), name, vfs);
  if (auto status = store->prepare_statements(); !status) return std::move(status).take_error();
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace fpx::broker

// ===========================================================================
// Receipt groups (schema 7; broker/receipt_group.cpp, docs/PROTOCOL.md §6).
// One block, so it can move into the split store as it is: the schema and its
// migration step, and the two SqliteStore methods with their statements.
// ===========================================================================
namespace fpx::broker {
namespace {

// The messages' `receipt` column (one signed receipt each, written by an
// UPDATE after the insert) gives way to one signed row per batch and one
// small row per message, written once at the batch's end.
constexpr const char* kReceiptGroupsSchema = R"sql(
CREATE TABLE receipt_groups (
  group_id       INTEGER PRIMARY KEY,  -- rowid order = signing order; never deleted
  head           BLOB NOT NULL,        -- canonical ReceiptGroupHead, exactly as signed
  head_signature BLOB NOT NULL,        -- Ed25519 over "fpx/receipt-group/v1\0" || head
  leaf_hashes    BLOB NOT NULL         -- the group's leaf hashes, 32 bytes each, in leaf order
);
CREATE TABLE receipt_members (
  message_seq INTEGER PRIMARY KEY REFERENCES messages (seq),  -- the rowid: about 10 bytes a message
  group_id    INTEGER NOT NULL REFERENCES receipt_groups (group_id),
  leaf_index  INTEGER NOT NULL
);
)sql";

// Applies schema 7 to a store at version 6 or older (or a new one): the two
// tables, and the messages' receipt column dropped where it still exists
// (a version 6 that rebuilt the messages table may have left it out). Does
// not depend on anything version 6 adds.
Status apply_receipt_groups_schema(sqlite3* db, const std::string& path) {
  if (auto status = exec(db, kReceiptGroupsSchema, path); !status) return status;
  auto has_receipt = query_integer(db, "SELECT COUNT(*) FROM pragma_table_info('messages') WHERE name = 'receipt'", path);
  if (!has_receipt) return std::move(has_receipt).take_error();
  // Receipts signed one by one before the upgrade are not kept by the
  // broker: their holders keep them (and they still verify, as version 1).
  // A resend of such a message is receipted again, in the current group.
  if (*has_receipt != 0) return exec(db, "ALTER TABLE messages DROP COLUMN receipt", path);
  return {};
}

Status migrate_to_version_7(sqlite3* db, const std::string& path) {
  if (auto status = exec(db, "BEGIN IMMEDIATE", path); !status) return status;
  auto status = apply_receipt_groups_schema(db, path);
  if (status) status = exec(db, "PRAGMA user_version = 7", path);
  if (status) status = exec(db, "COMMIT", path);
  if (!status) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  return status;
}

}  // namespace

Status SqliteStore::insert_receipt_group(const ReceiptGroupRow& group, std::span<const ReceiptMember> members) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  for (auto [statement, sql] : {std::pair{&insert_receipt_group_, "INSERT INTO receipt_groups (head, head_signature, "
                                                                  "leaf_hashes) VALUES (?1, ?2, ?3)"},
                                std::pair{&insert_receipt_member_, "INSERT INTO receipt_members (message_seq, "
                                                                   "group_id, leaf_index) VALUES (?1, ?2, ?3)"}}) {
    if (*statement) continue;
    sqlite3_stmt* raw = nullptr;
    const int rc = sqlite3_prepare_v3(db_.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    statement->reset(raw);
    if (rc != SQLITE_OK) return fail(rc, "preparing the receipt group statements");
  }
  Bytes leaf_hashes;
  leaf_hashes.reserve(group.leaves.size() * sizeof(Sha256Digest));
  for (const auto& leaf : group.leaves) leaf_hashes.insert(leaf_hashes.end(), leaf.begin(), leaf.end());
  {
    Query query(insert_receipt_group_.get());
    query.bind(1, ByteView(group.head)).bind(2, ByteView(group.head_signature)).bind(3, ByteView(leaf_hashes));
    if (auto status = done(query.step(), "storing a receipt group"); !status) return status;
  }
  const std::int64_t group_id = sqlite3_last_insert_rowid(db_.get());
  for (const auto& member : members) {
    Query query(insert_receipt_member_.get());
    query.bind(1, member.message_seq).bind(2, group_id).bind(3, to_sql(member.leaf_index));
    if (auto status = done(query.step(), "storing a message's receipt group"); !status) return status;
  }
  return {};
}

Result<std::optional<StoredReceiptGroup>> SqliteStore::receipt_group_of(std::int64_t message_seq) {
  if (!receipt_group_of_) {
    sqlite3_stmt* raw = nullptr;
    const int rc = sqlite3_prepare_v3(db_.get(),
                                      "SELECT g.head, g.head_signature, g.leaf_hashes, m.leaf_index "
                                      "FROM receipt_members AS m JOIN receipt_groups AS g ON g.group_id = m.group_id "
                                      "WHERE m.message_seq = ?1",
                                      -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    receipt_group_of_.reset(raw);
    if (rc != SQLITE_OK) return fail(rc, "preparing the receipt group read");
  }
  Query query(receipt_group_of_.get());
  query.bind(1, message_seq);
  const int rc = query.step();
  if (rc == SQLITE_DONE) return std::optional<StoredReceiptGroup>{};
  if (rc != SQLITE_ROW) return fail(rc, "reading a message's receipt group");
  StoredReceiptGroup stored;
  stored.group.head = query.blob(0);
  stored.group.head_signature = query.blob(1);
  const Bytes hashes = query.blob(2);
  if (hashes.empty() || hashes.size() % sizeof(Sha256Digest) != 0 || query.integer(3) < 0) {
    return damaged("receipt group");
  }
  stored.group.leaves.resize(hashes.size() / sizeof(Sha256Digest));
  std::memcpy(stored.group.leaves.data(), hashes.data(), hashes.size());
  stored.leaf_index = static_cast<std::uint64_t>(query.integer(3));
  if (stored.leaf_index >= stored.group.leaves.size()) return damaged("receipt group member");
  return std::optional<StoredReceiptGroup>{std::move(stored)};
}

}  // namespace fpx::broker
