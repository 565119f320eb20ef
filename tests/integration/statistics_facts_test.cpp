// States check their own facts (issue 12, docs/PROTOCOL.md §11 "Each party's
// own facts"): against a real broker, the focal points party to a tracing
// get its opened facts for a published period, check each in its leaf and
// the leaf in the latest checkpoint, and recount the cells they can see in
// full, through the client library and through `fpx statistics check`;
// nobody else gets anything, with the same not_found as for nothing at all.
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "fpx/client.hpp"
#include "fpx/observer_client.hpp"
#include "fpx/statistics_facts.hpp"
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
constexpr std::int64_t kPublishAfterMs = 1000;

struct FactsExchange {
  FactsExchange() : pki({"SN", "NE", "BF", "ML"}) {
    for (const auto& [id, country] : std::vector<std::pair<std::string, std::string>>{
             {"sn.focal-point", "SN"}, {"ne.focal-point", "NE"}, {"bf.focal-point", "BF"}, {"ml.focal-point", "ML"}}) {
      pki.issue(id, country, Role::focal_point);
    }
    pki.issue("sn.police-judiciaire", "SN", Role::agency);
    pki.issue("cso.sahel-watch", "SN", Role::observer, {.via_intermediate = false});
    test::BrokerOptions options;
    options.statistics_periods = {std::to_string(kPeriodMs / 1000) + "s"};
    options.reveal_after_ms = kPublishAfterMs;
    options.checkpoint_every_ms = 200;
    broker = std::make_unique<test::BrokerProcess>(
        pki,
        std::vector<std::string>{"sn.focal-point", "ne.focal-point", "bf.focal-point", "ml.focal-point",
                                 "sn.police-judiciaire", "cso.sahel-watch"},
        options);
  }

  MessageId request(client::Client& from, const std::string& signer, const std::string& to) {
    Bytes sealed = test::seal_changed(pki.identity(signer), MessageType::TRACING_REQUEST,
                                      [&](wire::Header::Builder header, wire::Body::Builder body) {
                                        header.initRecipients(1)[0].setCountry(to);
                                        body.getTracingRequest().setRequestingCountry(
                                            pki.identity(signer).participant().country.str());
                                        auto states = body.getTracingRequest().initRequestedStates(1);
                                        states[0].setCountry(to);
                                        states[0].setRole(wire::RequestedStateRole::OTHER_ON_TRAIL);
                                      });
    REQUIRE(from.submit(sealed).ok());
    return test::message_id_of(sealed);
  }

