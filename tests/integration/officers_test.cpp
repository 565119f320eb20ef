// Several officers of one participant through the real fpx-broker on
// 127.0.0.1: each officer holds a certificate of its own under Niger's focal
// point (same CN and C, the officer extension naming it, its own signing and
// CURVE keys). Their sessions coexist, each sees every delivery, the first
// confirmation stops every resend, status names the officer who answered,
// and revoking one officer leaves the other working.
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "fpx/client.hpp"
#include "support/broker_clients.hpp"
#include "support/broker_process.hpp"
#include "support/sample_messages.hpp"
#include "support/test_pki.hpp"

using namespace fpx;
using namespace std::chrono_literals;
using client::Client;
using test::BrokerProcess;
using test::TestPki;
using wire::MessageType;

namespace {

const std::string kNiger = "ne.focal-point";

// Senegal's police asks Niger; Niger's focal point is two officers.
struct OfficersExchange {
  OfficersExchange() : pki({"SN", "NE", "BF"}) {
    pki.issue("sn.police-judiciaire", "SN", Role::agency);
    pki.issue("sn.focal-point", "SN", Role::focal_point);
    pki.issue("bf.focal-point", "BF", Role::focal_point);
    // Issued by Niger's national CA, as the trust model requires.
    pki.issue(kNiger, "NE", Role::focal_point, {.officer = std::string("amadou")});
    pki.issue(kNiger, "NE", Role::focal_point, {.officer = std::string("fatima")});
    amadou = test::officer_name(kNiger, "amadou");
    fatima = test::officer_name(kNiger, "fatima");
    broker = std::make_unique<BrokerProcess>(
        pki, std::vector<std::string>{"sn.police-judiciaire", "sn.focal-point", "bf.focal-point", amadou, fatima});
  }

  std::unique_ptr<Client> connect(const std::string& name) { return test::connect_client(*broker, pki, name); }

  TestPki pki;
  std::string amadou;
  std::string fatima;
  std::unique_ptr<BrokerProcess> broker;
};

auto reply_to(const MessageId& request) {
  return [request](wire::Header::Builder header, wire::Body::Builder) {
    header.setInReplyTo(kj::arrayPtr(request.bytes.data(), request.bytes.size()));
    header.initRecipients(1)[0].setCountry("SN");
  };
}

// One officer at work: its client, what it received, and the requests it
// must answer (its share of them).
struct Officer {
  std::string name;
  std::string officer;
  Identity identity;
  std::unique_ptr<Client> client;
  std::set<MessageId> received;
  std::vector<MessageId> answered;

  // Polls once; confirms everything; answers the requests whose number in
  // `order` makes them its own (even: amadou, odd: fatima).
  void work(const std::map<MessageId, int>& order, int parity, std::chrono::milliseconds wait) {
    auto batch = client->poll(wait);
    if (!batch) FAIL(name << ": poll failed (a session taken over?): " << batch.error().describe());
    for (const auto& delivery : *batch) {
      REQUIRE(client->confirm(delivery).ok());
      if (delivery.opened.type != MessageType::TRACING_REQUEST) continue;
      received.insert(delivery.opened.message_id);
      auto number = order.find(delivery.opened.message_id);
      if (number == order.end() || number->second % 2 != parity) continue;
      Bytes response =
          test::seal_changed(identity, MessageType::TRACING_RESPONSE, reply_to(delivery.opened.message_id));
      auto receipt = client->submit(response);
      if (!receipt) FAIL(name << ": response refused: " << receipt.error().describe());
      answered.push_back(delivery.opened.message_id);
    }
  }
};

std::string lifecycle_for_niger(Client& agency, const MessageId& request) {
  auto status = agency.status(request);
  if (!status) FAIL("status: " << status.error().describe());
  for (const auto& row : *status) {
    if (row.recipient.str() == kNiger) return row.lifecycle;
  }
  return {};
}

}  // namespace

