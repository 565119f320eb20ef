#include "support/attachment_envelopes.hpp"

#include <capnp/serialize.h>
#include <catch2/catch.hpp>

#include "support/sample_messages.hpp"

namespace fpx::test {

namespace {

// Made once with Python's zlib (IHDR 1x1 RGB 8-bit, one deflated scanline,
// IEND); every CRC is correct, so browsers and image tools decode it.
constexpr std::uint8_t kOnePixelPng[] = {
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00,
    0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53, 0xDE, 0x00, 0x00, 0x00,
    0x0C, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x38, 0x60, 0xA0, 0x00, 0x00, 0x02, 0xC4, 0x01, 0x11, 0xCC,
    0x8A, 0x3B, 0x5E, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82};

Bytes flat_bytes(capnp::MessageBuilder& message) {
  auto flat = capnp::messageToFlatArray(message);
  auto bytes = flat.asBytes();
  return Bytes(bytes.begin(), bytes.end());
}

}  // namespace

Bytes make_png(std::size_t size) {
  Bytes png(std::begin(kOnePixelPng), std::end(kOnePixelPng));
  if (size > png.size()) png.resize(size, 0);
  return png;
}

Bytes make_jpeg_like(std::size_t size) {
  Bytes jpeg{0xFF, 0xD8, 0xFF, 0xE0};
  if (size > jpeg.size()) jpeg.resize(size, 0x20);
  return jpeg;
}

Bytes seal_request_with(const Identity& signer, const std::vector<AttachmentFile>& files, wire::MessageType type) {
  capnp::MallocMessageBuilder header_message;
  capnp::MallocMessageBuilder body_message;
  auto header = header_message.initRoot<wire::Header>();
  auto body = body_message.initRoot<wire::Body>();
  fill_sample(type, header, body);
  auto sealed = seal_envelope(signer, header, body.asReader(), files);
  REQUIRE(sealed.ok());
  return std::move(sealed).value();
}

Bytes seal_raw_attachments(const Identity& signer, const std::vector<RawAttachment>& entries) {
  capnp::MallocMessageBuilder header_message;
  capnp::MallocMessageBuilder body_message;
  auto header = header_message.initRoot<wire::Header>();
  auto body = body_message.initRoot<wire::Body>();
  fill_sample(wire::MessageType::TRACING_REQUEST, header, body);
  // Seal once without attachments for every other field, then rewrite the
  // header with the hostile entries and sign it by hand.
  auto honest = seal_envelope(signer, header, body.asReader());
  REQUIRE(honest.ok());
  auto list = header.initAttachments(static_cast<unsigned>(entries.size()));
  for (unsigned i = 0; i < entries.size(); ++i) {
    const Sha256Digest digest = sha256(entries[i].signed_bytes);
    list[i].setFileName(entries[i].file_name);
    list[i].setMediaType(entries[i].media_type);
    list[i].setSize(entries[i].signed_bytes.size());
    list[i].setSha256(kj::arrayPtr(digest.data(), digest.size()));
  }
  auto header_words = capnp::canonicalize(header.asReader());
  auto header_bytes = header_words.asBytes();
  Bytes signed_input(kSignatureContext.begin(), kSignatureContext.end());
  signed_input.insert(signed_input.end(), header_bytes.begin(), header_bytes.end());
  const Ed25519Signature signature = signer.signing_key().sign(signed_input);
  auto body_words = capnp::canonicalize(body.asReader());
  auto body_bytes = body_words.asBytes();

  capnp::MallocMessageBuilder message;
  auto envelope = message.initRoot<wire::Envelope>();
  envelope.setHeader(header_bytes);
  envelope.setBody(body_bytes);
  envelope.setSignature(kj::arrayPtr(signature.data(), signature.size()));
  auto chain = envelope.initSignerChain(static_cast<unsigned>(signer.chain().size()));
  for (unsigned i = 0; i < chain.size(); ++i) {
    Bytes der = signer.chain()[i].der();
    chain.set(i, kj::arrayPtr(der.data(), der.size()));
  }
  auto parts = envelope.initAttachments(static_cast<unsigned>(entries.size()));
  for (unsigned i = 0; i < entries.size(); ++i) {
    parts.set(i, kj::arrayPtr(entries[i].carried_bytes.data(), entries[i].carried_bytes.size()));
  }
  return flat_bytes(message);
}

Bytes replace_attachment_bytes(const Bytes& envelope_bytes, const std::vector<Bytes>& carried) {
  auto decoded = AlignedMessage::open(envelope_bytes, Framing::flat, "envelope");
  REQUIRE(decoded.ok());
  auto original = decoded->root<wire::Envelope>();
  capnp::MallocMessageBuilder message;
  message.setRoot(original);
  auto envelope = message.getRoot<wire::Envelope>();
  auto parts = envelope.initAttachments(static_cast<unsigned>(carried.size()));
  for (unsigned i = 0; i < carried.size(); ++i) parts.set(i, kj::arrayPtr(carried[i].data(), carried[i].size()));
  return flat_bytes(message);
}

}  // namespace fpx::test