  void answer(client::Client& state, const std::string& id, const std::string& requester, const MessageId& request,
              wire::TracingOutcome outcome) {
    auto reply_to = [&](wire::Header::Builder header) {
      header.setInReplyTo(kj::arrayPtr(request.bytes.data(), request.bytes.size()));
      header.initRecipients(1)[0].setCountry(requester);
    };
    const auto identity = pki.identity(id);
    REQUIRE(state.submit(test::seal_changed(identity, MessageType::TRACING_ACKNOWLEDGEMENT,
                                            [&](auto header, auto) { reply_to(header); }))
                .ok());
    REQUIRE(state
                .submit(test::seal_changed(identity, MessageType::TRACING_RESPONSE,
                                           [&](auto header, auto body) {
                                             reply_to(header);
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

  // One period: SN asks NE three times (two partial chains, one refusal)
  // and BF four times (no record); NE asks BF once, never answered.
  void play() {
    auto senegal = test::connect_client(*broker, pki, "sn.focal-point");
    auto niger = test::connect_client(*broker, pki, "ne.focal-point");
    auto burkina = test::connect_client(*broker, pki, "bf.focal-point");
    period_start = (now_ms() / kPeriodMs + 1) * kPeriodMs;
    while (now_ms() < period_start) std::this_thread::sleep_for(5ms);
    for (int i = 0; i < 3; ++i) {
      to_niger.push_back(request(*senegal, "sn.focal-point", "NE"));
      answer(*niger, "ne.focal-point", "SN", to_niger.back(),
             i == 2 ? wire::TracingOutcome::REFUSED : wire::TracingOutcome::PARTIAL_CHAIN);
    }
    for (int i = 0; i < 4; ++i) {
      answer(*burkina, "bf.focal-point", "SN", request(*senegal, "sn.focal-point", "BF"),
             wire::TracingOutcome::NO_RECORD);
    }
    niger_to_burkina = request(*niger, "ne.focal-point", "BF");
    REQUIRE(now_ms() < period_start + kPeriodMs);
  }

  // Waits until the period's record is published and a checkpoint covers it.
  void wait_for_record() {
    client::ObserverOptions options;
    options.endpoint = broker->observers_endpoint();
    options.broker_chain = *Certificate::load_pem_file(broker_chain());
    options.root_ca = pki.root_pem();
    options.broker_pins = test::broker_pins(pki);
    auto watcher = client::ObserverClient::connect(pki.identity("cso.sahel-watch"), options);
    if (!watcher) FAIL(watcher.error().describe());
    std::uint64_t next = 1;
    std::optional<std::uint64_t> record_leaf;
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    for (;;) {
      if (std::chrono::steady_clock::now() > deadline) FAIL("no statistics record covered by a checkpoint in 60 s");
      auto page = (*watcher)->follow(next, 1000);
      REQUIRE(page.ok());
      for (const auto& record : page->records) {
        if (record.kind == "statistics") record_leaf = record.log_index;
        if (record.kind == "checkpoint" && record_leaf && record.tree_size && *record.tree_size > *record_leaf) return;
      }
      next = page->next_sequence;
      std::this_thread::sleep_for(100ms);
    }
  }

  std::filesystem::path broker_chain() const { return pki.dir() / "participants" / "exchange.broker" / kChainFile; }

  Ed25519PublicKey broker_key() {
    auto key = client::ed25519_key_of(Certificate::load_pem_file(broker_chain())->front());
    REQUIRE(key.ok());
    return *key;
  }

  test::TestPki pki;
  std::unique_ptr<test::BrokerProcess> broker;
  std::int64_t period_start = 0;
  std::vector<MessageId> to_niger;
  MessageId niger_to_burkina;
};

const CellCheck* cell_of(const RecountResult& recount, const std::string& table, const std::string& requester,
                         const std::string& requested, const std::string& measure) {
  for (const auto& cell : recount.cells) {
    if (cell.table == table && cell.requester == requester && cell.requested == requested && cell.measure == measure) {
      return &cell;
    }
  }
  return nullptr;
}

}  // namespace

TEST_CASE("the states party to a tracing open its facts and recount the published cells they appear in") {
  FactsExchange exchange;
  exchange.play();
  exchange.wait_for_record();

  auto senegal = test::connect_client(*exchange.broker, exchange.pki, "sn.focal-point");
  StatisticsFactsQuery query;
  query.period_start_ms = exchange.period_start;
  auto pages = senegal->statistics_facts(query);
  INFO((pages ? std::string() : pages.error().describe()));
  REQUIRE(pages.ok());
  auto checked = verify_statistics_facts(*pages, CountryCode("SN"), client::kDefaultLogOrigin, exchange.broker_key());
  INFO((checked ? std::string() : checked.error().describe()));
  REQUIRE(checked.ok());
  auto recount = recount_own_cells(*checked, CountryCode("SN"));
  REQUIRE(recount.ok());
  CHECK(recount->tracings == 7);  // its own seven, not NE's request to BF
  CHECK(recount->mismatched == 0);
  CHECK(recount->shown > 0);
  // SN -> BF: four requests, all answered "no record", shown and recounted.
  const auto* to_burkina = cell_of(*recount, "pairs", "SN", "BF", "requests");
  REQUIRE(to_burkina != nullptr);
  CHECK(to_burkina->own_count == 4);
  REQUIRE(to_burkina->published);
  CHECK(*to_burkina->published == 4);
  // The single refusal is hidden: SN sees its own count, the public nothing.
  const auto* refused = cell_of(*recount, "pairs", "SN", "NE", "outcome.refused");
  REQUIRE(refused != nullptr);
  CHECK(refused->own_count == 1);
  CHECK_FALSE(refused->published);
  for (const auto& fact : checked->facts) CHECK((fact.requester == "SN" || fact.requested == "SN"));
  // A broker that alters a fact (or the record) after the log committed to it is caught.
  auto altered_fact = *pages;
  REQUIRE_FALSE(altered_fact.front().facts.empty());
  altered_fact.front().facts.front().metadata += " ";
  auto forged = verify_statistics_facts(altered_fact, CountryCode("SN"), client::kDefaultLogOrigin, exchange.broker_key());
  REQUIRE_FALSE(forged.ok());
  CHECK(forged.error().code == ErrorCode::bad_signature);
  auto altered_record = *pages;
  for (auto& page : altered_record) page.record.insert(page.record.size() - 1, " ");
  forged = verify_statistics_facts(altered_record, CountryCode("SN"), client::kDefaultLogOrigin, exchange.broker_key());
  REQUIRE_FALSE(forged.ok());
  CHECK(forged.error().code == ErrorCode::bad_signature);

  // NE sees its three from SN and its own to BF: eight minus SN's four to BF.
  auto niger = test::connect_client(*exchange.broker, exchange.pki, "ne.focal-point");
  auto niger_pages = niger->statistics_facts(query);
  REQUIRE(niger_pages.ok());
  auto niger_checked =
      verify_statistics_facts(*niger_pages, CountryCode("NE"), client::kDefaultLogOrigin, exchange.broker_key());
  REQUIRE(niger_checked.ok());
  auto niger_recount = recount_own_cells(*niger_checked, CountryCode("NE"));
  REQUIRE(niger_recount.ok());
  CHECK(niger_recount->tracings == 4);
  CHECK(niger_recount->mismatched == 0);

  // The same through the command line, as a focal point runs it.
  const auto profile = exchange.pki.dir() / "profiles" / "sn.focal-point";
  auto init = test::run_fpx(exchange.pki.dir(),
                            {"profile", "init", "--dir", profile.string(), "--identity",
                             (exchange.pki.dir() / "participants" / "sn.focal-point").string(), "--broker-endpoint",
                             exchange.broker->endpoint(), "--broker-cert", exchange.broker_chain().string(),
                             "--root-ca", exchange.pki.root_pem().string(), "--crl-dir",
                             exchange.pki.crl_dir().string()});
  INFO(init.out << init.err);
  REQUIRE(init.exit_code == 0);
  auto check = test::run_fpx(exchange.pki.dir(), {"--profile", profile.string(), "--json", "statistics", "check",
                                                  "--period", std::to_string(exchange.period_start)});
  INFO(check.out << check.err);
  REQUIRE(check.exit_code == 0);
  auto out = nlohmann::json::parse(check.out);
  CHECK(out["ok"] == true);
  CHECK(out["tracings"] == 7);
  CHECK(out["cellsMismatched"] == 0);
}

TEST_CASE("statistics facts are refused to everyone not party with the answer given for facts that do not exist") {
  FactsExchange exchange;
  exchange.play();
  exchange.wait_for_record();
  StatisticsFactsQuery query;
  query.period_start_ms = exchange.period_start;
  auto refused_with_not_found = [&](client::Client& asker, const StatisticsFactsQuery& asked) {
    auto pages = asker.statistics_facts(asked);
    REQUIRE_FALSE(pages.ok());
    CHECK(pages.error().code == ErrorCode::not_found);
    return pages.error().message;
  };
  SECTION("a state that is party to nothing in the period") {
    auto mali = test::connect_client(*exchange.broker, exchange.pki, "ml.focal-point");
    refused_with_not_found(*mali, query);
  }
  SECTION("a state asking for one tracing of another pair of states") {
    auto burkina = test::connect_client(*exchange.broker, exchange.pki, "bf.focal-point");
    auto asked = query;
    asked.request_id = exchange.to_niger.front();  // SN -> NE
    const auto other_pair = refused_with_not_found(*burkina, asked);
    asked.request_id = MessageId::random();  // no such tracing at all
    CHECK(refused_with_not_found(*burkina, asked) == other_pair);
  }
  SECTION("an agency of a state party to the tracings") {
    auto agency = test::connect_client(*exchange.broker, exchange.pki, "sn.police-judiciaire");
    refused_with_not_found(*agency, query);
  }
  SECTION("a period not published") {
    auto senegal = test::connect_client(*exchange.broker, exchange.pki, "sn.focal-point");
    auto asked = query;
    asked.period_start_ms = exchange.period_start + 10 * kPeriodMs;
    refused_with_not_found(*senegal, asked);
    asked.period_start_ms = exchange.period_start + 1;  // not a period's start
    refused_with_not_found(*senegal, asked);
  }
  // Nothing was stored for any of them: the audit has a refusal row each.
  CHECK(exchange.broker->audit_count("statistics_facts", "not_found") >= 1);
}
