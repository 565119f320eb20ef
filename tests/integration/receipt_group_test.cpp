// Receipts signed per commit group (docs/PROTOCOL.md section 6), against the
// real fpx-broker: submits handled in one batch share one head signature,
// each receipt verifies on its own, and a resend gets its receipt again.
#include <capnp/message.h>
#include <capnp/serialize.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <map>
#include <set>
#include <zmq.hpp>

#include "fpx/client.hpp"
#include "fpx/wire/transport.capnp.h"
#include "support/broker_clients.hpp"
#include "support/broker_process.hpp"
#include "support/sample_messages.hpp"
#include "support/test_pki.hpp"

using namespace fpx;
using namespace std::chrono_literals;

namespace {

// How long a test waits for an answer before it fails.
constexpr auto kPatience = 20s;

Bytes flat(capnp::MessageBuilder& message) {
  auto words = capnp::messageToFlatArray(message);
  return Bytes(words.asBytes().begin(), words.asBytes().end());
}

// A DEALER over CURVE that sends several submits before reading any answer,
// as a pipelining client does (fpx_client waits for each receipt).
class PipelinedSender {
 public:
  PipelinedSender(const test::BrokerProcess& broker, const Identity& identity) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.set(zmq::sockopt::curve_serverkey,
                zmq::const_buffer(broker.curve_public_key().data(), broker.curve_public_key().size()));
    socket_.set(zmq::sockopt::curve_publickey,
                zmq::const_buffer(identity.curve().public_key.data(), identity.curve().public_key.size()));
    socket_.set(zmq::sockopt::curve_secretkey,
                zmq::const_buffer(identity.curve().secret_key.data(), identity.curve().secret_key.size()));
    socket_.connect(broker.endpoint());
  }

  // Sends every envelope, then collects the SignedReceipt bytes of each, in order.
  std::vector<Bytes> submit_all(const std::vector<Bytes>& envelopes) {
    std::map<std::uint64_t, std::size_t> position;
    for (std::size_t i = 0; i < envelopes.size(); ++i) {
      capnp::MallocMessageBuilder message;
      auto frame = message.initRoot<wire::ClientFrame>();
      frame.setRequestId(next_request_id_);
      frame.setSubmit(kj::arrayPtr(envelopes[i].data(), envelopes[i].size()));
      position[next_request_id_++] = i;
      Bytes bytes = flat(message);
      REQUIRE(socket_.send(zmq::buffer(bytes), zmq::send_flags::none));
    }
    std::vector<Bytes> receipts(envelopes.size());
    std::size_t answered = 0;
    const auto deadline = std::chrono::steady_clock::now() + kPatience;
    while (answered < envelopes.size() && std::chrono::steady_clock::now() < deadline) {
      zmq_pollitem_t items[] = {{socket_.handle(), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, 1, 100ms);
      zmq::message_t reply;
      while (socket_.recv(reply, zmq::recv_flags::dontwait)) {
        auto words = kj::heapArray<capnp::word>(reply.size() / sizeof(capnp::word));
        std::memcpy(words.begin(), reply.data(), words.size() * sizeof(capnp::word));
        capnp::FlatArrayMessageReader reader(words);
        auto root = reader.getRoot<wire::BrokerFrame>();
        auto found = position.find(root.getRequestId());
        if (found == position.end()) continue;  // a delivery or a pong: not ours to read here
        if (!root.isReceipt())
          FAIL("submit " << found->second << " was refused: " << root.getError().getMessage().cStr());
        capnp::MallocMessageBuilder copy;
        copy.setRoot(root.getReceipt());
        receipts[found->second] = flat(copy);
        ++answered;
      }
    }
    REQUIRE(answered == envelopes.size());
    return receipts;
  }

 private:
  zmq::context_t context_{1};
  zmq::socket_t socket_{context_, zmq::socket_type::dealer};
  std::uint64_t next_request_id_ = 1;
};

struct GroupFields {
  Bytes head;
  Bytes head_signature;
  std::uint64_t leaf_index = 0;
};

GroupFields group_fields(const Bytes& receipt) {
  auto words = kj::heapArray<capnp::word>(receipt.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), receipt.data(), receipt.size());
  capnp::FlatArrayMessageReader reader(words);
  auto root = reader.getRoot<wire::SignedReceipt>();
  REQUIRE(root.getVersion() == static_cast<std::uint16_t>(ReceiptVersion::group));
  return {Bytes(root.getGroupHead().begin(), root.getGroupHead().end()),
          Bytes(root.getHeadSignature().begin(), root.getHeadSignature().end()), root.getLeafIndex()};
}

}  // namespace

