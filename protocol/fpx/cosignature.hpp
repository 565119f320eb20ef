// C2SP cosignatures (c2sp.org/tlog-cosignature, Ed25519 "cosignature/v1"):
// a witness's statement that, as of a time, the checkpoint is the largest
// consistent tree head it has seen for the log.
//
//   signed message = "cosignature/v1\n" "time <decimal seconds>\n" || checkpoint text
//                    (the whole note text, final newline included, no signature lines)
//   signature line = "— <witness name> base64(key ID || u64 timestamp, big-endian || Ed25519 signature)"
//   key ID         = SHA-256(<name> || "\n" || 0x04 || public key)[:4]
//
// Clients of witnessed checkpoints call verify_cosignatures with the
// witnesses they trust and how many must have signed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fpx/crypto.hpp"
#include "fpx/result.hpp"
#include "fpx/signed_note.hpp"

namespace fpx {

// 8-byte timestamp + 64-byte Ed25519 signature.
inline constexpr std::size_t kCosignatureV1Size = 8 + kEd25519SignatureSize;
// The spec: a timestamp above 2^63 - 1 is invalid.
inline constexpr std::uint64_t kMaxCosignatureTimestamp = (std::uint64_t{1} << 63) - 1;

// A witness a client or a log trusts: its name and its Ed25519 key.
struct WitnessKey {
  std::string name;
  Ed25519PublicKey public_key{};
  std::uint32_t key_id() const { return signed_note_key_id(name, NoteSignatureType::cosignature_v1, public_key); }
  VerifierKey verifier_key() const { return {name, NoteSignatureType::cosignature_v1, public_key}; }
  friend bool operator==(const WitnessKey&, const WitnessKey&) = default;
};

// From a vkey "<name>+<id>+<base64(0x04 || key)>"; bad_key for a vkey of
// another type (a log's key given where a witness's is expected).
Result<WitnessKey> parse_witness_key(std::string_view vkey);

// The exact bytes a cosignature/v1 signs. `checkpoint_text` is a note's
// text (SignedNote::text), ending in a newline.
std::string cosignature_v1_message(std::string_view checkpoint_text, std::uint64_t timestamp);

// The witness's signature line content for `checkpoint_text`, made at
// `timestamp` (POSIX seconds, at most kMaxCosignatureTimestamp).
NoteSignature cosign_checkpoint(std::string_view checkpoint_text, std::string_view witness_name,
                                const SigningKey& witness_key, std::uint64_t timestamp);

// Checks one signature line against a witness: the name and key ID must be
// the witness's (else not_found: the line is someone else's), the signature
// 72 bytes (malformed), the timestamp at most 2^63-1 (malformed), and the
// Ed25519 signature valid (bad_signature). Returns the timestamp.
Result<std::uint64_t> verify_cosignature(std::string_view checkpoint_text, const NoteSignature& signature,
                                         const WitnessKey& witness);

// How a note's cosignatures stand against the witnesses a client trusts.
struct CosignatureReport {
  struct Signed {
    std::string witness;
    std::uint64_t timestamp = 0;
  };
  std::vector<Signed> valid;         // witnesses with a valid cosignature (each once)
  std::vector<std::string> invalid;  // witnesses whose name and key ID appear on a line that does not verify
  std::vector<std::string> missing;  // witnesses with no line at all
  std::size_t required = 0;          // k
  bool quorum() const { return valid.size() >= required; }
  // "2 of 3 required witnesses signed (w1, w2); w3: no cosignature"
  std::string describe() const;
};

// Parses `note` and checks each trusted witness's cosignature. Lines of
// other keys are ignored, as the spec requires. Errors only for a note that
// is not a signed note (malformed, too_large) or for a configuration that
// cannot be met (invalid_argument: k of 0 witnesses, k > n, or two
// witnesses with one name). Whether k signed is report.quorum().
Result<CosignatureReport> verify_cosignatures(std::string_view note, std::span<const WitnessKey> witnesses,
                                              std::size_t required);

// verify_cosignatures, then a typed refusal when fewer than `required`
// witnesses signed validly: bad_signature, naming who signed and who did not.
Result<CosignatureReport> require_cosignatures(std::string_view note, std::span<const WitnessKey> witnesses,
                                               std::size_t required);

// The note with `added` signature lines appended after its own, skipping a
// line already present: how a log serves a checkpoint with the
// cosignatures its witnesses returned. malformed if `note` is not a note.
Result<std::string> add_note_signatures(std::string_view note, std::span<const NoteSignature> added);

}  // namespace fpx
