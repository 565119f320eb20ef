// Issue 14, after review: what one participant's connections may make the
// broker hold, through the real fpx-broker on 127.0.0.1 and fpx_client:
// the frame limit the broker announces in its pong, which the client library
// applies before anything is queued.
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "fpx/attachments.hpp"
#include "fpx/client.hpp"
#include "support/attachment_envelopes.hpp"
#include "support/broker_clients.hpp"
#include "support/broker_process.hpp"
#include "support/sample_messages.hpp"
#include "support/test_pki.hpp"

using namespace fpx;
using namespace std::chrono_literals;
using test::BrokerProcess;
using test::TestPki;

namespace {

const std::string kAgency = "sn.police-judiciaire";

// An exchange whose operator set limits.max_message_bytes far below the
// client library's default (1 MiB).
struct SmallFrameExchange {
  static constexpr std::size_t kBrokerFrameLimit = 64 * 1024;
  SmallFrameExchange() : pki({"SN", "NE", "BF"}) {
    pki.issue(kAgency, "SN", Role::agency);
    pki.issue("ne.focal-point", "NE", Role::focal_point);
    pki.issue("bf.focal-point", "BF", Role::focal_point);
    test::BrokerOptions options;
    options.max_message_bytes = kBrokerFrameLimit;
    broker = std::make_unique<BrokerProcess>(
        pki, std::vector<std::string>{kAgency, "ne.focal-point", "bf.focal-point"}, options);
  }
  // A tracing request carrying a photo of `bytes`, honestly sealed.
  Bytes request_with_photo(std::size_t bytes) {
    auto photo = make_attachment("marquage.png", test::make_png(bytes));
    if (!photo) FAIL(photo.error().describe());
    return test::seal_request_with(pki.identity(kAgency), {*photo});
  }
  TestPki pki;
  std::unique_ptr<BrokerProcess> broker;
};

}  // namespace

TEST_CASE("a message over the frame limit the broker announces is refused by the client before it is queued or sent") {
  SmallFrameExchange exchange;
  // The library's own option is left at its default (1 MiB): only the
  // broker's pong can tell it the exchange takes 64 KiB.
  auto client = test::connect_client(*exchange.broker, exchange.pki, kAgency);
  const Bytes too_big = exchange.request_with_photo(100 * 1024);
  REQUIRE(too_big.size() > SmallFrameExchange::kBrokerFrameLimit);
  REQUIRE(too_big.size() < client::ClientOptions{}.max_frame_bytes);

  auto refused = client->submit(too_big);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::too_large);
  CHECK_THAT(refused.error().message, Catch::Contains("nothing was sent"));
  CHECK_THAT(refused.error().message, Catch::Contains(std::to_string(SmallFrameExchange::kBrokerFrameLimit)));
  CHECK_THAT(refused.error().message, Catch::Contains("announced by the broker"));
  CHECK(*client->unreceipted_count() == 0);

  // The connection was never dropped: the next message that fits is
  // receipted on the same session, with nothing resent before it.
  const Bytes fits = exchange.request_with_photo(8 * 1024);
  REQUIRE(fits.size() < SmallFrameExchange::kBrokerFrameLimit);
  auto receipt = client->submit(fits);
  REQUIRE(receipt.ok());
  CHECK(receipt->message_id == test::message_id_of(fits));
  CHECK(client->take_outbox_refusals().empty());
}

TEST_CASE("a client option below the broker's announced frame limit still applies") {
  SmallFrameExchange exchange;
  auto options = test::client_options(*exchange.broker, exchange.pki, kAgency);
  options.max_frame_bytes = 16 * 1024;
  auto connected = client::Client::connect(exchange.pki.identity(kAgency), options);
  REQUIRE(connected.ok());
  auto refused = (*connected)->submit(exchange.request_with_photo(24 * 1024));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::too_large);
  CHECK_THAT(refused.error().message, Catch::Contains("ClientOptions::max_frame_bytes"));
  CHECK(*(*connected)->unreceipted_count() == 0);
}
