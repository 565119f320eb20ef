// fpx-admin's operations on a SQLite store. Reads use a connection of their
// own (WAL: the broker keeps committing meanwhile); the retention purge
// writes through the Store interface, in short transactions.
#include "admin/operations.hpp"
#include "admin/operations_text.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <ostream>

#include <nlohmann/json.hpp>

#include "fpx/broker/store.hpp"
#include "fpx/transparency_log.hpp"

namespace fpx::broker::admin {

namespace {

struct Closer {
  void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
using Database = std::unique_ptr<sqlite3, Closer>;
struct Finalizer {
  void operator()(sqlite3_stmt* statement) const noexcept { sqlite3_finalize(statement); }
};
using Statement = std::unique_ptr<sqlite3_stmt, Finalizer>;

// Waits this long for the broker's write lock: a batch's commit takes
// milliseconds; longer means something holds the store.
constexpr int kAdminBusyTimeoutMs = 5000;
// Messages purged per transaction: short enough that the broker's own
// transactions (its busy timeout is 200 ms) never wait long behind one.
constexpr std::size_t kPurgeBatch = 500;

Error sqlite_error(sqlite3* db, int rc, const std::string& what) {
  return make_error(ErrorCode::io_error,
                    what + ": " + (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
}

enum class OpenMode { read_only, read_write, create };

Result<Database> open_database(const std::filesystem::path& path, OpenMode mode) {
  std::error_code error;
  if (mode != OpenMode::create && !std::filesystem::is_regular_file(path, error)) {
    return make_error(ErrorCode::not_found, path.string() + " is not a store file: check the path (or the config's "
                                                            "[storage] database)");
  }
  const int flags = (mode == OpenMode::read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
                    (mode == OpenMode::create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX;
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Database db(raw);
  if (rc != SQLITE_OK) return sqlite_error(db.get(), rc, "opening " + path.string());
  sqlite3_busy_timeout(db.get(), kAdminBusyTimeoutMs);
  return db;
}

Result<Statement> prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v2(db, sql, -1, &raw, nullptr);
  Statement statement(raw);
  if (rc != SQLITE_OK) return sqlite_error(db, rc, std::string("preparing ") + sql);
  return statement;
}

Result<std::string> query_text(sqlite3* db, const char* sql) {
  auto statement = prepare(db, sql);
  if (!statement) return std::move(statement).take_error();
  const int rc = sqlite3_step(statement->get());
  if (rc != SQLITE_ROW) return sqlite_error(db, rc, sql);
  const auto* text = sqlite3_column_text(statement->get(), 0);
  return std::string(text == nullptr ? "" : reinterpret_cast<const char*>(text));
}

Status exec(sqlite3* db, const char* sql) {
  char* message = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &message);
  std::string text = message != nullptr ? message : sqlite3_errstr(rc);
  sqlite3_free(message);
  if (rc != SQLITE_OK) return make_error(ErrorCode::io_error, std::string(sql) + ": " + text);
  return {};
}

Status fsync_path(const std::filesystem::path& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return make_error(ErrorCode::io_error, "cannot open " + path.string() + " to sync it");
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return make_error(ErrorCode::io_error, "fsync of " + path.string() + " failed: " + std::strerror(errno));
  return {};
}

// Copies every page of `source` into a new 0600 file `target` (must not
// exist) with SQLite's online backup API, in one step: one read
// transaction, so the copy is one consistent snapshot of the source.
Status copy_database(sqlite3* source, const std::filesystem::path& target) {
  // O_EXCL and 0600 before SQLite sees the file, whatever the umask: a
  // backup holds every participant's messages.
  const int fd = ::open(target.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) {
    return make_error(ErrorCode::io_error, "cannot create " + target.string() + ": " + std::strerror(errno) +
                                               "; remove a stale file of that name or choose another");
  }
  ::close(fd);
  auto opened = open_database(target, OpenMode::read_write);
  if (!opened) return std::move(opened).take_error();
  Database destination = std::move(opened).value();
  sqlite3_backup* backup = sqlite3_backup_init(destination.get(), "main", source, "main");
  if (backup == nullptr) return sqlite_error(destination.get(), SQLITE_ERROR, "starting the backup");
  int rc = SQLITE_OK;
  do {
    rc = sqlite3_backup_step(backup, -1);  // -1: every page in this one step
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) sqlite3_sleep(50);
  } while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
  const int finished = sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE || finished != SQLITE_OK) return sqlite_error(destination.get(), rc, "copying the store");
  // One self-contained file (no -wal beside it): the broker turns WAL on
  // again when it opens the restored store.
  if (auto mode = query_text(destination.get(), "PRAGMA journal_mode = DELETE"); !mode) {
    return std::move(mode).take_error();
  }
  destination.reset();
  return fsync_path(target, O_RDONLY);
}

// log_nodes is keyed (level, idx) before schema 12 and by the leaf that
// completes the node from then on; a backup being checked may be either.
constexpr std::int64_t kLogNodesByCompletingLeaf = 12;
const char* log_node_query(std::int64_t schema_version) {
  return schema_version >= kLogNodesByCompletingLeaf
             ? "SELECT hash FROM log_nodes WHERE completed_by = ((?2 + 1) << ?1) - 1 AND level = ?1 "
               "AND ((completed_by + 1) >> ?1) - 1 = ?2"
             : "SELECT hash FROM log_nodes WHERE level = ?1 AND idx = ?2";
}
// Every interior node, in the table's own order (no sort); from schema 12 a
// key that is not the last leaf of a subtree at its level reads as idx -1,
// which no node has, so the check reports it.
const char* log_nodes_in_order_query(std::int64_t schema_version) {
  return schema_version >= kLogNodesByCompletingLeaf
             ? "SELECT level, CASE WHEN ((completed_by + 1) & ((1 << level) - 1)) = 0 "
               "THEN ((completed_by + 1) >> level) - 1 ELSE -1 END, hash FROM log_nodes"
             : "SELECT level, idx, hash FROM log_nodes";
}

// The log's nodes as stored: level 0 from log_leaves, interior ones from log_nodes.
class SqliteNodes final : public NodeSource {
 public:
  SqliteNodes(sqlite3* db, std::int64_t schema_version) : db_(db), schema_version_(schema_version) {}
  Status prepare_all() {
    auto leaf = prepare(db_, "SELECT leaf_hash FROM log_leaves WHERE leaf_index = ?1");
    if (!leaf) return std::move(leaf).take_error();
    auto node = prepare(db_, log_node_query(schema_version_));
    if (!node) return std::move(node).take_error();
    leaf_ = std::move(leaf).value();
    node_ = std::move(node).value();
    return {};
  }
  Result<Sha256Digest> node(std::uint32_t level, std::uint64_t index) override {
    sqlite3_stmt* statement = level == 0 ? leaf_.get() : node_.get();
    sqlite3_reset(statement);
    if (level == 0) {
      sqlite3_bind_int64(statement, 1, static_cast<std::int64_t>(index));
    } else {
      sqlite3_bind_int64(statement, 1, level);
      sqlite3_bind_int64(statement, 2, static_cast<std::int64_t>(index));
    }
    const int rc = sqlite3_step(statement);
    if (rc != SQLITE_ROW || sqlite3_column_bytes(statement, 0) != 32) {
      sqlite3_reset(statement);
      return make_error(ErrorCode::not_found, "log node (" + std::to_string(level) + ", " + std::to_string(index) +
                                                  ") is missing or damaged");
    }
    Sha256Digest digest{};
    std::memcpy(digest.data(), sqlite3_column_blob(statement, 0), digest.size());
    sqlite3_reset(statement);
    return digest;
  }

