// The audit table: append and the operators' reads.
#include "sqlite_store.hpp"

namespace fpx::broker {

namespace sqlite {

constexpr std::string_view kAccepted = "accepted";

std::string_view outcome_name(ErrorCode code) {
  return code == ErrorCode::none ? kAccepted : error_code_name(code);
}

// Audit rows written by this or an older build always name a known code;
// an unknown name (a newer build's) reads back as `internal` rather than failing the read.
ErrorCode parse_outcome(std::string_view name) {
  if (name == kAccepted) return ErrorCode::none;
  for (auto ordinal = static_cast<std::uint16_t>(ErrorCode::none);
       ordinal <= static_cast<std::uint16_t>(kLastErrorCode); ++ordinal) {
    const auto code = static_cast<ErrorCode>(ordinal);
    if (error_code_name(code) == name) return code;
  }
  return ErrorCode::internal;
}

Status SqliteStore::append_audit(const AuditEntry& entry) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  Query query(append_audit_.get());
  query.bind(1, entry.at_ms).bind(2, std::string_view(entry.principal));
  if (entry.message_id) {
    query.bind(3, ByteView(entry.message_id->bytes));
  } else {
    query.bind_null(3);
  }
  query.bind(4, std::string_view(entry.stage)).bind(5, outcome_name(entry.outcome)).bind(6, std::string_view(entry.detail));
  return done(query.step(), "appending an audit row");
}

Result<std::vector<AuditRow>> SqliteStore::audit_rows(std::int64_t after_id, std::size_t limit) {
  Query query(audit_rows_.get());
  query.bind(1, after_id).bind(2, limit_to_sql(limit));
  std::vector<AuditRow> rows;
  for (;;) {
    const int rc = query.step();
    if (rc == SQLITE_DONE) return rows;
    if (rc != SQLITE_ROW) return fail(rc, "reading audit rows");
    AuditRow row;
    row.id = query.integer(0);
    row.at_ms = query.integer(1);
    row.principal = query.text(2);
    if (!query.is_null(3)) {
      row.message_id = message_id_from(query.blob(3));
      if (!row.message_id) return damaged("a message id in audit");
    }
    row.stage = query.text(4);
    row.outcome = parse_outcome(query.text(5));
    row.detail = query.text(6);
    rows.push_back(std::move(row));
  }
}

}  // namespace sqlite

}  // namespace fpx::broker
