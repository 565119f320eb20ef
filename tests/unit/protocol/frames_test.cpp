// protocol/client_frames.cpp, observer_frames.cpp, aligned_reader.cpp and
// wire_error.cpp: every frame kind survives its round trip through the one
// codec both ends use, and every kind of damaged input is a typed refusal.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>

#include <capnp/any.h>
#include <capnp/message.h>

#include "fpx/aligned_reader.hpp"
#include "fpx/frames.hpp"
#include "fpx/wire/observer.capnp.h"
#include "fpx/wire/transport.capnp.h"
#include "fpx/wire_error.hpp"

namespace fpx {
namespace {

// The union tag of ClientFrame, BrokerFrame, ObserverRequest and
// ObserverReply: data bits [64, 80) (capnp compile -ocapnp).
constexpr std::size_t kUnionTagByte = 8;

MessageId message_id(std::uint8_t fill) {
  MessageId id;
  id.bytes.fill(fill);
  return id;
}

// A SignedReceipt message as the broker stores it (flat, with its table).
Bytes signed_receipt_bytes() {
  capnp::MallocMessageBuilder message;
  auto receipt = message.initRoot<wire::SignedReceipt>();
  const Bytes inner(24, 0x5a);
  receipt.setReceipt(kj::arrayPtr(inner.data(), inner.size()));
  const Bytes signature(64, 0x11);
  receipt.setSignature(kj::arrayPtr(signature.data(), signature.size()));
  auto chain = receipt.initBrokerChain(2);
  const Bytes leaf(40, 0x22);
  const Bytes intermediate(48, 0x33);
  chain.set(0, kj::arrayPtr(leaf.data(), leaf.size()));
  chain.set(1, kj::arrayPtr(intermediate.data(), intermediate.size()));
  return flat_bytes(message);
}

struct SignedReceiptFields {
  Bytes receipt;
  Bytes signature;
  std::vector<Bytes> chain;
  friend bool operator==(const SignedReceiptFields&, const SignedReceiptFields&) = default;
};

SignedReceiptFields fields_of(ByteView signed_receipt) {
  auto fields = read_message<wire::SignedReceipt>(
      signed_receipt, Framing::flat, "signed receipt",
      [](wire::SignedReceipt::Reader reader) -> Result<SignedReceiptFields> {
        SignedReceiptFields out;
        out.receipt.assign(reader.getReceipt().begin(), reader.getReceipt().end());
        out.signature.assign(reader.getSignature().begin(), reader.getSignature().end());
        for (auto certificate : reader.getBrokerChain()) out.chain.emplace_back(certificate.begin(), certificate.end());
        return out;
      });
  REQUIRE(fields.ok());
  return *fields;
}

// The same bytes starting one byte past a word boundary, as a ZeroMQ frame may.
struct Misaligned {
  explicit Misaligned(const Bytes& bytes) : storage(bytes.size() + 1) {
    std::copy(bytes.begin(), bytes.end(), storage.begin() + 1);
  }
  ByteView view() const { return ByteView(storage.data() + 1, storage.size() - 1); }
  Bytes storage;
};

Bytes with_union_tag(Bytes frame_bytes, std::uint16_t tag) {
  // Rewritten in a builder so the test names the field, not a byte offset in the flat bytes.
  auto original = AlignedMessage::open(frame_bytes, Framing::flat, "frame");
  REQUIRE(original.ok());
  capnp::MallocMessageBuilder copy;
  copy.setRoot(original->root<capnp::AnyPointer>());
  auto data = copy.getRoot<capnp::AnyPointer>().getAs<capnp::AnyStruct>().getDataSection();
  data[kUnionTagByte] = static_cast<kj::byte>(tag & 0xff);
  data[kUnionTagByte + 1] = static_cast<kj::byte>(tag >> 8);
  return flat_bytes(copy);
}

// A BrokerFrame carrying a receipt whose unknown fourth pointer leads down a
// chain of `depth` structs: a deep copy of it must stop at the nesting limit.
Bytes deeply_nested_receipt_frame(int depth) {
  capnp::MallocMessageBuilder message;
  auto root = message.getRoot<capnp::AnyPointer>().initAsAnyStruct(2, 1);
  root.getDataSection()[kUnionTagByte] = 0;  // receipt
  auto receipt = root.getPointerSection()[0].initAsAnyStruct(0, 4);
  auto link = receipt.getPointerSection()[3].initAsAnyStruct(0, 1);
  for (int i = 1; i < depth; ++i) link = link.getPointerSection()[0].initAsAnyStruct(0, 1);
  return flat_bytes(message);
}

}  // namespace

TEST_CASE("Every ErrorCode survives the round trip through the wire enum", "[frames]") {
  for (auto raw = static_cast<std::uint16_t>(ErrorCode::none); raw <= static_cast<std::uint16_t>(kLastErrorCode); ++raw) {
    const auto code = static_cast<ErrorCode>(raw);
    INFO(error_code_name(code));
    CHECK(from_wire(to_wire(code)) == code);
  }
}

TEST_CASE("An unknown wire error code decodes as internal", "[frames]") {
  const auto newer = static_cast<wire::ErrorCode>(static_cast<std::uint16_t>(kLastErrorCode) + 1);
  CHECK(from_wire(newer) == ErrorCode::internal);
  CHECK(from_wire(static_cast<wire::ErrorCode>(0xffff)) == ErrorCode::internal);

  capnp::MallocMessageBuilder message;
  auto frame = message.initRoot<wire::BrokerFrame>();
  frame.setRequestId(9);
  frame.initError().setCode(newer);
  auto reply = decode_broker_frame(flat_bytes(message));
  REQUIRE(reply.ok());
  CHECK(reply->kind == BrokerReply::Kind::error);
  CHECK(reply->error.code == ErrorCode::internal);
}

TEST_CASE("An error reply whose code is none reads as internal and never as success", "[frames]") {
  auto reply = decode_broker_frame(encode_error(3, make_error(ErrorCode::none, "broken peer"), std::nullopt));
  REQUIRE(reply.ok());
  CHECK(reply->error.code == ErrorCode::internal);
  auto observer = decode_observer_reply(encode_observer_error(3, make_error(ErrorCode::none, "broken peer")));
  REQUIRE(observer.ok());
  CHECK(observer->error.code == ErrorCode::internal);
}

TEST_CASE("Every client request kind survives its round trip", "[frames]") {
  SECTION("submit") {
    const Bytes envelope(1000, 0x42);
    auto request = decode_client_frame(encode_submit(17, envelope));
    REQUIRE(request.ok());
    CHECK(request->request_id == 17);
    CHECK(request->kind == ClientRequest::Kind::submit);
    CHECK(request->envelope == envelope);
  }
  SECTION("confirm") {
    const std::vector<std::uint64_t> ids{1, 5, 0xffffffffffffffffULL};
    auto request = decode_client_frame(encode_confirm(18, ids));
    REQUIRE(request.ok());
    CHECK(request->kind == ClientRequest::Kind::confirm);
    CHECK(request->delivery_ids == ids);
  }
  SECTION("status") {
    auto request = decode_client_frame(encode_status_query(19, message_id(0xab)));
    REQUIRE(request.ok());
    CHECK(request->kind == ClientRequest::Kind::status);
    REQUIRE(request->status_of);
    CHECK(request->status_of->bytes == message_id(0xab).bytes);
  }
  SECTION("ping") {
    auto request = decode_client_frame(encode_ping(20));
    REQUIRE(request.ok());
    CHECK(request->request_id == 20);
    CHECK(request->kind == ClientRequest::Kind::ping);
  }
}

TEST_CASE("Every broker reply kind survives its round trip", "[frames]") {
  SECTION("receipt") {
    const Bytes stored = signed_receipt_bytes();
    auto reply = decode_broker_frame(encode_receipt(21, stored));
    REQUIRE(reply.ok());
    CHECK(reply->request_id == 21);
    CHECK(reply->kind == BrokerReply::Kind::receipt);
    CHECK(fields_of(reply->signed_receipt) == fields_of(stored));
  }
  SECTION("error") {
    Error error = make_error(ErrorCode::schema_violation, "the calibre is missing: add it");
    error.field_errors.push_back(FieldError{"body.tracingRequest.firearms[0].calibre", "required"});
    auto reply = decode_broker_frame(encode_error(22, error, message_id(7), 1500));
    REQUIRE(reply.ok());
    CHECK(reply->kind == BrokerReply::Kind::error);
    CHECK(reply->error.code == ErrorCode::schema_violation);
    CHECK(reply->error.message == error.message);
    CHECK(reply->error.field_errors == error.field_errors);
    REQUIRE(reply->about);
    CHECK(reply->about->bytes == message_id(7).bytes);
    CHECK(reply->retry_after_ms == 1500);
  }
  SECTION("error without a message id") {
    auto reply = decode_broker_frame(encode_error(23, make_error(ErrorCode::rate_limited, "slow down"), std::nullopt));
    REQUIRE(reply.ok());
    CHECK_FALSE(reply->about);
  }
  SECTION("delivery") {
    const Bytes envelope(333, 0x77);
    auto reply = decode_broker_frame(encode_delivery(99, envelope));
    REQUIRE(reply.ok());
    CHECK(reply->request_id == 0);
    CHECK(reply->kind == BrokerReply::Kind::delivery);
    CHECK(reply->delivery_id == 99);
    CHECK(reply->envelope == envelope);
  }
  SECTION("status") {
    const std::vector<RecipientStatusRow> rows{{"fr.focal-point", "stored", 10, "", ""},
                                               {"de.focal-point", "delivered", 11, "acknowledged", ""},
                                               {"it.focal-point", "confirmed", 12, "answered", ""},
                                               {"es.focal-point", "dead_letter", 13, "", "expired after 30 days"}};
    auto reply = decode_broker_frame(encode_status(24, message_id(3), rows));
    REQUIRE(reply.ok());
    CHECK(reply->kind == BrokerReply::Kind::status);
    REQUIRE(reply->status_of);
    CHECK(reply->status_of->bytes == message_id(3).bytes);
    CHECK(reply->recipients == rows);
  }
  SECTION("pong") {
    auto reply = decode_broker_frame(encode_pong(25));
    REQUIRE(reply.ok());
    CHECK(reply->request_id == 25);
    CHECK(reply->kind == BrokerReply::Kind::pong);
    CHECK(reply->max_frame_bytes == 0);  // not announced, as from a broker older than the field
  }
  SECTION("pong announcing the broker's frame limit") {
    auto reply = decode_broker_frame(encode_pong(26, 65536));
    REQUIRE(reply.ok());
    CHECK(reply->request_id == 26);
    CHECK(reply->kind == BrokerReply::Kind::pong);
    CHECK(reply->max_frame_bytes == 65536);
  }
  SECTION("a probe is unsolicited and read as a kind to ignore") {
    auto reply = decode_broker_frame(encode_probe());
    REQUIRE(reply.ok());
    CHECK(reply->request_id == 0);
    CHECK(reply->kind == BrokerReply::Kind::unknown);
    auto observer = decode_observer_reply(encode_observer_probe());
    REQUIRE(observer.ok());
    CHECK(observer->request_id == 0);
    CHECK(observer->kind == ObserverReply::Kind::unknown);
  }
  SECTION("session closed") {
    auto reply = decode_broker_frame(encode_session_closed("a newer session of ml.police is connected"));
    REQUIRE(reply.ok());
    CHECK(reply->kind == BrokerReply::Kind::session_closed);
    CHECK(reply->reason == "a newer session of ml.police is connected");
  }
}

TEST_CASE("Every observer request kind survives its round trip", "[frames]") {
  ObserverQuery query;
  query.request_id = 31;
  SECTION("follow") {
    query.kind = ObserverQuery::Kind::follow;
    query.from_sequence = 12;
    query.max_records = 50;
  }
  SECTION("latest checkpoint") { query.kind = ObserverQuery::Kind::latest_checkpoint; }
  SECTION("inclusion proof") {
    query.kind = ObserverQuery::Kind::inclusion_proof;
    query.leaf_index = 4;
    query.tree_size = 9;
  }
  SECTION("consistency proof") {
    query.kind = ObserverQuery::Kind::consistency_proof;
    query.first_tree_size = 3;
    query.second_tree_size = 8;
  }
  auto decoded = decode_observer_request(encode_observer_request(query));
  REQUIRE(decoded.ok());
  CHECK(decoded->request_id == query.request_id);
  CHECK(decoded->kind == query.kind);
  CHECK(decoded->from_sequence == query.from_sequence);
  CHECK(decoded->max_records == query.max_records);
  CHECK(decoded->leaf_index == query.leaf_index);
  CHECK(decoded->tree_size == query.tree_size);
  CHECK(decoded->first_tree_size == query.first_tree_size);
  CHECK(decoded->second_tree_size == query.second_tree_size);
}

TEST_CASE("Every observer reply kind survives its round trip", "[frames]") {
  SECTION("page") {
    const std::vector<FeedRecordFrame> records{{5, "statistics", "{\"a\":1}", Bytes(64, 1)},
                                               {6, "checkpoint", "{\"b\":2}", Bytes(64, 2)}};
    auto reply = decode_observer_reply(encode_feed_page(32, records, 7));
    REQUIRE(reply.ok());
    CHECK(reply->kind == ObserverReply::Kind::page);
    CHECK(reply->records == records);
    CHECK(reply->next_sequence == 7);
  }
  SECTION("checkpoint") {
    auto reply = decode_observer_reply(encode_checkpoint_reply(33, "fpx.example/log\n4\nroot\n\n— sig\n"));
    REQUIRE(reply.ok());
    CHECK(reply->kind == ObserverReply::Kind::checkpoint);
    CHECK(reply->note == "fpx.example/log\n4\nroot\n\n— sig\n");
  }
  SECTION("proof") {
    std::vector<Sha256Digest> hashes(3);
    hashes[1].fill(0xee);
    auto reply = decode_observer_reply(encode_proof_reply(34, hashes));
    REQUIRE(reply.ok());
    CHECK(reply->kind == ObserverReply::Kind::proof);
    REQUIRE(reply->hashes.size() == 3);
    CHECK(reply->hashes[1] == Bytes(hashes[1].begin(), hashes[1].end()));
  }
  SECTION("error") {
    auto reply = decode_observer_reply(encode_observer_error(35, make_error(ErrorCode::rate_limited, "wait"), 250));
    REQUIRE(reply.ok());
    CHECK(reply->kind == ObserverReply::Kind::error);
    CHECK(reply->error.code == ErrorCode::rate_limited);
    CHECK(reply->error.message == "wait");
    CHECK(reply->retry_after_ms == 250);
  }
}

TEST_CASE("A frame that starts off a word boundary decodes like an aligned one", "[frames]") {
  const Bytes frame = encode_submit(40, Bytes(77, 0x61));
  Misaligned shifted(frame);
  REQUIRE(reinterpret_cast<std::uintptr_t>(shifted.view().data()) % alignof(capnp::word) != 0);
  auto request = decode_client_frame(shifted.view());
  REQUIRE(request.ok());
  CHECK(request->request_id == 40);
  CHECK(request->envelope == Bytes(77, 0x61));

  Bytes garbage(64, 0xff);
  Misaligned shifted_garbage(garbage);
  auto refused = decode_client_frame(shifted_garbage.view());
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::malformed);
}

