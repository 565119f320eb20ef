// The receipt contract (protocol/fpx/receipt.hpp): groups built, signed and
// verified with a real broker certificate under a real root, and every way a
// receipt can be altered refused with its typed error.
#include "fpx/receipt.hpp"

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <functional>
#include <optional>
#include <set>

#include "fpx/envelope.hpp"
#include "fpx/wire/transport.capnp.h"
#include "support/test_pki.hpp"

using namespace fpx;
using fpx::test::TestPki;

namespace {

struct Broker {
  TestPki pki{{"SN"}};
  Identity identity = pki.issue_identity("exchange.broker", "SN", Role::broker, {.via_intermediate = false});
  Identity other = pki.issue_identity("other.broker", "SN", Role::broker, {.via_intermediate = false});
  Identity agency = pki.issue_identity("sn.police-judiciaire", "SN", Role::agency);
  TrustStore trust = pki.trust_store();

  static std::vector<Bytes> chain_of(const Identity& identity) {
    std::vector<Bytes> chain;
    for (const auto& certificate : identity.chain()) chain.push_back(certificate.der());
    return chain;
  }
};

ReceiptBody body_of(std::size_t i, const ParticipantId& broker, std::int64_t stored_at_ms = now_ms()) {
  ReceiptBody body;
  body.message_id = MessageId::random();
  body.envelope_sha256 = sha256(as_bytes("envelope " + std::to_string(i)));
  body.stored_at_ms = stored_at_ms;
  body.log_index = 100 + i;
  body.broker = broker;
  return body;
}

// A sealed group of `size` messages signed by `signer`, and each message's receipt.
struct Group {
  std::vector<ReceiptBody> bodies;
  std::vector<Bytes> receipts;
};

// Stored when sealed, unless told otherwise.
Group make_group(const Identity& signer, std::size_t size, std::int64_t sealed_at_ms = now_ms(),
                 std::optional<std::int64_t> stored_at_ms = std::nullopt) {
  Group group;
  std::vector<Bytes> body_bytes;
  std::vector<Sha256Digest> leaves;
  for (std::size_t i = 0; i < size; ++i) {
    group.bodies.push_back(body_of(i, signer.participant().id, stored_at_ms.value_or(sealed_at_ms)));
    body_bytes.push_back(encode_receipt_body(group.bodies.back()));
    leaves.push_back(receipt_leaf_hash(body_bytes.back()));
  }
  auto sealed = SealedReceiptGroup::seal(leaves, sealed_at_ms, signer.participant().id, signer.signing_key());
  REQUIRE(sealed.ok());
  const auto chain = Broker::chain_of(signer);
  for (std::size_t i = 0; i < size; ++i) {
    auto receipt = sealed->receipt_for(i, body_bytes[i], chain);
    REQUIRE(receipt.ok());
    group.receipts.push_back(std::move(*receipt));
  }
  return group;
}

Bytes flat(capnp::MessageBuilder& message) {
  auto words = capnp::messageToFlatArray(message);
  return Bytes(words.asBytes().begin(), words.asBytes().end());
}

// The receipt with `change` applied to a writable copy of its SignedReceipt.
Bytes altered(const Bytes& receipt, const std::function<void(wire::SignedReceipt::Builder)>& change) {
  auto words = kj::heapArray<capnp::word>(receipt.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), receipt.data(), receipt.size());
  capnp::FlatArrayMessageReader reader(words);
  capnp::MallocMessageBuilder copy;
  copy.setRoot(reader.getRoot<wire::SignedReceipt>());
  change(copy.getRoot<wire::SignedReceipt>());
  return flat(copy);
}

Bytes data_of(capnp::Data::Reader data) {
  return Bytes(data.begin(), data.end());
}

Bytes field(const Bytes& receipt, const std::function<capnp::Data::Reader(wire::SignedReceipt::Reader)>& get) {
  auto words = kj::heapArray<capnp::word>(receipt.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), receipt.data(), receipt.size());
  capnp::FlatArrayMessageReader reader(words);
  return data_of(get(reader.getRoot<wire::SignedReceipt>()));
}

ErrorCode code_of(Broker& broker, const Bytes& receipt) {
  auto opened = open_receipt(broker.trust, receipt, now_ms(), RevocationCheck::required);
  if (opened) return ErrorCode::none;
  INFO(opened.error().describe());
  return opened.error().code;
}

}  // namespace

