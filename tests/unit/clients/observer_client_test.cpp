// ObserverClient against a fake observer endpoint in the test process: a
// CURVE ROUTER whose ZAP handler admits only observer keys, serving a feed
// signed with a test-PKI broker identity and proofs from a MemoryLog.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <iterator>
#include <mutex>
#include <sys/wait.h>
#include <thread>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <catch2/catch.hpp>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "fpx/envelope.hpp"
#include "fpx/frames.hpp"
#include "fpx/observer_client.hpp"
#include "fpx/transparency_log.hpp"
#include "fpx/wire/observer.capnp.h"
#include "fpx/wire/transport.capnp.h"
#include "support/command_run.hpp"
#include "support/test_pki.hpp"

using namespace fpx;
using namespace std::chrono_literals;
using fpx::client::ObserverClient;
using fpx::client::ObserverOptions;
using fpx::test::TestPki;

namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kOrigin = "fpx.exchange/log";

struct ServedRecord {
  std::uint64_t sequence = 0;
  std::string kind;
  std::string json;
  Bytes signature;
};

ServedRecord sign_record(const Identity& broker, std::uint64_t sequence, std::string kind, std::string json) {
  auto signature = broker.signing_key().sign(feed_signing_input(as_bytes(json)));
  return ServedRecord{sequence, std::move(kind), std::move(json), Bytes(signature.begin(), signature.end())};
}

// The leaf committed for the n-th accepted message of the test log.
Sha256Digest test_leaf(std::uint64_t index) { return leaf_hash(as_bytes("message " + std::to_string(index))); }

class FakeObserverEndpoint {
 public:
  FakeObserverEndpoint(const Identity& broker, std::vector<CurvePublicKey> observers)
      : broker_(broker), observers_(std::move(observers)) {
    // The ZAP handler is bound before the server socket: without it a CURVE
    // server admits any key (TOOLCHAIN trap 8).
    zap_.set(zmq::sockopt::linger, 0);
    zap_.bind("inproc://zeromq.zap.01");
    router_.set(zmq::sockopt::linger, 0);
    router_.set(zmq::sockopt::curve_server, true);
    router_.set(zmq::sockopt::curve_secretkey,
                zmq::const_buffer(broker.curve().secret_key.data(), broker.curve().secret_key.size()));
    router_.set(zmq::sockopt::zap_domain, "fpx-observers");
    router_.set(zmq::sockopt::router_mandatory, true);
    router_.bind("tcp://127.0.0.1:*");
    endpoint_ = router_.get(zmq::sockopt::last_endpoint);
    thread_ = std::thread([this] { run(); });
  }

  ~FakeObserverEndpoint() {
    stop_ = true;
    thread_.join();
  }

  const std::string& endpoint() const { return endpoint_; }

