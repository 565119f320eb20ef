// Receipt groups (schema 7; broker/receipt_group.cpp, docs/PROTOCOL.md §6):
// one signed row per batch transaction and one small row per receipted
// message, written once just before the batch commits.
#include <cstring>

#include "sqlite_store.hpp"

namespace fpx::broker {

namespace sqlite {

Status SqliteStore::insert_receipt_group(const ReceiptGroupRow& group, std::span<const ReceiptMember> members) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  Bytes leaf_hashes;
  leaf_hashes.reserve(group.leaves.size() * sizeof(Sha256Digest));
  for (const auto& leaf : group.leaves) leaf_hashes.insert(leaf_hashes.end(), leaf.begin(), leaf.end());
  {
    Query query(insert_receipt_group_.get());
    query.bind(1, ByteView(group.head)).bind(2, ByteView(group.head_signature)).bind(3, ByteView(leaf_hashes));
    if (auto status = done(query.step(), "storing a receipt group"); !status) return status;
  }
  const std::int64_t group_id = sqlite3_last_insert_rowid(db_.get());
  for (const auto& member : members) {
    Query query(insert_receipt_member_.get());
    query.bind(1, member.message_seq).bind(2, group_id).bind(3, to_sql(member.leaf_index));
    if (auto status = done(query.step(), "storing a message's receipt group"); !status) return status;
  }
  return {};
}

Result<std::optional<StoredReceiptGroup>> SqliteStore::receipt_group_of(std::int64_t message_seq) {
  Query query(receipt_group_of_.get());
  query.bind(1, message_seq);
  const int rc = query.step();
  if (rc == SQLITE_DONE) return std::optional<StoredReceiptGroup>{};
  if (rc != SQLITE_ROW) return fail(rc, "reading a message's receipt group");
  StoredReceiptGroup stored;
  stored.group.head = query.blob(0);
  stored.group.head_signature = query.blob(1);
  const Bytes hashes = query.blob(2);
  if (hashes.empty() || hashes.size() % sizeof(Sha256Digest) != 0 || query.integer(3) < 0) {
    return damaged("receipt group");
  }
  stored.group.leaves.resize(hashes.size() / sizeof(Sha256Digest));
  std::memcpy(stored.group.leaves.data(), hashes.data(), hashes.size());
  stored.leaf_index = static_cast<std::uint64_t>(query.integer(3));
  if (stored.leaf_index >= stored.group.leaves.size()) return damaged("receipt group member");
  return std::optional<StoredReceiptGroup>{std::move(stored)};
}

}  // namespace sqlite

}  // namespace fpx::broker
