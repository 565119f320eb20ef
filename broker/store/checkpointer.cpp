// WAL checkpoints: the background PASSIVE checkpointer thread on its own
// connection, and the RESTART checkpoint of a clean stop.
#include "sqlite_store.hpp"

#include <chrono>

namespace fpx::broker {

namespace sqlite {

Status SqliteStore::start_background_checkpoints(std::chrono::milliseconds every) {
  if (checkpointer_.joinable()) return {};
  sqlite3* raw = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  const int rc = sqlite3_open_v2(path_.c_str(), &raw, flags, vfs_.empty() ? nullptr : vfs_.c_str());
  DatabasePtr db(raw);
  if (rc != SQLITE_OK) {
    return make_error(ErrorCode::io_error, "opening a checkpoint connection to " + path_ + ": " +
                                               (db ? sqlite3_errmsg(db.get()) : sqlite3_errstr(rc)));
  }
  // Stated, not left to the build's default: the pipelined commit
  // (commit_pipeline.hpp) relies on every checkpoint syncing the WAL before
  // it copies frames back and the database before the WAL may restart,
  // which SQLite does unless synchronous is OFF.
  if (const int set = sqlite3_exec(db.get(), "PRAGMA synchronous=FULL", nullptr, nullptr, nullptr);
      set != SQLITE_OK) {
    return make_error(ErrorCode::io_error, "configuring the checkpoint connection to " + path_ + ": " +
                                               sqlite3_errmsg(db.get()));
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

std::optional<std::string> SqliteStore::take_background_checkpoint_error() {
  std::lock_guard lock(checkpoint_mutex_);
  return std::exchange(checkpoint_error_, std::nullopt);
}

Status SqliteStore::checkpoint() {
  assert(!in_transaction());
  // RESTART, not TRUNCATE: the next commits overwrite the WAL file from its
  // start instead of growing a fresh one, so an fsync need not also commit
  // new blocks to the file system's journal. journal_size_limit (set at
  // open) still shrinks a WAL that a burst made large.
  const int rc = sqlite3_wal_checkpoint_v2(db_.get(), nullptr, SQLITE_CHECKPOINT_RESTART, nullptr, nullptr);
  return done(rc, "checkpointing the WAL");
}

void SqliteStore::run_background_checkpoints(std::chrono::milliseconds every) {
  std::unique_lock lock(checkpoint_mutex_);
  for (;;) {
    if (checkpoint_wake_.wait_for(lock, every, [this] { return checkpoint_stop_; })) return;
    lock.unlock();
    // PASSIVE takes no lock the writer waits on, and copies the bulk of
    // what was committed since the last turn; BUSY only means another
    // checkpoint (the stop's) is running.
    int frames = 0;
    int copied = 0;
    const auto passive_start = std::chrono::steady_clock::now();
    int rc = sqlite3_wal_checkpoint_v2(checkpoint_db_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &frames, &copied);
    const auto passive_took = std::chrono::steady_clock::now() - passive_start;
    // PASSIVE alone never lets the WAL restart under a steady load: the
    // writer commits again while it copies, so the WAL is never wholly
    // copied when the writer begins, and it grew by every commit's pages
    // (3 GB in 30 s at 1000 messages/s, fpx-bench --lean). RESTART copies
    // the frames committed since and restarts the WAL in place, holding
    // the write lock through its WAL and database fsyncs: the loop's next
    // BEGIN waits for it (kBusyTimeoutMs at most, then that batch is
    // refused "unavailable" and resent). So it runs only when PASSIVE
    // caught up (little is left to copy) and took less than a quarter of
    // that timeout (its own two fsyncs: the disk is quick enough that
    // RESTART's two hold the loop back far less). This connection has no
    // busy handler: with the loop inside a transaction, or a reader on old
    // frames, RESTART does what PASSIVE would, and the next turn tries again.
    if (rc == SQLITE_OK && frames > 0 && copied == frames &&
        passive_took < std::chrono::milliseconds(kBusyTimeoutMs / 4)) {
      rc = sqlite3_wal_checkpoint_v2(checkpoint_db_.get(), nullptr, SQLITE_CHECKPOINT_RESTART, nullptr, nullptr);
    }
    std::string failure;
    if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY) {
      failure = std::string("WAL checkpoint of ") + path_ + " failed: " + sqlite3_errmsg(checkpoint_db_.get());
    }
    lock.lock();
    if (!failure.empty()) checkpoint_error_ = std::move(failure);
  }
}

void SqliteStore::stop_background_checkpoints() {
  {
    std::lock_guard lock(checkpoint_mutex_);
    checkpoint_stop_ = true;
  }
  checkpoint_wake_.notify_all();
  if (checkpointer_.joinable()) checkpointer_.join();
  checkpoint_db_.reset();
}

}  // namespace sqlite

}  // namespace fpx::broker
