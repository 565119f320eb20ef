// The tracing workflow with a fake clock: broker_core runs in this process
// on 127.0.0.1 and the test moves time forward instead of sleeping.
#include <atomic>
#include <functional>
#include <fstream>
#include <thread>

#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "fpx/broker/broker.hpp"
#include "fpx/client.hpp"
#include "fpx/observer_client.hpp"
#include "fpx/public_statistics.hpp"
#include "support/sample_messages.hpp"
#include "support/test_pki.hpp"

using namespace fpx;
using namespace std::chrono_literals;
using client::Client;
using test::kDayMs;
using wire::MessageType;

namespace {

constexpr std::int64_t kHourMs = 3600 * 1000;

class WorkflowExchange {
 public:
  explicit WorkflowExchange(const std::function<void(broker::BrokerConfig&)>& adjust = {})
      : pki_({"SN", "NE", "BF"}) {
    const std::int64_t now = now_ms();
    fake_now_ = now;
    test::IssueOptions long_lived{.validity = {now - kDayMs, now + 90 * kDayMs}};
    pki_.issue("sn.focal-point", "SN", Role::focal_point, long_lived);
    pki_.issue("ne.focal-point", "NE", Role::focal_point, long_lived);
    pki_.issue("bf.focal-point", "BF", Role::focal_point, long_lived);
    pki_.issue("ml.focal-point", "ML", Role::focal_point, long_lived);
    pki_.issue("sn.police-judiciaire", "SN", Role::agency, long_lived);
    auto observer_options = long_lived;
    observer_options.via_intermediate = false;
    pki_.issue("cso.sahel-watch", "SN", Role::observer, observer_options);
    pki_.issue("cso.sahel-watch.sn", "SN", Role::cso, observer_options);  // its voice (issue 12 item 5)
    auto broker_options = long_lived;
    broker_options.via_intermediate = false;
    pki_.issue("exchange.broker", "AT", Role::broker, broker_options);
    pki_.write_crls(now - kDayMs, now + 90 * kDayMs);  // time will move on by weeks

    auto enrolled = pki_.dir() / "enrolled";
    std::filesystem::create_directories(enrolled);
    for (const char* id : {"sn.focal-point", "ne.focal-point", "bf.focal-point", "ml.focal-point",
                           "sn.police-judiciaire", "cso.sahel-watch", "cso.sahel-watch.sn"}) {
      std::filesystem::copy_file(pki_.dir() / "participants" / id / kChainFile,
                                 enrolled / (std::string(id) + ".pem"));
    }
    broker::BrokerConfig config;
    config.participants_endpoint = "tcp://127.0.0.1:0";
    config.oversight.observers_endpoint = "tcp://127.0.0.1:0";
    config.root_ca = pki_.root_pem();
    config.crl_dir = pki_.crl_dir();
    config.enrolled_dir = enrolled;
    config.identity_dir = pki_.dir() / "participants" / "exchange.broker";
    config.database = pki_.dir() / "broker.sqlite";
    config.timing.tracing_request_hold_ms = 10 * kDayMs;
    config.timing.max_message_age_ms = 365 * kDayMs;
    config.clocks.scan_every_ms = 1000;
    config.limits.rate_per_second = 10000;
    config.limits.burst = 10000;
    // Many messages a second from one participant: far above the stored-bytes bound's default.
    config.limits.stored_bytes_per_minute = 1e12;
    config.limits.stored_burst_bytes = 1e12;
    if (adjust) adjust(config);
    auto created = broker::Broker::create(config, [this] { return fake_now_.load(); });
    if (!created) FAIL("broker: " << created.error().describe());
    broker_ = std::move(created).value();
    loop_ = std::thread([this] {
      while (!stop_) (void)broker_->poll_once(5ms);
    });
  }

  ~WorkflowExchange() {
    stop_ = true;
    loop_.join();
  }

  std::unique_ptr<Client> connect(const std::string& id) {
    client::ClientOptions options;
    options.endpoint = broker_->endpoint();
    auto chain = Certificate::load_pem_file(pki_.dir() / "participants" / "exchange.broker" / kChainFile);
    options.broker_curve_key = chain->front().participant()->curve_public_key;
    options.state_db = pki_.dir() / (id + ".client.sqlite");
    options.root_ca = pki_.root_pem();
    options.crl_dir = pki_.crl_dir();
    options.broker_pins = {*client::BrokerKeyPin::of_certificate(chain->front())};
    auto connected = Client::connect(pki_.identity(id), options);
    if (!connected) FAIL(id << ": " << connected.error().describe());
    return std::move(connected).value();
  }

  std::unique_ptr<client::ObserverClient> observer() {
    client::ObserverOptions options;
    options.endpoint = broker_->observers_endpoint();
    options.broker_chain = *Certificate::load_pem_file(pki_.dir() / "participants" / "exchange.broker" / kChainFile);
    options.root_ca = pki_.root_pem();
    options.broker_pins = {*client::BrokerKeyPin::of_certificate(options.broker_chain.front())};
    auto connected = client::ObserverClient::connect(pki_.identity("cso.sahel-watch"), options);
    if (!connected) FAIL("observer: " << connected.error().describe());
    return std::move(connected).value();
  }

  Identity identity(const std::string& id) { return pki_.identity(id); }
  const std::filesystem::path& dir() const { return pki_.dir(); }
  std::filesystem::path root_pem() const { return pki_.root_pem(); }
  std::string observers_endpoint() const { return broker_->observers_endpoint(); }
  std::int64_t now() const { return fake_now_.load(); }
  void advance(std::int64_t ms) { fake_now_ += ms; }
  void set_now(std::int64_t ms) { fake_now_ = ms; }

  // A message of `type`, created now on the fake clock.
  Bytes seal(const Identity& signer, MessageType type, const test::SampleChange& change = {}) {
    std::int64_t created = now();
    return test::seal_changed(signer, type, [&](auto header, auto body) {
      header.setCreatedAtMs(created);
      if (change) change(header, body);
    });
  }

