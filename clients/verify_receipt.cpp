#include "fpx/verify_receipt.hpp"

#include "fpx/envelope.hpp"

#include <cstring>

#include <capnp/message.h>
#include <kj/exception.h>
#include <openssl/x509.h>

#include "fpx/aligned_reader.hpp"
#include "fpx/crypto.hpp"
#include "fpx/wire/transport.capnp.h"

namespace fpx::client {

namespace {

ByteView data_view(capnp::Data::Reader data) { return {data.begin(), data.size()}; }

struct ReceiptFields {
  std::optional<MessageId> message_id;
  Bytes envelope_sha256;
  std::int64_t stored_at_ms = 0;
  std::uint64_t log_index = 0;
};

// The signed receipt bytes must be one canonical segment (no segment table),
// like an envelope header: then the bytes signed and the values read agree.
Result<ReceiptFields> decode_receipt(ByteView bytes) {
  auto message = AlignedMessage::open(bytes, Framing::canonical, "receipt");
  if (!message) return std::move(message).take_error();
  auto receipt = message->root<wire::Receipt>();
  ReceiptFields fields;
  fields.message_id = MessageId::from_bytes(data_view(receipt.getMessageId()));
  auto sha = data_view(receipt.getEnvelopeSha256());
  fields.envelope_sha256.assign(sha.begin(), sha.end());
  fields.stored_at_ms = receipt.getStoredAtMs();
  fields.log_index = receipt.getLogIndex();
  return fields;
}

}  // namespace

Result<Receipt> verify_receipt(TrustStore& trust, ByteView signed_receipt, const ReceiptExpectation& expected) {
  if (signed_receipt.size() > kMaxSignedReceiptBytes) {
    return make_error(ErrorCode::too_large, "signed receipt of " + std::to_string(signed_receipt.size()) +
                                                " bytes exceeds the limit of " + std::to_string(kMaxSignedReceiptBytes));
  }
  auto message = AlignedMessage::open(signed_receipt, Framing::flat, "signed receipt");
  if (!message) return std::move(message).take_error();
  if (auto pinned = require_broker_pins(expected.broker_pins, "ReceiptExpectation::broker_pins"); !pinned) {
    return std::move(pinned).take_error();
  }
  try {
    auto signed_reader = message->root<wire::SignedReceipt>();
    ByteView receipt_bytes = data_view(signed_reader.getReceipt());
    ByteView signature = data_view(signed_reader.getSignature());
    std::vector<ByteView> chain_der;
    for (auto certificate : signed_reader.getBrokerChain()) chain_der.push_back(data_view(certificate));
    if (chain_der.empty()) return make_error(ErrorCode::untrusted_chain, "the receipt carries no broker certificate");

    // Signature first, with the key of a chain known to lead to the root;
    // only then is anything the receipt says (its time) worth reading.
    auto chain = trust.resolve_chain(chain_der);
    if (!chain) return std::move(chain).take_error();
    const Certificate& leaf = TrustStore::leaf_of(**chain);
    if (!ed25519_verify(X509_get0_pubkey(leaf.get()), receipt_signing_input(receipt_bytes), signature)) {
      return make_error(ErrorCode::bad_signature,
                        "the receipt signature does not verify with the certificate " + leaf.subject_text());
    }
    auto fields = decode_receipt(receipt_bytes);
    if (!fields) return std::move(fields).take_error();

    const std::int64_t now = expected.now_ms != 0 ? expected.now_ms : now_ms();
    auto signer = trust.check_chain_at(**chain, fields->stored_at_ms, now, expected.revocation);
    if (!signer) return std::move(signer).take_error();
    // Any participant can sign bytes that look like a receipt; only the
    // broker's role makes it proof of storage.
    if (signer->participant.role != Role::broker) {
      return make_error(ErrorCode::wrong_role, "the receipt is signed by " + signer->participant.id.str() + ", a " +
                                                   std::string(role_name(signer->participant.role)) +
                                                   ", not by a broker: it proves nothing");
    }
    // Any CA key holder can make a broker-role certificate; only the
    // exchange's pinned key makes the receipt the exchange's.
    if (auto pinned = check_pinned_broker(expected.broker_pins, leaf, "the receipt of message " +
                                                                           (fields->message_id ? fields->message_id->hex()
                                                                                               : std::string("(no id)")));
        !pinned) {
      return std::move(pinned).take_error();
    }

    if (!fields->message_id) return make_error(ErrorCode::malformed, "the receipt's message id is not 16 bytes");
    if (expected.message_id && *expected.message_id != *fields->message_id) {
      return make_error(ErrorCode::malformed, "the receipt is for message " + fields->message_id->hex() +
                                                  ", not for the submitted " + expected.message_id->hex());
    }
    Receipt receipt;
    receipt.message_id = *fields->message_id;
    if (fields->envelope_sha256.size() != receipt.envelope_sha256.size()) {
      return make_error(ErrorCode::malformed, "the receipt's envelope SHA-256 is not 32 bytes");
    }
    std::memcpy(receipt.envelope_sha256.data(), fields->envelope_sha256.data(), receipt.envelope_sha256.size());
    if (expected.envelope_sha256 && *expected.envelope_sha256 != receipt.envelope_sha256) {
      return make_error(ErrorCode::body_hash_mismatch,
                        "the receipt is for other envelope bytes (SHA-256 " + to_hex(receipt.envelope_sha256) +
                            ") than those submitted (" + to_hex(*expected.envelope_sha256) + ")");
    }
    receipt.stored_at_ms = fields->stored_at_ms;
    receipt.log_index = fields->log_index;
    receipt.broker = signer->participant.id;
    receipt.signed_receipt.assign(signed_receipt.begin(), signed_receipt.end());
    return receipt;
  } catch (const kj::Exception& exception) {
    // Cap'n Proto reports malformed input (bad pointers, limits) by throwing.
    return make_error(ErrorCode::malformed,
                      std::string("undecodable signed receipt: ") + exception.getDescription().cStr());
  }
}

}  // namespace fpx::client
