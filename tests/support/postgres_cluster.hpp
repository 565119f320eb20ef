// A throwaway PostgreSQL 15 cluster for one test process (tests share one
// per process and give each case its own database: create_database is
// cheap, initdb and the server's start are not): initdb in a fresh
// temporary directory, the server on a free loopback port with its unix
// socket in that directory and fsync on, stopped and removed at the end.
//
// initdb and postgres refuse to run as root, and CI runs as root: then the
// cluster runs as the `postgres` system user that Debian's postgresql
// package creates (runuser), its directory chowned to it. The test cluster
// trusts connections on its own socket (and refuses TCP logins), so the
// test and the brokers it starts connect as the cluster's superuser `fpx`
// from any local user; that rule is for throwaway test clusters only.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

namespace fpx::test {

class PostgresCluster {
 public:
  PostgresCluster();  // initdb and start; FAILs the test with the server's log if either fails
  ~PostgresCluster();  // stop (immediate) and remove
  PostgresCluster(const PostgresCluster&) = delete;
  PostgresCluster& operator=(const PostgresCluster&) = delete;

  // A new empty database; returns its libpq connection string (no password).
  std::string create_database(const std::string& name);
  // The connection string of an existing database of this cluster.
  std::string dsn(const std::string& database) const;
  // Runs SQL as the superuser on `database` (set-up and inspection in tests).
  void exec(const std::string& database, const std::string& sql);
  // Runs SQL as the superuser; the server's error message, or "" when it ran.
  std::string try_exec(const std::string& database, const std::string& sql);
  // The first column of the first row of `sql`'s result ("" for NULL).
  std::string scalar(const std::string& database, const std::string& sql);

  void stop();   // pg_ctl stop -m fast: a clean server shutdown
  void start();  // again on the same port and directory
  void crash();  // pg_ctl stop -m immediate: the server's machine lost, no shutdown checkpoint
  int port() const { return port_; }
  const std::filesystem::path& socket_dir() const { return socket_dir_; }

  // Failover of the server itself (issue 16): a streaming standby of this
  // cluster in a directory of its own (pg_basebackup -R over the primary's
  // socket, application_name fpx_standby), started, then made synchronous
  // on the primary (synchronous_standby_names, reloaded): from then on a
  // COMMIT on the primary, so every receipt, returns only once the standby
  // has flushed it. Both are stopped and removed with their objects.
  std::unique_ptr<PostgresCluster> start_synchronous_standby();
  void promote();  // pg_ctl promote on a standby: it becomes a primary and accepts writes
  // A libpq DSN naming both servers, for the one that accepts writes
  // (target_session_attrs=read-write): what a broker uses with a standby.
  static std::string failover_dsn(const PostgresCluster& primary, const PostgresCluster& standby,
                                  const std::string& database);

 private:
  struct StandbyOf {};
  PostgresCluster(const PostgresCluster& primary, StandbyOf);
  void make_directories();
  // `words` as the cluster's user (runuser when we are root).
  int run_as_owner(const std::string& command_line) const;

  std::filesystem::path root_;
  std::filesystem::path data_;
  std::filesystem::path socket_dir_;
  std::filesystem::path log_;
  int port_ = 0;
  bool as_root_ = false;
  bool running_ = false;
};

}  // namespace fpx::test
