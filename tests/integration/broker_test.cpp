// The real fpx-broker on 127.0.0.1 with certificates and CURVE keys made at
// test time, driven through the fpx_client library.
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include <catch2/catch.hpp>

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

// The scenario's participants, issued and enrolled.
struct Exchange {
  explicit Exchange(test::BrokerOptions options = {}) : pki({"SN", "NE", "BF"}) {
    pki.issue("sn.focal-point", "SN", Role::focal_point);
    pki.issue("ne.focal-point", "NE", Role::focal_point);
    pki.issue("bf.focal-point", "BF", Role::focal_point);
    pki.issue("sn.police-judiciaire", "SN", Role::agency,
              {.validity = {now_ms() - 10 * test::kDayMs, now_ms() + 30 * test::kDayMs}});
    pki.issue("ne.douanes", "NE", Role::agency);
    pki.issue("cso.sahel-watch", "SN", Role::observer, {.via_intermediate = false});
    broker = std::make_unique<BrokerProcess>(
        pki,
        std::vector<std::string>{"sn.focal-point", "ne.focal-point", "bf.focal-point", "sn.police-judiciaire",
                                 "ne.douanes", "cso.sahel-watch"},
        options);
  }

  client::ClientOptions options_for(const std::string& id) { return test::client_options(*broker, pki, id); }
  std::unique_ptr<Client> connect(const std::string& id) { return test::connect_client(*broker, pki, id); }

  TestPki pki;
  std::unique_ptr<BrokerProcess> broker;
};

// Polls until `count` deliveries arrived or the time is up.
std::vector<client::Delivery> receive(Client& client, std::size_t count, std::chrono::milliseconds within = 10s) {
  std::vector<client::Delivery> received;
  auto deadline = std::chrono::steady_clock::now() + within;
  while (received.size() < count && std::chrono::steady_clock::now() < deadline) {
    auto batch = client.poll(200ms);
    if (!batch) FAIL("poll failed: " << batch.error().describe());
    for (auto& delivery : *batch) received.push_back(std::move(delivery));
  }
  return received;
}

void confirm_all(Client& client, const std::vector<client::Delivery>& deliveries) {
  for (const auto& delivery : deliveries) REQUIRE(client.confirm(delivery).ok());
}

ErrorCode submit_code(Client& client, const Bytes& envelope) {
  auto receipt = client.submit(envelope);
  return receipt ? ErrorCode::none : receipt.error().code;
}

// After a refusal, a good message to the same recipient must be its very next delivery.
void good_message_is_next(Exchange& exchange, Client& sender, Client& recipient, const Identity& sender_identity) {
  Bytes good = test::seal_sample(sender_identity, MessageType::TRACING_REQUEST);
  auto receipt = sender.submit(good);
  REQUIRE(receipt.ok());
  auto next = receive(recipient, 1);
  REQUIRE(next.size() == 1);
  CHECK(next[0].opened.message_id == test::message_id_of(good));
  confirm_all(recipient, next);
  (void)exchange;
}

}  // namespace

TEST_CASE("an agency's tracing request reaches the requested focal points and its own, verified end to end") {
  Exchange exchange;
  auto agency = exchange.connect("sn.police-judiciaire");
  auto niger = exchange.connect("ne.focal-point");
  auto burkina = exchange.connect("bf.focal-point");
  auto senegal = exchange.connect("sn.focal-point");

  auto identity = exchange.pki.identity("sn.police-judiciaire");
  Bytes request = test::seal_sample(identity, MessageType::TRACING_REQUEST);
  auto receipt = agency->submit(request);
  REQUIRE(receipt.ok());
  CHECK(receipt->message_id == test::message_id_of(request));
  CHECK(receipt->envelope_sha256 == sha256(request));
  CHECK(receipt->broker.str() == "exchange.broker");

  for (Client* recipient : {niger.get(), burkina.get(), senegal.get()}) {
    auto delivered = receive(*recipient, 1);
    REQUIRE(delivered.size() == 1);
    CHECK(delivered[0].envelope == request);
    CHECK(delivered[0].opened.signer.participant.id.str() == "sn.police-judiciaire");
    CHECK(delivered[0].opened.signer.revocation == RevocationStatus::checked);
    confirm_all(*recipient, delivered);
  }
  CHECK(exchange.broker->audit_count("persist", "accepted") == 1);
}

