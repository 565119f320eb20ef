// Operations against the real fpx-broker (issue 16): its /metrics over a
// real HTTP request, fpx-admin's backup under load and restore, audit
// export, dead letters, and a retention run after which `fpx log verify`
// still passes.
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <mutex>
#include <chrono>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <catch2/catch.hpp>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "fpx/broker/store.hpp"
#include "fpx/client.hpp"
#include "fpx/observer_client.hpp"
#include "fpx/transparency_log.hpp"
#include "support/broker_clients.hpp"
#include "support/broker_process.hpp"
#include "support/command_run.hpp"
#include "support/loopback_port.hpp"
#include "support/postgres_cluster.hpp"
#include "support/sample_messages.hpp"
#include "support/test_pki.hpp"

using namespace fpx;
using namespace std::chrono_literals;
using wire::MessageType;

namespace {

const std::vector<std::string> kParticipants = {"sn.focal-point", "ne.focal-point", "bf.focal-point",
                                                "sn.police-judiciaire", "cso.sahel-watch"};

struct Exchange {
  explicit Exchange(test::BrokerOptions options = {}) : pki({"SN", "NE", "BF"}) {
    pki.issue("sn.focal-point", "SN", Role::focal_point);
    pki.issue("ne.focal-point", "NE", Role::focal_point);
    pki.issue("bf.focal-point", "BF", Role::focal_point);
    pki.issue("sn.police-judiciaire", "SN", Role::agency);
    pki.issue("cso.sahel-watch", "SN", Role::observer, {.via_intermediate = false});
    broker = std::make_unique<test::BrokerProcess>(pki, kParticipants, std::move(options));
  }
  std::unique_ptr<client::Client> connect(const std::string& id) { return test::connect_client(*broker, pki, id); }

  test::TestPki pki;
  std::unique_ptr<test::BrokerProcess> broker;
};

test::CommandRun admin(const std::filesystem::path& dir, const std::vector<std::string>& args) {
  std::vector<std::string> words = {std::string(FPX_BIN_DIR) + "/fpx-admin"};
  words.insert(words.end(), args.begin(), args.end());
  return test::run_command(words, dir);
}

std::vector<client::Delivery> receive(client::Client& client, std::size_t count, std::chrono::milliseconds within = 15s) {
  std::vector<client::Delivery> received;
  auto deadline = std::chrono::steady_clock::now() + within;
  while (received.size() < count && std::chrono::steady_clock::now() < deadline) {
    auto batch = client.poll(200ms);
    if (!batch) FAIL("poll failed: " << batch.error().describe());
    for (auto& delivery : *batch) {
      REQUIRE(client.confirm(delivery).ok());
      received.push_back(std::move(delivery));
    }
  }
  return received;
}

// The value of an unlabelled sample ("name 12") or of one with labels
// ("name{le=\"+Inf\"} 3"), -1 when absent.
double sample(const std::string& exposition, const std::string& name_and_labels) {
  std::istringstream lines(exposition);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(name_and_labels + " ", 0) == 0) return std::stod(line.substr(name_and_labels.size() + 1));
  }
  return -1;
}

std::string scrape(int port) {
  httplib::Client http("127.0.0.1", port);
  http.set_connection_timeout(5, 0);
  http.set_read_timeout(5, 0);
  auto response = http.Get("/metrics");
  REQUIRE(response);
  REQUIRE(response->status == 200);
  CHECK_THAT(response->get_header_value("Content-Type"), Catch::StartsWith("text/plain; version=0.0.4"));
  return response->body;
}

// Scrapes until `ready` holds (the loop publishes each 250 ms tick) or 15 s pass.
std::string scrape_until(int port, const std::function<bool(const std::string&)>& ready) {
  auto deadline = std::chrono::steady_clock::now() + 15s;
  std::string body = scrape(port);
  while (!ready(body) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
    body = scrape(port);
  }
  return body;
}

Sha256Digest root_of(const std::filesystem::path& database, std::uint64_t size) {
  auto store = broker::open_sqlite_store(database);
  REQUIRE(store.ok());
  broker::StoreNodeSource nodes(**store);
  auto root = fpx::root(nodes, size);
  REQUIRE(root.ok());
  return *root;
}