 private:
  sqlite3* db_;
  std::int64_t schema_version_;
  Statement leaf_;
  Statement node_;
};

Sha256Digest digest_of(sqlite3_stmt* statement, int column) {
  Sha256Digest digest{};
  if (sqlite3_column_bytes(statement, column) == 32) {
    std::memcpy(digest.data(), sqlite3_column_blob(statement, column), digest.size());
  }
  return digest;
}

std::string csv_field(const std::string& text) {
  // A cell a spreadsheet would run as a formula (CSV injection): a
  // participant chooses some audited text, an auditor opens the export.
  std::string value = text;
  if (!value.empty() && std::strchr("=+-@\t\r", value.front()) != nullptr) value.insert(0, "'");
  if (value.find_first_of(",\"\r\n") == std::string::npos) return value;
  std::string quoted = "\"";
  for (char c : value) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

std::string format_utc(std::int64_t ms) {
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &parts);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buffer, static_cast<int>(((ms % 1000) + 1000) % 1000));
  return out;
}

std::string column_text(sqlite3_stmt* statement, int column) {
  const auto* text = sqlite3_column_text(statement, column);
  return text == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(text),
                                                       static_cast<std::size_t>(sqlite3_column_bytes(statement, column)));
}

std::string column_hex(sqlite3_stmt* statement, int column) {
  if (sqlite3_column_type(statement, column) == SQLITE_NULL) return {};
  const auto* data = static_cast<const std::uint8_t*>(sqlite3_column_blob(statement, column));
  return to_hex(ByteView(data, static_cast<std::size_t>(sqlite3_column_bytes(statement, column))));
}

}  // namespace

