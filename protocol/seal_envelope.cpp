#include <capnp/serialize.h>
#include <kj/exception.h>

#include "fpx/envelope.hpp"
#include "fpx/time_ordered_id.hpp"

namespace fpx {

namespace {
ByteView word_bytes(kj::ArrayPtr<const capnp::word> words) {
  return {reinterpret_cast<const std::uint8_t*>(words.begin()), words.size() * sizeof(capnp::word)};
}
}  // namespace

Bytes receipt_signing_input(ByteView receipt_bytes) {
  return concat({as_bytes(kReceiptSignatureContext), receipt_bytes});
}

Bytes feed_signing_input(ByteView record) { return concat({as_bytes(kFeedSignatureContext), record}); }

Bytes public_record_leaf_data(std::string_view signed_record) {
  Sha256Digest digest = sha256(concat({as_bytes(kPublicRecordLeafLabel), as_bytes(signed_record)}));
  return Bytes(digest.begin(), digest.end());
}

Result<Bytes> seal_envelope(const Identity& signer, wire::Header::Builder header, wire::Body::Reader body) {
  return seal_envelope(signer, header, body, {});
}

Result<Bytes> seal_envelope(const Identity& signer, wire::Header::Builder header, wire::Body::Reader body,
                            std::span<const AttachmentFile> attachments) {
  try {
    // Before anything is signed: a file a verifier would refuse is never sealed.
    if (attachments.empty()) {
      // A header without attachments keeps its earlier canonical bytes, and
      // a reply drafted from a request does not inherit the request's list.
      if (header.hasAttachments()) (void)header.disownAttachments();
    } else if (auto listed = set_attachments(header, attachments); !listed) {
      return std::move(listed).take_error();
    }
    kj::Array<capnp::word> body_words = capnp::canonicalize(body);
    ByteView body_bytes = word_bytes(body_words);

    header.setSchemaVersion(kSchemaVersion);
    header.setType(message_type_of(body));
    header.setSenderParticipant(signer.participant().id.str());
    header.setSenderCountry(signer.participant().country.str());
    // Only an officer's certificate names an officer: the participant's own
    // certificate leaves the field null, so its headers keep the canonical
    // bytes they had before the field existed.
    if (!signer.participant().officer.empty()) header.setOfficer(signer.participant().officer);
    if (header.getCreatedAtMs() == 0) header.setCreatedAtMs(now_ms());
    if (header.getMessageId().size() == 0) {
      // Time-ordered from the signed createdAtMs: the id's timestamp tells a
      // holder nothing the header does not (PROTOCOL.md §5.3).
      MessageId id = time_ordered_message_id(header.getCreatedAtMs());
      header.setMessageId(kj::arrayPtr(id.bytes.data(), id.bytes.size()));
    }
    Sha256Digest body_hash = sha256(body_bytes);
    header.setBodySha256(kj::arrayPtr(body_hash.data(), body_hash.size()));

    kj::Array<capnp::word> header_words = capnp::canonicalize(header.asReader());
    ByteView header_bytes = word_bytes(header_words);

    Bytes signed_bytes = concat({as_bytes(kSignatureContext), header_bytes});
    Ed25519Signature signature = signer.signing_key().sign(signed_bytes);

    capnp::MallocMessageBuilder message;
    auto envelope = message.initRoot<wire::Envelope>();
    envelope.setHeader(kj::arrayPtr(header_bytes.data(), header_bytes.size()));
    envelope.setBody(kj::arrayPtr(body_bytes.data(), body_bytes.size()));
    envelope.setSignature(kj::arrayPtr(signature.data(), signature.size()));
    auto chain = envelope.initSignerChain(static_cast<unsigned>(signer.chain().size()));
    for (unsigned i = 0; i < chain.size(); ++i) {
      Bytes der = signer.chain()[i].der();
      chain.set(i, kj::arrayPtr(der.data(), der.size()));
    }
    if (!attachments.empty()) {
      auto parts = envelope.initAttachments(static_cast<unsigned>(attachments.size()));
      for (unsigned i = 0; i < parts.size(); ++i) {
        parts.set(i, kj::arrayPtr(attachments[i].bytes.data(), attachments[i].bytes.size()));
      }
    }
    kj::Array<capnp::word> flat = capnp::messageToFlatArray(message);
    ByteView flat_bytes = word_bytes(flat);
    return Bytes(flat_bytes.begin(), flat_bytes.end());
  } catch (const kj::Exception& exception) {
    // The caller built the message; a failure here is a bug or a body that
    // cannot be canonicalized (e.g. it holds capabilities).
    return make_error(ErrorCode::invalid_argument,
                      std::string("cannot seal the message: ") + exception.getDescription().cStr());
  }
}

}  // namespace fpx
