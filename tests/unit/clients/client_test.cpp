// fpx_client against a fake broker in the test process: a CURVE ROUTER with a
// ZAP handler that admits only enrolled keys, answering frames by the rules of
// schemas/transport.capnp and signing real receipts with a test-PKI broker.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <iterator>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <catch2/catch.hpp>
#include <sqlite3.h>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "fpx/broker_pins.hpp"
#include "fpx/client.hpp"
#include "fpx/aligned_reader.hpp"
#include "fpx/crypto.hpp"
#include "fpx/frames.hpp"
#include "fpx/wire/transport.capnp.h"
#include "support/broker_clients.hpp"
#include "support/broker_process.hpp"
#include "support/sample_messages.hpp"
#include "support/test_pki.hpp"

using namespace fpx;
using namespace std::chrono_literals;
using fpx::client::Client;
using fpx::client::ClientOptions;
using fpx::test::TempDir;
using fpx::test::TestPki;

namespace {

using Clock = std::chrono::steady_clock;

// Polls `condition` until it holds or `limit` passes; for effects of the
// fake broker's thread.
template <typename Condition>
bool eventually(Condition condition, std::chrono::milliseconds limit = 5s) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return condition();
}

Bytes to_bytes(capnp::MessageBuilder& builder) {
  auto flat = capnp::messageToFlatArray(builder);
  auto bytes = flat.asBytes();
  return Bytes(bytes.begin(), bytes.end());
}

// A group receipt (protocol/fpx/receipt.hpp) of a group of one, as the
// broker signs it.
Bytes signed_receipt(const Identity& signer, const MessageId& id, const Sha256Digest& envelope_sha256,
                     std::uint64_t log_index) {
  const std::int64_t now = now_ms();
  const Bytes body = encode_receipt_body({id, envelope_sha256, now, log_index, signer.participant().id});
  auto group = SealedReceiptGroup::seal({receipt_leaf_hash(body)}, now, signer.participant().id, signer.signing_key());
  if (!group) FAIL(group.error().describe());
  std::vector<Bytes> chain;
  for (const auto& certificate : signer.chain()) chain.push_back(certificate.der());
  auto receipt = group->receipt_for(0, body, chain);
  if (!receipt) FAIL(receipt.error().describe());
  return std::move(receipt).value();
}

// The envelope with one byte of its signature flipped.
Bytes tamper_signature(const Bytes& envelope_bytes) {
  auto original = AlignedMessage::open(envelope_bytes, Framing::flat, "envelope");
  REQUIRE(original.ok());
  capnp::MallocMessageBuilder copy;
  copy.setRoot(original->root<wire::Envelope>());
  auto envelope = copy.getRoot<wire::Envelope>();
  auto signature = envelope.getSignature();
  signature[0] ^= 0x01;
  return to_bytes(copy);
}

// refuse_for_weeks: quota_exceeded with the largest retryAfterMs the wire
// carries (UInt32, about 49.7 days), as a broken or hostile broker could.
enum class ReceiptMode { valid, signed_by_non_broker, for_other_envelope, no_reply, refuse, refuse_for_weeks };

class FakeBroker {
 public:
  FakeBroker(const Identity& broker, const Identity& impostor, TrustStore trust,
             std::vector<CurvePublicKey> enrolled)
      : broker_(broker), impostor_(impostor), trust_(std::move(trust)), enrolled_(std::move(enrolled)) {
    // The ZAP handler is bound before the server socket: without it a CURVE
    // server admits any key (TOOLCHAIN trap 8).
    zap_.set(zmq::sockopt::linger, 0);
    zap_.bind("inproc://zeromq.zap.01");
    open_router("tcp://127.0.0.1:*");
    endpoint_ = router_.get(zmq::sockopt::last_endpoint);
    thread_ = std::thread([this] { run(); });
  }

  ~FakeBroker() {
    stop_ = true;
    thread_.join();
  }

  const std::string& endpoint() const { return endpoint_; }

  void set_receipt_mode(ReceiptMode mode) {
    std::lock_guard lock(mutex_);
    mode_ = mode;
  }
  // Valid receipts are signed by `signer` from now on (another broker-role
  // certificate: a rotated key, or one made by whoever holds a CA key).
  void sign_receipts_with(const Identity& signer) {
    std::lock_guard lock(mutex_);
    receipt_signer_ = &signer;
  }
  // Sent after every pong, on every session, confirmed or not: a broker
  // whose confirms were lost.
  void add_delivery(std::uint64_t id, Bytes envelope) {
    std::lock_guard lock(mutex_);
    deliveries_.emplace_back(id, std::move(envelope));
  }
  // Deliveries go out just before each submit's answer instead of after pong.
  void deliver_on_submit() { deliver_on_submit_ = true; }
  // Sends sessionClosed to the newest session and returns once it is sent.
  void close_session(const std::string& reason) {
    {
      std::lock_guard lock(mutex_);
      close_reason_ = reason;
    }
    REQUIRE(eventually([this] { return session_closed_sent_.load(); }));
  }
  // Closes the broker's socket and binds its endpoint again (returns once
  // done): the client's connection drops and its socket reconnects by itself.
  void restart() {
    restart_requested_ = true;
    REQUIRE(eventually([this] { return !restart_requested_.load(); }));
  }
  std::size_t zap_requests() const { return zap_requests_.load(); }
  std::vector<Bytes> submitted() const {
    std::lock_guard lock(mutex_);
    return submitted_;
  }
  std::size_t confirm_count(std::uint64_t id) const {
    std::lock_guard lock(mutex_);
    return static_cast<std::size_t>(std::count(confirmed_.begin(), confirmed_.end(), id));
  }

 private:
  void open_router(const std::string& address) {
    router_ = zmq::socket_t(context_, zmq::socket_type::router);
    router_.set(zmq::sockopt::linger, 0);
    router_.set(zmq::sockopt::curve_server, true);
    router_.set(zmq::sockopt::curve_secretkey,
                zmq::const_buffer(broker_.curve().secret_key.data(), broker_.curve().secret_key.size()));
    router_.set(zmq::sockopt::zap_domain, "fpx");
    router_.set(zmq::sockopt::router_mandatory, true);
    router_.bind(address);
  }

