// fpx-admin's operations on a PostgreSQL store ([store] backend =
// "postgres"): backup with pg_dump (custom format, one serializable
// snapshot), restore with pg_restore into an empty database, the same
// checks as SQLite's, audit export and dead letters. Reads run in one
// REPEATABLE READ, READ ONLY transaction of their own connection, so the
// broker keeps committing meanwhile and the reader sees one snapshot.
// Retention is run_retention (operations.cpp) through the store's own
// purge_bodies, as on SQLite, but only while the broker is stopped: the
// PostgreSQL store's one-writer lock refuses a second writer.
#include <fcntl.h>
#include <libpq-fe.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <ostream>

#include <nlohmann/json.hpp>

#include "admin/operations.hpp"
#include "admin/operations_text.hpp"
#include "fpx/transparency_log.hpp"

extern char** environ;

namespace fpx::broker::admin {

namespace {

struct ConnectionCloser {
  void operator()(PGconn* conn) const noexcept { PQfinish(conn); }
};
using Connection = std::unique_ptr<PGconn, ConnectionCloser>;
struct ResultClearer {
  void operator()(PGresult* result) const noexcept { PQclear(result); }
};
using PgResult = std::unique_ptr<PGresult, ResultClearer>;

// Rows fetched per round trip from a cursor: the check and the exports hold
// at most this many rows in memory, whatever the store's size.
constexpr int kFetchRows = 1000;

Result<Connection> connect(const std::string& dsn) {
  if (dsn.empty()) {
    return make_error(ErrorCode::invalid_argument,
                      "no PostgreSQL connection string: set [store] dsn in the broker's configuration or give --dsn");
  }
  Connection conn(PQconnectdb(dsn.c_str()));
  if (!conn || PQstatus(conn.get()) != CONNECTION_OK) {
    return make_error(ErrorCode::unavailable, std::string("cannot connect to PostgreSQL (") +
                                                  (conn ? PQerrorMessage(conn.get()) : "out of memory") +
                                                  "): check [store] dsn and that the server runs");
  }
  return conn;
}

// Runs `sql` with text parameters (nullopt: NULL); text results.
Result<PgResult> run(PGconn* conn, const std::string& sql, const std::vector<std::optional<std::string>>& params = {}) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& param : params) values.push_back(param ? param->c_str() : nullptr);
  PgResult result(PQexecParams(conn, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                               nullptr, 0));
  const auto status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return make_error(ErrorCode::io_error, "PostgreSQL: " + std::string(PQresultErrorMessage(result.get())) +
                                               " (running: " + sql.substr(0, 80) + ")");
  }
  return result;
}

