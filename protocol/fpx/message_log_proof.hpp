// "My message is in the log everyone sees" (docs/PROTOCOL.md §6.1): a
// participant asks the broker for its own message's transparency-log leaf,
// opened far enough to recognise it, with an inclusion proof against the
// latest signed checkpoint, and checks it with the broker key it pinned.
// The broker encodes the reply with encode_log_proof_reply; the client
// decodes it (decode_log_proof) and checks it (verify_message_log_proof).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fpx/crypto.hpp"
#include "fpx/ids.hpp"
#include "fpx/result.hpp"
#include "fpx/transparency_log.hpp"

namespace fpx {

// A leaf has one part per fact of a tracing, padded to a multiple of 8: a
// message establishes a handful (a refusal's grounds at most a few dozen).
// More is a hostile broker making the client hash without end.
inline constexpr std::size_t kMaxLogProofParts = 1024;
// An RFC 9162 inclusion path of a 64-bit tree has at most 64 hashes.
inline constexpr std::size_t kMaxLogProofPath = 64;
// Part 0's metadata is "type|country|countries,|day": a few hundred bytes
// for every state of the exchange; anything near this is not ours.
inline constexpr std::size_t kMaxEventMetadataBytes = 4096;
inline constexpr std::size_t kEventSaltBytes = 16;
// The whole reply: a checkpoint note (at most 128 KiB) and the hashes above.
inline constexpr std::size_t kMaxLogProofBytes = 256 * 1024;

struct MessageLogProof {
  MessageId message_id;
  std::uint64_t leaf_index = 0;
  std::string checkpoint_note;             // the latest C2SP signed checkpoint
  std::vector<Sha256Digest> part_hashes;   // every part of the leaf, in order
  Bytes event_salt;                        // part 0, opened
  std::string event_metadata;
  std::vector<Sha256Digest> inclusion_path;  // RFC 9162 PATH(leaf_index, checkpoint size)
};

// The broker's reply frame (a BrokerFrame holding a LogProof).
Bytes encode_log_proof_reply(std::uint64_t request_id, const MessageLogProof& proof);
// A LogProof message (flat bytes, as BrokerReply::log_proof holds it), with
// every size above checked: malformed or too_large.
Result<MessageLogProof> decode_log_proof(ByteView log_proof);

// What a sender knows of its own message, from its envelope and its verified receipt.
struct OwnMessage {
  MessageId message_id;
  std::uint64_t log_index = 0;    // the receipt's logIndex
  std::int64_t stored_at_ms = 0;  // the receipt's storedAtMs
  std::string type;               // message_type_name() of the envelope's type
  CountryCode sender_country;
};

struct MessageInclusion {
  Checkpoint checkpoint;
  Sha256Digest leaf_hash{};
  std::string recipient_countries;  // as part 0 names them ("NE,SN,")
};

// In order: the checkpoint note verifies with `broker_key` under `origin`
// (bad_signature, malformed); the proof is for this message and the
// receipt's leaf (malformed); SHA-256(event salt || metadata) is part 0
// (bad_signature) and the metadata names the message's type, its sender's
// country and the receipt's UTC day (signer_mismatch: the leaf is not this
// message's); the leaf hash, rebuilt from the parts, is included at the
// leaf index in the checkpoint's tree (bad_signature).
Result<MessageInclusion> verify_message_log_proof(const MessageLogProof& proof, const OwnMessage& own,
                                                  std::string_view origin, const Ed25519PublicKey& broker_key);

}  // namespace fpx