Status backup_sqlite(const std::filesystem::path& store, const std::filesystem::path& to) {
  std::error_code error;
  if (std::filesystem::exists(to, error)) {
    return make_error(ErrorCode::invalid_argument,
                      to.string() + " exists: a backup never overwrites a file; choose a new name");
  }
  // Read-write without create: a reader of a WAL store needs its -shm, and
  // the broker's store must exist (a typo must not create an empty one).
  auto source = open_database(store, OpenMode::read_write);
  if (!source) return std::move(source).take_error();
  std::filesystem::path partial = to;
  partial += ".partial";
  std::filesystem::remove(partial, error);
  if (auto copied = copy_database(source->get(), partial); !copied) {
    std::filesystem::remove(partial, error);
    return copied;
  }
  std::filesystem::rename(partial, to, error);
  if (error) {
    return make_error(ErrorCode::io_error, "cannot rename " + partial.string() + " to " + to.string() + ": " +
                                               error.message());
  }
  const auto directory = to.has_parent_path() ? to.parent_path() : std::filesystem::path(".");
  return fsync_path(directory, O_RDONLY | O_DIRECTORY);
}

Result<StoreCheck> check_sqlite_store(const std::filesystem::path& file) {
  // Read-write without create, though it only reads: a read-only connection
  // to a WAL file may leave a -shm behind, and restore checks that none is.
  auto opened = open_database(file, OpenMode::read_write);
  if (!opened) return std::move(opened).take_error();
  sqlite3* db = opened->get();
  StoreCheck check;
  auto integrity = query_text(db, "PRAGMA integrity_check");
  if (!integrity) return std::move(integrity).take_error();
  if (*integrity != "ok") {
    return make_error(ErrorCode::io_error, file.string() + " fails SQLite's integrity check (" + *integrity +
                                               "); restore an older backup");
  }
  auto version = query_text(db, "PRAGMA user_version");
  if (!version) return std::move(version).take_error();
  check.schema_version = std::stoll(*version);
  // A version newer than this build's is refused when the broker's own
  // open upgrades the restored copy (restore_sqlite).
  if (check.schema_version < 1) {
    return make_error(ErrorCode::io_error, file.string() + " has schema version " + *version +
                                               ": it is not an FPX store; check the file name");
  }
  auto count = query_text(db, "SELECT COUNT(*) FROM messages");
  if (!count) return std::move(count).take_error();
  check.messages = std::stoull(*count);

  // Every leaf hash against its data, in order and without gaps.
  auto leaves = prepare(db, "SELECT leaf_index, leaf_data, leaf_hash FROM log_leaves ORDER BY leaf_index");
  if (!leaves) return std::move(leaves).take_error();
  int rc = SQLITE_ROW;
  std::uint64_t expected = 0;
  while ((rc = sqlite3_step(leaves->get())) == SQLITE_ROW) {
    const auto index = static_cast<std::uint64_t>(sqlite3_column_int64(leaves->get(), 0));
    if (index != expected) {
      return make_error(ErrorCode::io_error, file.string() + ": log leaf " + std::to_string(expected) +
                                                 " is missing; restore an older backup");
    }
    const auto* data = static_cast<const std::uint8_t*>(sqlite3_column_blob(leaves->get(), 1));
    const ByteView bytes(data, static_cast<std::size_t>(sqlite3_column_bytes(leaves->get(), 1)));
    if (leaf_hash(bytes) != digest_of(leaves->get(), 2)) {
      return make_error(ErrorCode::io_error, file.string() + ": log leaf " + std::to_string(index) +
                                                 " does not hash to its stored hash; restore an older backup");
    }
    ++expected;
  }
  if (rc != SQLITE_DONE) return sqlite_error(db, rc, "reading the log's leaves");
  check.log_size = expected;

  // Every interior node against its two children.
  SqliteNodes nodes(db, check.schema_version);
  if (auto prepared = nodes.prepare_all(); !prepared) return std::move(prepared).take_error();
  auto interior = prepare(db, log_nodes_in_order_query(check.schema_version));
  if (!interior) return std::move(interior).take_error();
  while ((rc = sqlite3_step(interior->get())) == SQLITE_ROW) {
    const auto level = static_cast<std::uint32_t>(sqlite3_column_int64(interior->get(), 0));
    const auto index = static_cast<std::uint64_t>(sqlite3_column_int64(interior->get(), 1));
    auto left = nodes.node(level - 1, 2 * index);
    auto right = nodes.node(level - 1, 2 * index + 1);
    if (!left || !right || node_hash(*left, *right) != digest_of(interior->get(), 2)) {
      return make_error(ErrorCode::io_error, file.string() + ": log node (" + std::to_string(level) + ", " +
                                                 std::to_string(index) +
                                                 ") does not match its children; restore an older backup");
    }
  }
  if (rc != SQLITE_DONE) return sqlite_error(db, rc, "reading the log's nodes");

  auto root = fpx::root(nodes, check.log_size);
  if (!root) return std::move(root).take_error();
  check.root_hex = to_hex(ByteView(root->data(), root->size()));

  // The latest signed checkpoint: its root must be the one these nodes give at its size.
  auto latest = prepare(db, "SELECT tree_size, root_hash FROM checkpoints ORDER BY tree_size DESC LIMIT 1");
  if (!latest) return std::move(latest).take_error();
  rc = sqlite3_step(latest->get());
  if (rc == SQLITE_ROW) {
    check.checkpoint_size = static_cast<std::uint64_t>(sqlite3_column_int64(latest->get(), 0));
    if (check.checkpoint_size > check.log_size) {
      return make_error(ErrorCode::io_error, file.string() + ": the latest checkpoint signs " +
                                                 std::to_string(check.checkpoint_size) + " leaves, the log holds " +
                                                 std::to_string(check.log_size) +
                                                 ": observers saw more than this copy holds; restore a newer backup");
    }
    auto at_checkpoint = fpx::root(nodes, check.checkpoint_size);
    if (!at_checkpoint || *at_checkpoint != digest_of(latest->get(), 1)) {
      return make_error(ErrorCode::io_error, file.string() + ": the latest signed checkpoint's root (size " +
                                                 std::to_string(check.checkpoint_size) +
                                                 ") differs from the root its nodes give; restore an older backup");
    }
  } else if (rc != SQLITE_DONE) {
    return sqlite_error(db, rc, "reading the latest checkpoint");
  }
  return check;
}