TEST_CASE("every receipt of groups of 1 2 3 7 and 64 messages verifies and says what was stored") {
  Broker broker;
  for (std::size_t size : {1U, 2U, 3U, 7U, 64U}) {
    Group group = make_group(broker.identity, size);
    std::set<Bytes> signatures;
    for (std::size_t i = 0; i < size; ++i) {
      INFO("group of " << size << " leaf " << i);
      auto opened = open_receipt(broker.trust, group.receipts[i], now_ms(), RevocationCheck::required);
      REQUIRE(opened.ok());
      CHECK(opened->version == ReceiptVersion::group);
      CHECK(opened->body == group.bodies[i]);
      CHECK(opened->leaf_index == i);
      REQUIRE(opened->head.has_value());
      CHECK(opened->head->size == size);
      CHECK(opened->signer.participant.id.str() == "exchange.broker");
      signatures.insert(field(group.receipts[i], [](auto r) { return r.getHeadSignature(); }));
    }
    CHECK(signatures.size() == 1);  // one signature for the whole group
  }
}

TEST_CASE("a group restored from its stored head and leaves gives the same receipts byte for byte") {
  Broker broker;
  Group group = make_group(broker.identity, 7);
  const Bytes head = field(group.receipts[0], [](auto r) { return r.getGroupHead(); });
  const Bytes signature = field(group.receipts[0], [](auto r) { return r.getHeadSignature(); });
  std::vector<Sha256Digest> leaves;
  for (const auto& body : group.bodies) leaves.push_back(receipt_leaf_hash(encode_receipt_body(body)));
  auto restored = SealedReceiptGroup::restore(head, signature, leaves);
  REQUIRE(restored.ok());
  for (std::size_t i = 0; i < 7; ++i) {
    auto again = restored->receipt_for(i, encode_receipt_body(group.bodies[i]), Broker::chain_of(broker.identity));
    REQUIRE(again.ok());
    CHECK(*again == group.receipts[i]);
  }
  // A body that is not the leaf at that index is not given a receipt.
  CHECK(
      restored->receipt_for(2, encode_receipt_body(group.bodies[3]), Broker::chain_of(broker.identity)).error().code ==
      ErrorCode::invalid_argument);
  // Leaves that do not give the signed root are a damaged store.
  leaves[4][0] ^= 0x01;
  CHECK(SealedReceiptGroup::restore(head, signature, leaves).error().code == ErrorCode::io_error);
}

TEST_CASE("a receipt whose inclusion path was altered is refused as a bad signature") {
  Broker broker;
  Group group = make_group(broker.identity, 7);
  for (unsigned element = 0; element < 3; ++element) {
    INFO("path element " << element);
    Bytes receipt = altered(group.receipts[3], [&](auto r) { r.getInclusionPath()[element][5] ^= 0x01; });
    CHECK(code_of(broker, receipt) == ErrorCode::bad_signature);
  }
  // One hash too few or too many.
  Bytes shorter = altered(group.receipts[3], [](auto r) {
    std::vector<Bytes> kept;
    for (auto hash : r.getInclusionPath()) kept.push_back(data_of(hash));
    kept.pop_back();
    auto path = r.initInclusionPath(static_cast<unsigned>(kept.size()));
    for (unsigned i = 0; i < path.size(); ++i) path.set(i, kj::arrayPtr(kept[i].data(), kept[i].size()));
  });
  CHECK(code_of(broker, shorter) == ErrorCode::bad_signature);
  Bytes hash_of_31 = altered(group.receipts[3], [](auto r) {
    Bytes short_hash(31, 0);
    r.getInclusionPath().set(0, kj::arrayPtr(short_hash.data(), short_hash.size()));
  });
  CHECK(code_of(broker, hash_of_31) == ErrorCode::malformed);
  Bytes too_long = altered(group.receipts[3], [](auto r) {
    auto path = r.initInclusionPath(kMaxInclusionPathLength + 1);
    Bytes zero(32, 0);
    for (unsigned i = 0; i < path.size(); ++i) path.set(i, kj::arrayPtr(zero.data(), zero.size()));
  });
  CHECK(code_of(broker, too_long) == ErrorCode::malformed);
}

