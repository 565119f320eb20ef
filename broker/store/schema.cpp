// The schema, its versions and the migrations between them.
#include "sqlite_store.hpp"

namespace fpx::broker {

namespace sqlite {

// Bump when the schema changes, and teach open_sqlite_store to migrate from
// the previous version. A file with a newer version is refused, never guessed at.
constexpr int kSchemaVersion = 12;  // 2: log_nodes; 3: feed, checkpoints; 4: leaf parts, statistics runs;
                                   // 5: officers (who acknowledged and answered; confirmed deliveries by recipient)
                                   // 6: fewer writes per message (no AUTOINCREMENT, a leaf's parts as one value)
                                   // 7: receipt groups; 8: civil society's early warnings and their clock
                                   // 9: serial ranges on the watch list (issue 14)
                                   // 10: duplicate-request keys (stage_duplicate.hpp)
                                   // 11: a submission's message row is its acceptance's audit record;
                                   //     new duplicate-request keys in request_keys_recent, folded in key order
                                   // 12: log_nodes keyed by the leaf that completes each node

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

// Schema version 6: fewer writes per message. A new store is created as
// version 5 and then migrated, so that one path builds every store.
//
// - messages, deliveries and audit lose AUTOINCREMENT (each insert also
//   wrote sqlite_sequence): their ids are INTEGER PRIMARY KEY rowids, the
//   largest + 1. Such an id could be reused only if the row holding the
//   largest were deleted, and the *_keep_newest triggers refuse exactly that
//   delete (the feed too, whose sequence is max + 1 as well), so delivery
//   ids, message seqs, audit ids and feed sequences still only grow. A
//   future retention job may delete any row but the newest of each table.
// - A leaf's sealed parts are one value on its log_leaves row (see
//   commitment_parts.cpp), not a row each in log_commitment_parts; log_facts
//   keeps one row per (tracing request, leaf) for the reveal to find them.
// - messages_by_sender: the daily quota's read is a range, not a scan.
// Rebuilding messages copies every envelope once: the migration of a large
// store takes a while and needs free space about the size of the file.
constexpr const char* kCompactSchema = R"sql(
-- The last id AUTOINCREMENT gave out: a version 5 store whose newest rows
-- were deleted (an operator's clean-up) must not hand their ids out again,
-- so new delivery and audit ids are above both the table's max and this.
CREATE TABLE id_floors (
  name    TEXT PRIMARY KEY,
  last_id INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO id_floors (name, last_id)
  SELECT name, seq FROM sqlite_sequence WHERE name IN ('deliveries', 'audit');
CREATE TABLE messages_v6 (
  seq            INTEGER PRIMARY KEY,  -- arrival order: max + 1, never reused (messages_keep_newest)
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
INSERT INTO messages_v6 (seq, message_id, signed_sha256, envelope, sender, sender_country, type, created_at_ms,
                         stored_at_ms, in_reply_to, hold_until_ms, log_index, receipt)
  SELECT seq, message_id, signed_sha256, envelope, sender, sender_country, type, created_at_ms,
         stored_at_ms, in_reply_to, hold_until_ms, log_index, receipt FROM messages;
DROP TABLE messages;
ALTER TABLE messages_v6 RENAME TO messages;
CREATE INDEX messages_by_sender ON messages (sender, stored_at_ms);

CREATE TABLE deliveries_v6 (
  delivery_id    INTEGER PRIMARY KEY,  -- arrival order per recipient: max + 1, never reused (deliveries_keep_newest)
  message_seq    INTEGER NOT NULL REFERENCES messages(seq),
  recipient      TEXT NOT NULL,
  state          TEXT NOT NULL CHECK (state IN ('stored', 'delivered', 'confirmed', 'dead_letter')),
  attempts       INTEGER NOT NULL DEFAULT 0,
  updated_at_ms  INTEGER NOT NULL,
  reason         TEXT NOT NULL DEFAULT '',
  UNIQUE (message_seq, recipient)
);
INSERT INTO deliveries_v6 (delivery_id, message_seq, recipient, state, attempts, updated_at_ms, reason)
  SELECT delivery_id, message_seq, recipient, state, attempts, updated_at_ms, reason FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_v6 RENAME TO deliveries;
CREATE INDEX deliveries_pending ON deliveries (recipient, delivery_id) WHERE state IN ('stored', 'delivered');
CREATE INDEX deliveries_confirmed ON deliveries (recipient, delivery_id) WHERE state = 'confirmed';

CREATE TABLE audit_v6 (
  id          INTEGER PRIMARY KEY,  -- max + 1, never reused (audit_keep_newest)
  at_ms       INTEGER NOT NULL,
  principal   TEXT NOT NULL,
  message_id  BLOB,
  stage       TEXT NOT NULL,
  outcome     TEXT NOT NULL,  -- error_code_name(), or 'accepted'
  detail      TEXT NOT NULL
);
INSERT INTO audit_v6 (id, at_ms, principal, message_id, stage, outcome, detail)
  SELECT id, at_ms, principal, message_id, stage, outcome, detail FROM audit;
DROP TABLE audit;
ALTER TABLE audit_v6 RENAME TO audit;

CREATE TRIGGER messages_keep_newest BEFORE DELETE ON messages
  WHEN old.seq = (SELECT MAX(seq) FROM messages)
  BEGIN SELECT RAISE(ABORT, 'the newest message keeps seq from being reused: it is never deleted'); END;
CREATE TRIGGER deliveries_keep_newest BEFORE DELETE ON deliveries
  WHEN old.delivery_id = (SELECT MAX(delivery_id) FROM deliveries)
  BEGIN SELECT RAISE(ABORT, 'the newest delivery keeps delivery ids from being reused: it is never deleted'); END;
CREATE TRIGGER audit_keep_newest BEFORE DELETE ON audit
  WHEN old.id = (SELECT MAX(id) FROM audit)
  BEGIN SELECT RAISE(ABORT, 'the newest audit row keeps audit ids from being reused: it is never deleted'); END;
CREATE TRIGGER feed_keep_newest BEFORE DELETE ON feed
  WHEN old.seq = (SELECT MAX(seq) FROM feed)
  BEGIN SELECT RAISE(ABORT, 'the newest feed record keeps sequences from being reused: it is never deleted'); END;

-- The sealed parts of a message's leaf, one value (commitment_parts.cpp);
-- NULL for a public record's leaf, which has none.
ALTER TABLE log_leaves ADD COLUMN parts BLOB;
-- Which leaves state facts about a tracing request (the reveal's lookup).
CREATE TABLE log_facts (
  request_seq  INTEGER NOT NULL,
  leaf_index   INTEGER NOT NULL,
  PRIMARY KEY (request_seq, leaf_index)
) WITHOUT ROWID;
)sql";

// Version 5 kept a row per sealed part: each leaf's parts become one value
// on its log_leaves row, and log_facts indexes the tracings they are about.
Status convert_commitment_parts(sqlite3* db, const std::string& path) {
  auto failed = [&] {
    return make_error(ErrorCode::io_error, "migrating store " + path + " to schema 6: " + sqlite3_errmsg(db) +
                                               "; restore it from a backup, or run the previous broker on it");
  };
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db,
                         "SELECT p.leaf_index, p.salt, p.metadata, m.message_id, p.requested_country, p.fact, "
                         "p.request_seq FROM log_commitment_parts AS p LEFT JOIN messages AS m ON m.seq = p.request_seq "
                         "ORDER BY p.leaf_index, p.part",
                         -1, &raw, nullptr) != SQLITE_OK) {
    return failed();
  }
  StatementPtr parts_of(raw);
  if (sqlite3_prepare_v2(db, "UPDATE log_leaves SET parts = ?2 WHERE leaf_index = ?1", -1, &raw, nullptr) != SQLITE_OK) {
    return failed();
  }
  StatementPtr set_parts(raw);
  if (sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO log_facts (request_seq, leaf_index) VALUES (?1, ?2)", -1, &raw,
                         nullptr) != SQLITE_OK) {
    return failed();
  }
  StatementPtr add_fact(raw);

  std::int64_t leaf = -1;
  std::vector<CommitmentPart> parts;
  auto flush = [&]() -> bool {
    if (leaf < 0) return true;
    const Bytes encoded = encode_commitment_parts(parts);
    Query query(set_parts.get());
    query.bind(1, leaf).bind(2, ByteView(encoded));
    parts.clear();
    return query.step() == SQLITE_DONE;
  };
  for (;;) {
    const int rc = sqlite3_step(parts_of.get());
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return failed();
    const std::int64_t index = sqlite3_column_int64(parts_of.get(), 0);
    if (index != leaf) {
      if (!flush()) return failed();
      leaf = index;
    }
    auto blob = [&](int column) {
      const auto* data = static_cast<const std::uint8_t*>(sqlite3_column_blob(parts_of.get(), column));
      return data == nullptr ? Bytes{} : Bytes(data, data + sqlite3_column_bytes(parts_of.get(), column));
    };
    auto text = [&](int column) {
      const auto* data = sqlite3_column_text(parts_of.get(), column);
      return data == nullptr ? std::string{} : std::string(reinterpret_cast<const char*>(data));
    };
    CommitmentPart part;
    part.salt = blob(1);
    part.metadata = text(2);
    if (sqlite3_column_type(parts_of.get(), 6) != SQLITE_NULL) {
      part.tracing_request = message_id_from(blob(3));
      if (!part.tracing_request) {
        return make_error(ErrorCode::io_error, "migrating store " + path + " to schema 6: a fact of leaf " +
                                                   std::to_string(index) +
                                                   " names a tracing request that is not stored; restore it "
                                                   "from a backup");
      }
      part.requested_country = CountryCode(text(4));
      part.fact = text(5);
      Query query(add_fact.get());
      query.bind(1, sqlite3_column_int64(parts_of.get(), 6)).bind(2, index);
      if (query.step() != SQLITE_DONE) return failed();
    }
    parts.push_back(std::move(part));
  }
  if (!flush()) return failed();
  return {};
}

Status migrate_from_version_5(sqlite3* db, const std::string& path) {
  // Rebuilding a table that others reference is done with foreign keys off
  // (SQLite's documented procedure; the pragma is a no-op inside a
  // transaction), checked with foreign_key_check before the commit.
  if (auto status = exec(db, "PRAGMA foreign_keys = OFF", path); !status) return status;
  auto status = exec(db, "BEGIN IMMEDIATE", path);
  if (status) status = exec(db, kCompactSchema, path);
  if (status) status = convert_commitment_parts(db, path);
  if (status) status = exec(db, "DROP TABLE log_commitment_parts", path);
  if (status) {
    auto dangling = query_integer(db, "SELECT COUNT(*) FROM pragma_foreign_key_check", path);
    if (!dangling) {
      status = std::move(dangling).take_error();
    } else if (*dangling != 0) {
      status = make_error(ErrorCode::io_error, "migrating store " + path + " to schema 6: " +
                                                   std::to_string(*dangling) +
                                                   " rows refer to rows that do not exist; restore it from a backup");
    }
  }
  if (status) status = exec(db, "PRAGMA user_version = 6", path);
  if (status) status = exec(db, "COMMIT", path);
  if (!status) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  if (auto restored = exec(db, "PRAGMA foreign_keys = ON", path); !restored && status) status = restored;
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

// Version 6 signed each message's receipt alone and kept it in the messages'
// `receipt` column (an UPDATE after the insert). Version 7 keeps one signed
// row per batch transaction and one small row per message, written once at
// the batch's end (broker/receipt_group.cpp, docs/PROTOCOL.md section 6).
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

Status migrate_from_version_6(sqlite3* db, const std::string& path) {
  if (auto status = exec(db, "BEGIN IMMEDIATE", path); !status) return status;
  auto status = exec(db, kReceiptGroupsSchema, path);
  // Receipts signed one by one before the upgrade are not kept by the
  // broker: their holders keep them (and they still verify, as version 1).
  // A resend of such a message is receipted again, in the current group.
  if (status) status = exec(db, "ALTER TABLE messages DROP COLUMN receipt", path);
  if (status) status = exec(db, "PRAGMA user_version = 7", path);
  if (status) status = exec(db, "COMMIT", path);
  if (!status) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  return status;
}

// Version 8: civil society's early warnings (docs/PROTOCOL.md §8.5), one
// row per warning with its acknowledgement clock, counted per warned state
// in the public statistics. A table of its own, so the tracing lifecycle
// and its statistics stay exactly what they were.
constexpr const char* kWarningsSchema = R"sql(
CREATE TABLE warnings (
  warning_seq        INTEGER PRIMARY KEY REFERENCES messages (seq),
  country            TEXT NOT NULL,  -- the warned state: the cso's own
  sender             TEXT NOT NULL,
  submitted_at_ms    INTEGER NOT NULL,
  ack_due_ms         INTEGER NOT NULL,
  acknowledged_at_ms INTEGER NOT NULL DEFAULT 0,
  acknowledged_by    TEXT NOT NULL DEFAULT '',
  reminded           INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX warnings_by_submission ON warnings (submitted_at_ms);
CREATE INDEX warnings_open ON warnings (ack_due_ms) WHERE acknowledged_at_ms = 0 AND reminded = 0;
)sql";

// Schema version 9 (issue 14): a batch alert's serial ranges are watched as
// one row each. A range row's serial is its key (prefix, '#', digit count:
// "AK#4", which no normalised serial can equal) and it holds both ends;
// a single serial's row has NULL ends. The watch-list bound counts a range
// by its width (range_high - range_low + 1).
constexpr const char* kSerialRangesSchema = R"sql(
ALTER TABLE watched_serials ADD COLUMN range_low INTEGER;
ALTER TABLE watched_serials ADD COLUMN range_high INTEGER;
)sql";

// Schema version 10: duplicate-request keys (broker/stage_duplicate.hpp).
// A new request looks up the few requests of its state that share a key
// with it, instead of reading every open request's envelope (which made
// each tracing request cost a scan of 90 days of lifecycle rows). Every
// store is marked for the broker's one backfill at start (a no-op on a new one).
constexpr const char* kRequestKeysSchema = R"sql(
CREATE TABLE request_keys (
  requester_country TEXT NOT NULL,
  key               BLOB NOT NULL,
  submitted_at_ms   INTEGER NOT NULL,
  request_seq       INTEGER NOT NULL REFERENCES messages(seq),
  PRIMARY KEY (requester_country, key, submitted_at_ms, request_seq)
) WITHOUT ROWID;
CREATE TABLE request_keys_backfill (pending INTEGER NOT NULL);
INSERT INTO request_keys_backfill VALUES (1);
)sql";

// One migration step that only runs its schema text: the text and the new
// user_version in one transaction, all or nothing.
Status migrate_in_one_transaction(sqlite3* db, const std::string& path, const char* schema, int to_version) {
  if (auto status = exec(db, "BEGIN IMMEDIATE", path); !status) return status;
  auto status = exec(db, schema, path);
  if (status) status = exec(db, ("PRAGMA user_version = " + std::to_string(to_version)).c_str(), path);
  if (status) status = exec(db, "COMMIT", path);
  if (!status) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  return status;
}

Status migrate_from_version_7(sqlite3* db, const std::string& path) {
  return migrate_in_one_transaction(db, path, kWarningsSchema, 8);
}

Status migrate_from_version_8(sqlite3* db, const std::string& path) {
  return migrate_in_one_transaction(db, path, kSerialRangesSchema, 9);
}

Status migrate_from_version_9(sqlite3* db, const std::string& path) {
  return migrate_in_one_transaction(db, path, kRequestKeysSchema, 10);
}

// Schema version 11 (issue 15): an ordinary acceptance writes no audit row,
// and new duplicate-request keys go to request_keys_recent (request_keys.cpp).
// Its messages row already holds the sender, stored time, id and type; it
// now also holds the officer who signed (NULL when the participant itself
// did) and the number of recipients it was accepted for, which is set only
// on a submission stored from this version on (NULL on a broker notice,
// audited apart, and on an older row, whose acceptance audit row exists).
// `audit_trail` reads both as the one audit record (fpx-admin audit export);
// the officer and count cost a byte each in the row's header when NULL.
constexpr const char* kAcceptanceInMessageSchema = R"sql(
ALTER TABLE messages ADD COLUMN officer TEXT;
ALTER TABLE messages ADD COLUMN accepted_for INTEGER;
CREATE VIEW audit_trail (id, at_ms, principal, message_id, stage, outcome, detail) AS
  SELECT id, at_ms, principal, message_id, stage, outcome, detail FROM audit
  UNION ALL
  SELECT NULL, stored_at_ms, sender || COALESCE('/' || officer, ''), message_id, 'persist', 'accepted',
         type || ' accepted for ' || accepted_for || ' recipient(s)' || COALESCE('; signed by officer ' || officer, '')
    FROM messages WHERE accepted_for IS NOT NULL;
-- New duplicate-request keys, until a commit folds them into request_keys
-- in key order (request_keys.cpp): a commit then writes a few pages of this
-- small table instead of a random page of request_keys per key.
CREATE TABLE request_keys_recent (
  requester_country TEXT NOT NULL,
  key               BLOB NOT NULL,
  submitted_at_ms   INTEGER NOT NULL,
  request_seq       INTEGER NOT NULL REFERENCES messages(seq),
  PRIMARY KEY (requester_country, key, submitted_at_ms, request_seq)
) WITHOUT ROWID;
)sql";

