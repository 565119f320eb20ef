// The observer's side against the real fpx-broker: the public feed, its
// allow-listed records, checkpoints and proofs, and `fpx log verify` against
// a tampered store file.
#include <sqlite3.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include <catch2/catch.hpp>

#include "fpx/client.hpp"
#include "fpx/observer_client.hpp"
#include "fpx/transparency_log.hpp"
#include "support/broker_clients.hpp"
#include "support/broker_process.hpp"
#include "support/sample_messages.hpp"
#include "support/test_pki.hpp"

using namespace fpx;
using namespace std::chrono_literals;
using client::ObserverClient;
using wire::MessageType;

namespace {

struct Oversight {
  Oversight() : pki({"SN", "NE", "BF"}) {
    pki.issue("sn.focal-point", "SN", Role::focal_point);
    pki.issue("ne.focal-point", "NE", Role::focal_point);
    pki.issue("bf.focal-point", "BF", Role::focal_point);
    pki.issue("sn.police-judiciaire", "SN", Role::agency);
    pki.issue("cso.sahel-watch", "SN", Role::observer, {.via_intermediate = false});
    broker = std::make_unique<test::BrokerProcess>(
        pki, std::vector<std::string>{"sn.focal-point", "ne.focal-point", "bf.focal-point", "sn.police-judiciaire",
                                      "cso.sahel-watch"});
  }

  std::unique_ptr<client::Client> participant(const std::string& id) {
    return test::connect_client(*broker, pki, id);
  }

  client::ObserverOptions observer_options() {
    client::ObserverOptions options;
    options.endpoint = broker->observers_endpoint();
    options.broker_chain = *Certificate::load_pem_file(broker_chain());
    options.root_ca = pki.root_pem();
    options.broker_pins = test::broker_pins(pki);
    return options;
  }

  std::unique_ptr<ObserverClient> observer(const std::string& id = "cso.sahel-watch") {
    auto connected = ObserverClient::connect(pki.identity(id), observer_options());
    if (!connected) FAIL(connected.error().describe());
    return std::move(connected).value();
  }

  std::filesystem::path broker_chain() const { return pki.dir() / "participants" / "exchange.broker" / kChainFile; }

  // Everything public the scenario makes: two requests and their answers stay
  // private; a campaign report and a publishable alert become records.
  void play() {
    auto agency = participant("sn.police-judiciaire");
    auto niger = participant("ne.focal-point");
    auto senegal = participant("sn.focal-point");
    auto burkina = participant("bf.focal-point");
    auto request = test::seal_sample(pki.identity("sn.police-judiciaire"), MessageType::TRACING_REQUEST);
    REQUIRE(agency->submit(request).ok());
    REQUIRE(senegal->submit(test::seal_sample(pki.identity("sn.focal-point"), MessageType::CAMPAIGN_REPORT)).ok());
    auto alert = test::seal_changed(pki.identity("bf.focal-point"), MessageType::ALERT, [](auto header, auto) {
      header.initRecipients(1)[0].setRegion("Sahel");
    });
    REQUIRE(burkina->submit(alert).ok());
  }