  void run() {
    while (!stop_) {
      if (restart_requested_) {
        // Every connection dropped and the endpoint bound again: what a
        // client sees of a broker that was killed and started again.
        router_.close();
        // libzmq closes the old listener in its I/O thread: bind again until the port is free.
        for (int attempt = 0;; ++attempt) {
          try {
            open_router(endpoint_);
            break;
          } catch (const zmq::error_t&) {
            if (attempt == 200) throw;
            std::this_thread::sleep_for(10ms);
          }
        }
        restart_requested_ = false;
      }
      std::array<zmq_pollitem_t, 2> items{{{zap_.handle(), 0, ZMQ_POLLIN, 0}, {router_.handle(), 0, ZMQ_POLLIN, 0}}};
      zmq::poll(items.data(), items.size(), 20ms);
      if ((items[0].revents & ZMQ_POLLIN) != 0) answer_zap();
      if ((items[1].revents & ZMQ_POLLIN) != 0) answer_client();
      send_close_if_asked();
    }
  }

  void answer_zap() {
    std::vector<zmq::message_t> request;
    if (!zmq::recv_multipart(zap_, std::back_inserter(request))) return;
    ++zap_requests_;
    bool admitted = false;
    if (request.size() >= 7 && request[5].to_string_view() == "CURVE" && request[6].size() == 32) {
      CurvePublicKey key{};
      std::memcpy(key.data(), request[6].data(), key.size());
      admitted = std::find(enrolled_.begin(), enrolled_.end(), key) != enrolled_.end();
    }
    std::array<zmq::message_t, 6> reply{zmq::message_t(std::string_view("1.0")),
                                        zmq::message_t(request.size() > 1 ? request[1].to_string_view() : ""),
                                        zmq::message_t(std::string_view(admitted ? "200" : "400")),
                                        zmq::message_t(std::string_view(admitted ? "OK" : "not enrolled")),
                                        zmq::message_t(std::string_view(admitted ? "participant" : "")),
                                        zmq::message_t()};
    zmq::send_multipart(zap_, reply);
  }

  void send_frame(const zmq::message_t& peer, const Bytes& bytes) {
    std::array<zmq::message_t, 2> parts{zmq::message_t(peer.data(), peer.size()),
                                        zmq::message_t(bytes.data(), bytes.size())};
    try {
      zmq::send_multipart(router_, parts);
    } catch (const zmq::error_t&) {
      // The peer left (router_mandatory): nothing to do in a test broker.
    }
  }

  void send_deliveries(const zmq::message_t& peer) {
    std::lock_guard lock(mutex_);
    for (const auto& [id, envelope] : deliveries_) {
      send_frame(peer, encode_delivery(id, envelope));
    }
  }

  void answer_client() {
    std::vector<zmq::message_t> parts;
    if (!zmq::recv_multipart(router_, std::back_inserter(parts)) || parts.size() != 2) return;
    const zmq::message_t& peer = parts[0];
    last_peer_ = Bytes(static_cast<const std::uint8_t*>(peer.data()),
                       static_cast<const std::uint8_t*>(peer.data()) + peer.size());
    auto frame = decode_client_frame(ByteView(static_cast<const std::uint8_t*>(parts[1].data()), parts[1].size()));
    REQUIRE(frame.ok());
    const std::uint64_t request_id = frame->request_id;
    switch (frame->kind) {
      case ClientRequest::Kind::ping: {
        send_frame(peer, encode_pong(request_id));
        if (!deliver_on_submit_) send_deliveries(peer);
        return;
      }
      case ClientRequest::Kind::submit: {
        const Bytes& envelope = frame->envelope;
        ReceiptMode mode;
        const Identity* receipt_signer = nullptr;
        {
          std::lock_guard lock(mutex_);
          submitted_.push_back(envelope);
          mode = mode_;
          receipt_signer = receipt_signer_;
        }
        EnvelopeOpener opener(trust_);
        auto opened = opener.open(envelope);
        REQUIRE(opened.ok());
        // Deliveries interleaved with replies: the client must buffer them.
        if (deliver_on_submit_) send_deliveries(peer);
        switch (mode) {
          case ReceiptMode::no_reply: return;
          case ReceiptMode::refuse: {
            Error error = make_error(ErrorCode::schema_violation, "the tracing request names no firearm");
            error.field_errors.push_back(FieldError{"body.tracingRequest.firearms", "at least one firearm is required"});
            send_frame(peer, encode_error(request_id, error, std::nullopt));
            return;
          }
          case ReceiptMode::refuse_for_weeks: {
            Error error = make_error(ErrorCode::quota_exceeded, "stored more than this broker keeps");
            send_frame(peer, encode_error(request_id, error, std::nullopt, std::numeric_limits<std::uint32_t>::max()));
            return;
          }
          case ReceiptMode::valid:
          case ReceiptMode::signed_by_non_broker:
          case ReceiptMode::for_other_envelope: {
            const Identity& signer = mode == ReceiptMode::signed_by_non_broker ? impostor_
                                     : receipt_signer != nullptr                 ? *receipt_signer
                                                                                 : broker_;
            Sha256Digest digest = mode == ReceiptMode::for_other_envelope ? sha256(as_bytes("other")) : sha256(envelope);
            Bytes receipt = signed_receipt(signer, opened->message_id, digest, ++log_index_);
            send_frame(peer, encode_receipt(request_id, receipt));
            return;
          }
        }
        return;
      }
      case ClientRequest::Kind::confirm: {
        std::lock_guard lock(mutex_);
        for (auto id : frame->delivery_ids) confirmed_.push_back(id);
        return;
      }
      case ClientRequest::Kind::status: {
        send_frame(peer, encode_status(request_id, *frame->status_of,
                                       {RecipientStatusRow{"sn.focal-point", "delivered", 1234, "", ""}}));
        return;
      }
      case ClientRequest::Kind::log_proof:
      case ClientRequest::Kind::statistics_facts:
        // Not this fake's business: log proofs are tested on the real broker (log_cover_test.cpp).
        send_frame(peer, encode_error(request_id, make_error(ErrorCode::not_found, "no log here"), std::nullopt));
        return;
    }
  }

  void send_close_if_asked() {
    std::string reason;
    {
      std::lock_guard lock(mutex_);
      if (close_reason_.empty() || last_peer_.empty()) return;
      reason = std::exchange(close_reason_, {});
    }
    send_frame(zmq::message_t(last_peer_.data(), last_peer_.size()), encode_session_closed(reason));
    session_closed_sent_ = true;
  }

