// The connection: open_postgres_store (the DSN rules, the session's
// settings, the writer lock), statements, transactions and savepoints, and
// the SQLSTATE-to-ErrorCode mapping.
#include <endian.h>

#include <cstring>

#include "postgres_statements.hpp"

namespace fpx::broker {

namespace pg {

namespace {

// PostgreSQL's type oids (pg_type.dat) of the integer columns read back.
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kBoolOid = 16;
// ... and the element types of the arrays sent (add_array).
constexpr Oid kByteaOid = 17;
constexpr Oid kTextOid = 25;

// The length of the valid UTF-8 sequence at `text[i]` (no NUL, no overlong
// form, no surrogate), or 0.
std::size_t utf8_sequence(std::string_view text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  if (lead == 0) return 0;
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  std::uint32_t code = 0;
  if ((lead & 0xe0) == 0xc0) {
    length = 2;
    code = lead & 0x1f;
  } else if ((lead & 0xf0) == 0xe0) {
    length = 3;
    code = lead & 0x0f;
  } else if ((lead & 0xf8) == 0xf0) {
    length = 4;
    code = lead & 0x07;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
    code = (code << 6) | (byte(i + k) & 0x3f);
  }
  constexpr std::uint32_t kMinimum[] = {0, 0, 0x80, 0x800, 0x10000};
  if (code < kMinimum[length] || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return 0;
  return length;
}

}  // namespace

Params& Params::push(std::string bytes) {
  storage_.push_back(std::move(bytes));
  values_.push_back(storage_.back().data());
  lengths_.push_back(static_cast<int>(storage_.back().size()));
  formats_.push_back(1);
  return *this;
}

Params& Params::add(std::int64_t value) {
  const std::uint64_t big = htobe64(static_cast<std::uint64_t>(value));
  std::string bytes(sizeof big, '\0');
  std::memcpy(bytes.data(), &big, sizeof big);
  return push(std::move(bytes));
}

namespace {

// PostgreSQL refuses text that is not valid UTF-8 or holds a NUL, and the
// error would abort the whole batch's transaction. Text here is mostly ours,
// but an audit detail or a principal can carry a peer's bytes: each invalid
// byte becomes U+FFFD instead, so no sender can fail a batch with them.
std::string clean_text(std::string_view text) {
  std::string clean;
  clean.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    if (const std::size_t length = utf8_sequence(text, i); length != 0) {
      clean.append(text.substr(i, length));
      i += length;
    } else {
      clean.append("\xef\xbf\xbd");
      ++i;
    }
  }
  return clean;
}

void append_int32(std::string& out, std::uint32_t value) {
  const std::uint32_t big = htobe32(value);
  out.append(reinterpret_cast<const char*>(&big), sizeof big);
}

// PostgreSQL's binary array format (array_recv in its arrayfuncs.c): the
// number of dimensions, a has-nulls flag, the element type, then for the one
// dimension its length and lower bound (1), then each element as its length
// and its bytes. An empty array has no dimension.
template <typename Elements, typename Encode>
std::string encode_array(Oid element_type, const Elements& elements, Encode encode) {
  std::string out;
  append_int32(out, elements.empty() ? 0 : 1);
  append_int32(out, 0);  // no NULL elements
  append_int32(out, element_type);
  if (!elements.empty()) {
    append_int32(out, static_cast<std::uint32_t>(elements.size()));
    append_int32(out, 1);
  }
  for (const auto& element : elements) {
    const std::string bytes = encode(element);
    append_int32(out, static_cast<std::uint32_t>(bytes.size()));
    out.append(bytes);
  }
  return out;
}

}  // namespace

Params& Params::add_text(std::string_view text) { return push(clean_text(text)); }

Params& Params::add_array(std::span<const std::int64_t> values) {
  return push(encode_array(kInt8Oid, values, [](std::int64_t value) {
    const std::uint64_t big = htobe64(static_cast<std::uint64_t>(value));
    return std::string(reinterpret_cast<const char*>(&big), sizeof big);
  }));
}

Params& Params::add_text_array(std::span<const std::string> values) {
  return push(encode_array(kTextOid, values, [](const std::string& text) { return clean_text(text); }));
}

Params& Params::add_array(std::span<const ByteView> values) {
  return push(encode_array(kByteaOid, values, [](ByteView blob) {
    return std::string(reinterpret_cast<const char*>(blob.data()), blob.size());
  }));
}

Params& Params::add(ByteView blob) {
  return push(std::string(reinterpret_cast<const char*>(blob.data()), blob.size()));
}

Params& Params::add_null() {
  values_.push_back(nullptr);
  lengths_.push_back(0);
  formats_.push_back(1);
  return *this;
}

std::int64_t Rows::integer(int row, int column) const {
  if (is_null(row, column)) return 0;
  const char* value = PQgetvalue(result_.get(), row, column);
  switch (PQftype(result_.get(), column)) {
    case kInt8Oid: {
      std::uint64_t big = 0;
      std::memcpy(&big, value, sizeof big);
      return static_cast<std::int64_t>(be64toh(big));
    }
    case kInt4Oid: {
      std::uint32_t big = 0;
      std::memcpy(&big, value, sizeof big);
      return static_cast<std::int32_t>(be32toh(big));
    }
    case kInt2Oid: {
      std::uint16_t big = 0;
      std::memcpy(&big, value, sizeof big);
      return static_cast<std::int16_t>(be16toh(big));
    }
    case kBoolOid: return value[0] != 0 ? 1 : 0;
    default: assert(false && "an integer column of another type"); return 0;
  }
}

std::string Rows::text(int row, int column) const {
  const char* value = PQgetvalue(result_.get(), row, column);
  return {value, static_cast<std::size_t>(PQgetlength(result_.get(), row, column))};
}

Bytes Rows::blob(int row, int column) const {
  const auto* value = reinterpret_cast<const std::uint8_t*>(PQgetvalue(result_.get(), row, column));
  return {value, value + PQgetlength(result_.get(), row, column)};
}

std::int64_t Rows::changed() const {
  const char* tuples = PQcmdTuples(result_.get());
  return tuples[0] == '\0' ? 0 : std::stoll(tuples);
}

namespace {

// The session every connection of the store runs with, set again after a
// reconnect. Values are ours, never a peer's.
Status configure_session(PGconn* conn, const std::string& where) {
  auto exec = [&](const char* sql) -> Status {
    ResultPtr result(PQexec(conn, sql));
    const auto status = PQresultStatus(result.get());
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return {};
    return make_error(ErrorCode::io_error, "configuring the connection to " + where + ": " +
                                               PQerrorMessage(conn) + "(running: " + sql + ")");
  };
  // synchronous_commit = on: COMMIT returns only after its record is
  // flushed (and, with synchronous_standby_names set, on the standby):
  // receipts wait on it. statement_timeout bounds a stalled statement.
  const std::string timeout = "SET statement_timeout = " + std::to_string(kStatementTimeoutMs);
  for (const char* sql : {"SET synchronous_commit = on", timeout.c_str(), "SET client_min_messages = warning",
                          "SET TIME ZONE 'UTC'"}) {
    if (auto status = exec(sql); !status) return status;
  }
  // fsync = off would make every receipt a lie after a power cut.
  ResultPtr fsync(PQexec(conn, "SHOW fsync"));
  if (PQresultStatus(fsync.get()) != PGRES_TUPLES_OK || PQntuples(fsync.get()) != 1) {
    return make_error(ErrorCode::io_error, "reading fsync on " + where + ": " + PQerrorMessage(conn));
  }
  if (std::string_view(PQgetvalue(fsync.get(), 0, 0)) != "on") {
    return make_error(ErrorCode::invalid_argument,
                      "the PostgreSQL server at " + where +
                          " runs with fsync = off: a receipt would not survive a power cut. Set fsync = on in "
                          "its postgresql.conf and restart it");
  }
  return {};
}

void drop_notice(void*, const char*) {}

}  // namespace

Status PostgresStore::prepare_statements() {
  for (const Statement* statement : sql::kAll) {
    ResultPtr result(PQprepare(conn_.get(), statement->name, statement->sql, 0, nullptr));
    if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
      return make_error(ErrorCode::io_error, std::string("preparing statement ") + statement->name + " on " +
                                                 where_ + ": " + PQresultErrorMessage(result.get()) +
                                                 "; is the database an FPX store of this version?");
    }
  }
  return {};
}

Status PostgresStore::ensure_connected() {
  if (PQstatus(conn_.get()) == CONNECTION_OK) return {};
  return reconnect();
}

Status PostgresStore::reconnect() {
  forget_log_edge();
  PQreset(conn_.get());
  if (PQstatus(conn_.get()) != CONNECTION_OK) {
    return make_error(ErrorCode::unavailable, "the PostgreSQL server at " + where_ + " cannot be reached (" +
                                                  PQerrorMessage(conn_.get()) +
                                                  "); check that it runs, then the broker retries");
  }
  if (auto status = configure_session(conn_.get(), where_); !status) return status;
  if (auto status = prepare_statements(); !status) return status;
  // A new backend: the lease names it, so that a takeover can end it.
  return leadership_ ? register_writer() : Status{};
}

Error PostgresStore::deposed_error() const {
  return make_error(ErrorCode::unavailable,
                    "this broker is no longer the leader of " + where_ +
                        " (another broker took over its term): nothing more is stored here, so it stops; its "
                        "clients move to the new leader and resend what has no receipt");
}

Status PostgresStore::register_writer() {
  const std::string sql = "UPDATE leader_lease SET writer_pid = pg_backend_pid() WHERE term = " +
                          std::to_string(leadership_->term());
  ResultPtr result(PQexec(conn_.get(), sql.c_str()));
  auto rows = checked(std::move(result), "naming the writer in the lease", nullptr);
  if (!rows) return std::move(rows).take_error();
  if (rows->changed() != 1) {
    leadership_->depose("the term changed while the store reconnected");
    return deposed_error();
  }
  return {};
}

Status PostgresStore::lead(std::unique_ptr<Leadership> leadership) {
  leadership_ = std::move(leadership);
  // The store's connection was opened when this broker started to stand by,
  // perhaps to a server lost since (the standby server was promoted): a
  // connection found closed is opened again, to the server that now takes
  // writes, and named there, rather than ending the takeover it waited for.
  auto registered = register_writer();
  if (registered || registered.error().code != ErrorCode::io_error) return registered;  // ok, or deposed
  return reconnect();  // names the writer on the new connection
}

Result<Rows> PostgresStore::checked(ResultPtr result, std::string_view what, std::string* sqlstate) {
  const auto status = PQresultStatus(result.get());
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return Rows(std::move(result));
  if (sqlstate != nullptr) {
    const char* state = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
    *sqlstate = state != nullptr ? state : "";
  }
  return fail(result.get(), what);
}

Result<Rows> PostgresStore::run(const Statement& statement, const Params& params, std::string_view what,
                                std::string* sqlstate) {
  if (PQtransactionStatus(conn_.get()) == PQTRANS_IDLE || PQstatus(conn_.get()) != CONNECTION_OK) {
    if (auto status = ensure_connected(); !status) return std::move(status).take_error();
  }
  ResultPtr result(PQexecPrepared(conn_.get(), statement.name, params.count(), params.values(), params.lengths(),
                                  params.formats(), 1));
  return checked(std::move(result), what, sqlstate);
}

Result<std::vector<Rows>> PostgresStore::run_pipelined(std::span<const PipelineStep> steps, std::string* sqlstate) {
  if (PQtransactionStatus(conn_.get()) == PQTRANS_IDLE || PQstatus(conn_.get()) != CONNECTION_OK) {
    if (auto status = ensure_connected(); !status) return std::move(status).take_error();
  }
  PGconn* conn = conn_.get();
  if (PQenterPipelineMode(conn) != 1) return fail(nullptr, steps.empty() ? "" : steps.front().what);
  // Sent in blocking mode: safe here because every step's result is a few
  // bytes (the server never waits on us to read while we still write).
  std::size_t sent = 0;
  for (const auto& step : steps) {
    const Params empty;
    const Params& params = step.params != nullptr ? *step.params : empty;
    const int ok = step.statement != nullptr
                       ? PQsendQueryPrepared(conn, step.statement->name, params.count(), params.values(),
                                             params.lengths(), params.formats(), 1)
                       : PQsendQueryParams(conn, step.command, 0, nullptr, nullptr, nullptr, nullptr, 1);
    if (ok != 1) break;
    ++sent;
  }
  const bool synced = PQpipelineSync(conn) == 1;
  std::vector<Rows> rows;
  std::optional<Error> first_error;
  for (std::size_t i = 0; i < sent; ++i) {
    // Each step's results, then a null pointer; a step after a failure
    // answers PGRES_PIPELINE_ABORTED.
    ResultPtr kept;
    while (ResultPtr result{PQgetResult(conn)}) kept = std::move(result);
    if (first_error) continue;
    const auto status = kept ? PQresultStatus(kept.get()) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
      rows.emplace_back(std::move(kept));
      continue;
    }
    if (sqlstate != nullptr && kept) {
      const char* state = PQresultErrorField(kept.get(), PG_DIAG_SQLSTATE);
      *sqlstate = state != nullptr ? state : "";
    }
    first_error = fail(kept.get(), steps[i].what);
  }
  if (synced) {
    // The sync's own result; the connection is idle after it.
    while (ResultPtr result{PQgetResult(conn)}) {
      if (PQresultStatus(result.get()) == PGRES_PIPELINE_SYNC) break;
    }
  }
  if (PQexitPipelineMode(conn) != 1 && !first_error) first_error = fail(nullptr, steps.front().what);
  if (!first_error && sent != steps.size()) first_error = fail(nullptr, steps[sent].what);
  if (first_error) return *std::move(first_error);
  return rows;
}

