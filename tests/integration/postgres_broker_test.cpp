// The real fpx-broker on PostgreSQL ([store] backend = "postgres") in a
// throwaway cluster: a tracing flow from submission to the public feed and
// its checkpoints, then a crash and restart that must rebuild the same log.
#include <chrono>
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

std::vector<client::Delivery> receive(Client& client, std::size_t count, std::chrono::milliseconds within = 10s) {
  std::vector<client::Delivery> received;
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (received.size() < count && std::chrono::steady_clock::now() < deadline) {
    auto batch = client.poll(200ms);
    if (!batch) FAIL("poll failed: " << batch.error().describe());
    for (auto& delivery : *batch) received.push_back(std::move(delivery));
  }
  return received;
}

// Follows the feed until records of every kind in `kinds` arrived.
std::vector<client::FeedRecord> follow_until(client::ObserverClient& observer, const std::vector<std::string>& kinds) {
  std::vector<client::FeedRecord> seen;
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  std::uint64_t next = 1;
  auto has_all = [&] {
    for (const auto& kind : kinds) {
      if (std::none_of(seen.begin(), seen.end(), [&](const auto& record) { return record.kind == kind; })) return false;
    }
    return true;
  };
  while (!has_all() && std::chrono::steady_clock::now() < deadline) {
    auto page = observer.follow(next, 1000);
    REQUIRE(page.ok());
    for (auto& record : page->records) seen.push_back(std::move(record));
    next = page->next_sequence;
    if (!has_all()) std::this_thread::sleep_for(100ms);
  }
  return seen;
}

}  // namespace

TEST_CASE("A broker on PostgreSQL carries a tracing flow to the feed and rebuilds the same log after a crash") {
  test::PostgresCluster cluster;
  test::BrokerOptions options;
  options.postgres_dsn = cluster.create_database("exchange");
  test::TestPki pki({"SN", "NE", "BF"});
  pki.issue("sn.focal-point", "SN", Role::focal_point);
  pki.issue("ne.focal-point", "NE", Role::focal_point);
  pki.issue("bf.focal-point", "BF", Role::focal_point);
  pki.issue("sn.police-judiciaire", "SN", Role::agency);
  pki.issue("cso.sahel-watch", "SN", Role::observer, {.via_intermediate = false});
  test::BrokerProcess broker(pki,
                             {"sn.focal-point", "ne.focal-point", "bf.focal-point", "sn.police-judiciaire",
                              "cso.sahel-watch"},
                             options);

  // Submit, deliver, confirm.
  auto agency = test::connect_client(broker, pki, "sn.police-judiciaire");
  auto niger = test::connect_client(broker, pki, "ne.focal-point");
  const Bytes request = test::seal_sample(pki.identity("sn.police-judiciaire"), MessageType::TRACING_REQUEST);
  auto receipt = agency->submit(request);
  REQUIRE(receipt.ok());
  CHECK(receipt->envelope_sha256 == sha256(request));
  auto delivered = receive(*niger, 1);
  REQUIRE(delivered.size() == 1);
  CHECK(delivered[0].envelope == request);
  REQUIRE(niger->confirm(delivered[0]).ok());
  auto senegal = test::connect_client(broker, pki, "sn.focal-point");
  REQUIRE(senegal->submit(test::seal_sample(pki.identity("sn.focal-point"), MessageType::CAMPAIGN_REPORT)).ok());

  // The rows are in PostgreSQL, not in the SQLite file.
  CHECK(cluster.scalar("exchange", "SELECT COUNT(*) FROM messages") == "2");
  CHECK(cluster.scalar("exchange", "SELECT COUNT(*) FROM audit WHERE stage = 'persist' AND outcome = 'accepted'") ==
        "2");
  CHECK(cluster.scalar("exchange", "SELECT COUNT(*) FROM receipt_members") == "2");
  CHECK_FALSE(std::filesystem::exists(broker.database()));

  // The feed and a checkpoint covering both messages' leaves.
  auto observer = client::ObserverClient::connect(pki.identity("cso.sahel-watch"), test::observer_options(broker, pki));
  REQUIRE(observer.ok());
  const auto records = follow_until(**observer, {"campaign-report", "checkpoint"});
  REQUIRE(records.size() >= 2);
  for (std::size_t i = 0; i < records.size(); ++i) CHECK(records[i].sequence == i + 1);
  auto before = (*observer)->latest_checkpoint();
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (before.ok() && before->checkpoint.size < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
    before = (*observer)->latest_checkpoint();
  }
  REQUIRE(before.ok());
  REQUIRE(before->checkpoint.size >= 2);
  observer->reset();

  // A crash, a restart on the same database: the same log, grown consistently.
  broker.kill_hard();
  broker.start();
  auto again = client::ObserverClient::connect(pki.identity("cso.sahel-watch"), test::observer_options(broker, pki));
  REQUIRE(again.ok());
  auto agency_again = test::connect_client(broker, pki, "sn.police-judiciaire");
  REQUIRE(agency_again->submit(test::seal_sample(pki.identity("sn.police-judiciaire"), MessageType::TRACING_REQUEST)).ok());
  auto after = (*again)->latest_checkpoint();
  const auto later = std::chrono::steady_clock::now() + 10s;
  while (after.ok() && after->checkpoint.size <= before->checkpoint.size && std::chrono::steady_clock::now() < later) {
    std::this_thread::sleep_for(100ms);
    after = (*again)->latest_checkpoint();
  }
  REQUIRE(after.ok());
  REQUIRE(after->checkpoint.size > before->checkpoint.size);
  auto proof = (*again)->consistency_proof(before->checkpoint.size, after->checkpoint.size);
  REQUIRE(proof.ok());
  CHECK(verify_consistency(before->checkpoint.size, after->checkpoint.size, before->checkpoint.root,
                           after->checkpoint.root, *proof));
  // The confirmed delivery is not sent again; the new request is.
  auto niger_again = test::connect_client(broker, pki, "ne.focal-point");
  const auto redelivered = receive(*niger_again, 2, 3s);
  REQUIRE(redelivered.size() == 1);
  CHECK(redelivered[0].envelope != request);
  CHECK(cluster.scalar("exchange", "SELECT COUNT(*) FROM messages") == "3");
}
