// The witness's state file: one row per log origin, rewritten in place.
#include <sqlite3.h>

#include <algorithm>

#include "fpx/private_file.hpp"
#include "fpx/witness_state.hpp"

namespace fpx::witness {

namespace {

struct StatementFinalizer {
  void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};
using Statement = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

struct DatabaseCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};

Error db_error(sqlite3* db, const std::string& doing) {
  return make_error(ErrorCode::io_error, "witness state: " + doing + ": " + sqlite3_errmsg(db) +
                                             "; check the disk and the file's owner, then restart the witness");
}

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS latest_checkpoint (
  origin TEXT PRIMARY KEY,
  size   INTEGER NOT NULL,   -- stored as the two's-complement int64 of the uint64 size
  root   BLOB NOT NULL CHECK (length(root) = 32),
  note   TEXT NOT NULL,      -- the log-signed note as received, kept as evidence
  cosigned_at INTEGER NOT NULL
);
)sql";

}  // namespace

struct WitnessState::Impl {
  std::unique_ptr<sqlite3, DatabaseCloser> db;
  // One judge-and-record at a time: the HTTP server runs requests on
  // several threads, and the check of the old size and the update must not
  // interleave (the rollback race tlog-witness describes).
  std::mutex mutex;

  Result<Statement> prepare(const char* sql) {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db.get(), sql, -1, &raw, nullptr) != SQLITE_OK) {
      return db_error(db.get(), "preparing a statement");
    }
    return Statement(raw);
  }

  Status exec(const char* sql, const std::string& doing) {
    if (sqlite3_exec(db.get(), sql, nullptr, nullptr, nullptr) != SQLITE_OK) return db_error(db.get(), doing);
    return {};
  }

  Result<std::optional<WitnessedCheckpoint>> read(const std::string& origin) {
    auto statement = prepare("SELECT size, root, note FROM latest_checkpoint WHERE origin = ?");
    if (!statement) return std::move(statement).take_error();
    sqlite3_bind_text(statement->get(), 1, origin.data(), static_cast<int>(origin.size()), SQLITE_TRANSIENT);
    const int step = sqlite3_step(statement->get());
    if (step == SQLITE_DONE) return std::optional<WitnessedCheckpoint>{};
    if (step != SQLITE_ROW) return db_error(db.get(), "reading the latest checkpoint of " + origin);
    WitnessedCheckpoint checkpoint;
    checkpoint.size = static_cast<std::uint64_t>(sqlite3_column_int64(statement->get(), 0));
    const auto* root = static_cast<const std::uint8_t*>(sqlite3_column_blob(statement->get(), 1));
    if (root == nullptr || sqlite3_column_bytes(statement->get(), 1) != 32) {
      return db_error(db.get(), "the stored root of " + origin + " is damaged");
    }
    std::copy(root, root + 32, checkpoint.root.begin());
    const auto* note = reinterpret_cast<const char*>(sqlite3_column_text(statement->get(), 2));
    checkpoint.note = note == nullptr ? std::string() : std::string(note);
    return std::optional<WitnessedCheckpoint>(std::move(checkpoint));
  }
};

WitnessState::WitnessState(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
WitnessState::~WitnessState() = default;

Result<std::unique_ptr<WitnessState>> WitnessState::open(const std::filesystem::path& path) {
  if (auto kept_private = prepare_private_database_file(path, "witness state file"); !kept_private) {
    return std::move(kept_private).take_error();
  }
  sqlite3* raw = nullptr;
  const int opened = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  auto impl = std::make_unique<Impl>();
  impl->db.reset(raw);
  if (opened != SQLITE_OK) {
    return make_error(ErrorCode::io_error, "witness state: cannot open " + path.string() + ": " +
                                               (raw ? sqlite3_errmsg(raw) : "out of memory") +
                                               "; check the directory exists and is writable by the witness");
  }
  sqlite3_busy_timeout(raw, 5000);
  // synchronous=FULL in WAL mode: a commit is durable when it returns, and a
  // cosignature is only sent after it.
  if (auto done = impl->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", "setting durability"); !done) {
    return std::move(done).take_error();
  }
  if (auto done = impl->exec(kSchema, "creating the schema"); !done) return std::move(done).take_error();
  return std::unique_ptr<WitnessState>(new WitnessState(std::move(impl)));
}

Result<std::optional<WitnessedCheckpoint>> WitnessState::latest(const std::string& origin) {
  std::lock_guard lock(impl_->mutex);
  return impl_->read(origin);
}

Result<WitnessDecision> WitnessState::judge_and_record(const AddCheckpointRequest& request,
                                                       std::span<const WitnessedLog> logs,
                                                       std::optional<WitnessedCheckpoint>& recorded) {
  std::lock_guard lock(impl_->mutex);
  recorded.reset();
  const auto origin = witness_origin_of(request.checkpoint);
  if (!origin) return judge_add_checkpoint(request, logs, std::nullopt);
  if (auto begun = impl_->exec("BEGIN IMMEDIATE", "starting a transaction"); !begun)
    return std::move(begun).take_error();
  auto rollback = [&] { sqlite3_exec(impl_->db.get(), "ROLLBACK", nullptr, nullptr, nullptr); };
  auto state = impl_->read(*origin);
  if (!state) {
    rollback();
    return std::move(state).take_error();
  }
  recorded = *state;
  auto decision = judge_add_checkpoint(request, logs, recorded);
  if (decision.verdict != WitnessVerdict::cosign) {
    rollback();
    return decision;
  }
  auto statement = impl_->prepare(
      "INSERT INTO latest_checkpoint (origin, size, root, note, cosigned_at) VALUES (?, ?, ?, ?, strftime('%s','now')) "
      "ON CONFLICT (origin) DO UPDATE SET size = excluded.size, root = excluded.root, note = excluded.note, "
      "cosigned_at = excluded.cosigned_at");
  if (!statement) {
    rollback();
    return std::move(statement).take_error();
  }
  sqlite3_bind_text(statement->get(), 1, origin->data(), static_cast<int>(origin->size()), SQLITE_TRANSIENT);
  sqlite3_bind_int64(statement->get(), 2, static_cast<sqlite3_int64>(decision.checkpoint.size));
  sqlite3_bind_blob(statement->get(), 3, decision.checkpoint.root.data(), 32, SQLITE_TRANSIENT);
  sqlite3_bind_text(statement->get(), 4, request.checkpoint.data(), static_cast<int>(request.checkpoint.size()),
                    SQLITE_TRANSIENT);
  if (sqlite3_step(statement->get()) != SQLITE_DONE) {
    auto error = db_error(impl_->db.get(), "recording the checkpoint of " + *origin);
    rollback();
    return error;
  }
  statement->reset();
  if (auto committed = impl_->exec("COMMIT", "committing the checkpoint"); !committed) {
    rollback();
    return std::move(committed).take_error();
  }
  return decision;
}

}  // namespace fpx::witness