TEST_CASE("a receipt whose group head was altered is refused as a bad signature") {
  Broker broker;
  Group group = make_group(broker.identity, 3);
  const Bytes head = field(group.receipts[1], [](auto r) { return r.getGroupHead(); });
  for (std::size_t byte = 0; byte < head.size(); ++byte) {
    INFO("head byte " << byte);
    Bytes receipt = altered(group.receipts[1], [&](auto r) { r.getGroupHead()[byte] ^= 0x01; });
    CHECK(code_of(broker, receipt) == ErrorCode::bad_signature);
  }
  Bytes signature_flipped = altered(group.receipts[1], [](auto r) { r.getHeadSignature()[10] ^= 0x01; });
  CHECK(code_of(broker, signature_flipped) == ErrorCode::bad_signature);
}

TEST_CASE("a receipt that claims another leaf index is refused") {
  Broker broker;
  Group group = make_group(broker.identity, 7);
  for (std::uint64_t index = 0; index < 7; ++index) {
    if (index == 3) continue;
    INFO("claimed index " << index);
    Bytes receipt = altered(group.receipts[3], [&](auto r) { r.setLeafIndex(index); });
    CHECK(code_of(broker, receipt) == ErrorCode::bad_signature);
  }
  Bytes outside = altered(group.receipts[3], [](auto r) { r.setLeafIndex(7); });
  CHECK(code_of(broker, outside) == ErrorCode::malformed);
}

TEST_CASE("a receipt body swapped for another message's of the same group is refused") {
  Broker broker;
  Group group = make_group(broker.identity, 7);
  const Bytes other_body = encode_receipt_body(group.bodies[5]);
  Bytes receipt =
      altered(group.receipts[2], [&](auto r) { r.setReceipt(kj::arrayPtr(other_body.data(), other_body.size())); });
  CHECK(code_of(broker, receipt) == ErrorCode::bad_signature);
  // And a body altered in any of its bytes.
  const Bytes body = encode_receipt_body(group.bodies[2]);
  for (std::size_t byte = 0; byte < body.size(); ++byte) {
    INFO("body byte " << byte);
    Bytes flipped = altered(group.receipts[2], [&](auto r) { r.getReceipt()[byte] ^= 0x01; });
    CHECK(code_of(broker, flipped) != ErrorCode::none);
  }
}

TEST_CASE("non-canonical receipt bodies and group heads are refused even when the signature covers them") {
  Broker broker;
  // A body with a trailing word: the leaf the broker signed, over bytes that
  // are not the one encoding of that Receipt.
  ReceiptBody body = body_of(0, broker.identity.participant().id);
  Bytes padded_body = encode_receipt_body(body);
  padded_body.resize(padded_body.size() + 8, 0);
  auto sealed = SealedReceiptGroup::seal({receipt_leaf_hash(padded_body)}, now_ms(), broker.identity.participant().id,
                                         broker.identity.signing_key());
  REQUIRE(sealed.ok());
  auto receipt = sealed->receipt_for(0, padded_body, Broker::chain_of(broker.identity));
  REQUIRE(receipt.ok());
  CHECK(code_of(broker, *receipt) == ErrorCode::not_canonical);

  // A head with a trailing word, signed as it is.
  Group group = make_group(broker.identity, 1);
  Bytes head = field(group.receipts[0], [](auto r) { return r.getGroupHead(); });
  head.resize(head.size() + 8, 0);
  auto signature = broker.identity.signing_key().sign(group_head_signing_input(head));
  Bytes padded_head = altered(group.receipts[0], [&](auto r) {
    r.setGroupHead(kj::arrayPtr(head.data(), head.size()));
    r.setHeadSignature(kj::arrayPtr(signature.data(), signature.size()));
  });
  CHECK(code_of(broker, padded_head) == ErrorCode::not_canonical);
}

TEST_CASE("a group head signed by one broker under another broker's chain is refused") {
  Broker broker;
  Group group = make_group(broker.identity, 3);
  const auto chain = Broker::chain_of(broker.other);
  Bytes receipt = altered(group.receipts[0], [&](auto r) {
    auto list = r.initBrokerChain(static_cast<unsigned>(chain.size()));
    for (unsigned i = 0; i < list.size(); ++i) list.set(i, kj::arrayPtr(chain[i].data(), chain[i].size()));
  });
  CHECK(code_of(broker, receipt) == ErrorCode::bad_signature);
}

