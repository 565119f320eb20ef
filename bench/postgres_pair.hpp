// Two PostgreSQL 15 servers for fpx-crash-cycles --store postgres
// --failover: a primary and a synchronous streaming standby on loopback
// (synchronous_standby_names = 'fpx_standby', so a COMMIT, and so every
// receipt, returns only once the standby has flushed it), in two fixed
// "slots" (directory, socket directory, port). fail_over() loses the
// primary's machine (pg_ctl stop -m immediate), promotes the standby, then
// rebuilds the lost slot as the new primary's synchronous standby
// (pg_basebackup -R) on the same port and socket directory, so the one
// failover DSN (both hosts, target_session_attrs=read-write) stays valid
// for every later cycle.
//
// As root both servers run as Debian's `postgres` user (runuser), as
// bench/postgres_support.hpp does. They trust their own sockets only: a
// bench cluster, never a deployment's (broker/store_pg/README.md has that).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace fpx::bench {

class PostgresPair {
 public:
  PostgresPair();   // initdb, primary, CREATE DATABASE fpx, synchronous standby; fail() with a log otherwise
  ~PostgresPair();  // both stopped (immediate) and removed
  PostgresPair(const PostgresPair&) = delete;
  PostgresPair& operator=(const PostgresPair&) = delete;

  // The brokers' [store] dsn: both servers, the writable one chosen by libpq.
  std::string dsn() const;
  // The primary lost and the standby promoted; returns once the promoted
  // server accepts writes. The new standby is not yet attached: commits
  // wait for it (synchronous) until attach_new_standby() returns.
  void lose_primary_and_promote();
  // The lost slot rebuilt from the new primary and attached as its
  // synchronous standby; returns once pg_stat_replication says `sync`.
  void attach_new_standby();
  int promotions() const { return promotions_; }
  // Rows of `sql` on the current primary's fpx database, text format
  // (NULL as an empty optional is not needed here: NULL reads as "").
  std::vector<std::vector<std::string>> query(const std::string& sql) const;

 private:
  struct Slot {
    std::filesystem::path root;
    std::filesystem::path data;
    std::filesystem::path socket_dir;
    std::filesystem::path log;
    int port = 0;
    bool running = false;
  };
  void make_slot(Slot& slot);
  void start(Slot& slot);
  void stop_immediate(Slot& slot);
  void base_backup(Slot& into, const Slot& from);
  void wait_synchronous(const Slot& primary);
  std::vector<std::vector<std::string>> query_on(const Slot& slot, const std::string& database,
                                                 const std::string& sql) const;
  std::string slot_dsn(const Slot& slot, const std::string& database) const;
  int run_as_owner(const std::string& command_line) const;

  Slot slots_[2];
  int primary_ = 0;
  int promotions_ = 0;
  bool as_root_ = false;
};

}  // namespace fpx::bench
