// Failover with real processes (issue 16): two fpx-broker processes on one
// PostgreSQL database, one leading and one standing by. The leader is
// killed mid-load (SIGKILL) or paused (SIGSTOP, then SIGCONT); the standby
// takes over, serves every message the old leader receipted and grows the
// same log; the paused one, woken, commits nothing and steps down.
#include <signal.h>

#include <atomic>
#include <map>
#include <chrono>
#include <set>
#include <thread>

#include <catch2/catch.hpp>

#include "fpx/client.hpp"
#include "fpx/observer_client.hpp"
#include "fpx/transparency_log.hpp"
#include "support/broker_clients.hpp"
#include "support/broker_process.hpp"
#include "support/postgres_cluster.hpp"
#include "support/sample_messages.hpp"
#include "support/test_pki.hpp"

using namespace fpx;
using namespace std::chrono_literals;
using client::Client;
using wire::MessageType;

namespace {

// The sample tracing request is addressed to NE's and BF's focal points.
const std::vector<std::string> kParticipants = {"sn.police-judiciaire", "ne.focal-point", "bf.focal-point",
                                                "cso.sahel-watch"};

void issue_participants(test::TestPki& pki) {
  pki.issue("sn.police-judiciaire", "SN", Role::agency);
  pki.issue("ne.focal-point", "NE", Role::focal_point);
  pki.issue("bf.focal-point", "BF", Role::focal_point);
  pki.issue("cso.sahel-watch", "SN", Role::observer, {.via_intermediate = false});
}

// `lease_ms`: long where the takeover must come from the leader's end (a
// lapse on a loaded machine would be a second, spurious takeover), short
// where it must come from the lapse.
enum class Starts { leading, standing_by };

test::BrokerOptions failover_options(const std::string& dsn, const std::string& holder, Starts starts,
                                     std::int64_t lease_ms) {
  test::BrokerOptions options;
  options.postgres_dsn = dsn;
  options.lease_ms = lease_ms;
  options.holder = holder;
  options.standby = starts == Starts::standing_by;
  options.reuse_broker_identity = options.standby;  // one pinned identity for both (broker/README.md)
  return options;
}

std::unique_ptr<Client> connect_with_timeout(const test::BrokerProcess& broker, test::TestPki& pki,
                                             const std::string& id, std::chrono::milliseconds timeout) {
  auto options = test::client_options(broker, pki, id);
  options.request_timeout = timeout;
  auto connected = Client::connect(pki.identity(id), options);
  if (!connected) FAIL(id << " could not connect: " << connected.error().describe());
  return std::move(connected).value();
}

// The envelopes' hashes `id` receives from `broker` within `within`, each confirmed.
std::set<Sha256Digest> receive_all(const test::BrokerProcess& broker, test::TestPki& pki, const std::string& id,
                                   std::size_t expected, std::chrono::milliseconds within) {
  auto recipient = test::connect_client(broker, pki, id);
  std::set<Sha256Digest> seen;
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (seen.size() < expected && std::chrono::steady_clock::now() < deadline) {
    auto batch = recipient->poll(200ms);
    if (!batch) FAIL("poll failed: " << batch.error().describe());
    for (const auto& delivery : *batch) {
      seen.insert(sha256(delivery.envelope));
      REQUIRE(recipient->confirm(delivery).ok());
    }
  }
  return seen;
}

client::SignedCheckpoint checkpoint_at_least(const test::BrokerProcess& broker, test::TestPki& pki, std::uint64_t size) {
  auto observer = client::ObserverClient::connect(pki.identity("cso.sahel-watch"), test::observer_options(broker, pki));
  REQUIRE(observer.ok());
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  auto latest = (*observer)->latest_checkpoint();
  while ((!latest.ok() || latest->checkpoint.size < size) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
    latest = (*observer)->latest_checkpoint();
  }
  if (!latest) FAIL("no checkpoint: " << latest.error().describe());
  REQUIRE(latest->checkpoint.size >= size);
  return *latest;
}

// The new leader's log extends the old one's: a consistency proof between
// a checkpoint the old leader signed and one the new leader signed.
void check_log_continues(const test::BrokerProcess& new_leader, test::TestPki& pki, const client::SignedCheckpoint& before) {
  const auto after = checkpoint_at_least(new_leader, pki, before.checkpoint.size + 1);
  auto observer =
      client::ObserverClient::connect(pki.identity("cso.sahel-watch"), test::observer_options(new_leader, pki));
  REQUIRE(observer.ok());
  auto proof = (*observer)->consistency_proof(before.checkpoint.size, after.checkpoint.size);
  REQUIRE(proof.ok());
  CHECK(verify_consistency(before.checkpoint.size, after.checkpoint.size, before.checkpoint.root,
                           after.checkpoint.root, *proof));
}

}  // namespace

