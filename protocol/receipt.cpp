#include "fpx/receipt.hpp"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>
#include <openssl/x509.h>

#include <cstring>
#include <string>

#include "fpx/aligned_reader.hpp"
#include "fpx/envelope.hpp"
#include "fpx/wire/transport.capnp.h"

namespace fpx {

namespace {

ByteView data_view(capnp::Data::Reader data) {
  return {data.begin(), data.size()};
}

ByteView word_bytes(kj::ArrayPtr<const capnp::word> words) {
  return {reinterpret_cast<const std::uint8_t*>(words.begin()), words.size() * sizeof(capnp::word)};
}

// Reads canonical bytes (one segment, no segment table: what was signed) as
// the struct T and hands it to `read`, which converts it to plain values
// before the words go away. not_canonical for any other encoding, so one
// receipt has one encoding and one signature check.
template <typename T, typename Read>
auto read_canonical(ByteView bytes, std::string_view what, Read read) -> decltype(read(typename T::Reader())) {
  return read_message<T>(bytes, Framing::canonical, what, read);
}

std::optional<Sha256Digest> digest_of(ByteView bytes) {
  Sha256Digest digest{};
  if (bytes.size() != digest.size()) return std::nullopt;
  std::memcpy(digest.data(), bytes.data(), digest.size());
  return digest;
}

template <typename Builder>
Bytes canonical_bytes(Builder builder) {
  auto canonical = capnp::canonicalize(builder.asReader());
  ByteView bytes = word_bytes(canonical);
  return Bytes(bytes.begin(), bytes.end());
}

void set_chain(wire::SignedReceipt::Builder receipt, std::span<const Bytes> chain_der) {
  auto chain = receipt.initBrokerChain(static_cast<unsigned>(chain_der.size()));
  for (unsigned i = 0; i < chain.size(); ++i) chain.set(i, kj::arrayPtr(chain_der[i].data(), chain_der[i].size()));
}

// Version 1: the signature covers the receipt bytes alone.
Result<OpenedReceipt> open_single(TrustStore& trust, ResolvedChain& chain, ByteView body_bytes, ByteView signature,
                                  std::int64_t now_ms, RevocationCheck revocation) {
  const Certificate& leaf = TrustStore::leaf_of(chain);
  if (!ed25519_verify(X509_get0_pubkey(leaf.get()), receipt_signing_input(body_bytes), signature)) {
    return make_error(ErrorCode::bad_signature,
                      "the receipt signature does not verify with the certificate " + leaf.subject_text());
  }
  auto body = decode_receipt_body(body_bytes);
  if (!body) return std::move(body).take_error();
  auto signer = trust.check_chain_at(chain, body->stored_at_ms, now_ms, revocation);
  if (!signer) return std::move(signer).take_error();
  OpenedReceipt opened;
  opened.version = ReceiptVersion::single;
  opened.body = std::move(*body);
  opened.signer = std::move(*signer);
  return opened;
}

// Version 2: the signature covers the group head; the path ties the body to
// the head's root.
Result<OpenedReceipt> open_group(TrustStore& trust, ResolvedChain& chain, wire::SignedReceipt::Reader receipt,
                                 std::int64_t now_ms, RevocationCheck revocation) {
  ByteView head_bytes = data_view(receipt.getGroupHead());
  const Certificate& leaf = TrustStore::leaf_of(chain);
  if (!ed25519_verify(X509_get0_pubkey(leaf.get()), group_head_signing_input(head_bytes),
                      data_view(receipt.getHeadSignature()))) {
    return make_error(ErrorCode::bad_signature,
                      "the receipt group's signature does not verify with the certificate " + leaf.subject_text());
  }
  auto head = decode_group_head(head_bytes);
  if (!head) return std::move(head).take_error();
  ByteView body_bytes = data_view(receipt.getReceipt());
  auto body = decode_receipt_body(body_bytes);
  if (!body) return std::move(body).take_error();

  auto path_reader = receipt.getInclusionPath();
  if (path_reader.size() > kMaxInclusionPathLength) {
    return make_error(ErrorCode::malformed, "the receipt's inclusion path has " + std::to_string(path_reader.size()) +
                                                " hashes; no tree has more than " +
                                                std::to_string(kMaxInclusionPathLength));
  }
  std::vector<Sha256Digest> path;
  path.reserve(path_reader.size());
  for (auto element : path_reader) {
    auto digest = digest_of(data_view(element));
    if (!digest) return make_error(ErrorCode::malformed, "an inclusion path hash is not 32 bytes");
    path.push_back(*digest);
  }
  const std::uint64_t index = receipt.getLeafIndex();
  if (index >= head->size) {
    return make_error(ErrorCode::malformed, "the receipt's leaf index " + std::to_string(index) +
                                                " is outside its group of " + std::to_string(head->size));
  }
  if (!verify_inclusion(receipt_leaf_hash(body_bytes), index, head->size, path, head->root)) {
    return make_error(ErrorCode::bad_signature,
                      "the receipt's inclusion path does not lead from its body at leaf " + std::to_string(index) +
                          " to the signed group root: the body is not what the broker signed");
  }
  if (body->stored_at_ms > head->sealed_at_ms) {
    return make_error(ErrorCode::malformed, "the receipt says the message was stored after its group was sealed");
  }

  auto signer = trust.check_chain_at(chain, head->sealed_at_ms, now_ms, revocation);
  if (!signer) return std::move(signer).take_error();
  if (body->broker != signer->participant.id || head->broker != signer->participant.id) {
    return make_error(ErrorCode::signer_mismatch, "the receipt names broker '" + body->broker.str() +
                                                      "' and its group '" + head->broker.str() +
                                                      "', but was signed by " + signer->participant.id.str());
  }
  OpenedReceipt opened;
  opened.version = ReceiptVersion::group;
  opened.body = std::move(*body);
  opened.head = std::move(*head);
  opened.leaf_index = index;
  opened.signer = std::move(*signer);
  return opened;
}

}  // namespace

Bytes encode_receipt_body(const ReceiptBody& body) {
  capnp::MallocMessageBuilder message;
  auto receipt = message.initRoot<wire::Receipt>();
  receipt.setMessageId(kj::arrayPtr(body.message_id.bytes.data(), body.message_id.bytes.size()));
  receipt.setEnvelopeSha256(kj::arrayPtr(body.envelope_sha256.data(), body.envelope_sha256.size()));
  receipt.setStoredAtMs(body.stored_at_ms);
  receipt.setLogIndex(body.log_index);
  if (!body.broker.empty()) receipt.setBrokerId(body.broker.str());
  if (body.open_request) {
    receipt.setOpenRequest(kj::arrayPtr(body.open_request->bytes.data(), body.open_request->bytes.size()));
  }
  return canonical_bytes(receipt);
}

Result<ReceiptBody> decode_receipt_body(ByteView canonical) {
  return read_canonical<wire::Receipt>(canonical, "receipt", [](wire::Receipt::Reader receipt) -> Result<ReceiptBody> {
    ReceiptBody body;
    auto id = MessageId::from_bytes(data_view(receipt.getMessageId()));
    if (!id) return make_error(ErrorCode::malformed, "the receipt's message id is not 16 bytes");
    body.message_id = *id;
    auto sha = digest_of(data_view(receipt.getEnvelopeSha256()));
    if (!sha) return make_error(ErrorCode::malformed, "the receipt's envelope SHA-256 is not 32 bytes");
    body.envelope_sha256 = *sha;
    body.stored_at_ms = receipt.getStoredAtMs();
    body.log_index = receipt.getLogIndex();
    body.broker = ParticipantId(receipt.getBrokerId().cStr());
    if (receipt.hasOpenRequest()) {
      auto open_request = MessageId::from_bytes(data_view(receipt.getOpenRequest()));
      if (!open_request) return make_error(ErrorCode::malformed, "the receipt's open request id is not 16 bytes");
      body.open_request = *open_request;
    }
    return body;
  });
}

Sha256Digest receipt_leaf_hash(ByteView body_bytes) {
  return leaf_hash(body_bytes);
}

Bytes encode_group_head(const ReceiptGroupHead& head) {
  capnp::MallocMessageBuilder message;
  auto builder = message.initRoot<wire::ReceiptGroupHead>();
  builder.setContext(std::string(kReceiptGroupContextText));
  builder.setRoot(kj::arrayPtr(head.root.data(), head.root.size()));
  builder.setSize(head.size);
  builder.setSealedAtMs(head.sealed_at_ms);
  builder.setBrokerId(head.broker.str());
  return canonical_bytes(builder);
}

Result<ReceiptGroupHead> decode_group_head(ByteView canonical) {
  return read_canonical<wire::ReceiptGroupHead>(
      canonical, "receipt group head", [](wire::ReceiptGroupHead::Reader reader) -> Result<ReceiptGroupHead> {
        if (std::string_view(reader.getContext().cStr()) != kReceiptGroupContextText) {
          return make_error(ErrorCode::malformed, "the receipt group head's context is not \"" +
                                                      std::string(kReceiptGroupContextText) + "\"");
        }
        ReceiptGroupHead head;
        auto root = digest_of(data_view(reader.getRoot()));
        if (!root) return make_error(ErrorCode::malformed, "the receipt group's root is not 32 bytes");
        head.root = *root;
        head.size = reader.getSize();
        if (head.size == 0) return make_error(ErrorCode::malformed, "the receipt group head claims no leaves");
        head.sealed_at_ms = reader.getSealedAtMs();
        head.broker = ParticipantId(reader.getBrokerId().cStr());
        return head;
      });
}

Bytes group_head_signing_input(ByteView head_bytes) {
  return concat({as_bytes(kReceiptGroupSignatureContext), head_bytes});
}

Result<SealedReceiptGroup> SealedReceiptGroup::seal(std::vector<Sha256Digest> leaves, std::int64_t sealed_at_ms,
                                                    const ParticipantId& broker, const SigningKey& key) {
  if (leaves.empty() || leaves.size() > kMaxReceiptGroupSize) {
    return make_error(ErrorCode::invalid_argument, "a receipt group holds 1 to " +
                                                       std::to_string(kMaxReceiptGroupSize) + " leaves, not " +
                                                       std::to_string(leaves.size()));
  }
  SealedReceiptGroup group;
  group.tree_.reserve(leaves.size());
  for (const auto& leaf : leaves) group.tree_.append(leaf);
  auto root = fpx::root(group.tree_, leaves.size());
  if (!root) return std::move(root).take_error();
  group.head_ = ReceiptGroupHead{*root, leaves.size(), sealed_at_ms, broker};
  group.head_bytes_ = encode_group_head(group.head_);
  group.head_signature_ = key.sign(group_head_signing_input(group.head_bytes_));
  group.leaves_ = std::move(leaves);
  return group;
}

Result<SealedReceiptGroup> SealedReceiptGroup::restore(Bytes head_bytes, ByteView head_signature,
                                                       std::vector<Sha256Digest> leaves) {
  auto head = decode_group_head(head_bytes);
  if (!head) {
    return make_error(ErrorCode::io_error, "a stored receipt group head does not decode (" + head.error().message +
                                               "); the store is damaged: restore it from a backup");
  }
  SealedReceiptGroup group;
  if (head_signature.size() != group.head_signature_.size() || leaves.size() != head->size) {
    return make_error(ErrorCode::io_error, "a stored receipt group has " + std::to_string(leaves.size()) +
                                               " leaves for a head of " + std::to_string(head->size) +
                                               "; the store is damaged: restore it from a backup");
  }
  group.tree_.reserve(leaves.size());
  for (const auto& leaf : leaves) group.tree_.append(leaf);
  auto root = fpx::root(group.tree_, leaves.size());
  if (!root) return std::move(root).take_error();
  if (*root != head->root) {
    return make_error(ErrorCode::io_error,
                      "a stored receipt group's leaves do not give its signed root; the store is damaged: "
                      "restore it from a backup");
  }
  std::memcpy(group.head_signature_.data(), head_signature.data(), head_signature.size());
  group.head_ = std::move(*head);
  group.head_bytes_ = std::move(head_bytes);
  group.leaves_ = std::move(leaves);
  return group;
}

Result<Bytes> SealedReceiptGroup::receipt_for(std::uint64_t index, ByteView body, std::span<const Bytes> chain_der) {
  if (index >= leaves_.size() || receipt_leaf_hash(body) != leaves_[index]) {
    return make_error(ErrorCode::invalid_argument,
                      "receipt body is not leaf " + std::to_string(index) + " of its group");
  }
  auto path = inclusion_proof(tree_, index, leaves_.size());
  if (!path) return std::move(path).take_error();

  capnp::MallocMessageBuilder message;
  auto receipt = message.initRoot<wire::SignedReceipt>();
  receipt.setVersion(static_cast<std::uint16_t>(ReceiptVersion::group));
  receipt.setReceipt(kj::arrayPtr(body.data(), body.size()));
  receipt.setGroupHead(kj::arrayPtr(head_bytes_.data(), head_bytes_.size()));
  receipt.setHeadSignature(kj::arrayPtr(head_signature_.data(), head_signature_.size()));
  receipt.setLeafIndex(index);
  auto hashes = receipt.initInclusionPath(static_cast<unsigned>(path->size()));
  for (unsigned i = 0; i < hashes.size(); ++i) hashes.set(i, kj::arrayPtr((*path)[i].data(), (*path)[i].size()));
  set_chain(receipt, chain_der);
  auto flat = capnp::messageToFlatArray(message);
  return Bytes(flat.asBytes().begin(), flat.asBytes().end());
}

Result<OpenedReceipt> open_receipt(TrustStore& trust, ByteView signed_receipt, std::int64_t now_ms,
                                   RevocationCheck revocation) {
  if (signed_receipt.size() > kMaxSignedReceiptBytes) {
    return make_error(ErrorCode::too_large, "signed receipt of " + std::to_string(signed_receipt.size()) +
                                                " bytes exceeds the limit of " +
                                                std::to_string(kMaxSignedReceiptBytes));
  }
  auto message = AlignedMessage::open(signed_receipt, Framing::flat, "signed receipt");
  if (!message) return std::move(message).take_error();
  try {
    auto receipt = message->root<wire::SignedReceipt>();
    const auto version = receipt.getVersion();
    if (version != static_cast<std::uint16_t>(ReceiptVersion::single) &&
        version != static_cast<std::uint16_t>(ReceiptVersion::group)) {
      return make_error(ErrorCode::unsupported_version,
                        "receipt version " + std::to_string(version) +
                            " is not one this client speaks (0 and 2): update the client to verify it");
    }
    std::vector<ByteView> chain_der;
    for (auto certificate : receipt.getBrokerChain()) chain_der.push_back(data_view(certificate));
    if (chain_der.empty()) return make_error(ErrorCode::untrusted_chain, "the receipt carries no broker certificate");

    // Signature first, with the key of a chain known to lead to the root;
    // only then is anything the receipt says (its time) worth reading.
    auto chain = trust.resolve_chain(chain_der);
    if (!chain) return std::move(chain).take_error();
    auto opened = version == static_cast<std::uint16_t>(ReceiptVersion::group)
                      ? open_group(trust, **chain, receipt, now_ms, revocation)
                      : open_single(trust, **chain, data_view(receipt.getReceipt()), data_view(receipt.getSignature()),
                                    now_ms, revocation);
    if (!opened) return opened;
    // Any participant can sign bytes that look like a receipt; only the
    // broker's role makes it proof of storage.
    if (opened->signer.participant.role != Role::broker) {
      return make_error(ErrorCode::wrong_role, "the receipt is signed by " + opened->signer.participant.id.str() +
                                                   ", a " + std::string(role_name(opened->signer.participant.role)) +
                                                   ", not by a broker: it proves nothing");
    }
    return opened;
  } catch (const kj::Exception& exception) {
    // Cap'n Proto reports malformed input (bad pointers, limits) by throwing.
    return make_error(ErrorCode::malformed,
                      std::string("undecodable signed receipt: ") + exception.getDescription().cStr());
  }
}

}  // namespace fpx