  const Identity& broker_;
  const Identity& impostor_;
  TrustStore trust_;
  std::vector<CurvePublicKey> enrolled_;
  zmq::context_t context_{1};
  zmq::socket_t zap_{context_, zmq::socket_type::rep};
  zmq::socket_t router_{context_, zmq::socket_type::router};
  std::string endpoint_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> session_closed_sent_{false};
  std::atomic<bool> deliver_on_submit_{false};
  std::atomic<bool> restart_requested_{false};
  std::atomic<std::size_t> zap_requests_{0};  // one per CURVE handshake

  mutable std::mutex mutex_;
  ReceiptMode mode_ = ReceiptMode::valid;
  const Identity* receipt_signer_ = nullptr;
  std::vector<std::pair<std::uint64_t, Bytes>> deliveries_;
  std::vector<Bytes> submitted_;
  std::vector<std::uint64_t> confirmed_;
  std::string close_reason_;
  Bytes last_peer_;  // broker thread only
  std::uint64_t log_index_ = 0;  // broker thread only
};

// A PKI, a broker, an enrolled agency (the client under test) and a focal
// point that sends it messages.
struct World {
  TestPki pki{{"SN"}};
  TempDir state_dir;
  Identity broker = pki.issue_identity("fpx.broker", "SN", Role::broker, {.via_intermediate = false});
  Identity agency = pki.issue_identity("sn.police-judiciaire", "SN", Role::agency);
  Identity focal_point = pki.issue_identity("sn.focal-point", "SN", Role::focal_point);
  // A broker-role certificate from the root that is not the exchange's
  // pinned one: what an operator or a stolen root key could make.
  Identity rogue_broker = pki.issue_identity("fpx.rogue-broker", "SN", Role::broker, {.via_intermediate = false});
  FakeBroker fake{broker, focal_point, pki.trust_store(),
                  {agency.curve().public_key, focal_point.curve().public_key}};

  ClientOptions options() const {
    ClientOptions options;
    options.endpoint = fake.endpoint();
    options.broker_curve_key = broker.curve().public_key;
    options.state_db = state_dir.path() / "client.sqlite";
    options.root_ca = pki.root_pem();
    options.crl_dir = pki.crl_dir();
    options.broker_pins = {pin_of(broker)};
    options.handshake_timeout = 3000ms;
    options.request_timeout = 3000ms;
    return options;
  }
  static client::BrokerKeyPin pin_of(const Identity& identity) {
    return client::BrokerKeyPin::of_key(identity.signing_key().public_key());
  }
  std::unique_ptr<Client> connect_agency(const ClientOptions& client_options) {
    auto client = Client::connect(pki.identity("sn.police-judiciaire"), client_options);
    if (!client) FAIL("connect: " << client.error().describe());
    return std::move(client).value();
  }
  std::unique_ptr<Client> connect_agency() { return connect_agency(options()); }
  Bytes agency_message() const {
    return test::seal_sample(agency, test::types_signable_by(Role::agency).front());
  }
  Bytes focal_point_message() const {
    return test::seal_sample(focal_point, test::types_signable_by(Role::focal_point).front());
  }
};

MessageId message_id_of(World& world, const Bytes& envelope) {
  auto trust = world.pki.trust_store();
  EnvelopeOpener opener(trust);
  auto opened = opener.open(envelope);
  REQUIRE(opened.ok());
  return opened->message_id;
}

}  // namespace

TEST_CASE("submit returns a receipt verified against the broker's certificate") {
  World world;
  auto client = world.connect_agency();
  Bytes envelope = world.agency_message();
  auto receipt = client->submit(envelope);
  REQUIRE(receipt.ok());
  CHECK(receipt->message_id == message_id_of(world, envelope));
  CHECK(receipt->envelope_sha256 == sha256(envelope));
  CHECK(receipt->broker.str() == "fpx.broker");
  CHECK(receipt->log_index == 1);
  CHECK(*client->unreceipted_count() == 0);

  // The kept receipt bytes verify again later, standalone (as the CLI does).
  auto trust = world.pki.trust_store();
  auto again = client::verify_receipt(trust, receipt->signed_receipt,
                                      {.message_id = receipt->message_id, .broker_pins = {World::pin_of(world.broker)}});
  REQUIRE(again.ok());
  CHECK(again->log_index == 1);
  // Not without a pinned key, and not under another broker's.
  auto unpinned = client::verify_receipt(trust, receipt->signed_receipt, {.message_id = receipt->message_id});
  REQUIRE_FALSE(unpinned.ok());
  CHECK(unpinned.error().code == ErrorCode::invalid_argument);
  auto other = client::verify_receipt(
      trust, receipt->signed_receipt,
      {.message_id = receipt->message_id, .broker_pins = {World::pin_of(world.rogue_broker)}});
  REQUIRE_FALSE(other.ok());
  CHECK(other.error().code == ErrorCode::signer_mismatch);
}

TEST_CASE("a receipt signed by a participant that is not the broker is refused and the message stays queued") {
  World world;
  world.fake.set_receipt_mode(ReceiptMode::signed_by_non_broker);
  auto client = world.connect_agency();
  auto receipt = client->submit(world.agency_message());
  REQUIRE_FALSE(receipt.ok());
  CHECK(receipt.error().code == ErrorCode::wrong_role);
  CHECK(*client->unreceipted_count() == 1);
}

TEST_CASE("a receipt for other envelope bytes is refused and the message stays queued") {
  World world;
  world.fake.set_receipt_mode(ReceiptMode::for_other_envelope);
  auto client = world.connect_agency();
  auto receipt = client->submit(world.agency_message());
  REQUIRE_FALSE(receipt.ok());
  CHECK(receipt.error().code == ErrorCode::body_hash_mismatch);
  CHECK(*client->unreceipted_count() == 1);
}

TEST_CASE("a broker refusal comes back typed with its field errors and the message is not resent") {
  World world;
  world.fake.set_receipt_mode(ReceiptMode::refuse);
  auto client = world.connect_agency();
  auto receipt = client->submit(world.agency_message());
  REQUIRE_FALSE(receipt.ok());
  CHECK(receipt.error().code == ErrorCode::schema_violation);
  REQUIRE(receipt.error().field_errors.size() == 1);
  CHECK(receipt.error().field_errors[0].path == "body.tracingRequest.firearms");
  CHECK(*client->unreceipted_count() == 0);
}

