// Retention (issue 16): a message's body (its envelope) is purged once its
// type's retention has ended, in the writing transaction, one audit row per
// message. What the transparency log needs stays: the messages row with
// signed_sha256 (the hash the signature and the receipt bind), the log
// leaf and its nodes, the receipt group. A purged envelope is an empty blob.
#include "sqlite_store.hpp"

namespace fpx::broker {

Result<std::vector<MessageId>> Store::purge_bodies(const RetentionPurge&) {
  return make_error(ErrorCode::unavailable,
                    "this store does not purge bodies yet: run retention on a SQLite store, or purge by hand");
}

namespace sqlite {

namespace {

// A message the broker may still send (a delivery not confirmed, or within
// its hold time, when a later officer's session catches up on it) keeps its
// body whatever its retention says: purging it would deliver an empty envelope.
constexpr const char* kPurgeableSql =
    "SELECT seq, message_id, stored_at_ms FROM messages m WHERE type = ?1 AND stored_at_ms < ?2 "
    "AND hold_until_ms < ?3 AND length(envelope) > 0 "
    "AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_seq = m.seq AND d.state IN ('stored', 'delivered')) "
    "ORDER BY seq LIMIT ?4";
constexpr const char* kPurgeSql = "UPDATE messages SET envelope = X'' WHERE seq = ?1";
constexpr const char* kMarkDeliveriesSql = "UPDATE deliveries SET reason = ?2 WHERE message_seq = ?1";

}  // namespace

Result<std::vector<MessageId>> SqliteStore::purge_bodies(const RetentionPurge& purge) {
  if (!in_transaction()) {
    return make_error(ErrorCode::internal, "purge_bodies runs inside a transaction (begin() first)");
  }
  auto prepare = [&](const char* sql) -> Result<StatementPtr> {
    sqlite3_stmt* statement = nullptr;
    if (int rc = sqlite3_prepare_v2(db_.get(), sql, -1, &statement, nullptr); rc != SQLITE_OK) {
      sqlite3_finalize(statement);
      return fail(rc, "preparing the retention purge");
    }
    return StatementPtr(statement);
  };
  auto select = prepare(kPurgeableSql);
  if (!select) return std::move(select).take_error();
  auto update = prepare(kPurgeSql);
  if (!update) return std::move(update).take_error();
  auto mark = prepare(kMarkDeliveriesSql);
  if (!mark) return std::move(mark).take_error();

  struct Row {
    std::int64_t seq;
    MessageId id;
    std::int64_t stored_at_ms;
  };
  std::vector<Row> rows;
  {
    Query query(select->get());
    query.bind(1, std::string_view(purge.type)).bind(2, purge.stored_before_ms).bind(3, purge.now_ms)
        .bind(4, limit_to_sql(purge.limit));
    int rc = SQLITE_ROW;
    while ((rc = query.step()) == SQLITE_ROW) {
      auto id = message_id_from(query.blob(1));
      if (!id) return make_error(ErrorCode::io_error, "a stored message id is damaged: run `fpx-admin restore` checks");
      rows.push_back({query.integer(0), *id, query.integer(2)});
    }
    if (rc != SQLITE_DONE) return fail(rc, "finding bodies past their retention");
  }
  std::vector<MessageId> purged;
  const std::string reason = "body purged after its retention (" + purge.rule + ") ended";
  for (const auto& row : rows) {
    {
      Query query(update->get());
      query.bind(1, row.seq);
      if (auto step_done = done(query.step(), "purging a body"); !step_done) return std::move(step_done).take_error();
    }
    // Its duplicate-request keys hash the serial numbers the body held.
    if (auto keys = delete_request_keys(row.id); !keys) return std::move(keys).take_error();
    {
      Query query(mark->get());
      query.bind(1, row.seq).bind(2, std::string_view(reason));
      if (auto step_done = done(query.step(), "marking a purged message's deliveries"); !step_done) {
        return std::move(step_done).take_error();
      }
    }
    AuditEntry entry;
    entry.at_ms = purge.now_ms;
    entry.principal = purge.principal;
    entry.message_id = row.id;
    entry.stage = "retention";
    entry.outcome = ErrorCode::none;
    entry.detail = purge.type + " body purged: stored at " + std::to_string(row.stored_at_ms) + " ms, retention " +
                   purge.rule + " ended; header hash, log leaf and receipt kept";
    if (auto audited = append_audit(entry); !audited) return std::move(audited).take_error();
    purged.push_back(row.id);
  }
  return purged;
}

}  // namespace sqlite
}  // namespace fpx::broker