TEST_CASE("a focal point's alert to a region reaches the focal points and agencies there") {
  Exchange exchange;
  auto burkina = exchange.connect("bf.focal-point");
  auto niger = exchange.connect("ne.focal-point");
  auto niger_customs = exchange.connect("ne.douanes");
  auto identity = exchange.pki.identity("bf.focal-point");
  Bytes alert = test::seal_changed(identity, MessageType::ALERT, [](auto header, auto) {
    header.initRecipients(1)[0].setRegion("Sahel");
  });
  REQUIRE(burkina->submit(alert).ok());
  for (Client* recipient : {niger.get(), niger_customs.get()}) {
    auto delivered = receive(*recipient, 1);
    REQUIRE(delivered.size() == 1);
    CHECK(delivered[0].opened.type == MessageType::ALERT);
    confirm_all(*recipient, delivered);
  }
}

TEST_CASE("an offline recipient receives everything in order when it connects") {
  Exchange exchange;
  auto agency = exchange.connect("sn.police-judiciaire");
  auto identity = exchange.pki.identity("sn.police-judiciaire");
  std::vector<MessageId> sent;
  for (int i = 0; i < 5; ++i) {
    Bytes request = test::seal_sample(identity, MessageType::TRACING_REQUEST);
    REQUIRE(agency->submit(request).ok());
    sent.push_back(test::message_id_of(request));
  }
  auto status = agency->status(sent[0]);
  REQUIRE(status.ok());
  bool burkina_waiting = false;
  for (const auto& row : *status) burkina_waiting |= (row.recipient.str() == "bf.focal-point" && row.state == "stored");
  CHECK(burkina_waiting);

  auto burkina = exchange.connect("bf.focal-point");
  auto delivered = receive(*burkina, 5);
  REQUIRE(delivered.size() == 5);
  for (std::size_t i = 0; i < sent.size(); ++i) CHECK(delivered[i].opened.message_id == sent[i]);
  confirm_all(*burkina, delivered);
}

TEST_CASE("a broker killed with SIGKILL after a receipt delivers the message once after its restart") {
  Exchange exchange;
  auto identity = exchange.pki.identity("sn.police-judiciaire");
  Bytes request = test::seal_sample(identity, MessageType::TRACING_REQUEST);
  {
    auto agency = exchange.connect("sn.police-judiciaire");
    REQUIRE(agency->submit(request).ok());
  }
  exchange.broker->kill_hard();
  exchange.broker->start();
  auto niger = exchange.connect("ne.focal-point");
  auto delivered = receive(*niger, 1);
  REQUIRE(delivered.size() == 1);
  CHECK(delivered[0].opened.message_id == test::message_id_of(request));
  confirm_all(*niger, delivered);
  CHECK(receive(*niger, 1, 1500ms).empty());
}

TEST_CASE("a recipient connected through a broker restart gets new deliveries without sending anything first") {
  // After the restart the broker knows the recipient's connection only once
  // it sends something: the library pings as soon as the CURVE handshake
  // succeeds again, so a recipient that only polls is not forgotten.
  Exchange exchange;
  auto niger = exchange.connect("ne.focal-point");
  exchange.broker->kill_hard();
  exchange.broker->start();
  auto agency = exchange.connect("sn.police-judiciaire");
  Bytes request = test::seal_sample(exchange.pki.identity("sn.police-judiciaire"), MessageType::TRACING_REQUEST);
  REQUIRE(agency->submit(request).ok());
  auto delivered = receive(*niger, 1);
  REQUIRE(delivered.size() == 1);
  CHECK(delivered[0].opened.message_id == test::message_id_of(request));
  confirm_all(*niger, delivered);
}

