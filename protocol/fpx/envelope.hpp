// Sealing and opening signed envelopes (schemas/envelope.capnp).
//
// seal:  canonical header (with the body's SHA-256) signed with Ed25519 over
//        "fpx/v1\0" || header, plus the signer's chain.
// open:  from untrusted bytes, in this order, each failure its own error:
//        decode (reader limits) -> canonical header -> schema version ->
//        body hash -> attachments (limits, names, types by magic, bytes
//        against their signed size and SHA-256) -> signer chain to the root -> signature over exactly the
//        received header bytes -> chain validity at the (now authenticated)
//        created-at -> revocation by the current CRLs -> sender fields (and
//        officer) match the certificate -> role may send this type -> parse
//        the body, also canonical, from the verified bytes.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include <capnp/message.h>

#include "fpx/aligned_reader.hpp"
#include "fpx/attachments.hpp"
#include "fpx/identity.hpp"
#include "fpx/trust_store.hpp"
#include "fpx/wire/envelope.capnp.h"
#include "fpx/wire/header.capnp.h"
#include "fpx/wire/messages.capnp.h"

namespace fpx {

inline constexpr std::uint16_t kSchemaVersion = 1;
inline constexpr std::string_view kSignatureContext{"fpx/v1\0", 7};
// The broker signs receipts over this context || canonical wire::Receipt.
inline constexpr std::string_view kReceiptSignatureContext{"fpx/v1/receipt\0", 15};
// The exact bytes a receipt signature covers.
Bytes receipt_signing_input(ByteView receipt_bytes);
// The broker signs each public feed record over this context || the record's JSON.
inline constexpr std::string_view kFeedSignatureContext{"fpx/v1/feed\0", 12};
Bytes feed_signing_input(ByteView record);
// A public record the broker itself writes (statistics, reveals) is a leaf
// of the transparency log too: its leaf data is SHA-256 of this label ||
// the record's signed JSON, which carries its own "logIndex".
inline constexpr std::string_view kPublicRecordLeafLabel{"fpx/v1/public-record\0", 21};
Bytes public_record_leaf_data(std::string_view signed_record);

// Limits on every reader of untrusted bytes: they stop amplification
// (pointer loops, huge lists) and stack exhaustion (deep nesting).
inline constexpr std::size_t kMaxEnvelopeBytes = 4 * 1024 * 1024;
inline constexpr int kMaxNestingDepth = kReaderNestingLimit;  // fpx/aligned_reader.hpp

// Which roles may sign which message type (DOMAIN.md "Participants and roles").
bool role_may_sign(Role role, wire::MessageType type);
wire::MessageType message_type_of(wire::Body::Reader body);
std::string_view message_type_name(wire::MessageType type);

// Fills schemaVersion, type (from the body), sender participant, country and
// officer (from the identity; officer only for an officer's certificate),
// messageId (random, if empty), createdAtMs (now, if 0) and bodySha256, then signs. Returns the envelope bytes.
Result<Bytes> seal_envelope(const Identity& signer, wire::Header::Builder header, wire::Body::Reader body);
// The same with attachments (issue 17): their names, types, sizes and
// SHA-256 go into the signed header (set_attachments, which refuses what a
// verifier would refuse), their bytes into Envelope.attachments.
Result<Bytes> seal_envelope(const Identity& signer, wire::Header::Builder header, wire::Body::Reader body,
                            std::span<const AttachmentFile> attachments);

// Decoded header and body, with the buffers that own them. Readers stay valid
// as long as this object lives; it is movable but not copyable.
class DecodedMessage {
 public:
  DecodedMessage(DecodedMessage&&) noexcept;
  DecodedMessage& operator=(DecodedMessage&&) noexcept;
  ~DecodedMessage();

  wire::Header::Reader header() const;
  wire::Body::Reader body() const;
  // The header's and the body's bytes exactly as signed (open() checked
  // both canonical): what capnp::canonicalize() of header() and body() gives
  // for any message open() accepts (a null root, which it does not, aside:
  // AlignedMessage::bytes()), without encoding them again.
  ByteView header_bytes() const;
  ByteView body_bytes() const;
  // The attachments' bytes, in the order of header().getAttachments(), each
  // already checked against its signed size, SHA-256 and type. Empty when
  // opened with AttachmentBytes::check_only.
  const std::vector<Bytes>& attachments() const;

 private:
  friend class EnvelopeOpener;
  struct Buffers;
  explicit DecodedMessage(std::unique_ptr<Buffers> buffers);
  std::unique_ptr<Buffers> buffers_;
};

struct OpenedEnvelope {
  VerifiedSigner signer;
  MessageId message_id;
  wire::MessageType type = wire::MessageType::UNSPECIFIED;
  std::int64_t created_at_ms = 0;
  Sha256Digest envelope_sha256{};
  DecodedMessage message;
};

// Whether open() keeps a copy of the attachments' bytes (DecodedMessage::
// attachments()) or only checks them: a reader of many saved messages (the
// desk's case list) must not hold up to 768 KiB more per message.
enum class AttachmentBytes { keep, check_only };

struct OpenOptions {
  std::int64_t now_ms = 0;  // 0: the current time
  RevocationCheck revocation = RevocationCheck::required;
  AttachmentBytes attachment_bytes = AttachmentBytes::keep;
};

// Opens envelopes against one trust store. Not thread-safe: one per thread.
class EnvelopeOpener {
 public:
  explicit EnvelopeOpener(TrustStore& trust) : trust_(trust) {}
  Result<OpenedEnvelope> open(ByteView envelope_bytes, const OpenOptions& options = {});

 private:
  TrustStore& trust_;
};

}  // namespace fpx