Status begin_snapshot(PGconn* conn) {
  auto begun = run(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  if (!begun) return std::move(begun).take_error();
  return {};
}

std::string value(PGresult* result, int row, int column) {
  return std::string(PQgetvalue(result, row, column), static_cast<std::size_t>(PQgetlength(result, row, column)));
}

// A bytea column read as encode(column, 'hex').
Bytes hex_bytes(PGresult* result, int row, int column) {
  auto bytes = from_hex(value(result, row, column));
  return bytes ? *bytes : Bytes{};
}

Sha256Digest digest_from(const Bytes& bytes) {
  Sha256Digest digest{};
  if (bytes.size() == digest.size()) std::memcpy(digest.data(), bytes.data(), digest.size());
  return digest;
}

// Streams `select` through a cursor, kFetchRows at a time, inside the
// current transaction; `row` returns an error to stop.
template <typename RowFunction>
Status for_each_row(PGconn* conn, const std::string& select, const std::vector<std::optional<std::string>>& params,
                    RowFunction row) {
  auto declared = run(conn, "DECLARE fpx_admin_rows NO SCROLL CURSOR FOR " + select, params);
  if (!declared) return std::move(declared).take_error();
  for (;;) {
    auto page = run(conn, "FETCH " + std::to_string(kFetchRows) + " FROM fpx_admin_rows");
    if (!page) return std::move(page).take_error();
    const int rows = PQntuples(page->get());
    for (int i = 0; i < rows; ++i) {
      if (auto handled = row(page->get(), i); !handled) return handled;
    }
    if (rows < kFetchRows) break;
  }
  auto closed = run(conn, "CLOSE fpx_admin_rows");
  if (!closed) return std::move(closed).take_error();
  return {};
}

class PostgresNodes final : public NodeSource {
 public:
  explicit PostgresNodes(PGconn* conn) : conn_(conn) {}
  Result<Sha256Digest> node(std::uint32_t level, std::uint64_t index) override {
    // TODO(perf): one round trip per node; a check of a log of millions of
    // leaves takes minutes. Stream each level in order instead.
    auto found = level == 0 ? run(conn_, "SELECT encode(leaf_hash, 'hex') FROM log_leaves WHERE leaf_index = $1",
                                  {std::to_string(index)})
                            : run(conn_, "SELECT encode(hash, 'hex') FROM log_nodes WHERE level = $1 AND idx = $2",
                                  {std::to_string(level), std::to_string(index)});
    if (!found) return std::move(found).take_error();
    if (PQntuples(found->get()) != 1) {
      return make_error(ErrorCode::not_found, "log node (" + std::to_string(level) + ", " + std::to_string(index) +
                                                  ") is missing or damaged");
    }
    const Bytes bytes = hex_bytes(found->get(), 0, 0);
    if (bytes.size() != 32) return make_error(ErrorCode::io_error, "log node hash is not 32 bytes");
    return digest_from(bytes);
  }

 private:
  PGconn* conn_;
};

// Runs `argv` (no shell: a DSN or path never reaches one) and waits.
Status run_program(const std::vector<std::string>& argv, const std::string& what) {
  std::vector<char*> words;
  for (const auto& word : argv) words.push_back(const_cast<char*>(word.c_str()));
  words.push_back(nullptr);
  pid_t pid = 0;
  if (int rc = posix_spawnp(&pid, words[0], nullptr, nullptr, words.data(), environ); rc != 0) {
    return make_error(ErrorCode::unavailable, "cannot run " + argv[0] + " (" + std::strerror(rc) +
                                                  "): install PostgreSQL's client programs (Debian: postgresql-client)");
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return make_error(ErrorCode::io_error, what + " failed (" + argv[0] + " exit status " +
                                               std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) +
                                               "): its message is above");
  }
  return {};
}

}  // namespace

Status backup_postgres(const std::string& dsn, const std::filesystem::path& to) {
  std::error_code error;
  if (std::filesystem::exists(to, error)) {
    return make_error(ErrorCode::invalid_argument,
                      to.string() + " exists: a backup never overwrites a file; choose a new name");
  }
  // The store must be reachable and an FPX store before pg_dump runs.
  if (auto checked = check_postgres_store(dsn); !checked) return std::move(checked).take_error();
  std::filesystem::path partial = to;
  partial += ".partial";
  std::filesystem::remove(partial, error);
  // 0600 before pg_dump writes into it: a backup holds every stored message.
  const int fd = ::open(partial.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) {
    return make_error(ErrorCode::io_error, "cannot create " + partial.string() + ": " + std::strerror(errno));
  }
  ::close(fd);
  // --serializable-deferrable: one snapshot that no serializable transaction
  // can contradict, taken while the broker goes on committing; everything
  // receipted before pg_dump began is in it.
  auto dumped = run_program({"pg_dump", "--format=custom", "--serializable-deferrable", "--no-owner",
                             "--no-privileges", "--file=" + partial.string(), "--dbname=" + dsn},
                            "pg_dump");
  if (!dumped) {
    std::filesystem::remove(partial, error);
    return dumped;
  }
  if (auto synced = fsync_file(partial, O_RDONLY); !synced) return synced;
  std::filesystem::rename(partial, to, error);
  if (error) return make_error(ErrorCode::io_error, "cannot rename " + partial.string() + ": " + error.message());
  return fsync_file(to.has_parent_path() ? to.parent_path() : std::filesystem::path("."), O_RDONLY | O_DIRECTORY);
}