std::string field_after(const std::string& text, const std::string& label) {
  const auto at = text.find(label);
  if (at == std::string::npos) return {};
  const auto start = at + label.size();
  const auto end = text.find_first_of(",\n ", start);
  return text.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

}  // namespace

TEST_CASE("a real HTTP scrape of /metrics shows the counters and latencies move with traffic") {
  const int port = test::unused_loopback_port();
  Exchange exchange({.metrics_listen = "127.0.0.1:" + std::to_string(port)});
  auto agency = exchange.connect("sn.police-judiciaire");
  auto niger = exchange.connect("ne.focal-point");

  const std::string before = scrape_until(port, [](const std::string& body) {
    return sample(body, "fpx_metrics_published") == 1;
  });
  CHECK_THAT(before, Catch::Contains("# TYPE fpx_messages_accepted_total counter"));
  CHECK_THAT(before, Catch::Contains("# TYPE fpx_receipt_latency_seconds histogram"));
  CHECK(sample(before, "fpx_messages_accepted_total") == 0);
  CHECK(sample(before, "fpx_certificate_expiry_seconds{certificate=\"broker\"}") > 0);
  CHECK(sample(before, "fpx_crl_next_update_seconds") > 0);

  auto request = test::seal_sample(exchange.pki.identity("sn.police-judiciaire"), MessageType::TRACING_REQUEST);
  REQUIRE(agency->submit(request).ok());
  REQUIRE(receive(*niger, 1).size() == 1);

  const std::string after = scrape_until(port, [](const std::string& body) {
    return sample(body, "fpx_messages_accepted_total") >= 1 && sample(body, "fpx_deliveries_confirmed_total") >= 1;
  });
  CHECK(sample(after, "fpx_messages_accepted_total") == 1);
  CHECK(sample(after, "fpx_deliveries_sent_total") >= 1);
  CHECK(sample(after, "fpx_deliveries_confirmed_total") >= 1);
  CHECK(sample(after, "fpx_commits_total") > sample(before, "fpx_commits_total"));
  CHECK(sample(after, "fpx_receipt_latency_seconds_count") == 1);
  CHECK(sample(after, "fpx_receipt_latency_seconds_bucket{le=\"+Inf\"}") == 1);
  CHECK(sample(after, "fpx_delivery_latency_seconds_count") >= 1);
  CHECK(sample(after, "fpx_store_commit_seconds_count") >= 1);
  CHECK(sample(after, "fpx_sessions") >= 2);
}