TEST_CASE("Damaged frames are typed refusals", "[frames]") {
  const Bytes frame = encode_submit(41, Bytes(200, 0x61));
  SECTION("empty") {
    auto refused = decode_client_frame(ByteView());
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == ErrorCode::malformed);
  }
  SECTION("odd length") {
    Bytes odd = frame;
    odd.push_back(0);
    auto refused = decode_client_frame(odd);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == ErrorCode::malformed);
    CHECK(refused.error().message.find("whole number of 8-byte") != std::string::npos);
  }
  SECTION("truncated") {
    const Bytes truncated(frame.begin(), frame.end() - 8);
    auto refused = decode_client_frame(truncated);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == ErrorCode::malformed);
  }
  SECTION("trailing word") {
    Bytes longer = frame;
    longer.resize(longer.size() + 8, 0);
    auto refused = decode_client_frame(longer);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == ErrorCode::malformed);
  }
  SECTION("a truncated broker reply") {
    const Bytes reply = encode_delivery(3, Bytes(100, 1));
    auto refused = decode_broker_frame(ByteView(reply.data(), reply.size() - 16));
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == ErrorCode::malformed);
  }
  SECTION("a truncated observer reply") {
    const Bytes reply = encode_checkpoint_reply(3, std::string(100, 'n'));
    auto refused = decode_observer_reply(ByteView(reply.data(), reply.size() - 16));
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == ErrorCode::malformed);
  }
}

