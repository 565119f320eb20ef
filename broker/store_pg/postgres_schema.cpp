// The PostgreSQL store's schema, its versions and the migrations between
// them: a schema_version table holds the version, as SQLite's user_version
// does for broker/store/. Version 1 is SQLite's schema 7 in PostgreSQL's
// types: the same tables, keys and rules, so both stores behave alike.
#include "postgres_store.hpp"

namespace fpx::broker::pg {

namespace {

// Bump when the schema changes, and add the migration from the previous
// version. A database with a newer version is refused, never guessed at.
constexpr std::int64_t kSchemaVersion = 5;  // 2: leadership; 3: civil society's early warnings (SQLite's 8); 4: serial ranges (SQLite's 9); 5: duplicate-request keys (SQLite's 10)

constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE schema_version (version BIGINT NOT NULL);

CREATE TABLE messages (
  seq            BIGINT PRIMARY KEY,  -- arrival order: max + 1, never reused (messages_keep_newest)
  message_id     BYTEA NOT NULL UNIQUE,
  signed_sha256  BYTEA NOT NULL,
  envelope       BYTEA NOT NULL,
  sender         TEXT NOT NULL,
  sender_country TEXT NOT NULL,
  type           TEXT NOT NULL,
  created_at_ms  BIGINT NOT NULL,
  stored_at_ms   BIGINT NOT NULL,
  in_reply_to    BYTEA,
  hold_until_ms  BIGINT NOT NULL,
  log_index      BIGINT NOT NULL   -- its leaf in log_leaves
);
CREATE INDEX messages_by_sender ON messages (sender, stored_at_ms);

CREATE TABLE deliveries (
  delivery_id    BIGINT PRIMARY KEY,  -- max + 1 (above id_floors), never reused (deliveries_keep_newest)
  message_seq    BIGINT NOT NULL REFERENCES messages (seq),
  recipient      TEXT NOT NULL,
  state          TEXT NOT NULL CHECK (state IN ('stored', 'delivered', 'confirmed', 'dead_letter')),
  attempts       BIGINT NOT NULL DEFAULT 0,
  updated_at_ms  BIGINT NOT NULL,
  reason         TEXT NOT NULL DEFAULT '',
  UNIQUE (message_seq, recipient)
);
-- The delivery hot path reads only unconfirmed rows of one recipient, in
-- delivery_id order; an officer's catch-up reads confirmed ones newest first.
CREATE INDEX deliveries_pending ON deliveries (recipient, delivery_id) WHERE state IN ('stored', 'delivered');
CREATE INDEX deliveries_confirmed ON deliveries (recipient, delivery_id) WHERE state = 'confirmed';

-- A store restored from an older one keeps its last ids here; new delivery
-- and audit ids are above both the table's max and this.
CREATE TABLE id_floors (
  name    TEXT PRIMARY KEY,
  last_id BIGINT NOT NULL
);

CREATE TABLE audit (
  id          BIGINT PRIMARY KEY,  -- max + 1, never reused (audit_keep_newest)
  at_ms       BIGINT NOT NULL,
  principal   TEXT NOT NULL,
  message_id  BYTEA,
  stage       TEXT NOT NULL,
  outcome     TEXT NOT NULL,  -- error_code_name(), or 'accepted'
  detail      TEXT NOT NULL
);

-- A leaf belongs to a message or to a feed record, never both.
CREATE TABLE log_leaves (
  leaf_index     BIGINT PRIMARY KEY,  -- 0-based and dense: the transparency log's order
  leaf_data      BYTEA NOT NULL,
  leaf_hash      BYTEA NOT NULL,      -- RFC 9162 leaf hash: SHA-256(0x00 || leaf_data)
  message_seq    BIGINT REFERENCES messages (seq),
  feed_seq       BIGINT,
  created_at_ms  BIGINT NOT NULL,
  parts          BYTEA,               -- the sealed parts as one value (broker/store/commitment_parts.cpp)
  CHECK ((message_seq IS NULL) != (feed_seq IS NULL))
);
-- Row (level, idx): the complete subtree over leaves [idx * 2^level,
-- (idx + 1) * 2^level), written with the leaf that completes it.
CREATE TABLE log_nodes (
  level  BIGINT NOT NULL CHECK (level >= 1),
  idx    BIGINT NOT NULL,
  hash   BYTEA NOT NULL,
  PRIMARY KEY (level, idx)
);
CREATE TABLE log_facts (
  request_seq  BIGINT NOT NULL,
  leaf_index   BIGINT NOT NULL,
  PRIMARY KEY (request_seq, leaf_index)
);

CREATE TABLE lifecycle (
  request_seq        BIGINT NOT NULL REFERENCES messages (seq),
  requested_country  TEXT NOT NULL,
  requester          TEXT NOT NULL,
  requester_country  TEXT NOT NULL,
  priority           TEXT NOT NULL,
  state              TEXT NOT NULL,
  submitted_at_ms    BIGINT NOT NULL,
  delivered_at_ms    BIGINT NOT NULL DEFAULT 0,
  acknowledged_at_ms BIGINT NOT NULL DEFAULT 0,
  answered_at_ms     BIGINT NOT NULL DEFAULT 0,
  closed_at_ms       BIGINT NOT NULL DEFAULT 0,
  ack_due_ms         BIGINT NOT NULL,
  response_due_ms    BIGINT NOT NULL,
  ack_reminded       BIGINT NOT NULL DEFAULT 0,
  response_reminded  BIGINT NOT NULL DEFAULT 0,
  outcome            TEXT NOT NULL DEFAULT '',
  refusal_grounds    TEXT NOT NULL DEFAULT '',
  updated_at_ms      BIGINT NOT NULL,
  acknowledged_by    TEXT NOT NULL DEFAULT '',
  answered_by        TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (request_seq, requested_country)
);
CREATE INDEX lifecycle_by_submission ON lifecycle (submitted_at_ms);

-- The stolen/lost registry. reached_countries: ",SN,NE,".
CREATE TABLE watched_serials (
  serial             TEXT NOT NULL,
  alert_seq          BIGINT NOT NULL REFERENCES messages (seq),
  alert_country      TEXT NOT NULL,
  valid_until_ms     BIGINT NOT NULL,
  reached_countries  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX watched_serials_by_serial ON watched_serials (serial);
CREATE INDEX watched_serials_by_alert ON watched_serials (alert_seq);

CREATE TABLE feed (
  seq            BIGINT PRIMARY KEY,  -- from 1 without gaps: max + 1 in the writing transaction
  kind           TEXT NOT NULL,
  record         BYTEA NOT NULL,
  signature      BYTEA NOT NULL,
  created_at_ms  BIGINT NOT NULL
);
CREATE TABLE checkpoints (
  tree_size      BIGINT PRIMARY KEY,
  root_hash      BYTEA NOT NULL,
  note           TEXT NOT NULL,
  created_at_ms  BIGINT NOT NULL
);
CREATE TABLE statistics_since (since_ms BIGINT NOT NULL);
INSERT INTO statistics_since VALUES (0);
CREATE TABLE statistics_runs (
  period         TEXT NOT NULL,
  start_ms       BIGINT NOT NULL,
  revealed       BIGINT NOT NULL CHECK (revealed IN (0, 1)),
  feed_sequence  BIGINT NOT NULL,
  PRIMARY KEY (period, start_ms, revealed)
);

CREATE TABLE receipt_groups (
  group_id       BIGINT PRIMARY KEY,  -- signing order; never deleted
  head           BYTEA NOT NULL,      -- canonical ReceiptGroupHead, exactly as signed
  head_signature BYTEA NOT NULL,
  leaf_hashes    BYTEA NOT NULL       -- 32 bytes each, in leaf order
);
CREATE TABLE receipt_members (
  message_seq BIGINT PRIMARY KEY REFERENCES messages (seq),
  group_id    BIGINT NOT NULL REFERENCES receipt_groups (group_id),
  leaf_index  BIGINT NOT NULL
);

-- Ids are the largest + 1: deleting the row holding the largest would hand
-- its id out again, so that one delete is refused (a retention job may
-- delete any other row). TG_ARGV[0] names the id column.
CREATE FUNCTION fpx_keep_newest() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE newest BIGINT;
BEGIN
  EXECUTE format('SELECT MAX(%I) FROM %I', TG_ARGV[0], TG_TABLE_NAME) INTO newest;
  IF (to_jsonb(OLD) ->> TG_ARGV[0])::bigint = newest THEN
    RAISE EXCEPTION 'the newest row of % keeps its ids from being reused: it is never deleted', TG_TABLE_NAME;
  END IF;
  RETURN OLD;
END $$;
CREATE TRIGGER messages_keep_newest BEFORE DELETE ON messages FOR EACH ROW EXECUTE FUNCTION fpx_keep_newest('seq');
CREATE TRIGGER deliveries_keep_newest BEFORE DELETE ON deliveries FOR EACH ROW
  EXECUTE FUNCTION fpx_keep_newest('delivery_id');
CREATE TRIGGER audit_keep_newest BEFORE DELETE ON audit FOR EACH ROW EXECUTE FUNCTION fpx_keep_newest('id');
CREATE TRIGGER feed_keep_newest BEFORE DELETE ON feed FOR EACH ROW EXECUTE FUNCTION fpx_keep_newest('seq');

INSERT INTO schema_version VALUES (1);
)sql";

// Version 2: leadership (postgres_leadership.cpp). Two rows, one each:
// leader_term is read FOR SHARE at the start of every writing transaction
// and changed only by a takeover, so a takeover waits for (or ends) the old
// leader's open transaction and its batch can never commit after; the
// lease is renewed by the leader's own connection without touching the
// term's row, so renewals never wait on a batch. Times are the server's
// clock (clock_timestamp()): brokers on different machines never compare
// their own clocks.
constexpr const char* kMigrationV2 = R"sql(
CREATE TABLE leader_term (
  one    BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
  term   BIGINT NOT NULL,  -- +1 at every takeover; 0: no broker led yet
  holder TEXT NOT NULL
);
CREATE TABLE leader_lease (
  one        BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
  term       BIGINT NOT NULL,
  holder     TEXT NOT NULL,
  lease_pid  INTEGER NOT NULL,  -- the backend of the leader's lease connection
  writer_pid INTEGER NOT NULL,  -- the backend of its store connection
  expires_at TIMESTAMPTZ NOT NULL
);
INSERT INTO leader_term VALUES (TRUE, 0, '');
INSERT INTO leader_lease VALUES (TRUE, 0, '', 0, 0, '-infinity');
UPDATE schema_version SET version = 2;
)sql";

// Version 3: civil society's early warnings and their clock, as SQLite's
// schema 8 (broker/store/schema.cpp kWarningsSchema).
constexpr const char* kMigrationV3 = R"sql(
CREATE TABLE warnings (
  warning_seq        BIGINT PRIMARY KEY REFERENCES messages (seq),
  country            TEXT NOT NULL,
  sender             TEXT NOT NULL,
  submitted_at_ms    BIGINT NOT NULL,
  ack_due_ms         BIGINT NOT NULL,
  acknowledged_at_ms BIGINT NOT NULL DEFAULT 0,
  acknowledged_by    TEXT NOT NULL DEFAULT '',
  reminded           BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX warnings_by_submission ON warnings (submitted_at_ms);
CREATE INDEX warnings_open ON warnings (ack_due_ms) WHERE acknowledged_at_ms = 0 AND reminded = 0;
UPDATE schema_version SET version = 3;
)sql";

// Version 4 (issue 14), as SQLite's schema 9: a batch alert's serial
// ranges are watched as one row each, under the range's key ("AK#4") with
// both ends; a single serial's row has NULL ends. Run on a version 3
// database and, after the others, on a new one, so one path builds both.
constexpr const char* kMigrationV4 = R"sql(
ALTER TABLE watched_serials ADD COLUMN range_low BIGINT;
ALTER TABLE watched_serials ADD COLUMN range_high BIGINT;
UPDATE schema_version SET version = 4;
)sql";


