// The transparency log (leaves, interior nodes), the public feed and the
// signed checkpoints.
#include "sqlite_store.hpp"

namespace fpx::broker {

namespace sqlite {

Result<std::uint64_t> SqliteStore::append_record_leaf(ByteView leaf_data, std::uint64_t feed_sequence,
                                         std::int64_t at_ms) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  auto index = log_size();
  if (!index) return index;
  const auto hash = leaf_hash(leaf_data);
  Query query(insert_record_leaf_.get());
  query.bind(1, to_sql(*index)).bind(2, leaf_data).bind(3, ByteView(hash)).bind(4, to_sql(feed_sequence)).bind(5, at_ms);
  if (auto status = done(query.step(), "appending a public record's leaf"); !status) return std::move(status).take_error();
  if (auto status = append_log_nodes(*index, hash); !status) return std::move(status).take_error();
  return *index;
}

Result<std::uint64_t> SqliteStore::next_feed_sequence() {
  Query query(next_feed_sequence_.get());
  const int rc = query.step();
  if (rc != SQLITE_ROW) return fail(rc, "reading the feed's next sequence");
  return static_cast<std::uint64_t>(query.integer(0));
}

Status SqliteStore::append_feed(const FeedRow& row, std::int64_t at_ms) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  Query query(append_feed_.get());
  query.bind(1, to_sql(row.sequence))
      .bind(2, std::string_view(row.kind))
      .bind(3, ByteView(row.record))
      .bind(4, ByteView(row.signature))
      .bind(5, at_ms);
  return done(query.step(), "appending a feed record");
}

Result<std::vector<FeedRow>> SqliteStore::feed_page(std::uint64_t from_sequence, std::size_t limit) {
  Query query(feed_page_.get());
  query.bind(1, to_sql(from_sequence)).bind(2, limit_to_sql(limit));
  std::vector<FeedRow> rows;
  for (;;) {
    const int rc = query.step();
    if (rc == SQLITE_DONE) return rows;
    if (rc != SQLITE_ROW) return fail(rc, "reading the feed");
    rows.push_back({static_cast<std::uint64_t>(query.integer(0)), query.text(1), query.blob(2), query.blob(3)});
  }
}

Status SqliteStore::append_checkpoint(const CheckpointRow& row) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  Query query(append_checkpoint_.get());
  query.bind(1, to_sql(row.tree_size))
      .bind(2, ByteView(row.root))
      .bind(3, std::string_view(row.note))
      .bind(4, row.created_at_ms);
  return done(query.step(), "storing a checkpoint");
}

Result<std::optional<CheckpointRow>> SqliteStore::latest_checkpoint() {
  Query query(latest_checkpoint_.get());
  const int rc = query.step();
  if (rc == SQLITE_DONE) return std::optional<CheckpointRow>{};
  if (rc != SQLITE_ROW) return fail(rc, "reading the latest checkpoint");
  CheckpointRow row;
  row.tree_size = static_cast<std::uint64_t>(query.integer(0));
  row.root = digest_from(query.blob(1));
  row.note = query.text(2);
  row.created_at_ms = query.integer(3);
  return std::optional<CheckpointRow>{std::move(row)};
}

Result<std::uint64_t> SqliteStore::log_size() {
  Query query(next_leaf_index_.get());
  const int rc = query.step();
  if (rc != SQLITE_ROW) return fail(rc, "reading the log size");
  return static_cast<std::uint64_t>(query.integer(0));
}

Result<Sha256Digest> SqliteStore::log_node(std::uint32_t level, std::uint64_t index) {
  Query query(level == 0 ? log_leaf_hash_.get() : log_node_.get());
  query.bind(1, to_sql(index));
  if (level != 0) query.bind(2, static_cast<std::int64_t>(level));
  const int rc = query.step();
  if (rc == SQLITE_DONE) {
    return make_error(ErrorCode::not_found, "the log has no complete subtree at level " + std::to_string(level) +
                                                ", index " + std::to_string(index) + " yet");
  }
  if (rc != SQLITE_ROW) return fail(rc, "reading a log node");
  const Bytes hash = query.blob(0);
  if (hash.size() != Sha256Digest{}.size()) return damaged("log hash");
  return digest_from(hash);
}

// Leaf `leaf_index` completes one subtree per trailing 1 bit of its index:
// at each such level its subtree joins the complete left sibling already
// stored. One insert per leaf on average, ~log2(n) at most.
Status SqliteStore::append_log_nodes(std::uint64_t leaf_index, const Sha256Digest& leaf) {
  Sha256Digest hash = leaf;
  for (std::uint32_t level = 0; ((leaf_index >> level) & 1) != 0; ++level) {
    auto left = log_node(level, (leaf_index >> level) - 1);
    if (!left) return std::move(left).take_error();
    hash = node_hash(*left, hash);
    Query query(insert_log_node_.get());
    query.bind(1, static_cast<std::int64_t>(level + 1)).bind(2, to_sql(leaf_index >> (level + 1))).bind(3, ByteView(hash));
    if (auto status = done(query.step(), "appending a log node"); !status) return status;
  }
  return {};
}

}  // namespace sqlite

}  // namespace fpx::broker
