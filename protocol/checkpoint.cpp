// C2SP checkpoints: the transparency log's tree head as a signed note.
//   c2sp.org/tlog-checkpoint: body "<origin>\n<size>\n<base64 root>\n"
//   c2sp.org/signed-note: then "\n" and lines "— <key name> <base64(key id || signature)>\n"
// Base64 is OpenSSL's (EVP_EncodeBlock/EVP_DecodeBlock); decoding is made
// strict by re-encoding and comparing, so exactly one text stands for each
// value (no whitespace, no stray padding bits).
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fpx/transparency_log.hpp"

namespace fpx {

namespace {

constexpr std::uint8_t kEd25519SignatureType = 0x01;
constexpr std::string_view kEmDashSpace = "\xE2\x80\x94 ";  // U+2014 then U+0020
// Far above one broker signature plus witness cosignatures (the spec asks
// verifiers to accept at least 16 signatures, post-quantum ones up to ~5 kB).
constexpr std::size_t kMaxNoteBytes = 128 * 1024;
constexpr std::size_t kKeyIdSize = 4;

std::string base64_encode(ByteView bytes) {
  // EVP_EncodeBlock writes 4 characters per 3 bytes and a terminating NUL.
  std::vector<unsigned char> buffer(4 * ((bytes.size() + 2) / 3) + 1);
  const int written = EVP_EncodeBlock(buffer.data(), bytes.data(), static_cast<int>(bytes.size()));
  return {reinterpret_cast<const char*>(buffer.data()), static_cast<std::size_t>(written)};
}

std::optional<Bytes> base64_decode(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0 || text.size() > kMaxNoteBytes) return std::nullopt;
  Bytes out(text.size() / 4 * 3);
  const int written = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                                      static_cast<int>(text.size()));
  if (written < 0) return std::nullopt;
  // EVP_DecodeBlock counts the bytes that padding stands for as zeros.
  std::size_t padding = 0;
  if (text.back() == '=') ++padding;
  if (text.size() >= 2 && text[text.size() - 2] == '=') ++padding;
  if (static_cast<std::size_t>(written) != out.size()) return std::nullopt;
  out.resize(out.size() - padding);
  if (base64_encode(out) != text) return std::nullopt;  // not the canonical encoding
  return out;
}

// Decodes one UTF-8 sequence at text[pos]; nullopt for anything ill-formed
// (overlong, surrogate, beyond U+10FFFF, truncated).
std::optional<char32_t> next_code_point(std::string_view text, std::size_t& pos) {
  const auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(text[i]); };
  const std::uint8_t first = byte(pos);
  std::size_t length = 0;
  char32_t value = 0;
  char32_t minimum = 0;
  if (first < 0x80) {
    ++pos;
    return first;
  } else if ((first & 0xE0) == 0xC0) {
    length = 2, value = first & 0x1F, minimum = 0x80;
  } else if ((first & 0xF0) == 0xE0) {
    length = 3, value = first & 0x0F, minimum = 0x800;
  } else if ((first & 0xF8) == 0xF0) {
    length = 4, value = first & 0x07, minimum = 0x10000;
  } else {
    return std::nullopt;
  }
  if (pos + length > text.size()) return std::nullopt;
  for (std::size_t i = 1; i < length; ++i) {
    if ((byte(pos + i) & 0xC0) != 0x80) return std::nullopt;
    value = (value << 6) | (byte(pos + i) & 0x3F);
  }
  if (value < minimum || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) return std::nullopt;
  pos += length;
  return value;
}

// Go's unicode.IsSpace set, which the reference implementation applies to key names.
bool is_unicode_space(char32_t c) {
  return c == U' ' || (c >= U'\t' && c <= U'\r') || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// Valid UTF-8 with no control character but newline, as signed notes require.
bool valid_note_text(std::string_view text) {
  for (std::size_t pos = 0; pos < text.size();) {
    const auto c = next_code_point(text, pos);
    if (!c || (*c < 0x20 && *c != U'\n') || *c == 0x7F) return false;
  }
  return true;
}

std::array<std::uint8_t, kKeyIdSize> key_id_bytes(std::uint32_t id) {
  return {static_cast<std::uint8_t>(id >> 24), static_cast<std::uint8_t>(id >> 16),
          static_cast<std::uint8_t>(id >> 8), static_cast<std::uint8_t>(id)};
}

// Splits at '\n'; every line, the last included, must end in one.
std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const auto end = text.find('\n');
    lines.push_back(text.substr(0, end));
    text.remove_prefix(end + 1);
  }
  return lines;
}

std::optional<std::uint64_t> parse_tree_size(std::string_view text) {
  // ASCII digits, no sign, no leading zero but for "0" itself.
  if (text.empty() || (text.size() > 1 && text[0] == '0')) return std::nullopt;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size()) return std::nullopt;  // overflow
  return value;
}

Error malformed(std::string what) {
  return make_error(ErrorCode::malformed, "checkpoint: " + what);
}

}  // namespace

bool valid_note_key_name(std::string_view key_name) {
  if (key_name.empty()) return false;
  for (std::size_t pos = 0; pos < key_name.size();) {
    const auto c = next_code_point(key_name, pos);
    if (!c || *c < 0x20 || *c == 0x7F || *c == U'+' || is_unicode_space(*c)) return false;
  }
  return true;
}

