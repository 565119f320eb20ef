// Disclosure control against the real broker (issue 12): an adversarial
// scenario over adjacent periods of 3 seconds (small cells, one request in
// one period and three in the next, a single refusal among answers, one
// request to a state nobody else asks), every statistics record the feed
// publishes, and tests/audit/differencing_audit.py's linear programs over
// all of them: no suppressed cell that may be small can be narrowed below
// the protection range. The same audit finds the cell the old scheme disclosed (ctest
// differencing_audit_finds_the_old_schemes_disclosure).
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "fpx/client.hpp"
#include "fpx/observer_client.hpp"
#include "fpx/public_records.hpp"
#include "fpx/public_statistics.hpp"
#include "support/broker_clients.hpp"
#include "support/broker_process.hpp"
#include "support/command_run.hpp"
#include "support/sample_messages.hpp"
#include "support/test_pki.hpp"

using namespace fpx;
using namespace std::chrono_literals;
using wire::MessageType;
namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kPeriodMs = 3000;
// Answers follow their requests at once; the figures wait this long after
// their period's end, so every answer is in them.
constexpr std::int64_t kPublishAfterMs = 1500;

auto reply_to(const MessageId& request) {
  return [request](wire::Header::Builder header, wire::Body::Builder) {
    header.setInReplyTo(kj::arrayPtr(request.bytes.data(), request.bytes.size()));
    header.initRecipients(1)[0].setCountry("SN");
  };
}

auto to_state(const char* country) {
  return [country](wire::Header::Builder header, wire::Body::Builder body) {
    header.initRecipients(1)[0].setCountry(country);
    auto states = body.getTracingRequest().initRequestedStates(1);
    states[0].setCountry(country);
    states[0].setRole(wire::RequestedStateRole::OTHER_ON_TRAIL);
  };
}