Result<StoreCheck> check_postgres_store(const std::string& dsn) {
  auto opened = connect(dsn);
  if (!opened) return std::move(opened).take_error();
  PGconn* conn = opened->get();
  if (auto begun = begin_snapshot(conn); !begun) return std::move(begun).take_error();
  StoreCheck check;
  auto has_schema = run(conn, "SELECT (to_regclass('schema_version') IS NOT NULL)::int");
  if (!has_schema) return std::move(has_schema).take_error();
  if (value(has_schema->get(), 0, 0) != "1") {
    return make_error(ErrorCode::not_found,
                      "the database has no FPX schema_version table: it is not an FPX store; check [store] dsn");
  }
  auto version = run(conn, "SELECT COALESCE(MAX(version), 0) FROM schema_version");
  if (!version) return std::move(version).take_error();
  check.schema_version = std::stoll(value(version->get(), 0, 0));
  auto count = run(conn, "SELECT COUNT(*) FROM messages");
  if (!count) return std::move(count).take_error();
  check.messages = std::stoull(value(count->get(), 0, 0));

  std::uint64_t expected = 0;
  auto leaves = for_each_row(
      conn, "SELECT leaf_index, encode(leaf_data, 'hex'), encode(leaf_hash, 'hex') FROM log_leaves ORDER BY leaf_index",
      {}, [&](PGresult* rows, int i) -> Status {
        const auto index = std::stoull(value(rows, i, 0));
        if (index != expected) {
          return make_error(ErrorCode::io_error,
                            "log leaf " + std::to_string(expected) + " is missing; restore an older backup");
        }
        const Bytes data = hex_bytes(rows, i, 1);
        if (leaf_hash(ByteView(data.data(), data.size())) != digest_from(hex_bytes(rows, i, 2))) {
          return make_error(ErrorCode::io_error, "log leaf " + std::to_string(index) +
                                                     " does not hash to its stored hash; restore an older backup");
        }
        ++expected;
        return {};
      });
  if (!leaves) return std::move(leaves).take_error();
  check.log_size = expected;

  PostgresNodes nodes(conn);
  auto interior = for_each_row(
      conn, "SELECT level, idx, encode(hash, 'hex') FROM log_nodes ORDER BY level, idx", {},
      [&](PGresult* rows, int i) -> Status {
        const auto level = static_cast<std::uint32_t>(std::stoul(value(rows, i, 0)));
        const auto index = std::stoull(value(rows, i, 1));
        auto left = nodes.node(level - 1, 2 * index);
        auto right = nodes.node(level - 1, 2 * index + 1);
        if (!left || !right || node_hash(*left, *right) != digest_from(hex_bytes(rows, i, 2))) {
          return make_error(ErrorCode::io_error, "log node (" + std::to_string(level) + ", " + std::to_string(index) +
                                                     ") does not match its children; restore an older backup");
        }
        return {};
      });
  if (!interior) return std::move(interior).take_error();
  auto root = fpx::root(nodes, check.log_size);
  if (!root) return std::move(root).take_error();
  check.root_hex = to_hex(ByteView(root->data(), root->size()));

  auto latest = run(conn, "SELECT tree_size, encode(root_hash, 'hex') FROM checkpoints ORDER BY tree_size DESC LIMIT 1");
  if (!latest) return std::move(latest).take_error();
  if (PQntuples(latest->get()) == 1) {
    check.checkpoint_size = std::stoull(value(latest->get(), 0, 0));
    if (check.checkpoint_size > check.log_size) {
      return make_error(ErrorCode::io_error, "the latest checkpoint signs " + std::to_string(check.checkpoint_size) +
                                                 " leaves, the log holds " + std::to_string(check.log_size) +
                                                 ": observers saw more than this copy holds; restore a newer backup");
    }
    auto at_checkpoint = fpx::root(nodes, check.checkpoint_size);
    if (!at_checkpoint || *at_checkpoint != digest_from(hex_bytes(latest->get(), 0, 1))) {
      return make_error(ErrorCode::io_error, "the latest signed checkpoint's root (size " +
                                                 std::to_string(check.checkpoint_size) +
                                                 ") differs from the root its nodes give; restore an older backup");
    }
  }
  (void)run(conn, "COMMIT");
  return check;
}