// Version 5, as SQLite's schema 10 (broker/store/schema.cpp
// kRequestKeysSchema): duplicate-request keys, and a mark for the broker's
// backfill of the requests stored before them. Always marked: a standby of
// a new version migrates while the old leader still serves, and keys
// nothing; the backfill runs once it leads (cheap on an empty store).
constexpr const char* kMigrationV5 = R"sql(
CREATE TABLE request_keys (
  requester_country TEXT NOT NULL,
  key               BYTEA NOT NULL,
  submitted_at_ms   BIGINT NOT NULL,
  request_seq       BIGINT NOT NULL REFERENCES messages (seq),
  PRIMARY KEY (requester_country, key, submitted_at_ms, request_seq)
);
CREATE TABLE request_keys_backfill (pending BIGINT NOT NULL);
INSERT INTO request_keys_backfill VALUES (1);
UPDATE schema_version SET version = 5;
)sql";

}  // namespace

// Creates the tables in an empty database, accepts the current version,
// refuses anything else rather than guessing. Runs in one transaction.
Status check_schema(PostgresStore& store, const std::string& where) {
  if (auto status = store.exec("BEGIN", "starting the schema check"); !status) return status;
  auto finish = [&](Status status) {
    if (status) status = store.exec("COMMIT", "committing the schema");
    if (!status) (void)store.exec("ROLLBACK", "rolling back the schema check");
    return status;
  };
  auto found = store.run_once(
      "SELECT (to_regclass('schema_version') IS NOT NULL)::int, "
      "(SELECT COUNT(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema())",
      "reading the schema version");
  if (!found) return finish(std::move(found).take_error());
  if (found->integer(0, 0) == 0) {
    if (found->integer(0, 1) != 0) {
      return finish(make_error(ErrorCode::io_error, "database " + where +
                                                        " has tables but no FPX schema_version; it is not an FPX "
                                                        "store: point the broker at an empty database"));
    }
    auto created = store.exec(kSchemaV1, "creating the schema");
    if (created) created = store.exec(kMigrationV2, "adding the leadership tables (schema version 2)");
    if (created) created = store.exec(kMigrationV3, "adding the early warnings (schema version 3)");
    if (created) created = store.exec(kMigrationV4, "adding the serial ranges (schema version 4)");
    if (created) created = store.exec(kMigrationV5, "adding the duplicate-request keys (schema version 5)");
    return finish(std::move(created));
  }
  auto version = store.run_once("SELECT MAX(version) FROM schema_version", "reading the schema version");
  if (!version) return finish(std::move(version).take_error());
  const std::int64_t value = version->is_null(0, 0) ? 0 : version->integer(0, 0);
  if (value == kSchemaVersion) return finish({});
  if (value >= 1 && value < kSchemaVersion) {
    Status migrated;
    if (value < 2) migrated = store.exec(kMigrationV2, "migrating to schema version 2 (leadership tables)");
    if (migrated && value < 3) migrated = store.exec(kMigrationV3, "migrating to schema version 3 (early warnings)");
    if (migrated && value < 4) migrated = store.exec(kMigrationV4, "migrating to schema version 4 (serial ranges)");
    if (migrated) migrated = store.exec(kMigrationV5, "migrating to schema version 5 (duplicate-request keys)");
    return finish(std::move(migrated));
  }
  if (value > kSchemaVersion) {
    return finish(make_error(ErrorCode::io_error,
                             "database " + where + " has schema version " + std::to_string(value) +
                                 ", newer than this broker understands (" + std::to_string(kSchemaVersion) +
                                 "); run the newer broker, or point this one at another database"));
  }
  return finish(make_error(ErrorCode::io_error, "database " + where + " has an invalid schema version " +
                                                    std::to_string(value) + "; it is not an FPX store"));
}

}  // namespace fpx::broker::pg
