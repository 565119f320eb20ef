// The fpx command line of civil society's voice (issue 12 item 5), run as a
// user types it against a real broker: `fpx warn` and `fpx contribute` from
// a cso profile, `fpx inbox` and `fpx warning ack` from the focal point,
// and `fpx observe` then `fpx report` showing the warnings' counts.
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#include "fpx/client.hpp"
#include "fpx/observer_client.hpp"
#include "support/broker_clients.hpp"
#include "support/broker_process.hpp"
#include "support/command_run.hpp"
#include "support/sample_messages.hpp"
#include "support/test_pki.hpp"

using namespace fpx;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kPeriodMs = 4000;

std::string json_field(const std::string& json, const std::string& key) {
  const std::string marker = "\"" + key + "\":\"";
  const auto start = json.find(marker);
  if (start == std::string::npos) return {};
  const auto end = json.find('"', start + marker.size());
  return json.substr(start + marker.size(), end - start - marker.size());
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::string line;
  for (const char c : text) {
    if (c == '\n') {
      if (!line.empty()) lines.push_back(line);
      line.clear();
    } else {
      line += c;
    }
  }
  if (!line.empty()) lines.push_back(line);
  return lines;
}

struct CliExchange {
  CliExchange() : pki({"SN", "NE"}) {
    pki.issue("sn.focal-point", "SN", Role::focal_point);
    pki.issue("ne.focal-point", "NE", Role::focal_point);
    // The sample tracing request asks Niger and Burkina Faso.
    pki.issue("bf.focal-point", "BF", Role::focal_point, {.via_intermediate = false});
    pki.issue("sn.police-judiciaire", "SN", Role::agency);
    pki.issue("cso.sahel-watch", "SN", Role::observer, {.via_intermediate = false});
    pki.issue("cso.sahel-watch.sn", "SN", Role::cso, {.via_intermediate = false});
    test::BrokerOptions options;
    options.statistics_periods = {"4s"};
    options.reveal_after_ms = 1500;
    broker = std::make_unique<test::BrokerProcess>(
        pki,
        std::vector<std::string>{"sn.focal-point", "ne.focal-point", "bf.focal-point", "sn.police-judiciaire",
                                 "cso.sahel-watch", "cso.sahel-watch.sn"},
        options);
    const auto broker_chain = (pki.dir() / "participants" / "exchange.broker" / kChainFile).string();
    for (const std::string id : {"sn.focal-point", "cso.sahel-watch.sn"}) {
      const auto dir = pki.dir() / "profiles" / id;
      auto init =
          fpx({"profile", "init", "--dir", dir.string(), "--identity", (pki.dir() / "participants" / id).string(),
               "--broker-endpoint", broker->endpoint(), "--broker-cert", broker_chain, "--root-ca",
               pki.root_pem().string(), "--crl-dir", pki.crl_dir().string()});
      INFO(init.err);
      REQUIRE(init.exit_code == 0);
      profiles[id] = dir;
    }
    const auto observer = pki.dir() / "profiles" / "cso.sahel-watch";
    auto init =
        fpx({"profile", "init", "--dir", observer.string(), "--identity",
             (pki.dir() / "participants" / "cso.sahel-watch").string(), "--observer-endpoint",
             broker->observers_endpoint(), "--broker-cert", broker_chain, "--root-ca", pki.root_pem().string()});
    INFO(init.err);
    REQUIRE(init.exit_code == 0);
    profiles["cso.sahel-watch"] = observer;
  }

  test::CommandRun fpx(const std::vector<std::string>& args) { return test::run_fpx(pki.dir(), args); }
  test::CommandRun as(const std::string& id, std::vector<std::string> args) {
    args.insert(args.begin(), {"--profile", profiles.at(id).string()});
    return fpx(args);
  }

  // `fpx inbox --json` until `count` messages came: JSON lines.
  std::vector<std::string> inbox(const std::string& id, std::size_t count) {
    std::vector<std::string> received;
    for (int attempt = 0; attempt < 10 && received.size() < count; ++attempt) {
      auto run = as(id, {"inbox", "--json", "--wait", "1"});
      INFO(run.err);
      REQUIRE(run.exit_code == 0);
      for (auto& line : lines_of(run.out)) received.push_back(line);
    }
    return received;
  }

  test::TestPki pki;
  std::unique_ptr<test::BrokerProcess> broker;
  std::map<std::string, fs::path> profiles;
};

}  // namespace