  // Appends `count` leaves to the log and a signed campaign-report record
  // for each, then a signed checkpoint record of the new tree head.
  void publish_messages(std::uint64_t count) {
    std::lock_guard lock(mutex_);
    for (std::uint64_t i = 0; i < count; ++i) {
      const std::uint64_t index = log_.size();
      log_.append(test_leaf(index));
      const std::uint64_t sequence = records_.size() + 1;
      records_.push_back(sign_record(broker_, sequence, "campaign-report",
                                     "{\"sequence\":" + std::to_string(sequence) +
                                         ",\"kind\":\"campaign-report\",\"country\":\"SN\",\"collected\":12,"
                                         "\"logIndex\":" + std::to_string(index) + ",\"leafHash\":\"" +
                                         to_hex(test_leaf(index)) + "\"}"));
    }
    const std::uint64_t sequence = records_.size() + 1;
    const auto note = checkpoint_note_locked(broker_.signing_key());
    records_.push_back(sign_record(broker_, sequence, "checkpoint",
                                   "{\"sequence\":" + std::to_string(sequence) +
                                       ",\"kind\":\"checkpoint\",\"treeSize\":" + std::to_string(log_.size()) +
                                       ",\"rootHash\":\"" + to_hex(*root(log_, log_.size())) + "\",\"note\":" +
                                       json_string(note) + "}"));
  }
  // Replaces record `sequence` (1-based) with whatever a broken or hostile broker sends.
  void replace_record(std::uint64_t sequence, ServedRecord record) {
    std::lock_guard lock(mutex_);
    records_.at(sequence - 1) = std::move(record);
  }
  void drop_record(std::uint64_t sequence) {
    std::lock_guard lock(mutex_);
    records_.erase(records_.begin() + static_cast<std::ptrdiff_t>(sequence - 1));
  }
  // The latest checkpoint is then signed by this key instead of the broker's.
  void sign_checkpoints_with(const SigningKey* key) {
    std::lock_guard lock(mutex_);
    checkpoint_signer_ = key;
  }
  // A broker that rewrote history: leaf 0 is another one now, the size unchanged.
  void rewrite_history() {
    std::lock_guard lock(mutex_);
    MemoryLog rewritten;
    for (std::uint64_t i = 0; i < log_.size(); ++i) {
      rewritten.append(i == 0 ? leaf_hash(as_bytes("a message the broker wants forgotten")) : test_leaf(i));
    }
    log_ = std::move(rewritten);
  }
  void set_origin(std::string origin) {
    std::lock_guard lock(mutex_);
    origin_ = std::move(origin);
  }
  std::string checkpoint_note() {
    std::lock_guard lock(mutex_);
    return checkpoint_note_locked(broker_.signing_key());
  }

 private:
  static std::string json_string(const std::string& text) {
    std::string out = "\"";
    for (const char c : text) {
      if (c == '\n') {
        out.append("\\n");
      } else if (c == '"' || c == '\\') {
        out.push_back('\\');
        out.push_back(c);
      } else {
        out.push_back(c);
      }
    }
    out.push_back('"');
    return out;
  }

  std::string checkpoint_note_locked(const SigningKey& key) {
    return sign_checkpoint(origin_, log_.size(), *root(log_, log_.size()), origin_, key);
  }

  void run() {
    std::array<zmq_pollitem_t, 2> items{{{zap_.handle(), 0, ZMQ_POLLIN, 0}, {router_.handle(), 0, ZMQ_POLLIN, 0}}};
    while (!stop_) {
      zmq::poll(items.data(), items.size(), 20ms);
      if ((items[0].revents & ZMQ_POLLIN) != 0) answer_zap();
      if ((items[1].revents & ZMQ_POLLIN) != 0) answer_observer();
    }
  }

  // Admits only observer keys, as the broker's "fpx-observers" domain does.
  void answer_zap() {
    std::vector<zmq::message_t> request;
    if (!zmq::recv_multipart(zap_, std::back_inserter(request))) return;
    bool admitted = false;
    if (request.size() >= 7 && request[2].to_string_view() == "fpx-observers" &&
        request[5].to_string_view() == "CURVE" && request[6].size() == 32) {
      CurvePublicKey key{};
      std::memcpy(key.data(), request[6].data(), key.size());
      admitted = std::find(observers_.begin(), observers_.end(), key) != observers_.end();
    }
    std::array<zmq::message_t, 6> reply{zmq::message_t(std::string_view("1.0")),
                                        zmq::message_t(request.size() > 1 ? request[1].to_string_view() : ""),
                                        zmq::message_t(std::string_view(admitted ? "200" : "400")),
                                        zmq::message_t(std::string_view(admitted ? "OK" : "not an observer")),
                                        zmq::message_t(std::string_view(admitted ? "observer" : "")),
                                        zmq::message_t()};
    zmq::send_multipart(zap_, reply);
  }

