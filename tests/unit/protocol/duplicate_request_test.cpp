// The duplicate-request rule both ends apply (protocol/fpx/duplicate_request.hpp)
// and the receipt field that carries the broker's finding (Receipt.openRequest).
#include "fpx/duplicate_request.hpp"

#include <capnp/message.h>

#include <array>

#include <catch2/catch.hpp>

#include "fpx/envelope.hpp"
#include "fpx/receipt.hpp"
#include "fpx/wire/transport.capnp.h"

using namespace fpx;

namespace {

struct Request {
  capnp::MallocMessageBuilder header_message;
  capnp::MallocMessageBuilder body_message;
  wire::Header::Builder header = header_message.initRoot<wire::Header>();
  wire::TracingRequest::Builder request = body_message.initRoot<wire::TracingRequest>();

  Request(const char* serial, const char* manufacturer, std::initializer_list<const char*> states) {
    auto firearm = request.initFirearms(1)[0];
    firearm.setSerialNumber(serial);
    firearm.setManufacturer(manufacturer);
    auto requested = request.initRequestedStates(static_cast<unsigned>(states.size()));
    unsigned i = 0;
    for (const char* state : states) requested[i++].setCountry(state);
  }
  void reference(wire::OtherChannel channel, const char* text) {
    auto references = header.initOtherChannelReferences(1);
    references[0].setChannel(channel);
    references[0].setReference(text);
  }
};

std::optional<DuplicateFinding> repeats(Request& next, Request& open) {
  return repeats_request(next.header.asReader(), next.request.asReader(), open.header.asReader(),
                         open.request.asReader());
}

}  // namespace

TEST_CASE("serial numbers and manufacturers are compared after keeping only letters and digits upper-cased") {
  CHECK(normalise_identifier("AK-4711 zg") == "AK4711ZG");
  CHECK(normalise_identifier("Manufacture d'armes de Ouagadougou") == "MANUFACTUREDARMESDEOUAGADOUGOU");
  CHECK(normalise_identifier(" -./ ") == "");
  // Bytes of UTF-8 letters are dropped, never upper-cased into other bytes.
  CHECK(normalise_identifier("Société") == "SOCIT");
}

TEST_CASE("a request repeats an open one for the same firearm asked of a shared state or for the same channel "
          "reference only") {
  Request open("AK-4711-ZG", "MAO", {"NE", "BF"});
  SECTION("the same firearm written differently to one of the same states") {
    Request next("ak 4711 zg", "mao", {"BF"});
    auto finding = repeats(next, open);
    REQUIRE(finding);
    CHECK(finding->reason == DuplicateReason::same_firearm);
    CHECK(finding->state == "BF");
    CHECK(finding->detail == "AK-4711-ZG / MAO");
  }
  SECTION("the same firearm asked of another state only") {
    Request next("AK-4711-ZG", "MAO", {"ML"});
    CHECK_FALSE(repeats(next, open));
  }
  SECTION("the same serial number of another manufacturer") {
    Request next("AK-4711-ZG", "Norinco", {"NE"});
    CHECK_FALSE(repeats(next, open));
  }
  SECTION("firearms without a serial number match nothing") {
    Request blank_open("", "MAO", {"NE"});
    Request blank_next("", "MAO", {"NE"});
    CHECK_FALSE(repeats(blank_next, blank_open));
  }
  SECTION("the same reference in the same other channel whatever the firearm") {
    open.reference(wire::OtherChannel::IARMS, "IA-2026-77");
    Request next("ZZ-1", "Other", {"ML"});
    next.reference(wire::OtherChannel::IARMS, "ia 2026 77");
    auto finding = repeats(next, open);
    REQUIRE(finding);
    CHECK(finding->reason == DuplicateReason::same_channel_reference);
    CHECK(finding->detail == "IA-2026-77");
  }
  SECTION("the same reference in another channel") {
    open.reference(wire::OtherChannel::IARMS, "IA-2026-77");
    Request next("ZZ-1", "Other", {"ML"});
    next.reference(wire::OtherChannel::SIENA, "IA-2026-77");
    CHECK_FALSE(repeats(next, open));
  }
}

TEST_CASE("a receipt's open request round-trips and a receipt without one keeps its bytes") {
  ReceiptBody body{MessageId::random(), Sha256Digest{}, 1'765'000'000'000, 41, ParticipantId("exchange.broker"), {}};
  const Bytes without = encode_receipt_body(body);
  auto decoded = decode_receipt_body(without);
  REQUIRE(decoded.ok());
  CHECK_FALSE(decoded->open_request.has_value());
  CHECK(*decoded == body);

  body.open_request = MessageId::random();
  const Bytes with = encode_receipt_body(body);
  CHECK(with != without);
  auto again = decode_receipt_body(with);
  REQUIRE(again.ok());
  CHECK(*again == body);

  // Removing it gives the old bytes back: receipts of other messages are unchanged.
  body.open_request.reset();
  CHECK(encode_receipt_body(body) == without);
}

TEST_CASE("a receipt whose open request is not 16 bytes is refused as malformed") {
  capnp::MallocMessageBuilder message;
  auto receipt = message.initRoot<wire::Receipt>();
  const MessageId id = MessageId::random();
  receipt.setMessageId(kj::arrayPtr(id.bytes.data(), id.bytes.size()));
  const Sha256Digest sha{};
  receipt.setEnvelopeSha256(kj::arrayPtr(sha.data(), sha.size()));
  receipt.setBrokerId("exchange.broker");
  const std::array<capnp::byte, 3> short_id{1, 2, 3};
  receipt.setOpenRequest(kj::arrayPtr(short_id.data(), short_id.size()));
  auto canonical = capnp::canonicalize(receipt.asReader());
  const auto bytes = canonical.asBytes();
  auto decoded = decode_receipt_body(ByteView(bytes.begin(), bytes.size()));
  REQUIRE_FALSE(decoded.ok());
  CHECK(decoded.error().code == ErrorCode::malformed);
}