TEST_CASE("a client killed before its confirmation is handed the delivery again, and once it confirmed, the "
          "library confirms a resend without a hand-over") {
  Exchange exchange;
  auto agency = exchange.connect("sn.police-judiciaire");
  auto identity = exchange.pki.identity("sn.police-judiciaire");
  Bytes request = test::seal_sample(identity, MessageType::TRACING_REQUEST);
  REQUIRE(agency->submit(request).ok());
  {
    auto niger = exchange.connect("ne.focal-point");
    auto delivered = receive(*niger, 1);
    REQUIRE(delivered.size() == 1);
    // Gone without confirming: the application may not have stored it.
  }
  {
    auto niger = exchange.connect("ne.focal-point");
    auto again = receive(*niger, 1);
    REQUIRE(again.size() == 1);
    CHECK(again[0].opened.message_id == test::message_id_of(request));
    confirm_all(*niger, again);
  }
  // Confirmed (recorded by the library first): a new session is handed nothing.
  auto niger = exchange.connect("ne.focal-point");
  CHECK(receive(*niger, 1, 2000ms).empty());
  auto deadline = std::chrono::steady_clock::now() + 5s;
  bool confirmed = false;
  while (!confirmed && std::chrono::steady_clock::now() < deadline) {
    auto status = agency->status(test::message_id_of(request));
    REQUIRE(status.ok());
    for (const auto& row : *status) confirmed |= (row.recipient.str() == "ne.focal-point" && row.state == "confirmed");
    if (!confirmed) std::this_thread::sleep_for(100ms);
  }
  CHECK(confirmed);
}

TEST_CASE("the same message twice gets the same receipt and one delivery; other bytes under its id are refused") {
  Exchange exchange;
  auto agency = exchange.connect("sn.police-judiciaire");
  auto niger = exchange.connect("ne.focal-point");
  auto identity = exchange.pki.identity("sn.police-judiciaire");
  Bytes request = test::seal_sample(identity, MessageType::TRACING_REQUEST);
  auto first = agency->submit(request);
  auto second = agency->submit(request);
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(first->signed_receipt == second->signed_receipt);

  MessageId id = test::message_id_of(request);
  Bytes reused = test::seal_changed(identity, MessageType::TRACING_REQUEST, [&](auto header, auto) {
    header.setMessageId(kj::arrayPtr(id.bytes.data(), id.bytes.size()));
    header.setCaseReference("another case");
  });
  CHECK(submit_code(*agency, reused) == ErrorCode::id_reused);
  CHECK(exchange.broker->audit_count("dedupe", "id_reused") == 1);

  auto delivered = receive(*niger, 1);
  REQUIRE(delivered.size() == 1);
  CHECK(delivered[0].opened.message_id == id);
  confirm_all(*niger, delivered);
  good_message_is_next(exchange, *agency, *niger, identity);
}

TEST_CASE("each refusal has its error code and audit row, and the next good message is the next delivery") {
  Exchange exchange({.rate_per_second = 1000, .burst = 1000});
  auto agency = exchange.connect("sn.police-judiciaire");
  auto niger = exchange.connect("ne.focal-point");
  auto agency_identity = exchange.pki.identity("sn.police-judiciaire");

  SECTION("a message signed by someone else than the session's participant") {
    auto customs = exchange.pki.identity("ne.douanes");
    Bytes foreign = test::seal_changed(customs, MessageType::TRACING_REQUEST, [](auto, auto body) {
      body.getTracingRequest().setRequestingCountry("NE");
      auto states = body.getTracingRequest().getRequestedStates();
      states[0].setCountry("SN");
    });
    CHECK(submit_code(*agency, foreign) == ErrorCode::signer_mismatch);
    CHECK(exchange.broker->audit_count("authorize", "signer_mismatch") == 1);
  }
  SECTION("an agency requesting for another state") {
    Bytes other_state = test::seal_changed(agency_identity, MessageType::TRACING_REQUEST, [](auto, auto body) {
      body.getTracingRequest().setRequestingCountry("BF");
    });
    CHECK(submit_code(*agency, other_state) == ErrorCode::unauthorized);
    CHECK(exchange.broker->audit_count("authorize", "unauthorized") == 1);
  }
  SECTION("an unknown recipient") {
    Bytes unknown = test::seal_changed(agency_identity, MessageType::TRACING_REQUEST, [](auto header, auto) {
      header.initRecipients(1)[0].setCountry("ML");
    });
    CHECK(submit_code(*agency, unknown) == ErrorCode::unknown_recipient);
    CHECK(exchange.broker->audit_count("authorize", "unknown_recipient") == 1);
  }
  SECTION("a schema violation, with its field paths") {
    Bytes broken = test::seal_changed(agency_identity, MessageType::TRACING_REQUEST, [](auto, auto body) {
      body.getTracingRequest().setLegalJustification("");
      body.getTracingRequest().setIntendedUse("");
    });
    auto refused = agency->submit(broken);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == ErrorCode::schema_violation);
    CHECK(refused.error().field_errors.size() == 2);
    CHECK(exchange.broker->audit_count("validate", "schema_violation") == 1);
  }
  SECTION("a stale timestamp") {
    Bytes stale = test::seal_sample(agency_identity, MessageType::TRACING_REQUEST, now_ms() - 2 * test::kDayMs);
    CHECK(submit_code(*agency, stale) == ErrorCode::stale_timestamp);
    CHECK(exchange.broker->audit_count("dedupe", "stale_timestamp") == 1);
  }
  SECTION("a replay of a received message by its recipient") {
    Bytes original = test::seal_sample(agency_identity, MessageType::TRACING_REQUEST);
    REQUIRE(agency->submit(original).ok());
    auto delivered = receive(*niger, 1);
    REQUIRE(delivered.size() == 1);
    confirm_all(*niger, delivered);
    CHECK(submit_code(*niger, delivered[0].envelope) == ErrorCode::replay);
    CHECK(exchange.broker->audit_count("authorize", "replay") == 1);
  }
  good_message_is_next(exchange, *agency, *niger, agency_identity);
}