Result<Rows> PostgresStore::run_once(const char* sql, std::string_view what) {
  ResultPtr result(PQexecParams(conn_.get(), sql, 0, nullptr, nullptr, nullptr, nullptr, 1));
  return checked(std::move(result), what, nullptr);
}

Status PostgresStore::exec(const char* sql, std::string_view what) {
  ResultPtr result(PQexec(conn_.get(), sql));
  auto rows = checked(std::move(result), what, nullptr);
  if (!rows) return std::move(rows).take_error();
  return {};
}

Error PostgresStore::fail(const PGresult* result, std::string_view what) const {
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string sqlstate = state != nullptr ? state : "";
  std::string message = result != nullptr ? PQresultErrorMessage(result) : "";
  if (message.empty()) message = PQerrorMessage(conn_.get());
  while (!message.empty() && message.back() == '\n') message.pop_back();
  std::string text{what};
  if (PQstatus(conn_.get()) != CONNECTION_OK || sqlstate.starts_with("08") || sqlstate.starts_with("57P")) {
    return make_error(ErrorCode::unavailable, text + ": the connection to " + where_ + " was lost (" + message +
                                                  "); nothing of this transaction was stored: check the server, "
                                                  "the broker reconnects on its next transaction");
  }
  if (sqlstate == "53100") {
    return make_error(ErrorCode::io_error, text + ": the PostgreSQL server at " + where_ +
                                               " has a full disk; free space on it, then retry (the transaction "
                                               "was not stored)");
  }
  if (sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "55P03" || sqlstate == "57014") {
    return make_error(ErrorCode::unavailable, text + ": " + message + " on " + where_ +
                                                  "; another session holds a lock the broker needs: end it, and "
                                                  "the senders' retries are stored");
  }
  return make_error(ErrorCode::io_error, text + ": " + message + " (SQLSTATE " + sqlstate + ") on " + where_ +
                                             "; check the server's log and the database");
}