TEST_CASE(
    "two officers of Niger's focal point work at once for 60 s: no takeover, each sees every delivery, "
    "status names who answered") {
  OfficersExchange exchange;
  auto agency_identity = exchange.pki.identity("sn.police-judiciaire");
  auto agency = exchange.connect("sn.police-judiciaire");
  Officer amadou{
      exchange.amadou, "amadou", exchange.pki.identity(exchange.amadou), exchange.connect(exchange.amadou), {}, {}};
  Officer fatima{
      exchange.fatima, "fatima", exchange.pki.identity(exchange.fatima), exchange.connect(exchange.fatima), {}, {}};
  REQUIRE(amadou.identity.participant().officer == "amadou");
  REQUIRE(fatima.identity.participant().id.str() == kNiger);

  std::map<MessageId, int> order;
  const auto end = std::chrono::steady_clock::now() + 60s;
  auto next_request = std::chrono::steady_clock::now();
  int sent = 0;
  while (std::chrono::steady_clock::now() < end) {
    if (std::chrono::steady_clock::now() >= next_request) {
      Bytes request = test::seal_sample(agency_identity, MessageType::TRACING_REQUEST);
      order[test::message_id_of(request)] = sent++;
      auto receipt = agency->submit(request);
      if (!receipt) FAIL("request " << sent << ": " << receipt.error().describe());
      next_request += 1s;
    }
    amadou.work(order, 0, 100ms);
    fatima.work(order, 1, 100ms);
    (void)agency->poll(0ms);  // the responses and copies come back to Senegal
  }
  // The last requests still on their way.
  const auto settle = std::chrono::steady_clock::now() + 10s;
  while ((amadou.received.size() < order.size() || fatima.received.size() < order.size()) &&
         std::chrono::steady_clock::now() < settle) {
    amadou.work(order, 0, 100ms);
    fatima.work(order, 1, 100ms);
  }

  CHECK(sent >= 55);
  // Each officer saw every request sent to its participant, once.
  CHECK(amadou.received.size() == order.size());
  CHECK(fatima.received.size() == order.size());
  // Neither session was taken over by the other.
  CHECK(exchange.broker->log_text().find("takes over") == std::string::npos);

  // Every request is answered once, and status names the officer who did.
  CHECK(amadou.answered.size() + fatima.answered.size() == order.size());
  for (const auto& [officer, answered] : std::vector<std::pair<std::string, std::vector<MessageId>*>>{
           {"amadou", &amadou.answered}, {"fatima", &fatima.answered}}) {
    for (const auto& request : *answered) {
      const std::string lifecycle = lifecycle_for_niger(*agency, request);
      INFO("lifecycle of " << request.hex() << ": " << lifecycle);
      CHECK_THAT(lifecycle,
                 Catch::Contains("final") && Catch::Contains("answered") && Catch::Contains("by officer " + officer));
    }
  }
  // The audit rows of the answers name the officer who signed.
  int by_amadou = 0;
  int by_fatima = 0;
  for (const auto& row : exchange.broker->audit()) {
    if (row.stage != "persist" || row.outcome != "accepted") continue;
    if (row.principal == kNiger + "/amadou" && row.detail.find("signed by officer amadou") != std::string::npos) {
      ++by_amadou;
    }
    if (row.principal == kNiger + "/fatima" && row.detail.find("signed by officer fatima") != std::string::npos) {
      ++by_fatima;
    }
  }
  CHECK(by_amadou == static_cast<int>(amadou.answered.size()));
  CHECK(by_fatima == static_cast<int>(fatima.answered.size()));
  // The deliveries were confirmed once for both officers: Niger's row is confirmed.
  auto status = agency->status(order.begin()->first);
  REQUIRE(status.ok());
  bool confirmed = false;
  for (const auto& row : *status) confirmed |= row.recipient.str() == kNiger && row.state == "confirmed";
  CHECK(confirmed);
}

TEST_CASE("an officer who connects later receives what a colleague already confirmed") {
  OfficersExchange exchange;
  auto agency_identity = exchange.pki.identity("sn.police-judiciaire");
  auto agency = exchange.connect("sn.police-judiciaire");
  auto amadou = exchange.connect(exchange.amadou);
  Bytes request = test::seal_sample(agency_identity, MessageType::TRACING_REQUEST);
  REQUIRE(agency->submit(request).ok());
  std::vector<client::Delivery> got;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (got.empty() && std::chrono::steady_clock::now() < deadline) {
    auto batch = amadou->poll(100ms);
    REQUIRE(batch.ok());
    for (auto& delivery : *batch) got.push_back(std::move(delivery));
  }
  REQUIRE(got.size() == 1);
  REQUIRE(amadou->confirm(got[0]).ok());
  // Confirmed for the participant before Fatima connects.
  bool confirmed = false;
  const auto confirm_deadline = std::chrono::steady_clock::now() + 10s;
  while (!confirmed && std::chrono::steady_clock::now() < confirm_deadline) {
    auto status = agency->status(test::message_id_of(request));
    REQUIRE(status.ok());
    for (const auto& row : *status) confirmed |= row.recipient.str() == kNiger && row.state == "confirmed";
    if (!confirmed) std::this_thread::sleep_for(100ms);
  }
  REQUIRE(confirmed);

  auto fatima = exchange.connect(exchange.fatima);
  std::vector<client::Delivery> caught_up;
  const auto catch_up_deadline = std::chrono::steady_clock::now() + 10s;
  while (caught_up.empty() && std::chrono::steady_clock::now() < catch_up_deadline) {
    auto batch = fatima->poll(100ms);
    REQUIRE(batch.ok());
    for (auto& delivery : *batch) caught_up.push_back(std::move(delivery));
  }
  REQUIRE(caught_up.size() == 1);
  CHECK(caught_up[0].opened.message_id == test::message_id_of(request));
  CHECK(fatima->confirm(caught_up[0]).ok());
  // Amadou's session is still his: a ping-like request answers.
  CHECK(amadou->status(test::message_id_of(request)).error().code == ErrorCode::not_found);
}