Result<StoreUse> sqlite_store_use(const std::filesystem::path& store) {
  std::error_code error;
  if (!std::filesystem::exists(store, error)) return StoreUse::free;
  auto opened = open_database(store, OpenMode::read_write);
  if (!opened) return std::move(opened).take_error();
  sqlite3_busy_timeout(opened->get(), 0);
  // A connection in WAL mode holds a shared lock on the file for as long as
  // it is open: an exclusive one is refused while a broker has the store.
  if (auto mode = exec(opened->get(), "PRAGMA locking_mode = EXCLUSIVE"); !mode) return std::move(mode).take_error();
  const int rc = sqlite3_exec(opened->get(), "BEGIN EXCLUSIVE; COMMIT", nullptr, nullptr, nullptr);
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) return StoreUse::in_use;
  if (rc != SQLITE_OK) return sqlite_error(opened->get(), rc, "locking " + store.string());
  return StoreUse::free;
}

Result<StoreCheck> restore_sqlite(const std::filesystem::path& from, const std::filesystem::path& to) {
  auto use = sqlite_store_use(to);
  if (!use) return std::move(use).take_error();
  if (*use == StoreUse::in_use) {
    return make_error(ErrorCode::unavailable, to.string() +
                                                  " is in use (a broker has it open): stop the broker "
                                                  "(systemctl stop fpx-broker), then restore");
  }
  auto checked = check_sqlite_store(from);
  if (!checked) return std::move(checked).take_error();

  std::filesystem::path partial = to;
  partial += ".restoring";
  std::error_code error;
  std::filesystem::remove(partial, error);
  {
    auto source = open_database(from, OpenMode::read_only);
    if (!source) return std::move(source).take_error();
    if (auto copied = copy_database(source->get(), partial); !copied) {
      std::filesystem::remove(partial, error);
      return std::move(copied).take_error();
    }
  }
  // The broker's own open: WAL, and an older schema upgraded as at any start.
  {
    auto store = open_sqlite_store(partial);
    if (!store) {
      std::filesystem::remove(partial, error);
      return std::move(store).take_error();
    }
    (void)(*store)->checkpoint();
  }
  auto copy_checked = check_sqlite_store(partial);
  if (!copy_checked) {
    std::filesystem::remove(partial, error);
    return std::move(copy_checked).take_error();
  }
  for (const char* suffix : {"-wal", "-shm"}) {
    std::filesystem::path stale = partial;
    stale += suffix;
    if (std::filesystem::exists(stale, error)) {
      std::filesystem::remove(partial, error);
      return make_error(ErrorCode::io_error, stale.string() + " remains after the copy was closed; nothing was "
                                                              "replaced: try the restore again");
    }
  }
  // The old store's WAL would be replayed into the new file: remove it first.
  for (const char* suffix : {"-wal", "-shm", "-journal"}) {
    std::filesystem::path stale = to;
    stale += suffix;
    std::filesystem::remove(stale, error);
  }
  std::filesystem::rename(partial, to, error);
  if (error) return make_error(ErrorCode::io_error, "cannot move the restored store into place: " + error.message());
  const auto directory = to.has_parent_path() ? to.parent_path() : std::filesystem::path(".");
  if (auto synced = fsync_path(directory, O_RDONLY | O_DIRECTORY); !synced) return std::move(synced).take_error();
  return copy_checked;
}