Error PostgresStore::damaged(std::string_view what) const {
  return make_error(ErrorCode::io_error, "the database " + where_ + " holds a malformed " + std::string(what) +
                                             "; restore it from a backup");
}

std::optional<Error> PostgresStore::transaction_lost() const {
  if (PQtransactionStatus(conn_.get()) == PQTRANS_INTRANS) return std::nullopt;
  return make_error(ErrorCode::io_error,
                    "the store's transaction was aborted by an earlier failure in this batch (see the broker's "
                    "log): this write was not made, and nothing of the batch will be committed");
}

Status PostgresStore::begin(Durability durability) {
  assert(PQtransactionStatus(conn_.get()) == PQTRANS_IDLE || PQstatus(conn_.get()) != CONNECTION_OK);
  unit_savepoint_open_ = false;
  forget_log_edge();
  if (leadership_ && leadership_->deposed()) return deposed_error();
  if (auto status = ensure_connected(); !status) return status;
  // Bookkeeping alone need not wait for the flush: SET LOCAL ends with the
  // transaction. The fence: the term's row read FOR SHARE holds off any
  // takeover (its UPDATE of the term waits) until this transaction ends,
  // and a term already taken reads no row, so nothing of a deposed
  // leader's batch commits. All in one message, one round trip; the term
  // is our own number, never a peer's.
  std::string begin = durability == Durability::deferred ? "BEGIN; SET LOCAL synchronous_commit = off" : "BEGIN";
  if (leadership_) {
    begin += "; SELECT term FROM leader_term WHERE term = " + std::to_string(leadership_->term()) + " FOR SHARE";
  }
  ResultPtr result(PQexec(conn_.get(), begin.c_str()));
  auto rows = checked(std::move(result), "starting a transaction", nullptr);
  if (!rows) {
    rollback();
    return std::move(rows).take_error();
  }
  if (leadership_ && rows->size() != 1) {
    rollback();
    leadership_->depose("a transaction found the term taken by another broker");
    return deposed_error();
  }
  return {};
}

