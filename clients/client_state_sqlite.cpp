#include "client_state.hpp"

#include <sqlite3.h>

#include "fpx/certificate.hpp"
#include "fpx/private_file.hpp"

namespace fpx::client {

namespace {

struct StatementFinalizer {
  void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};
using Statement = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

Error db_error(sqlite3* db, const std::string& doing) {
  return make_error(ErrorCode::io_error, "client state: " + doing + ": " + sqlite3_errmsg(db));
}

Result<Statement> prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &raw, nullptr) != SQLITE_OK) return db_error(db, "preparing a statement");
  return Statement(raw);
}

void bind_bytes(sqlite3_stmt* statement, int index, ByteView bytes) {
  // SQLITE_TRANSIENT: SQLite copies, so the caller's buffer may go away.
  sqlite3_bind_blob(statement, index, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
}

Status run(sqlite3* db, sqlite3_stmt* statement, const std::string& doing) {
  if (sqlite3_step(statement) != SQLITE_DONE) return db_error(db, doing);
  return {};
}

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS outbox (
  message_id BLOB PRIMARY KEY,
  envelope   BLOB NOT NULL,
  state      TEXT NOT NULL CHECK (state IN ('queued', 'receipted', 'refused')),
  receipt    BLOB,
  reason     TEXT,
  queued_at  INTEGER NOT NULL,
  -- Not resent before this (Unix ms): the broker's retryAfterMs of its last
  -- transient refusal, whose text is in `reason`.
  next_try_at INTEGER NOT NULL DEFAULT 0
);
-- Ids of messages the application confirmed it had stored (Client::confirm).
-- TODO(perf): grows by one row per message received; prune rows older than
-- the broker's redelivery horizon once the broker states one.
CREATE TABLE IF NOT EXISTS stored (
  message_id BLOB PRIMARY KEY,
  stored_at  INTEGER NOT NULL
);
-- Before this table, ids were recorded in `delivered` when handed over, not
-- when stored: some name messages the application never stored, whose
-- resend would be confirmed unseen. Dropped, so that every message the broker
-- still holds for us is handed over again once (the application is
-- idempotent by message id) instead of being lost.
DROP TABLE IF EXISTS delivered;
)sql";

}  // namespace

void ClientState::DbCloser::operator()(sqlite3* db) const { sqlite3_close_v2(db); }

ClientState::ClientState(ClientState&&) noexcept = default;
ClientState& ClientState::operator=(ClientState&&) noexcept = default;
ClientState::~ClientState() = default;

Result<ClientState> ClientState::open(const std::string& path, const std::string& vfs) {
  // Created 0600 whatever the umask (its WAL follows): the outbox holds the
  // participant's own requests, serial numbers included.
  if (auto kept_private = prepare_private_database_file(path, "client state file"); !kept_private) {
    return std::move(kept_private).take_error();
  }
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           vfs.empty() ? nullptr : vfs.c_str());
  ClientState state(raw);  // owns the handle even when opening failed
  if (rc != SQLITE_OK) {
    return make_error(ErrorCode::io_error, "cannot open the client state file " + path + ": " +
                                               (raw != nullptr ? sqlite3_errmsg(raw) : "out of memory"));
  }
  // WAL + synchronous=FULL: a row written before a send survives a power
  // loss, which is the whole point of the outbox. busy_timeout: a second
  // process on the same file waits instead of failing at once.
  const char* pragmas =
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000; PRAGMA foreign_keys=ON;";
  char* message = nullptr;
  for (const char* sql : {pragmas, kSchema}) {
    if (sqlite3_exec(raw, sql, nullptr, nullptr, &message) != SQLITE_OK) {
      std::string text = message != nullptr ? message : "unknown error";
      sqlite3_free(message);
      return make_error(ErrorCode::io_error, "cannot prepare the client state file " + path + ": " + text);
    }
  }
  // A state file from before resends waited for the broker's retryAfterMs
  // has no next_try_at: its queued messages are due at once (0).
  sqlite3_stmt* probe = nullptr;
  const bool has_next_try = sqlite3_prepare_v2(raw, "SELECT next_try_at FROM outbox LIMIT 0", -1, &probe, nullptr) == SQLITE_OK;
  sqlite3_finalize(probe);
  if (!has_next_try &&
      sqlite3_exec(raw, "ALTER TABLE outbox ADD COLUMN next_try_at INTEGER NOT NULL DEFAULT 0", nullptr, nullptr,
                   &message) != SQLITE_OK) {
    std::string text = message != nullptr ? message : "unknown error";
    sqlite3_free(message);
    return make_error(ErrorCode::io_error, "cannot upgrade the client state file " + path + ": " + text +
                                               " (is it writable? the library needs it to keep the outbox)");
  }
  return state;
}

Status ClientState::add_to_outbox(const MessageId& id, ByteView envelope) {
  auto statement = prepare(db_.get(),
                           "INSERT INTO outbox (message_id, envelope, state, queued_at) VALUES (?1, ?2, 'queued', ?3) "
                           "ON CONFLICT (message_id) DO UPDATE SET envelope = excluded.envelope "
                           "WHERE outbox.state = 'queued'");
  if (!statement) return std::move(statement).take_error();
  bind_bytes(statement->get(), 1, id.bytes);
  bind_bytes(statement->get(), 2, envelope);
  sqlite3_bind_int64(statement->get(), 3, now_ms());
  return run(db_.get(), statement->get(), "writing the outbox");
}