 private:
  test::TestPki pki_;
  std::atomic<std::int64_t> fake_now_{0};
  std::unique_ptr<broker::Broker> broker_;
  std::atomic<bool> stop_{false};
  std::thread loop_;
};

std::vector<client::Delivery> receive(Client& client, std::size_t count, std::chrono::milliseconds within = 10s) {
  std::vector<client::Delivery> received;
  auto deadline = std::chrono::steady_clock::now() + within;
  while (received.size() < count && std::chrono::steady_clock::now() < deadline) {
    auto batch = client.poll(100ms);
    REQUIRE(batch.ok());
    for (auto& delivery : *batch) {
      REQUIRE(client.confirm(delivery).ok());
      received.push_back(std::move(delivery));
    }
  }
  return received;
}

// A round trip on the client's connection: the broker has handled every
// confirmation sent before it (one connection is processed in order).
void sync(Client& client) { (void)client.status(MessageId::random()); }

std::vector<MessageType> types_of(const std::vector<client::Delivery>& deliveries) {
  std::vector<MessageType> types;
  for (const auto& delivery : deliveries) types.push_back(delivery.opened.type);
  return types;
}

std::string lifecycle_of(Client& client, const MessageId& request, const std::string& focal_point) {
  auto status = client.status(request);
  REQUIRE(status.ok());
  for (const auto& row : *status) {
    if (row.recipient.str() == focal_point) return row.lifecycle;
  }
  return "";
}

auto reply_to(const MessageId& request) {
  return [request](wire::Header::Builder header, wire::Body::Builder) {
    header.setInReplyTo(kj::arrayPtr(request.bytes.data(), request.bytes.size()));
    header.initRecipients(1)[0].setCountry("SN");
  };
}

}  // namespace

TEST_CASE("an urgent request not acknowledged in 8 hours brings a reminder and escalations from the broker") {
  WorkflowExchange exchange;
  auto agency = exchange.connect("sn.police-judiciaire");
  auto niger = exchange.connect("ne.focal-point");
  auto senegal = exchange.connect("sn.focal-point");
  Bytes request = exchange.seal(exchange.identity("sn.police-judiciaire"), MessageType::TRACING_REQUEST,
                                [](auto header, auto) {
                                  header.setPriority(wire::Priority::URGENT);
                                  header.setUrgencyJustification("armed group re-supplying");
                                });
  REQUIRE(agency->submit(request).ok());
  MessageId id = test::message_id_of(request);
  REQUIRE(receive(*niger, 1).size() == 1);
  REQUIRE(receive(*senegal, 1).size() == 1);
  sync(*niger);
  CHECK_THAT(lifecycle_of(*agency, id, "ne.focal-point"), Catch::StartsWith("delivered (urgent)"));

  exchange.advance(7 * kHourMs);
  CHECK(receive(*niger, 1, 1500ms).empty());  // not yet due

  exchange.advance(kHourMs + 60'000);
  auto to_niger = receive(*niger, 2);
  REQUIRE(to_niger.size() == 2);
  CHECK(types_of(to_niger) == std::vector<MessageType>{MessageType::REMINDER, MessageType::ESCALATION});
  for (const auto& notice : to_niger) {
    CHECK(notice.opened.signer.participant.role == Role::broker);  // signed by the exchange
  }
  auto reminder = to_niger[0].opened.message.body().getReminder();
  CHECK(reminder.getClock() == wire::ClockKind::ACKNOWLEDGEMENT);
  CHECK(std::string(reminder.getRequestedCountry().cStr()) == "NE");

  // The escalation reaches the requesting side too; BF (also asked) has its own.
  auto to_senegal = receive(*senegal, 2);
  CHECK(types_of(to_senegal) == std::vector<MessageType>{MessageType::ESCALATION, MessageType::ESCALATION});
  CHECK_THAT(lifecycle_of(*agency, id, "ne.focal-point"), Catch::Contains("escalated"));

  // One reminder per clock: later scans stay quiet.
  exchange.advance(kHourMs);
  CHECK(receive(*niger, 1, 1500ms).empty());
}

TEST_CASE("acknowledgement and answer stop the clocks and date each step of the lifecycle") {
  WorkflowExchange exchange;
  auto agency = exchange.connect("sn.police-judiciaire");
  auto niger = exchange.connect("ne.focal-point");
  auto burkina = exchange.connect("bf.focal-point");
  auto niger_identity = exchange.identity("ne.focal-point");
  auto burkina_identity = exchange.identity("bf.focal-point");
  Bytes request = exchange.seal(exchange.identity("sn.police-judiciaire"), MessageType::TRACING_REQUEST);
  REQUIRE(agency->submit(request).ok());
  MessageId id = test::message_id_of(request);
  REQUIRE(receive(*niger, 1).size() == 1);
  REQUIRE(receive(*burkina, 1).size() == 1);

  exchange.advance(kDayMs);
  REQUIRE(niger->submit(exchange.seal(niger_identity, MessageType::TRACING_ACKNOWLEDGEMENT, reply_to(id))).ok());
  REQUIRE(niger->submit(exchange.seal(niger_identity, MessageType::TRACING_RESPONSE, reply_to(id))).ok());
  REQUIRE(burkina->submit(exchange.seal(burkina_identity, MessageType::TRACING_RESPONSE, [&](auto header, auto body) {
                     reply_to(id)(header, body);
                     auto response = body.getTracingResponse();
                     response.setOutcome(wire::TracingOutcome::REFUSED);
                     response.initChainOfCustody(0);
                     response.initRefusalGrounds(1).set(0, wire::RefusalGround::ONGOING_INVESTIGATION);
                     response.setGroundsExplanation("a national investigation is under way");
                   }))
              .ok());
  auto answers = receive(*agency, 3);
  CHECK(types_of(answers) == std::vector<MessageType>{MessageType::TRACING_ACKNOWLEDGEMENT,
                                                      MessageType::TRACING_RESPONSE, MessageType::TRACING_RESPONSE});
  CHECK_THAT(lifecycle_of(*agency, id, "ne.focal-point"), Catch::StartsWith("final (routine)") &&
                                                              Catch::Contains("partial_chain"));
  CHECK_THAT(lifecycle_of(*agency, id, "bf.focal-point"),
             Catch::StartsWith("refused") && Catch::Contains("grounds: ongoing_investigation"));

  // Past every clock: nothing is owed, so no reminder or escalation. (The
  // replies to SN's focal point, never connected here, turn into dead
  // letters by then: those notices are expected.)
  exchange.advance(31 * kDayMs);
  for (Client* answered : {niger.get(), burkina.get()}) {
    for (auto type : types_of(receive(*answered, 3, 1500ms))) {
      CHECK(type != MessageType::REMINDER);
      CHECK(type != MessageType::ESCALATION);
    }
  }
}

TEST_CASE("a forward shares the request with another state unless it carries H2") {
  WorkflowExchange exchange;
  auto agency = exchange.connect("sn.police-judiciaire");
  auto niger = exchange.connect("ne.focal-point");
  auto mali = exchange.connect("ml.focal-point");
  auto niger_identity = exchange.identity("ne.focal-point");
  auto forward_to_mali = [&](const MessageId& id) {
    return exchange.seal(niger_identity, MessageType::FORWARD, [&](auto header, auto body) {
      reply_to(id)(header, body);
      header.initRecipients(1)[0].setCountry("ML");
    });
  };

  Bytes restricted = exchange.seal(exchange.identity("sn.police-judiciaire"), MessageType::TRACING_REQUEST,
                                   [](auto header, auto) {
                                     auto codes = header.initHandlingCodes(1);
                                     codes.set(0, wire::HandlingCode::H2_NO_ONWARD_SHARING_WITHOUT_PERMISSION);
                                   });
  REQUIRE(agency->submit(restricted).ok());
  REQUIRE(receive(*niger, 1).size() == 1);
  auto refused = niger->submit(forward_to_mali(test::message_id_of(restricted)));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::unauthorized);
  CHECK_THAT(refused.error().message, Catch::Contains("H2"));

  Bytes open_request = exchange.seal(exchange.identity("sn.police-judiciaire"), MessageType::TRACING_REQUEST);
  REQUIRE(agency->submit(open_request).ok());
  REQUIRE(receive(*niger, 1).size() == 1);
  REQUIRE(niger->submit(forward_to_mali(test::message_id_of(open_request))).ok());
  auto to_mali = receive(*mali, 2);
  REQUIRE(to_mali.size() == 2);
  CHECK(to_mali[0].opened.message_id == test::message_id_of(open_request));  // the request itself, as signed
  CHECK(to_mali[1].opened.type == MessageType::FORWARD);
  CHECK_THAT(lifecycle_of(*agency, test::message_id_of(open_request), "ne.focal-point"),
             Catch::StartsWith("forwarded"));
}

