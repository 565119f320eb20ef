// The connection: transactions and savepoints, the error mapping, the
// one-off SQL helpers of opening and migrating, and open_sqlite_store itself.
#include "sqlite_store.hpp"

namespace fpx::broker {

namespace sqlite {

// New stores use 8 KiB pages (issue 15). A messages row (a 2.3 KB envelope
// and its columns) fits only once in a 4 KiB page, so every message took a
// whole page (stored 2.14 x the envelope); 8 KiB pages hold three (1.54 x).
// 16 KiB pages store no less per message and write more: each commit
// rewrites every page it touches, whole. Measured: bench/README.md.
constexpr const char* kNewStorePageSizePragma = "PRAGMA page_size = 8192";

Status SqliteStore::begin(Durability durability) {
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
  unit_savepoint_open_ = false;
  Query query(begin_.get());
  return done(query.step(), "starting a transaction");
}

namespace {

// The WAL's own sqlite3_file, synced from the broker's sync thread. Through
// the VFS (not an fdatasync of a descriptor of our own) so that any VFS in
// between, such as the tests' power-cut shim, sees every sync as a disk
// would. Why one sync makes every earlier deferred commit durable, even
// across a WAL restart, is argued in commit_pipeline.hpp.
class WalSync final : public CommitSync {
 public:
  WalSync(sqlite3_file* wal, std::string path) : wal_(wal), path_(std::move(path)) {}
  Status sync() override {
    // NORMAL: the flags SQLite itself syncs the WAL with at a
    // synchronous=FULL commit (fdatasync on Linux).
    const int rc = wal_->pMethods->xSync(wal_, SQLITE_SYNC_NORMAL);
    if (rc == SQLITE_OK) return {};
    return make_error(ErrorCode::io_error, "syncing the WAL of " + path_ + " failed (" + sqlite3_errstr(rc) +
                                               "): committed messages may not be on disk; check the volume, "
                                               "then restart the broker, which recovers what the disk holds");
  }