Result<StoreCheck> restore_postgres(const std::filesystem::path& from, const std::string& dsn) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(from, error)) {
    return make_error(ErrorCode::not_found, from.string() + " is not a backup file: check the path");
  }
  {
    // Into an empty database only: pg_restore over a live or older store
    // would mix two histories (and a broker on it would fork the log).
    auto opened = connect(dsn);
    if (!opened) return std::move(opened).take_error();
    auto tables = run(opened->get(),
                      "SELECT COUNT(*) FROM pg_catalog.pg_tables WHERE schemaname NOT IN ('pg_catalog', "
                      "'information_schema')");
    if (!tables) return std::move(tables).take_error();
    if (value(tables->get(), 0, 0) != "0") {
      return make_error(ErrorCode::invalid_argument,
                        "the target database is not empty: stop the broker, create an empty database (createdb), "
                        "point [store] dsn at it, then restore");
    }
  }
  // One transaction: a restore that fails leaves the database empty.
  auto restored = run_program({"pg_restore", "--exit-on-error", "--single-transaction", "--no-owner",
                               "--no-privileges", "--dbname=" + dsn, from.string()},
                              "pg_restore");
  if (!restored) return std::move(restored).take_error();
  auto checked = check_postgres_store(dsn);
  if (!checked) {
    return make_error(checked.error().code, checked.error().message +
                                                " (in the restored database: drop it and restore an older backup)");
  }
  return checked;
}

Result<std::uint64_t> export_audit_postgres(const std::string& dsn, const AuditFilter& filter, ExportFormat format,
                                            std::ostream& out) {
  auto opened = connect(dsn);
  if (!opened) return std::move(opened).take_error();
  PGconn* conn = opened->get();
  if (auto begun = begin_snapshot(conn); !begun) return std::move(begun).take_error();
  auto as_text = [](const std::optional<std::int64_t>& at) -> std::optional<std::string> {
    if (!at) return std::nullopt;
    return std::to_string(*at);
  };
  std::uint64_t rows = 0;
  if (format == ExportFormat::csv) out << "id,at,at_ms,principal,message_id,stage,outcome,detail\r\n";
  if (format == ExportFormat::json) out << "[";
  // Filters are bound values, never spliced into the SQL.
  auto streamed = for_each_row(
      conn,
      "SELECT id, at_ms, principal, COALESCE(encode(message_id, 'hex'), ''), stage, outcome, detail FROM audit "
      "WHERE ($1::text IS NULL OR principal = $1::text OR left(principal, length($1::text) + 1) = $1::text || '/') "
      "AND ($2::bigint IS NULL OR at_ms >= $2::bigint) AND ($3::bigint IS NULL OR at_ms < $3::bigint) "
      "AND ($4::text IS NULL OR ($4::text = 'refused' AND outcome <> 'accepted') OR outcome = $4::text) "
      "ORDER BY id",
      {filter.participant, as_text(filter.since_ms), as_text(filter.until_ms), filter.decision},
      [&](PGresult* result, int i) -> Status {
        AuditExportRow row{std::stoll(value(result, i, 0)), std::stoll(value(result, i, 1)), value(result, i, 2),
                           value(result, i, 3),           value(result, i, 4),           value(result, i, 5),
                           value(result, i, 6)};
        write_audit_row(out, format, row, rows == 0);
        ++rows;
        return {};
      });
  if (format == ExportFormat::json) out << "\n]\n";
  if (!streamed) return std::move(streamed).take_error();
  (void)run(conn, "COMMIT");
  return rows;
}

Result<std::uint64_t> list_dead_letters_postgres(const std::string& dsn, std::int64_t since_ms, std::ostream& out) {
  auto opened = connect(dsn);
  if (!opened) return std::move(opened).take_error();
  PGconn* conn = opened->get();
  if (auto begun = begin_snapshot(conn); !begun) return std::move(begun).take_error();
  std::uint64_t rows = 0;
  auto streamed = for_each_row(
      conn,
      "SELECT d.delivery_id, encode(m.message_id, 'hex'), m.sender, d.recipient, m.type, m.stored_at_ms, "
      "d.updated_at_ms, d.reason, d.attempts FROM deliveries d JOIN messages m ON m.seq = d.message_seq "
      "WHERE d.state = 'dead_letter' AND d.updated_at_ms >= $1::bigint ORDER BY d.updated_at_ms, d.delivery_id",
      {std::to_string(since_ms)}, [&](PGresult* result, int i) -> Status {
        DeadLetterRow row{std::stoll(value(result, i, 0)), value(result, i, 1), value(result, i, 2),
                          value(result, i, 3),           value(result, i, 4), std::stoll(value(result, i, 5)),
                          std::stoll(value(result, i, 6)), value(result, i, 7), std::stoll(value(result, i, 8))};
        write_dead_letter(out, row);
        ++rows;
        return {};
      });
  if (!streamed) return std::move(streamed).take_error();
  (void)run(conn, "COMMIT");
  return rows;
}

}  // namespace fpx::broker::admin
