// Leadership of the PostgreSQL store (broker/store_pg/postgres_leadership.cpp)
// on a real throwaway cluster: a standby waits while the leader lives, takes
// over when its connection ends or its lease lapses, and a deposed leader's
// open transaction can never commit.
#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "fpx/broker/store.hpp"
#include "support/postgres_cluster.hpp"

using namespace fpx;
using namespace fpx::broker;
using namespace std::chrono_literals;

namespace {

template <typename T>
T must(Result<T> result) {
  if (!result) FAIL(result.error().describe());
  return std::move(result).value();
}

// One cluster per test process, as in store_conformance_test.cpp.
test::PostgresCluster& cluster() {
  static test::PostgresCluster instance;
  return instance;
}

AuditEntry audit_row(const std::string& detail) {
  AuditEntry entry;
  entry.at_ms = 1'700'000'000'000;
  entry.principal = "sn.focal-point";
  entry.stage = "persist";
  entry.detail = detail;
  return entry;
}

int count_audit(const std::string& database, const std::string& detail) {
  return std::stoi(cluster().scalar(database, "SELECT COUNT(*) FROM audit WHERE detail = '" + detail + "'"));
}

}  // namespace

TEST_CASE("A standby PostgreSQL store waits while the leader lives and takes over when its connection ends") {
  const std::string dsn = cluster().create_database("standby_waits");
  auto leader = must(open_postgres_store(dsn, {.holder = "broker-a"}));
  CHECK(cluster().scalar("standby_waits", "SELECT term FROM leader_term") == "1");
  CHECK(cluster().scalar("standby_waits", "SELECT holder FROM leader_lease") == "broker-a");

  // A second one that refuses says who leads.
  const auto refused = open_postgres_store(dsn, {.holder = "broker-b"});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::unavailable);
  CHECK_THAT(refused.error().message, Catch::Contains("broker-a"));

  // One that waits is still waiting while the leader renews its lease.
  auto standby = std::async(std::launch::async, [&] {
    return open_postgres_store(dsn, {.standby = StandbyWait::wait, .lease_ms = 1000, .holder = "broker-b"});
  });
  CHECK(standby.wait_for(1500ms) == std::future_status::timeout);
  CHECK(cluster().scalar("standby_waits", "SELECT term FROM leader_term") == "1");

  leader.reset();  // its connections end, as at a crash
  REQUIRE(standby.wait_for(20s) == std::future_status::ready);
  auto taken = must(standby.get());
  CHECK(cluster().scalar("standby_waits", "SELECT term FROM leader_term") == "2");
  CHECK(cluster().scalar("standby_waits", "SELECT holder FROM leader_lease") == "broker-b");
  REQUIRE(taken->begin(Durability::required).ok());
  REQUIRE(taken->append_audit(audit_row("written by the new leader")).ok());
  REQUIRE(taken->commit().ok());
  CHECK(count_audit("standby_waits", "written by the new leader") == 1);
}

TEST_CASE("A PostgreSQL leader whose lease lapsed mid-transaction commits nothing after a standby took over") {
  const std::string dsn = cluster().create_database("fenced");
  std::atomic<int> deposed{0};
  // A long lease, renewed rarely: the test makes it lapse itself, as a
  // paused process (SIGSTOP) would let it lapse.
  auto old_leader = must(open_postgres_store(
      dsn, {.lease_ms = 60'000, .holder = "paused", .on_deposed = [&](const std::string&) { ++deposed; }}));
  REQUIRE(old_leader->begin(Durability::required).ok());
  REQUIRE(old_leader->append_audit(audit_row("from the paused leader")).ok());

  // Its transaction is open (it holds the term FOR SHARE) when its lease lapses.
  cluster().exec("fenced", "UPDATE leader_lease SET expires_at = '-infinity'");
  auto new_leader = must(open_postgres_store(dsn, {.standby = StandbyWait::wait, .holder = "new"}));
  CHECK(cluster().scalar("fenced", "SELECT term FROM leader_term") == "2");

  // The old leader wakes up: its batch fails, and so does every later one.
  CHECK_FALSE(old_leader->commit().ok());
  old_leader->rollback();
  const auto again = old_leader->begin(Durability::required);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == ErrorCode::unavailable);
  CHECK_THAT(again.error().message, Catch::Contains("no longer the leader"));
  CHECK(deposed.load() == 1);
  CHECK(count_audit("fenced", "from the paused leader") == 0);

  // The new leader writes on.
  REQUIRE(new_leader->begin(Durability::required).ok());
  REQUIRE(new_leader->append_audit(audit_row("from the new leader")).ok());
  REQUIRE(new_leader->commit().ok());
  CHECK(count_audit("fenced", "from the new leader") == 1);
}

TEST_CASE("A PostgreSQL leader that is not paused but lost its term steps down at its next transaction") {
  const std::string dsn = cluster().create_database("stale_term");
  std::atomic<int> deposed{0};
  auto old_leader = must(open_postgres_store(
      dsn, {.lease_ms = 60'000, .holder = "old", .on_deposed = [&](const std::string&) { ++deposed; }}));
  // Another broker's takeover as it looks in the database, while the old
  // leader's connection stays up (the fence alone must stop it).
  cluster().exec("stale_term", "UPDATE leader_term SET term = term + 1, holder = 'other'");
  const auto begun = old_leader->begin(Durability::required);
  REQUIRE_FALSE(begun.ok());
  CHECK(begun.error().code == ErrorCode::unavailable);
  CHECK(deposed.load() == 1);
}

TEST_CASE("A PostgreSQL standby told to stop while it waits gives up without taking the lead") {
  const std::string dsn = cluster().create_database("stop_waiting");
  auto leader = must(open_postgres_store(dsn, {.holder = "leader"}));
  std::atomic<bool> stop{false};
  auto standby = std::async(std::launch::async, [&] {
    return open_postgres_store(dsn, {.standby = StandbyWait::wait, .holder = "standby",
                                     .stop_waiting = [&] { return stop.load(); }});
  });
  CHECK(standby.wait_for(500ms) == std::future_status::timeout);
  stop = true;
  REQUIRE(standby.wait_for(10s) == std::future_status::ready);
  const auto result = standby.get();
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == ErrorCode::unavailable);
  CHECK(cluster().scalar("stop_waiting", "SELECT holder FROM leader_lease") == "leader");
}
