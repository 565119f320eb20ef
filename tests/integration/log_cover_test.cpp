// Nothing published outside the log (issue 13, item 1 and the participant
// half of item 3), against the real fpx-broker and the real fpx CLI:
// every feed record is covered by the next checkpoint after it, public
// alerts and campaign reports are bound to their own leaves, forged records
// signed with the real broker key are caught with their evidence, and a
// participant proves its own message is in the log (`fpx log prove`).
#include <sqlite3.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <thread>

#include <catch2/catch.hpp>

#include "fpx/client.hpp"
#include "fpx/envelope.hpp"
#include "fpx/message_log_proof.hpp"
#include "fpx/observer_client.hpp"
#include "fpx/transparency_log.hpp"
#include "support/broker_clients.hpp"
#include "support/broker_process.hpp"
#include "support/command_run.hpp"
#include "support/feed_forgery.hpp"
#include "support/sample_messages.hpp"
#include "support/test_pki.hpp"

using namespace fpx;
using namespace std::chrono_literals;
using client::ObserverClient;
using wire::MessageType;

namespace {

const std::filesystem::path kExamples = std::filesystem::path(FPX_SOURCE_DIR) / "deploy" / "examples";

// A log index no broker of these tests reaches (below 2^53, so readable).
constexpr std::uint64_t kFutureLogIndex = 9007199254740000ULL;

struct Exchange {
  Exchange() : pki({"SN", "NE", "BF"}) {
    pki.issue("sn.focal-point", "SN", Role::focal_point);
    pki.issue("ne.focal-point", "NE", Role::focal_point);
    pki.issue("bf.focal-point", "BF", Role::focal_point);
    pki.issue("sn.police-judiciaire", "SN", Role::agency);
    pki.issue("cso.sahel-watch", "SN", Role::observer, {.via_intermediate = false});
    broker = std::make_unique<test::BrokerProcess>(
        pki, std::vector<std::string>{"sn.focal-point", "ne.focal-point", "bf.focal-point", "sn.police-judiciaire",
                                      "cso.sahel-watch"});
  }

  std::filesystem::path broker_chain() const { return pki.dir() / "participants" / "exchange.broker" / kChainFile; }

  std::unique_ptr<ObserverClient> observer() {
    client::ObserverOptions options;
    options.endpoint = broker->observers_endpoint();
    options.broker_chain = *Certificate::load_pem_file(broker_chain());
    options.root_ca = pki.root_pem();
    options.broker_pins = test::broker_pins(pki);
    auto connected = ObserverClient::connect(pki.identity("cso.sahel-watch"), options);
    if (!connected) FAIL(connected.error().describe());
    return std::move(connected).value();
  }

  // A publishable alert and a campaign report: two public records.
  void publish() {
    auto senegal = test::connect_client(*broker, pki, "sn.focal-point");
    auto burkina = test::connect_client(*broker, pki, "bf.focal-point");
    REQUIRE(senegal->submit(test::seal_sample(pki.identity("sn.focal-point"), MessageType::CAMPAIGN_REPORT)).ok());
    auto alert = test::seal_changed(pki.identity("bf.focal-point"), MessageType::ALERT, [](auto header, auto) {
      header.initRecipients(1)[0].setRegion("Sahel");
    });
    REQUIRE(burkina->submit(alert).ok());
  }

  // Makes the log grow by one message (a tracing request: no feed record).
  void grow_log() {
    auto agency = test::connect_client(*broker, pki, "sn.police-judiciaire");
    REQUIRE(agency->submit(test::seal_sample(pki.identity("sn.police-judiciaire"), MessageType::TRACING_REQUEST)).ok());
  }

  // Waits until the latest checkpoint covers the whole log and the feed
  // ends with it: the broker is quiet.
  std::uint64_t settle() {
    auto watcher = observer();
    std::uint64_t size = 0;
    std::uint64_t seen_in_a_row = 0;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (seen_in_a_row < 3 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(400ms);  // under the test broker's 500 ms checkpoint interval
      auto head = watcher->latest_checkpoint();
      if (head.ok() && head->checkpoint.size == size) {
        ++seen_in_a_row;
      } else {
        seen_in_a_row = 0;
        if (head.ok()) size = head->checkpoint.size;
      }
    }
    REQUIRE(seen_in_a_row >= 3);
    return size;
  }

  std::uint64_t forge_record(const std::string& kind, const std::string& fields) {
    return test::forge_feed_record(broker->database(), pki.identity("exchange.broker"), kind, fields);
  }

