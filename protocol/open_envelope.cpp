#include <cstring>

#include <openssl/x509.h>
#include <kj/exception.h>

#include "fpx/aligned_reader.hpp"
#include "fpx/envelope.hpp"

namespace fpx {

namespace {

ByteView data_view(capnp::Data::Reader data) { return {data.begin(), data.size()}; }

}  // namespace

// The header and body, each one canonical segment in its own aligned copy
// (the envelope they came from is gone once open() returns).
struct DecodedMessage::Buffers {
  std::optional<AlignedMessage> header;
  std::optional<AlignedMessage> body;
  std::vector<Bytes> attachments;
};

DecodedMessage::DecodedMessage(std::unique_ptr<Buffers> buffers) : buffers_(std::move(buffers)) {}
DecodedMessage::DecodedMessage(DecodedMessage&&) noexcept = default;
DecodedMessage& DecodedMessage::operator=(DecodedMessage&&) noexcept = default;
DecodedMessage::~DecodedMessage() = default;

wire::Header::Reader DecodedMessage::header() const { return buffers_->header->root<wire::Header>(); }
wire::Body::Reader DecodedMessage::body() const { return buffers_->body->root<wire::Body>(); }
ByteView DecodedMessage::header_bytes() const { return buffers_->header->bytes(); }
ByteView DecodedMessage::body_bytes() const { return buffers_->body->bytes(); }
const std::vector<Bytes>& DecodedMessage::attachments() const { return buffers_->attachments; }

Result<OpenedEnvelope> EnvelopeOpener::open(ByteView envelope_bytes, const OpenOptions& options) {
  const std::int64_t now = options.now_ms != 0 ? options.now_ms : now_ms();
  if (envelope_bytes.size() > kMaxEnvelopeBytes) {
    return make_error(ErrorCode::too_large, "envelope of " + std::to_string(envelope_bytes.size()) +
                                                " bytes exceeds the limit of " + std::to_string(kMaxEnvelopeBytes));
  }
  try {
    // 1. Decode the outer envelope (not signed; its fields are checked one by one).
    auto envelope_message = AlignedMessage::open(envelope_bytes, Framing::flat, "envelope");
    if (!envelope_message) return std::move(envelope_message).take_error();
    auto envelope = envelope_message->root<wire::Envelope>();
    ByteView header_bytes = data_view(envelope.getHeader());
    ByteView body_bytes = data_view(envelope.getBody());
    ByteView signature = data_view(envelope.getSignature());
    std::vector<ByteView> chain_der;
    for (auto certificate : envelope.getSignerChain()) chain_der.push_back(data_view(certificate));

    // 2. Header: canonical form, version, the fields everything else needs.
    auto buffers = std::make_unique<DecodedMessage::Buffers>();
    auto header_message = AlignedMessage::open(header_bytes, Framing::canonical, "header", Ownership::copy);
    if (!header_message) return std::move(header_message).take_error();
    buffers->header = std::move(header_message).value();
    auto header = buffers->header->root<wire::Header>();
    if (header.getSchemaVersion() != kSchemaVersion) {
      return make_error(ErrorCode::unsupported_version,
                        "schema version " + std::to_string(header.getSchemaVersion()) + " is not supported; this "
                        "exchange speaks version " + std::to_string(kSchemaVersion));
    }
    auto message_id = MessageId::from_bytes(data_view(header.getMessageId()));
    if (!message_id) return make_error(ErrorCode::malformed, "message id must be 16 bytes");

    // 3. Body hash: binds the body to the signed header.
    Sha256Digest body_hash = sha256(body_bytes);
    ByteView claimed_hash = data_view(header.getBodySha256());
    if (claimed_hash.size() != body_hash.size() ||
        std::memcmp(claimed_hash.data(), body_hash.data(), body_hash.size()) != 0) {
      return make_error(ErrorCode::body_hash_mismatch, "the body does not match the SHA-256 in the signed header");
    }

    // 3b. Attachments (issue 17): limits, names and types as signed, and
    // every byte string against its signed size, SHA-256 and magic, so the
    // broker stores nothing that is not what the signer listed.
    std::vector<ByteView> attachment_bytes;
    for (auto part : envelope.getAttachments()) attachment_bytes.push_back(data_view(part));
    if (auto checked = check_attachments(header, attachment_bytes); !checked) return std::move(checked).take_error();

    // 4. Signer chain to the root (cached per distinct chain), then the
    // signature over exactly the bytes received, with the leaf's key.
    auto chain = trust_.resolve_chain(chain_der);
    if (!chain) return std::move(chain).take_error();
    Bytes signed_bytes = concat({as_bytes(kSignatureContext), header_bytes});
    const Certificate& leaf = TrustStore::leaf_of(**chain);
    if (!ed25519_verify(X509_get0_pubkey(leaf.get()), signed_bytes, signature)) {
      return make_error(ErrorCode::bad_signature,
                        "the signature does not verify with the certificate " + leaf.subject_text());
    }

    // 5. Only now trust the signed created-at: chain validity at that time,
    // revocation by the current CRLs.
    const std::int64_t created_at = header.getCreatedAtMs();
    auto signer = trust_.check_chain_at(**chain, created_at, now, options.revocation);
    if (!signer) return std::move(signer).take_error();

    // 6. The signed sender must be the certificate's holder.
    if (header.getSenderParticipant() != signer->participant.id.str().c_str() ||
        header.getSenderCountry() != signer->participant.country.str().c_str()) {
      return make_error(ErrorCode::signer_mismatch,
                        std::string("header names sender ") + header.getSenderParticipant().cStr() + " (" +
                            header.getSenderCountry().cStr() + ") but is signed by " + signer->participant.id.str() +
                            " (" + signer->participant.country.str() + ")");
    }
    // The signed officer must be the one the certificate names: an officer
    // cannot sign in a colleague's name, nor the office's certificate in an
    // officer's. Null and empty both mean the participant's own certificate.
    if (header.getOfficer() != signer->participant.officer.c_str()) {
      const std::string claimed = header.getOfficer().cStr();
      return make_error(ErrorCode::signer_mismatch,
                        "header names officer \"" + claimed + "\" but is signed by the certificate of " +
                            (signer->participant.officer.empty() ? std::string("the participant itself")
                                                                 : "officer \"" + signer->participant.officer + "\"") +
                            " of " + signer->participant.id.str() + "; seal with the signer's own certificate");
    }
    const wire::MessageType type = header.getType();
    if (!role_may_sign(signer->participant.role, type)) {
      return make_error(ErrorCode::wrong_role, "a " + std::string(role_name(signer->participant.role)) +
                                                   " may not send a " + std::string(message_type_name(type)));
    }

    // 7. Body: parsed only now, from the bytes the signature covers.
    auto body_message = AlignedMessage::open(body_bytes, Framing::canonical, "body", Ownership::copy);
    if (!body_message) return std::move(body_message).take_error();
    buffers->body = std::move(body_message).value();
    auto body = buffers->body->root<wire::Body>();
    if (message_type_of(body) != type) {
      return make_error(ErrorCode::malformed, "header says " + std::string(message_type_name(type)) +
                                                  " but the body holds " +
                                                  std::string(message_type_name(message_type_of(body))));
    }

    if (options.attachment_bytes == AttachmentBytes::keep) {
      for (auto part : attachment_bytes) buffers->attachments.emplace_back(part.begin(), part.end());
    }

    OpenedEnvelope opened{std::move(signer).value(), *message_id, type, created_at,
                          sha256(envelope_bytes), DecodedMessage(std::move(buffers))};
    return opened;
  } catch (const kj::Exception& exception) {
    // Cap'n Proto reports malformed input (bad pointers, limits) by throwing.
    return make_error(ErrorCode::malformed,
                      std::string("undecodable Cap'n Proto: ") + exception.getDescription().cStr());
  }
}

}  // namespace fpx