TEST_CASE("a request for a firearm of an active stolen alert sends a hit notification to both focal points") {
  WorkflowExchange exchange;
  auto agency = exchange.connect("sn.police-judiciaire");
  auto senegal = exchange.connect("sn.focal-point");
  auto burkina = exchange.connect("bf.focal-point");
  auto niger = exchange.connect("ne.focal-point");

  // An alert that reached NE only never answers SN's requests: no state
  // can watch serials to learn of requests from states it did not warn.
  Bytes unseen = exchange.seal(exchange.identity("bf.focal-point"), MessageType::ALERT, [](auto header, auto body) {
    header.initRecipients(1)[0].setCountry("NE");
    body.getAlert().getFirearms()[0].setSerialNumber("BF-DEPOT-999999");
  });
  REQUIRE(burkina->submit(unseen).ok());
  REQUIRE(receive(*niger, 1).size() == 1);
  Bytes unseen_request = exchange.seal(exchange.identity("sn.police-judiciaire"), MessageType::TRACING_REQUEST,
                                       [](auto, auto body) {
                                         body.getTracingRequest().getFirearms()[0].setSerialNumber("BF-DEPOT-999999");
                                       });
  REQUIRE(agency->submit(unseen_request).ok());
  CHECK(types_of(receive(*senegal, 2, 1500ms)) == std::vector<MessageType>{MessageType::TRACING_REQUEST});
  REQUIRE(receive(*burkina, 1).size() == 1);  // the request itself, no hit
  CHECK(receive(*burkina, 1, 500ms).empty());
  REQUIRE(receive(*niger, 1).size() == 1);

  // A bulk alert to NE and SN: thousands of firearms in one message.
  Bytes alert = exchange.seal(exchange.identity("bf.focal-point"), MessageType::ALERT, [](auto header, auto body) {
    auto scope = header.initRecipients(2);
    scope[0].setCountry("NE");
    scope[1].setCountry("SN");
    auto firearms = body.getAlert().initFirearms(3000);
    for (unsigned i = 0; i < firearms.size(); ++i) {
      firearms[i].setSerialNumber("BF-DEPOT-" + std::to_string(100000 + i));
      firearms[i].setManufacturer("Izhmash");
      firearms[i].setType(wire::FirearmType::ASSAULT_RIFLE);
      firearms[i].setCalibre("7.62x39mm");
    }
    body.getAlert().getBatch().setQuantity(3000);
  });
  REQUIRE(burkina->submit(alert).ok());
  REQUIRE(receive(*niger, 1).size() == 1);
  REQUIRE(receive(*senegal, 1).size() == 1);

  Bytes request = exchange.seal(exchange.identity("sn.police-judiciaire"), MessageType::TRACING_REQUEST,
                                [](auto, auto body) {
                                  // As marked on the rifle: another spelling of a listed serial.
                                  body.getTracingRequest().getFirearms()[0].setSerialNumber("bf depot 101234");
                                });
  REQUIRE(agency->submit(request).ok());
  auto at_senegal = receive(*senegal, 2);
  auto at_burkina = receive(*burkina, 2);
  CHECK(types_of(at_senegal) == std::vector<MessageType>{MessageType::TRACING_REQUEST, MessageType::HIT_NOTIFICATION});
  REQUIRE(types_of(at_burkina) ==
          std::vector<MessageType>{MessageType::TRACING_REQUEST, MessageType::HIT_NOTIFICATION});
  auto hit = at_burkina[1].opened.message.body().getHitNotification();
  CHECK(std::string(hit.getMatchedSerial().cStr()) == "BFDEPOT101234");
  CHECK(MessageId::from_bytes(ByteView(hit.getAlertMessageId().begin(), 16)) == test::message_id_of(alert));
}

