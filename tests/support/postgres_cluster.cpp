#include "support/postgres_cluster.hpp"

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include <catch2/catch.hpp>

#include "support/command_run.hpp"

namespace fpx::test {

namespace {

namespace fs = std::filesystem;

const fs::path kPostgresBin = "/usr/lib/postgresql/15/bin";

// A port the kernel just handed out on 127.0.0.1: free now, and the server
// takes it a moment later.
int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  socklen_t length = sizeof address;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  ::close(fd);
  return ntohs(address.sin_port);
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

struct ConnectionFinish {
  void operator()(PGconn* conn) const noexcept { PQfinish(conn); }
};

}  // namespace

PostgresCluster::PostgresCluster() {
  if (!fs::exists(kPostgresBin / "initdb")) {
    FAIL("PostgreSQL 15's server is not installed (" << kPostgresBin.string()
                                                      << "/initdb): run deploy/install-packages.sh");
  }
  make_directories();
  // Trust on the cluster's own socket only; TCP logins are refused.
  // --no-sync: initdb's closing fsync of every file it wrote costs seconds
  // on a loaded disk and protects a cluster that is thrown away anyway; the
  // server itself still runs with fsync on, so the tests' commits are durable
  // as a deployment's are.
  const std::string initdb = shell_quote((kPostgresBin / "initdb").string()) + " -D " + shell_quote(data_.string()) +
                             " -U fpx --auth-local=trust --auth-host=reject -E UTF8 --locale=C.UTF-8 --no-instructions"
                             " --no-sync";
  if (run_as_owner(initdb + " > " + shell_quote((root_ / "initdb.log").string()) + " 2>&1") != 0) {
    FAIL("initdb failed:\n" << read_file(root_ / "initdb.log"));
  }
  start();
}

void PostgresCluster::make_directories() {
  // mkdtemp(3) replaces the six X with a unique suffix and creates the directory 0700.
  std::string pattern = (fs::temp_directory_path() / "fpx-pg-XXXXXX").string();
  REQUIRE(::mkdtemp(pattern.data()) != nullptr);
  root_ = pattern;
  data_ = root_ / "data";
  socket_dir_ = root_ / "socket";
  log_ = root_ / "server.log";
  fs::create_directories(socket_dir_);
  as_root_ = ::geteuid() == 0;
  if (as_root_) {
    const passwd* owner = ::getpwnam("postgres");
    if (owner == nullptr) FAIL("running as root, and there is no `postgres` user to run the test cluster as");
    for (const auto& path : {root_, socket_dir_}) REQUIRE(::chown(path.c_str(), owner->pw_uid, owner->pw_gid) == 0);
  }
  port_ = free_loopback_port();
}

PostgresCluster::PostgresCluster(const PostgresCluster& primary, StandbyOf) {
  make_directories();
  // -R writes standby.signal and primary_conninfo; the application name is
  // what the primary's synchronous_standby_names waits for. Over the
  // primary's socket, which the test cluster trusts for replication too
  // (initdb's local rules).
  const std::string conninfo = "host=" + primary.socket_dir_.string() + " port=" + std::to_string(primary.port_) +
                               " user=fpx application_name=fpx_standby";
  const std::string basebackup = shell_quote((kPostgresBin / "pg_basebackup").string()) + " -D " +
                                 shell_quote(data_.string()) + " -d " + shell_quote(conninfo) +
                                 " -R -X stream --no-sync -c fast";
  if (run_as_owner(basebackup + " > " + shell_quote((root_ / "basebackup.log").string()) + " 2>&1") != 0) {
    FAIL("pg_basebackup failed:\n" << read_file(root_ / "basebackup.log"));
  }
  start();
}

std::unique_ptr<PostgresCluster> PostgresCluster::start_synchronous_standby() {
  std::unique_ptr<PostgresCluster> standby(new PostgresCluster(*this, StandbyOf{}));
  exec("postgres", "ALTER SYSTEM SET synchronous_standby_names = 'fpx_standby'");
  exec("postgres", "SELECT pg_reload_conf()");
  // Synchronous once the standby streams and the primary says so.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (scalar("postgres", "SELECT COUNT(*) FROM pg_stat_replication WHERE application_name = 'fpx_standby' "
                            "AND sync_state = 'sync'") != "1") {
    if (std::chrono::steady_clock::now() > deadline) FAIL("the standby did not become synchronous:\n" << read_file(standby->log_));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return standby;
}

