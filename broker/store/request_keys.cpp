// Schema 10: duplicate-request keys (broker/stage_duplicate.hpp), so that a
// new tracing request reads only the requests that share a key with it.
//
// Schema 11 (issue 15): keys are random (SHA-256), so each one inserted into
// request_keys, clustered by key, lands on a random page, and a commit
// rewrote most of the table's pages (about 6 KB of WAL per tracing request
// in the lean bench, more than any other table). New keys now go to
// request_keys_recent, which stays small (kFoldRecentKeysAt), so a commit
// dirties only its few pages; at a commit once it holds kFoldRecentKeysAt
// keys, they move into request_keys in key order, so that each page of
// request_keys is written once per fold rather than once per commit. A
// lookup reads both tables (each one index range per key, LIMITed as
// before), so it finds exactly what it did with one table.
#include <algorithm>
#include <tuple>

#include "sqlite_store.hpp"

namespace fpx::broker {
namespace sqlite {

// Keys held in request_keys_recent before they move to request_keys: the
// table a commit writes into at random stays about 1024 rows (under 50 KB,
// a few pages), whatever the store's size, and a fold writes each page of
// request_keys at most once for 1024 keys. It holds at most this plus one
// batch's keys (each message at most kMaxDuplicateKeys), so no participant
// can make it, or the lookup's read of it, grow. Measured on the lean bench
// (10,100 requests of two keys, 8 KiB pages): 1024 wrote the least WAL of
// 256, 512, 1024 and 4096 (bench/README.md).
constexpr std::int64_t kFoldRecentKeysAt = 1024;

Status SqliteStore::fold_recent_request_keys() {
  // Never outside a transaction (an earlier failure rolled it back): the
  // COMMIT that follows reports that, and nothing is written on its own.
  if (recent_request_keys_ < kFoldRecentKeysAt || !in_transaction()) return {};
  {
    Query fold(fold_recent_request_keys_.get());
    if (auto status = done(fold.step(), "folding recent duplicate-request keys"); !status) return status;
  }
  Query clear(clear_recent_request_keys_.get());
  if (auto status = done(clear.step(), "clearing recent duplicate-request keys"); !status) return status;
  recent_request_keys_ = 0;
  return {};
}

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
    ++recent_request_keys_;
  }
  return {};
}

Result<std::vector<KeyedRequest>> SqliteStore::open_requests_with_keys(const CountryCode& requester_country,
                                                                       std::span<const RequestKey> keys,
                                                                       std::int64_t from_ms, std::int64_t to_ms,
                                                                       const MessageId& except, std::size_t limit) {
  // One index range per key (each at most `limit` rows), merged here.
  // Both tables (schema 11: a key is in one of them, or in both for a
  // moment a fold's insert was kept and its clear not): merged below.
  std::vector<KeyedRequest> found;
  for (const auto& key : keys) {
    for (sqlite3_stmt* statement : {open_requests_with_key_.get(), open_recent_requests_with_key_.get()}) {
      Query query(statement);
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

Status SqliteStore::count_recent_request_keys() {
  auto count = query_integer(db_.get(), "SELECT COUNT(*) FROM request_keys_recent", path_);
  if (!count) return std::move(count).take_error();
  recent_request_keys_ = *count;
  return {};
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
  for (sqlite3_stmt* statement : {delete_request_keys_.get(), delete_recent_request_keys_.get()}) {
    Query query(statement);
    query.bind(1, ByteView(request_id.bytes));
    if (auto status = done(query.step(), "deleting a request's duplicate-request keys"); !status) return status;
  }
  return {};
}

}  // namespace sqlite
}  // namespace fpx::broker