TEST_CASE("a backup taken while a client submits restores to a broker that serves every receipted message with "
          "the same log root") {
  Exchange exchange;
  const auto dir = exchange.pki.dir();
  const auto backup = dir / "backup.db";

  // Receipts before the backup began must all be in it.
  std::vector<MessageId> receipted_before;
  std::atomic<bool> backing_up{false};
  std::atomic<bool> stop{false};
  std::atomic<int> receipted_total{0};
  std::mutex guard;  // the test's own: receipted_before between the two threads
  std::thread load([&] {
    auto agency = exchange.connect("sn.police-judiciaire");
    auto identity = exchange.pki.identity("sn.police-judiciaire");
    while (!stop) {
      auto request = test::seal_sample(identity, MessageType::TRACING_REQUEST);
      const bool before = !backing_up;
      auto receipt = agency->submit(request);
      if (!receipt) continue;
      ++receipted_total;
      if (before) {
        std::lock_guard<std::mutex> lock(guard);
        receipted_before.push_back(receipt->message_id);
      }
    }
  });
  while (receipted_total < 20) std::this_thread::sleep_for(20ms);
  backing_up = true;
  auto taken = admin(dir, {"--store", exchange.broker->database().string(), "backup", "--to", backup.string()});
  const int during = receipted_total;
  while (receipted_total < during + 10) std::this_thread::sleep_for(20ms);  // load went on after it
  stop = true;
  load.join();
  INFO(taken.out << taken.err);
  REQUIRE(taken.exit_code == 0);
  CHECK((std::filesystem::status(backup).permissions() & std::filesystem::perms::all) ==
        (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));
  const std::string backup_root = field_after(taken.out, "root ");
  const std::uint64_t backup_size = std::stoull(field_after(taken.out, "log size "));
  REQUIRE(backup_root.size() == 64);

  // Restore refuses the store the running broker holds.
  auto refused = admin(dir, {"restore", "--from", backup.string(), "--to", exchange.broker->database().string()});
  CHECK(refused.exit_code == 1);
  CHECK_THAT(refused.err, Catch::Contains("in use"));

  REQUIRE(exchange.broker->stop() == 0);
  // The original as it ended, for its root at the backup's size.
  const auto original = dir / "original.db";
  REQUIRE(admin(dir, {"--store", exchange.broker->database().string(), "backup", "--to", original.string()})
              .exit_code == 0);
  CHECK(to_hex(root_of(original, backup_size)) == backup_root);

  auto restored = admin(dir, {"restore", "--from", backup.string(), "--to", exchange.broker->database().string()});
  INFO(restored.out << restored.err);
  REQUIRE(restored.exit_code == 0);
  CHECK(field_after(restored.out, "root ") == backup_root);

  exchange.broker->start();
  // Niger's focal point never connected: the restored broker delivers every
  // message receipted before the backup began, each once.
  auto niger = exchange.connect("ne.focal-point");
  std::set<MessageId> expected(receipted_before.begin(), receipted_before.end());
  REQUIRE(expected.size() >= 20);
  std::set<MessageId> delivered;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!std::includes(delivered.begin(), delivered.end(), expected.begin(), expected.end()) &&
         std::chrono::steady_clock::now() < deadline) {
    for (const auto& delivery : receive(*niger, 1, 1s)) delivered.insert(delivery.opened.message_id);
  }
  CHECK(std::includes(delivered.begin(), delivered.end(), expected.begin(), expected.end()));
  auto checked = admin(dir, {"check", "--file", exchange.broker->database().string()});
  CHECK(checked.exit_code == 0);
}

