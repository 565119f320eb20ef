// Firearm serial numbers stay out of the broker's log above debug level: logs
// travel where the store does not (journald, log shippers, support tickets).
// The real broker runs a stolen alert, a tracing request for the same rifle
// and the hit notification they cause, then its whole log is read.
#include <catch2/catch.hpp>
#include <chrono>
#include <sstream>
#include <string>
#include <vector>

#include "fpx/client.hpp"
#include "support/broker_clients.hpp"
#include "support/broker_process.hpp"
#include "support/sample_messages.hpp"
#include "support/test_pki.hpp"

using namespace fpx;
using namespace std::chrono_literals;
using wire::MessageType;

namespace {

// As listed in the alert, as written on the request (another spelling of the
// same marking) and as the broker normalises both to match them.
constexpr const char* kAlertedSerial = "QX-7731-LOGCHECK";
constexpr const char* kRequestedSerial = "qx 7731 logcheck";
constexpr const char* kNormalisedSerial = "QX7731LOGCHECK";

std::vector<client::Delivery> receive(client::Client& client, std::size_t count) {
  std::vector<client::Delivery> received;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (received.size() < count && std::chrono::steady_clock::now() < deadline) {
    auto batch = client.poll(100ms);
    if (!batch) FAIL("poll failed: " << batch.error().describe());
    for (auto& delivery : *batch) {
      REQUIRE(client.confirm(delivery).ok());
      received.push_back(std::move(delivery));
    }
  }
  return received;
}

bool is_debug_line(const std::string& line) {
  return line.find("] [debug] ") != std::string::npos;
}

}  // namespace

TEST_CASE("The broker logs a hit without the serial number above debug level") {
  test::TestPki pki({"SN", "NE", "BF"});
  pki.issue("sn.focal-point", "SN", Role::focal_point);
  pki.issue("ne.focal-point", "NE", Role::focal_point);  // the sample request also asks Niger
  pki.issue("bf.focal-point", "BF", Role::focal_point);
  pki.issue("sn.police-judiciaire", "SN", Role::agency);
  test::BrokerProcess broker(pki, {"sn.focal-point", "ne.focal-point", "bf.focal-point", "sn.police-judiciaire"});
  auto burkina = test::connect_client(broker, pki, "bf.focal-point");
  auto senegal = test::connect_client(broker, pki, "sn.focal-point");
  auto agency = test::connect_client(broker, pki, "sn.police-judiciaire");

  const Bytes alert =
      test::seal_changed(pki.identity("bf.focal-point"), MessageType::ALERT, [](auto header, auto body) {
        header.initRecipients(1)[0].setCountry("SN");
        REQUIRE(body.getAlert().getKind() == wire::AlertKind::STOLEN);
        body.getAlert().getFirearms()[0].setSerialNumber(kAlertedSerial);
      });
  const auto alerted = burkina->submit(alert);
  if (!alerted) FAIL("the alert was refused: " << alerted.error().describe());
  REQUIRE(receive(*senegal, 1).size() == 1);

  const Bytes request = test::seal_changed(
      pki.identity("sn.police-judiciaire"), MessageType::TRACING_REQUEST,
      [](auto, auto body) { body.getTracingRequest().getFirearms()[0].setSerialNumber(kRequestedSerial); });
  const auto requested = agency->submit(request);
  if (!requested) FAIL("the tracing request was refused: " << requested.error().describe());
  // Burkina Faso gets the request (it was sent there) and the hit on its alert.
  const auto at_burkina = receive(*burkina, 2);
  REQUIRE(at_burkina.size() == 2);
  CHECK(at_burkina[1].opened.type == MessageType::HIT_NOTIFICATION);
  REQUIRE(broker.stop() == 0);  // the log is complete once the broker has stopped

  const std::string log = broker.log_text();
  // The hit was logged at all, so the check below reads the right lines.
  REQUIRE_THAT(log, Catch::Contains("] [info] hit: request " + test::message_id_of(request).hex()));
  std::istringstream lines(log);
  int checked = 0;
  for (std::string line; std::getline(lines, line);) {
    if (is_debug_line(line)) continue;  // debug is the most a serial may reach
    ++checked;
    INFO(line);
    CHECK_THAT(line, !Catch::Contains(kAlertedSerial, Catch::CaseSensitive::No) &&
                         !Catch::Contains(kRequestedSerial, Catch::CaseSensitive::No) &&
                         !Catch::Contains(kNormalisedSerial, Catch::CaseSensitive::No));
  }
  CHECK(checked > 3);
}
