// The receipt contract both ends share: the broker's proof that it stored a
// message durably (docs/PROTOCOL.md section 6).
//
// Version 2, a group receipt: the broker signs once per commit group. Each
// message's Receipt (canonical Cap'n Proto) is a leaf of an RFC 9162 Merkle
// tree over the group; the broker signs the group's head (root, size,
// sealed-at, broker id) with its Ed25519 key; a message's SignedReceipt
// carries its Receipt bytes, the head bytes, the head signature, its leaf
// index, its inclusion path and the broker's certificate chain. Anyone
// holding the root CA verifies it offline.
//
// Version 1 (SignedReceipt.version 0, brokers before receipt groups): one
// signature over each Receipt. Still verified, so receipts kept in files
// stay evidence; no broker signs it any more.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "fpx/crypto.hpp"
#include "fpx/ids.hpp"
#include "fpx/result.hpp"
#include "fpx/transparency_log.hpp"
#include "fpx/trust_store.hpp"

namespace fpx {

// The broker signs kReceiptGroupSignatureContext || head bytes. The context
// (with its NUL) keeps a group signature from ever being valid as an
// envelope signature ("fpx/v1\0" || header), a version 1 receipt signature
// ("fpx/v1/receipt\0" || receipt) or a feed record's, and the other way round.
inline constexpr std::string_view kReceiptGroupSignatureContext{"fpx/receipt-group/v1\0", 21};
// ReceiptGroupHead.context: the same string without the NUL, so that the
// head bytes alone say what they are.
inline constexpr std::string_view kReceiptGroupContextText{"fpx/receipt-group/v1"};

// SignedReceipt.version: how a verifier tells the two formats apart.
enum class ReceiptVersion : std::uint16_t { single = 0, group = 2 };

// Bounds on the decoder of a SignedReceipt: the broker's chain is a leaf and
// at most an intermediate, a few KiB each, and a path 32 bytes a level.
inline constexpr std::size_t kMaxSignedReceiptBytes = 64 * 1024;
// A tree of 2^64 leaves has a path of 64 hashes: a longer one is an attempt
// to make the verifier hash without end, refused before any hashing.
inline constexpr std::size_t kMaxInclusionPathLength = 64;
// The most leaves the broker seals in one group. A group is one batch
// transaction (limits.batch_max, a few thousand at most); the bound keeps a
// misconfigured batch size from building a tree the size of memory.
inline constexpr std::size_t kMaxReceiptGroupSize = 1U << 20;

// What the broker attests of one stored message: wire::Receipt.
struct ReceiptBody {
  MessageId message_id;
  Sha256Digest envelope_sha256{};  // SHA-256 of the envelope bytes the broker received
  std::int64_t stored_at_ms = 0;
  std::uint64_t log_index = 0;  // the message's transparency-log leaf
  ParticipantId broker;         // empty only in a version 1 receipt
  // A tracing request that repeats an open one of the same requesting state:
  // that request's id (Receipt.openRequest). Absent in every other receipt.
  std::optional<MessageId> open_request;
  friend bool operator==(const ReceiptBody&, const ReceiptBody&) = default;
};

// The canonical Receipt bytes (one segment, no segment table).
Bytes encode_receipt_body(const ReceiptBody& body);
// Refuses anything but canonical bytes (not_canonical) of a Receipt whose id
// is 16 bytes and hash 32 (malformed).
Result<ReceiptBody> decode_receipt_body(ByteView canonical);
// RFC 9162's leaf hash of the Receipt bytes: SHA-256(0x00 || body).
Sha256Digest receipt_leaf_hash(ByteView body_bytes);

// What the broker signs once per group: wire::ReceiptGroupHead.
struct ReceiptGroupHead {
  Sha256Digest root{};
  std::uint64_t size = 0;
  std::int64_t sealed_at_ms = 0;
  ParticipantId broker;
  friend bool operator==(const ReceiptGroupHead&, const ReceiptGroupHead&) = default;
};

Bytes encode_group_head(const ReceiptGroupHead& head);
// Canonical bytes only; context must be kReceiptGroupContextText, root 32
// bytes, size at least 1 (malformed otherwise).
Result<ReceiptGroupHead> decode_group_head(ByteView canonical);
// The exact bytes a group signature covers.
Bytes group_head_signing_input(ByteView head_bytes);

// A signed group: its head, the head's signature and its leaves, with the
// tree to draw inclusion paths from. Built by the broker once per batch
// (seal), and again from the store for a resend (restore).
class SealedReceiptGroup {
 public:
  // Builds the tree over `leaves` (1 ..< kMaxReceiptGroupSize, else
  // invalid_argument) and signs its head with `key`.
  static Result<SealedReceiptGroup> seal(std::vector<Sha256Digest> leaves, std::int64_t sealed_at_ms,
                                         const ParticipantId& broker, const SigningKey& key);
  // A group read back from storage: the head as it was signed and its
  // leaves, which must rebuild the head's root and size (io_error: the
  // store's copy is damaged, so no receipt can be drawn from it).
  static Result<SealedReceiptGroup> restore(Bytes head_bytes, ByteView head_signature,
                                            std::vector<Sha256Digest> leaves);

  const Bytes& head_bytes() const { return head_bytes_; }
  const ReceiptGroupHead& head() const { return head_; }
  const Ed25519Signature& head_signature() const { return head_signature_; }
  const std::vector<Sha256Digest>& leaves() const { return leaves_; }

  // The SignedReceipt (flat array) of leaf `index`, whose canonical Receipt
  // is `body` (its leaf hash must be leaves()[index], else invalid_argument),
  // with the broker's chain (DER, leaf first, no root).
  Result<Bytes> receipt_for(std::uint64_t index, ByteView body, std::span<const Bytes> chain_der);

 private:
  SealedReceiptGroup() = default;
  Bytes head_bytes_;
  ReceiptGroupHead head_;
  Ed25519Signature head_signature_{};
  std::vector<Sha256Digest> leaves_;
  MemoryLog tree_;
};

// A receipt whose signature, inclusion path, chain and role were checked.
struct OpenedReceipt {
  ReceiptVersion version = ReceiptVersion::group;
  ReceiptBody body;
  std::optional<ReceiptGroupHead> head;  // version 2
  std::uint64_t leaf_index = 0;          // version 2
  VerifiedSigner signer;                 // its leaf holds the key that signed
};

// Verifies a SignedReceipt (flat array) against the root CA, in this order:
// decode with reader limits and no trailing bytes -> version known
// (unsupported_version) -> broker chain to the root (untrusted_chain) ->
// version 2: head signature over exactly the head bytes with the leaf's key
// (bad_signature) -> head and body canonical (not_canonical, malformed) ->
// the path from the body's leaf hash at leaf_index gives the head's root
// (bad_signature: the body is not what was signed) -> chain valid at
// sealed-at (certificate_*, revoked, crl_*) -> role broker (wrong_role) ->
// body, head and certificate name the same broker (signer_mismatch).
// Version 1: signature over "fpx/v1/receipt\0" || receipt, chain at stored-at, role.
// It does not check pins (fpx_client does: the exchange's key) or what the
// receipt is for (the caller compares body with what it submitted).
Result<OpenedReceipt> open_receipt(TrustStore& trust, ByteView signed_receipt, std::int64_t now_ms,
                                   RevocationCheck revocation);

}  // namespace fpx