TEST_CASE("submits handled in one batch get receipts under one group signature and each verifies on its own") {
  // The sample tracing request goes to the focal points of SN, NE and BF.
  test::TestPki pki({"SN", "NE", "BF"});
  pki.issue("sn.police-judiciaire", "SN", Role::agency);
  pki.issue("sn.focal-point", "SN", Role::focal_point);
  pki.issue("ne.focal-point", "NE", Role::focal_point);
  pki.issue("bf.focal-point", "BF", Role::focal_point);
  test::BrokerProcess broker(pki, {"sn.police-judiciaire", "sn.focal-point", "ne.focal-point", "bf.focal-point"});
  const Identity agency = pki.identity("sn.police-judiciaire");
  PipelinedSender sender(broker, agency);
  TrustStore trust = pki.trust_store();
  const client::BrokerPins pins = test::broker_pins(pki);

  // Whether the broker's loop finds several submits waiting at once depends
  // on the network; a burst of 8 nearly always does, and a few bursts make
  // it certain. A broker signing each receipt alone never shares a head.
  constexpr int kBursts = 10;
  constexpr std::size_t kBurstSize = 8;
  std::size_t largest_shared = 0;
  std::vector<Bytes> kept_envelopes;
  std::vector<Bytes> kept_receipts;
  for (int burst = 0; burst < kBursts && largest_shared < 2; ++burst) {
    std::vector<Bytes> envelopes;
    for (std::size_t i = 0; i < kBurstSize; ++i) {
      envelopes.push_back(test::seal_sample(agency, wire::MessageType::TRACING_REQUEST));
    }
    std::vector<Bytes> receipts = sender.submit_all(envelopes);

    std::map<Bytes, std::set<Bytes>> signatures_of_head;
    std::map<Bytes, std::set<std::uint64_t>> leaves_of_head;
    for (std::size_t i = 0; i < receipts.size(); ++i) {
      INFO("burst " << burst << " submit " << i);
      auto verified = client::verify_receipt(trust, receipts[i],
                                             {.message_id = test::message_id_of(envelopes[i]),
                                              .envelope_sha256 = sha256(envelopes[i]),
                                              .revocation = RevocationCheck::required,
                                              .broker_pins = pins});
      REQUIRE(verified.ok());
      CHECK(verified->version == ReceiptVersion::group);
      const GroupFields fields = group_fields(receipts[i]);
      signatures_of_head[fields.head].insert(fields.head_signature);
      // Two messages never share a leaf of one group.
      CHECK(leaves_of_head[fields.head].insert(fields.leaf_index).second);
    }
    for (const auto& [head, signatures] : signatures_of_head) CHECK(signatures.size() == 1);
    for (const auto& [head, leaves] : leaves_of_head) largest_shared = std::max(largest_shared, leaves.size());
    kept_envelopes = envelopes;
    kept_receipts = receipts;
  }
  CHECK(largest_shared >= 2);

  // A resend of the same bytes, in a later batch: the receipt of its own
  // group again, byte for byte, and it verifies.
  std::vector<Bytes> again = sender.submit_all({kept_envelopes[3], kept_envelopes[5]});
  CHECK(again[0] == kept_receipts[3]);
  CHECK(again[1] == kept_receipts[5]);
  auto verified = client::verify_receipt(trust, again[0],
                                         {.message_id = test::message_id_of(kept_envelopes[3]),
                                          .envelope_sha256 = sha256(kept_envelopes[3]),
                                          .broker_pins = pins});
  CHECK(verified.ok());

  // The same new message twice in one burst: one stored message, one receipt.
  Bytes twice = test::seal_sample(agency, wire::MessageType::TRACING_REQUEST);
  std::vector<Bytes> both = sender.submit_all({twice, twice});
  CHECK(both[0] == both[1]);
  CHECK(client::verify_receipt(
            trust, both[1],
            {.message_id = test::message_id_of(twice), .envelope_sha256 = sha256(twice), .broker_pins = pins})
            .ok());
}
