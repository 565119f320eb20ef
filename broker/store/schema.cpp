// The schema, its versions and the migrations between them.
#include "sqlite_store.hpp"

namespace fpx::broker {

namespace sqlite {

// Bump when the schema changes, and teach open_sqlite_store to migrate from
// the previous version. A file with a newer version is refused, never guessed at.
constexpr int kSchemaVersion = 5;  // 2: log_nodes; 3: feed, checkpoints; 4: leaf parts, statistics runs;
                                   // 5: officers (who acknowledged and answered; confirmed deliveries by recipient)

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
  if (*version <= 4 && *version >= 1) return migrate_from_version_4(db, path);
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
  if (status) status = exec(db, ("PRAGMA user_version = " + std::to_string(kSchemaVersion)).c_str(), path);
  if (status) status = exec(db, "COMMIT", path);
  if (!status) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  return status;
}

}  // namespace sqlite

}  // namespace fpx::broker