TEST_CASE("an H2 request's hit and clocks reach only the states it addressed, however long they run") {
  WorkflowExchange exchange;
  auto agency = exchange.connect("sn.police-judiciaire");
  auto senegal = exchange.connect("sn.focal-point");
  auto burkina = exchange.connect("bf.focal-point");
  auto niger = exchange.connect("ne.focal-point");
  Bytes alert = exchange.seal(exchange.identity("bf.focal-point"), MessageType::ALERT, [](auto header, auto body) {
    auto scope = header.initRecipients(2);
    scope[0].setCountry("NE");
    scope[1].setCountry("SN");
    body.getAlert().getFirearms()[0].setSerialNumber("BF-DEPOT-424242");
  });
  REQUIRE(burkina->submit(alert).ok());
  REQUIRE(receive(*niger, 1).size() == 1);
  REQUIRE(receive(*senegal, 1).size() == 1);

  // Urgent, H2, to Niger only, for a serial on Burkina Faso's watch list.
  auto watched_request = [&](wire::HandlingCode code) {
    return exchange.seal(exchange.identity("sn.police-judiciaire"), MessageType::TRACING_REQUEST,
                         [code](auto header, auto body) {
                           header.setPriority(wire::Priority::URGENT);
                           header.setUrgencyJustification("armed group re-supplying");
                           header.initHandlingCodes(1).set(0, code);
                           header.initRecipients(1)[0].setCountry("NE");
                           auto request = body.getTracingRequest();
                           auto states = request.initRequestedStates(1);
                           states[0].setCountry("NE");
                           states[0].setRole(wire::RequestedStateRole::COUNTRY_OF_LAST_IMPORT);
                           request.getFirearms()[0].setSerialNumber("bf-depot 424242");
                         });
  };
  Bytes secret = watched_request(wire::HandlingCode::H2_NO_ONWARD_SHARING_WITHOUT_PERMISSION);
  REQUIRE(agency->submit(secret).ok());
  auto at_senegal = receive(*senegal, 2);
  REQUIRE(types_of(at_senegal) == std::vector<MessageType>{MessageType::TRACING_REQUEST, MessageType::HIT_NOTIFICATION});
  auto hit = at_senegal[1].opened.message.body().getHitNotification();
  CHECK(MessageId::from_bytes(ByteView(hit.getAlertMessageId().begin(), 16)) == test::message_id_of(alert));
  CHECK(MessageId::from_bytes(ByteView(hit.getRequestMessageId().begin(), 16)) == test::message_id_of(secret));
  auto hit_header = at_senegal[1].opened.message.header();
  // The requesting state's focal point and the agency that filed the request, no one else.
  REQUIRE(hit_header.getRecipients().size() == 2);
  CHECK(std::string(hit_header.getRecipients()[0].getParticipant().cStr()) == "sn.focal-point");
  CHECK(std::string(hit_header.getRecipients()[1].getParticipant().cStr()) == "sn.police-judiciaire");
  REQUIRE(hit_header.getHandlingCodes().size() == 1);
  CHECK(hit_header.getHandlingCodes()[0] == wire::HandlingCode::H2_NO_ONWARD_SHARING_WITHOUT_PERMISSION);
  REQUIRE(receive(*niger, 1).size() == 1);

  // Both clocks run out: reminders and escalations go to Niger and Senegal.
  exchange.advance(8 * kHourMs + 60'000);
  CHECK(types_of(receive(*niger, 2)) == std::vector<MessageType>{MessageType::REMINDER, MessageType::ESCALATION});
  exchange.advance(3 * kDayMs);
  CHECK(types_of(receive(*niger, 2)) == std::vector<MessageType>{MessageType::REMINDER, MessageType::ESCALATION});
  CHECK(types_of(receive(*senegal, 2)) == std::vector<MessageType>{MessageType::ESCALATION, MessageType::ESCALATION});

  // Burkina Faso's first delivery since its alert is the hit of a later H0
  // request: of the H2 one, days of clocks later, it learnt nothing.
  Bytes open_request = watched_request(wire::HandlingCode::H0_CRIME_FIGHTING_ONLY);
  REQUIRE(agency->submit(open_request).ok());
  auto at_burkina = receive(*burkina, 1);
  REQUIRE(types_of(at_burkina) == std::vector<MessageType>{MessageType::HIT_NOTIFICATION});
  auto open_hit = at_burkina[0].opened.message.body().getHitNotification();
  CHECK(MessageId::from_bytes(ByteView(open_hit.getRequestMessageId().begin(), 16)) ==
        test::message_id_of(open_request));
}

TEST_CASE("a state's watch list is bounded over all its alerts; cancelling an alert makes room again") {
  WorkflowExchange exchange([](broker::BrokerConfig& config) { config.limits.max_watched_serials_per_state = 5; });
  auto burkina = exchange.connect("bf.focal-point");
  auto niger = exchange.connect("ne.focal-point");
  auto alert_of = [&](unsigned count, unsigned first) {
    return exchange.seal(exchange.identity("bf.focal-point"), MessageType::ALERT,
                         [count, first](auto header, auto body) {
                           header.initRecipients(1)[0].setCountry("NE");
                           auto firearms = body.getAlert().initFirearms(count);
                           for (unsigned i = 0; i < count; ++i) {
                             firearms[i].setSerialNumber("BF-DEPOT-" + std::to_string(first + i));
                             firearms[i].setManufacturer("Izhmash");
                             firearms[i].setType(wire::FirearmType::ASSAULT_RIFLE);
                             firearms[i].setCalibre("7.62x39mm");
                           }
                         });
  };
  Bytes first = alert_of(3, 100);
  REQUIRE(burkina->submit(first).ok());
  REQUIRE(receive(*niger, 1).size() == 1);
  // 3 watched + 3 more is over 5: refused, with what to do.
  auto refused = burkina->submit(alert_of(3, 200));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::quota_exceeded);
  CHECK_THAT(refused.error().message, Catch::Contains("already watches 3") && Catch::Contains("cancel alerts"));
  // Another state's watch list is its own.
  auto niger_alert = exchange.seal(exchange.identity("ne.focal-point"), MessageType::ALERT, [](auto header, auto body) {
    header.initRecipients(1)[0].setCountry("BF");
    auto firearms = body.getAlert().initFirearms(4);
    for (unsigned i = 0; i < 4; ++i) {
      firearms[i].setSerialNumber("NE-STORE-" + std::to_string(500 + i));
      firearms[i].setManufacturer("Izhmash");
      firearms[i].setType(wire::FirearmType::ASSAULT_RIFLE);
      firearms[i].setCalibre("7.62x39mm");
    }
  });
  CHECK(niger->submit(niger_alert).ok());
  // Burkina Faso cancels its first alert: the same alert then fits.
  Bytes cancel = exchange.seal(exchange.identity("bf.focal-point"), MessageType::ALERT, [&first](auto header, auto body) {
    header.initRecipients(1)[0].setCountry("NE");
    const MessageId id = test::message_id_of(first);
    header.setInReplyTo(kj::arrayPtr(id.bytes.data(), id.bytes.size()));
    body.getAlert().setKind(wire::AlertKind::CANCEL);
  });
  auto cancelled = burkina->submit(cancel);
  if (!cancelled) FAIL("cancel: " << cancelled.error().describe());
  auto again = burkina->submit(alert_of(3, 200));
  if (!again) FAIL("after the cancel: " << again.error().describe());
}

