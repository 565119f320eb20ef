#include "postgres_pair.hpp"

#include <libpq-fe.h>
#include <pwd.h>
#include <stdlib.h>  // mkdtemp
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <thread>

#include "bench_support.hpp"

namespace fpx::bench {

namespace {

namespace fs = std::filesystem;

const fs::path kPostgresBin = "/usr/lib/postgresql/15/bin";
// What the primary's synchronous_standby_names waits for.
constexpr const char* kStandbyName = "fpx_standby";
// pg_basebackup, start and promotion of a small cluster take seconds on a
// loaded machine; beyond this something is wrong and the run stops.
constexpr auto kServerStepTimeout = std::chrono::seconds(120);

std::string quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') quoted += "'\\''";
    else quoted += c;
  }
  return quoted + "'";
}

struct ConnectionFinish {
  void operator()(PGconn* conn) const noexcept { PQfinish(conn); }
};
struct ResultClear {
  void operator()(PGresult* result) const noexcept { PQclear(result); }
};

}  // namespace

PostgresPair::PostgresPair() {
  if (!fs::exists(kPostgresBin / "initdb")) {
    fail("PostgreSQL 15's server is not installed (" + (kPostgresBin / "initdb").string() +
         "): run deploy/install-packages.sh");
  }
  as_root_ = ::geteuid() == 0;
  make_slot(slots_[0]);
  make_slot(slots_[1]);
  while (slots_[1].port == slots_[0].port) slots_[1].port = free_port();
  Slot& primary = slots_[0];
  // --no-sync: initdb's closing fsync protects a cluster thrown away at the
  // end; the servers run with fsync on, so commits are durable.
  const std::string initdb = quote((kPostgresBin / "initdb").string()) + " -D " + quote(primary.data.string()) +
                             " -U fpx --auth-local=trust --auth-host=reject -E UTF8 --locale=C.UTF-8 "
                             "--no-instructions --no-sync > " + quote((primary.root / "initdb.log").string()) +
                             " 2>&1";
  if (run_as_owner(initdb) != 0) fail("initdb failed:\n" + read_text(primary.root / "initdb.log"));
  start(primary);
  query_on(primary, "postgres", "CREATE DATABASE fpx");
  // Before the base backup, so the standby's copy of postgresql.auto.conf
  // carries it too and a promoted standby waits for its own standby.
  query_on(primary, "postgres", std::string("ALTER SYSTEM SET synchronous_standby_names = '") + kStandbyName + "'");
  query_on(primary, "postgres", "SELECT pg_reload_conf()");
  base_backup(slots_[1], primary);
  start(slots_[1]);
  wait_synchronous(primary);
}

PostgresPair::~PostgresPair() {
  for (auto& slot : slots_) {
    if (slot.running) {
      run_as_owner(quote((kPostgresBin / "pg_ctl").string()) + " -D " + quote(slot.data.string()) +
                   " -m immediate stop > /dev/null 2>&1");
    }
    std::error_code ignored;
    fs::remove_all(slot.root, ignored);
  }
}

std::string PostgresPair::dsn() const {
  return "host=" + slots_[0].socket_dir.string() + "," + slots_[1].socket_dir.string() +
         " port=" + std::to_string(slots_[0].port) + "," + std::to_string(slots_[1].port) +
         " dbname=fpx user=fpx target_session_attrs=read-write";
}

void PostgresPair::lose_primary_and_promote() {
  Slot& old_primary = slots_[primary_];
  Slot& standby = slots_[1 - primary_];
  stop_immediate(old_primary);
  const std::string promote = quote((kPostgresBin / "pg_ctl").string()) + " -D " + quote(standby.data.string()) +
                              " -w -t 120 promote > /dev/null 2>&1";
  if (run_as_owner(promote) != 0) fail("pg_ctl promote failed:\n" + read_text(standby.log));
  primary_ = 1 - primary_;
  ++promotions_;
}

void PostgresPair::attach_new_standby() {
  Slot& lost = slots_[1 - primary_];
  std::error_code ignored;
  fs::remove_all(lost.data, ignored);
  base_backup(lost, slots_[primary_]);
  start(lost);
  wait_synchronous(slots_[primary_]);
}

std::vector<std::vector<std::string>> PostgresPair::query(const std::string& sql) const {
  return query_on(slots_[primary_], "fpx", sql);
}

