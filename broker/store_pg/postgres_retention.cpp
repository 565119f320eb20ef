// Retention on PostgreSQL (issue 16): the same purge as SQLite's
// (broker/store/retention.cpp), in the writing transaction, one audit row
// per message. What the transparency log needs stays: the messages row with
// signed_sha256, the log leaf and its nodes, the receipt group. A purged
// envelope is an empty bytea. Its statements are not among the prepared
// ones (sql::kAll): a purge runs once a day, not on the hot path.
#include "postgres_store.hpp"

namespace fpx::broker::pg {

namespace {

// A message the broker may still send (a delivery not confirmed, or within
// its hold time) keeps its body whatever its retention says: purging it
// would deliver an empty envelope.
constexpr const char* kPurgeableSql =
    "SELECT seq, message_id, stored_at_ms FROM messages m WHERE type = $1::text AND stored_at_ms < $2::bigint "
    "AND hold_until_ms < $3::bigint AND length(envelope) > 0 "
    "AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_seq = m.seq AND d.state IN ('stored', 'delivered')) "
    "ORDER BY seq LIMIT $4::bigint";
constexpr const char* kPurgeSql = "UPDATE messages SET envelope = ''::bytea WHERE seq = $1::bigint";
constexpr const char* kMarkDeliveriesSql = "UPDATE deliveries SET reason = $2::text WHERE message_seq = $1::bigint";

}  // namespace

Result<std::vector<MessageId>> PostgresStore::purge_bodies(const RetentionPurge& purge) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  auto exec = [&](const char* sql, const Params& params, std::string_view what) {
    return checked(ResultPtr(PQexecParams(conn_.get(), sql, params.count(), nullptr, params.values(),
                                          params.lengths(), params.formats(), 1)),
                   what, nullptr);
  };
  auto rows = exec(kPurgeableSql,
                   Params().add_text(purge.type).add(purge.stored_before_ms).add(purge.now_ms).add(
                       static_cast<std::int64_t>(purge.limit)),
                   "finding bodies past their retention");
  if (!rows) return std::move(rows).take_error();
  std::vector<MessageId> purged;
  const std::string reason = "body purged after its retention (" + purge.rule + ") ended";
  for (int i = 0; i < rows->size(); ++i) {
    const std::int64_t seq = rows->integer(i, 0);
    auto id = MessageId::from_bytes(rows->blob(i, 1));
    if (!id) return damaged("a message id in messages");
    const std::int64_t stored_at_ms = rows->integer(i, 2);
    if (auto done = exec(kPurgeSql, Params().add(seq), "purging a body"); !done) return std::move(done).take_error();
    // Its duplicate-request keys hash the serial numbers the body held.
    if (auto keys = delete_request_keys(*id); !keys) return std::move(keys).take_error();
    if (auto done = exec(kMarkDeliveriesSql, Params().add(seq).add_text(reason),
                         "marking a purged message's deliveries");
        !done) {
      return std::move(done).take_error();
    }
    AuditEntry entry;
    entry.at_ms = purge.now_ms;
    entry.principal = purge.principal;
    entry.message_id = *id;
    entry.stage = "retention";
    entry.outcome = ErrorCode::none;
    entry.detail = purge.type + " body purged: stored at " + std::to_string(stored_at_ms) + " ms, retention " +
                   purge.rule + " ended; header hash, log leaf and receipt kept";
    if (auto audited = append_audit(entry); !audited) return std::move(audited).take_error();
    purged.push_back(*id);
  }
  return purged;
}

}  // namespace fpx::broker::pg
