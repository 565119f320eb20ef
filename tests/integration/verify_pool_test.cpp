// The real fpx-broker with its submits verified on the loop thread
// (limits.verify_workers = 0) and on one or two verify workers: the same
// inputs get the same replies, one sender's receipts come in the order it
// sent, and a SIGHUP's CRLs reach the workers.
#include <capnp/message.h>
#include <capnp/serialize.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <zmq.hpp>

#include "fpx/client.hpp"
#include "fpx/wire/transport.capnp.h"
#include "support/broker_clients.hpp"
#include "support/broker_process.hpp"
#include "support/sample_messages.hpp"
#include "support/test_pki.hpp"

using namespace fpx;
using namespace std::chrono_literals;
using test::BrokerProcess;
using test::TestPki;
using wire::MessageType;

namespace {

using Clock = std::chrono::steady_clock;
// How long to wait for answers that must come (never a pass condition).
constexpr auto kPatience = 20s;

const std::vector<std::string> kEnrolled = {"sn.focal-point", "ne.focal-point", "bf.focal-point",
                                            "sn.police-judiciaire", "cso.sahel-watch"};

// Two SN senders, NE and BF to send to, an observer that may send nothing.
void issue_participants(TestPki& pki) {
  pki.issue("sn.focal-point", "SN", Role::focal_point);
  pki.issue("ne.focal-point", "NE", Role::focal_point);
  pki.issue("bf.focal-point", "BF", Role::focal_point);
  pki.issue("sn.police-judiciaire", "SN", Role::agency);
  pki.issue("cso.sahel-watch", "SN", Role::observer, {.via_intermediate = false});
}

Bytes submit_frame(std::uint64_t request_id, ByteView envelope) {
  capnp::MallocMessageBuilder message;
  auto frame = message.initRoot<wire::ClientFrame>();
  frame.setRequestId(request_id);
  frame.setSubmit(kj::arrayPtr(envelope.data(), envelope.size()));
  auto words = capnp::messageToFlatArray(message);
  return Bytes(words.asBytes().begin(), words.asBytes().end());
}

// The broker's answer to one submit: "receipt", or the error code's name.
struct Reply {
  std::uint64_t request_id = 0;
  std::string outcome;
};

// A DEALER over CURVE that sends many submits before reading any answer,
// so that the broker takes them into its batches together.
class PipelinedSender {
 public:
  PipelinedSender(const BrokerProcess& broker, const Identity& identity) {
    const CurvePublicKey broker_key = broker.curve_public_key();
    const CurveKeyPair& keys = identity.curve();
    socket_.set(zmq::sockopt::linger, 0);
    socket_.set(zmq::sockopt::curve_serverkey, zmq::const_buffer(broker_key.data(), broker_key.size()));
    socket_.set(zmq::sockopt::curve_publickey, zmq::const_buffer(keys.public_key.data(), keys.public_key.size()));
    socket_.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(keys.secret_key.data(), keys.secret_key.size()));
    socket_.connect(broker.endpoint());
  }

  std::uint64_t submit(const Bytes& envelope) {
    const std::uint64_t id = next_request_id_++;
    Bytes frame = submit_frame(id, envelope);
    zmq::message_t message(frame.data(), frame.size());
    REQUIRE(socket_.send(message, zmq::send_flags::none));
    return id;
  }

  // Answers to submits, in the order they arrive, until `count` came.
  std::vector<Reply> replies(std::size_t count) {
    std::vector<Reply> replies;
    const auto deadline = Clock::now() + kPatience;
    while (replies.size() < count && Clock::now() < deadline) {
      zmq::pollitem_t items[] = {{socket_.handle(), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, 1, 100ms);
      zmq::message_t frame;
      while (socket_.recv(frame, zmq::recv_flags::dontwait)) {
        auto words = kj::heapArray<capnp::word>(frame.size() / sizeof(capnp::word));
        std::memcpy(words.begin(), frame.data(), words.size() * sizeof(capnp::word));
        capnp::FlatArrayMessageReader reader(words);
        auto reply = reader.getRoot<wire::BrokerFrame>();
        if (reply.isReceipt()) {
          replies.push_back({reply.getRequestId(), "receipt"});
        } else if (reply.isError()) {
          const auto code = static_cast<ErrorCode>(static_cast<std::uint16_t>(reply.getError().getCode()));
          replies.push_back({reply.getRequestId(), std::string(error_code_name(code))});
        }
        // Deliveries and notices are not answers to a submit.
      }
    }
    REQUIRE(replies.size() == count);
    return replies;
  }

 private:
  zmq::context_t context_{1};
  zmq::socket_t socket_{context_, zmq::socket_type::dealer};
  std::uint64_t next_request_id_ = 1;
};

Bytes tampered(Bytes envelope) {
  // The national case reference is inside the signed body: change one letter of it.
  const std::string reference = "SN-ZIG-2026-0142";
  auto at = std::search(envelope.begin(), envelope.end(), reference.begin(), reference.end());
  REQUIRE(at != envelope.end());
  *at = 'X';
  return envelope;
}

// Each sender's envelopes, in the order it sends them.
struct MixedBatch {
  std::vector<Bytes> agency;
  std::vector<Bytes> focal;
  std::vector<Bytes> observer;
};

// Sends both senders' envelopes to a new broker with `workers` verify
// workers, all before reading any answer, and returns each sender's answers
// by request id; the broker is then stopped, and must stop cleanly.
std::map<std::string, std::map<std::uint64_t, std::string>> replies_with(TestPki& pki, const MixedBatch& batch,
                                                                          std::size_t workers) {
  test::BrokerOptions options;
  options.verify_workers = workers;
  BrokerProcess broker(pki, kEnrolled, options);
  PipelinedSender agency(broker, pki.identity("sn.police-judiciaire"));
  PipelinedSender focal(broker, pki.identity("sn.focal-point"));
  PipelinedSender observer(broker, pki.identity("cso.sahel-watch"));
  // Interleaved, as busy senders are.
  for (std::size_t i = 0; i < std::max(batch.agency.size(), batch.focal.size()); ++i) {
    if (i < batch.agency.size()) agency.submit(batch.agency[i]);
    if (i < batch.focal.size()) focal.submit(batch.focal[i]);
    if (i < batch.observer.size()) observer.submit(batch.observer[i]);
  }
  std::map<std::string, std::map<std::uint64_t, std::string>> by_sender;
  for (const auto& reply : agency.replies(batch.agency.size())) by_sender["agency"][reply.request_id] = reply.outcome;
  for (const auto& reply : focal.replies(batch.focal.size())) by_sender["focal"][reply.request_id] = reply.outcome;
  for (const auto& reply : observer.replies(batch.observer.size())) {
    by_sender["observer"][reply.request_id] = reply.outcome;
  }
  CHECK(broker.stop() == 0);
  return by_sender;
}

}  // namespace