  // An fpx observer profile (cso.sahel-watch) for `fpx observe` and `fpx log verify`.
  std::filesystem::path observer_profile() {
    const auto dir = pki.dir() / "observer-profile";
    if (std::filesystem::exists(dir / "fpx.toml")) return dir;
    auto init = test::run_fpx(pki.dir(), {"profile", "init", "--dir", dir.string(), "--identity",
                                          (pki.dir() / "participants" / "cso.sahel-watch").string(),
                                          "--observer-endpoint", broker->observers_endpoint(), "--broker-cert",
                                          broker_chain().string(), "--root-ca", pki.root_pem().string()});
    INFO(init.out << init.err);
    REQUIRE(init.exit_code == 0);
    return dir;
  }

  test::CommandRun fpx_as_observer(std::vector<std::string> args) {
    args.insert(args.begin(), {"--profile", observer_profile().string()});
    return test::run_fpx(pki.dir(), args);
  }

  test::TestPki pki;
  std::unique_ptr<test::BrokerProcess> broker;
};

std::vector<client::FeedRecord> whole_feed(ObserverClient& observer) {
  std::vector<client::FeedRecord> records;
  std::uint64_t next = 1;
  for (;;) {
    auto page = observer.follow(next, 1000);
    if (!page) FAIL(page.error().describe());
    for (auto& record : page->records) records.push_back(std::move(record));
    if (page->records.empty()) return records;
    next = page->next_sequence;
  }
}

const client::FeedRecord& record_of_kind(const std::vector<client::FeedRecord>& records, const std::string& kind) {
  auto found = std::find_if(records.begin(), records.end(), [&](const auto& record) { return record.kind == kind; });
  if (found == records.end()) FAIL("no " << kind << " record on the feed");
  return *found;
}

}  // namespace

TEST_CASE("an honest feed verifies: every record is covered by the next checkpoint and public records are bound to "
          "their own leaves") {
  Exchange exchange;
  exchange.publish();
  exchange.settle();
  auto observer = exchange.observer();
  auto records = whole_feed(*observer);  // follow() checked the cover of every record
  auto head = observer->latest_checkpoint();
  REQUIRE(head.ok());

  for (const char* kind : {"public-alert", "campaign-report"}) {
    const auto& record = record_of_kind(records, kind);
    INFO(record.signed_record);
    CHECK(record.bound);
    REQUIRE(record.log_index);
    REQUIRE(record.message_log_index);
    CHECK(*record.message_log_index < *record.log_index);
    // The leaf is computed from the very bytes shown, and it is the log's leaf.
    CHECK(*record.leaf_hash == leaf_hash(public_record_leaf_data(record.signed_record)));
    for (auto [index, hash] : {std::pair{*record.log_index, *record.leaf_hash},
                               std::pair{*record.message_log_index, *record.message_leaf_hash}}) {
      auto proof = observer->inclusion_proof(index, head->checkpoint.size);
      REQUIRE(proof.ok());
      CHECK(verify_inclusion(hash, index, head->checkpoint.size, *proof, head->checkpoint.root));
    }
  }

  auto observed = exchange.fpx_as_observer({"observe"});
  INFO(observed.out << observed.err);
  REQUIRE(observed.exit_code == 0);
  auto verified = exchange.fpx_as_observer({"log", "verify"});
  INFO(verified.out << verified.err);
  CHECK(verified.exit_code == 0);
  CHECK_THAT(verified.out, Catch::Contains("binding: 2 record(s) are their own leaf"));
  auto json = exchange.fpx_as_observer({"--json", "log", "verify"});
  CHECK(json.exit_code == 0);
  CHECK_THAT(json.out, Catch::Contains("\"recordsBound\":2") && Catch::Contains("\"recordsNotBound\":0") &&
                           Catch::Contains("\"recordsPending\":0"));
}