TEST_CASE("another broker's own group verifies here and the client's pin is what refuses it") {
  // The contract checks chain, signature and role; which broker key is the
  // exchange's is the pin's job (clients/verify_receipt.cpp, tested in test_client).
  Broker broker;
  Group group = make_group(broker.other, 2);
  auto opened = open_receipt(broker.trust, group.receipts[1], now_ms(), RevocationCheck::required);
  REQUIRE(opened.ok());
  CHECK(opened->signer.participant.id.str() == "other.broker");
}

TEST_CASE("a receipt naming another broker than the one that signed it is refused as signer_mismatch") {
  Broker broker;
  ReceiptBody body = body_of(0, ParticipantId("other.broker"));
  Bytes body_bytes = encode_receipt_body(body);
  auto sealed = SealedReceiptGroup::seal({receipt_leaf_hash(body_bytes)}, now_ms(), broker.identity.participant().id,
                                         broker.identity.signing_key());
  REQUIRE(sealed.ok());
  auto receipt = sealed->receipt_for(0, body_bytes, Broker::chain_of(broker.identity));
  REQUIRE(receipt.ok());
  CHECK(code_of(broker, *receipt) == ErrorCode::signer_mismatch);
}

TEST_CASE("a group signed by a participant that is not a broker proves nothing") {
  Broker broker;
  Group group = make_group(broker.agency, 2);
  CHECK(code_of(broker, group.receipts[0]) == ErrorCode::wrong_role);
}

TEST_CASE("a receipt stored after its group was sealed is refused") {
  Broker broker;
  const std::int64_t sealed_at = now_ms() - 60'000;
  Group group = make_group(broker.identity, 2, sealed_at, sealed_at + 1);
  CHECK(code_of(broker, group.receipts[0]) == ErrorCode::malformed);
}

TEST_CASE("a version 1 receipt signed alone still verifies and an unknown version is refused") {
  Broker broker;
  ReceiptBody body = body_of(0, ParticipantId());
  Bytes body_bytes = encode_receipt_body(body);
  auto signature = broker.identity.signing_key().sign(receipt_signing_input(body_bytes));
  capnp::MallocMessageBuilder message;
  auto receipt = message.initRoot<wire::SignedReceipt>();
  receipt.setReceipt(kj::arrayPtr(body_bytes.data(), body_bytes.size()));
  receipt.setSignature(kj::arrayPtr(signature.data(), signature.size()));
  const auto chain = Broker::chain_of(broker.identity);
  auto list = receipt.initBrokerChain(static_cast<unsigned>(chain.size()));
  for (unsigned i = 0; i < list.size(); ++i) list.set(i, kj::arrayPtr(chain[i].data(), chain[i].size()));
  const Bytes v1 = flat(message);

  auto opened = open_receipt(broker.trust, v1, now_ms(), RevocationCheck::required);
  REQUIRE(opened.ok());
  CHECK(opened->version == ReceiptVersion::single);
  CHECK(opened->body == body);
  CHECK_FALSE(opened->head.has_value());

  // A version 1 signature does not pass for a group's, nor the other way round.
  CHECK(code_of(broker, altered(v1, [](auto r) { r.setVersion(2); })) != ErrorCode::none);
  Group group = make_group(broker.identity, 1);
  CHECK(code_of(broker, altered(group.receipts[0], [](auto r) { r.setVersion(0); })) == ErrorCode::bad_signature);
  CHECK(code_of(broker, altered(group.receipts[0], [](auto r) { r.setVersion(3); })) == ErrorCode::unsupported_version);
}

TEST_CASE("truncated oversized and trailing receipt bytes are refused before any signature check") {
  Broker broker;
  Group group = make_group(broker.identity, 2);
  Bytes trailing = group.receipts[0];
  trailing.resize(trailing.size() + 8, 0);
  CHECK(code_of(broker, trailing) == ErrorCode::malformed);
  Bytes truncated(group.receipts[0].begin(), group.receipts[0].begin() + 40);
  CHECK(code_of(broker, truncated) == ErrorCode::malformed);
  CHECK(code_of(broker, Bytes(kMaxSignedReceiptBytes + 8, 0)) == ErrorCode::too_large);
  CHECK(code_of(broker, Bytes{}) == ErrorCode::malformed);
}