TEST_CASE("on PostgreSQL a backup taken while a client submits restores into an empty database and the broker "
          "serves every receipted message with the same log root") {
  test::PostgresCluster cluster;
  const std::string dsn = cluster.create_database("exchange");
  Exchange exchange({.postgres_dsn = dsn});
  const auto dir = exchange.pki.dir();
  const auto backup = dir / "backup.pgdump";

  std::vector<MessageId> receipted_before;
  std::atomic<bool> backing_up{false};
  std::atomic<bool> stop{false};
  std::atomic<int> receipted_total{0};
  std::mutex guard;  // the test's own: receipted_before between the two threads
  std::thread load([&] {
    auto agency = exchange.connect("sn.police-judiciaire");
    auto identity = exchange.pki.identity("sn.police-judiciaire");
    while (!stop) {
      auto request = test::seal_sample(identity, MessageType::TRACING_REQUEST);
      const bool before = !backing_up;
      auto receipt = agency->submit(request);
      if (!receipt) continue;
      ++receipted_total;
      if (before) {
        std::lock_guard<std::mutex> lock(guard);
        receipted_before.push_back(receipt->message_id);
      }
    }
  });
  while (receipted_total < 20) std::this_thread::sleep_for(20ms);
  backing_up = true;
  auto taken = admin(dir, {"--dsn", dsn, "backup", "--to", backup.string()});
  const int during = receipted_total;
  while (receipted_total < during + 10) std::this_thread::sleep_for(20ms);  // load went on after it
  stop = true;
  load.join();
  INFO(taken.out << taken.err);
  REQUIRE(taken.exit_code == 0);
  CHECK((std::filesystem::status(backup).permissions() & std::filesystem::perms::all) ==
        (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));

  // The live store passes the checks; a restore over it is refused (not empty).
  auto live = admin(dir, {"--dsn", dsn, "check"});
  INFO(live.out << live.err);
  CHECK(live.exit_code == 0);
  auto refused = admin(dir, {"--dsn", dsn, "restore", "--from", backup.string()});
  CHECK(refused.exit_code == 1);
  CHECK_THAT(refused.err, Catch::Contains("not empty"));

  // The audit trail and the dead letters read from PostgreSQL.
  auto exported = admin(dir, {"--dsn", dsn, "audit", "export", "--format", "json", "--participant",
                              "sn.police-judiciaire", "--decision", "accepted"});
  REQUIRE(exported.exit_code == 0);
  const auto rows = nlohmann::json::parse(exported.out);
  CHECK(rows.size() >= receipted_before.size());
  CHECK(std::all_of(rows.begin(), rows.end(), [](const auto& row) {
    return row["principal"] == "sn.police-judiciaire" && row["outcome"] == "accepted";
  }));
  auto dead = admin(dir, {"--dsn", dsn, "dead-letters"});
  CHECK(dead.exit_code == 0);
  CHECK(dead.out.empty());

  REQUIRE(exchange.broker->stop() == 0);
  // Lose the store: an empty database of the same name, as after losing the server.
  cluster.exec("postgres", "DROP DATABASE exchange");
  REQUIRE(cluster.create_database("exchange") == dsn);
  auto restored = admin(dir, {"--dsn", dsn, "restore", "--from", backup.string()});
  INFO(restored.out << restored.err);
  REQUIRE(restored.exit_code == 0);
  const std::string backup_root = field_after(restored.out, "root ");
  const std::uint64_t backup_size = std::stoull(field_after(restored.out, "log size "));
  REQUIRE(backup_root.size() == 64);
  CHECK(backup_size >= receipted_before.size());

  exchange.broker->start();
  auto niger = exchange.connect("ne.focal-point");
  std::set<MessageId> expected(receipted_before.begin(), receipted_before.end());
  REQUIRE(expected.size() >= 20);
  std::set<MessageId> delivered;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!std::includes(delivered.begin(), delivered.end(), expected.begin(), expected.end()) &&
         std::chrono::steady_clock::now() < deadline) {
    for (const auto& delivery : receive(*niger, 1, 1s)) delivered.insert(delivery.opened.message_id);
  }
  CHECK(std::includes(delivered.begin(), delivered.end(), expected.begin(), expected.end()));
  REQUIRE(exchange.broker->stop() == 0);
  // The restored broker continued the same log: its first backup_size leaves
  // give the backup's root.
  {
    auto store = broker::open_postgres_store(dsn);
    REQUIRE(store.ok());
    broker::StoreNodeSource nodes(**store);
    auto root = fpx::root(nodes, backup_size);
    REQUIRE(root.ok());
    CHECK(to_hex(*root) == backup_root);
  }
  auto checked = admin(dir, {"--dsn", dsn, "check"});
  INFO(checked.out << checked.err);
  CHECK(checked.exit_code == 0);
}