  void answer_observer() {
    std::vector<zmq::message_t> parts;
    if (!zmq::recv_multipart(router_, std::back_inserter(parts)) || parts.size() != 2) return;
    auto request = decode_observer_request(ByteView(static_cast<const std::uint8_t*>(parts[1].data()), parts[1].size()));
    REQUIRE(request.ok());
    const std::uint64_t request_id = request->request_id;
    Bytes bytes;
    {
      std::lock_guard lock(mutex_);
      switch (request->kind) {
        case ObserverQuery::Kind::follow: {
          const auto from = std::max<std::uint64_t>(request->from_sequence, 1);
          const auto max = std::min<std::uint32_t>(request->max_records, 1000);
          std::vector<FeedRecordFrame> page;
          for (std::uint64_t i = from - 1; i < records_.size() && page.size() < max; ++i) {
            page.push_back(FeedRecordFrame{records_[i].sequence, records_[i].kind, records_[i].json, records_[i].signature});
          }
          bytes = encode_feed_page(request_id, page, page.empty() ? from : page.back().sequence + 1);
          break;
        }
        case ObserverQuery::Kind::latest_checkpoint: {
          const SigningKey& key = checkpoint_signer_ != nullptr ? *checkpoint_signer_ : broker_.signing_key();
          bytes = encode_checkpoint_reply(request_id, checkpoint_note_locked(key));
          break;
        }
        case ObserverQuery::Kind::inclusion_proof:
          bytes = proof_reply(request_id, inclusion_proof(log_, request->leaf_index, request->tree_size));
          break;
        case ObserverQuery::Kind::consistency_proof:
          bytes = proof_reply(request_id, consistency_proof(log_, request->first_tree_size, request->second_tree_size));
          break;
        case ObserverQuery::Kind::unknown:
          bytes = encode_observer_error(request_id, make_error(ErrorCode::unsupported_version, "unknown request"));
          break;
      }
    }
    std::array<zmq::message_t, 2> out{zmq::message_t(parts[0].data(), parts[0].size()),
                                      zmq::message_t(bytes.data(), bytes.size())};
    try {
      zmq::send_multipart(router_, out);
    } catch (const zmq::error_t&) {
      // The peer left (router_mandatory): nothing to do in a test endpoint.
    }
  }

  static Bytes proof_reply(std::uint64_t request_id, const Result<std::vector<Sha256Digest>>& proof) {
    if (!proof) return encode_observer_error(request_id, make_error(ErrorCode::invalid_argument, proof.error().message));
    return encode_proof_reply(request_id, *proof);
  }

  const Identity& broker_;
  std::vector<CurvePublicKey> observers_;
  zmq::context_t context_{1};
  zmq::socket_t zap_{context_, zmq::socket_type::rep};
  zmq::socket_t router_{context_, zmq::socket_type::router};
  std::string endpoint_;
  std::thread thread_;
  std::atomic<bool> stop_{false};

  std::mutex mutex_;
  MemoryLog log_;
  std::vector<ServedRecord> records_;
  const SigningKey* checkpoint_signer_ = nullptr;
  std::string origin_ = kOrigin;
};

struct World {
  TestPki pki{{"SN"}};
  Identity broker = pki.issue_identity("fpx.broker", "SN", Role::broker, {.via_intermediate = false});
  Identity observer = pki.issue_identity("cso.sahel-watch", "SN", Role::observer, {.via_intermediate = false});
  Identity agency = pki.issue_identity("sn.police-judiciaire", "SN", Role::agency);
  // A broker-role certificate from the root that is not the exchange's pinned one.
  Identity rogue_broker = pki.issue_identity("fpx.rogue-broker", "SN", Role::broker, {.via_intermediate = false});
  FakeObserverEndpoint fake{broker, {observer.curve().public_key}};

  ObserverOptions options() const {
    ObserverOptions options;
    options.endpoint = fake.endpoint();
    options.broker_chain = broker.chain();
    options.root_ca = pki.root_pem();
    options.broker_pins = {client::BrokerKeyPin::of_key(broker.signing_key().public_key())};
    options.handshake_timeout = 3000ms;
    options.request_timeout = 3000ms;
    return options;
  }
  std::unique_ptr<ObserverClient> connect_observer(const ObserverOptions& observer_options) {
    auto client = ObserverClient::connect(pki.identity("cso.sahel-watch"), observer_options);
    if (!client) FAIL("connect: " << client.error().describe());
    return std::move(client).value();
  }
  std::unique_ptr<ObserverClient> connect_observer() { return connect_observer(options()); }
};

}  // namespace