struct DisclosureExchange {
  // `periods_per_year`: the grid's year tables (oversight.periods_per_year); none by default.
  explicit DisclosureExchange(std::optional<std::int64_t> periods_per_year = std::nullopt) : pki({"SN", "NE", "BF"}) {
    pki.issue("sn.focal-point", "SN", Role::focal_point);
    pki.issue("ne.focal-point", "NE", Role::focal_point);
    pki.issue("bf.focal-point", "BF", Role::focal_point);
    pki.issue("ml.focal-point", "ML", Role::focal_point);
    pki.issue("sn.police-judiciaire", "SN", Role::agency);
    pki.issue("cso.sahel-watch", "SN", Role::observer, {.via_intermediate = false});
    test::BrokerOptions options;
    options.statistics_periods = {"3s"};
    options.reveal_after_ms = kPublishAfterMs;  // written as the older key name, still read
    options.periods_per_year = periods_per_year;
    broker = std::make_unique<test::BrokerProcess>(
        pki,
        std::vector<std::string>{"sn.focal-point", "ne.focal-point", "bf.focal-point", "ml.focal-point",
                                 "sn.police-judiciaire", "cso.sahel-watch"},
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

  MessageId request(client::Client& agency, const char* country) {
    Bytes sealed = test::seal_changed(pki.identity("sn.police-judiciaire"), MessageType::TRACING_REQUEST,
                                      to_state(country));
    REQUIRE(agency.submit(sealed).ok());
    return test::message_id_of(sealed);
  }

  void answer(client::Client& state, const std::string& id, const MessageId& request, wire::TracingOutcome outcome) {
    const auto identity = pki.identity(id);
    REQUIRE(state.submit(test::seal_changed(identity, MessageType::TRACING_ACKNOWLEDGEMENT, reply_to(request))).ok());
    REQUIRE(state
                .submit(test::seal_changed(identity, MessageType::TRACING_RESPONSE,
                                           [&](auto header, auto body) {
                                             reply_to(request)(header, body);
                                             auto response = body.getTracingResponse();
                                             response.setOutcome(outcome);
                                             if (outcome == wire::TracingOutcome::REFUSED) {
                                               response.initChainOfCustody(0);
                                               response.initRefusalGrounds(1).set(
                                                   0, wire::RefusalGround::ONGOING_INVESTIGATION);
                                               response.setGroundsExplanation("a national investigation");
                                             }
                                           }))
                .ok());
  }

  // Period 1: one SN->NE request, acknowledged and answered. Period 2 (the
  // next one): three SN->NE requests, two answered with a partial chain and
  // one refused; four SN->BF, all answered; one SN->ML, never answered.
  void play() {
    auto agency = test::connect_client(*broker, pki, "sn.police-judiciaire");
    auto niger = test::connect_client(*broker, pki, "ne.focal-point");
    auto burkina = test::connect_client(*broker, pki, "bf.focal-point");
    // Periods are aligned on the epoch: start each as the next one begins.
    auto next_period = [] {
      const std::int64_t next = (now_ms() / kPeriodMs + 1) * kPeriodMs;
      while (now_ms() < next) std::this_thread::sleep_for(5ms);
    };
    next_period();
    answer(*niger, "ne.focal-point", request(*agency, "NE"), wire::TracingOutcome::PARTIAL_CHAIN);
    next_period();
    std::vector<MessageId> to_niger;
    for (int i = 0; i < 3; ++i) to_niger.push_back(request(*agency, "NE"));
    std::vector<MessageId> to_burkina;
    for (int i = 0; i < 4; ++i) to_burkina.push_back(request(*agency, "BF"));
    request(*agency, "ML");
    answer(*niger, "ne.focal-point", to_niger[0], wire::TracingOutcome::PARTIAL_CHAIN);
    answer(*niger, "ne.focal-point", to_niger[1], wire::TracingOutcome::PARTIAL_CHAIN);
    answer(*niger, "ne.focal-point", to_niger[2], wire::TracingOutcome::REFUSED);
    for (const auto& id : to_burkina) answer(*burkina, "bf.focal-point", id, wire::TracingOutcome::NO_RECORD);
  }

  // Every record of the feed until `statistics` statistics records are on it.
  std::vector<client::FeedRecord> feed_with(std::size_t statistics) {
    auto watcher = observer();
    std::vector<client::FeedRecord> records;
    std::uint64_t next = 1;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    auto count = [&] {
      return static_cast<std::size_t>(
          std::count_if(records.begin(), records.end(), [](const auto& r) { return r.kind == "statistics"; }));
    };
    while (count() < statistics) {
      if (std::chrono::steady_clock::now() > deadline) {
        FAIL("fewer than " << statistics << " statistics records after 30 s; broker log in " << pki.dir());
      }
      auto page = watcher->follow(next, 1000);
      REQUIRE(page.ok());
      for (auto& record : page->records) records.push_back(std::move(record));
      next = page->next_sequence;
      if (count() < statistics) std::this_thread::sleep_for(100ms);
    }
    // Issue 15: every record the broker signed is the public records codec's
    // bytes (protocol/fpx/public_records.hpp), statistics tables included.
    for (const auto& record : records) {
      INFO(record.signed_record);
      auto decoded = fpx::records::decode_record(record.signed_record);
      REQUIRE(decoded.ok());
      REQUIRE(decoded->record);
      CHECK(decoded->unknown_fields.empty());
      CHECK(fpx::records::encode_record(*decoded->record) == record.signed_record);
    }
    return records;
  }

  test::TestPki pki;
  std::unique_ptr<test::BrokerProcess> broker;
};

nlohmann::json count_of(const nlohmann::json& record, const std::string& table, const std::string& key,
                        const std::string& value, const std::string& measure) {
  for (const auto& row : record[table]) {
    if (row.value(key, "") == value) return row["counts"][measure];
  }
  FAIL("no row " << key << "=" << value << " in " << table);
  return {};
}

// The cell of one pair of states (requester -> requested) in the pairs table.
nlohmann::json pair_count(const nlohmann::json& record, const std::string& requester, const std::string& requested,
                          const std::string& measure) {
  for (const auto& row : record["pairs"]) {
    if (row.value("requester", "") == requester && row.value("requested", "") == requested) return row["counts"][measure];
  }
  FAIL("no pair " << requester << "->" << requested);
  return {};
}

}  // namespace

TEST_CASE("no combination of the statistics a real broker publishes narrows a suppressed cell below the protection range") {
  DisclosureExchange exchange;
  exchange.play();
  auto records = exchange.feed_with(2);

  std::vector<nlohmann::json> statistics;
  for (const auto& record : records) {
    CHECK(record.kind != "reveal");  // no microdata, ever
    if (record.kind == "statistics") statistics.push_back(nlohmann::json::parse(record.signed_record));
  }
  REQUIRE(statistics.size() == 2);
  const auto& first = statistics[0];
  const auto& second = statistics[1];
  // Adjacent periods of one grid, each published once.
  CHECK(first["periodEnd"] == second["periodStart"]);
  CHECK(first["method"] == "cell-suppression/v1");

  // The one SN->NE request of the first period is hidden in every table it is in.
  CHECK(pair_count(first, "SN", "NE", "requests").is_null());
  CHECK(first["total"]["counts"]["requests"].is_null());
  // The second period shows its larger cells and hides the single refusal.
  CHECK(count_of(second, "byRequested", "requested", "BF", "requests") == 4);
  CHECK(count_of(second, "byRequested", "requested", "NE", "outcome.refused").is_null());
  CHECK(count_of(second, "byRequested", "requested", "ML", "requests").is_null());

  // Each record is consistent in itself, as an observer checks it.
  for (const auto& record : records) {
    if (record.kind != "statistics") continue;
    auto check = client::check_published_statistics(record.signed_record);
    REQUIRE(check.ok());
    CHECK(check->failures.empty());
    CHECK(check->cells_suppressed > 0);
    CHECK(check->relations_checked > 0);
  }

  // The differencing audit over everything published.
  const fs::path scratch = exchange.pki.dir();
  const fs::path feed = scratch / "statistics-feed.json";
  std::ofstream(feed) << nlohmann::json(statistics).dump();
  auto audit = test::run_command({FPX_AUDIT_PYTHON, FPX_SOURCE_DIR "/tests/audit/differencing_audit.py", feed.string()},
                                 scratch, scratch);
  INFO(audit.out << audit.err);
  CHECK(audit.exit_code == 0);
  CHECK_THAT(audit.out, Catch::Contains("2 statistics record(s)") &&
                            Catch::Contains("no suppressed cell that may be small can be narrowed below the protection range"));
}

TEST_CASE("a year's tables published beside its periods hide whatever would undo a period's suppression") {
  DisclosureExchange exchange(4);
  // The 3 s grid's year is four periods (12 s) aligned on the epoch: begin at
  // one, so that both periods of the scenario fall in the same year.
  constexpr std::int64_t kYearMs = 4 * kPeriodMs;
  const std::int64_t year_start = (now_ms() / kYearMs + 1) * kYearMs;
  while (now_ms() < year_start) std::this_thread::sleep_for(5ms);
  exchange.play();
  auto records = exchange.feed_with(3);

  std::vector<nlohmann::json> statistics;
  for (const auto& record : records) {
    if (record.kind == "statistics") statistics.push_back(nlohmann::json::parse(record.signed_record));
  }
  REQUIRE(statistics.size() == 3);
  const auto& first = statistics[0];
  const auto& second = statistics[1];
  const auto& year = statistics[2];
  REQUIRE(year["period"] == "year");
  CHECK(year["grid"] == "3s");
  // ISO 8601 UTC times order as text.
  CHECK(year["periodStart"].get<std::string>() < first["periodStart"].get<std::string>());
  CHECK(year["periodEnd"].get<std::string>() > second["periodEnd"].get<std::string>());
  REQUIRE(year["periods"].size() == 2);
  CHECK(year["periods"][0]["sequence"] == first["sequence"]);
  CHECK(year["periods"][1]["sequence"] == second["sequence"]);

  // The first period hides its one SN->NE request, the second shows 3: a
  // year showing 4 would give the hidden 1 away, so it is hidden too.
  CHECK(pair_count(first, "SN", "NE", "requests").is_null());
  CHECK(pair_count(second, "SN", "NE", "requests") == 3);
  CHECK(pair_count(year, "SN", "NE", "requests").is_null());
  // The year still says something: some count above zero is shown.
  bool shows_a_count = false;
  for (const auto& row : year["byRequested"]) {
    for (const auto& [measure, count] : row["counts"].items()) shows_a_count = shows_a_count || (!count.is_null() && count > 0);
  }
  CHECK(shows_a_count);

  // Every shown pair cell of the year is the sum of its periods' cells.
  std::size_t sums_checked = 0;
  for (const auto& row : year["pairs"]) {
    for (const auto& [measure, count] : row["counts"].items()) {
      if (count.is_null()) continue;
      std::int64_t sum = 0;
      bool all_shown = true;
      for (const auto* period : {&first, &second}) {
        for (const auto& cell : (*period)["pairs"]) {
          if (cell["requester"] != row["requester"] || cell["requested"] != row["requested"]) continue;
          all_shown = all_shown && !cell["counts"][measure].is_null();
          if (!cell["counts"][measure].is_null()) sum += cell["counts"][measure].get<std::int64_t>();
        }
      }
      if (!all_shown) continue;
      INFO(row["requester"] << "->" << row["requested"] << " " << measure);
      CHECK(count.get<std::int64_t>() == sum);
      ++sums_checked;
    }
  }
  CHECK(sums_checked > 0);

  // The year record is consistent in itself, as an observer checks it.
  for (const auto& record : records) {
    if (record.kind != "statistics") continue;
    auto check = client::check_published_statistics(record.signed_record);
    REQUIRE(check.ok());
    CHECK(check->failures.empty());
  }

  // The differencing audit over the periods and the year together.
  const fs::path scratch = exchange.pki.dir();
  const fs::path feed = scratch / "statistics-feed-with-year.json";
  std::ofstream(feed) << nlohmann::json(statistics).dump();
  auto audit = test::run_command({FPX_AUDIT_PYTHON, FPX_SOURCE_DIR "/tests/audit/differencing_audit.py", feed.string()},
                                 scratch, scratch);
  INFO(audit.out << audit.err);
  CHECK(audit.exit_code == 0);
  CHECK_THAT(audit.out, Catch::Contains("3 statistics record(s) (1 of them year tables)") &&
                            Catch::Contains("no suppressed cell that may be small can be narrowed below the protection range"));
}