Result<std::uint64_t> export_audit_sqlite(const std::filesystem::path& store, const AuditFilter& filter,
                                          ExportFormat format, std::ostream& out) {
  auto opened = open_database(store, OpenMode::read_write);
  if (!opened) return std::move(opened).take_error();
  sqlite3* db = opened->get();
  // Schema 11 keeps an ordinary acceptance on its messages row, not in
  // audit: the view audit_trail reads both. A store the broker has not
  // migrated yet has every acceptance in audit and no view.
  auto has_trail = query_text(db, "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'view' AND name = 'audit_trail'");
  if (!has_trail) return std::move(has_trail).take_error();
  const std::string source = *has_trail != "0" ? "audit_trail" : "audit";
  // Filters are bound values, never spliced into the SQL. Oldest first; at
  // one millisecond, audit rows in id order before acceptances.
  const std::string sql = "SELECT id, at_ms, principal, message_id, stage, outcome, detail FROM " + source +
                          " WHERE (?1 IS NULL OR principal = ?1 OR substr(principal, 1, length(?1) + 1) = ?1 || '/') "
                          "AND (?2 IS NULL OR at_ms >= ?2) AND (?3 IS NULL OR at_ms < ?3) "
                          "AND (?4 IS NULL OR (?4 = 'refused' AND outcome != 'accepted') OR outcome = ?4) "
                          "ORDER BY at_ms, id IS NULL, id, message_id";
  auto statement = prepare(db, sql.c_str());
  if (!statement) return std::move(statement).take_error();
  sqlite3_stmt* s = statement->get();
  if (filter.participant) sqlite3_bind_text(s, 1, filter.participant->c_str(), -1, SQLITE_TRANSIENT);
  if (filter.since_ms) sqlite3_bind_int64(s, 2, *filter.since_ms);
  if (filter.until_ms) sqlite3_bind_int64(s, 3, *filter.until_ms);
  if (filter.decision) sqlite3_bind_text(s, 4, filter.decision->c_str(), -1, SQLITE_TRANSIENT);

  std::uint64_t rows = 0;
  if (format == ExportFormat::csv) out << "id,at,at_ms,principal,message_id,stage,outcome,detail\r\n";
  if (format == ExportFormat::json) out << "[";
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    const std::optional<std::int64_t> id =
        sqlite3_column_type(s, 0) == SQLITE_NULL ? std::nullopt
                                                  : std::optional<std::int64_t>(sqlite3_column_int64(s, 0));
    const std::int64_t at_ms = sqlite3_column_int64(s, 1);
    write_audit_row(out, format,
                    {id, at_ms, column_text(s, 2), column_hex(s, 3), column_text(s, 4), column_text(s, 5),
                     column_text(s, 6)},
                    rows == 0);
    ++rows;
  }
  if (format == ExportFormat::json) out << "\n]\n";
  if (rc != SQLITE_DONE) return sqlite_error(db, rc, "reading the audit table");
  return rows;
}

