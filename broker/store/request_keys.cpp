// Schema 10: duplicate-request keys (broker/stage_duplicate.hpp), so that a
// new tracing request reads only the requests that share a key with it.
#include <algorithm>
#include <tuple>

#include "sqlite_store.hpp"

namespace fpx::broker {
namespace sqlite {

Status SqliteStore::insert_request_keys(const MessageId& request_id, const CountryCode& requester_country,
                                        std::int64_t submitted_at_ms, std::span<const RequestKey> keys) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  if (keys.empty()) return {};
  auto stored = find_message(request_id);
  if (!stored) return std::move(stored).take_error();
  if (!stored->has_value()) return make_error(ErrorCode::internal, "duplicate-request keys for a message not stored");
  const std::int64_t seq = (*stored)->seq;
  for (const auto& key : keys) {
    Query query(insert_request_key_.get());
    query.bind(1, std::string_view(requester_country.str()))
        .bind(2, ByteView(key.data(), key.size()))
        .bind(3, submitted_at_ms)
        .bind(4, seq);
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
      found.push_back({*id, query.integer(1), query.integer(2)});
    }
  }
  std::sort(found.begin(), found.end(), [](const KeyedRequest& a, const KeyedRequest& b) {
    return std::tie(a.submitted_at_ms, a.seq) > std::tie(b.submitted_at_ms, b.seq);
  });
  found.erase(std::unique(found.begin(), found.end(),
                          [](const KeyedRequest& a, const KeyedRequest& b) { return a.seq == b.seq; }),
              found.end());
  if (found.size() > limit) found.resize(limit);
  return found;
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

Status SqliteStore::delete_request_keys(const MessageId& request_id) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  Query query(delete_request_keys_.get());
  query.bind(1, ByteView(request_id.bytes));
  return done(query.step(), "deleting a request's duplicate-request keys");
}

}  // namespace sqlite
}  // namespace fpx::broker
