// receipt: the one place that signs receipts and records them beside their
// message, so that a change of the receipt's form (one signature per commit
// group) is a change here and in stage_receipt.cpp only. Private to broker/.
#pragma once

#include <cstdint>

#include "fpx/broker/stages.hpp"
#include "fpx/broker/store.hpp"
#include "fpx/identity.hpp"

namespace fpx::broker {

class ReceiptStage {
 public:
  explicit ReceiptStage(const Identity& broker) : broker_(broker) {}

  // A new message's receipt, recorded beside it in the open transaction.
  Result<Bytes> issue(Store& store, const MessageId& id, const Sha256Digest& envelope_sha256,
                      const InsertedMessage& inserted, std::int64_t stored_at_ms) const;

  // A resend of an accepted message gets its stored receipt, byte for byte;
  // if the resend wraps the same signed content in other envelope bytes, a
  // receipt for those bytes (same id, time and log index) so that the sender
  // can check it against what it sent.
  Bytes repeat(const StoredMessage& stored, const Sha256Digest& envelope_sha256) const;

 private:
  const Identity& broker_;
};

}  // namespace fpx::broker
