// Civil society's voice (issue 12 item 5) against the real broker: a cso's
// early warning reaches its own state's focal point, the focal point's
// acknowledgement reaches the cso, and the public statistics count per
// state the warnings that arrived and those acknowledged within the clock,
// suppressed like every count (primary and secondary, checked by the
// observer's consistency check) and never with their content.
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "fpx/client.hpp"
#include "fpx/observer_client.hpp"
#include "fpx/public_statistics.hpp"
#include "support/broker_clients.hpp"
#include "support/broker_process.hpp"
#include "support/command_run.hpp"
#include "support/sample_messages.hpp"
#include "support/test_pki.hpp"

using namespace fpx;
using namespace std::chrono_literals;
using wire::MessageType;

namespace {

constexpr std::int64_t kPeriodMs = 4000;
// The acknowledgements follow their warnings at once; the figures wait this
// long after their period's end, so every acknowledgement is in them.
constexpr std::int64_t kPublishAfterMs = 1500;

std::vector<client::Delivery> receive(client::Client& client, std::size_t count) {
  std::vector<client::Delivery> received;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (received.size() < count && std::chrono::steady_clock::now() < deadline) {
    auto batch = client.poll(200ms);
    if (!batch) FAIL("poll failed: " << batch.error().describe());
    for (auto& delivery : *batch) received.push_back(std::move(delivery));
  }
  for (const auto& delivery : received) REQUIRE(client.confirm(delivery).ok());
  return received;
}

struct CsoExchange {
  CsoExchange() : pki({"SN", "NE"}) {
    pki.issue("sn.focal-point", "SN", Role::focal_point);
    pki.issue("ne.focal-point", "NE", Role::focal_point);
    // The sample tracing request asks Niger and Burkina Faso.
    pki.issue("bf.focal-point", "BF", Role::focal_point, {.via_intermediate = false});
    pki.issue("sn.police-judiciaire", "SN", Role::agency);
    pki.issue("cso.sahel-watch", "SN", Role::observer, {.via_intermediate = false});
    pki.issue("cso.sahel-watch.sn", "SN", Role::cso, {.via_intermediate = false});
    pki.issue("cso.niger-watch.ne", "NE", Role::cso, {.via_intermediate = false});
    test::BrokerOptions options;
    options.statistics_periods = {"4s"};
    options.reveal_after_ms = kPublishAfterMs;
    broker = std::make_unique<test::BrokerProcess>(
        pki,
        std::vector<std::string>{"sn.focal-point", "ne.focal-point", "bf.focal-point", "sn.police-judiciaire",
                                 "cso.sahel-watch", "cso.sahel-watch.sn", "cso.niger-watch.ne"},
        options);
  }

  std::unique_ptr<client::ObserverClient> observer() {
    client::ObserverOptions options;
    options.endpoint = broker->observers_endpoint();
    options.broker_chain = *Certificate::load_pem_file(pki.dir() / "participants" / "exchange.broker" / kChainFile);
    options.root_ca = pki.root_pem();
    options.broker_pins = test::broker_pins(pki);
    auto connected = client::ObserverClient::connect(pki.identity("cso.sahel-watch"), options);
    if (!connected) FAIL(connected.error().describe());
    return std::move(connected).value();
  }

  // The first statistics record whose period holds early warnings.
  nlohmann::json statistics_with_warnings(std::string& signed_record) {
    auto watcher = observer();
    std::uint64_t next = 1;
    const auto deadline = std::chrono::steady_clock::now() + 40s;
    while (std::chrono::steady_clock::now() < deadline) {
      auto page = watcher->follow(next, 1000);
      REQUIRE(page.ok());
      for (const auto& record : page->records) {
        if (record.kind == "statistics") {
          auto parsed = nlohmann::json::parse(record.signed_record);
          if (parsed.contains("earlyWarnings")) {
            signed_record = record.signed_record;
            return parsed;
          }
        }
      }
      next = page->next_sequence;
      std::this_thread::sleep_for(200ms);
    }
    FAIL("no statistics record with early warnings after 40 s; broker log in " << pki.dir());
    return {};
  }