TEST_CASE("A receipt nested deeper than the reader's limit is refused as malformed", "[frames]") {
  const Bytes shallow = deeply_nested_receipt_frame(4);
  CHECK(decode_broker_frame(shallow).ok());
  const Bytes deep = deeply_nested_receipt_frame(kReaderNestingLimit + 8);
  auto refused = decode_broker_frame(deep);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::malformed);
}

TEST_CASE("Lists longer than a frame may carry are refused", "[frames]") {
  SECTION("a confirm of more deliveries than a participant can hold") {
    auto refused = decode_client_frame(encode_confirm(1, std::vector<std::uint64_t>(kMaxConfirmIds + 1, 7)));
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == ErrorCode::too_large);
    CHECK(decode_client_frame(encode_confirm(1, std::vector<std::uint64_t>(kMaxConfirmIds, 7))).ok());
  }
  SECTION("a proof of more hashes than any RFC 9162 proof has") {
    auto refused = decode_observer_reply(encode_proof_reply(1, std::vector<Sha256Digest>(kMaxProofHashes + 1)));
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == ErrorCode::malformed);
  }
  SECTION("an observer request larger than any request") {
    ObserverQuery query;
    query.kind = ObserverQuery::Kind::follow;
    Bytes big = encode_observer_request(query);
    big.resize(kMaxObserverRequestBytes + 8, 0);
    auto refused = decode_observer_request(big);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == ErrorCode::too_large);
  }
}