// A frame over the exchange's limits.max_message_bytes makes the broker drop
// the connection with no reply (PROTOCOL §2.6): the library refuses it
// before it is queued, with a reason, instead of resending it forever.
TEST_CASE("a message whose frame is over the exchange's frame limit is refused before it is queued or sent") {
  World world;
  auto options = world.options();
  const Bytes envelope = world.agency_message();
  options.max_frame_bytes = envelope.size();  // the frame adds its header to the envelope
  {
    auto client = world.connect_agency(options);
    auto refused = client->submit(envelope);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == ErrorCode::too_large);
    CHECK_THAT(refused.error().message, Catch::Contains("nothing was sent"));
    CHECK(*client->unreceipted_count() == 0);
  }
  // The same message under the default limit goes through.
  auto fits = world.connect_agency();
  CHECK(fits->submit(envelope).ok());
}

TEST_CASE("an unknown client key gets handshake refused quickly instead of a hang") {
  World world;
  world.pki.issue("sn.unenrolled-agency", "SN", Role::agency);
  auto options = world.options();
  options.handshake_timeout = 10s;
  const auto started = Clock::now();
  auto client = Client::connect(world.pki.identity("sn.unenrolled-agency"), options);
  const auto elapsed = Clock::now() - started;
  REQUIRE_FALSE(client.ok());
  CHECK(client.error().code == ErrorCode::unauthorized);
  CHECK_THAT(client.error().message, Catch::Contains("handshake refused"));
  CHECK_THAT(client.error().message, Catch::Contains("not enrolled"));
  CHECK(elapsed < 5s);
}

TEST_CASE("a wrong broker key gets handshake refused or unavailable within the handshake timeout") {
  World world;
  auto options = world.options();
  auto other = CurveKeyPair::generate();
  REQUIRE(other.ok());
  options.broker_curve_key = other->public_key;
  options.handshake_timeout = 2000ms;
  const auto started = Clock::now();
  auto client = Client::connect(world.pki.identity("sn.police-judiciaire"), options);
  const auto elapsed = Clock::now() - started;
  REQUIRE_FALSE(client.ok());
  INFO(client.error().describe());
  CHECK((client.error().code == ErrorCode::unauthorized || client.error().code == ErrorCode::unavailable));
  if (client.error().code == ErrorCode::unauthorized) {
    CHECK_THAT(client.error().message, Catch::Contains("handshake refused"));
  }
  CHECK(elapsed < 4s);
}

TEST_CASE("a broker that is not there gives unavailable within the handshake timeout") {
  World world;
  auto options = world.options();
  options.endpoint = "tcp://127.0.0.1:1";
  options.handshake_timeout = 500ms;
  const auto started = Clock::now();
  auto client = Client::connect(world.pki.identity("sn.police-judiciaire"), options);
  REQUIRE_FALSE(client.ok());
  CHECK(client.error().code == ErrorCode::unavailable);
  CHECK_THAT(client.error().message, Catch::Contains("did not answer at tcp://127.0.0.1:1 within 500 ms"));
  CHECK(Clock::now() - started < 3s);
}

TEST_CASE("a delivery is verified and handed over until the application confirms it, then confirmed silently when "
          "resent") {
  World world;
  Bytes envelope = world.focal_point_message();
  // The fake broker sends it again to every new session, as a broker whose
  // delivery was not confirmed, or whose confirm was lost.
  world.fake.add_delivery(7, envelope);
  {
    auto client = world.connect_agency();
    auto first = client->poll(3s);
    REQUIRE(first.ok());
    REQUIRE(first->size() == 1);
    const auto& delivery = first->front();
    CHECK(delivery.delivery_id == 7);
    CHECK(delivery.envelope == envelope);
    CHECK(delivery.opened.signer.participant.id.str() == "sn.focal-point");
    CHECK(delivery.opened.signer.revocation == RevocationStatus::checked);
    // The application dies before it has stored the message: nothing is
    // confirmed (a round trip after the poll: a confirm would be there by now).
    (void)client->status(MessageId::random());
    CHECK(world.fake.confirm_count(7) == 0);
  }
  {
    // The resend is handed over again: the application never said it had it.
    auto restarted = world.connect_agency();
    auto again = restarted->poll(3s);
    REQUIRE(again.ok());
    REQUIRE(again->size() == 1);
    CHECK(again->front().opened.message_id == message_id_of(world, envelope));
    REQUIRE(restarted->confirm(again->front()).ok());
    CHECK(eventually([&] { return world.fake.confirm_count(7) == 1; }));
  }
  // Stored and confirmed: a resend is confirmed without the application seeing it.
  auto third = world.connect_agency();
  auto after_confirm = third->poll(500ms);
  REQUIRE(after_confirm.ok());
  CHECK(after_confirm->empty());
  CHECK(eventually([&] { return world.fake.confirm_count(7) == 2; }));
  CHECK(third->take_rejected_deliveries().empty());
}

TEST_CASE("a delivery that arrives while submit waits for its receipt is kept for the next poll") {
  World world;
  world.fake.deliver_on_submit();
  world.fake.add_delivery(11, world.focal_point_message());
  auto client = world.connect_agency();
  auto receipt = client->submit(world.agency_message());
  REQUIRE(receipt.ok());
  auto deliveries = client->poll(0ms);
  REQUIRE(deliveries.ok());
  REQUIRE(deliveries->size() == 1);
  CHECK(deliveries->front().delivery_id == 11);
}

TEST_CASE("a tampered delivery is not handed over, is reported and is confirmed") {
  World world;
  world.fake.add_delivery(9, tamper_signature(world.focal_point_message()));
  world.fake.add_delivery(10, world.focal_point_message());
  auto client = world.connect_agency();
  auto deliveries = client->poll(3s);
  REQUIRE(deliveries.ok());
  REQUIRE(deliveries->size() == 1);
  CHECK(deliveries->front().delivery_id == 10);
  REQUIRE(client->confirm(deliveries->front()).ok());

  auto rejected = client->take_rejected_deliveries();
  REQUIRE(rejected.size() == 1);
  CHECK(rejected[0].code == ErrorCode::bad_signature);
  CHECK_THAT(rejected[0].message, Catch::Contains("delivery 9"));
  CHECK(client->take_rejected_deliveries().empty());
  CHECK(eventually([&] { return world.fake.confirm_count(9) == 1 && world.fake.confirm_count(10) == 1; }));
}

