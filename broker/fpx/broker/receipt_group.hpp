// Stage 9, the receipt: one broker signature per commit group.
//
// The loop gathers the batch's receipted messages while it handles them
// (add, or resend for a duplicate), seals the group once before the commit
// (one Ed25519 signature over the group's Merkle root, and one row in the
// store), and after the durable commit draws each message's receipt from it
// (receipt_for). The contract itself (formats, verification) is
// protocol/fpx/receipt.hpp; docs/PROTOCOL.md section 6 documents it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <variant>
#include <vector>

#include "fpx/broker/store.hpp"
#include "fpx/identity.hpp"
#include "fpx/receipt.hpp"

namespace fpx::broker {

// Where a sender's receipt comes from: bytes ready now (a resend of a
// message of an earlier group), or a leaf of this batch's group, drawn after
// the commit.
struct GroupLeaf {
  std::size_t index = 0;
};
using ReceiptSource = std::variant<Bytes, GroupLeaf>;

class ReceiptGroup {
 public:
  // `broker` signs every group; it outlives this object (both belong to the loop).
  explicit ReceiptGroup(const Identity& broker);

  // A message stored in this batch's transaction: its leaf. `message_seq`
  // is its row, so a later resend finds its group.
  // `open_request`: the open request of the same state a tracing request
  // repeats (stage_duplicate.hpp), named in the receipt.
  GroupLeaf add(std::int64_t message_seq, const MessageId& id, const Sha256Digest& envelope_sha256,
                std::int64_t stored_at_ms, std::uint64_t log_index,
                std::optional<MessageId> open_request = std::nullopt);

  // A resend of a stored message, in these envelope bytes. The same bytes:
  // the receipt of its own group, rebuilt from the store (or its leaf, if it
  // was stored in this batch). Other bytes, or a message stored before
  // receipt groups: a new leaf of this group, with the original stored-at
  // and log index and the SHA-256 of these bytes.
  // `open_requests`: what the first receipt of a tracing request may have
  // named (stage_duplicate.hpp open_duplicates), tried in turn so that the
  // receipt comes back byte for byte.
  Result<ReceiptSource> resend(Store& store, const StoredMessage& stored, const Sha256Digest& envelope_sha256,
                               const std::vector<MessageId>& open_requests = {});

  // Signs the group and writes it (with each message's membership) into the
  // store's open transaction. Nothing to do for a batch without receipts.
  // A failure means the batch must not commit.
  Status seal(Store& store, std::int64_t sealed_at_ms);

  // The SignedReceipt of a leaf of the sealed group (after seal succeeded).
  Result<Bytes> receipt_for(GroupLeaf leaf);

  // Forgets the batch: after its commit, or its rollback.
  void clear();
  std::size_t size() const { return leaves_.size(); }

 private:
  struct Leaf {
    Bytes body;                          // canonical Receipt
    std::optional<std::int64_t> member;  // the message's seq when this is its first receipt
  };
  GroupLeaf add_leaf(const ReceiptBody& body, std::optional<std::int64_t> member);

  const Identity& broker_;
  std::vector<Bytes> chain_der_;  // encoded once: every receipt carries it
  std::vector<Leaf> leaves_;
  std::map<std::int64_t, std::size_t> leaf_of_seq_;  // members of this batch, for a resend within it
  std::int64_t latest_stored_at_ms_ = 0;
  std::optional<SealedReceiptGroup> sealed_;
};

}  // namespace fpx::broker
