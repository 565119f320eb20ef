// A message's leaf and its inclusion proof, for its sender
// (docs/PROTOCOL.md §6.1). Both ends: the broker encodes, the client decodes
// and checks. Contract: fpx/message_log_proof.hpp.
#include "fpx/message_log_proof.hpp"

#include <capnp/message.h>

#include "fpx/aligned_reader.hpp"
#include "fpx/process_statistics.hpp"
#include "fpx/wire/transport.capnp.h"

namespace fpx {

namespace {

constexpr std::int64_t kDayMs = 24LL * 3600 * 1000;

ByteView data_view(capnp::Data::Reader data) { return {data.begin(), data.size()}; }
kj::ArrayPtr<const kj::byte> as_data(ByteView bytes) { return kj::arrayPtr(bytes.data(), bytes.size()); }

Result<std::vector<Sha256Digest>> digests_of(capnp::List<capnp::Data>::Reader list, std::size_t limit,
                                             const char* what) {
  if (list.size() > limit) {
    return make_error(ErrorCode::too_large, std::string(what) + ": " + std::to_string(list.size()) +
                                                " hashes, more than the " + std::to_string(limit) + " any leaf has");
  }
  std::vector<Sha256Digest> digests;
  digests.reserve(list.size());
  for (auto item : list) {
    if (item.size() != Sha256Digest{}.size()) {
      return make_error(ErrorCode::malformed, std::string(what) + ": a hash of " + std::to_string(item.size()) +
                                                  " bytes, not 32");
    }
    Sha256Digest digest{};
    std::copy(item.begin(), item.end(), digest.begin());
    digests.push_back(digest);
  }
  return digests;
}

void set_digests(capnp::List<capnp::Data>::Builder list, const std::vector<Sha256Digest>& digests) {
  for (unsigned i = 0; i < list.size(); ++i) list.set(i, as_data(ByteView(digests[i])));
}

// "a|b|c|d" -> its fields; nullopt unless exactly `count`.
std::optional<std::vector<std::string_view>> fields_of(std::string_view text, std::size_t count) {
  std::vector<std::string_view> fields;
  for (;;) {
    const auto bar = text.find('|');
    fields.push_back(text.substr(0, bar));
    if (bar == std::string_view::npos) break;
    text.remove_prefix(bar + 1);
  }
  if (fields.size() != count) return std::nullopt;
  return fields;
}

}  // namespace

Bytes encode_log_proof_reply(std::uint64_t request_id, const MessageLogProof& proof) {
  capnp::MallocMessageBuilder message;
  auto frame = message.initRoot<wire::BrokerFrame>();
  frame.setRequestId(request_id);
  auto out = frame.initLogProof();
  out.setMessageId(as_data(ByteView(proof.message_id.bytes)));
  out.setLeafIndex(proof.leaf_index);
  out.setCheckpoint(proof.checkpoint_note);
  set_digests(out.initPartHashes(static_cast<unsigned>(proof.part_hashes.size())), proof.part_hashes);
  out.setEventSalt(as_data(proof.event_salt));
  out.setEventMetadata(proof.event_metadata);
  set_digests(out.initInclusionPath(static_cast<unsigned>(proof.inclusion_path.size())), proof.inclusion_path);
  return flat_bytes(message);
}

Result<MessageLogProof> decode_log_proof(ByteView log_proof) {
  if (log_proof.size() > kMaxLogProofBytes) {
    return make_error(ErrorCode::too_large, "a log proof of " + std::to_string(log_proof.size()) +
                                                " bytes, more than the " + std::to_string(kMaxLogProofBytes) +
                                                " a checkpoint and a leaf's hashes take");
  }
  return read_message<wire::LogProof>(
      log_proof, Framing::flat, "LogProof", [](wire::LogProof::Reader root) -> Result<MessageLogProof> {
        MessageLogProof proof;
        auto id = MessageId::from_bytes(data_view(root.getMessageId()));
        if (!id) return make_error(ErrorCode::malformed, "log proof: the message id is not 16 bytes");
        proof.message_id = *id;
        proof.leaf_index = root.getLeafIndex();
        proof.checkpoint_note = std::string(root.getCheckpoint().cStr(), root.getCheckpoint().size());
        auto parts = digests_of(root.getPartHashes(), kMaxLogProofParts, "log proof parts");
        if (!parts) return std::move(parts).take_error();
        if (parts->empty()) return make_error(ErrorCode::malformed, "log proof: a leaf without parts");
        proof.part_hashes = std::move(parts).value();
        auto path = digests_of(root.getInclusionPath(), kMaxLogProofPath, "log proof inclusion path");
        if (!path) return std::move(path).take_error();
        proof.inclusion_path = std::move(path).value();
        auto salt = data_view(root.getEventSalt());
        if (salt.size() != kEventSaltBytes) return make_error(ErrorCode::malformed, "log proof: the salt is not 16 bytes");
        proof.event_salt.assign(salt.begin(), salt.end());
        auto metadata = root.getEventMetadata();
        if (metadata.size() > kMaxEventMetadataBytes) {
          return make_error(ErrorCode::too_large, "log proof: the event's metadata is longer than any event's");
        }
        proof.event_metadata = std::string(metadata.cStr(), metadata.size());
        return proof;
      });
}

Result<MessageInclusion> verify_message_log_proof(const MessageLogProof& proof, const OwnMessage& own,
                                                  std::string_view origin, const Ed25519PublicKey& broker_key) {
  // The checkpoint first, with the pinned key: nothing else is worth
  // reading before the broker is known to have signed the tree.
  auto checkpoint = parse_and_verify_checkpoint(proof.checkpoint_note, origin, broker_key);
  if (!checkpoint) return std::move(checkpoint).take_error();
  if (proof.message_id != own.message_id) {
    return make_error(ErrorCode::malformed, "the log proof is for message " + proof.message_id.hex() + ", not " +
                                                own.message_id.hex());
  }
  if (proof.leaf_index != own.log_index) {
    return make_error(ErrorCode::malformed, "the log proof is for leaf " + std::to_string(proof.leaf_index) +
                                                " but the broker's receipt put the message at log index " +
                                                std::to_string(own.log_index));
  }
  // Part 0 opened: its hash is the leaf's first part, and it says what this
  // message is. The broker signed the receipt naming the index; the leaf at
  // that index must be recognisably this message's, not any leaf.
  if (stats::commitment_part_hash(proof.event_salt, proof.event_metadata) != proof.part_hashes.front()) {
    return make_error(ErrorCode::bad_signature,
                      "the opened event part does not hash to the leaf's first part: the broker's answer is forged");
  }
  auto fields = fields_of(proof.event_metadata, 4);
  const std::string day = std::to_string(own.stored_at_ms / kDayMs);
  if (!fields || (*fields)[0] != own.type || (*fields)[1] != own.sender_country.str() || (*fields)[3] != day) {
    return make_error(ErrorCode::signer_mismatch,
                      "leaf " + std::to_string(proof.leaf_index) + " says \"" + proof.event_metadata +
                          "\", not a " + own.type + " from " + own.sender_country.str() + " stored on day " + day +
                          ": the log does not hold this message where its receipt says");
  }
  MessageInclusion inclusion;
  inclusion.checkpoint = std::move(checkpoint).value();
  inclusion.leaf_hash = leaf_hash(stats::leaf_data_of_parts(proof.part_hashes));
  inclusion.recipient_countries = std::string((*fields)[2]);
  if (proof.leaf_index >= inclusion.checkpoint.size ||
      !verify_inclusion(inclusion.leaf_hash, proof.leaf_index, inclusion.checkpoint.size, proof.inclusion_path,
                        inclusion.checkpoint.root)) {
    return make_error(ErrorCode::bad_signature,
                      "leaf " + std::to_string(proof.leaf_index) + " is not included in the checkpoint's tree of size " +
                          std::to_string(inclusion.checkpoint.size) + ": the log everyone sees does not hold it");
  }
  return inclusion;
}

}  // namespace fpx