Status PostgresStore::commit() {
  ResultPtr result(PQexec(conn_.get(), "COMMIT"));
  if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
    // Lost connection mid-commit: the outcome is unknown to us, so no
    // receipt goes out; a resend finds the message stored (or not) and is
    // answered from the store.
    return fail(result.get(), "committing a transaction");
  }
  // COMMIT of a transaction an error aborted succeeds as a ROLLBACK.
  if (std::string_view(PQcmdStatus(result.get())) != "COMMIT") {
    return make_error(ErrorCode::io_error, "committing a transaction on " + where_ +
                                               ": it had been aborted by an earlier failure and was rolled back; "
                                               "nothing of it was stored (see the broker's log)");
  }
  return {};
}

void PostgresStore::rollback() {
  unit_savepoint_open_ = false;
  forget_log_edge();
  if (PQtransactionStatus(conn_.get()) == PQTRANS_INTRANS || PQtransactionStatus(conn_.get()) == PQTRANS_INERROR) {
    ResultPtr result(PQexec(conn_.get(), "ROLLBACK"));
  }
}

Status PostgresStore::open_savepoint() {
  if (auto lost = transaction_lost()) return *std::move(lost);
  auto status = exec("SAVEPOINT submission", "starting a submission savepoint");
  unit_savepoint_open_ = status.ok();
  return status;
}

