// A throwaway PostgreSQL 15 cluster for a bench run (fpx-bench --store
// postgres): initdb in a fresh temporary directory, the server on a free
// loopback port with its unix socket there, fsync and synchronous_commit on
// (as a deployment has them: a receipt waits for the commit's flush), one
// empty database for the broker; stopped and removed at the end.
// tests/support/postgres_cluster does the same for tests through Catch2.
//
// initdb and postgres refuse to run as root: as root the cluster runs as
// Debian's `postgres` user (runuser), its directory chowned to it. It
// trusts connections on its own socket only (TCP logins refused): a bench
// cluster, never a deployment's.
#pragma once

#include <filesystem>
#include <string>

namespace fpx::bench {

class BenchPostgres {
 public:
  BenchPostgres();   // initdb, start, CREATE DATABASE fpx; fail() with the server's log otherwise
  ~BenchPostgres();  // stop (immediate) and remove
  BenchPostgres(const BenchPostgres&) = delete;
  BenchPostgres& operator=(const BenchPostgres&) = delete;

  // The broker's [store] dsn: the database made at start, no password.
  const std::string& dsn() const { return dsn_; }

 private:
  int run_as_owner(const std::string& command_line) const;

  std::filesystem::path root_;
  std::filesystem::path data_;
  std::filesystem::path socket_dir_;
  std::filesystem::path log_;
  std::string dsn_;
  int port_ = 0;
  bool as_root_ = false;
  bool running_ = false;
};

}  // namespace fpx::bench
