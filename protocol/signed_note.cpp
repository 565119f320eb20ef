// C2SP signed notes with many signature lines, and verifier keys.
// Base64 is OpenSSL's (EVP_EncodeBlock/EVP_DecodeBlock), made strict by
// re-encoding and comparing, so exactly one text stands for each value.
#include "fpx/signed_note.hpp"

#include <openssl/evp.h>

#include <array>
#include <charconv>
#include <string>

#include "fpx/transparency_log.hpp"

namespace fpx {

namespace {

constexpr std::string_view kEmDashSpace = "\xE2\x80\x94 ";  // U+2014 then U+0020
constexpr std::size_t kKeyIdHexDigits = 2 * kNoteKeyIdSize;

Error malformed(std::string what) {
  return make_error(ErrorCode::malformed, "signed note: " + what);
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

std::array<std::uint8_t, kNoteKeyIdSize> key_id_bytes(std::uint32_t id) {
  return {static_cast<std::uint8_t>(id >> 24), static_cast<std::uint8_t>(id >> 16), static_cast<std::uint8_t>(id >> 8),
          static_cast<std::uint8_t>(id)};
}

std::uint32_t key_id_of(ByteView four) {
  return (std::uint32_t{four[0]} << 24) | (std::uint32_t{four[1]} << 16) | (std::uint32_t{four[2]} << 8) |
         std::uint32_t{four[3]};
}

// One line without its newline: "— <name> <base64>".
Result<NoteSignature> parse_signature_line(std::string_view line) {
  if (line.substr(0, kEmDashSpace.size()) != kEmDashSpace)
    return malformed("a signature line does not begin with \"— \"");
  const auto rest = line.substr(kEmDashSpace.size());
  const auto space = rest.find(' ');
  if (space == std::string_view::npos) return malformed("a signature line has no signature after its key name");
  const auto name = rest.substr(0, space);
  if (!valid_note_key_name(name)) return malformed("a signature line has an invalid key name");
  const auto encoded = rest.substr(space + 1);
  if (encoded.size() > 4 * ((kNoteKeyIdSize + kMaxNoteSignatureBytes + 2) / 3)) {
    return make_error(ErrorCode::too_large,
                      "signed note: a signature is longer than " + std::to_string(kMaxNoteSignatureBytes) + " bytes");
  }
  auto blob = note_base64_decode(encoded);
  if (!blob || blob->size() <= kNoteKeyIdSize)
    return malformed("a signature is not base64 of a key ID and a signature");
  NoteSignature signature;
  signature.key_name = std::string(name);
  signature.key_id = key_id_of(ByteView(*blob).first(kNoteKeyIdSize));
  signature.signature.assign(blob->begin() + kNoteKeyIdSize, blob->end());
  return signature;
}

}  // namespace

std::uint32_t signed_note_key_id(std::string_view key_name, NoteSignatureType type,
                                 const Ed25519PublicKey& public_key) {
  const std::uint8_t separator[2] = {'\n', static_cast<std::uint8_t>(type)};
  const auto digest = sha256(concat({as_bytes(key_name), separator, public_key}));
  return key_id_of(digest);
}

std::string note_base64_encode(ByteView bytes) {
  // EVP_EncodeBlock writes 4 characters per 3 bytes and a terminating NUL.
  std::string buffer(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int written =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(buffer.data()), bytes.data(), static_cast<int>(bytes.size()));
  buffer.resize(static_cast<std::size_t>(written));
  return buffer;
}

std::optional<Bytes> note_base64_decode(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0 || text.size() > kMaxSignedNoteBytes) return std::nullopt;
  Bytes out(text.size() / 4 * 3);
  const int written =
      EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (written < 0 || static_cast<std::size_t>(written) != out.size()) return std::nullopt;
  // EVP_DecodeBlock counts the bytes that padding stands for as zeros.
  std::size_t padding = 0;
  if (text.back() == '=') ++padding;
  if (text.size() >= 2 && text[text.size() - 2] == '=') ++padding;
  out.resize(out.size() - padding);
  if (note_base64_encode(out) != text) return std::nullopt;  // not the canonical encoding
  return out;
}

bool valid_note_text(std::string_view text) {
  for (std::size_t pos = 0; pos < text.size();) {
    const auto c = next_code_point(text, pos);
    if (!c || (*c < 0x20 && *c != U'\n') || *c == 0x7F) return false;
  }
  return true;
}

std::string format_note_signature_line(const NoteSignature& signature) {
  const auto id = key_id_bytes(signature.key_id);
  std::string line(kEmDashSpace);
  line.append(signature.key_name).append(" ");
  line.append(note_base64_encode(concat({id, signature.signature}))).append("\n");
  return line;
}

Result<std::vector<NoteSignature>> parse_note_signature_lines(std::string_view lines) {
  if (lines.size() > kMaxSignedNoteBytes) {
    return make_error(ErrorCode::too_large,
                      "signed note: signature lines longer than " + std::to_string(kMaxSignedNoteBytes) + " bytes");
  }
  if (!valid_note_text(lines)) return malformed("not UTF-8 text without control characters");
  if (lines.empty()) return malformed("no signature line");
  if (lines.back() != '\n') return malformed("the last signature line does not end in a newline");
  std::vector<NoteSignature> signatures;
  while (!lines.empty()) {
    if (signatures.size() == kMaxNoteSignatures) {
      return make_error(ErrorCode::too_large,
                        "signed note: more than " + std::to_string(kMaxNoteSignatures) + " signature lines");
    }
    const auto end = lines.find('\n');
    auto signature = parse_signature_line(lines.substr(0, end));
    if (!signature) return std::move(signature).take_error();
    signatures.push_back(std::move(*signature));
    lines.remove_prefix(end + 1);
  }
  return signatures;
}

std::string format_signed_note(const SignedNote& note) {
  std::string out = note.text;
  out.append("\n");
  for (const auto& signature : note.signatures) out.append(format_note_signature_line(signature));
  return out;
}

Result<SignedNote> parse_signed_note(std::string_view note) {
  if (note.size() > kMaxSignedNoteBytes) {
    return make_error(ErrorCode::too_large,
                      "signed note: longer than " + std::to_string(kMaxSignedNoteBytes) + " bytes");
  }
  if (!valid_note_text(note)) return malformed("not UTF-8 text without control characters");
  if (note.empty() || note.back() != '\n') return malformed("does not end in a newline");
  // The text ends at the last blank line; signature lines follow it (a
  // signature line never holds a newline, so the last "\n\n" is the one).
  const auto blank = note.rfind("\n\n");
  if (blank == std::string_view::npos) return malformed("no blank line before the signatures");
  SignedNote parsed;
  parsed.text = std::string(note.substr(0, blank + 1));
  if (parsed.text.size() <= 1) return malformed("the text is empty");
  auto signatures = parse_note_signature_lines(note.substr(blank + 2));
  if (!signatures) return std::move(signatures).take_error();
  parsed.signatures = std::move(*signatures);
  return parsed;
}

Result<VerifierKey> parse_verifier_key(std::string_view vkey) {
  const auto bad = [&](const std::string& what) {
    return make_error(ErrorCode::bad_key, "verifier key: " + what +
                                              "; expected <name>+<8 hex digits>+<base64 of type and key>, as "
                                              "`fpx witness init` prints it");
  };
  if (vkey.size() > 1024) return bad("longer than 1024 characters");
  const auto first = vkey.find('+');
  if (first == std::string_view::npos) return bad("no '+'");
  const auto second = vkey.find('+', first + 1);
  if (second == std::string_view::npos) return bad("only one '+'");
  const auto name = vkey.substr(0, first);
  const auto id_hex = vkey.substr(first + 1, second - first - 1);
  const auto key_text = vkey.substr(second + 1);
  if (!valid_note_key_name(name)) return bad("the name is empty or holds a space or a control character");
  if (id_hex.size() != kKeyIdHexDigits) return bad("the key ID is not 8 hex digits");
  const auto id = from_hex(id_hex);
  if (!id || to_hex(*id) != id_hex) return bad("the key ID is not 8 lower-case hex digits");
  const auto key = note_base64_decode(key_text);
  if (!key || key->size() != 1 + kEd25519PublicKeySize) return bad("the key is not base64 of a type byte and 32 bytes");
  VerifierKey parsed;
  parsed.name = std::string(name);
  const auto type = (*key)[0];
  if (type == static_cast<std::uint8_t>(NoteSignatureType::ed25519)) {
    parsed.type = NoteSignatureType::ed25519;
  } else if (type == static_cast<std::uint8_t>(NoteSignatureType::cosignature_v1)) {
    parsed.type = NoteSignatureType::cosignature_v1;
  } else {
    return bad("signature type " + std::to_string(type) + " is not 1 (Ed25519) or 4 (cosignature/v1)");
  }
  std::copy(key->begin() + 1, key->end(), parsed.public_key.begin());
  if (parsed.key_id() != key_id_of(*id)) return bad("the key ID does not match the name and key");
  return parsed;
}

std::string format_verifier_key(const VerifierKey& key) {
  const std::uint8_t type[1] = {static_cast<std::uint8_t>(key.type)};
  std::string out(key.name);
  out.append("+").append(to_hex(key_id_bytes(key.key_id())));
  out.append("+").append(note_base64_encode(concat({type, key.public_key})));
  return out;
}

}  // namespace fpx