TEST_CASE("a stolen alert listing more serials than the watch-list cap is refused, and nothing of it is kept") {
  WorkflowExchange exchange([](broker::BrokerConfig& config) { config.limits.max_watched_serials_per_alert = 100; });
  auto burkina = exchange.connect("bf.focal-point");
  auto niger = exchange.connect("ne.focal-point");
  auto alert_of = [&](unsigned count) {
    return exchange.seal(exchange.identity("bf.focal-point"), MessageType::ALERT, [count](auto header, auto body) {
      header.initRecipients(1)[0].setCountry("NE");
      auto firearms = body.getAlert().initFirearms(count);
      for (unsigned i = 0; i < count; ++i) {
        firearms[i].setSerialNumber("BF-DEPOT-" + std::to_string(100000 + i));
        firearms[i].setManufacturer("Izhmash");
        firearms[i].setType(wire::FirearmType::ASSAULT_RIFLE);
        firearms[i].setCalibre("7.62x39mm");
      }
    });
  };
  auto refused = burkina->submit(alert_of(101));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::invalid_argument);
  CHECK_THAT(refused.error().message, Catch::Contains("at most 100") && Catch::Contains("split the batch"));
  // The refused alert left no delivery behind; the next one is the very next.
  Bytes accepted = alert_of(100);
  REQUIRE(burkina->submit(accepted).ok());
  auto delivered = receive(*niger, 1);
  REQUIRE(delivered.size() == 1);
  CHECK(delivered[0].opened.message_id == test::message_id_of(accepted));
}

TEST_CASE("a request never collected before its hold time becomes a dead letter its sender is told of") {
  WorkflowExchange exchange;
  auto agency = exchange.connect("sn.police-judiciaire");
  auto niger = exchange.connect("ne.focal-point");
  auto senegal = exchange.connect("sn.focal-point");
  Bytes request = exchange.seal(exchange.identity("sn.police-judiciaire"), MessageType::TRACING_REQUEST);
  REQUIRE(agency->submit(request).ok());
  MessageId id = test::message_id_of(request);
  REQUIRE(receive(*niger, 1).size() == 1);
  REQUIRE(receive(*senegal, 1).size() == 1);
  sync(*niger);
  sync(*senegal);
  // BF never connects. Past the hold time (10 days here):
  exchange.advance(11 * kDayMs);
  std::vector<client::Delivery> notices;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    for (auto& delivery : receive(*agency, 1, 500ms)) {
      if (delivery.opened.type == MessageType::DEAD_LETTER_NOTICE) notices.push_back(std::move(delivery));
    }
    if (!notices.empty()) break;
  }
  REQUIRE(notices.size() == 1);
  auto notice = notices[0].opened.message.body().getDeadLetterNotice();
  CHECK(std::string(notice.getRecipient().cStr()) == "bf.focal-point");
  auto status = agency->status(id);
  REQUIRE(status.ok());
  bool dead = false;
  for (const auto& row : *status) dead |= (row.recipient.str() == "bf.focal-point" && row.state == "dead_letter");
  CHECK(dead);
}

