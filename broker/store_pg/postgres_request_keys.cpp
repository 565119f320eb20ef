// Duplicate-request keys (schema 5), as broker/store/request_keys.cpp.
#include <algorithm>
#include <limits>

#include "postgres_statements.hpp"

namespace fpx::broker::pg {

namespace {

// The keys as one bytea of 16-byte keys, split again by the statement.
Bytes joined_keys(std::span<const RequestKey> keys) {
  Bytes joined;
  joined.reserve(keys.size() * sizeof(RequestKey));
  for (const auto& key : keys) joined.insert(joined.end(), key.begin(), key.end());
  return joined;
}

}  // namespace

Status PostgresStore::insert_request_keys(const MessageId& request_id, const CountryCode& requester_country,
                                          std::int64_t submitted_at_ms, std::span<const RequestKey> keys) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  if (keys.empty()) return {};
  const Bytes joined = joined_keys(keys);
  Params params;
  params.add_text(requester_country.str()).add(ByteView(joined)).add(submitted_at_ms).add(ByteView(request_id.bytes));
  auto rows = run(sql::kInsertRequestKeys, params, "registering duplicate-request keys");
  if (!rows) return std::move(rows).take_error();
  return {};
}

// One round trip for every key (they come joined, as for the insert).
Result<std::vector<KeyedRequest>> PostgresStore::open_requests_with_keys(const CountryCode& requester_country,
                                                                         std::span<const RequestKey> keys,
                                                                         std::int64_t from_ms, std::int64_t to_ms,
                                                                         const MessageId& except, std::size_t limit) {
  if (keys.empty() || limit == 0) return std::vector<KeyedRequest>{};
  const auto capped = static_cast<std::int64_t>(
      std::min<std::size_t>(limit, static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max())));
  const Bytes joined = joined_keys(keys);
  Params params;
  params.add_text(requester_country.str())
      .add(ByteView(joined))
      .add(from_ms)
      .add(to_ms)
      .add(ByteView(except.bytes))
      .add(capped);
  auto rows = run(sql::kOpenRequestsWithKeys, params, "looking up requests with duplicate-request keys");
  if (!rows) return std::move(rows).take_error();
  std::vector<KeyedRequest> found;
  for (int i = 0; i < rows->size(); ++i) {
    auto id = MessageId::from_bytes(rows->blob(i, 0));
    if (!id) return damaged("request id");
    found.push_back({*id, rows->integer(i, 1), rows->integer(i, 2)});
  }
  return found;
}

Result<bool> PostgresStore::request_keys_backfill_pending() {
  auto rows = run_once("SELECT COALESCE(MAX(pending), 0) FROM request_keys_backfill",
                       "reading whether duplicate-request keys need a backfill");
  if (!rows) return std::move(rows).take_error();
  return rows->integer(0, 0) != 0;
}

Status PostgresStore::finish_request_keys_backfill() {
  if (auto lost = transaction_lost()) return *std::move(lost);
  return exec("UPDATE request_keys_backfill SET pending = 0", "marking the duplicate-request keys complete");
}

Status PostgresStore::delete_request_keys(const MessageId& request_id) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  auto rows = run(sql::kDeleteRequestKeys, Params().add(ByteView(request_id.bytes)),
                  "deleting a request's duplicate-request keys");
  if (!rows) return std::move(rows).take_error();
  return {};
}

}  // namespace fpx::broker::pg