TEST_CASE("an observer cannot submit anything") {
  Exchange exchange;
  auto observer = exchange.connect("cso.sahel-watch");
  auto niger = exchange.connect("ne.focal-point");
  auto agency = exchange.connect("sn.police-judiciaire");
  auto identity = exchange.pki.identity("cso.sahel-watch");
  // Observers cannot sign a tracing request at all (role), and whatever they
  // hold, they may not submit it.
  auto agency_identity = exchange.pki.identity("sn.police-judiciaire");
  Bytes someone_elses = test::seal_sample(agency_identity, MessageType::TRACING_REQUEST);
  CHECK(submit_code(*observer, someone_elses) == ErrorCode::unauthorized);
  CHECK(exchange.broker->audit_count("authorize", "unauthorized") == 1);
  (void)identity;
  good_message_is_next(exchange, *agency, *niger, agency_identity);
}

TEST_CASE("an unknown CURVE key is refused at the handshake, audited, and the broker keeps serving") {
  Exchange exchange;
  exchange.pki.issue("ml.focal-point", "ML", Role::focal_point);  // issued, never enrolled
  auto started = std::chrono::steady_clock::now();
  auto refused = Client::connect(exchange.pki.identity("ml.focal-point"), exchange.options_for("ml.focal-point"));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::unauthorized);
  CHECK_THAT(refused.error().message, Catch::Contains("handshake refused"));
  CHECK(std::chrono::steady_clock::now() - started < 6s);

  auto agency = exchange.connect("sn.police-judiciaire");
  auto niger = exchange.connect("ne.focal-point");
  CHECK(exchange.broker->audit_count("zap", "unauthorized") >= 1);
  good_message_is_next(exchange, *agency, *niger, exchange.pki.identity("sn.police-judiciaire"));
}

TEST_CASE("a participant revoked during its session is refused from its next message on") {
  Exchange exchange;
  auto agency = exchange.connect("sn.police-judiciaire");
  auto niger = exchange.connect("ne.focal-point");
  auto focal = exchange.connect("sn.focal-point");
  auto identity = exchange.pki.identity("sn.police-judiciaire");
  REQUIRE(agency->submit(test::seal_sample(identity, MessageType::TRACING_REQUEST)).ok());
  confirm_all(*niger, receive(*niger, 1));

  exchange.pki.revoke("sn.police-judiciaire", now_ms() - 1000);
  exchange.broker->reload();
  CHECK(submit_code(*agency, test::seal_sample(identity, MessageType::TRACING_REQUEST)) == ErrorCode::revoked);
  CHECK(exchange.broker->audit_count("identify", "revoked") == 1);

  // Others go on: the SN focal point's request is NE's next delivery.
  good_message_is_next(exchange, *focal, *niger, exchange.pki.identity("sn.focal-point"));
}