void PostgresPair::make_slot(Slot& slot) {
  // Its own directory, not the bench's TempDir: the `postgres` user must own it.
  // mkdtemp replaces the trailing XXXXXX with a unique name.
  std::string pattern = (fs::temp_directory_path() / "fpx-crash-pg-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) fail("cannot create a directory for PostgreSQL");
  slot.root = pattern;
  slot.data = slot.root / "data";
  slot.socket_dir = slot.root / "socket";
  slot.log = slot.root / "server.log";
  fs::create_directories(slot.socket_dir);
  if (as_root_) {
    const passwd* owner = ::getpwnam("postgres");
    if (owner == nullptr) fail("running as root, and there is no `postgres` user to run PostgreSQL as");
    for (const auto& path : {slot.root, slot.socket_dir}) {
      if (::chown(path.c_str(), owner->pw_uid, owner->pw_gid) != 0) fail("cannot chown " + path.string());
    }
  }
  slot.port = free_port();
}

void PostgresPair::start(Slot& slot) {
  // fsync and synchronous_commit on, as a deployment has them; small
  // buffers: the machine is shared.
  const std::string options = "-k " + slot.socket_dir.string() + " -p " + std::to_string(slot.port) +
                              " -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on"
                              " -c shared_buffers=32MB -c max_connections=40";
  const std::string command = quote((kPostgresBin / "pg_ctl").string()) + " -D " + quote(slot.data.string()) +
                              " -l " + quote(slot.log.string()) + " -o " + quote(options) +
                              " -w -t 120 start > /dev/null 2>&1";
  if (run_as_owner(command) != 0) fail("PostgreSQL did not start:\n" + read_text(slot.log));
  slot.running = true;
}

void PostgresPair::stop_immediate(Slot& slot) {
  const std::string command = quote((kPostgresBin / "pg_ctl").string()) + " -D " + quote(slot.data.string()) +
                              " -m immediate -w stop > /dev/null 2>&1";
  if (run_as_owner(command) != 0) fail("pg_ctl stop -m immediate failed:\n" + read_text(slot.log));
  slot.running = false;
}

void PostgresPair::base_backup(Slot& into, const Slot& from) {
  // -R writes standby.signal and primary_conninfo (with the application
  // name the primary waits for), over the primary's trusted socket.
  const std::string conninfo = "host=" + from.socket_dir.string() + " port=" + std::to_string(from.port) +
                               " user=fpx application_name=" + kStandbyName;
  const fs::path log = into.root / "basebackup.log";
  const std::string command = quote((kPostgresBin / "pg_basebackup").string()) + " -D " + quote(into.data.string()) +
                              " -d " + quote(conninfo) + " -R -X stream --no-sync -c fast > " +
                              quote(log.string()) + " 2>&1";
  if (run_as_owner(command) != 0) fail("pg_basebackup failed:\n" + read_text(log));
}

void PostgresPair::wait_synchronous(const Slot& primary) {
  const auto deadline = std::chrono::steady_clock::now() + kServerStepTimeout;
  for (;;) {
    const auto rows = query_on(primary, "postgres",
                               std::string("SELECT COUNT(*) FROM pg_stat_replication WHERE application_name = '") +
                                   kStandbyName + "' AND sync_state = 'sync'");
    if (!rows.empty() && rows[0][0] == "1") return;
    if (std::chrono::steady_clock::now() > deadline) {
      fail("the standby did not become synchronous:\n" + read_text(slots_[1 - primary_].log));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

std::string PostgresPair::slot_dsn(const Slot& slot, const std::string& database) const {
  return "host=" + slot.socket_dir.string() + " port=" + std::to_string(slot.port) + " dbname=" + database +
         " user=fpx";
}

std::vector<std::vector<std::string>> PostgresPair::query_on(const Slot& slot, const std::string& database,
                                                             const std::string& sql) const {
  std::unique_ptr<PGconn, ConnectionFinish> conn(PQconnectdb(slot_dsn(slot, database).c_str()));
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    fail("cannot connect to PostgreSQL: " + std::string(PQerrorMessage(conn.get())));
  }
  std::unique_ptr<PGresult, ResultClear> result(PQexec(conn.get(), sql.c_str()));
  const auto status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    fail(sql + ": " + PQresultErrorMessage(result.get()));
  }
  std::vector<std::vector<std::string>> rows;
  for (int row = 0; row < PQntuples(result.get()); ++row) {
    std::vector<std::string> columns;
    for (int column = 0; column < PQnfields(result.get()); ++column) {
      columns.emplace_back(PQgetvalue(result.get(), row, column));
    }
    rows.push_back(std::move(columns));
  }
  return rows;
}

int PostgresPair::run_as_owner(const std::string& command_line) const {
  const std::string line = as_root_ ? "runuser -u postgres -- sh -c " + quote(command_line) : command_line;
  const int status = std::system(line.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace fpx::bench
