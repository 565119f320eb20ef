// Civil society's early warnings and their acknowledgement clock (schema 8,
// docs/PROTOCOL.md §8.5): one row per warning, keyed by the warning's
// message row, so retention and the log treat it like any message.
#include "sqlite_store.hpp"

namespace fpx::broker {

namespace sqlite {

namespace {

#define FPX_WARNING_COLUMNS                                                                    \
  "m.message_id, w.country, w.sender, w.submitted_at_ms, w.ack_due_ms, w.acknowledged_at_ms, " \
  "w.acknowledged_by, w.reminded"

}  // namespace

Result<StatementPtr> SqliteStore::prepare_once(const char* sql, std::string_view what) {
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v2(db_.get(), sql, -1, &raw, nullptr);
  StatementPtr statement(raw);
  if (rc != SQLITE_OK) return fail(rc, what);
  return statement;
}

Status SqliteStore::insert_warning(const WarningRow& row) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  auto statement = prepare_once(
      "INSERT OR IGNORE INTO warnings (warning_seq, country, sender, submitted_at_ms, ack_due_ms) "
      "SELECT seq, ?2, ?3, ?4, ?5 FROM messages WHERE message_id = ?1",
      "storing an early warning's clock");
  if (!statement) return std::move(statement).take_error();
  Query query(statement->get());
  query.bind(1, ByteView(row.warning_id.bytes))
      .bind(2, std::string_view(row.country.str()))
      .bind(3, std::string_view(row.sender.str()))
      .bind(4, row.submitted_at_ms)
      .bind(5, row.ack_due_ms);
  return done(query.step(), "storing an early warning's clock");
}

Status SqliteStore::acknowledge_warning(const MessageId& warning_id, std::int64_t at_ms, const std::string& by) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  auto statement = prepare_once(
      "UPDATE warnings SET acknowledged_at_ms = ?2, acknowledged_by = ?3 "
      "WHERE acknowledged_at_ms = 0 AND warning_seq = (SELECT seq FROM messages WHERE message_id = ?1)",
      "dating an early warning's acknowledgement");
  if (!statement) return std::move(statement).take_error();
  Query query(statement->get());
  query.bind(1, ByteView(warning_id.bytes)).bind(2, at_ms).bind(3, std::string_view(by));
  return done(query.step(), "dating an early warning's acknowledgement");
}

Result<std::vector<WarningRow>> SqliteStore::warnings_due(std::int64_t now_ms) {
  auto statement = prepare_once("SELECT " FPX_WARNING_COLUMNS
                                " FROM warnings AS w JOIN messages AS m ON m.seq = w.warning_seq "
                                "WHERE w.acknowledged_at_ms = 0 AND w.reminded = 0 AND w.ack_due_ms <= ?1 "
                                "ORDER BY w.warning_seq",
                                "reading early warnings due");
  if (!statement) return std::move(statement).take_error();
  Query query(statement->get());
  query.bind(1, now_ms);
  return read_warnings(query);
}

Status SqliteStore::mark_warning_reminded(const MessageId& warning_id) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  auto statement = prepare_once(
      "UPDATE warnings SET reminded = 1 WHERE warning_seq = (SELECT seq FROM messages WHERE message_id = ?1)",
      "marking an early warning reminded");
  if (!statement) return std::move(statement).take_error();
  Query query(statement->get());
  query.bind(1, ByteView(warning_id.bytes));
  return done(query.step(), "marking an early warning reminded");
}

Result<std::vector<WarningRow>> SqliteStore::warnings_submitted_between(std::int64_t from_ms, std::int64_t to_ms) {
  auto statement = prepare_once("SELECT " FPX_WARNING_COLUMNS
                                " FROM warnings AS w JOIN messages AS m ON m.seq = w.warning_seq "
                                "WHERE w.submitted_at_ms >= ?1 AND w.submitted_at_ms < ?2 ORDER BY w.warning_seq",
                                "reading a period's early warnings");
  if (!statement) return std::move(statement).take_error();
  Query query(statement->get());
  query.bind(1, from_ms).bind(2, to_ms);
  return read_warnings(query);
}

Result<std::vector<WarningRow>> SqliteStore::read_warnings(Query& query) {
  std::vector<WarningRow> rows;
  for (;;) {
    const int rc = query.step();
    if (rc == SQLITE_DONE) return rows;
    if (rc != SQLITE_ROW) return fail(rc, "reading early warnings");
    WarningRow row;
    auto id = message_id_from(query.blob(0));
    if (!id) return damaged("early warning id");
    row.warning_id = *id;
    row.country = CountryCode(query.text(1));
    row.sender = ParticipantId(query.text(2));
    row.submitted_at_ms = query.integer(3);
    row.ack_due_ms = query.integer(4);
    row.acknowledged_at_ms = query.integer(5);
    row.acknowledged_by = query.text(6);
    row.reminded = query.integer(7) != 0;
    rows.push_back(std::move(row));
  }
}

}  // namespace sqlite

}  // namespace fpx::broker