TEST_CASE("Zero one and two verify workers give the same replies to the same mixed batch") {
  TestPki pki({"SN", "NE", "BF"});
  issue_participants(pki);
  const Identity agency = pki.identity("sn.police-judiciaire");
  const Identity focal = pki.identity("sn.focal-point");
  MixedBatch batch;
  for (int i = 0; i < 6; ++i) batch.agency.push_back(test::seal_sample(agency, MessageType::TRACING_REQUEST));
  // An agency may not sign a tracing response: wrong_role, found at open.
  batch.agency.insert(batch.agency.begin() + 2, test::seal_sample(agency, MessageType::TRACING_RESPONSE));
  // Changed after signing: refused at open.
  batch.agency.insert(batch.agency.begin() + 4, tampered(test::seal_sample(agency, MessageType::TRACING_REQUEST)));
  for (int i = 0; i < 6; ++i) batch.focal.push_back(test::seal_sample(focal, MessageType::TRACING_REQUEST));
  // An observer may send nothing at all: unauthorized, whatever it sends.
  batch.observer.push_back(test::seal_sample(agency, MessageType::TRACING_REQUEST));

  const auto on_the_loop = replies_with(pki, batch, 0);
  const auto one_worker = replies_with(pki, batch, 1);
  const auto two_workers = replies_with(pki, batch, 2);

  // What the loop thread answered, as it always did.
  REQUIRE(on_the_loop.at("agency").size() == batch.agency.size());
  CHECK(on_the_loop.at("agency").at(1) == "receipt");
  CHECK(on_the_loop.at("agency").at(3) == "wrong_role");
  CHECK(on_the_loop.at("agency").at(5) != "receipt");
  CHECK(on_the_loop.at("observer").at(1) == "unauthorized");
  for (const auto& [request_id, outcome] : on_the_loop.at("focal")) CHECK(outcome == "receipt");
  CHECK(one_worker == on_the_loop);
  CHECK(two_workers == on_the_loop);
}

TEST_CASE("One sender's many submits are receipted in the order sent with two verify workers") {
  TestPki pki({"SN", "NE", "BF"});
  issue_participants(pki);
  test::BrokerOptions options;
  options.verify_workers = 2;
  BrokerProcess broker(pki, kEnrolled, options);
  const Identity agency = pki.identity("sn.police-judiciaire");
  PipelinedSender sender(broker, agency);
  constexpr std::size_t kMessages = 60;  // several batches' share of one connection
  for (std::size_t i = 0; i < kMessages; ++i) sender.submit(test::seal_sample(agency, MessageType::TRACING_REQUEST));
  const auto replies = sender.replies(kMessages);
  for (std::size_t i = 0; i < kMessages; ++i) {
    CHECK(replies[i].request_id == i + 1);
    CHECK(replies[i].outcome == "receipt");
  }
  // The workers' CPU time reaches the loop's stage timers.
  CHECK(broker.stop() == 0);
  const std::string log = broker.log_text();
  const auto line = log.rfind("stage cpu us: ");
  REQUIRE(line != std::string::npos);
  CHECK(log.find("open=0 ", line) == std::string::npos);
}

TEST_CASE("A participant revoked and reloaded is refused as revoked when the pool verifies its messages") {
  TestPki pki({"SN", "NE", "BF"});
  issue_participants(pki);
  test::BrokerOptions options;
  options.verify_workers = 2;
  BrokerProcess broker(pki, kEnrolled, options);
  auto agency = test::connect_client(broker, pki, "sn.police-judiciaire");
  const Identity identity = pki.identity("sn.police-judiciaire");
  REQUIRE(agency->submit(test::seal_sample(identity, MessageType::TRACING_REQUEST)).ok());

  pki.revoke("sn.police-judiciaire", now_ms() - 1000);
  broker.reload();
  auto refused = agency->submit(test::seal_sample(identity, MessageType::TRACING_REQUEST));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::revoked);
  // The others go on, verified by the workers with the new CRLs.
  auto focal = test::connect_client(broker, pki, "sn.focal-point");
  CHECK(focal->submit(test::seal_sample(pki.identity("sn.focal-point"), MessageType::TRACING_REQUEST)).ok());
  CHECK(broker.stop() == 0);
}