TEST_CASE("a retention run purges bodies while the broker runs and fpx log verify still passes") {
  Exchange exchange({.hold_ms = 1000, .extra_toml = "[retention]\ncampaign_report = \"1s\"\n"});
  const auto dir = exchange.pki.dir();
  auto senegal = exchange.connect("sn.focal-point");
  auto report = test::seal_sample(exchange.pki.identity("sn.focal-point"), MessageType::CAMPAIGN_REPORT);
  auto receipt = senegal->submit(report);
  REQUIRE(receipt.ok());
  auto request = test::seal_sample(exchange.pki.identity("sn.police-judiciaire"), MessageType::TRACING_REQUEST);
  auto agency = exchange.connect("sn.police-judiciaire");
  REQUIRE(agency->submit(request).ok());

  // Past its retention (1 s) and its hold time (1 s): the run may purge it.
  std::this_thread::sleep_for(2500ms);
  auto run = admin(dir, {"--config", exchange.broker->config_path().string(), "retention", "run"});
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  CHECK_THAT(run.out, Catch::Contains("campaign-report: 1 bodies purged"));
  auto again = admin(dir, {"--config", exchange.broker->config_path().string(), "retention", "run"});
  CHECK_THAT(again.out, Catch::Contains("campaign-report: 0 bodies purged"));

  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(exchange.broker->database().c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt* statement = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "SELECT type, length(envelope), length(signed_sha256) FROM messages ORDER BY seq",
                               -1, &statement, nullptr) == SQLITE_OK);
    int purged = 0;
    int kept = 0;
    while (sqlite3_step(statement) == SQLITE_ROW) {
      const std::string type = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
      CHECK(sqlite3_column_int(statement, 2) == 32);  // the hash the signature and receipt bind stays
      if (type == "campaign-report") purged += sqlite3_column_int(statement, 1) == 0 ? 1 : 0;
      else kept += sqlite3_column_int(statement, 1) > 0 ? 1 : 0;
    }
    sqlite3_finalize(statement);
    sqlite3_close(db);
    CHECK(purged == 1);
    CHECK(kept == 1);  // the tracing request has no rule: kept
  }
  auto audited = exchange.broker->audit();
  CHECK(std::count_if(audited.begin(), audited.end(), [&](const auto& row) {
          return row.stage == "retention" && row.message_id_hex == receipt->message_id.hex() &&
                 row.principal == "fpx-admin";
        }) == 1);

  // The observer's check of the whole log, after the purge.
  const auto profile = dir / "observer-profile";
  auto init = test::run_fpx(dir, {"profile", "init", "--dir", profile.string(), "--identity",
                                  (dir / "participants" / "cso.sahel-watch").string(), "--observer-endpoint",
                                  exchange.broker->observers_endpoint(), "--broker-cert",
                                  test::broker_chain_path(exchange.pki).string(), "--root-ca",
                                  exchange.pki.root_pem().string()});
  REQUIRE(init.exit_code == 0);
  auto observed = test::run_fpx(dir, {"--profile", profile.string(), "observe", "--wait", "2"});
  INFO(observed.out << observed.err);
  REQUIRE(observed.exit_code == 0);
  auto verified = test::run_fpx(dir, {"--profile", profile.string(), "log", "verify"});
  INFO(verified.out << verified.err);
  CHECK(verified.exit_code == 0);
  auto checked = admin(dir, {"check", "--file", exchange.broker->database().string()});
  CHECK(checked.exit_code == 0);
}

TEST_CASE("on PostgreSQL a retention run with the broker stopped purges bodies and fpx log verify still passes") {
  test::PostgresCluster cluster;
  const std::string dsn = cluster.create_database("exchange");
  Exchange exchange({.hold_ms = 1000, .postgres_dsn = dsn, .extra_toml = "[retention]\ncampaign_report = \"1s\"\n"});
  const auto dir = exchange.pki.dir();
  auto senegal = exchange.connect("sn.focal-point");
  auto report = test::seal_sample(exchange.pki.identity("sn.focal-point"), MessageType::CAMPAIGN_REPORT);
  auto receipt = senegal->submit(report);
  REQUIRE(receipt.ok());
  auto agency = exchange.connect("sn.police-judiciaire");
  REQUIRE(agency->submit(test::seal_sample(exchange.pki.identity("sn.police-judiciaire"),
                                           MessageType::TRACING_REQUEST))
              .ok());
  std::this_thread::sleep_for(2500ms);  // past its retention (1 s) and its hold time (1 s)

  // The broker holds the store's one-writer lock: the run says to stop it.
  auto refused = admin(dir, {"--config", exchange.broker->config_path().string(), "retention", "run"});
  CHECK(refused.exit_code == 1);
  CHECK_THAT(refused.err, Catch::Contains("stop it"));
  senegal.reset();
  agency.reset();
  REQUIRE(exchange.broker->stop() == 0);

  auto run = admin(dir, {"--config", exchange.broker->config_path().string(), "retention", "run"});
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  CHECK_THAT(run.out, Catch::Contains("campaign-report: 1 bodies purged"));
  auto again = admin(dir, {"--config", exchange.broker->config_path().string(), "retention", "run"});
  CHECK_THAT(again.out, Catch::Contains("campaign-report: 0 bodies purged"));
  CHECK(cluster.scalar("exchange", "SELECT COUNT(*) FROM messages WHERE type = 'campaign-report' AND "
                                   "length(envelope) = 0 AND length(signed_sha256) = 32") == "1");
  CHECK(cluster.scalar("exchange", "SELECT COUNT(*) FROM messages WHERE type <> 'campaign-report' AND "
                                   "length(envelope) > 0") == "1");
  CHECK(cluster.scalar("exchange", "SELECT COUNT(*) FROM audit WHERE stage = 'retention' AND principal = "
                                   "'fpx-admin' AND message_id = '\\x" + receipt->message_id.hex() + "'::bytea") == "1");

  exchange.broker->start();
  const auto profile = dir / "observer-profile";
  auto init = test::run_fpx(dir, {"profile", "init", "--dir", profile.string(), "--identity",
                                  (dir / "participants" / "cso.sahel-watch").string(), "--observer-endpoint",
                                  exchange.broker->observers_endpoint(), "--broker-cert",
                                  test::broker_chain_path(exchange.pki).string(), "--root-ca",
                                  exchange.pki.root_pem().string()});
  REQUIRE(init.exit_code == 0);
  auto observed = test::run_fpx(dir, {"--profile", profile.string(), "observe", "--wait", "2"});
  INFO(observed.out << observed.err);
  REQUIRE(observed.exit_code == 0);
  auto verified = test::run_fpx(dir, {"--profile", profile.string(), "log", "verify"});
  INFO(verified.out << verified.err);
  CHECK(verified.exit_code == 0);
  auto checked = admin(dir, {"--dsn", dsn, "check"});
  INFO(checked.out << checked.err);
  CHECK(checked.exit_code == 0);
}