  test::TestPki pki;
  std::unique_ptr<test::BrokerProcess> broker;
};

Bytes warning_to(const Identity& cso, const char* country, const std::string& threat) {
  return test::seal_changed(cso, MessageType::EARLY_WARNING, [country, threat](auto header, auto body) {
    header.initRecipients(1)[0].setCountry(country);
    body.getEarlyWarning().setThreat(threat);
  });
}

Bytes acknowledgement_of(const Identity& focal_point, const MessageId& warning, const std::string& cso) {
  return test::seal_changed(focal_point, MessageType::EARLY_WARNING_ACKNOWLEDGEMENT, [&](auto header, auto) {
    header.initRecipients(1)[0].setParticipant(cso);
    header.setInReplyTo(kj::arrayPtr(warning.bytes.data(), warning.bytes.size()));
  });
}

}  // namespace

TEST_CASE("a cso's early warning reaches its own focal point and the acknowledgement comes back to the cso only") {
  CsoExchange exchange;
  auto cso = test::connect_client(*exchange.broker, exchange.pki, "cso.sahel-watch.sn");
  auto senegal = test::connect_client(*exchange.broker, exchange.pki, "sn.focal-point");
  auto niger = test::connect_client(*exchange.broker, exchange.pki, "ne.focal-point");
  auto agency = test::connect_client(*exchange.broker, exchange.pki, "sn.police-judiciaire");

  const Bytes warning = test::seal_sample(exchange.pki.identity("cso.sahel-watch.sn"), MessageType::EARLY_WARNING);
  REQUIRE(cso->submit(warning).ok());
  auto received = receive(*senegal, 1);
  REQUIRE(received.size() == 1);
  CHECK(received[0].opened.type == MessageType::EARLY_WARNING);
  CHECK(received[0].opened.signer.participant.role == Role::cso);
  CHECK(std::string(received[0].opened.message.body().getEarlyWarning().getThreat().cStr()).find("pistols") !=
        std::string::npos);

  const Bytes contribution =
      test::seal_sample(exchange.pki.identity("cso.sahel-watch.sn"), MessageType::CAMPAIGN_CONTRIBUTION);
  REQUIRE(cso->submit(contribution).ok());
  auto contributed = receive(*senegal, 1);
  REQUIRE(contributed.size() == 1);
  CHECK(contributed[0].opened.type == MessageType::CAMPAIGN_CONTRIBUTION);

  const MessageId warning_id = test::message_id_of(warning);
  REQUIRE(senegal->submit(acknowledgement_of(exchange.pki.identity("sn.focal-point"), warning_id, "cso.sahel-watch.sn"))
              .ok());
  auto acknowledged = receive(*cso, 1);
  REQUIRE(acknowledged.size() == 1);
  CHECK(acknowledged[0].opened.type == MessageType::EARLY_WARNING_ACKNOWLEDGEMENT);
  CHECK(acknowledged[0].opened.signer.participant.id.str() == "sn.focal-point");

  // Nothing of it reached Niger: its next delivery is the next message meant for it.
  const Bytes request = test::seal_sample(exchange.pki.identity("sn.police-judiciaire"), MessageType::TRACING_REQUEST);
  REQUIRE(agency->submit(request).ok());
  auto to_niger = receive(*niger, 1);
  REQUIRE(to_niger.size() == 1);
  CHECK(to_niger[0].opened.message_id == test::message_id_of(request));
}