Status ClientState::mark_receipted(const MessageId& id, ByteView signed_receipt) {
  auto statement =
      prepare(db_.get(), "UPDATE outbox SET state = 'receipted', receipt = ?2, reason = NULL WHERE message_id = ?1");
  if (!statement) return std::move(statement).take_error();
  bind_bytes(statement->get(), 1, id.bytes);
  bind_bytes(statement->get(), 2, signed_receipt);
  // No fsync for this one: if a power cut loses the mark, the message is
  // resent on the next connect and the broker answers with the same receipt.
  sqlite3_exec(db_.get(), "PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr);
  Status recorded = run(db_.get(), statement->get(), "recording a receipt");
  sqlite3_exec(db_.get(), "PRAGMA synchronous=FULL", nullptr, nullptr, nullptr);
  return recorded;
}

Status ClientState::mark_refused(const MessageId& id, const std::string& reason) {
  auto statement = prepare(db_.get(),
                           "UPDATE outbox SET state = 'refused', reason = ?2 WHERE message_id = ?1 AND state = 'queued'");
  if (!statement) return std::move(statement).take_error();
  bind_bytes(statement->get(), 1, id.bytes);
  sqlite3_bind_text(statement->get(), 2, reason.c_str(), static_cast<int>(reason.size()), SQLITE_TRANSIENT);
  return run(db_.get(), statement->get(), "recording a refusal");
}

Status ClientState::mark_waiting(const MessageId& id, const std::string& reason, std::int64_t next_try_at_ms) {
  auto statement = prepare(db_.get(),
                           "UPDATE outbox SET reason = ?2, next_try_at = ?3 WHERE message_id = ?1 AND state = 'queued'");
  if (!statement) return std::move(statement).take_error();
  bind_bytes(statement->get(), 1, id.bytes);
  sqlite3_bind_text(statement->get(), 2, reason.c_str(), static_cast<int>(reason.size()), SQLITE_TRANSIENT);
  sqlite3_bind_int64(statement->get(), 3, next_try_at_ms);
  return run(db_.get(), statement->get(), "recording when to resend a message");
}

Result<std::vector<OutboxEntry>> ClientState::queued() const {
  auto statement = prepare(db_.get(),
                           "SELECT message_id, envelope, queued_at, next_try_at, coalesce(reason, '') FROM outbox "
                           "WHERE state = 'queued' ORDER BY queued_at, rowid");
  if (!statement) return std::move(statement).take_error();
  std::vector<OutboxEntry> entries;
  for (;;) {
    int rc = sqlite3_step(statement->get());
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return db_error(db_.get(), "reading the outbox");
    auto id_data = static_cast<const std::uint8_t*>(sqlite3_column_blob(statement->get(), 0));
    auto id = MessageId::from_bytes(ByteView(id_data, static_cast<std::size_t>(sqlite3_column_bytes(statement->get(), 0))));
    if (!id) continue;  // not written by us; never resend what we cannot name
    auto envelope = static_cast<const std::uint8_t*>(sqlite3_column_blob(statement->get(), 1));
    auto size = static_cast<std::size_t>(sqlite3_column_bytes(statement->get(), 1));
    const auto* reason = reinterpret_cast<const char*>(sqlite3_column_text(statement->get(), 4));
    entries.push_back(OutboxEntry{*id, Bytes(envelope, envelope + size), sqlite3_column_int64(statement->get(), 2),
                                  sqlite3_column_int64(statement->get(), 3), reason != nullptr ? reason : ""});
  }
  return entries;
}

Result<std::size_t> ClientState::queued_count() const {
  auto statement = prepare(db_.get(), "SELECT count(*) FROM outbox WHERE state = 'queued'");
  if (!statement) return std::move(statement).take_error();
  if (sqlite3_step(statement->get()) != SQLITE_ROW) return db_error(db_.get(), "counting the outbox");
  return static_cast<std::size_t>(sqlite3_column_int64(statement->get(), 0));
}

Status ClientState::record_stored(const std::vector<MessageId>& ids) {
  if (ids.empty()) return {};
  // One transaction for the batch: one fsync (synchronous=FULL) however
  // many the application confirms at once.
  if (sqlite3_exec(db_.get(), "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) {
    return db_error(db_.get(), "starting to record stored messages");
  }
  auto written = [&]() -> Status {
    auto statement =
        prepare(db_.get(), "INSERT INTO stored (message_id, stored_at) VALUES (?1, ?2) ON CONFLICT DO NOTHING");
    if (!statement) return std::move(statement).take_error();
    const std::int64_t at = now_ms();
    for (const auto& id : ids) {
      sqlite3_reset(statement->get());
      bind_bytes(statement->get(), 1, id.bytes);
      sqlite3_bind_int64(statement->get(), 2, at);
      if (auto done = run(db_.get(), statement->get(), "recording a stored message"); !done) return done;
    }
    if (sqlite3_exec(db_.get(), "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      return db_error(db_.get(), "committing the stored messages");
    }
    return {};
  }();
  // A failed COMMIT may leave the transaction open (or SQLite may have
  // rolled it back already): either way nothing of it counts.
  if (!written && sqlite3_get_autocommit(db_.get()) == 0) {
    sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
  return written;
}

Result<bool> ClientState::was_stored(const MessageId& id) const {
  auto statement = prepare(db_.get(), "SELECT 1 FROM stored WHERE message_id = ?1");
  if (!statement) return std::move(statement).take_error();
  bind_bytes(statement->get(), 1, id.bytes);
  const int rc = sqlite3_step(statement->get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_error(db_.get(), "looking up a stored message");
}

}  // namespace fpx::client
