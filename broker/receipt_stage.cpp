#include "receipt_stage.hpp"

#include <algorithm>
#include <cstring>

#include <capnp/serialize.h>

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
  auto words = kj::heapArray<capnp::word>(stored.receipt.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), stored.receipt.data(), words.size() * sizeof(capnp::word));
  capnp::FlatArrayMessageReader signed_reader(words);
  auto receipt_data = signed_reader.getRoot<wire::SignedReceipt>().getReceipt();
  auto receipt_words = kj::heapArray<capnp::word>(receipt_data.size() / sizeof(capnp::word));
  std::memcpy(receipt_words.begin(), receipt_data.begin(), receipt_words.size() * sizeof(capnp::word));
  kj::ArrayPtr<const capnp::word> segments[1] = {receipt_words};
  capnp::SegmentArrayMessageReader receipt_reader(kj::arrayPtr(segments, 1));
  auto hash = receipt_reader.getRoot<wire::Receipt>().getEnvelopeSha256();
  if (hash.size() == envelope_sha256.size() && std::equal(hash.begin(), hash.end(), envelope_sha256.begin())) {
    return stored.receipt;
  }
  return sign_receipt(broker_, stored.id, envelope_sha256, stored.stored_at_ms, stored.log_index);
}

}  // namespace fpx::broker