void PostgresCluster::promote() {
  const std::string command = shell_quote((kPostgresBin / "pg_ctl").string()) + " -D " + shell_quote(data_.string()) +
                              " -w -t 60 promote > /dev/null 2>&1";
  REQUIRE(run_as_owner(command) == 0);
}

void PostgresCluster::crash() {
  const std::string command = shell_quote((kPostgresBin / "pg_ctl").string()) + " -D " + shell_quote(data_.string()) +
                              " -m immediate -w stop > /dev/null 2>&1";
  REQUIRE(run_as_owner(command) == 0);
  running_ = false;
}

std::string PostgresCluster::failover_dsn(const PostgresCluster& primary, const PostgresCluster& standby,
                                          const std::string& database) {
  return "host=" + primary.socket_dir_.string() + "," + standby.socket_dir_.string() +
         " port=" + std::to_string(primary.port_) + "," + std::to_string(standby.port_) + " dbname=" + database +
         " user=fpx target_session_attrs=read-write";
}

PostgresCluster::~PostgresCluster() {
  if (running_) {
    run_as_owner(shell_quote((kPostgresBin / "pg_ctl").string()) + " -D " + shell_quote(data_.string()) +
                 " -m immediate stop > /dev/null 2>&1");
  }
  std::error_code ignored;
  fs::remove_all(root_, ignored);
}

int PostgresCluster::run_as_owner(const std::string& command_line) const {
  const std::string line = as_root_ ? "runuser -u postgres -- sh -c " + shell_quote(command_line) : command_line;
  const int status = std::system(line.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void PostgresCluster::start() {
  // fsync and synchronous_commit on, as a deployment has them; small
  // shared buffers, since several engineers' tests share one machine.
  const std::string options = "-k " + socket_dir_.string() + " -p " + std::to_string(port_) +
                              " -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on"
                              " -c shared_buffers=16MB -c max_connections=20";
  const std::string command = shell_quote((kPostgresBin / "pg_ctl").string()) + " -D " + shell_quote(data_.string()) +
                              " -l " + shell_quote(log_.string()) + " -o " + shell_quote(options) +
                              " -w -t 60 start > /dev/null 2>&1";
  if (run_as_owner(command) != 0) FAIL("the test cluster did not start:\n" << read_file(log_));
  running_ = true;
}

void PostgresCluster::stop() {
  const std::string command = shell_quote((kPostgresBin / "pg_ctl").string()) + " -D " + shell_quote(data_.string()) +
                              " -m fast -w stop > /dev/null 2>&1";
  REQUIRE(run_as_owner(command) == 0);
  running_ = false;
}

std::string PostgresCluster::dsn(const std::string& database) const {
  return "host=" + socket_dir_.string() + " port=" + std::to_string(port_) + " dbname=" + database + " user=fpx";
}

void PostgresCluster::exec(const std::string& database, const std::string& sql) {
  std::unique_ptr<PGconn, ConnectionFinish> conn(PQconnectdb(dsn(database).c_str()));
  REQUIRE(PQstatus(conn.get()) == CONNECTION_OK);
  std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(conn.get(), sql.c_str()), &PQclear);
  const auto status = PQresultStatus(result.get());
  INFO(sql << ": " << PQresultErrorMessage(result.get()));
  REQUIRE((status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK));
}

std::string PostgresCluster::try_exec(const std::string& database, const std::string& sql) {
  std::unique_ptr<PGconn, ConnectionFinish> conn(PQconnectdb(dsn(database).c_str()));
  REQUIRE(PQstatus(conn.get()) == CONNECTION_OK);
  std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(conn.get(), sql.c_str()), &PQclear);
  const auto status = PQresultStatus(result.get());
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return "";
  const std::string message = PQresultErrorMessage(result.get());
  return message.empty() ? "failed" : message;
}

std::string PostgresCluster::scalar(const std::string& database, const std::string& sql) {
  std::unique_ptr<PGconn, ConnectionFinish> conn(PQconnectdb(dsn(database).c_str()));
  REQUIRE(PQstatus(conn.get()) == CONNECTION_OK);
  std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(conn.get(), sql.c_str()), &PQclear);
  INFO(sql << ": " << PQresultErrorMessage(result.get()));
  REQUIRE(PQresultStatus(result.get()) == PGRES_TUPLES_OK);
  REQUIRE(PQntuples(result.get()) >= 1);
  return PQgetvalue(result.get(), 0, 0);
}

std::string PostgresCluster::create_database(const std::string& name) {
  exec("postgres", "CREATE DATABASE " + name);
  return dsn(name);
}

}  // namespace fpx::test