TEST_CASE("follow returns the feed verified, in order, from any sequence") {
  World world;
  world.fake.publish_messages(5);  // records 1-5 reports, 6 a checkpoint
  auto observer = world.connect_observer();

  auto page = observer->follow(1);
  REQUIRE(page.ok());
  REQUIRE(page->records.size() == 6);
  CHECK(page->next_sequence == 7);
  CHECK(page->records[0].sequence == 1);
  CHECK(page->records[0].kind == "campaign-report");
  REQUIRE(page->records[2].log_index.has_value());
  CHECK(*page->records[2].log_index == 2);
  REQUIRE(page->records[2].leaf_hash.has_value());
  CHECK(*page->records[2].leaf_hash == test_leaf(2));
  CHECK(page->records[5].kind == "checkpoint");
  CHECK_FALSE(page->records[5].log_index.has_value());

  auto middle = observer->follow(3, 2);
  REQUIRE(middle.ok());
  REQUIRE(middle->records.size() == 2);
  CHECK(middle->records[0].sequence == 3);
  CHECK(middle->records[1].sequence == 4);
  CHECK(middle->next_sequence == 5);

  auto caught_up = observer->follow(7);
  REQUIRE(caught_up.ok());
  CHECK(caught_up->records.empty());
  CHECK(caught_up->next_sequence == 7);

  // A saved record verifies again later, on its own (as `fpx log verify` does).
  const auto& kept = page->records[1];
  auto again = client::verify_feed_record(observer->broker_key(), kept.sequence, kept.kind, kept.signed_record,
                                          kept.signature);
  REQUIRE(again.ok());
  CHECK(again->log_index == kept.log_index);
}

TEST_CASE("a feed record with a bad signature is refused, never returned") {
  World world;
  world.fake.publish_messages(3);
  auto observer = world.connect_observer();
  auto page = observer->follow(1);
  REQUIRE(page.ok());
  auto record = page->records[1];
  record.signature[0] ^= 0x01;
  world.fake.replace_record(2, {record.sequence, record.kind, record.signed_record, record.signature});

  auto tampered = observer->follow(1);
  REQUIRE_FALSE(tampered.ok());
  CHECK(tampered.error().code == ErrorCode::bad_signature);
  CHECK_THAT(tampered.error().message, Catch::Contains("feed record 2"));

  // The text altered under a valid signature of other text: also refused.
  std::string altered = page->records[0].signed_record;
  altered.replace(altered.find("\"collected\":12"), 14, "\"collected\":99");
  world.fake.replace_record(1, {1, "campaign-report", altered, page->records[0].signature});
  auto altered_page = observer->follow(1, 1);
  REQUIRE_FALSE(altered_page.ok());
  CHECK(altered_page.error().code == ErrorCode::bad_signature);
}

