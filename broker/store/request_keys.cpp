// Schema 10: duplicate-request keys (broker/stage_duplicate.hpp), so that a
// new tracing request reads only the requests that share a key with it.
#include <algorithm>

#include "sqlite_store.hpp"

namespace fpx::broker {
namespace sqlite {

Status SqliteStore::insert_request_keys(const MessageId& request_id, const CountryCode& requester_country,
                                        std::int64_t submitted_at_ms, std::span<const RequestKey> keys) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  for (const auto& key : keys) {
    Query query(insert_request_key_.get());
    query.bind(1, std::string_view(requester_country.str()))
        .bind(2, ByteView(key.data(), key.size()))
        .bind(3, submitted_at_ms)
        .bind(4, ByteView(request_id.bytes));
    if (auto status = done(query.step(), "registering a duplicate-request key"); !status) return status;
  }
  return {};
}

Result<std::vector<KeyedRequest>> SqliteStore::open_requests_with_keys(const CountryCode& requester_country,
                                                                       std::span<const RequestKey> keys,
                                                                       std::int64_t from_ms, std::int64_t to_ms,
                                                                       const MessageId& except, std::size_t limit) {
  // One index range per key (each at most `limit` rows), merged here.
  std::vector<KeyedRequest> found;
  for (const auto& key : keys) {
    Query query(open_requests_with_key_.get());
    query.bind(1, std::string_view(requester_country.str()))
        .bind(2, ByteView(key.data(), key.size()))
        .bind(3, from_ms)
        .bind(4, to_ms)
        .bind(5, ByteView(except.bytes))
        .bind(6, limit_to_sql(limit));
    for (;;) {
      const int rc = query.step();
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return fail(rc, "looking up requests with a duplicate-request key");
      auto id = message_id_from(query.blob(0));
      if (!id) return damaged("request id");
      found.push_back({*id, query.integer(1)});
    }
  }
  std::stable_sort(found.begin(), found.end(), [](const KeyedRequest& a, const KeyedRequest& b) {
    return a.submitted_at_ms > b.submitted_at_ms;
  });
  std::vector<KeyedRequest> distinct;
  for (const auto& request : found) {
    if (distinct.size() == limit) break;
    const bool seen = std::any_of(distinct.begin(), distinct.end(),
                                  [&](const KeyedRequest& other) { return other.request_id == request.request_id; });
    if (!seen) distinct.push_back(request);
  }
  return distinct;
}

Result<bool> SqliteStore::request_keys_backfill_pending() {
  auto pending = query_integer(db_.get(), "SELECT COALESCE(MAX(pending), 0) FROM request_keys_backfill", path_);
  if (!pending) return std::move(pending).take_error();
  return *pending != 0;
}

Status SqliteStore::finish_request_keys_backfill() {
  if (auto lost = transaction_lost()) return *std::move(lost);
  return exec(db_.get(), "UPDATE request_keys_backfill SET pending = 0", path_);
}

}  // namespace sqlite
}  // namespace fpx::broker