TEST_CASE("the feed counts early warnings per state and acknowledged within the clock and suppresses small counts") {
  CsoExchange exchange;
  auto sahel = test::connect_client(*exchange.broker, exchange.pki, "cso.sahel-watch.sn");
  auto niger_cso = test::connect_client(*exchange.broker, exchange.pki, "cso.niger-watch.ne");
  auto senegal = test::connect_client(*exchange.broker, exchange.pki, "sn.focal-point");
  auto agency = test::connect_client(*exchange.broker, exchange.pki, "sn.police-judiciaire");
  const Identity sahel_identity = exchange.pki.identity("cso.sahel-watch.sn");

  // One period: four warnings to Senegal, three acknowledged; one to Niger,
  // never acknowledged; and a tracing request, so the grid has begun.
  const std::int64_t next = (now_ms() / kPeriodMs + 1) * kPeriodMs;
  while (now_ms() < next) std::this_thread::sleep_for(5ms);
  std::vector<MessageId> to_senegal;
  for (int i = 0; i < 4; ++i) {
    const Bytes sealed =
        warning_to(sahel_identity, "SN", "armed group recruiting at the border, report " + std::to_string(i));
    REQUIRE(sahel->submit(sealed).ok());
    to_senegal.push_back(test::message_id_of(sealed));
  }
  REQUIRE(
      niger_cso->submit(warning_to(exchange.pki.identity("cso.niger-watch.ne"), "NE", "weapons cache rumour")).ok());
  REQUIRE(agency->submit(test::seal_sample(exchange.pki.identity("sn.police-judiciaire"), MessageType::TRACING_REQUEST))
              .ok());
  // Senegal's focal point also gets its agency's request (a copy to its own
  // state): count the warnings among whatever arrives.
  std::size_t warnings_received = 0;
  for (auto deadline = std::chrono::steady_clock::now() + 20s;
       warnings_received < 4 && std::chrono::steady_clock::now() < deadline;) {
    for (const auto& delivery : receive(*senegal, 1)) {
      if (delivery.opened.type == MessageType::EARLY_WARNING) ++warnings_received;
    }
  }
  REQUIRE(warnings_received == 4);
  for (int i = 0; i < 3; ++i) {
    REQUIRE(
        senegal
            ->submit(acknowledgement_of(exchange.pki.identity("sn.focal-point"), to_senegal[i], "cso.sahel-watch.sn"))
            .ok());
  }
  // A second acknowledgement of the same warning changes nothing.
  REQUIRE(
      senegal->submit(acknowledgement_of(exchange.pki.identity("sn.focal-point"), to_senegal[0], "cso.sahel-watch.sn"))
          .ok());
  REQUIRE(now_ms() < next + kPeriodMs);  // all in the one period

  std::string signed_record;
  const auto record = exchange.statistics_with_warnings(signed_record);
  const auto& warnings = record["earlyWarnings"];
  INFO(warnings.dump());
  REQUIRE(warnings["byState"].size() == 2);
  const auto& niger_row = warnings["byState"][0];
  const auto& senegal_row = warnings["byState"][1];
  CHECK(niger_row["state"] == "NE");
  CHECK(senegal_row["state"] == "SN");
  // Niger's single warning is under the threshold: hidden, and not to be
  // had by subtraction either (its state's row or the total goes too).
  CHECK(niger_row["counts"]["warnings"].is_null());
  CHECK((senegal_row["counts"]["warnings"].is_null() || warnings["total"]["counts"]["warnings"].is_null()));
  CHECK(senegal_row["counts"]["acknowledgedWithinClock"] == 3);
  CHECK(record["clocksHours"]["warningAcknowledge"] == 72.0);
  // Counts only: no text, no cso, no message id of a warning.
  CHECK(signed_record.find("armed group") == std::string::npos);
  CHECK(signed_record.find("cso.sahel-watch") == std::string::npos);
  CHECK(signed_record.find(to_senegal[0].hex()) == std::string::npos);
  // An observer's own check of the record finds it consistent.
  auto check = client::check_published_statistics(signed_record);
  REQUIRE(check.ok());
  CHECK(check->failures.empty());
  CHECK(check->cells_suppressed >= 2);

  // The differencing audit of the early-warning counts (tests/audit/warning_audit.py,
  // apart from the broker's own): no suppressed cell can be narrowed below
  // the protection range, the acknowledgements' relation included.
  const auto scratch = exchange.pki.dir();
  const auto feed = scratch / "warnings-feed.json";
  std::ofstream(feed) << nlohmann::json::array({record}).dump();
  auto audit = test::run_command({FPX_AUDIT_PYTHON, FPX_SOURCE_DIR "/tests/audit/warning_audit.py", feed.string()},
                                 scratch, scratch);
  INFO(audit.out << audit.err);
  CHECK(audit.exit_code == 0);
  CHECK_THAT(audit.out, Catch::Contains("no suppressed early-warning cell that may be small can be narrowed"));
}