std::uint32_t note_key_id(std::string_view key_name, const Ed25519PublicKey& public_key) {
  const std::uint8_t separator[2] = {'\n', kEd25519SignatureType};
  const auto digest = sha256(concat({as_bytes(key_name), separator, public_key}));
  return (std::uint32_t{digest[0]} << 24) | (std::uint32_t{digest[1]} << 16) | (std::uint32_t{digest[2]} << 8) |
         std::uint32_t{digest[3]};
}

std::string note_verifier_key(std::string_view key_name, const Ed25519PublicKey& public_key) {
  const std::uint8_t type[1] = {kEd25519SignatureType};
  std::string out(key_name);
  out.append("+").append(to_hex(key_id_bytes(note_key_id(key_name, public_key))));
  out.append("+").append(base64_encode(concat({type, public_key})));
  return out;
}

std::string sign_note(std::string_view text, std::string_view key_name, const SigningKey& key) {
  assert(!text.empty() && text.back() == '\n' && valid_note_text(text));
  assert(valid_note_key_name(key_name));
  const auto signature = key.sign(as_bytes(text));
  const auto id = key_id_bytes(note_key_id(key_name, key.public_key()));
  std::string note(text);
  note.append("\n").append(kEmDashSpace).append(key_name).append(" ");
  note.append(base64_encode(concat({id, signature}))).append("\n");
  return note;
}

std::string sign_checkpoint(std::string_view origin, std::uint64_t size, const Sha256Digest& root,
                            std::string_view key_name, const SigningKey& key) {
  assert(!origin.empty() && origin.find('\n') == std::string_view::npos);
  std::string body(origin);
  body.append("\n").append(std::to_string(size)).append("\n").append(base64_encode(root)).append("\n");
  return sign_note(body, key_name, key);
}

Result<Checkpoint> parse_and_verify_checkpoint(std::string_view text, std::string_view key_name,
                                               const Ed25519PublicKey& public_key) {
  if (text.size() > kMaxNoteBytes) return malformed("longer than " + std::to_string(kMaxNoteBytes) + " bytes");
  if (!valid_note_text(text)) return malformed("not UTF-8 text without control characters");
  if (text.empty() || text.back() != '\n') return malformed("does not end in a newline");
  // The note text ends at the last blank line; signature lines follow it.
  const auto blank = text.rfind("\n\n");
  if (blank == std::string_view::npos) return malformed("no blank line before the signatures");
  const std::string_view body = text.substr(0, blank + 1);
  const std::string_view signature_block = text.substr(blank + 2);
  if (signature_block.empty()) return malformed("no signature line");

  const auto body_lines = split_lines(body);
  if (body_lines.size() != 3) {
    return malformed("the body has " + std::to_string(body_lines.size()) +
                     " lines; FPX checkpoints have exactly origin, size and root (no extension lines)");
  }
  Checkpoint checkpoint;
  if (body_lines[0].empty()) return malformed("empty origin line");
  checkpoint.origin = std::string(body_lines[0]);
  const auto size = parse_tree_size(body_lines[1]);
  if (!size) return malformed("the tree size is not a decimal number without leading zeros");
  checkpoint.size = *size;
  const auto root = base64_decode(body_lines[2]);
  if (!root || root->size() != checkpoint.root.size()) return malformed("the root is not a base64 SHA-256 hash");
  std::copy(root->begin(), root->end(), checkpoint.root.begin());

  const auto our_id = key_id_bytes(note_key_id(key_name, public_key));
  bool verified = false;
  for (const auto line : split_lines(signature_block)) {
    if (line.substr(0, kEmDashSpace.size()) != kEmDashSpace) return malformed("a signature line lacks \"— \"");
    const auto rest = line.substr(kEmDashSpace.size());
    const auto space = rest.find(' ');
    if (space == std::string_view::npos) return malformed("a signature line lacks its signature");
    const auto name = rest.substr(0, space);
    if (!valid_note_key_name(name)) return malformed("a signature line has an invalid key name");
    const auto blob = base64_decode(rest.substr(space + 1));
    if (!blob || blob->size() <= kKeyIdSize) return malformed("a signature is not base64 of a key ID and a signature");
    // Another key's signature (a witness, a rotated key): ignored, as the spec requires.
    if (name != key_name || !std::equal(our_id.begin(), our_id.end(), blob->begin())) continue;
    const ByteView signature = ByteView(*blob).subspan(kKeyIdSize);
    if (signature.size() != kEd25519SignatureSize || !ed25519_verify(public_key, as_bytes(body), signature)) {
      // Our name and key ID on a signature that fails: someone altered the
      // note, so refuse it even if another line of ours verifies.
      return make_error(ErrorCode::bad_signature, "checkpoint: the signature of " + std::string(key_name) +
                                                      " does not verify; the checkpoint was altered or forged");
    }
    verified = true;
  }
  if (!verified) {
    return make_error(ErrorCode::bad_signature, "checkpoint: no signature by " + std::string(key_name) +
                                                    " with this public key; check the broker's log key");
  }
  return checkpoint;
}

}  // namespace fpx