TEST_CASE("a validly signed record under another sequence number or kind is refused") {
  World world;
  world.fake.publish_messages(3);
  auto observer = world.connect_observer();
  auto page = observer->follow(1);
  REQUIRE(page.ok());

  SECTION("record 1 replayed as record 2") {
    const auto& first = page->records[0];
    world.fake.replace_record(2, {2, first.kind, first.signed_record, first.signature});
    auto replayed = observer->follow(1);
    REQUIRE_FALSE(replayed.ok());
    CHECK(replayed.error().code == ErrorCode::malformed);
    CHECK_THAT(replayed.error().message, Catch::Contains("signed JSON says sequence 1"));
  }
  SECTION("a signed record whose JSON sequence differs from the frame's") {
    world.fake.replace_record(
        2, sign_record(world.broker, 2, "campaign-report", "{\"sequence\":3,\"kind\":\"campaign-report\"}"));
    auto mismatched = observer->follow(2, 1);
    REQUIRE_FALSE(mismatched.ok());
    CHECK_THAT(mismatched.error().message, Catch::Contains("signed JSON says sequence 3"));
  }
  SECTION("a report framed as a public alert") {
    const auto& first = page->records[0];
    world.fake.replace_record(1, {1, "public-alert", first.signed_record, first.signature});
    auto reframed = observer->follow(1);
    REQUIRE_FALSE(reframed.ok());
    CHECK_THAT(reframed.error().message, Catch::Contains("framed as \"public-alert\""));
  }
  SECTION("a duplicated key") {
    world.fake.replace_record(1, sign_record(world.broker, 1, "campaign-report",
                                             "{\"sequence\":1,\"kind\":\"campaign-report\",\"sequence\":2}"));
    auto duplicated = observer->follow(1);
    REQUIRE_FALSE(duplicated.ok());
    CHECK_THAT(duplicated.error().message, Catch::Contains("twice"));
  }
  SECTION("a withheld record (a gap in the sequence)") {
    world.fake.drop_record(2);
    auto gap = observer->follow(1);
    REQUIRE_FALSE(gap.ok());
    CHECK_THAT(gap.error().message, Catch::Contains("record 3 where 2 was due"));
  }
}

TEST_CASE("the latest checkpoint is verified with the broker's key and the expected origin") {
  World world;
  world.fake.publish_messages(12);
  auto observer = world.connect_observer();
  auto checkpoint = observer->latest_checkpoint();
  REQUIRE(checkpoint.ok());
  CHECK(checkpoint->checkpoint.origin == kOrigin);
  CHECK(checkpoint->checkpoint.size == 12);
  MemoryLog expected;
  for (std::uint64_t i = 0; i < 12; ++i) expected.append(test_leaf(i));
  CHECK(checkpoint->checkpoint.root == *root(expected, 12));
  CHECK(checkpoint->note == world.fake.checkpoint_note());

  SECTION("signed by another key") {
    world.fake.sign_checkpoints_with(&world.agency.signing_key());
    auto forged = observer->latest_checkpoint();
    REQUIRE_FALSE(forged.ok());
    CHECK(forged.error().code == ErrorCode::bad_signature);
  }
  SECTION("for another log") {
    world.fake.set_origin("other.exchange/log");
    auto other = observer->latest_checkpoint();
    REQUIRE_FALSE(other.ok());
    CHECK_THAT(other.error().message, Catch::Contains("\"other.exchange/log\", not the expected \"fpx.exchange/log\""));
  }
}

TEST_CASE("inclusion and consistency proofs from the endpoint verify against signed checkpoints") {
  World world;
  world.fake.publish_messages(12);
  auto observer = world.connect_observer();
  auto old_head = observer->latest_checkpoint();
  REQUIRE(old_head.ok());
  world.fake.publish_messages(8);
  auto new_head = observer->latest_checkpoint();
  REQUIRE(new_head.ok());
  REQUIRE(new_head->checkpoint.size == 20);

  auto consistency = observer->consistency_proof(12, 20);
  REQUIRE(consistency.ok());
  CHECK(verify_consistency(12, 20, old_head->checkpoint.root, new_head->checkpoint.root, *consistency));
  // A history rewritten under the old head would not verify.
  Sha256Digest rewritten = old_head->checkpoint.root;
  rewritten[0] ^= 0x01;
  CHECK_FALSE(verify_consistency(12, 20, rewritten, new_head->checkpoint.root, *consistency));

  for (std::uint64_t index : {0, 5, 11, 19}) {
    auto inclusion = observer->inclusion_proof(index, 20);
    REQUIRE(inclusion.ok());
    CHECK(verify_inclusion(test_leaf(index), index, 20, *inclusion, new_head->checkpoint.root));
    CHECK_FALSE(verify_inclusion(test_leaf(index + 1), index, 20, *inclusion, new_head->checkpoint.root));
  }

  auto beyond = observer->inclusion_proof(25, 20);
  REQUIRE_FALSE(beyond.ok());
  CHECK(beyond.error().code == ErrorCode::invalid_argument);
}