TEST_CASE("a record signed by the broker key with a future log index fails the observer and fpx log verify with the "
          "evidence once the next checkpoint does not cover it") {
  Exchange exchange;
  exchange.publish();
  exchange.settle();
  // The observer keeps the feed as it is, then the forged record while it is the tail.
  REQUIRE(exchange.fpx_as_observer({"observe"}).exit_code == 0);
  const auto forged = exchange.forge_record(
      "public-alert", "\"alertKind\":\"stolen\",\"issuingCountry\":\"BF\",\"region\":\"Sahel\",\"month\":\"2026-11\","
                      "\"logIndex\":" + std::to_string(kFutureLogIndex));
  auto tail = exchange.fpx_as_observer({"observe"});
  INFO(tail.out << tail.err);
  REQUIRE(tail.exit_code == 0);  // the tail may wait for its checkpoint
  auto pending = exchange.fpx_as_observer({"--json", "log", "verify"});
  INFO(pending.out << pending.err);
  CHECK(pending.exit_code == 0);
  CHECK_THAT(pending.out, Catch::Contains("\"recordsPending\":1"));

  // The log grows, and the broker publishes its next checkpoint after the record.
  exchange.grow_log();
  const auto size = exchange.settle();
  REQUIRE(size < kFutureLogIndex);

  // Following from the start: the page holding the record and its checkpoint is refused.
  auto page = exchange.observer()->follow(1, 1000);
  REQUIRE_FALSE(page.ok());
  CHECK(page.error().code == ErrorCode::bad_signature);
  CHECK_THAT(page.error().message, Catch::Contains("feed record " + std::to_string(forged)) &&
                                       Catch::Contains("names log index " + std::to_string(kFutureLogIndex)) &&
                                       Catch::Contains("has tree size " + std::to_string(size)));

  // fpx observe from where it stopped takes the checkpoint; log verify walks
  // the kept feed and fails with the evidence.
  auto later = exchange.fpx_as_observer({"observe"});
  INFO(later.out << later.err);
  REQUIRE(later.exit_code == 0);
  auto verify = exchange.fpx_as_observer({"log", "verify"});
  INFO(verify.out << verify.err);
  CHECK(verify.exit_code == 1);
  CHECK_THAT(verify.err, Catch::Contains("FAILED: feed record " + std::to_string(forged) + " (public-alert) names log index " +
                                         std::to_string(kFutureLogIndex)) &&
                             Catch::Contains("tree size " + std::to_string(size)) &&
                             Catch::Contains("not in its log") && Catch::Contains("\"alertKind\":\"stolen\""));
  auto json = exchange.fpx_as_observer({"--json", "log", "verify"});
  CHECK_THAT(json.out, Catch::Contains("\"coverFailure\":\"not_covered\""));
}