TEST_CASE("An unknown union tag is a newer protocol and never a crash", "[frames]") {
  SECTION("a client request the broker does not know is unsupported_version") {
    auto refused = decode_client_frame(with_union_tag(encode_ping(5), 9));
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == ErrorCode::unsupported_version);
  }
  SECTION("a broker reply the client does not know is ignored as unknown") {
    auto reply = decode_broker_frame(with_union_tag(encode_pong(5), 9));
    REQUIRE(reply.ok());
    CHECK(reply->kind == BrokerReply::Kind::unknown);
  }
  SECTION("an observer request the broker does not know keeps its request id") {
    ObserverQuery query;
    query.request_id = 77;
    query.kind = ObserverQuery::Kind::latest_checkpoint;
    auto decoded = decode_observer_request(with_union_tag(encode_observer_request(query), 9));
    REQUIRE(decoded.ok());
    CHECK(decoded->kind == ObserverQuery::Kind::unknown);
    CHECK(decoded->request_id == 77);
  }
  SECTION("an observer reply the client does not know is unknown") {
    auto reply = decode_observer_reply(with_union_tag(encode_checkpoint_reply(5, "note"), 9));
    REQUIRE(reply.ok());
    CHECK(reply->kind == ObserverReply::Kind::unknown);
  }
}

TEST_CASE("Canonical framing refuses bytes that are not canonical", "[frames]") {
  capnp::MallocMessageBuilder message;
  auto query = message.initRoot<wire::StatusQuery>();
  const MessageId id = message_id(4);
  query.setMessageId(kj::arrayPtr(id.bytes.data(), id.bytes.size()));
  auto words = capnp::canonicalize(query.asReader());
  Bytes canonical(words.asBytes().begin(), words.asBytes().end());
  CHECK(AlignedMessage::open(canonical, Framing::canonical, "status query").ok());
  // A word past the end: the same values, but not the one canonical encoding.
  canonical.resize(canonical.size() + 8, 0);
  auto refused = AlignedMessage::open(canonical, Framing::canonical, "status query");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::not_canonical);
}

}  // namespace fpx
