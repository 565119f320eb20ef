// Leadership: which of the brokers sharing one PostgreSQL database writes.
//
// Two rows (postgres_schema.cpp, version 2): leader_term (the term number,
// +1 at every takeover) and leader_lease (term, holder, the leader's two
// backends, expires_at). The leader renews the lease on a connection of its
// own; a standby polls and takes over when the lease lapsed (a paused or
// cut-off leader) or the leader's lease backend is gone (its process or its
// connection ended). A takeover ends the old leader's backends, which rolls
// back any transaction it had open, then raises the term. Every writing
// transaction of the store begins by reading its term FOR SHARE
// (PostgresStore::begin): the takeover's UPDATE of the term waits for it, and
// once the term moved the read finds no row and the batch fails. So a paused
// leader that wakes up can never commit after another took over, whatever
// the clocks say: safety rests on the term, the lease only decides when.
#include <unistd.h>

#include <chrono>
#include <string>

#include <spdlog/spdlog.h>

#include "postgres_store.hpp"

namespace fpx::broker::pg {

namespace {

// Runs `sql` with text parameters; the rows, or the server's message.
struct TextResult {
  ResultPtr result;
  std::string error;  // empty when the statement ran
  bool connection_lost = false;
};

TextResult run_text(PGconn* conn, const char* sql, std::initializer_list<std::string> params = {}) {
  std::vector<const char*> values;
  for (const auto& param : params) values.push_back(param.c_str());
  TextResult out{ResultPtr(PQexecParams(conn, sql, static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                                        nullptr, 0)),
                 {}};
  const auto status = PQresultStatus(out.result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    out.error = out.result ? PQresultErrorMessage(out.result.get()) : PQerrorMessage(conn);
    if (out.error.empty()) out.error = PQerrorMessage(conn);
    while (!out.error.empty() && out.error.back() == '\n') out.error.pop_back();
    out.connection_lost = PQstatus(conn) != CONNECTION_OK;
  }
  return out;
}

std::string cell(const TextResult& result, int column) { return PQgetvalue(result.result.get(), 0, column); }

std::string default_holder() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return std::string(host) + ":" + std::to_string(::getpid());
}

// What one attempt to take the lead found.
struct Attempt {
  std::optional<std::int64_t> term;  // set: we lead with this term
  std::string leader;                // otherwise: who leads, for the log and the refusal
  std::string error;                 // a failure (connection, lock wait): retried
  bool connection_lost = false;
};

constexpr const char* kReadLease =
    "SELECT l.term, l.holder, (l.expires_at < clock_timestamp())::int, "
    "  (EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = l.lease_pid AND a.pid <> pg_backend_pid()))::int, "
    "  l.lease_pid, l.writer_pid "
    "FROM leader_lease l FOR UPDATE";
// Ends the old leader's backends (and so its open transaction) if they are
// still there; only backends of this role on this database, so a pid reused
// by an unrelated session after a server switch is never touched.
constexpr const char* kEndOldLeader =
    "SELECT COUNT(pg_terminate_backend(a.pid, $3::bigint)) FROM pg_stat_activity a "
    "WHERE a.pid IN ($1::int, $2::int) AND a.pid <> pg_backend_pid() "
    "  AND a.usename = current_user AND a.datname = current_database()";
constexpr const char* kRaiseTerm = "UPDATE leader_term SET term = term + 1, holder = $1 RETURNING term";
constexpr const char* kWriteLease =
    "UPDATE leader_lease SET term = $2::bigint, holder = $1, lease_pid = pg_backend_pid(), writer_pid = 0, "
    "  expires_at = clock_timestamp() + make_interval(secs => $3::bigint / 1000.0)";
constexpr const char* kRenewLease =
    "UPDATE leader_lease SET lease_pid = pg_backend_pid(), "
    "  expires_at = clock_timestamp() + make_interval(secs => $2::bigint / 1000.0) "
    "WHERE term = $1::bigint";

Attempt try_take(PGconn* conn, const std::string& holder, std::int64_t lease_ms) {
  Attempt attempt;
  auto failed = [&](const TextResult& result) {
    attempt.error = result.error;
    attempt.connection_lost = result.connection_lost;
    run_text(conn, "ROLLBACK");
    return attempt;
  };
  // lock_timeout: a takeover never stalls on a lock (a renewal in flight,
  // an old transaction that outlives its backend's end): it tries again.
  const std::string wait = "SET LOCAL lock_timeout = " + std::to_string(kTakeoverWaitMs);
  if (auto begun = run_text(conn, "BEGIN"); !begun.error.empty()) return failed(begun);
  if (auto set = run_text(conn, wait.c_str()); !set.error.empty()) return failed(set);
  auto lease = run_text(conn, kReadLease);
  if (!lease.error.empty()) return failed(lease);
  if (PQntuples(lease.result.get()) != 1) {
    attempt.error = "the leader_lease row is missing; the database is damaged: restore it from a backup";
    run_text(conn, "ROLLBACK");
    return attempt;
  }
  const bool expired = cell(lease, 2) == "1";
  const bool alive = cell(lease, 3) == "1";
  attempt.leader = cell(lease, 1) + " (term " + cell(lease, 0) + ")";
  if (alive && !expired) {
    run_text(conn, "ROLLBACK");
    return attempt;
  }
  if (auto ended = run_text(conn, kEndOldLeader, {cell(lease, 4), cell(lease, 5), std::to_string(kTakeoverWaitMs)});
      !ended.error.empty()) {
    return failed(ended);
  }
  auto raised = run_text(conn, kRaiseTerm, {holder});
  if (!raised.error.empty()) return failed(raised);
  const std::string term = cell(raised, 0);
  if (auto written = run_text(conn, kWriteLease, {holder, term, std::to_string(lease_ms)}); !written.error.empty()) {
    return failed(written);
  }
  auto committed = run_text(conn, "COMMIT");
  if (!committed.error.empty()) return failed(committed);
  if (std::string_view(PQcmdStatus(committed.result.get())) != "COMMIT") {
    attempt.error = "the takeover's transaction was rolled back";
    return attempt;
  }
  attempt.term = std::stoll(term);
  return attempt;
}

}  // namespace