TEST_CASE("a forged record at the feed's end that no checkpoint ever covers fails fpx log verify once it waited "
          "longer than the checkpoint interval") {
  Exchange exchange;
  exchange.publish();
  exchange.settle();
  const auto forged = exchange.forge_record(
      "campaign-report", "\"country\":\"SN\",\"weaponsCollected\":9999,\"logIndex\":" + std::to_string(kFutureLogIndex));
  REQUIRE(exchange.fpx_as_observer({"observe"}).exit_code == 0);
  auto young = exchange.fpx_as_observer({"log", "verify"});
  INFO(young.out << young.err);
  CHECK(young.exit_code == 0);
  CHECK_THAT(young.out, Catch::Contains("1 not yet covered by a checkpoint"));

  // An hour later (the kept line's fetch time moved back an hour), with no
  // checkpoint after it: the broker signed a record it never logged.
  const auto records_file = exchange.observer_profile() / "feed" / "records.jsonl";
  std::ifstream in(records_file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  const auto an_hour_ago = std::chrono::duration_cast<std::chrono::milliseconds>(
                               (std::chrono::system_clock::now() - 1h).time_since_epoch())
                               .count();
  text = std::regex_replace(text, std::regex("\"fetchedAtMs\":[0-9]+"), "\"fetchedAtMs\":" + std::to_string(an_hour_ago));
  std::ofstream(records_file, std::ios::trunc) << text;

  auto late = exchange.fpx_as_observer({"log", "verify", "--checkpoint-interval", "60"});
  INFO(late.out << late.err);
  CHECK(late.exit_code == 1);
  CHECK_THAT(late.err, Catch::Contains("feed record " + std::to_string(forged) + " (campaign-report) names log index " +
                                       std::to_string(kFutureLogIndex)) &&
                           Catch::Contains("no checkpoint covers it") && Catch::Contains("\"weaponsCollected\":9999"));
}

TEST_CASE("a public alert whose content was altered after logging fails fpx log verify: its leaf is not the log's") {
  Exchange exchange;
  exchange.publish();
  exchange.settle();
  auto records = whole_feed(*exchange.observer());
  const auto alert = record_of_kind(records, "public-alert");
  std::string altered = alert.signed_record;
  const auto at = altered.find("\"stolen\"");
  REQUIRE(at != std::string::npos);
  altered.replace(at, 8, "\"lost\"");
  test::rewrite_feed_record(exchange.broker->database(), exchange.pki.identity("exchange.broker"), alert.sequence,
                            "public-alert", altered);

  auto observed = exchange.fpx_as_observer({"observe"});
  INFO(observed.out << observed.err);
  REQUIRE(observed.exit_code == 0);  // signed by the real key, covered: only the proof can tell
  auto verify = exchange.fpx_as_observer({"log", "verify"});
  INFO(verify.out << verify.err);
  CHECK(verify.exit_code == 1);
  CHECK_THAT(verify.err, Catch::Contains("record " + std::to_string(alert.sequence) + " (public-alert, log index " +
                                         std::to_string(*alert.log_index) + ") is not included"));
}

TEST_CASE("fpx log prove shows that a message sent with fpx is in the log at its receipt's index") {
  Exchange exchange;
  const auto profile = exchange.pki.dir() / "profiles" / "sn.focal-point";
  auto init = test::run_fpx(exchange.pki.dir(),
                            {"profile", "init", "--dir", profile.string(), "--identity",
                             (exchange.pki.dir() / "participants" / "sn.focal-point").string(), "--broker-endpoint",
                             exchange.broker->endpoint(), "--broker-cert", exchange.broker_chain().string(),
                             "--root-ca", exchange.pki.root_pem().string(), "--crl-dir",
                             exchange.pki.crl_dir().string()});
  INFO(init.out << init.err);
  REQUIRE(init.exit_code == 0);
  auto sent = test::run_fpx(exchange.pki.dir(), {"--profile", profile.string(), "--json", "campaign", "publish",
                                                 (kExamples / "campaign-report.json").string()});
  INFO(sent.out << sent.err);
  REQUIRE(sent.exit_code == 0);
  std::smatch id;
  REQUIRE(std::regex_search(sent.out, id, std::regex("\"messageId\":\"([0-9a-f]{32})\"")));
  exchange.settle();

  auto proved = test::run_fpx(exchange.pki.dir(), {"--profile", profile.string(), "log", "prove", id[1].str()});
  INFO(proved.out << proved.err);
  REQUIRE(proved.exit_code == 0);
  // The index is the one the feed names for this campaign report's message.
  auto records = whole_feed(*exchange.observer());
  const auto& report = record_of_kind(records, "campaign-report");
  REQUIRE(report.message_log_index);
  CHECK_THAT(proved.out, Catch::Contains("included at index " + std::to_string(*report.message_log_index) + "\n") &&
                             Catch::Contains("signed by the pinned broker key") &&
                             Catch::Contains("\"campaign-report|SN|"));

  // The saved file works as well as the id.
  auto by_file = test::run_fpx(exchange.pki.dir(), {"--profile", profile.string(), "--json", "log", "prove",
                                                    (profile / "sent" / (id[1].str() + ".fpx")).string()});
  INFO(by_file.out << by_file.err);
  CHECK(by_file.exit_code == 0);
  CHECK_THAT(by_file.out, Catch::Contains("\"logIndex\":" + std::to_string(*report.message_log_index)));

  // Another state's focal point may not ask: to it the message does not exist.
  auto niger = test::connect_client(*exchange.broker, exchange.pki, "ne.focal-point");
  auto stranger = niger->log_proof(*MessageId::from_bytes(*from_hex(id[1].str())));
  REQUIRE_FALSE(stranger.ok());
  CHECK(stranger.error().code == ErrorCode::not_found);

  // A log whose tree no longer holds the leaf (its sibling changed in the
  // store): the proof no longer reaches the signed root, and prove says so.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(exchange.broker->database().c_str(), &db) == SQLITE_OK);
  sqlite3_busy_timeout(db, 10000);
  const std::string update = "UPDATE log_leaves SET leaf_hash = randomblob(32) WHERE leaf_index = " +
                             std::to_string(*report.message_log_index ^ 1);
  REQUIRE(sqlite3_exec(db, update.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
  CHECK(sqlite3_changes(db) == 1);
  sqlite3_close(db);
  auto broken = test::run_fpx(exchange.pki.dir(), {"--profile", profile.string(), "log", "prove", id[1].str()});
  INFO(broken.out << broken.err);
  CHECK(broken.exit_code == 1);
  CHECK_THAT(broken.err, Catch::Contains("is not included in the checkpoint's tree"));
}
