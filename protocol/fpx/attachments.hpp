// Attachments (issue 17): photos of markings and documents, carried by hash
// in the signed header (header.capnp:Attachment) with their bytes in
// Envelope.attachments (docs/PROTOCOL.md §5.7).
//
// Both ends use these rules: the sealer refuses to sign what a verifier would
// refuse, and open() runs check_attachments on every envelope, so the broker
// stores nothing whose bytes, type or size break them, and a recipient
// checks again. The type comes from the bytes' magic, never from the name
// alone: an HTML or SVG file renamed .png is refused.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fpx/crypto.hpp"
#include "fpx/result.hpp"
#include "fpx/wire/header.capnp.h"

namespace fpx {

// How many files one message may carry: stops a header of thousands of tiny
// entries that each cost a hash, a row in every case view and a file name.
inline constexpr std::size_t kMaxAttachments = 8;
// One file's bytes: a photo of markings or a scanned page fits; a video does
// not. Stops one attachment from taking a participant's whole storage burst.
inline constexpr std::size_t kMaxAttachmentBytes = 512 * 1024;
// All files of one message together: kept under the broker's default frame
// limit (1 MiB, docs/PROTOCOL.md §2.6) with room for the header, body and
// signer chain, so an accepted attachment never makes its envelope unsendable.
inline constexpr std::size_t kMaxAttachmentBytesPerMessage = 768 * 1024;
// A file name: stops names used as a storage or screen-flooding channel.
inline constexpr std::size_t kMaxAttachmentFileName = 128;

// "image/png" and so on; "" for unspecified or unknown values.
std::string_view media_type_name(wire::MediaType type);

// The media type the bytes' magic announces (JPEG FF D8 FF, PNG's 8-byte
// signature, PDF "%PDF-"); schema_violation for anything else, so a type
// outside the allow-list is refused whatever its name says.
Result<wire::MediaType> sniff_media_type(ByteView bytes);

// A file name as it may be signed: the last path component only, every
// character outside A-Z a-z 0-9 . _ - ( ) space replaced by '_', no leading
// '.', cut to kMaxAttachmentFileName, and ending in an extension of `type`
// (appended when missing). Never empty.
std::string sanitize_attachment_name(std::string_view raw, wire::MediaType type);

// An attachment ready to seal.
struct AttachmentFile {
  std::string file_name;  // already sanitised
  wire::MediaType media_type = wire::MediaType::UNSPECIFIED;
  Bytes bytes;
};

// Checks size and type (by magic) and sanitises the name: the one way a
// client turns a file into an AttachmentFile. too_large over
// kMaxAttachmentBytes, schema_violation for a type outside the allow-list.
Result<AttachmentFile> make_attachment(std::string_view file_name, Bytes bytes);

// What the signed header says of one attachment.
struct AttachmentInfo {
  std::string file_name;
  wire::MediaType media_type = wire::MediaType::UNSPECIFIED;
  std::uint64_t size = 0;
  Bytes sha256;  // as signed; 32 bytes once check_attachments passed
};
std::vector<AttachmentInfo> attachments_of(wire::Header::Reader header);

// Fills header.attachments from `files` (count, per-file and per-message
// limits, names and types checked again). Called by seal_envelope.
Status set_attachments(wire::Header::Builder header, std::span<const AttachmentFile> files);

// The rules every verifier applies, given the signed header and the bytes
// that came with it: count and sizes within the limits (too_large), names
// sanitised and types in the allow-list and matching the bytes' magic
// (schema_violation), one byte string per entry whose size and SHA-256 are
// the signed ones (body_hash_mismatch).
Status check_attachments(wire::Header::Reader header, std::span<const ByteView> bytes);

// One saved attachment checked against its signed entry before anyone uses
// it (body_hash_mismatch otherwise).
Status verify_attachment_bytes(const AttachmentInfo& info, ByteView bytes);

}  // namespace fpx