Status PostgresStore::release_savepoint() {
  auto status = exec("RELEASE submission", "releasing a submission savepoint");
  if (status) unit_savepoint_open_ = false;
  return status;
}

void PostgresStore::rollback_savepoint() {
  unit_savepoint_open_ = false;
  forget_log_edge();
  ResultPtr undo(PQexec(conn_.get(), "ROLLBACK TO submission"));
  ResultPtr release(PQexec(conn_.get(), "RELEASE submission"));
}

// The server checkpoints its own WAL (checkpoint_timeout, max_wal_size) on
// its own processes: the broker's loop never waits on one, and a broker
// has no business asking for one (CHECKPOINT needs pg_checkpoint rights).
Status PostgresStore::checkpoint() { return {}; }
Status PostgresStore::start_background_checkpoints(std::chrono::milliseconds) { return {}; }
std::optional<std::string> PostgresStore::take_background_checkpoint_error() { return std::nullopt; }

}  // namespace pg

Result<std::unique_ptr<Store>> open_postgres_store(const std::string& dsn, const PostgresStoreOptions& options) {
  using pg::PostgresStore;
  // A password written in broker.toml would sit in a file many can read and
  // in its backups: the DSN names a password file instead (passfile=, mode
  // 0600, which libpq itself insists on), or the server trusts the peer.
  char* parse_error = nullptr;
  std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> parsed(PQconninfoParse(dsn.c_str(), &parse_error),
                                                                         &PQconninfoFree);
  if (!parsed) {
    std::string reason = parse_error != nullptr ? parse_error : "out of memory";
    PQfreemem(parse_error);
    while (!reason.empty() && reason.back() == '\n') reason.pop_back();
    return make_error(ErrorCode::invalid_argument,
                      "store.dsn is not a PostgreSQL connection string (" + reason +
                          "); write it as \"host=/run/postgresql dbname=fpx user=fpx\" or postgresql://...");
  }
  for (const PQconninfoOption* option = parsed.get(); option->keyword != nullptr; ++option) {
    if (std::string_view(option->keyword) == "password" && option->val != nullptr && option->val[0] != '\0') {
      return make_error(ErrorCode::invalid_argument,
                        "store.dsn holds a password: remove it and put it in a password file (passfile=PATH in "
                        "the DSN, mode 0600, one line host:port:dbname:user:password)");
    }
  }
  std::string where;
  auto conn = pg::connect_configured(dsn, &where);
  if (!conn) return std::move(conn).take_error();
  auto store = std::make_unique<PostgresStore>(std::move(conn).value(), where);
  if (auto status = pg::check_schema(*store, where); !status) return std::move(status).take_error();
  if (auto status = store->prepare_statements(); !status) return std::move(status).take_error();
  // The lease on a connection of its own: its thread renews while the
  // store's thread writes.
  auto lease_conn = pg::connect_configured(dsn, &where);
  if (!lease_conn) return std::move(lease_conn).take_error();
  auto leadership = pg::Leadership::take(std::move(lease_conn).value(), where, options);
  if (!leadership) return std::move(leadership).take_error();
  if (auto status = store->lead(std::move(leadership).value()); !status) return std::move(status).take_error();
  return std::unique_ptr<Store>(std::move(store));
}

namespace pg {

Result<ConnectionPtr> connect_configured(const std::string& dsn, std::string* where) {
  // Defaults first, the DSN last: what the operator wrote wins.
  const std::string timeout = std::to_string(kConnectTimeoutSeconds);
  const char* keywords[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {timeout.c_str(), "fpx-broker", dsn.c_str(), nullptr};
  ConnectionPtr conn(PQconnectdbParams(keywords, values, 1));
  if (!conn || PQstatus(conn.get()) != CONNECTION_OK) {
    std::string reason = conn ? PQerrorMessage(conn.get()) : "out of memory";
    while (!reason.empty() && reason.back() == '\n') reason.pop_back();
    return make_error(ErrorCode::unavailable, "connecting to PostgreSQL (store.dsn): " + reason +
                                                  "; check that the server runs and that the DSN's host, port, "
                                                  "dbname and user are right");
  }
  PQsetNoticeProcessor(conn.get(), &drop_notice, nullptr);
  *where = std::string(PQhost(conn.get())) + ":" + PQport(conn.get()) + "/" + PQdb(conn.get());
  if (auto status = configure_session(conn.get(), *where); !status) return std::move(status).take_error();
  return conn;
}

}  // namespace pg

}  // namespace fpx::broker