TEST_CASE("a delivery that fails verification for a local reason (a stale CRL copy) stays unconfirmed for a resend") {
  World world;
  world.fake.add_delivery(9, world.focal_point_message());
  // The client's copy of the CRLs ran past its nextUpdate.
  const std::int64_t now = now_ms();
  world.pki.write_crls(now - 10 * 24 * 3600 * 1000LL, now - 24 * 3600 * 1000LL);
  auto client = world.connect_agency();
  auto deliveries = client->poll(2s);
  REQUIRE(deliveries.ok());
  CHECK(deliveries->empty());
  auto rejected = client->take_rejected_deliveries();
  REQUIRE_FALSE(rejected.empty());
  CHECK(rejected[0].code == ErrorCode::crl_stale);
  CHECK_THAT(rejected[0].message, Catch::Contains("delivery 9") && Catch::Contains("send it again"));
  // A round trip after the poll: any confirm sent would have arrived by now.
  (void)client->status(MessageId::random());
  CHECK(world.fake.confirm_count(9) == 0);
}

TEST_CASE("an unreceipted outbox message is resent on the next connect") {
  World world;
  Bytes envelope = world.agency_message();
  world.fake.set_receipt_mode(ReceiptMode::no_reply);
  {
    auto options = world.options();
    options.request_timeout = 300ms;
    auto client = world.connect_agency(options);
    auto receipt = client->submit(envelope);
    REQUIRE_FALSE(receipt.ok());
    CHECK(receipt.error().code == ErrorCode::unavailable);
    CHECK_THAT(receipt.error().message, Catch::Contains("stays in the outbox"));
    CHECK(*client->unreceipted_count() == 1);
  }
  world.fake.set_receipt_mode(ReceiptMode::valid);
  auto client = world.connect_agency();
  CHECK(*client->unreceipted_count() == 0);
  auto submitted = world.fake.submitted();
  REQUIRE(submitted.size() == 2);
  CHECK(submitted[1] == envelope);
  CHECK(client->take_outbox_refusals().empty());
}

// A message queued under a larger frame limit (or before there was one) is
// never resent into a broker that would drop the connection unread: it is
// refused once, as too_large, and leaves the outbox.
TEST_CASE("an outbox message over the frame limit is refused instead of resent") {
  World world;
  Bytes envelope = world.agency_message();
  world.fake.set_receipt_mode(ReceiptMode::no_reply);
  {
    auto options = world.options();
    options.request_timeout = 300ms;
    auto client = world.connect_agency(options);
    REQUIRE_FALSE(client->submit(envelope).ok());
    CHECK(*client->unreceipted_count() == 1);
  }
  world.fake.set_receipt_mode(ReceiptMode::valid);
  auto options = world.options();
  options.max_frame_bytes = envelope.size();  // below the frame that carries it
  auto client = world.connect_agency(options);
  (void)client->poll(50ms);
  CHECK(*client->unreceipted_count() == 0);
  CHECK(world.fake.submitted().size() == 1);  // the first send only
  auto refusals = client->take_outbox_refusals();
  REQUIRE(refusals.size() == 1);
  CHECK(refusals[0].code == ErrorCode::too_large);
  CHECK_THAT(refusals[0].message, Catch::Contains("not sent"));
}

TEST_CASE("a retry time longer than any the broker gives does not hold a message in the outbox for weeks") {
  // Review finding: resend_wait_ms() takes retryAfterMs as it comes, up to
  // UInt32 max (49.7 days). The broker's longest wait is to the next 00:00
  // UTC (its daily quota), a day at most, and a message older than
  // timing.max_message_age_ms (a day) is refused as stale anyway: a longer
  // wait only hides a message the officer believes is on its way.
  World world;
  world.fake.set_receipt_mode(ReceiptMode::refuse_for_weeks);
  auto client = world.connect_agency();
  auto submitted = client->submit(world.agency_message());
  REQUIRE_FALSE(submitted.ok());
  CHECK(submitted.error().code == ErrorCode::quota_exceeded);
  auto outbox = client->outbox();
  REQUIRE(outbox.ok());
  REQUIRE(outbox->size() == 1);
  constexpr std::int64_t kDayMs = 24LL * 3600 * 1000;
  INFO("next try in " << ((*outbox)[0].next_try_at_ms - now_ms()) << " ms");
  CHECK((*outbox)[0].next_try_at_ms <= now_ms() + kDayMs);
}

TEST_CASE("a submit the broker lost in a restart is resent by the live session once it has reconnected") {
  // Review finding: a submit whose answer never comes (the broker received
  // it and was killed before its commit) stays in the outbox and is resent
  // only by the next Client::connect(). The live session reconnects by
  // itself after the broker's restart (ping_if_reconnected) but resends
  // nothing, and pump_resends() never picks up a submit() that timed out
  // (its PendingSubmit has no resent_at, so it counts as "out" for ever). A
  // long-running application that keeps its Client and only polls never
  // sends the message again.
  World world;
  world.fake.set_receipt_mode(ReceiptMode::no_reply);
  auto options = world.options();
  options.request_timeout = 500ms;
  auto client = world.connect_agency(options);
  const Bytes lost = world.agency_message();
  REQUIRE_FALSE(client->submit(lost).ok());
  REQUIRE(*client->unreceipted_count() == 1);
  world.fake.set_receipt_mode(ReceiptMode::valid);
  const std::size_t handshakes = world.fake.zap_requests();
  world.fake.restart();
  REQUIRE(eventually([&] {
    (void)client->poll(10ms);
    return world.fake.zap_requests() > handshakes;
  }));  // the client's socket did reconnect
  // Longer than kResendDelayWithoutHintMs (10 s), the library's own wait without a hint.
  const auto deadline = Clock::now() + 15s;
  while (Clock::now() < deadline && *client->unreceipted_count() != 0) (void)client->poll(100ms);
  // The session is back: a new message gets its receipt.
  auto next = client->submit(world.agency_message());
  INFO("a submit after the restart: " << (next.ok() ? std::string("receipt") : next.error().describe()));
  REQUIRE(next.ok());
  CHECK(*client->unreceipted_count() == 0);
  const auto submitted = world.fake.submitted();
  CHECK(std::count(submitted.begin(), submitted.end(), lost) == 2);
}