TEST_CASE("the audit export filters by participant and decision and time in CSV and JSON") {
  Exchange exchange;
  const auto dir = exchange.pki.dir();
  auto agency = exchange.connect("sn.police-judiciaire");
  auto identity = exchange.pki.identity("sn.police-judiciaire");
  auto request = test::seal_sample(identity, MessageType::TRACING_REQUEST);
  REQUIRE(agency->submit(request).ok());
  // The same id over other bytes: refused with id_reused.
  const MessageId id = test::message_id_of(request);
  auto clash = test::seal_changed(identity, MessageType::TRACING_REQUEST, [&](auto header, auto) {
    header.setMessageId(kj::arrayPtr(id.bytes.data(), id.bytes.size()));
    header.setCaseReference("another case");
  });
  auto refused = agency->submit(clash);
  REQUIRE(!refused.ok());
  REQUIRE(exchange.broker->stop() == 0);  // every audit row written
  const std::string store = exchange.broker->database().string();

  auto rows_of = [&](const std::vector<std::string>& filters) {
    std::vector<std::string> args = {"--store", store, "audit", "export", "--format", "json"};
    args.insert(args.end(), filters.begin(), filters.end());
    auto exported = admin(dir, args);
    INFO(exported.err);
    REQUIRE(exported.exit_code == 0);
    return nlohmann::json::parse(exported.out);
  };
  auto accepted = rows_of({"--participant", "sn.police-judiciaire", "--decision", "accepted"});
  REQUIRE(accepted.size() == 1);
  for (const auto& row : accepted) {
    CHECK(row["outcome"] == "accepted");
    CHECK(row["principal"] == "sn.police-judiciaire");
  }
  // The acceptance is read from its messages row (schema 11): no audit id.
  CHECK(accepted[0]["message_id"] == id.hex());
  CHECK(accepted[0]["stage"] == "persist");
  CHECK(accepted[0]["id"].is_null());
  CHECK_THAT(accepted[0]["detail"].get<std::string>(), Catch::Contains(" accepted for "));
  auto reused = rows_of({"--decision", "id_reused"});
  REQUIRE(reused.size() == 1);
  CHECK(reused[0]["message_id"] == test::message_id_of(request).hex());
  for (const auto& row : rows_of({"--decision", "refused"})) CHECK(row["outcome"] != "accepted");
  CHECK(rows_of({"--participant", "ne.focal-point", "--decision", "id_reused"}).empty());
  CHECK(rows_of({"--since", std::to_string(now_ms() + 3'600'000)}).empty());
  CHECK(rows_of({"--until", "1970-01-02"}).empty());
  const auto all = rows_of({});

  auto csv = admin(dir, {"--store", store, "audit", "export", "--format", "csv"});
  REQUIRE(csv.exit_code == 0);
  CHECK_THAT(csv.out, Catch::StartsWith("id,at,at_ms,principal,message_id,stage,outcome,detail\r\n"));
  // One record per row (details hold no line breaks here) plus the header.
  CHECK(static_cast<std::size_t>(std::count(csv.out.begin(), csv.out.end(), '\n')) == all.size() + 1);

  auto bad = admin(dir, {"--store", store, "audit", "export", "--decision", "maybe"});
  CHECK(bad.exit_code == 1);
  CHECK_THAT(bad.err, Catch::Contains("use accepted, refused, or an error code name"));
}

