// Issue 15: the records a real fpx-broker signs on its feed are the bytes of
// the one codec (protocol/fpx/public_records.hpp): a campaign report built by
// the broker is, byte for byte, the known JSON of the sample report (its
// fields as PROTOCOL.md §11 lists them, keys sorted), and every record of a
// real feed decodes as its kind with no field left over and encodes back to
// exactly the bytes that were signed.
#include <algorithm>
#include <chrono>
#include <thread>

#include <catch2/catch.hpp>

#include "fpx/client.hpp"
#include "fpx/observer_client.hpp"
#include "fpx/public_records.hpp"
#include "support/broker_clients.hpp"
#include "support/broker_process.hpp"
#include "support/sample_messages.hpp"
#include "support/test_pki.hpp"

using namespace fpx;
using namespace std::chrono_literals;
using test::TestPki;
using wire::MessageType;

TEST_CASE("The records a real broker signs are the bytes of the public records codec") {
  TestPki pki({"SN", "NE", "BF"});
  pki.issue("sn.focal-point", "SN", Role::focal_point);
  pki.issue("ne.focal-point", "NE", Role::focal_point);
  pki.issue("bf.focal-point", "BF", Role::focal_point);
  pki.issue("cso.sahel-watch", "SN", Role::observer, {.via_intermediate = false});
  test::BrokerProcess broker(pki, {"sn.focal-point", "ne.focal-point", "bf.focal-point", "cso.sahel-watch"});
  auto senegal = test::connect_client(broker, pki, "sn.focal-point");
  REQUIRE(senegal->submit(test::seal_sample(pki.identity("sn.focal-point"), MessageType::CAMPAIGN_REPORT)).ok());
  auto burkina = test::connect_client(broker, pki, "bf.focal-point");
  // Addressed to the broker's configured region "Sahel" (the sample's ECOWAS is not one).
  auto alert = test::seal_changed(pki.identity("bf.focal-point"), MessageType::ALERT, [](auto header, auto) {
    header.initRecipients(1)[0].setRegion("Sahel");
  });
  REQUIRE(burkina->submit(alert).ok());

  auto observer = client::ObserverClient::connect(pki.identity("cso.sahel-watch"), test::observer_options(broker, pki));
  REQUIRE(observer.ok());
  // The report, the alert and a checkpoint after them (the test broker
  // checkpoints every 500 ms).
  std::vector<client::FeedRecord> feed;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  auto has = [&](std::string_view kind) {
    return std::any_of(feed.begin(), feed.end(), [&](const auto& record) { return record.kind == kind; });
  };
  while (!(has("campaign-report") && has("public-alert") && feed.back().kind == "checkpoint") &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(200ms);
    auto page = (*observer)->follow(1, 1000);
    REQUIRE(page.ok());
    feed = page->records;
  }
  REQUIRE(has("campaign-report"));
  REQUIRE(has("public-alert"));

  for (const auto& record : feed) {
    INFO(record.signed_record);
    auto decoded = records::decode_record(record.signed_record);
    REQUIRE(decoded.ok());
    REQUIRE(decoded->record);
    CHECK(records::kind_name(records::kind_of(*decoded->record)) == record.kind);
    CHECK(decoded->unknown_fields.empty());
    CHECK(records::encode_record(*decoded->record) == record.signed_record);
  }

  // The golden record: the sample campaign report (tests/support/sample_messages.cpp)
  // as the broker published it before the codec, its leaves and sequence
  // as this run gave them.
  const auto report = *std::find_if(feed.begin(), feed.end(), [](const auto& r) { return r.kind == "campaign-report"; });
  REQUIRE(report.log_index);
  REQUIRE(report.message_log_index);
  REQUIRE(report.message_leaf_hash);
  const std::string golden =
      "{\"commission\":\"Commission nationale\",\"communityPartners\":[\"community radio network\"],"
      "\"country\":\"SN\",\"kind\":\"campaign-report\",\"logIndex\":" +
      std::to_string(*report.log_index) + ",\"messageLeafHash\":\"" + to_hex(*report.message_leaf_hash) +
      "\",\"messageLogIndex\":" + std::to_string(*report.message_log_index) +
      ",\"periodEnd\":\"2018-12-31\",\"periodStart\":\"2018-02-01\",\"regions\":[\"Fatick\",\"Thies\",\"Ziguinchor\"],"
      "\"sequence\":" +
      std::to_string(report.sequence) + ",\"weaponsCollected\":412,\"weaponsDestroyed\":380}";
  CHECK(report.signed_record == golden);
}
