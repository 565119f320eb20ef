#include <cstring>

#include <capnp/serialize.h>
#include <openssl/x509.h>
#include <kj/exception.h>

#include "fpx/envelope.hpp"

namespace fpx {

namespace {

// Copies untrusted bytes into word-aligned memory: ZeroMQ frames carry no
// alignment promise and Cap'n Proto readers require it.
kj::Array<capnp::word> aligned_copy(ByteView bytes) {
  auto words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), bytes.data(), words.size() * sizeof(capnp::word));
  return words;
}

// Limits for the first look at untrusted bytes: the traversal limit stops
// amplification by pointer loops and shared subtrees; nesting stops deep
// recursion. 8x the message size is far more than a canonical message needs.
capnp::ReaderOptions checking_limits(std::size_t words) {
  capnp::ReaderOptions options;
  options.traversalLimitInWords = words * 8 + 64;
  options.nestingLimit = kMaxNestingDepth;
  return options;
}

// Once a message is known canonical it has no shared or looping pointers, so
// reading it is bounded by its size however often fields are read; the
// long-lived reader may read repeatedly without tripping a traversal limit.
capnp::ReaderOptions canonical_limits() {
  capnp::ReaderOptions options;
  options.traversalLimitInWords = kMaxEnvelopeBytes * 64;
  options.nestingLimit = kMaxNestingDepth;
  return options;
}

ByteView data_view(capnp::Data::Reader data) { return {data.begin(), data.size()}; }

}  // namespace

// One canonical struct message held in its own aligned buffer.
struct CanonicalSegment {
  kj::Array<capnp::word> words;
  kj::ArrayPtr<const capnp::word> segments[1];
  kj::Own<capnp::SegmentArrayMessageReader> reader;

  // Decodes `bytes` as a single canonical segment; on success `reader` is set.
  Status load(ByteView bytes, const char* what) {
    if (bytes.empty() || bytes.size() % sizeof(capnp::word) != 0) {
      return make_error(ErrorCode::malformed,
                        std::string(what) + " is not a whole number of Cap'n Proto words: re-encode it");
    }
    words = aligned_copy(bytes);
    segments[0] = words.asPtr();
    capnp::SegmentArrayMessageReader checker(kj::arrayPtr(segments, 1), checking_limits(words.size()));
    if (!checker.isCanonical()) {
      return make_error(ErrorCode::not_canonical,
                        std::string(what) + " is not in canonical Cap'n Proto form: sign capnp::canonicalize() output");
    }
    reader = kj::heap<capnp::SegmentArrayMessageReader>(kj::arrayPtr(segments, 1), canonical_limits());
    return {};
  }
};

struct DecodedMessage::Buffers {
  CanonicalSegment header;
  CanonicalSegment body;
};

DecodedMessage::DecodedMessage(std::unique_ptr<Buffers> buffers) : buffers_(std::move(buffers)) {}
DecodedMessage::DecodedMessage(DecodedMessage&&) noexcept = default;
DecodedMessage& DecodedMessage::operator=(DecodedMessage&&) noexcept = default;
DecodedMessage::~DecodedMessage() = default;

wire::Header::Reader DecodedMessage::header() const { return buffers_->header.reader->getRoot<wire::Header>(); }
wire::Body::Reader DecodedMessage::body() const { return buffers_->body.reader->getRoot<wire::Body>(); }

Result<OpenedEnvelope> EnvelopeOpener::open(ByteView envelope_bytes, const OpenOptions& options) {
  const std::int64_t now = options.now_ms != 0 ? options.now_ms : now_ms();
  if (envelope_bytes.size() > kMaxEnvelopeBytes) {
    return make_error(ErrorCode::too_large, "envelope of " + std::to_string(envelope_bytes.size()) +
                                                " bytes exceeds the limit of " + std::to_string(kMaxEnvelopeBytes));
  }
  if (envelope_bytes.empty() || envelope_bytes.size() % sizeof(capnp::word) != 0) {
    return make_error(ErrorCode::malformed, "envelope is not a whole number of Cap'n Proto words");
  }
  try {
    // 1. Decode the outer envelope (not signed; its fields are checked one by one).
    kj::Array<capnp::word> envelope_words = aligned_copy(envelope_bytes);
    capnp::FlatArrayMessageReader envelope_reader(envelope_words, checking_limits(envelope_words.size()));
    if (envelope_reader.getEnd() != envelope_words.end()) {
      return make_error(ErrorCode::malformed, "trailing bytes after the envelope");
    }
    auto envelope = envelope_reader.getRoot<wire::Envelope>();
    ByteView header_bytes = data_view(envelope.getHeader());
    ByteView body_bytes = data_view(envelope.getBody());
    ByteView signature = data_view(envelope.getSignature());
    std::vector<ByteView> chain_der;
    for (auto certificate : envelope.getSignerChain()) chain_der.push_back(data_view(certificate));

    // 2. Header: canonical form, version, the fields everything else needs.
    auto buffers = std::make_unique<DecodedMessage::Buffers>();
    if (auto loaded = buffers->header.load(header_bytes, "header"); !loaded) return std::move(loaded).take_error();
    auto header = buffers->header.reader->getRoot<wire::Header>();
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
    if (auto loaded = buffers->body.load(body_bytes, "body"); !loaded) return std::move(loaded).take_error();
    auto body = buffers->body.reader->getRoot<wire::Body>();
    if (message_type_of(body) != type) {
      return make_error(ErrorCode::malformed, "header says " + std::string(message_type_name(type)) +
                                                  " but the body holds " +
                                                  std::string(message_type_name(message_type_of(body))));
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