namespace {

// Niger acknowledges Senegal's request; Senegal's focal point never
// connects, so the acknowledgement (held timing.hold_ms) dies undelivered and
// `fpx-admin <store_args> dead-letters` lists it, on either store.
void check_dead_letters(Exchange& exchange, const std::vector<std::string>& store_args) {
  const auto dir = exchange.pki.dir();
  auto admin_on_store = [&](std::vector<std::string> args) {
    args.insert(args.begin(), store_args.begin(), store_args.end());
    return admin(dir, args);
  };
  const auto request = test::seal_sample(exchange.pki.identity("sn.police-judiciaire"), MessageType::TRACING_REQUEST);
  REQUIRE(exchange.connect("sn.police-judiciaire")->submit(request).ok());
  auto niger = exchange.connect("ne.focal-point");
  REQUIRE(receive(*niger, 1).size() == 1);
  const MessageId request_id = test::message_id_of(request);
  auto acknowledgement = test::seal_changed(exchange.pki.identity("ne.focal-point"),
                                            MessageType::TRACING_ACKNOWLEDGEMENT, [&](auto header, auto) {
                                              header.setInReplyTo(
                                                  kj::arrayPtr(request_id.bytes.data(), request_id.bytes.size()));
                                              header.initRecipients(1)[0].setCountry("SN");
                                            });
  REQUIRE(niger->submit(acknowledgement).ok());
  const std::string id = test::message_id_of(acknowledgement).hex();

  test::CommandRun listed;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  do {
    std::this_thread::sleep_for(250ms);
    listed = admin_on_store({"dead-letters"});
    REQUIRE(listed.exit_code == 0);
  } while (listed.out.find(id) == std::string::npos && std::chrono::steady_clock::now() < deadline);
  INFO(listed.out << listed.err);
  std::istringstream lines(listed.out);
  std::string line;
  std::set<std::string> recipients;
  while (std::getline(lines, line)) {
    auto row = nlohmann::json::parse(line);
    if (row["message_id"] != id) continue;
    recipients.insert(row["recipient"].get<std::string>());
    CHECK(row["sender"] == "ne.focal-point");
    CHECK(row["type"] == "tracing-acknowledgement");
    CHECK(row["reason"] == "not delivered before its hold time ended");
  }
  // Senegal's focal point, and the requesting agency (which disconnected).
  CHECK(recipients.count("sn.focal-point") == 1);
  auto later = admin_on_store({"dead-letters", "--since", std::to_string(now_ms() + 3'600'000)});
  CHECK(later.exit_code == 0);
  CHECK(later.out.find(id) == std::string::npos);
}

}  // namespace

TEST_CASE("dead-letters lists a delivery never confirmed before its hold time ended") {
  Exchange exchange({.hold_ms = 1000});
  check_dead_letters(exchange, {"--store", exchange.broker->database().string()});
}

TEST_CASE("on PostgreSQL dead-letters lists a delivery never confirmed before its hold time ended") {
  test::PostgresCluster cluster;
  const std::string dsn = cluster.create_database("exchange");
  Exchange exchange({.hold_ms = 1000, .postgres_dsn = dsn});
  check_dead_letters(exchange, {"--dsn", dsn});
}