TEST_CASE("a key without the observer role gets handshake refused quickly instead of a hang") {
  World world;
  auto options = world.options();
  options.handshake_timeout = 10s;
  const auto started = Clock::now();
  auto client = ObserverClient::connect(world.pki.identity("sn.police-judiciaire"), options);
  REQUIRE_FALSE(client.ok());
  CHECK(client.error().code == ErrorCode::unauthorized);
  CHECK_THAT(client.error().message, Catch::Contains("handshake refused"));
  CHECK(Clock::now() - started < 5s);
}

TEST_CASE("a broker chain that is not a broker's, or disagrees with the pinned key, is refused before connecting") {
  World world;
  auto options = world.options();
  SECTION("an agency's certificate as the broker's") {
    options.broker_chain = world.agency.chain();
    auto client = ObserverClient::connect(world.pki.identity("cso.sahel-watch"), options);
    REQUIRE_FALSE(client.ok());
    CHECK(client.error().code == ErrorCode::wrong_role);
  }
  SECTION("a pinned CURVE key that is not the certificate's") {
    options.broker_curve_key = world.agency.curve().public_key;
    auto client = ObserverClient::connect(world.pki.identity("cso.sahel-watch"), options);
    REQUIRE_FALSE(client.ok());
    CHECK(client.error().code == ErrorCode::bad_key);
  }
  SECTION("the certificate's own key pinned is fine") {
    options.broker_curve_key = world.broker.curve().public_key;
    auto client = ObserverClient::connect(world.pki.identity("cso.sahel-watch"), options);
    CHECK(client.ok());
  }
}

TEST_CASE("a feed record and a checkpoint signed by a broker key that is not pinned are refused by the observer") {
  World world;
  world.fake.publish_messages(3);  // records 1-3, checkpoint record 4
  SECTION("a feed record signed by a root-issued broker certificate that is not pinned") {
    auto observer = world.connect_observer();
    world.fake.replace_record(2, sign_record(world.rogue_broker, 2, "campaign-report",
                                             "{\"sequence\":2,\"kind\":\"campaign-report\",\"country\":\"SN\","
                                             "\"collected\":9999}"));
    auto page = observer->follow(1);
    REQUIRE_FALSE(page.ok());
    CHECK(page.error().code == ErrorCode::bad_signature);
    CHECK_THAT(page.error().message, Catch::Contains("feed record 2 refused"));
  }
  SECTION("a checkpoint signed by a root-issued broker certificate that is not pinned") {
    auto observer = world.connect_observer();
    world.fake.sign_checkpoints_with(&world.rogue_broker.signing_key());
    auto checkpoint = observer->latest_checkpoint();
    REQUIRE_FALSE(checkpoint.ok());
    CHECK(checkpoint.error().code == ErrorCode::bad_signature);
  }
  SECTION("the non-pinned broker's own chain given as the broker's: refused before connecting") {
    // What a swapped broker.cert file, or a national CA's broker-role
    // certificate, would try: every record and checkpoint it signs would verify.
    auto options = world.options();
    options.broker_chain = world.rogue_broker.chain();
    auto client = ObserverClient::connect(world.pki.identity("cso.sahel-watch"), options);
    REQUIRE_FALSE(client.ok());
    CHECK(client.error().code == ErrorCode::signer_mismatch);
    CHECK_THAT(client.error().message, Catch::Contains("is not signed by the pinned exchange"));
  }
  SECTION("no pinned key at all: refused, never \"trust any broker\"") {
    auto options = world.options();
    options.broker_pins.clear();
    auto client = ObserverClient::connect(world.pki.identity("cso.sahel-watch"), options);
    REQUIRE_FALSE(client.ok());
    CHECK(client.error().code == ErrorCode::invalid_argument);
  }
  SECTION("both keys pinned during a rotation: the rotated-to chain is accepted") {
    auto options = world.options();
    options.broker_chain = world.rogue_broker.chain();
    options.broker_pins.push_back(client::BrokerKeyPin::of_key(world.rogue_broker.signing_key().public_key()));
    options.broker_curve_key = {};  // taken from the chain
    auto client = ObserverClient::connect(world.pki.identity("cso.sahel-watch"), options);
    // The fake endpoint runs with the first broker's CURVE key: the pin check
    // passed, and what fails now is the transport, not the pin.
    REQUIRE_FALSE(client.ok());
    CHECK(client.error().code != ErrorCode::signer_mismatch);
    CHECK(client.error().code != ErrorCode::invalid_argument);
  }
}

