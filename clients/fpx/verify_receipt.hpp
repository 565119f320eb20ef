// Verifying a broker's signed receipt: the proof that the broker stored a
// message durably. Shared by fpx_client (after every submit) and the fpx CLI
// (a receipt kept in a file can be checked again, by anyone holding the root CA).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "fpx/broker_pins.hpp"
#include "fpx/identity.hpp"
#include "fpx/receipt.hpp"
#include "fpx/trust_store.hpp"

namespace fpx::client {

// The receipt contract itself (formats, signing contexts, the broker's
// side, the checks that need no pins) is protocol/fpx/receipt.hpp; this adds
// what only a client knows: the exchange's pinned keys and what it submitted.
using fpx::kMaxSignedReceiptBytes;

struct Receipt {
  MessageId message_id;
  Sha256Digest envelope_sha256{};
  std::int64_t stored_at_ms = 0;
  std::uint64_t log_index = 0;
  ParticipantId broker;   // who signed it
  // A tracing request that repeats an open one of the sender's own state:
  // that request's id, as the broker found it at the door (issue 17).
  std::optional<MessageId> open_request;
  ReceiptVersion version = ReceiptVersion::group;
  std::uint64_t group_size = 0;  // version 2: leaves in its commit group
  std::uint64_t leaf_index = 0;  // version 2: its leaf in the group
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

// Verifies `signed_receipt` (a wire::SignedReceipt message, flat array, of
// version 2 or 1): fpx::open_receipt (decode, chain to the root, signature,
// inclusion path, validity at the signing time, revocation if asked, role
// broker, one broker named throughout) -> the signing key is pinned -> the
// Receipt matches the expectation.
// Errors: malformed, not_canonical, unsupported_version, untrusted_chain,
// bad_signature (also: the inclusion path does not reach the signed root),
// wrong_role, certificate_*, revoked, crl_*; signer_mismatch when the key is
// not pinned or the receipt names another broker (invalid_argument when no
// key is pinned); body_hash_mismatch when the receipt is for other envelope
// bytes, malformed when for another message id.
Result<Receipt> verify_receipt(TrustStore& trust, ByteView signed_receipt, const ReceiptExpectation& expected);

}  // namespace fpx::client
