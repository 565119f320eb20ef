#include <capnp/serialize.h>

#include "fpx/broker/stages.hpp"
#include "fpx/wire/transport.capnp.h"

namespace fpx::broker {

Bytes sign_receipt(const Identity& broker, const MessageId& id, const Sha256Digest& envelope_sha256,
                   std::int64_t stored_at_ms, std::uint64_t log_index) {
  capnp::MallocMessageBuilder receipt_message;
  auto receipt = receipt_message.initRoot<wire::Receipt>();
  receipt.setMessageId(kj::arrayPtr(id.bytes.data(), id.bytes.size()));
  receipt.setEnvelopeSha256(kj::arrayPtr(envelope_sha256.data(), envelope_sha256.size()));
  receipt.setStoredAtMs(stored_at_ms);
  receipt.setLogIndex(log_index);
  auto canonical = capnp::canonicalize(receipt.asReader());
  auto receipt_bytes = canonical.asBytes();

  Ed25519Signature signature =
      broker.signing_key().sign(receipt_signing_input(ByteView(receipt_bytes.begin(), receipt_bytes.size())));

  capnp::MallocMessageBuilder message;
  auto signed_receipt = message.initRoot<wire::SignedReceipt>();
  signed_receipt.setReceipt(receipt_bytes);
  signed_receipt.setSignature(kj::arrayPtr(signature.data(), signature.size()));
  auto chain = signed_receipt.initBrokerChain(static_cast<unsigned>(broker.chain().size()));
  for (unsigned i = 0; i < chain.size(); ++i) {
    Bytes der = broker.chain()[i].der();
    chain.set(i, kj::arrayPtr(der.data(), der.size()));
  }
  auto flat = capnp::messageToFlatArray(message);
  return Bytes(flat.asBytes().begin(), flat.asBytes().end());
}

}  // namespace fpx::broker