Status migrate_from_version_10(sqlite3* db, const std::string& path) {
  return migrate_in_one_transaction(db, path, kAcceptanceInMessageSchema, 11);
}

// Schema version 12 (issue 15): log_nodes keyed by (completed_by, level),
// completed_by = (idx + 1) * 2^level - 1 being the leaf whose append writes
// the node. Keyed (level, idx), a commit of n leaves wrote a page at the end
// of each level's run of rows (about 9 of a commit's 80 pages at 64 messages
// a commit, 2.5 of 30 at 3); keyed by its completing leaf, a commit's nodes
// sit together at the end of one B-tree. idx is (completed_by + 1) / 2^level - 1.
constexpr const char* kLogNodesByCompletingLeafSchema = R"sql(
CREATE TABLE log_nodes_v12 (
  completed_by INTEGER NOT NULL,  -- the leaf that completes it: (idx + 1) * 2^level - 1
  level        INTEGER NOT NULL CHECK (level >= 1),
  hash         BLOB NOT NULL,     -- RFC 9162: SHA-256(0x01 || left || right)
  PRIMARY KEY (completed_by, level)
) WITHOUT ROWID;
INSERT INTO log_nodes_v12 (completed_by, level, hash)
  SELECT ((idx + 1) << level) - 1, level, hash FROM log_nodes ORDER BY ((idx + 1) << level) - 1, level;