Result<std::uint64_t> list_dead_letters_sqlite(const std::filesystem::path& store, std::int64_t since_ms,
                                               std::ostream& out) {
  auto opened = open_database(store, OpenMode::read_write);
  if (!opened) return std::move(opened).take_error();
  sqlite3* db = opened->get();
  auto statement = prepare(db,
                           "SELECT d.delivery_id, m.message_id, m.sender, d.recipient, m.type, m.stored_at_ms, "
                           "d.updated_at_ms, d.reason, d.attempts FROM deliveries d JOIN messages m ON m.seq = "
                           "d.message_seq WHERE d.state = 'dead_letter' AND d.updated_at_ms >= ?1 "
                           "ORDER BY d.updated_at_ms, d.delivery_id");
  if (!statement) return std::move(statement).take_error();
  sqlite3_stmt* s = statement->get();
  sqlite3_bind_int64(s, 1, since_ms);
  std::uint64_t rows = 0;
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    write_dead_letter(out, {sqlite3_column_int64(s, 0), column_hex(s, 1), column_text(s, 2), column_text(s, 3),
                            column_text(s, 4), sqlite3_column_int64(s, 5), sqlite3_column_int64(s, 6),
                            column_text(s, 7), sqlite3_column_int64(s, 8)});
    ++rows;
  }
  if (rc != SQLITE_DONE) return sqlite_error(db, rc, "reading dead letters");
  return rows;
}