TEST_CASE("revoking one officer ends that officer's session and leaves the other working") {
  OfficersExchange exchange;
  auto agency_identity = exchange.pki.identity("sn.police-judiciaire");
  auto agency = exchange.connect("sn.police-judiciaire");
  auto amadou_identity = exchange.pki.identity(exchange.amadou);
  auto fatima_identity = exchange.pki.identity(exchange.fatima);
  auto amadou = exchange.connect(exchange.amadou);
  auto fatima = exchange.connect(exchange.fatima);

  auto receive_one = [](Client& client) {
    std::vector<client::Delivery> got;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (got.empty() && std::chrono::steady_clock::now() < deadline) {
      auto batch = client.poll(100ms);
      if (!batch) FAIL("poll: " << batch.error().describe());
      for (auto& delivery : *batch) got.push_back(std::move(delivery));
    }
    for (const auto& delivery : got) REQUIRE(client.confirm(delivery).ok());
    return got;
  };

  Bytes first = test::seal_sample(agency_identity, MessageType::TRACING_REQUEST);
  REQUIRE(agency->submit(first).ok());
  REQUIRE(receive_one(*amadou).size() == 1);
  REQUIRE(receive_one(*fatima).size() == 1);

  exchange.pki.revoke(exchange.amadou, now_ms() - 1000);
  exchange.broker->reload();

  // Amadou's live session is refused, whatever he sends.
  auto refused = amadou->submit(
      test::seal_changed(amadou_identity, MessageType::TRACING_RESPONSE, reply_to(test::message_id_of(first))));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::revoked);

  // Fatima answers, and keeps receiving.
  auto answered = fatima->submit(
      test::seal_changed(fatima_identity, MessageType::TRACING_RESPONSE, reply_to(test::message_id_of(first))));
  if (!answered) FAIL("Fatima's response: " << answered.error().describe());
  Bytes second = test::seal_sample(agency_identity, MessageType::TRACING_REQUEST);
  REQUIRE(agency->submit(second).ok());
  auto got = receive_one(*fatima);
  REQUIRE(got.size() == 1);
  CHECK(got[0].opened.message_id == test::message_id_of(second));
  CHECK_THAT(lifecycle_for_niger(*agency, test::message_id_of(first)), Catch::Contains("by officer fatima"));
  // A new connection with the revoked certificate is refused at the handshake.
  auto again = client::Client::connect(exchange.pki.identity(exchange.amadou),
                                       test::client_options(*exchange.broker, exchange.pki, exchange.amadou));
  CHECK_FALSE(again.ok());
}

// Attacker: a revoked officer who only listens. A reload must end his live
// session, not only refuse his frames: no later delivery of Niger reaches him.
TEST_CASE("a revoked officer's live connection receives no delivery after the reload") {
  OfficersExchange exchange;
  auto agency_identity = exchange.pki.identity("sn.police-judiciaire");
  auto agency = exchange.connect("sn.police-judiciaire");
  auto amadou = exchange.connect(exchange.amadou);
  auto fatima = exchange.connect(exchange.fatima);
  auto drain = [](Client& client, std::chrono::milliseconds total) {
    std::vector<client::Delivery> got;
    const auto deadline = std::chrono::steady_clock::now() + total;
    while (std::chrono::steady_clock::now() < deadline) {
      auto batch = client.poll(100ms);
      if (!batch) break;
      for (auto& delivery : *batch) got.push_back(std::move(delivery));
    }
    return got;
  };
  Bytes first = test::seal_sample(agency_identity, MessageType::TRACING_REQUEST);
  REQUIRE(agency->submit(first).ok());
  REQUIRE(drain(*amadou, 3s).size() == 1);
  for (const auto& delivery : drain(*fatima, 3s)) REQUIRE(fatima->confirm(delivery).ok());

  exchange.pki.revoke(exchange.amadou, now_ms() - 1000);
  exchange.broker->reload();

  Bytes second = test::seal_sample(agency_identity, MessageType::TRACING_REQUEST);
  REQUIRE(agency->submit(second).ok());
  auto fatima_got = drain(*fatima, 3s);
  REQUIRE(fatima_got.size() == 1);
  REQUIRE(fatima->confirm(fatima_got[0]).ok());
  // Amadou sends nothing (a frame would be refused); he only listens.
  auto leaked = drain(*amadou, 3s);
  CHECK(leaked.empty());
  for (const auto& delivery : leaked) {
    CHECK_FALSE(delivery.opened.message_id == test::message_id_of(second));
  }
}
