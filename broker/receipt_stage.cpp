#include "receipt_stage.hpp"

#include <algorithm>

#include "fpx/aligned_reader.hpp"
#include "fpx/wire/transport.capnp.h"

namespace fpx::broker {

Result<Bytes> ReceiptStage::issue(Store& store, const MessageId& id, const Sha256Digest& envelope_sha256,
                                  const InsertedMessage& inserted, std::int64_t stored_at_ms) const {
  Bytes signed_receipt = sign_receipt(broker_, id, envelope_sha256, stored_at_ms, inserted.log_index);
  if (auto kept = store.set_receipt(inserted.seq, signed_receipt); !kept) return std::move(kept).take_error();
  return signed_receipt;
}

Bytes ReceiptStage::repeat(const StoredMessage& stored, const Sha256Digest& envelope_sha256) const {
  if (stored.receipt.empty()) {
    // Stored, but its receipt was never recorded: receipt it now.
    return sign_receipt(broker_, stored.id, envelope_sha256, stored.stored_at_ms, stored.log_index);
  }
  auto stored_hash = read_message<wire::SignedReceipt>(
      stored.receipt, Framing::flat, "stored signed receipt", [](wire::SignedReceipt::Reader signed_receipt) {
        auto receipt = signed_receipt.getReceipt();
        return read_message<wire::Receipt>(ByteView(receipt.begin(), receipt.size()), Framing::single_segment,
                                           "stored receipt", [](wire::Receipt::Reader fields) -> Result<Bytes> {
                                             auto hash = fields.getEnvelopeSha256();
                                             return Bytes(hash.begin(), hash.end());
                                           });
      });
  if (stored_hash && stored_hash->size() == envelope_sha256.size() &&
      std::equal(stored_hash->begin(), stored_hash->end(), envelope_sha256.begin())) {
    return stored.receipt;
  }
  return sign_receipt(broker_, stored.id, envelope_sha256, stored.stored_at_ms, stored.log_index);
}

}  // namespace fpx::broker