// ---- the fpx command line (the real binary) against the fake endpoint -------

namespace {

using Run = test::CommandRun;

Run fpx_run(const std::filesystem::path& scratch, const std::vector<std::string>& args) {
  return test::run_fpx(scratch, args);
}

std::size_t count_lines(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

}  // namespace

TEST_CASE("fpx observe keeps the verified feed and continues; fpx log verify names a rewritten log") {
  World world;
  test::TempDir scratch;
  const auto profile = (scratch.path() / "observer").string();
  world.fake.publish_messages(3);  // records 1-3, checkpoint record 4 (tree size 3)

  auto init = fpx_run(scratch.path(), {"profile", "init", "--dir", profile, "--identity",
                                       (world.pki.dir() / "participants" / "cso.sahel-watch").string(),
                                       "--observer-endpoint", world.fake.endpoint(), "--broker-cert",
                                       (world.pki.dir() / "participants" / "fpx.broker" / "chain.pem").string(),
                                       "--root-ca", world.pki.root_pem().string()});
  INFO(init.out << init.err);
  REQUIRE(init.exit_code == 0);

  auto first = fpx_run(scratch.path(), {"observe", "--profile", profile});
  INFO(first.out << first.err);
  REQUIRE(first.exit_code == 0);
  CHECK_THAT(first.out, Catch::Contains("campaign-report"));
  CHECK_THAT(first.out, Catch::Contains("country=SN, collected=12 [log index 2]"));
  CHECK_THAT(first.out, Catch::Contains("tree size 3"));
  CHECK(count_lines(test::read_file(std::filesystem::path(profile) / "feed" / "records.jsonl")) == 4);

  // A second run continues where the first stopped.
  world.fake.publish_messages(2);  // records 5-6, checkpoint record 7 (tree size 5)
  auto second = fpx_run(scratch.path(), {"observe", "--profile", profile, "--json"});
  INFO(second.out << second.err);
  REQUIRE(second.exit_code == 0);
  REQUIRE(count_lines(second.out) == 3);
  CHECK(second.out.rfind("{\"sequence\":5,", 0) == 0);
  CHECK(count_lines(test::read_file(std::filesystem::path(profile) / "feed" / "records.jsonl")) == 7);

  auto verified = fpx_run(scratch.path(), {"log", "verify", "--profile", profile});
  INFO(verified.out << verified.err);
  REQUIRE(verified.exit_code == 0);
  CHECK_THAT(verified.out, Catch::Contains("5 record(s) verified in tree size 5"));
  CHECK_THAT(verified.out, Catch::Contains("log verified"));

  world.fake.publish_messages(2);  // tree size 7
  auto grown = fpx_run(scratch.path(), {"log", "verify", "--profile", profile, "--json"});
  INFO(grown.out << grown.err);
  REQUIRE(grown.exit_code == 0);
  CHECK_THAT(grown.out, Catch::Contains("\"previousTreeSize\":5"));

  // --from re-reads; --wait bounds following.
  const auto started = Clock::now();
  auto again = fpx_run(scratch.path(), {"observe", "--profile", profile, "--from", "1", "--follow", "--wait", "1"});
  INFO(again.out << again.err);
  CHECK(again.exit_code == 0);
  CHECK_THAT(again.out, Catch::Contains("10 record(s) verified"));
  CHECK(Clock::now() - started < 5s);
  CHECK(count_lines(test::read_file(std::filesystem::path(profile) / "feed" / "records.jsonl")) == 10);

  world.fake.rewrite_history();
  world.fake.publish_messages(1);  // tree size 8 over a rewritten leaf 0
  auto rewritten = fpx_run(scratch.path(), {"log", "verify", "--profile", profile});
  INFO(rewritten.out << rewritten.err);
  CHECK(rewritten.exit_code == 1);
  CHECK_THAT(rewritten.err,
             Catch::Contains("consistency proof from tree size 7 to 8 does not verify: the log was rewritten"));
  CHECK_THAT(rewritten.err, Catch::Contains("record 1 (campaign-report, log index 0) is not included in tree size 8"));
}

TEST_CASE("fpx observe with a key that is not an observer's says handshake refused") {
  World world;
  test::TempDir scratch;
  const auto profile = (scratch.path() / "agency").string();
  auto init = fpx_run(scratch.path(), {"profile", "init", "--dir", profile, "--identity",
                                       (world.pki.dir() / "participants" / "sn.police-judiciaire").string(),
                                       "--observer-endpoint", world.fake.endpoint(), "--broker-cert",
                                       (world.pki.dir() / "participants" / "fpx.broker" / "chain.pem").string(),
                                       "--root-ca", world.pki.root_pem().string()});
  REQUIRE(init.exit_code == 0);
  auto refused = fpx_run(scratch.path(), {"observe", "--profile", profile});
  CHECK(refused.exit_code == 1);
  CHECK_THAT(refused.err, Catch::Contains("handshake refused"));
}

TEST_CASE("fpx observe, log verify and report refuse a broker certificate swapped for one whose key is not pinned") {
  World world;
  test::TempDir scratch;
  const auto profile = (scratch.path() / "observer").string();
  world.fake.publish_messages(2);
  // A copy of the broker's chain, as an observer keeps it; swapped later.
  const auto kept_chain = scratch.path() / "broker-chain.pem";
  std::filesystem::copy_file(world.pki.dir() / "participants" / "fpx.broker" / "chain.pem", kept_chain);
  auto init = fpx_run(scratch.path(), {"profile", "init", "--dir", profile, "--identity",
                                       (world.pki.dir() / "participants" / "cso.sahel-watch").string(),
                                       "--observer-endpoint", world.fake.endpoint(), "--broker-cert",
                                       kept_chain.string(), "--root-ca", world.pki.root_pem().string()});
  INFO(init.out << init.err);
  REQUIRE(init.exit_code == 0);
  CHECK_THAT(init.out,
             Catch::Contains("pinned broker signing key: " +
                             client::BrokerKeyPin::of_key(world.broker.signing_key().public_key()).text()));
  auto first = fpx_run(scratch.path(), {"observe", "--profile", profile});
  INFO(first.out << first.err);
  REQUIRE(first.exit_code == 0);

  // Another root-issued broker certificate in the file: its records would verify.
  std::filesystem::copy_file(world.pki.dir() / "participants" / "fpx.rogue-broker" / "chain.pem", kept_chain,
                             std::filesystem::copy_options::overwrite_existing);
  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"observe", "--profile", profile}, {"log", "verify", "--profile", profile},
        {"report", "--profile", profile, "--html", (scratch.path() / "report.html").string()}}) {
    auto refused = fpx_run(scratch.path(), command);
    INFO(command.front() << ": " << refused.out << refused.err);
    CHECK(refused.exit_code == 1);
    CHECK_THAT(refused.err, Catch::Contains("signer_mismatch"));
    CHECK_THAT(refused.err, Catch::Contains("is not signed by the pinned exchange"));
  }
  CHECK_FALSE(std::filesystem::exists(scratch.path() / "report.html"));
}