TEST_CASE("status returns each recipient's delivery state") {
  World world;
  auto client = world.connect_agency();
  auto status = client->status(MessageId::random());
  REQUIRE(status.ok());
  REQUIRE(status->size() == 1);
  CHECK(status->front().recipient.str() == "sn.focal-point");
  CHECK(status->front().state == "delivered");
}

TEST_CASE("sessionClosed makes the next call fail with unavailable") {
  World world;
  auto client = world.connect_agency();
  world.fake.close_session("a newer session of sn.police-judiciaire connected");
  auto status = client->status(MessageId::random());
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().code == ErrorCode::unavailable);
  CHECK_THAT(status.error().message, Catch::Contains("session taken over: a newer session"));
  auto receipt = client->submit(world.agency_message());
  REQUIRE_FALSE(receipt.ok());
  CHECK(receipt.error().code == ErrorCode::unavailable);
  auto deliveries = client->poll(0ms);
  CHECK_FALSE(deliveries.ok());
}

TEST_CASE("deliveries beyond the client's buffer are left unconfirmed for the broker to resend, and reported") {
  World world;
  world.fake.deliver_on_submit();  // all arrive while submit waits, before any poll
  for (std::uint64_t id = 1; id <= 12; ++id) world.fake.add_delivery(id, world.focal_point_message());
  ClientOptions options = world.options();
  options.max_buffered_deliveries = 5;
  auto client = world.connect_agency(options);
  REQUIRE(client->submit(world.agency_message()).ok());

  auto deliveries = client->poll(0ms);
  REQUIRE(deliveries.ok());
  REQUIRE(deliveries->size() == 5);  // each is a new message: the five buffered ones are handed over
  for (std::size_t i = 0; i < 5; ++i) CHECK((*deliveries)[i].delivery_id == i + 1);
  auto rejected = client->take_rejected_deliveries();
  REQUIRE(rejected.size() == 1);
  CHECK(rejected[0].code == ErrorCode::unavailable);
  CHECK_THAT(rejected[0].message, Catch::StartsWith("7 delivery(ies) arrived while 5 were waiting"));
  for (const auto& delivery : *deliveries) REQUIRE(client->confirm(delivery).ok());
  REQUIRE(eventually([&] { return world.fake.confirm_count(5) == 1; }));
  for (std::uint64_t id = 6; id <= 12; ++id) CHECK(world.fake.confirm_count(id) == 0);  // the broker resends these
}

// ---- the exchange's identity, pinned (hostile-input catalogue rows) ---------

TEST_CASE("a forged receipt signed by a root-issued broker certificate that is not pinned is refused and the message "
          "stays queued") {
  World world;
  world.fake.sign_receipts_with(world.rogue_broker);
  auto client = world.connect_agency();
  auto receipt = client->submit(world.agency_message());
  REQUIRE_FALSE(receipt.ok());
  CHECK(receipt.error().code == ErrorCode::signer_mismatch);
  CHECK_THAT(receipt.error().message, Catch::Contains("is not signed by the pinned exchange"));
  CHECK_THAT(receipt.error().message, Catch::Contains(World::pin_of(world.rogue_broker).text()));
  CHECK_THAT(receipt.error().message, Catch::Contains("fpx profile pin --add"));
  CHECK(*client->unreceipted_count() == 1);
}

TEST_CASE("a forged reminder signed by a root-issued broker certificate that is not pinned is refused, reported and "
          "confirmed, while the pinned broker's reminder is handed over") {
  World world;
  world.fake.add_delivery(21, test::seal_sample(world.rogue_broker, wire::MessageType::REMINDER));
  world.fake.add_delivery(22, test::seal_sample(world.broker, wire::MessageType::REMINDER));
  auto client = world.connect_agency();
  auto deliveries = client->poll(3s);
  REQUIRE(deliveries.ok());
  REQUIRE(deliveries->size() == 1);
  CHECK(deliveries->front().delivery_id == 22);
  CHECK(deliveries->front().opened.signer.participant.role == Role::broker);

  auto rejected = client->take_rejected_deliveries();
  REQUIRE(rejected.size() == 1);
  CHECK(rejected[0].code == ErrorCode::signer_mismatch);
  CHECK_THAT(rejected[0].message, Catch::Contains("delivery 21"));
  CHECK_THAT(rejected[0].message, Catch::Contains("is not signed by the pinned exchange"));
  // Refused for what it is, not for a local reason: never sent again.
  CHECK(eventually([&] { return world.fake.confirm_count(21) == 1; }));
}

TEST_CASE("a forged escalation, hit or dead-letter notice from a non-pinned broker is refused like a reminder") {
  for (auto type : {wire::MessageType::ESCALATION, wire::MessageType::HIT_NOTIFICATION,
                    wire::MessageType::DEAD_LETTER_NOTICE}) {
    INFO(message_type_name(type));
    World world;
    world.fake.add_delivery(31, test::seal_sample(world.rogue_broker, type));
    auto client = world.connect_agency();
    auto deliveries = client->poll(1500ms);
    REQUIRE(deliveries.ok());
    CHECK(deliveries->empty());
    auto rejected = client->take_rejected_deliveries();
    REQUIRE(rejected.size() == 1);
    CHECK(rejected[0].code == ErrorCode::signer_mismatch);
  }
}

TEST_CASE("connect refuses options that pin no broker key, or give no CRLs without skipping revocation explicitly") {
  World world;
  SECTION("no pinned broker key") {
    auto options = world.options();
    options.broker_pins.clear();
    auto client = Client::connect(world.pki.identity("sn.police-judiciaire"), options);
    REQUIRE_FALSE(client.ok());
    CHECK(client.error().code == ErrorCode::invalid_argument);
    CHECK_THAT(client.error().message, Catch::Contains("no broker signing key is pinned"));
  }
  SECTION("no CRL directory, revocation left at its default") {
    auto options = world.options();
    options.crl_dir.clear();
    auto client = Client::connect(world.pki.identity("sn.police-judiciaire"), options);
    REQUIRE_FALSE(client.ok());
    CHECK(client.error().code == ErrorCode::invalid_argument);
    CHECK_THAT(client.error().message, Catch::Contains("RevocationCheck::skip"));
  }
  SECTION("no CRL directory with revocation skipped explicitly: deliveries say it was not checked") {
    world.fake.add_delivery(41, world.focal_point_message());
    auto options = world.options();
    options.crl_dir.clear();
    options.revocation = RevocationCheck::skip;
    auto client = world.connect_agency(options);
    auto deliveries = client->poll(3s);
    REQUIRE(deliveries.ok());
    REQUIRE(deliveries->size() == 1);
    CHECK(deliveries->front().opened.signer.revocation == RevocationStatus::not_checked);
  }
}

