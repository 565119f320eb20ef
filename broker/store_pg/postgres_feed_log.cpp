// The transparency log (leaves, interior nodes), the public feed and the
// signed checkpoints, as in broker/store/feed_log.cpp: the same rows, so
// the same inputs give the same leaves and roots on both stores.
#include "postgres_statements.hpp"

namespace fpx::broker::pg {

namespace {

Sha256Digest digest_from(const Bytes& bytes) {
  Sha256Digest digest{};
  if (bytes.size() == digest.size()) std::copy(bytes.begin(), bytes.end(), digest.begin());
  return digest;
}

std::int64_t limit_to_sql(std::size_t limit) {
  constexpr auto kMax = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  return static_cast<std::int64_t>(limit > kMax ? kMax : limit);
}

}  // namespace

Result<std::uint64_t> PostgresStore::append_record_leaf(ByteView leaf_data, std::uint64_t feed_sequence,
                                                        std::int64_t at_ms) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  auto edge = log_edge();
  if (!edge) return std::move(edge).take_error();
  const auto hash = leaf_hash(leaf_data);
  const LeafAppend append = plan_leaf(*edge, hash);
  std::vector<ByteView> node_hashes(append.node_hashes.begin(), append.node_hashes.end());
  Params params;
  params.add(append.index).add(leaf_data).add(ByteView(hash)).add(feed_sequence).add(at_ms);
  params.add_array(std::span<const std::int64_t>(append.node_levels))
      .add_array(std::span<const std::int64_t>(append.node_indexes))
      .add_array(std::span<const ByteView>(node_hashes));
  auto row = run(sql::kInsertRecordLeaf, params, "appending a public record's leaf");
  if (!row) {
    forget_log_edge();
    return std::move(row).take_error();
  }
  if (row->is_null(0, 0)) {
    forget_log_edge();
    return make_error(ErrorCode::internal, "appending a public record's leaf on " + where_ +
                                               ": the store expected the log to hold " + std::to_string(append.index) +
                                               " leaves and it holds " + std::to_string(row->integer(0, 1)) +
                                               "; nothing was written. Report this bug with the broker's log");
  }
  remember_log_edge(append.after);
  return append.index;
}

Result<LogEdge> PostgresStore::log_edge() {
  if (log_edge_) return *log_edge_;
  auto rows = run(sql::kLogEdge, "reading the log's edge");
  if (!rows) return std::move(rows).take_error();
  LogEdge edge;
  if (rows->size() == 0) return damaged("log size");
  edge.size = static_cast<std::uint64_t>(rows->integer(0, 0));
  std::uint64_t found = 0;
  for (int i = 0; i < rows->size(); ++i) {
    const std::int64_t level = rows->integer(i, 1);
    if (level < 0) continue;
    const Bytes hash = rows->blob(i, 2);
    if (level >= 64 || hash.size() != Sha256Digest{}.size()) return damaged("log hash");
    edge.subtree[static_cast<std::size_t>(level)] = digest_from(hash);
    found |= std::uint64_t{1} << level;
  }
  // One subtree per set bit of the size, no more and no fewer.
  if (found != edge.size) return damaged("log node");
  log_edge_ = edge;
  return edge;
}

LeafAppend PostgresStore::plan_leaf(const LogEdge& edge, const Sha256Digest& leaf) {
  LeafAppend append;
  append.index = edge.size;
  append.after = edge;
  Sha256Digest hash = leaf;
  std::uint32_t level = 0;
  for (; ((edge.size >> level) & 1) != 0; ++level) {
    hash = node_hash(edge.subtree[level], hash);
    append.node_levels.push_back(std::int64_t{level + 1});
    append.node_indexes.push_back(static_cast<std::int64_t>(edge.size >> (level + 1)));
    append.node_hashes.push_back(hash);
  }
  // size + 1 clears the trailing ones up to `level` and sets that bit: the
  // subtree just completed is the edge's entry there.
  append.after.size = edge.size + 1;
  append.after.subtree[level] = hash;
  return append;
}

Result<std::uint64_t> PostgresStore::next_feed_sequence() {
  auto rows = run(sql::kNextFeedSequence, "reading the feed's next sequence");
  if (!rows) return std::move(rows).take_error();
  return static_cast<std::uint64_t>(rows->integer(0, 0));
}

Status PostgresStore::append_feed(const FeedRow& row, std::int64_t at_ms) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  auto done = run(sql::kAppendFeed,
                  Params().add(row.sequence).add_text(row.kind).add(ByteView(row.record)).add(ByteView(row.signature)).add(at_ms),
                  "appending a feed record");
  if (!done) return std::move(done).take_error();
  return {};
}

Result<std::vector<FeedRow>> PostgresStore::feed_page(std::uint64_t from_sequence, std::size_t limit) {
  auto rows = run(sql::kFeedPage, Params().add(from_sequence).add(limit_to_sql(limit)), "reading the feed");
  if (!rows) return std::move(rows).take_error();
  std::vector<FeedRow> out;
  for (int i = 0; i < rows->size(); ++i) {
    out.push_back({static_cast<std::uint64_t>(rows->integer(i, 0)), rows->text(i, 1), rows->blob(i, 2), rows->blob(i, 3)});
  }
  return out;
}

Status PostgresStore::append_checkpoint(const CheckpointRow& row) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  auto done = run(sql::kAppendCheckpoint,
                  Params().add(row.tree_size).add(ByteView(row.root)).add_text(row.note).add(row.created_at_ms),
                  "storing a checkpoint");
  if (!done) return std::move(done).take_error();
  return {};
}

Result<std::optional<CheckpointRow>> PostgresStore::latest_checkpoint() {
  auto rows = run(sql::kLatestCheckpoint, "reading the latest checkpoint");
  if (!rows) return std::move(rows).take_error();
  if (rows->size() == 0) return std::optional<CheckpointRow>{};
  CheckpointRow row;
  row.tree_size = static_cast<std::uint64_t>(rows->integer(0, 0));
  row.root = digest_from(rows->blob(0, 1));
  row.note = rows->text(0, 2);
  row.created_at_ms = rows->integer(0, 3);
  return std::optional<CheckpointRow>{std::move(row)};
}

Result<std::uint64_t> PostgresStore::log_size() {
  auto rows = run(sql::kLogSize, "reading the log size");
  if (!rows) return std::move(rows).take_error();
  return static_cast<std::uint64_t>(rows->integer(0, 0));
}

Result<Sha256Digest> PostgresStore::log_node(std::uint32_t level, std::uint64_t index) {
  auto rows = level == 0 ? run(sql::kLogLeafHash, Params().add(index), "reading a log node")
                         : run(sql::kLogNode, Params().add(index).add(std::int64_t{level}), "reading a log node");
  if (!rows) return std::move(rows).take_error();
  if (rows->size() == 0) {
    return make_error(ErrorCode::not_found, "the log has no complete subtree at level " + std::to_string(level) +
                                                ", index " + std::to_string(index) + " yet");
  }
  const Bytes hash = rows->blob(0, 0);
  if (hash.size() != Sha256Digest{}.size()) return damaged("log hash");
  return digest_from(hash);
}

}  // namespace fpx::broker::pg
