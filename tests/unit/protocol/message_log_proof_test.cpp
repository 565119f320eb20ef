// fpx/message_log_proof.hpp: a sender's proof that its message is in the
// log, through the real frame codec, with a real Ed25519 key and a real
// RFC 9162 tree (MemoryLog); every check refuses what it should.
#include <catch2/catch.hpp>

#include "fpx/frames.hpp"
#include "fpx/message_log_proof.hpp"
#include "fpx/process_statistics.hpp"
#include "fpx/transparency_log.hpp"

using namespace fpx;

namespace {

constexpr const char* kOrigin = "fpx.exchange/log";
constexpr std::int64_t kStoredAtMs = 1795000002000;  // day 20775

struct Log {
  Log() : key(std::move(SigningKey::generate()).value()), id(MessageId::random()) {
    // Five leaves; the message is leaf 3 with an event part and two fact parts.
    for (std::uint64_t i = 0; i < 3; ++i) tree.append(leaf_hash(as_bytes("other " + std::to_string(i))));
    salt = Bytes(kEventSaltBytes, 0x5a);
    metadata = "campaign-report|SN|NE,|" + std::to_string(kStoredAtMs / 86400000);
    parts = {stats::commitment_part_hash(salt, metadata), stats::commitment_part_hash(Bytes(16, 1), "a"),
             stats::commitment_part_hash(Bytes(16, 2), "b")};
    tree.append(leaf_hash(stats::leaf_data_of_parts(parts)));
    tree.append(leaf_hash(as_bytes("later")));
  }

  MessageLogProof proof() {
    MessageLogProof proof;
    proof.message_id = id;
    proof.leaf_index = 3;
    proof.checkpoint_note = sign_checkpoint(kOrigin, tree.size(), *root(tree, tree.size()), kOrigin, key);
    proof.part_hashes = parts;
    proof.event_salt = salt;
    proof.event_metadata = metadata;
    proof.inclusion_path = *inclusion_proof(tree, 3, tree.size());
    return proof;
  }

  OwnMessage own() const { return OwnMessage{id, 3, kStoredAtMs, "campaign-report", CountryCode("SN")}; }

  // Through the wire: the broker's frame, the client's frame decoder, the proof decoder.
  static Result<MessageLogProof> over_the_wire(const MessageLogProof& proof) {
    auto reply = decode_broker_frame(encode_log_proof_reply(7, proof));
    if (!reply) return std::move(reply).take_error();
    REQUIRE(reply->kind == BrokerReply::Kind::log_proof);
    REQUIRE(reply->request_id == 7);
    return decode_log_proof(reply->log_proof);
  }

  SigningKey key;
  MessageId id;
  MemoryLog tree;
  Bytes salt;
  std::string metadata;
  std::vector<Sha256Digest> parts;
};

}  // namespace

TEST_CASE("a sender's log proof sent through the frame codec verifies and names its leaf and checkpoint") {
  Log log;
  auto proof = Log::over_the_wire(log.proof());
  REQUIRE(proof.ok());
  auto included = verify_message_log_proof(*proof, log.own(), kOrigin, log.key.public_key());
  REQUIRE(included.ok());
  CHECK(included->checkpoint.size == 5);
  CHECK(included->recipient_countries == "NE,");
  CHECK(included->leaf_hash == leaf_hash(stats::leaf_data_of_parts(log.parts)));
}

TEST_CASE("a log proof is refused when any part of it is not what the sender's message and the pinned key say") {
  Log log;
  auto proof = log.proof();
  auto refused = [&](ErrorCode code, const char* words) {
    auto checked = verify_message_log_proof(proof, log.own(), kOrigin, log.key.public_key());
    REQUIRE_FALSE(checked.ok());
    CHECK(checked.error().code == code);
    CHECK_THAT(checked.error().message, Catch::Contains(words));
  };
  SECTION("a checkpoint signed by another key") {
    auto other = std::move(SigningKey::generate()).value();
    proof.checkpoint_note = sign_checkpoint(kOrigin, log.tree.size(), *root(log.tree, log.tree.size()), kOrigin, other);
    auto checked = verify_message_log_proof(proof, log.own(), kOrigin, log.key.public_key());
    REQUIRE_FALSE(checked.ok());
    CHECK(checked.error().code == ErrorCode::bad_signature);
  }
  SECTION("another leaf than the receipt's") {
    proof.leaf_index = 2;
    refused(ErrorCode::malformed, "receipt put the message at log index 3");
  }
  SECTION("an opened event that does not hash to the first part") {
    proof.event_salt[0] ^= 1;
    refused(ErrorCode::bad_signature, "does not hash to the leaf's first part");
  }
  SECTION("a leaf whose event is another type of message") {
    proof.event_metadata = "alert|SN|NE,|" + std::to_string(kStoredAtMs / 86400000);
    proof.part_hashes[0] = stats::commitment_part_hash(proof.event_salt, proof.event_metadata);
    refused(ErrorCode::signer_mismatch, "not a campaign-report from SN");
  }
  SECTION("a leaf of another day") {
    proof.event_metadata = "campaign-report|SN|NE,|1";
    proof.part_hashes[0] = stats::commitment_part_hash(proof.event_salt, proof.event_metadata);
    refused(ErrorCode::signer_mismatch, "stored on day");
  }
  SECTION("parts that are not the logged leaf's") {
    proof.part_hashes[2][0] ^= 1;
    refused(ErrorCode::bad_signature, "is not included in the checkpoint's tree of size 5");
  }
  SECTION("a path that does not reach the signed root") {
    proof.inclusion_path.back()[0] ^= 1;
    refused(ErrorCode::bad_signature, "is not included");
  }
}

TEST_CASE("a log proof with more hashes than any leaf or path has is refused as too large") {
  Log log;
  auto parts = log.proof();
  parts.part_hashes.resize(kMaxLogProofParts + 1);
  auto decoded = Log::over_the_wire(parts);
  REQUIRE_FALSE(decoded.ok());
  CHECK(decoded.error().code == ErrorCode::too_large);
  auto path = log.proof();
  path.inclusion_path.resize(kMaxLogProofPath + 1);
  auto long_path = Log::over_the_wire(path);
  REQUIRE_FALSE(long_path.ok());
  CHECK(long_path.error().code == ErrorCode::too_large);
}