TEST_CASE("the broker logs its counters for the operator, and again when it stops") {
  Exchange exchange;
  auto agency = exchange.connect("sn.police-judiciaire");
  auto niger = exchange.connect("ne.focal-point");
  auto identity = exchange.pki.identity("sn.police-judiciaire");
  std::vector<MessageId> sent;
  for (int i = 0; i < 2; ++i) {
    Bytes request = test::seal_sample(identity, MessageType::TRACING_REQUEST);
    REQUIRE(agency->submit(request).ok());
    sent.push_back(test::message_id_of(request));
  }
  Bytes unknown = test::seal_changed(identity, MessageType::TRACING_REQUEST, [](auto header, auto) {
    header.initRecipients(1)[0].setCountry("ML");
  });
  CHECK(submit_code(*agency, unknown) == ErrorCode::unknown_recipient);
  confirm_all(*niger, receive(*niger, 2));
  // confirm has no reply: wait until the sender's status shows both confirmed.
  auto confirmed = [&] {
    for (const auto& id : sent) {
      auto status = agency->status(id);
      if (!status || status->empty() || status->front().state != "confirmed") return false;
    }
    return true;
  };
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!confirmed() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(50ms);
  REQUIRE(confirmed());

  CHECK(exchange.broker->stop() == 0);
  const std::string log = exchange.broker->log_text();
  CHECK_THAT(log, Catch::Contains("counters since start: accepted 0, duplicates 0, refused 0"));  // the first minute
  CHECK_THAT(log, Catch::Contains("counters since start: accepted 2, duplicates 0, refused 1 (rate_limited 0), "
                                  "deliveries sent 2, confirmed 2, dead letters 0"));  // at the stop
}

TEST_CASE("rate_limited refusals not yet summarised are audited when the broker stops") {
  Exchange exchange({.rate_per_second = 2, .burst = 3});
  auto agency = exchange.connect("sn.police-judiciaire");
  auto identity = exchange.pki.identity("sn.police-judiciaire");
  std::uint64_t limited = 0;
  for (int i = 0; i < 8; ++i) {
    if (!agency->submit(test::seal_sample(identity, MessageType::TRACING_REQUEST))) ++limited;
  }
  REQUIRE(limited >= 2);  // one audited in full, the others counted for a summary
  // Well within the second before the summary's window ends: only the stop can write it.
  CHECK(exchange.broker->stop() == 0);
  CHECK(exchange.broker->rate_limited_audited("accept", "sn.police-judiciaire", 0) == limited);
}

TEST_CASE("a participant over its rate limit is told to slow down and its library resends what was refused while "
          "the others are not held up") {
  Exchange exchange({.rate_per_second = 2, .burst = 3});
  auto agency = exchange.connect("sn.police-judiciaire");
  auto focal = exchange.connect("sn.focal-point");
  auto niger = exchange.connect("ne.focal-point");
  auto identity = exchange.pki.identity("sn.police-judiciaire");
  int limited = 0;
  for (int i = 0; i < 8; ++i) {
    auto receipt = agency->submit(test::seal_sample(identity, MessageType::TRACING_REQUEST));
    if (!receipt) {
      CHECK(receipt.error().code == ErrorCode::rate_limited);
      CHECK_THAT(receipt.error().message, Catch::Contains("kept in the outbox"));
      ++limited;
    }
  }
  CHECK(limited >= 4);
  CHECK(exchange.broker->rate_limited_audited("accept", "sn.police-judiciaire", limited) >=
        static_cast<std::uint64_t>(limited));
  // The refused ones stayed in the outbox; the library resends them once
  // the broker's wait has passed, while the application uses the session.
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (agency->unreceipted_count().value() > 0 && std::chrono::steady_clock::now() < deadline) {
    REQUIRE(agency->poll(200ms).ok());
  }
  CHECK(agency->unreceipted_count().value() == 0);
  auto drained = receive(*niger, 8);
  CHECK(drained.size() == 8);
  confirm_all(*niger, drained);
  good_message_is_next(exchange, *focal, *niger, exchange.pki.identity("sn.focal-point"));
}

