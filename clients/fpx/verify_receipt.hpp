// Verifying a broker's signed receipt: the proof that the broker stored a
// message durably. Shared by fpx_client (after every submit) and the fpx CLI
// (a receipt kept in a file can be checked again, by anyone holding the root CA).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "fpx/broker_pins.hpp"
#include "fpx/identity.hpp"
#include "fpx/trust_store.hpp"

namespace fpx::client {

// The broker signs kReceiptSignatureContext || receipt bytes
// (receipt_signing_input, protocol/fpx/envelope.hpp). The context (with its
// NUL) keeps a receipt signature from ever being valid as an envelope
// signature ("fpx/v1\0" || header) or the other way round.

// Bounds on the decoder of a SignedReceipt; the broker's chain is a leaf and
// at most an intermediate, a few KiB each.
inline constexpr std::size_t kMaxSignedReceiptBytes = 64 * 1024;

struct Receipt {
  MessageId message_id;
  Sha256Digest envelope_sha256{};
  std::int64_t stored_at_ms = 0;
  std::uint64_t log_index = 0;
  ParticipantId broker;   // who signed it
  Bytes signed_receipt;   // wire::SignedReceipt bytes, verifiable later
};

// What the receipt must say, when the verifier knows (the submitter does).
struct ReceiptExpectation {
  std::optional<MessageId> message_id;
  std::optional<Sha256Digest> envelope_sha256;
  RevocationCheck revocation = RevocationCheck::skip;
  std::int64_t now_ms = 0;  // 0: the current time
  // The exchange's signing keys (fpx/broker_pins.hpp). Required: a receipt
  // from any other broker-role certificate is refused (signer_mismatch).
  BrokerPins broker_pins;
};

// Verifies `signed_receipt` (a wire::SignedReceipt message, flat array):
// decode with reader limits -> broker chain to the root -> signature over
// exactly the receipt bytes with the leaf's key -> chain validity at the now
// authenticated storedAtMs (and revocation, if asked) -> the leaf's role is
// broker -> the canonical Receipt matches the expectation.
// Errors: malformed, not_canonical, untrusted_chain, bad_signature,
// wrong_role, certificate_*, revoked, crl_*; signer_mismatch when the key is
// not pinned (invalid_argument when no key is); body_hash_mismatch when the
// receipt is for other envelope bytes, malformed when for another message id.
Result<Receipt> verify_receipt(TrustStore& trust, ByteView signed_receipt, const ReceiptExpectation& expected);

}  // namespace fpx::client