DROP TABLE log_nodes;
ALTER TABLE log_nodes_v12 RENAME TO log_nodes;
)sql";

Status migrate_from_version_11(sqlite3* db, const std::string& path) {
  return migrate_in_one_transaction(db, path, kLogNodesByCompletingLeafSchema, 12);
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
  if (*version <= 5 && *version >= 1) {
    if (auto migrated = migrate_from_version_5(db, path); !migrated) return migrated;
  }
  if (*version <= 6 && *version >= 1) {
    if (auto migrated = migrate_from_version_6(db, path); !migrated) return migrated;
  }
  if (*version <= 7 && *version >= 1) {
    if (auto migrated = migrate_from_version_7(db, path); !migrated) return migrated;
  }
  if (*version <= 8 && *version >= 1) {
    if (auto migrated = migrate_from_version_8(db, path); !migrated) return migrated;
  }
  if (*version <= 9 && *version >= 1) {
    if (auto migrated = migrate_from_version_9(db, path); !migrated) return migrated;
  }
  if (*version <= 10 && *version >= 1) {
    if (auto migrated = migrate_from_version_10(db, path); !migrated) return migrated;
  }
  if (*version <= 11 && *version >= 1) return migrate_from_version_11(db, path);
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
  if (status) status = exec(db, "INSERT INTO statistics_since VALUES (0)", path);
  if (status) status = exec(db, "PRAGMA user_version = 5", path);
  if (status) status = exec(db, "COMMIT", path);
  if (!status) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    return status;
  }
  if (auto migrated = migrate_from_version_5(db, path); !migrated) return migrated;
  if (auto migrated = migrate_from_version_6(db, path); !migrated) return migrated;
  if (auto migrated = migrate_from_version_7(db, path); !migrated) return migrated;
  if (auto migrated = migrate_from_version_8(db, path); !migrated) return migrated;
  if (auto migrated = migrate_from_version_9(db, path); !migrated) return migrated;
  if (auto migrated = migrate_from_version_10(db, path); !migrated) return migrated;
  return migrate_from_version_11(db, path);
}

}  // namespace sqlite

}  // namespace fpx::broker