TEST_CASE("information supplied, withdraw and close move every requested state's lifecycle") {
  WorkflowExchange exchange;
  auto agency = exchange.connect("sn.police-judiciaire");
  auto niger = exchange.connect("ne.focal-point");
  auto burkina = exchange.connect("bf.focal-point");
  auto agency_identity = exchange.identity("sn.police-judiciaire");
  Bytes request = exchange.seal(agency_identity, MessageType::TRACING_REQUEST);
  REQUIRE(agency->submit(request).ok());
  MessageId id = test::message_id_of(request);
  REQUIRE(receive(*niger, 1).size() == 1);
  REQUIRE(receive(*burkina, 1).size() == 1);

  REQUIRE(niger->submit(exchange.seal(exchange.identity("ne.focal-point"), MessageType::TRACING_ACKNOWLEDGEMENT,
                                      [&](auto header, auto body) {
                                        reply_to(id)(header, body);
                                        auto ack = body.getTracingAcknowledgement();
                                        ack.setStatus(wire::AcknowledgementStatus::NEEDS_INFORMATION);
                                        ack.initMissingFields(1).set(0, "firearms[0].importMarking");
                                      }))
              .ok());
  CHECK_THAT(lifecycle_of(*agency, id, "ne.focal-point"), Catch::StartsWith("needs_information"));

  auto follow_up = [&](MessageType type) {
    return exchange.seal(agency_identity, type, [&](auto header, auto) {
      header.setInReplyTo(kj::arrayPtr(id.bytes.data(), id.bytes.size()));
      auto to = header.initRecipients(2);
      to[0].setCountry("NE");
      to[1].setCountry("BF");
    });
  };
  REQUIRE(agency->submit(follow_up(MessageType::INFORMATION_SUPPLIED)).ok());
  CHECK_THAT(lifecycle_of(*agency, id, "ne.focal-point"), Catch::StartsWith("supplied"));
  REQUIRE(agency->submit(follow_up(MessageType::WITHDRAW)).ok());
  CHECK_THAT(lifecycle_of(*agency, id, "ne.focal-point"), Catch::StartsWith("withdrawn"));
  CHECK_THAT(lifecycle_of(*agency, id, "bf.focal-point"), Catch::StartsWith("withdrawn"));
  REQUIRE(agency->submit(follow_up(MessageType::CLOSE)).ok());
  CHECK_THAT(lifecycle_of(*agency, id, "bf.focal-point"), Catch::StartsWith("closed"));
  // The requested states hear of each follow-up.
  CHECK(types_of(receive(*burkina, 3)) ==
        std::vector<MessageType>{MessageType::INFORMATION_SUPPLIED, MessageType::WITHDRAW, MessageType::CLOSE});

  // Someone else's state may not follow up on the request.
  auto refused = niger->submit(exchange.seal(exchange.identity("ne.focal-point"), MessageType::CLOSE, reply_to(id)));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::unauthorized);
}

namespace {

// What an observer followed of the feed so far.
struct FollowedFeed {
  std::vector<client::FeedRecord> records;
  std::uint64_t next = 1;

  void follow(client::ObserverClient& observer) {
    for (;;) {
      auto page = observer.follow(next, 1000);
      REQUIRE(page.ok());
      if (page->records.empty()) return;
      for (auto& record : page->records) records.push_back(std::move(record));
      next = page->next_sequence;
    }
  }

  const client::FeedRecord* statistics(bool final) const {
    for (const auto& record : records) {
      if (record.kind == "statistics" && nlohmann::json::parse(record.signed_record)["final"] == final) return &record;
    }
    return nullptr;
  }

};

// The broker suppresses a period on its statistics thread and writes the
// record at a later statistics check (once a second of its clock): the
// fake clock moves a second each round so that check comes.
template <typename Exchange>
const client::FeedRecord& wait_for_statistics(Exchange& exchange, client::ObserverClient& observer, FollowedFeed& feed,
                                              bool final) {
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (feed.statistics(final) == nullptr && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
    exchange.advance(1000);
    feed.follow(observer);
  }
  const auto* record = feed.statistics(final);
  REQUIRE(record != nullptr);
  return *record;
}

auto answer(const MessageId& request, wire::TracingOutcome outcome,
            std::optional<wire::RefusalGround> ground = std::nullopt) {
  return [=](wire::Header::Builder header, wire::Body::Builder body) {
    reply_to(request)(header, body);
    auto response = body.getTracingResponse();
    response.setOutcome(outcome);
    if (ground) {
      response.initChainOfCustody(0);
      response.initRefusalGrounds(1).set(0, *ground);
      response.setGroundsExplanation("a national investigation is under way");
    }
  };
}

}  // namespace