TEST_CASE("A standby broker takes over when the leader is killed mid-load and serves every receipted message") {
  test::PostgresCluster cluster;
  const std::string dsn = cluster.create_database("exchange");
  test::TestPki pki({"SN", "NE", "BF"});
  issue_participants(pki);
  test::BrokerProcess leader(pki, kParticipants, failover_options(dsn, "broker-a", Starts::leading, 20000));
  test::BrokerProcess standby(pki, kParticipants, failover_options(dsn, "broker-b", Starts::standing_by, 20000));
  CHECK_FALSE(standby.wait_listening(500ms));  // it stands by, its endpoints unbound

  // A first message and a checkpoint the old leader signs.
  auto agency = connect_with_timeout(leader, pki, "sn.police-judiciaire", 10s);
  const Bytes first = test::seal_sample(pki.identity("sn.police-judiciaire"), MessageType::TRACING_REQUEST);
  const auto first_receipt = agency->submit(first);
  if (!first_receipt) FAIL(first_receipt.error().describe() << "\n" << leader.log_text());
  std::vector<Sha256Digest> receipted{sha256(first)};
  const auto before = checkpoint_at_least(leader, pki, 1);

  // Load: the agency submits until the leader dies; every receipt is kept.
  std::atomic<std::size_t> receipts{0};
  std::jthread load([&](std::stop_token stop) {
    while (!stop.stop_requested()) {
      const Bytes request = test::seal_sample(pki.identity("sn.police-judiciaire"), MessageType::TRACING_REQUEST);
      auto receipt = agency->submit(request);
      if (!receipt) break;  // the leader is gone: what it did not receipt is not owed
      receipted.push_back(sha256(request));
      ++receipts;
    }
  });
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (receipts < 20 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  leader.kill_hard();
  load.request_stop();
  load.join();
  REQUIRE(receipted.size() >= 21);

  REQUIRE(standby.wait_listening(20s));
  CHECK(cluster.scalar("exchange", "SELECT term FROM leader_term") == "2");
  CHECK(cluster.scalar("exchange", "SELECT holder FROM leader_lease") == "broker-b");
  // Every receipted message is served by the new leader.
  const auto served = receive_all(standby, pki, "ne.focal-point", receipted.size(), 30s);
  for (const auto& digest : receipted) CHECK(served.count(digest) == 1);

  // New traffic, and the log continues the one the old leader signed.
  auto agency_b = test::connect_client(standby, pki, "sn.police-judiciaire");
  REQUIRE(agency_b->submit(test::seal_sample(pki.identity("sn.police-judiciaire"), MessageType::TRACING_REQUEST)).ok());
  check_log_continues(standby, pki, before);
}

TEST_CASE("A paused leader that wakes after a standby took over commits nothing and steps down") {
  test::PostgresCluster cluster;
  const std::string dsn = cluster.create_database("exchange");
  test::TestPki pki({"SN", "NE", "BF"});
  issue_participants(pki);
  test::BrokerProcess leader(pki, kParticipants, failover_options(dsn, "broker-a", Starts::leading, 3000));
  test::BrokerProcess standby(pki, kParticipants, failover_options(dsn, "broker-b", Starts::standing_by, 3000));

  auto agency = connect_with_timeout(leader, pki, "sn.police-judiciaire", 5s);
  const Bytes first = test::seal_sample(pki.identity("sn.police-judiciaire"), MessageType::TRACING_REQUEST);
  REQUIRE(agency->submit(first).ok());
  const auto before = checkpoint_at_least(leader, pki, 1);

  leader.send_signal(SIGSTOP);
  // The lease lapses; the standby takes over and serves.
  REQUIRE(standby.wait_listening(30s));
  CHECK(cluster.scalar("exchange", "SELECT term FROM leader_term") == "2");
  auto agency_b = test::connect_client(standby, pki, "sn.police-judiciaire");
  const Bytes second = test::seal_sample(pki.identity("sn.police-judiciaire"), MessageType::TRACING_REQUEST);
  REQUIRE(agency_b->submit(second).ok());

  // A message reaches the paused leader (its socket buffers it); woken, it
  // must not store it: it answers with a refusal or not at all, then exits.
  const Bytes late = test::seal_sample(pki.identity("sn.police-judiciaire"), MessageType::TRACING_REQUEST);
  std::atomic<bool> late_receipted{false};
  std::jthread sender([&] { late_receipted = agency->submit(late).ok(); });
  std::this_thread::sleep_for(300ms);
  leader.send_signal(SIGCONT);
  sender.join();
  CHECK_FALSE(late_receipted.load());
  const auto exited = leader.wait_exit(20s);
  REQUIRE(exited.has_value());
  CHECK(*exited == 75);  // deposed: fpx-broker's kExitDeposed
  CHECK_THAT(leader.log_text(), Catch::Contains("stepping down"));

  // Only the receipted messages are stored; the late one is not.
  CHECK(cluster.scalar("exchange", "SELECT COUNT(*) FROM messages") == "2");
  const auto served = receive_all(standby, pki, "ne.focal-point", 2, 20s);
  CHECK(served.count(sha256(first)) == 1);
  CHECK(served.count(sha256(second)) == 1);
  CHECK(served.count(sha256(late)) == 0);
  check_log_continues(standby, pki, before);
}

TEST_CASE("A client with both endpoints keeps submitting across a takeover and nothing is lost or handed over twice") {
  test::PostgresCluster cluster;
  const std::string dsn = cluster.create_database("exchange");
  test::TestPki pki({"SN", "NE", "BF"});
  issue_participants(pki);
  test::BrokerProcess leader(pki, kParticipants, failover_options(dsn, "broker-a", Starts::leading, 5000));
  test::BrokerProcess standby(pki, kParticipants, failover_options(dsn, "broker-b", Starts::standing_by, 5000));
  auto both = [&](const std::string& id) {
    auto options = test::client_options(leader, pki, id);
    options.endpoints = {standby.endpoint()};
    options.handshake_timeout = 2s;
    options.request_timeout = 3s;
    auto connected = Client::connect(pki.identity(id), options);
    if (!connected) FAIL(id << " could not connect: " << connected.error().describe());
    return std::move(connected).value();
  };

  constexpr std::size_t kMessages = 40;
  std::vector<Bytes> requests;
  for (std::size_t i = 0; i < kMessages; ++i) {
    requests.push_back(test::seal_sample(pki.identity("sn.police-judiciaire"), MessageType::TRACING_REQUEST));
  }

  // The recipient, on its own thread, counts every hand-over.
  std::map<Sha256Digest, int> handed;
  std::jthread recipient([&](std::stop_token stop) {
    auto niger = both("ne.focal-point");
    const auto deadline = std::chrono::steady_clock::now() + 120s;
    while (!stop.stop_requested() && std::chrono::steady_clock::now() < deadline) {
      auto batch = niger->poll(200ms);
      if (!batch) continue;  // a switch in progress: the next poll goes on
      for (const auto& delivery : *batch) {
        ++handed[sha256(delivery.envelope)];
        (void)niger->confirm(delivery);
      }
      if (handed.size() == kMessages) break;
    }
  });

  auto agency = both("sn.police-judiciaire");
  std::size_t application_retries = 0;
  for (std::size_t i = 0; i < kMessages; ++i) {
    if (i == kMessages / 3) leader.kill_hard();
    auto receipt = agency->submit(requests[i]);
    // The library moved to the other broker by itself; while the standby
    // is still taking over, the application may have to submit again (the
    // same bytes: idempotent).
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (!receipt && std::chrono::steady_clock::now() < deadline) {
      ++application_retries;
      receipt = agency->submit(requests[i]);
    }
    REQUIRE(receipt.ok());
    CHECK(receipt->envelope_sha256 == sha256(requests[i]));
  }
  CHECK(standby.wait_listening(1s));
  recipient.join();
  UNSCOPED_INFO("submits the application had to repeat: " << application_retries);
  CHECK(cluster.scalar("exchange", "SELECT COUNT(*) FROM messages") == std::to_string(kMessages));
  REQUIRE(handed.size() == kMessages);
  for (const auto& request : requests) CHECK(handed[sha256(request)] == 1);
}

TEST_CASE("A receipt given on a primary with a synchronous standby survives the primary's loss and the broker goes on") {
  test::PostgresCluster primary;
  primary.create_database("exchange");
  auto standby_server = primary.start_synchronous_standby();
  const std::string dsn = test::PostgresCluster::failover_dsn(primary, *standby_server, "exchange");
  test::TestPki pki({"SN", "NE", "BF"});
  issue_participants(pki);
  test::BrokerProcess broker(pki, kParticipants, failover_options(dsn, "broker-a", Starts::leading, 20000));

  auto agency = connect_with_timeout(broker, pki, "sn.police-judiciaire", 20s);
  const Bytes first = test::seal_sample(pki.identity("sn.police-judiciaire"), MessageType::TRACING_REQUEST);
  REQUIRE(agency->submit(first).ok());
  // The receipt came after the standby flushed the commit: the primary's
  // machine is lost at once, without a shutdown, and the standby promoted.
  primary.crash();
  standby_server->promote();
  CHECK(standby_server->scalar("exchange", "SELECT COUNT(*) FROM messages") == "1");

  // The broker reconnects to the promoted server (target_session_attrs)
  // and goes on with the same term.
  const Bytes second = test::seal_sample(pki.identity("sn.police-judiciaire"), MessageType::TRACING_REQUEST);
  auto receipt = agency->submit(second);
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!receipt && std::chrono::steady_clock::now() < deadline) receipt = agency->submit(second);
  REQUIRE(receipt.ok());
  CHECK(standby_server->scalar("exchange", "SELECT COUNT(*) FROM messages") == "2");
  CHECK(standby_server->scalar("exchange", "SELECT term FROM leader_term") == "1");
  const auto served = receive_all(broker, pki, "ne.focal-point", 2, 20s);
  CHECK(served.count(sha256(first)) == 1);
  CHECK(served.count(sha256(second)) == 1);
}