TEST_CASE("after the broker rotates to a new certificate, its receipts are accepted only once its key is pinned") {
  World world;
  // The exchange's next broker certificate, from the root, with a new key.
  Identity next_broker = world.pki.issue_identity("fpx.broker-2027", "SN", Role::broker, {.via_intermediate = false});
  world.fake.sign_receipts_with(next_broker);
  {
    auto client = world.connect_agency();
    auto refused = client->submit(world.agency_message());
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == ErrorCode::signer_mismatch);
    CHECK(*client->unreceipted_count() == 1);
  }
  // The new key pinned beside the old one (fpx profile pin --add): the
  // queued message is resent on connect and its receipt now verifies.
  auto options = world.options();
  options.broker_pins.push_back(World::pin_of(next_broker));
  auto client = world.connect_agency(options);
  CHECK(*client->unreceipted_count() == 0);
  CHECK(client->take_outbox_refusals().empty());
  auto receipt = client->submit(world.agency_message());
  REQUIRE(receipt.ok());
  CHECK(receipt->broker.str() == "fpx.broker-2027");

  // Once the old key is unpinned, the old broker's receipts are refused.
  world.fake.sign_receipts_with(world.broker);
  options.broker_pins = {World::pin_of(next_broker)};
  auto after = world.connect_agency(options);
  auto old_signed = after->submit(world.agency_message());
  REQUIRE_FALSE(old_signed.ok());
  CHECK(old_signed.error().code == ErrorCode::signer_mismatch);
}

// --- Delivered means stored by the application (issue 14, item 1) ---------

TEST_CASE("two copies of one message in one poll are handed over once") {
  World world;
  world.fake.deliver_on_submit();  // both copies arrive while submit waits, before the poll
  Bytes envelope = world.focal_point_message();
  world.fake.add_delivery(7, envelope);
  world.fake.add_delivery(7, envelope);
  auto client = world.connect_agency();
  REQUIRE(client->submit(world.agency_message()).ok());
  auto deliveries = client->poll(0ms);
  REQUIRE(deliveries.ok());
  REQUIRE(deliveries->size() == 1);
  REQUIRE(client->confirm(deliveries->front()).ok());
  CHECK(eventually([&] { return world.fake.confirm_count(7) == 1; }));
}

TEST_CASE("confirm_all records a batch of stored deliveries and confirms each to the broker") {
  World world;
  std::vector<Bytes> envelopes;
  for (std::uint64_t id = 1; id <= 3; ++id) {
    envelopes.push_back(world.focal_point_message());
    world.fake.add_delivery(id, envelopes.back());
  }
  {
    auto client = world.connect_agency();
    std::vector<client::Delivery> received;
    for (int attempt = 0; attempt < 20 && received.size() < 3; ++attempt) {
      auto batch = client->poll(200ms);
      REQUIRE(batch.ok());
      for (auto& delivery : *batch) received.push_back(std::move(delivery));
    }
    REQUIRE(received.size() == 3);
    REQUIRE(client->confirm_all(received).ok());
    CHECK(eventually([&] {
      return world.fake.confirm_count(1) == 1 && world.fake.confirm_count(2) == 1 && world.fake.confirm_count(3) == 1;
    }));
  }
  // All three were recorded: resent to a new session, none is handed over again.
  auto restarted = world.connect_agency();
  auto again = restarted->poll(500ms);
  REQUIRE(again.ok());
  CHECK(again->empty());
  CHECK(eventually([&] {
    return world.fake.confirm_count(1) == 2 && world.fake.confirm_count(2) == 2 && world.fake.confirm_count(3) == 2;
  }));
}

namespace {

// The receiving application: its own durable store, with a write fault that
// can be injected between the hand-over and the confirm.
class ApplicationStore {
 public:
  void fail_next_writes(int count) { failures_left_ = count; }
  void note_handed_over(const client::Delivery& delivery) { ++handed_[delivery.opened.message_id]; }
  // Stores the delivery (idempotent by message id); false: the write failed.
  bool store(const client::Delivery& delivery) {
    note_handed_over(delivery);
    if (failures_left_ > 0) {
      --failures_left_;
      return false;
    }
    stored_.insert(delivery.opened.message_id);
    return true;
  }
  bool holds(const MessageId& id) const { return stored_.count(id) == 1; }
  int times_handed(const MessageId& id) const {
    auto found = handed_.find(id);
    return found == handed_.end() ? 0 : found->second;
  }

 private:
  int failures_left_ = 0;
  std::set<MessageId> stored_;
  std::map<MessageId, int> handed_;
};

// One poll: stores every delivery and confirms those that were stored.
void receive_into(Client& client, ApplicationStore& application, std::chrono::milliseconds wait) {
  auto deliveries = client.poll(wait);
  if (!deliveries) FAIL("poll: " << deliveries.error().describe());
  for (const auto& delivery : *deliveries) {
    if (application.store(delivery)) REQUIRE(client.confirm(delivery).ok());
  }
}

// The broker's delivery state of `message` for `recipient`, as its sender sees it.
std::string delivery_state(Client& sender, const MessageId& message, const std::string& recipient) {
  auto status = sender.status(message);
  if (!status) return "status failed: " + status.error().describe();
  for (const auto& row : *status) {
    if (row.recipient.str() == recipient) return row.state;
  }
  return "no row for " + recipient;
}

}  // namespace