TEST_CASE("statistics of a period are published once and final as linked tables with no small cell shown") {
  WorkflowExchange exchange([](broker::BrokerConfig& config) {
    config.oversight.statistics_period = *broker::parse_statistics_period("day");
    config.oversight.publish_after_ms = 7 * kDayMs;
  });
  // Every request of the scenario in one UTC day, from 01:00.
  const std::int64_t day_start = (exchange.now() / kDayMs + 1) * kDayMs;
  const std::int64_t t0 = day_start + kHourMs;
  exchange.set_now(t0);
  auto agency = exchange.connect("sn.police-judiciaire");
  auto niger = exchange.connect("ne.focal-point");
  auto burkina = exchange.connect("bf.focal-point");
  auto observer = exchange.observer();
  const auto agency_identity = exchange.identity("sn.police-judiciaire");
  const auto niger_identity = exchange.identity("ne.focal-point");
  const auto burkina_identity = exchange.identity("bf.focal-point");
  auto niger_sends = [&](MessageType type, const test::SampleChange& change) {
    REQUIRE(niger->submit(exchange.seal(niger_identity, type, change)).ok());
  };

  // Five requests to NE and BF; two to ML only (a pair under the threshold).
  std::vector<MessageId> requests;
  for (int i = 0; i < 5; ++i) {
    Bytes request = exchange.seal(agency_identity, MessageType::TRACING_REQUEST);
    REQUIRE(agency->submit(request).ok());
    requests.push_back(test::message_id_of(request));
  }
  for (int i = 0; i < 2; ++i) {
    REQUIRE(agency->submit(exchange.seal(agency_identity, MessageType::TRACING_REQUEST, [](auto header, auto body) {
                     header.initRecipients(1)[0].setCountry("ML");
                     auto states = body.getTracingRequest().initRequestedStates(1);
                     states[0].setCountry("ML");
                     states[0].setRole(wire::RequestedStateRole::OTHER_ON_TRAIL);
                   }))
                .ok());
  }

  // NE acknowledges three after 2 hours, a fourth after 5 hours, and answers the first then.
  exchange.advance(2 * kHourMs);
  for (int i = 0; i < 3; ++i) niger_sends(MessageType::TRACING_ACKNOWLEDGEMENT, reply_to(requests[i]));
  exchange.advance(3 * kHourMs);
  niger_sends(MessageType::TRACING_ACKNOWLEDGEMENT, reply_to(requests[3]));
  niger_sends(MessageType::TRACING_RESPONSE, answer(requests[0], wire::TracingOutcome::PARTIAL_CHAIN));
  sync(*niger);

  // Later answers count in the day of their request.
  exchange.set_now(t0 + 30 * kHourMs);
  niger_sends(MessageType::TRACING_RESPONSE, answer(requests[1], wire::TracingOutcome::PARTIAL_CHAIN));
  niger_sends(MessageType::TRACING_RESPONSE, answer(requests[2], wire::TracingOutcome::PARTIAL_CHAIN));
  for (int i = 0; i < 4; ++i) {
    REQUIRE(burkina
                ->submit(exchange.seal(burkina_identity, MessageType::TRACING_RESPONSE,
                                       answer(requests[i], wire::TracingOutcome::REFUSED,
                                              wire::RefusalGround::ONGOING_INVESTIGATION)))
                .ok());
  }
  exchange.set_now(t0 + 80 * kHourMs);  // past the 72-hour acknowledgement clock
  niger_sends(MessageType::TRACING_ACKNOWLEDGEMENT, reply_to(requests[4]));
  niger_sends(MessageType::TRACING_RESPONSE,
              answer(requests[3], wire::TracingOutcome::REFUSED, wire::RefusalGround::ONGOING_INVESTIGATION));
  sync(*niger);
  sync(*burkina);

  // Seven days after the day's end: its one statistics record, final.
  exchange.set_now(day_start + kDayMs + 7 * kDayMs + 1000);
  FollowedFeed feed;
  const auto& record = wait_for_statistics(exchange, *observer, feed, true);
  feed.follow(*observer);
  // The day's record (a calendar year's tables follow their year's last day: not one here, or not yet).
  CHECK(std::count_if(feed.records.begin(), feed.records.end(), [](const auto& r) {
          return r.kind == "statistics" && nlohmann::json::parse(r.signed_record)["period"] == "day";
        }) == 1);
  CHECK(std::none_of(feed.records.begin(), feed.records.end(), [](const auto& r) { return r.kind == "reveal"; }));
  auto published = nlohmann::json::parse(record.signed_record);
  CHECK(published["period"] == "day");
  CHECK(published["method"] == "cell-suppression/v1");
  CHECK(published["threshold"] == 3);
  CHECK(published["states"] == nlohmann::json::parse(R"(["BF", "ML", "NE", "SN"])"));

  // The true counts, by hand. NE: 5 requests, acknowledged 5 (2, 2, 2, 5 and
  // 80 hours: 4 within the 72-hour clock), answered 4 within the clock and
  // within 30 days: 3 partial chains and 1 refusal on one ground. BF: 5
  // requests, 4 refusals at 30 hours (which acknowledged them too). ML: 2
  // requests, nothing else. Every shown cell must equal its true count, and
  // every count from 1 to 2 must be hidden.
  const std::map<std::string, std::map<std::string, std::int64_t>> truth{
      {"to NE", {{"requests", 5}, {"acknowledged", 5}, {"acknowledgedWithinClock", 4}, {"answered", 4},
                 {"answeredWithinClock", 4}, {"answeredWithin30Days", 4}, {"outcome.partial_chain", 3},
                 {"outcome.refused", 1}, {"refusalGround.ongoing_investigation", 1}}},
      {"to BF", {{"requests", 5}, {"acknowledged", 4}, {"acknowledgedWithinClock", 4}, {"answered", 4},
                 {"answeredWithinClock", 4}, {"answeredWithin30Days", 4}, {"outcome.refused", 4},
                 {"refusalGround.ongoing_investigation", 4}}},
      {"to ML", {{"requests", 2}}},
  };
  std::size_t shown = 0;
  std::size_t hidden = 0;
  for (const auto& row : published["byRequested"]) {
    const std::string name = "to " + row["requested"].get<std::string>();
    const auto known = truth.find(name);
    for (const auto& [measure, count] : row["counts"].items()) {
      std::int64_t expected = 0;
      if (known != truth.end() && known->second.count(measure) != 0) expected = known->second.at(measure);
      INFO(name << " " << measure);
      if (count.is_null()) {
        ++hidden;
      } else {
        ++shown;
        CHECK(count == expected);
      }
      if (expected > 0 && expected < 3) CHECK(count.is_null());
      // The pair SN->X carries the same counts (SN is the only requester).
      for (const auto& pair : published["pairs"]) {
        if (pair["requester"] == "SN" && pair["requested"] == row["requested"] && !pair["counts"][measure].is_null()) {
          CHECK(pair["counts"][measure] == expected);
        }
      }
    }
  }
  CHECK(shown > 0);
  CHECK(hidden >= 3);  // at least the primary ones: ML's requests, NE's refusal and its ground
  CHECK(std::count_if(published["byRequested"].begin(), published["byRequested"].end(), [](const auto& row) {
          return row["requested"] == "ML" && row["counts"]["requests"].is_null();
        }) == 1);

  // An observer checks the record without any microdata: sums and bounds hold.
  auto check = client::check_published_statistics(record.signed_record);
  REQUIRE(check.ok());
  for (const auto& failure : check->failures) UNSCOPED_INFO(failure);
  CHECK(check->failures.empty());
  CHECK(check->relations_checked > 0);
  // A changed count breaks a sum, and the check says which.
  auto tampered = published;
  for (auto& row : tampered["byRequester"]) {
    if (row["requester"] == "NE") row["counts"]["requests"] = 6;  // NE asked nothing: 6 against its pairs' 0
  }
  auto caught = client::check_published_statistics(tampered.dump());
  REQUIRE(caught.ok());
  REQUIRE_FALSE(caught->failures.empty());
  CHECK_THAT(caught->failures[0], Catch::Contains("from NE requests=6"));

  // The statistics record is a leaf of the log itself, so the broker cannot
  // show other observers other figures unnoticed.
  // The record is written in a later turn than the period's check, so the
  // checkpoint that covers it comes at a later checkpoint tick.
  REQUIRE(record.log_index.has_value());
  auto head = observer->latest_checkpoint();
  const auto checkpoint_deadline = std::chrono::steady_clock::now() + 30s;
  while (head.ok() && head->checkpoint.size <= *record.log_index &&
         std::chrono::steady_clock::now() < checkpoint_deadline) {
    std::this_thread::sleep_for(50ms);
    exchange.advance(5000);
    head = observer->latest_checkpoint();
  }
  REQUIRE(head.ok());
  REQUIRE(*record.log_index < head->checkpoint.size);
  auto proof = observer->inclusion_proof(*record.log_index, head->checkpoint.size);
  REQUIRE(proof.ok());
  CHECK(verify_inclusion(*record.leaf_hash, *record.log_index, head->checkpoint.size, *proof, head->checkpoint.root));
  // Nothing of the content reaches the public records.
  for (const auto& public_record : feed.records) {
    for (const char* secret : {"SN-ZIG-2026-0142", "Ziguinchor", "police-judiciaire", "investigation is under way"}) {
      CHECK(public_record.signed_record.find(secret) == std::string::npos);
    }
  }

  // The observer's command line does the same check for every record kept.
  const auto profile = exchange.dir() / "observer-profile";
  const std::string fpx = std::string(FPX_BIN_DIR) + "/fpx --profile " + profile.string();
  const auto out = exchange.dir() / "fpx.out";
  auto run = [&](const std::string& command) {
    const int status = std::system((command + " > " + out.string() + " 2>&1").c_str());
    INFO(command << "\n" << test::read_file(out));
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    return test::read_file(out);
  };
  run(std::string(FPX_BIN_DIR) + "/fpx profile init --dir " + profile.string() + " --identity " +
      (exchange.dir() / "participants" / "cso.sahel-watch").string() + " --observer-endpoint " +
      exchange.observers_endpoint() + " --broker-cert " +
      (exchange.dir() / "participants" / "exchange.broker" / kChainFile).string() + " --root-ca " +
      exchange.root_pem().string());
  CHECK_THAT(run(fpx + " observe"), Catch::Contains("(final)"));
  CHECK_THAT(run(fpx + " log verify"),
             Catch::Contains("statistics: 1 record(s)") && Catch::Contains("relation(s) between tables verified"));
}

