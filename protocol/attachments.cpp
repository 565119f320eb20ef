#include "fpx/attachments.hpp"

#include <algorithm>
#include <array>
#include <cstring>

namespace fpx {

namespace {

constexpr std::size_t kSha256Bytes = std::tuple_size_v<Sha256Digest>;
constexpr std::array<std::uint8_t, 3> kJpegMagic{0xFF, 0xD8, 0xFF};
constexpr std::array<std::uint8_t, 8> kPngMagic{0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
constexpr std::array<std::uint8_t, 5> kPdfMagic{'%', 'P', 'D', 'F', '-'};

template <std::size_t N>
bool starts_with(ByteView bytes, const std::array<std::uint8_t, N>& magic) {
  return bytes.size() >= N && std::equal(magic.begin(), magic.end(), bytes.begin());
}

// The extensions a name of each type may end in; the first is appended when
// a name has none of them, so a recipient's system never opens a photo as
// something else because of its name.
std::vector<std::string_view> extensions_of(wire::MediaType type) {
  switch (type) {
    case wire::MediaType::IMAGE_JPEG: return {".jpg", ".jpeg"};
    case wire::MediaType::IMAGE_PNG: return {".png"};
    case wire::MediaType::APPLICATION_PDF: return {".pdf"};
    default: return {};
  }
}

bool allowed_name_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-' || c == '(' || c == ')' || c == ' ';
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool has_extension_of(std::string_view name, wire::MediaType type) {
  const std::string lowered = lower(name);
  for (auto extension : extensions_of(type)) {
    if (lowered.size() > extension.size() && lowered.ends_with(extension)) return true;
  }
  return false;
}

// Why a signed name is not one sanitize_attachment_name could have made; "" if it is.
std::string name_problem(std::string_view name, wire::MediaType type) {
  if (name.empty()) return "is empty";
  if (name.size() > kMaxAttachmentFileName) {
    return "is longer than " + std::to_string(kMaxAttachmentFileName) + " characters";
  }
  if (name.front() == '.') return "starts with '.'";
  if (!std::all_of(name.begin(), name.end(), allowed_name_char)) {
    return "holds a character outside A-Z a-z 0-9 . _ - ( ) and space (a path, a control or markup character)";
  }
  if (!has_extension_of(name, type)) {
    return "does not end in an extension of " + std::string(media_type_name(type));
  }
  return "";
}

std::string entry_label(std::size_t index) { return "attachment " + std::to_string(index); }

Status check_limits(std::size_t count, std::size_t largest, std::size_t total) {
  if (count > kMaxAttachments) {
    return make_error(ErrorCode::too_large, std::to_string(count) + " attachments exceed the limit of " +
                                                std::to_string(kMaxAttachments) + " per message; send the rest in "
                                                "another message (information supplied)");
  }
  if (largest > kMaxAttachmentBytes) {
    return make_error(ErrorCode::too_large, "an attachment of " + std::to_string(largest) +
                                                " bytes exceeds the limit of " + std::to_string(kMaxAttachmentBytes) +
                                                " bytes per file; reduce the photo's resolution or split the document");
  }
  if (total > kMaxAttachmentBytesPerMessage) {
    return make_error(ErrorCode::too_large, "attachments of " + std::to_string(total) +
                                                " bytes together exceed the limit of " +
                                                std::to_string(kMaxAttachmentBytesPerMessage) +
                                                " bytes per message; send the rest in another message");
  }
  return {};
}

}  // namespace

std::string_view media_type_name(wire::MediaType type) {
  switch (type) {
    case wire::MediaType::IMAGE_JPEG: return "image/jpeg";
    case wire::MediaType::IMAGE_PNG: return "image/png";
    case wire::MediaType::APPLICATION_PDF: return "application/pdf";
    default: return "";
  }
}

Result<wire::MediaType> sniff_media_type(ByteView bytes) {
  if (starts_with(bytes, kJpegMagic)) return wire::MediaType::IMAGE_JPEG;
  if (starts_with(bytes, kPngMagic)) return wire::MediaType::IMAGE_PNG;
  if (starts_with(bytes, kPdfMagic)) return wire::MediaType::APPLICATION_PDF;
  return make_error(ErrorCode::schema_violation,
                    "the file is not a JPEG, PNG or PDF (by its first bytes, whatever its name says); attach a photo "
                    "(JPEG or PNG) or a PDF document");
}

std::string sanitize_attachment_name(std::string_view raw, wire::MediaType type) {
  // Only the last component of any path, Windows or POSIX: a name never
  // carries a directory to the recipient.
  if (auto slash = raw.find_last_of("/\\"); slash != std::string_view::npos) raw.remove_prefix(slash + 1);
  std::string name;
  for (char c : raw) name.push_back(allowed_name_char(c) ? c : '_');
  while (!name.empty() && (name.front() == '.' || name.front() == ' ')) name.erase(name.begin());
  const auto extensions = extensions_of(type);
  const std::string_view extension = extensions.empty() ? std::string_view{} : extensions.front();
  if (!has_extension_of(name, type)) {
    if (name.empty()) name = "attachment";
    if (name.size() + extension.size() > kMaxAttachmentFileName) {
      name.resize(kMaxAttachmentFileName - extension.size());
    }
    name += extension;
  } else if (name.size() > kMaxAttachmentFileName) {
    // Keep the extension: cut the stem.
    const auto dot = name.find_last_of('.');
    const std::string tail = name.substr(dot);
    name = name.substr(0, kMaxAttachmentFileName - tail.size()) + tail;
  }
  return name;
}

Result<AttachmentFile> make_attachment(std::string_view file_name, Bytes bytes) {
  if (bytes.size() > kMaxAttachmentBytes) {
    return make_error(ErrorCode::too_large, std::string(file_name) + " has " + std::to_string(bytes.size()) +
                                                " bytes, over the limit of " + std::to_string(kMaxAttachmentBytes) +
                                                " per attachment; reduce the photo's resolution or split the document");
  }
  auto type = sniff_media_type(bytes);
  if (!type) {
    Error error = std::move(type).take_error();
    error.message = std::string(file_name) + ": " + error.message;
    return error;
  }
  return AttachmentFile{sanitize_attachment_name(file_name, *type), *type, std::move(bytes)};
}

std::vector<AttachmentInfo> attachments_of(wire::Header::Reader header) {
  std::vector<AttachmentInfo> out;
  for (auto entry : header.getAttachments()) {
    AttachmentInfo info;
    info.file_name = entry.getFileName().cStr();
    info.media_type = entry.getMediaType();
    info.size = entry.getSize();
    info.sha256.assign(entry.getSha256().begin(), entry.getSha256().end());
    out.push_back(std::move(info));
  }
  return out;
}

Status set_attachments(wire::Header::Builder header, std::span<const AttachmentFile> files) {
  if (files.empty()) return {};
  std::size_t largest = 0;
  std::size_t total = 0;
  for (const auto& file : files) {
    largest = std::max(largest, file.bytes.size());
    total += file.bytes.size();
  }
  if (auto limits = check_limits(files.size(), largest, total); !limits) return limits;
  auto entries = header.initAttachments(static_cast<unsigned>(files.size()));
  for (unsigned i = 0; i < files.size(); ++i) {
    const auto& file = files[i];
    auto sniffed = sniff_media_type(file.bytes);
    if (!sniffed || *sniffed != file.media_type) {
      return make_error(ErrorCode::invalid_argument, entry_label(i) + " (" + file.file_name + ") is not the " +
                                                         std::string(media_type_name(file.media_type)) +
                                                         " it claims to be; build it with make_attachment()");
    }
    if (auto problem = name_problem(file.file_name, file.media_type); !problem.empty()) {
      return make_error(ErrorCode::invalid_argument, entry_label(i) + " name \"" + file.file_name + "\" " + problem +
                                                         "; build it with make_attachment()");
    }
    const Sha256Digest digest = sha256(file.bytes);
    entries[i].setFileName(file.file_name);
    entries[i].setMediaType(file.media_type);
    entries[i].setSize(file.bytes.size());
    entries[i].setSha256(kj::arrayPtr(digest.data(), digest.size()));
  }
  return {};
}

Status check_attachments(wire::Header::Reader header, std::span<const ByteView> bytes) {
  const auto entries = header.getAttachments();
  // Limits first, on the signed sizes and the bytes received alike, before
  // hashing anything.
  std::size_t largest = 0;
  std::size_t total = 0;
  for (auto entry : entries) {
    // Saturate: a signed size near 2^64 must not wrap the total.
    const std::uint64_t size = std::min<std::uint64_t>(entry.getSize(), kMaxAttachmentBytesPerMessage + 1);
    largest = std::max<std::size_t>(largest, size);
    total += size;
  }
  for (auto part : bytes) {
    largest = std::max(largest, part.size());
  }
  std::size_t received = 0;
  for (auto part : bytes) received += part.size();
  if (auto limits = check_limits(std::max<std::size_t>(entries.size(), bytes.size()), largest,
                                 std::max(total, received));
      !limits) {
    return limits;
  }

  std::vector<FieldError> problems;
  for (unsigned i = 0; i < entries.size(); ++i) {
    const auto entry = entries[i];
    const std::string path = "header.attachments[" + std::to_string(i) + "]";
    const auto type = entry.getMediaType();
    if (media_type_name(type).empty()) {
      problems.push_back({path + ".mediaType", "not one of image/jpeg, image/png, application/pdf"});
      continue;
    }
    if (auto problem = name_problem(entry.getFileName().cStr(), type); !problem.empty()) {
      problems.push_back({path + ".fileName", "the file name " + problem});
    }
    if (entry.getSha256().size() != kSha256Bytes) {
      problems.push_back({path + ".sha256", "must be 32 bytes"});
    }
  }
  if (!problems.empty()) {
    Error error{ErrorCode::schema_violation,
                std::to_string(problems.size()) + " attachment field(s) break the exchange's rules; seal the files "
                                                  "again with a client that sanitises names and checks types",
                std::move(problems)};
    return error;
  }

  if (bytes.size() != entries.size()) {
    return make_error(ErrorCode::body_hash_mismatch,
                      "the signed header lists " + std::to_string(entries.size()) + " attachment(s) but the envelope "
                      "carries " + std::to_string(bytes.size()) + "; send the envelope exactly as sealed");
  }
  for (unsigned i = 0; i < entries.size(); ++i) {
    const auto entry = entries[i];
    const ByteView part = bytes[i];
    if (part.size() != entry.getSize()) {
      return make_error(ErrorCode::body_hash_mismatch, entry_label(i) + " has " + std::to_string(part.size()) +
                                                           " bytes but the signed header says " +
                                                           std::to_string(entry.getSize()));
    }
    const Sha256Digest digest = sha256(part);
    if (std::memcmp(digest.data(), entry.getSha256().begin(), digest.size()) != 0) {
      return make_error(ErrorCode::body_hash_mismatch,
                        entry_label(i) + " does not match the SHA-256 in the signed header");
    }
    // The hash binds the bytes to the signer; the magic says they are what
    // the signer called them (a renamed HTML or SVG page is refused here).
    auto sniffed = sniff_media_type(part);
    if (!sniffed || *sniffed != entry.getMediaType()) {
      Error error{ErrorCode::schema_violation,
                  entry_label(i) + " is not the " + std::string(media_type_name(entry.getMediaType())) +
                      " its signed header says (by its first bytes); only JPEG, PNG and PDF files may be attached",
                  {{"header.attachments[" + std::to_string(i) + "].mediaType", "does not match the file's bytes"}}};
      return error;
    }
  }
  return {};
}

Status verify_attachment_bytes(const AttachmentInfo& info, ByteView bytes) {
  if (bytes.size() != info.size) {
    return make_error(ErrorCode::body_hash_mismatch, "the attachment has " + std::to_string(bytes.size()) +
                                                         " bytes but its signed entry says " +
                                                         std::to_string(info.size));
  }
  const Sha256Digest digest = sha256(bytes);
  if (info.sha256.size() != digest.size() || std::memcmp(digest.data(), info.sha256.data(), digest.size()) != 0) {
    return make_error(ErrorCode::body_hash_mismatch,
                      "the attachment does not match the SHA-256 in the signed header; do not use it");
  }
  return {};
}

}  // namespace fpx
