#include "fpx/verify_receipt.hpp"

#include "fpx/crypto.hpp"

namespace fpx::client {

Result<Receipt> verify_receipt(TrustStore& trust, ByteView signed_receipt, const ReceiptExpectation& expected) {
  if (auto pinned = require_broker_pins(expected.broker_pins, "ReceiptExpectation::broker_pins"); !pinned) {
    return std::move(pinned).take_error();
  }
  const std::int64_t now = expected.now_ms != 0 ? expected.now_ms : now_ms();
  // The receipt contract (protocol/fpx/receipt.hpp): decode, chain, signature,
  // inclusion path, validity, role. What is left is the client's own view:
  // whose key it trusts and what it submitted.
  auto opened = open_receipt(trust, signed_receipt, now, expected.revocation);
  if (!opened) return std::move(opened).take_error();
  const ReceiptBody& body = opened->body;

  // Any CA key holder can make a broker-role certificate; only the
  // exchange's pinned key makes the receipt the exchange's.
  if (auto pinned = check_pinned_broker(expected.broker_pins, *opened->signer.leaf,
                                        "the receipt of message " + body.message_id.hex());
      !pinned) {
    return std::move(pinned).take_error();
  }
  if (expected.message_id && *expected.message_id != body.message_id) {
    return make_error(ErrorCode::malformed, "the receipt is for message " + body.message_id.hex() +
                                                ", not for the submitted " + expected.message_id->hex());
  }
  if (expected.envelope_sha256 && *expected.envelope_sha256 != body.envelope_sha256) {
    return make_error(ErrorCode::body_hash_mismatch, "the receipt is for other envelope bytes (SHA-256 " +
                                                         to_hex(body.envelope_sha256) + ") than those submitted (" +
                                                         to_hex(*expected.envelope_sha256) + ")");
  }
  Receipt receipt;
  receipt.message_id = body.message_id;
  receipt.envelope_sha256 = body.envelope_sha256;
  receipt.stored_at_ms = body.stored_at_ms;
  receipt.log_index = body.log_index;
  receipt.broker = opened->signer.participant.id;
  receipt.open_request = body.open_request;
  receipt.version = opened->version;
  if (opened->head) {
    receipt.group_size = opened->head->size;
    receipt.leaf_index = opened->leaf_index;
  }
  receipt.signed_receipt.assign(signed_receipt.begin(), signed_receipt.end());
  return receipt;
}

}  // namespace fpx::client