TEST_CASE("an early warning not acknowledged within its clock brings one reminder to its focal point only") {
  WorkflowExchange exchange;
  auto cso = exchange.connect("cso.sahel-watch.sn");
  auto senegal = exchange.connect("sn.focal-point");
  auto niger = exchange.connect("ne.focal-point");
  Bytes unanswered = exchange.seal(exchange.identity("cso.sahel-watch.sn"), MessageType::EARLY_WARNING);
  Bytes answered = exchange.seal(exchange.identity("cso.sahel-watch.sn"), MessageType::EARLY_WARNING);
  REQUIRE(cso->submit(unanswered).ok());
  REQUIRE(cso->submit(answered).ok());
  REQUIRE(receive(*senegal, 2).size() == 2);
  const MessageId answered_id = test::message_id_of(answered);
  REQUIRE(senegal
              ->submit(exchange.seal(exchange.identity("sn.focal-point"), MessageType::EARLY_WARNING_ACKNOWLEDGEMENT,
                                     [&](auto header, auto) {
                                       header.setInReplyTo(
                                           kj::arrayPtr(answered_id.bytes.data(), answered_id.bytes.size()));
                                     }))
              .ok());
  REQUIRE(receive(*cso, 1).size() == 1);

  // The default clock: three days, as a routine request's acknowledgement.
  exchange.advance(3 * kDayMs - 60'000);
  CHECK(receive(*senegal, 1, 1500ms).empty());  // not yet due
  exchange.advance(2 * 60'000);
  auto reminders = receive(*senegal, 1);
  REQUIRE(reminders.size() == 1);
  CHECK(reminders[0].opened.type == MessageType::REMINDER);
  CHECK(reminders[0].opened.signer.participant.role == Role::broker);
  auto reminder = reminders[0].opened.message.body().getReminder();
  auto about = reminder.getRequestMessageId();
  CHECK(MessageId::from_bytes(ByteView(about.begin(), about.size())) == test::message_id_of(unanswered));
  CHECK(reminder.getClock() == wire::ClockKind::ACKNOWLEDGEMENT);
  CHECK(std::string(reminder.getRequestedCountry().cStr()) == "SN");

  // One reminder per warning, none for the acknowledged one, nothing to another state or to the cso.
  exchange.advance(kDayMs);
  CHECK(receive(*senegal, 1, 1500ms).empty());
  CHECK(receive(*niger, 1, 500ms).empty());
  CHECK(receive(*cso, 1, 500ms).empty());
}
