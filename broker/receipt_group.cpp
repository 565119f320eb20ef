#include "fpx/broker/receipt_group.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cassert>

namespace fpx::broker {

ReceiptGroup::ReceiptGroup(const Identity& broker) : broker_(broker) {
  for (const auto& certificate : broker_.chain()) chain_der_.push_back(certificate.der());
}

GroupLeaf ReceiptGroup::add_leaf(const ReceiptBody& body, std::optional<std::int64_t> member) {
  // A leaf added after the seal would have no receipt: the loop seals once,
  // after handling the whole batch.
  assert(!sealed_);
  leaves_.push_back({encode_receipt_body(body), member});
  latest_stored_at_ms_ = std::max(latest_stored_at_ms_, body.stored_at_ms);
  if (member) leaf_of_seq_[*member] = leaves_.size() - 1;
  return GroupLeaf{leaves_.size() - 1};
}

GroupLeaf ReceiptGroup::add(std::int64_t message_seq, const MessageId& id, const Sha256Digest& envelope_sha256,
                            std::int64_t stored_at_ms, std::uint64_t log_index,
                            std::optional<MessageId> open_request) {
  return add_leaf(
      ReceiptBody{id, envelope_sha256, stored_at_ms, log_index, broker_.participant().id, std::move(open_request)},
      message_seq);
}

Result<ReceiptSource> ReceiptGroup::resend(Store& store, const StoredMessage& stored,
                                           const Sha256Digest& envelope_sha256,
                                           const std::vector<MessageId>& open_requests) {
  // The stored message does not keep the open request its first receipt
  // named (PROTOCOL §6.2): each candidate is tried against the first leaf.
  ReceiptBody body{stored.id, envelope_sha256, stored.stored_at_ms, stored.log_index, broker_.participant().id,
                   std::nullopt};
  std::vector<ReceiptBody> bodies{body};
  for (const auto& open_request : open_requests) {
    body.open_request = open_request;
    bodies.push_back(body);
  }
  body.open_request.reset();
  if (auto pending = leaf_of_seq_.find(stored.seq); pending != leaf_of_seq_.end()) {
    // Stored earlier in this very batch: the same leaf, if the same bytes.
    for (const auto& candidate : bodies) {
      if (leaves_[pending->second].body == encode_receipt_body(candidate)) {
        return ReceiptSource{GroupLeaf{pending->second}};
      }
    }
    return ReceiptSource{add_leaf(body, std::nullopt)};
  }
  auto group = store.receipt_group_of(stored.seq);
  if (!group) return std::move(group).take_error();
  if (*group) {
    auto restored = SealedReceiptGroup::restore(std::move((*group)->group.head), (*group)->group.head_signature,
                                                std::move((*group)->group.leaves));
    if (!restored) {
      // The message is stored: its sender still gets a receipt, from this batch's group.
      spdlog::error("receipt of {} given from a new group: {}", stored.id.hex(), restored.error().describe());
    } else if (restored->head().broker == body.broker) {
      for (const auto& candidate : bodies) {
        Bytes candidate_bytes = encode_receipt_body(candidate);
        if (receipt_leaf_hash(candidate_bytes) != restored->leaves()[(*group)->leaf_index]) continue;
        auto receipt = restored->receipt_for((*group)->leaf_index, candidate_bytes, chain_der_);
        if (!receipt) return std::move(receipt).take_error();
        return ReceiptSource{std::move(*receipt)};
      }
    }
  }
  return ReceiptSource{add_leaf(body, std::nullopt)};
}

Status ReceiptGroup::seal(Store& store, std::int64_t sealed_at_ms) {
  if (leaves_.empty()) return {};
  std::vector<Sha256Digest> hashes;
  std::vector<ReceiptMember> members;
  hashes.reserve(leaves_.size());
  for (std::size_t i = 0; i < leaves_.size(); ++i) {
    hashes.push_back(receipt_leaf_hash(leaves_[i].body));
    if (leaves_[i].member) members.push_back({*leaves_[i].member, i});
  }
  // Never before a leaf's stored-at (a verifier refuses that), even if the clock stepped back.
  auto sealed = SealedReceiptGroup::seal(std::move(hashes), std::max(sealed_at_ms, latest_stored_at_ms_),
                                         broker_.participant().id, broker_.signing_key());
  if (!sealed) return std::move(sealed).take_error();
  ReceiptGroupRow row{sealed->head_bytes(), Bytes(sealed->head_signature().begin(), sealed->head_signature().end()),
                      sealed->leaves()};
  if (auto stored = store.insert_receipt_group(row, members); !stored) return stored;
  sealed_ = std::move(*sealed);
  return {};
}

Result<Bytes> ReceiptGroup::receipt_for(GroupLeaf leaf) {
  if (!sealed_ || leaf.index >= leaves_.size()) {
    return make_error(ErrorCode::internal, "receipt asked for leaf " + std::to_string(leaf.index) +
                                               " of a group that is not sealed or smaller");
  }
  return sealed_->receipt_for(leaf.index, leaves_[leaf.index].body, chain_der_);
}

void ReceiptGroup::clear() {
  leaves_.clear();
  leaf_of_seq_.clear();
  latest_stored_at_ms_ = 0;
  sealed_.reset();
}

}  // namespace fpx::broker