 private:
  sqlite3_file* wal_;  // owned by the writer connection, which outlives this
  std::string path_;
};

}  // namespace

std::unique_ptr<CommitSync> SqliteStore::commit_sync() {
  assert(!in_transaction());
  sqlite3_file* wal = nullptr;
  if (sqlite3_file_control(db_.get(), "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal) != SQLITE_OK || wal == nullptr ||
      wal->pMethods == nullptr) {
    return nullptr;  // no WAL open on this connection: the broker commits with FULL, as before
  }
  // One sync here, on the store's own thread, first: the unix VFS syncs the
  // directory of a newly created WAL at that file's first sync and clears a
  // flag of the file as it does, which must not race with this thread's
  // writes later. It also makes whatever an earlier run left in the WAL
  // durable. After it, the unix VFS's xSync only reads the file's
  // descriptor and flags, which the writer's xWrite and xTruncate leave
  // alone (it records errno on failure, and a failure stops the broker).
  // The WAL file stays open, the same object, for the connection's life.
  if (wal->pMethods->xSync(wal, SQLITE_SYNC_NORMAL) != SQLITE_OK) return nullptr;
  return std::make_unique<WalSync>(wal, path_);
}

Status SqliteStore::commit() {
  // In the transaction, outside any message's savepoint: a fold is kept or
  // undone with the batch as one.
  if (auto folded = fold_recent_request_keys(); !folded) return folded;
  Query query(commit_.get());
  // On failure SQLite may or may not have rolled back already; the caller
  // calls rollback(), which is safe either way.
  return done(query.step(), "committing a transaction");
}

void SqliteStore::rollback() {
  unit_savepoint_open_ = false;
  if (in_transaction()) {
    Query query(rollback_.get());
    // A failed ROLLBACK leaves SQLite to roll back on its own (it does so
    // on the next use, or from the WAL on reopen); nothing more to do here.
    (void)query.step();
  }
  // A fold in the undone commit cleared the count before its COMMIT failed:
  // the keys are back in request_keys_recent, so the count is read again
  // (an undercount let the table grow a fold's worth per failed commit).
  // If this read fails too, the next start counts them.
  (void)count_recent_request_keys();
}

Status SqliteStore::open_savepoint() {
  if (auto lost = transaction_lost()) return *std::move(lost);
  Query query(unit_savepoint_.get());
  auto status = done(query.step(), "starting a submission savepoint");
  unit_savepoint_open_ = status.ok();
  return status;
}

Status SqliteStore::release_savepoint() {
  Query query(unit_release_.get());
  auto status = done(query.step(), "releasing a submission savepoint");
  if (status) unit_savepoint_open_ = false;
  return status;
}

void SqliteStore::rollback_savepoint() {
  unit_savepoint_open_ = false;
  {
    Query undo(unit_rollback_.get());
    (void)undo.step();
  }
  Query release(unit_release_.get());
  (void)release.step();
}

// Every write belongs to the caller's transaction. SQLite rolls the whole
// transaction back on some failures (disk full, I/O error, out of memory),
// even inside a savepoint; a write after that would run on its own in
// autocommit, outside the batch and its receipts. It is refused instead,
// so the rest of the batch fails cleanly and is retried by its senders.
std::optional<Error> SqliteStore::transaction_lost() const {
  if (in_transaction()) return std::nullopt;
  return make_error(ErrorCode::io_error,
                    "the store's transaction was rolled back by an earlier failure in this batch (see the "
                    "broker's log): this write was not made, and nothing of the batch will be committed");
}

Status SqliteStore::done(int rc, std::string_view what) {
  if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW) return {};
  return fail(rc, what);
}

// Reads sqlite3_errmsg, so call it before the failing Query resets.
Error SqliteStore::fail(int rc, std::string_view what) const {
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

Error SqliteStore::damaged(std::string_view what) const {
  return make_error(ErrorCode::io_error, std::string("the store ") + path_ + " holds a malformed " +
                                             std::string(what) + "; restore it from a backup");
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

}  // namespace sqlite

namespace {

// SQLite counts every allocation under one process-wide mutex while memory
// statistics are on (its default), which nothing here reads: a lock and an
// unlock around each sqlite3_malloc and sqlite3_free, 3 % of the broker's
// CPU per message. Only possible before SQLite initializes; if something in
// the process used SQLite first, the default stays (a cost, not a fault).
void turn_off_sqlite_memory_statistics() {
  static const int configured = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  (void)configured;
}

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const std::filesystem::path& path, const std::string& vfs) {
  turn_off_sqlite_memory_statistics();
  using sqlite::DatabasePtr, sqlite::SqliteStore, sqlite::check_schema, sqlite::exec, sqlite::kBusyTimeoutMs,
      sqlite::kNewStorePageSizePragma, sqlite::query_text;
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

  // Set before WAL mode so that it takes on a new file; on an existing
  // store it changes nothing (a WAL database keeps its page size until a
  // VACUUM outside WAL mode). Why 8 KiB: README.md of this folder.
  if (auto status = exec(db.get(), kNewStorePageSizePragma, name); !status) return std::move(status).take_error();
  // journal_mode answers with the mode actually in effect; some file systems
  // cannot do WAL (no shared memory), and then we refuse rather than run
  // with weaker guarantees than the design promises.
  auto mode = query_text(db.get(), "PRAGMA journal_mode = WAL", name);
  if (!mode) return std::move(mode).take_error();
  if (*mode != "wal") {
    return make_error(ErrorCode::io_error, "store " + name + " cannot use WAL journaling (got '" + *mode +
                                               "'); put it on a local file system");
  }
  // temp_store=MEMORY: a savepoint's statement journal stays in memory
  // instead of a temp file created and deleted per transaction (the
  // broker's profile showed one per batch). It holds only the pages one
  // savepoint changes, which the batch and message limits bound.
  for (const char* pragma : {"PRAGMA synchronous = FULL", "PRAGMA wal_autocheckpoint = 0", "PRAGMA foreign_keys = ON",
                             "PRAGMA journal_size_limit = 67108864", "PRAGMA temp_store = MEMORY"}) {
    if (auto status = exec(db.get(), pragma, name); !status) return std::move(status).take_error();
  }
  if (auto status = check_schema(db.get(), name); !status) return std::move(status).take_error();

  auto store = std::make_unique<SqliteStore>(std::move(db), name, vfs);
  if (auto status = store->prepare_statements(); !status) return std::move(status).take_error();
  if (auto status = store->count_recent_request_keys(); !status) return std::move(status).take_error();
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace fpx::broker