TEST_CASE("a delivery whose write failed in the application reaches it on the real broker's resend, and is "
          "confirmed once") {
  TestPki pki({"SN", "NE", "BF"});
  const std::vector<std::string> participants = {"sn.focal-point", "ne.focal-point", "bf.focal-point",
                                                 "sn.police-judiciaire"};
  pki.issue("sn.focal-point", "SN", Role::focal_point);
  pki.issue("ne.focal-point", "NE", Role::focal_point);
  pki.issue("bf.focal-point", "BF", Role::focal_point);
  pki.issue("sn.police-judiciaire", "SN", Role::agency);
  test::BrokerOptions broker_options;
  broker_options.resend_after_ms = 500;  // the broker's in-session resend, short for the test
  test::BrokerProcess broker(pki, participants, broker_options);
  auto agency = test::connect_client(broker, pki, "sn.police-judiciaire");
  auto niger = test::connect_client(broker, pki, "ne.focal-point");

  Bytes request = test::seal_sample(pki.identity("sn.police-judiciaire"), wire::MessageType::TRACING_REQUEST);
  REQUIRE(agency->submit(request).ok());
  const MessageId id = test::message_id_of(request);

  ApplicationStore application;
  application.fail_next_writes(1);  // the first write after the hand-over fails: nothing is confirmed
  const auto deadline = Clock::now() + 15s;
  while (application.times_handed(id) == 0 && Clock::now() < deadline) receive_into(*niger, application, 200ms);
  REQUIRE(application.times_handed(id) == 1);
  CHECK_FALSE(application.holds(id));
  CHECK(delivery_state(*agency, id, "ne.focal-point") != "confirmed");

  // Same session: the broker resends after resend_after_ms, and the library
  // hands the message over again because the application never confirmed it.
  while (!application.holds(id) && Clock::now() < deadline) receive_into(*niger, application, 200ms);
  CHECK(application.holds(id));
  CHECK(application.times_handed(id) == 2);
  CHECK(eventually([&] { return delivery_state(*agency, id, "ne.focal-point") == "confirmed"; }));

  // Confirmed: no more resends, no more hand-overs (several resend times).
  for (int round = 0; round < 8; ++round) receive_into(*niger, application, 200ms);
  CHECK(application.times_handed(id) == 2);

  // A new session is handed nothing: the broker holds the delivery as confirmed.
  niger.reset();
  niger = test::connect_client(broker, pki, "ne.focal-point");
  for (int round = 0; round < 4; ++round) receive_into(*niger, application, 200ms);
  CHECK(application.times_handed(id) == 2);
}

TEST_CASE("a delivery handed over to an application that dies before storing it is handed over again after a "
          "restart against the real broker") {
  TestPki pki({"SN", "NE", "BF"});
  const std::vector<std::string> participants = {"sn.focal-point", "ne.focal-point", "bf.focal-point",
                                                 "sn.police-judiciaire"};
  pki.issue("sn.focal-point", "SN", Role::focal_point);
  pki.issue("ne.focal-point", "NE", Role::focal_point);
  pki.issue("bf.focal-point", "BF", Role::focal_point);
  pki.issue("sn.police-judiciaire", "SN", Role::agency);
  test::BrokerProcess broker(pki, participants);  // the default 30 s resend: only the new session resends
  auto agency = test::connect_client(broker, pki, "sn.police-judiciaire");
  Bytes request = test::seal_sample(pki.identity("sn.police-judiciaire"), wire::MessageType::TRACING_REQUEST);
  REQUIRE(agency->submit(request).ok());
  const MessageId id = test::message_id_of(request);

  ApplicationStore application;
  {
    auto niger = test::connect_client(broker, pki, "ne.focal-point");
    const auto deadline = Clock::now() + 15s;
    while (application.times_handed(id) == 0 && Clock::now() < deadline) {
      auto deliveries = niger->poll(200ms);
      REQUIRE(deliveries.ok());
      // The application process dies after the hand-over, before its write.
      for (const auto& delivery : *deliveries) application.note_handed_over(delivery);
    }
    REQUIRE(application.times_handed(id) == 1);
  }
  CHECK_FALSE(application.holds(id));
  auto niger = test::connect_client(broker, pki, "ne.focal-point");
  const auto deadline = Clock::now() + 15s;
  while (!application.holds(id) && Clock::now() < deadline) receive_into(*niger, application, 200ms);
  CHECK(application.holds(id));
  CHECK(application.times_handed(id) == 2);
  CHECK(eventually([&] { return delivery_state(*agency, id, "ne.focal-point") == "confirmed"; }));
}

TEST_CASE("a state file written before this rule is upgraded so that ids recorded at hand-over are handed over again") {
  World world;
  Bytes envelope = world.focal_point_message();
  const MessageId id = message_id_of(world, envelope);
  {
    // The earlier library's file: the id recorded when it was handed over,
    // whether or not the application ever stored it.
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(world.options().state_db.c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db,
                         "CREATE TABLE delivered (message_id BLOB PRIMARY KEY, delivered_at INTEGER NOT NULL);",
                         nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_stmt* insert = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "INSERT INTO delivered VALUES (?1, 1)", -1, &insert, nullptr) == SQLITE_OK);
    sqlite3_bind_blob(insert, 1, id.bytes.data(), static_cast<int>(id.bytes.size()), SQLITE_TRANSIENT);
    CHECK(sqlite3_step(insert) == SQLITE_DONE);
    sqlite3_finalize(insert);
    sqlite3_close(db);
    // The library refuses a state file others may read (an older one is chmod-ed by its owner, as the error says).
    std::filesystem::permissions(world.options().state_db, std::filesystem::perms::owner_read |
                                                               std::filesystem::perms::owner_write);
  }
  world.fake.add_delivery(7, envelope);
  auto client = world.connect_agency();
  auto deliveries = client->poll(3s);
  REQUIRE(deliveries.ok());
  REQUIRE(deliveries->size() == 1);
  CHECK(deliveries->front().opened.message_id == id);
}

TEST_CASE("flush_confirms returns once the broker has every confirm sent before it") {
  World world;
  world.fake.add_delivery(5, world.focal_point_message());
  auto client = world.connect_agency();
  auto deliveries = client->poll(3s);
  REQUIRE(deliveries.ok());
  REQUIRE(deliveries->size() == 1);
  REQUIRE(client->confirm(deliveries->front()).ok());
  REQUIRE(client->flush_confirms().ok());
  CHECK(world.fake.confirm_count(5) == 1);  // no waiting: the pong came after it
}
