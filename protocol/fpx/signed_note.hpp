// C2SP signed notes (c2sp.org/signed-note) with any number of signature
// lines: the parse and format a witness and a client of witnessed
// checkpoints need. checkpoint.cpp keeps the broker's own one-signature
// path (sign_checkpoint, parse_and_verify_checkpoint); this file reads every
// line of a note, whoever signed it, and the verifier keys ("vkeys") that
// name a signer.
//
//   note     = text "\n" signature-line+
//   text     = one or more lines, each ending in "\n" (UTF-8, no control
//              character but newline)
//   line     = "— " key-name " " base64(key ID (4 bytes, big-endian) || signature) "\n"
//   vkey     = key-name "+" hex(key ID) "+" base64(type byte || public key)
//   key ID   = SHA-256(key-name || "\n" || type byte || public key)[:4]
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fpx/crypto.hpp"
#include "fpx/ids.hpp"
#include "fpx/result.hpp"

namespace fpx {

// A whole note, its text and every signature line, is at most this long:
// a note comes from a network peer (a witness request, a shared checkpoint),
// and this bounds what one can make us hold. Far above a checkpoint with
// kMaxNoteSignatures Ed25519 signatures (about 110 bytes a line).
inline constexpr std::size_t kMaxSignedNoteBytes = 64 * 1024;
// Signature lines per note. The spec asks verifiers to accept at least 16;
// a log with a few witnesses carries fewer than 10. More lines than this is
// someone making every verifier try keys against junk.
inline constexpr std::size_t kMaxNoteSignatures = 64;
// The signature part of a line (after the key ID) is at most this long; an
// Ed25519 cosignature is 72 bytes, a post-quantum one about 2.4 kB.
inline constexpr std::size_t kMaxNoteSignatureBytes = 4096;
inline constexpr std::size_t kNoteKeyIdSize = 4;

// The signature types of c2sp.org/signed-note that FPX reads and writes.
enum class NoteSignatureType : std::uint8_t {
  ed25519 = 0x01,         // a plain note signature (the broker's checkpoint)
  cosignature_v1 = 0x04,  // c2sp.org/tlog-cosignature, Ed25519 with a timestamp
};

// One signature line, undecoded beyond its key ID.
struct NoteSignature {
  std::string key_name;
  std::uint32_t key_id = 0;
  Bytes signature;  // what follows the key ID
  friend bool operator==(const NoteSignature&, const NoteSignature&) = default;
};

struct SignedNote {
  std::string text;  // every line up to the blank line, final newline included: the signed message
  std::vector<NoteSignature> signatures;
  friend bool operator==(const SignedNote&, const SignedNote&) = default;
};

// First 4 bytes of SHA-256(key_name || 0x0A || type || public_key), big-endian.
std::uint32_t signed_note_key_id(std::string_view key_name, NoteSignatureType type, const Ed25519PublicKey& public_key);

// Standard base64 (RFC 4648 section 4) with padding; decoding refuses any
// text but the one canonical encoding of its bytes.
std::string note_base64_encode(ByteView bytes);
std::optional<Bytes> note_base64_decode(std::string_view text);

// Valid UTF-8 without control characters other than newline.
bool valid_note_text(std::string_view text);

// "— <name> <base64(key ID || signature)>\n".
std::string format_note_signature_line(const NoteSignature& signature);

// Parses one or more signature lines (all of `lines`, each ending in "\n"):
// a witness's answer to add-checkpoint. malformed or too_large.
Result<std::vector<NoteSignature>> parse_note_signature_lines(std::string_view lines);

// text, a blank line, then each signature line.
std::string format_signed_note(const SignedNote& note);

// Splits a note into text and signature lines, checking the format only (no
// signature is verified). The text is everything up to the last blank line.
// malformed (with what is wrong) or too_large.
Result<SignedNote> parse_signed_note(std::string_view note);

// A verifier key: who signs, and with which key and signature type.
struct VerifierKey {
  std::string name;
  NoteSignatureType type = NoteSignatureType::ed25519;
  Ed25519PublicKey public_key{};
  std::uint32_t key_id() const { return signed_note_key_id(name, type, public_key); }
  friend bool operator==(const VerifierKey&, const VerifierKey&) = default;
};

// "<name>+<8 hex digits>+<base64(type || key)>". bad_key for any other text,
// an unknown type, or a key ID that does not match the name and key.
Result<VerifierKey> parse_verifier_key(std::string_view vkey);
std::string format_verifier_key(const VerifierKey& key);

}  // namespace fpx