Result<std::vector<std::pair<std::string, std::uint64_t>>> run_retention(const BrokerConfig& config,
                                                                         std::int64_t now_ms) {
  std::vector<std::pair<std::string, std::uint64_t>> purged;
  if (config.retention.rules.empty()) return purged;
  // On PostgreSQL the store's one-writer lock refuses this while a broker
  // runs (ids are the largest + 1 in the writing transaction).
  auto store = config.store_backend == StoreBackend::postgres ? open_postgres_store(config.store_dsn)
                                                               : open_sqlite_store(config.database);
  if (!store) {
    if (config.store_backend == StoreBackend::postgres && store.error().code == ErrorCode::unavailable) {
      return make_error(ErrorCode::unavailable,
                        store.error().message +
                            " (retention on PostgreSQL runs while the broker is stopped: stop it, run the purge, "
                            "start it again)");
    }
    return std::move(store).take_error();
  }
  for (const auto& [type, rule] : config.retention.rules) {
    RetentionPurge purge;
    purge.type = type;
    purge.rule = rule.text;
    purge.now_ms = now_ms;
    purge.stored_before_ms = now_ms - rule.keep_ms;
    purge.limit = kPurgeBatch;
    purge.principal = "fpx-admin";
    std::uint64_t count = 0;
    for (;;) {
      if (auto begun = (*store)->begin(Durability::required); !begun) return std::move(begun).take_error();
      auto ids = (*store)->purge_bodies(purge);
      if (!ids) {
        (*store)->rollback();
        return std::move(ids).take_error();
      }
      if (auto committed = (*store)->commit(); !committed) {
        (*store)->rollback();
        return std::move(committed).take_error();
      }
      count += ids->size();
      if (ids->size() < purge.limit) break;
    }
    purged.emplace_back(type, count);
  }
  return purged;
}

void write_audit_row(std::ostream& out, ExportFormat format, const AuditExportRow& row, bool first) {
  if (format == ExportFormat::csv) {
    out << (row.id ? std::to_string(*row.id) : std::string()) << ',' << format_utc(row.at_ms) << ',' << row.at_ms << ',' << csv_field(row.principal) << ','
        << row.message_id_hex << ',' << csv_field(row.stage) << ',' << csv_field(row.outcome) << ','
        << csv_field(row.detail) << "\r\n";
    return;
  }
  nlohmann::json value = {{"id", row.id ? nlohmann::json(*row.id) : nlohmann::json(nullptr)},
                          {"at", format_utc(row.at_ms)},
                          {"at_ms", row.at_ms},
                          {"principal", row.principal},
                          {"message_id", row.message_id_hex},
                          {"stage", row.stage},
                          {"outcome", row.outcome},
                          {"detail", row.detail}};
  // replace: a damaged byte in a detail must not stop the export.
  out << (first ? "\n" : ",\n") << value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void write_dead_letter(std::ostream& out, const DeadLetterRow& row) {
  nlohmann::json value = {{"delivery_id", row.delivery_id},
                          {"message_id", row.message_id_hex},
                          {"sender", row.sender},
                          {"recipient", row.recipient},
                          {"type", row.type},
                          {"stored_at", format_utc(row.stored_at_ms)},
                          {"dead_at", format_utc(row.dead_at_ms)},
                          {"reason", row.reason},
                          {"attempts", row.attempts}};
  out << value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

Status fsync_file(const std::filesystem::path& path, int flags) { return fsync_path(path, flags); }

Result<std::int64_t> parse_time_argument(const std::string& text) {
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos && text.size() <= 15) {
    return static_cast<std::int64_t>(std::stoll(text));
  }
  for (const char* format : {"%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d"}) {
    std::tm parts{};
    const char* end = strptime(text.c_str(), format, &parts);
    if (end != nullptr && *end == '\0') return static_cast<std::int64_t>(timegm(&parts)) * 1000;
  }
  return make_error(ErrorCode::invalid_argument, "'" + text +
                                                     "' is not a time: give Unix milliseconds, 2026-12-07 or "
                                                     "2026-12-07T03:00:00Z (UTC)");
}

}  // namespace fpx::broker::admin