namespace {

// docs/PROTOCOL.md section 6, worked example: a group of three receipts signed
// by exchange.broker with the RFC 8032 test 2 key.
struct WorkedExample {
  Bytes bodies[3];
  Sha256Digest leaves[3]{};
  Bytes head;
  Bytes signature;
  std::vector<Sha256Digest> path_of_leaf_0;
};

MessageId id_from_hex(const char* hex) {
  return *MessageId::from_bytes(*from_hex(hex));
}

WorkedExample worked_example() {
  auto seed = from_hex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb");
  auto key = SigningKey::from_seed(*seed);
  REQUIRE(key.ok());
  const ParticipantId broker("exchange.broker");
  const char* ids[3] = {"00112233445566778899aabbccddeeff", "102132435465768798a9bacbdcedfe0f",
                        "2031425364758697a8b9cadbecfd0e1f"};
  WorkedExample example;
  std::vector<Sha256Digest> leaves;
  for (int i = 0; i < 3; ++i) {
    ReceiptBody body;
    body.message_id = id_from_hex(ids[i]);
    body.envelope_sha256 = i == 0 ? [] {
      Sha256Digest d{};
      auto bytes = *from_hex("c9ab6f9698fb93312f9695e7a357539f8fcc9566ee731b24ef5eef5809018bfc");
      std::copy(bytes.begin(), bytes.end(), d.begin());
      return d;
    }()
                                  : sha256(as_bytes("envelope " + std::to_string(i)));
    body.stored_at_ms = 1795000002000 + i;
    body.log_index = 41 + static_cast<std::uint64_t>(i);
    body.broker = broker;
    example.bodies[i] = encode_receipt_body(body);
    example.leaves[i] = receipt_leaf_hash(example.bodies[i]);
    leaves.push_back(example.leaves[i]);
  }
  auto group = SealedReceiptGroup::seal(leaves, 1795000002005, broker, *key);
  REQUIRE(group.ok());
  example.head = group->head_bytes();
  example.signature.assign(group->head_signature().begin(), group->head_signature().end());
  MemoryLog tree;
  for (const auto& leaf : leaves) tree.append(leaf);
  example.path_of_leaf_0 = *inclusion_proof(tree, 0, 3);
  return example;
}

}  // namespace

TEST_CASE("the worked example of PROTOCOL section 6 is reproduced byte for byte") {
  // The hex below is printed in docs/PROTOCOL.md: a change here is a change
  // of the wire contract, and the document must change with it.
  const WorkedExample example = worked_example();
  CHECK(to_hex(example.bodies[0]) ==
        "0000000002000300d06556eea1010000290000000000000009000000820000000d000000020100001900000082000000"
        "00112233445566778899aabbccddeeffc9ab6f9698fb93312f9695e7a357539f8fcc9566ee731b24ef5eef5809018bfc"
        "65786368616e67652e62726f6b657200");
  CHECK(to_hex(example.leaves[0]) == "1a04f8fe904cc4bc6377f2ec734096353b104d353f7f0c6de764d913cad3c0c1");
  CHECK(to_hex(example.leaves[1]) == "b02c2f705f1b88036cc6617c7537021aa0799381881e292f937db6d7c6d7218e");
  CHECK(to_hex(example.leaves[2]) == "986f926ec1db81b842454ea71b45fdcec3c8737cee61f089fc06b8c082732501");
  CHECK(to_hex(example.head) ==
        "00000000020003000300000000000000d56556eea101000009000000aa000000110000000201000"
        "01d000000820000006670782f726563656970742d67726f75702f76310000000046260049"
        "9a3c20f7a1e37d6d381671c6af7db67729a43248b7e9081950d86cad65786368616e67652e62726f6b657200");
  CHECK(to_hex(example.signature) ==
        "84ea12738d6e0647c93f8f1cabea5db2c91e94d8c091633ba02b0242f615f774"
        "215919561b6dc5a27b07b1b057eb3ccaebef41edb7d5d1f86ded02a9b8126c01");
  REQUIRE(example.path_of_leaf_0.size() == 2);
  CHECK(example.path_of_leaf_0[0] == example.leaves[1]);
  CHECK(example.path_of_leaf_0[1] == example.leaves[2]);
  CHECK(to_hex(node_hash(example.leaves[0], example.leaves[1])) ==
        "c8df51bc205c629240f82640498f681cfb96e6a372323c34462f8a58e4d1daa9");
  // The public key the document gives for the seed.
  auto key = SigningKey::from_seed(*from_hex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb"));
  REQUIRE(key.ok());
  CHECK(to_hex(key->public_key()) == "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c");
}