TEST_CASE("fpx warn sends a warning to the cso's own focal point and fpx warning ack answers it") {
  CliExchange exchange;
  auto warned = exchange.as("cso.sahel-watch.sn", {"--json", "warn", "--threat", "pistols sold at the weekly market",
                                                   "--location", "Tambacounda", "--observed-on", "2026-03-02"});
  INFO(warned.out << warned.err);
  REQUIRE(warned.exit_code == 0);
  const std::string warning_id = json_field(warned.out, "messageId");
  REQUIRE(warning_id.size() == 32);

  auto received = exchange.inbox("sn.focal-point", 1);
  REQUIRE(received.size() == 1);
  CHECK(json_field(received[0], "type") == "early-warning");
  CHECK(json_field(received[0], "from") == "cso.sahel-watch.sn");

  auto acked = exchange.as("sn.focal-point",
                           {"--json", "warning", "ack", warning_id.substr(0, 8), "--note", "gendarmerie informed"});
  INFO(acked.out << acked.err);
  REQUIRE(acked.exit_code == 0);
  auto answer = exchange.inbox("cso.sahel-watch.sn", 1);
  REQUIRE(answer.size() == 1);
  CHECK(json_field(answer[0], "type") == "early-warning-acknowledgement");
  CHECK(json_field(answer[0], "inReplyTo") == warning_id);

  auto contributed = exchange.as(
      "cso.sahel-watch.sn", {"--json", "contribute", "--campaign", "Tambacounda surrender 2026", "--from", "2026-01-01",
                             "--until", "2026-02-28", "--weapons", "37", "--text", "four village meetings"});
  INFO(contributed.out << contributed.err);
  REQUIRE(contributed.exit_code == 0);
  auto contribution = exchange.inbox("sn.focal-point", 1);
  REQUIRE(contribution.size() == 1);
  CHECK(json_field(contribution[0], "type") == "campaign-contribution");

  // What each command refuses, before anything is sent.
  auto not_a_warning = exchange.as("sn.focal-point", {"warning", "ack", json_field(contribution[0], "messageId")});
  CHECK(not_a_warning.exit_code == 2);
  CHECK_THAT(not_a_warning.err, Catch::Contains("not an early warning"));
  auto focal_point_warns = exchange.as("sn.focal-point", {"warn", "--threat", "x"});
  CHECK(focal_point_warns.exit_code == 2);
  CHECK_THAT(focal_point_warns.err, Catch::Contains("needs a cso certificate"));
  auto too_long = exchange.as("cso.sahel-watch.sn", {"warn", "--threat", std::string(2001, 'x')});
  CHECK(too_long.exit_code == 2);
  CHECK_THAT(too_long.err, Catch::Contains("earlyWarning.threat"));
  auto bad_date = exchange.as("cso.sahel-watch.sn", {"warn", "--threat", "x", "--observed-on", "yesterday"});
  CHECK(bad_date.exit_code == 2);
  CHECK_THAT(bad_date.err, Catch::Contains("YYYY-MM-DD"));
}

TEST_CASE("fpx report shows per state the early warnings and those acknowledged within the clock") {
  CliExchange exchange;
  // One period: three warnings to Senegal, all acknowledged, and a tracing
  // request so the statistics grid has begun.
  const std::int64_t next = (now_ms() / kPeriodMs + 1) * kPeriodMs;
  while (now_ms() < next) std::this_thread::sleep_for(5ms);
  auto agency = test::connect_client(*exchange.broker, exchange.pki, "sn.police-judiciaire");
  REQUIRE(
      agency
          ->submit(test::seal_sample(exchange.pki.identity("sn.police-judiciaire"), wire::MessageType::TRACING_REQUEST))
          .ok());
  auto cso = test::connect_client(*exchange.broker, exchange.pki, "cso.sahel-watch.sn");
  auto senegal = test::connect_client(*exchange.broker, exchange.pki, "sn.focal-point");
  for (int i = 0; i < 3; ++i) {
    const Bytes warning =
        test::seal_sample(exchange.pki.identity("cso.sahel-watch.sn"), wire::MessageType::EARLY_WARNING);
    REQUIRE(cso->submit(warning).ok());
    const MessageId id = test::message_id_of(warning);
    REQUIRE(senegal
                ->submit(test::seal_changed(
                    exchange.pki.identity("sn.focal-point"), wire::MessageType::EARLY_WARNING_ACKNOWLEDGEMENT,
                    [&](auto header, auto) { header.setInReplyTo(kj::arrayPtr(id.bytes.data(), id.bytes.size())); }))
                .ok());
  }
  REQUIRE(now_ms() < next + kPeriodMs);

  // The period's figures come out after its end and the wait.
  const fs::path tables = exchange.pki.dir() / "tables";
  std::string early_warnings;
  const auto deadline = std::chrono::steady_clock::now() + 40s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto observed = exchange.as("cso.sahel-watch", {"observe"});
    INFO(observed.out << observed.err);
    REQUIRE(observed.exit_code == 0);
    auto csv = exchange.as("cso.sahel-watch", {"report", "--csv", tables.string(), "--period", "4s"});
    if (csv.exit_code == 0 && fs::exists(tables / "early_warnings.csv")) {
      early_warnings = test::read_file(tables / "early_warnings.csv");
      if (early_warnings.find(",SN,") != std::string::npos) break;
    }
    std::this_thread::sleep_for(500ms);
  }
  INFO(early_warnings);
  CHECK_THAT(early_warnings, Catch::StartsWith("period,periodStart,periodEnd,state,warnings,acknowledgedWithinClock"));
  CHECK_THAT(early_warnings, Catch::Contains(",SN,3,3\r\n") && Catch::Contains(",,3,3\r\n"));

  const fs::path html = exchange.pki.dir() / "report.html";
  auto made = exchange.as("cso.sahel-watch", {"report", "--html", html.string(), "--period", "4s"});
  INFO(made.out << made.err);
  REQUIRE(made.exit_code == 0);
  const std::string page = test::read_file(html);
  CHECK_THAT(page, Catch::Contains("Early warnings from civil society") && Catch::Contains("warnings-table") &&
                       Catch::Contains("acknowledged within 72 hours"));
  // Counts only: never the warning's words.
  CHECK(page.find("pistols") == std::string::npos);
}