  test::TestPki pki;
  std::unique_ptr<test::BrokerProcess> broker;
};

// Follows until a record of `kind` (and a checkpoint covering it) arrived.
std::vector<client::FeedRecord> follow_until(ObserverClient& observer, std::uint64_t from,
                                             const std::vector<std::string>& kinds) {
  std::vector<client::FeedRecord> seen;
  auto deadline = std::chrono::steady_clock::now() + 15s;
  std::uint64_t next = from;
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

struct Run {
  int exit_code = -1;
  std::string out;
};

Run run(const std::string& command, const std::filesystem::path& dir) {
  auto out = dir / "fpx.out";
  int status = std::system((command + " > " + out.string() + " 2>&1").c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, test::read_file(out)};
}

}  // namespace

TEST_CASE("an observer follows the public feed: campaign reports, redacted alerts and signed checkpoints") {
  Oversight oversight;
  oversight.play();
  auto observer = oversight.observer();
  auto records = follow_until(*observer, 1, {"campaign-report", "public-alert", "checkpoint"});
  REQUIRE(records.size() >= 3);
  for (std::size_t i = 0; i < records.size(); ++i) CHECK(records[i].sequence == i + 1);  // no gap

  // Public records are allow-listed: nothing private leaks, whatever the kind.
  for (const auto& record : records) {
    INFO(record.signed_record);
    for (const char* secret : {"AK-4711-ZG", "SN-ZIG-2026-0142", "Ouagadougou", "Izhmash", "sn.police-judiciaire",
                               "Societe Nigerienne", "armed robbery", "Ziguinchor\",\"seized"}) {
      CHECK(record.signed_record.find(secret) == std::string::npos);
    }
    CHECK(record.kind != "tracing-request");
  }
  auto alert = std::find_if(records.begin(), records.end(), [](const auto& r) { return r.kind == "public-alert"; });
  CHECK_THAT(alert->signed_record, Catch::Contains("\"alertKind\":\"stolen\"") &&
                                       Catch::Contains("\"region\":\"Sahel\"") &&
                                       Catch::Contains("\"month\":\"2026-11\""));
  auto report = std::find_if(records.begin(), records.end(), [](const auto& r) { return r.kind == "campaign-report"; });
  CHECK_THAT(report->signed_record, Catch::Contains("\"weaponsCollected\":412") && Catch::Contains("Fatick"));

  // Every record of an accepted message is in the log under the latest checkpoint.
  auto head = observer->latest_checkpoint();
  REQUIRE(head.ok());
  REQUIRE(head->checkpoint.size >= 3);
  for (const auto& record : records) {
    if (!record.log_index || *record.log_index >= head->checkpoint.size) continue;
    auto proof = observer->inclusion_proof(*record.log_index, head->checkpoint.size);
    REQUIRE(proof.ok());
    CHECK(verify_inclusion(*record.leaf_hash, *record.log_index, head->checkpoint.size, *proof,
                           head->checkpoint.root));
  }
}

TEST_CASE("a late observer gets everything, and a reconnecting one resumes without loss or repeat") {
  Oversight oversight;
  oversight.play();
  std::vector<client::FeedRecord> first;
  {
    auto observer = oversight.observer();
    first = follow_until(*observer, 1, {"campaign-report", "public-alert", "checkpoint"});
  }
  // More happens while nobody watches.
  auto senegal = oversight.participant("sn.focal-point");
  REQUIRE(senegal->submit(test::seal_sample(oversight.pki.identity("sn.focal-point"), MessageType::CAMPAIGN_REPORT)).ok());

  auto late = oversight.observer();
  auto resumed = follow_until(*late, first.back().sequence + 1, {"campaign-report"});
  REQUIRE_FALSE(resumed.empty());
  CHECK(resumed.front().sequence == first.back().sequence + 1);
  auto everything = late->follow(1, 1000);
  REQUIRE(everything.ok());
  REQUIRE(everything->records.size() >= first.size() + resumed.size());
  for (std::size_t i = 0; i < first.size(); ++i) CHECK(everything->records[i].signed_record == first[i].signed_record);
}

TEST_CASE("checkpoints grow consistently, and only observers may use the observer endpoint") {
  Oversight oversight;
  oversight.play();
  auto observer = oversight.observer();
  follow_until(*observer, 1, {"checkpoint"});
  auto before = observer->latest_checkpoint();
  REQUIRE(before.ok());
  oversight.play();
  auto deadline = std::chrono::steady_clock::now() + 10s;
  auto after = observer->latest_checkpoint();
  while (after.ok() && after->checkpoint.size == before->checkpoint.size && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
    after = observer->latest_checkpoint();
  }
  REQUIRE(after.ok());
  REQUIRE(after->checkpoint.size > before->checkpoint.size);
  auto proof = observer->consistency_proof(before->checkpoint.size, after->checkpoint.size);
  REQUIRE(proof.ok());
  CHECK(verify_consistency(before->checkpoint.size, after->checkpoint.size, before->checkpoint.root,
                           after->checkpoint.root, *proof));

  // A participant's key is refused at the observer endpoint's handshake.
  auto agency = ObserverClient::connect(oversight.pki.identity("sn.police-judiciaire"), oversight.observer_options());
  REQUIRE_FALSE(agency.ok());
  CHECK_THAT(agency.error().message, Catch::Contains("handshake refused"));
}

TEST_CASE("fpx log verify passes on the untouched store and names the broken proof after one leaf is changed") {
  Oversight oversight;
  oversight.play();
  auto dir = oversight.pki.dir() / "observer-profile";
  const std::string fpx = std::string(FPX_BIN_DIR) + "/fpx --profile " + dir.string();
  auto init = run(std::string(FPX_BIN_DIR) + "/fpx profile init --dir " + dir.string() + " --identity " +
                      (oversight.pki.dir() / "participants" / "cso.sahel-watch").string() + " --observer-endpoint " +
                      oversight.broker->observers_endpoint() + " --broker-cert " + oversight.broker_chain().string() +
                      " --root-ca " + oversight.pki.root_pem().string(),
                  oversight.pki.dir());
  REQUIRE(init.exit_code == 0);
  {
    auto observer = oversight.observer();
    follow_until(*observer, 1, {"campaign-report", "public-alert", "checkpoint"});
  }
  auto observed = run(fpx + " observe --wait 2", oversight.pki.dir());
  INFO(observed.out);
  REQUIRE(observed.exit_code == 0);
  auto verified = run(fpx + " log verify", oversight.pki.dir());
  INFO(verified.out);
  REQUIRE(verified.exit_code == 0);

  // Change the stored leaf beside the campaign report's (its proof's sibling).
  auto records = oversight.observer()->follow(1, 1000);
  REQUIRE(records.ok());
  auto report = std::find_if(records->records.begin(), records->records.end(),
                             [](const auto& r) { return r.kind == "campaign-report"; });
  REQUIRE(report != records->records.end());
  const std::uint64_t sibling = *report->log_index ^ 1;
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(oversight.broker->database().c_str(), &db) == SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  std::string update = "UPDATE log_leaves SET leaf_hash = randomblob(32) WHERE leaf_index = " + std::to_string(sibling);
  REQUIRE(sqlite3_exec(db, update.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
  CHECK(sqlite3_changes(db) == 1);
  sqlite3_close(db);

  auto broken = run(fpx + " log verify", oversight.pki.dir());
  INFO(broken.out);
  CHECK(broken.exit_code == 1);
  CHECK_THAT(broken.out, Catch::Contains("log index " + std::to_string(*report->log_index)) &&
                             Catch::Contains("not included"));
}