TEST_CASE("a message refused for the stored bytes of the minute stays in the outbox and the library resends it by "
          "itself once the broker's wait has passed and at the next connect") {
  // 10,000 bytes a second in bursts of 6,000: a few requests fit, the next
  // waits for less than a second.
  Exchange exchange({.stored_bytes_per_minute = 600'000, .stored_burst_bytes = 6'000});
  auto agency = exchange.connect("sn.police-judiciaire");
  auto identity = exchange.pki.identity("sn.police-judiciaire");
  auto submit_until_kept = [&](Client& client) -> std::optional<MessageId> {
    for (int i = 0; i < 20; ++i) {
      Bytes request = test::seal_sample(identity, MessageType::TRACING_REQUEST);
      auto receipt = client.submit(request);
      if (receipt) continue;
      INFO(receipt.error().describe());
      CHECK(receipt.error().code == ErrorCode::quota_exceeded);
      CHECK_THAT(receipt.error().message, Catch::Contains("kept in the outbox"));
      return test::message_id_of(request);
    }
    return std::nullopt;
  };
  const auto kept = submit_until_kept(*agency);
  REQUIRE(kept);
  auto waiting = agency->outbox();
  REQUIRE(waiting.ok());
  REQUIRE(waiting->size() == 1);
  CHECK(waiting->front().message_id == *kept);
  CHECK_THAT(waiting->front().reason, Catch::Contains("quota_exceeded"));
  const std::int64_t next_try = waiting->front().next_try_at_ms;
  CHECK(next_try > 0);

  // Resent by the library alone, while the application polls.
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (agency->unreceipted_count().value() > 0 && std::chrono::steady_clock::now() < deadline) {
    REQUIRE(agency->poll(100ms).ok());
  }
  CHECK(agency->unreceipted_count().value() == 0);
  CHECK(now_ms() >= next_try);  // never before the time the broker gave
  CHECK(agency->take_outbox_refusals().empty());
  auto status = agency->status(*kept);
  REQUIRE(status.ok());  // stored at the broker
  CHECK_FALSE(status->empty());

  // Kept across the end of the process: the next connect after the wait resends it.
  const auto kept_again = submit_until_kept(*agency);
  REQUIRE(kept_again);
  auto again = agency->outbox();
  REQUIRE(again.ok());
  REQUIRE(again->size() == 1);
  const std::int64_t wait_ms = again->front().next_try_at_ms - now_ms();
  agency.reset();
  if (wait_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms + 50));
  auto reconnected = exchange.connect("sn.police-judiciaire");
  CHECK(reconnected->unreceipted_count().value() == 0);
  CHECK(reconnected->status(*kept_again).ok());
}

TEST_CASE("a second session of a participant takes over the first, which is told why") {
  Exchange exchange;
  auto first = exchange.connect("ne.focal-point");
  auto second = exchange.connect("ne.focal-point");
  auto status = first->poll(500ms);
  auto after = first->status(MessageId::random());
  REQUIRE_FALSE(after.ok());
  CHECK(after.error().code == ErrorCode::unavailable);
  CHECK_THAT(after.error().message, Catch::Contains("taken over"));
  (void)status;
  (void)second;
}

TEST_CASE("SIGTERM stops the broker cleanly") {
  Exchange exchange;
  CHECK(exchange.broker->stop() == 0);
}

TEST_CASE("checking a configuration reports every problem in the file and exits 2") {
  test::TempDir dir;
  auto config = dir.path() / "broker.toml";
  std::ofstream(config) << "[participants]\nendpoint = \"udp://nowhere\"\n"
                        << "[pki]\nroot_ca = \"missing.pem\"\n"
                        << "[limits]\nrate_per_second = -5\n"
                        << "[regions]\nSahel = [\"XX\"]\n"
                        << "[colour]\nfavourite = \"blue\"\n";
  auto output = dir.path() / "out.txt";
  std::string command = std::string(FPX_BIN_DIR) + "/fpx-broker --config " + config.string() + " --check-config > " +
                        output.string() + " 2>&1";
  int status = std::system(command.c_str());
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 2);
  std::string text = test::read_file(output);
  for (const char* expected : {"participants.endpoint", "pki.root_ca", "pki.crl_dir", "identity.dir",
                               "storage.database", "limits.rate_per_second", "regions.Sahel", "colour"}) {
    CHECK_THAT(text, Catch::Contains(expected));
  }
}