Result<std::unique_ptr<Leadership>> Leadership::take(ConnectionPtr conn, std::string where,
                                                     const PostgresStoreOptions& options_in) {
  PostgresStoreOptions options = options_in;
  if (options.holder.empty()) options.holder = default_holder();
  const auto poll = std::chrono::milliseconds(std::max(kMinStandbyPollMs, options.lease_ms / kStandbyPollsPerLease));
  std::string last_said;
  const auto refuse_after = std::chrono::steady_clock::now() + std::chrono::milliseconds(kRefuseGraceMs);
  for (;;) {
    if (PQstatus(conn.get()) != CONNECTION_OK) PQreset(conn.get());
    const Attempt attempt = PQstatus(conn.get()) == CONNECTION_OK
                                ? try_take(conn.get(), options.holder, options.lease_ms)
                                : Attempt{std::nullopt, "", PQerrorMessage(conn.get()), true};
    if (attempt.term) {
      spdlog::info("leadership: {} leads {} with term {}", options.holder, where, *attempt.term);
      return std::make_unique<Leadership>(std::move(conn), std::move(where), std::move(options), *attempt.term);
    }
    if (options.standby == StandbyWait::refuse && std::chrono::steady_clock::now() < refuse_after &&
        attempt.error.empty()) {
      std::this_thread::sleep_for(poll);
      continue;
    }
    if (options.standby == StandbyWait::refuse) {
      if (!attempt.error.empty()) {
        return make_error(ErrorCode::unavailable, "taking the lead on " + where + ": " + attempt.error +
                                                      "; check the server, then start the broker again");
      }
      return make_error(ErrorCode::unavailable,
                        "another broker leads the database at " + where + ": " + attempt.leader +
                            "; stop it first, start this one as its standby, or point it at another database");
    }
    const std::string now_said = attempt.error.empty() ? "standby: waiting while " + attempt.leader + " leads " + where
                                                       : "standby: cannot take the lead on " + where + " yet (" +
                                                             attempt.error + "); retrying";
    if (now_said != last_said) {
      spdlog::info("{}", now_said);
      last_said = now_said;
    }
    if (options.stop_waiting && options.stop_waiting()) {
      return make_error(ErrorCode::unavailable, "stopped while standing by for the lead on " + where);
    }
    std::this_thread::sleep_for(poll);
  }
}

Leadership::Leadership(ConnectionPtr conn, std::string where, PostgresStoreOptions options, std::int64_t term)
    : conn_(std::move(conn)), where_(std::move(where)), options_(std::move(options)), term_(term) {
  renewer_ = std::jthread([this](std::stop_token stop) { renew_until_stopped(stop); });
}

Leadership::~Leadership() {
  renewer_.request_stop();
  wait_.notify_all();
}

void Leadership::depose(const std::string& why) {
  deposed_ = true;
  if (told_.exchange(true)) return;
  spdlog::error("leadership: {} lost term {} on {}: {}", options_.holder, term_, where_, why);
  if (options_.on_deposed) options_.on_deposed(why);
}

void Leadership::renew_until_stopped(std::stop_token stop) {
  const auto every = std::chrono::milliseconds(options_.lease_ms / kRenewalsPerLease);
  const std::string term = std::to_string(term_);
  const std::string lease = std::to_string(options_.lease_ms);
  while (!stop.stop_requested() && !deposed()) {
    {
      std::unique_lock lock(wait_mutex_);
      if (wait_.wait_for(lock, stop, every, [] { return false; })) break;
      if (stop.stop_requested()) break;
    }
    if (PQstatus(conn_.get()) != CONNECTION_OK) PQreset(conn_.get());
    if (PQstatus(conn_.get()) != CONNECTION_OK) {
      // The server may be switching to its standby: the lease lapses if
      // this lasts, and the term then tells who leads.
      spdlog::warn("leadership: cannot renew the lease on {} ({}); retrying", where_, PQerrorMessage(conn_.get()));
      continue;
    }
    auto renewed = run_text(conn_.get(), kRenewLease, {term, lease});
    if (!renewed.error.empty()) {
      spdlog::warn("leadership: renewing the lease on {} failed ({}); retrying", where_, renewed.error);
      continue;
    }
    if (std::string_view(PQcmdTuples(renewed.result.get())) != "1") {
      depose("another broker took over: the lease is no longer of term " + term);
    }
  }
}

}  // namespace fpx::broker::pg
