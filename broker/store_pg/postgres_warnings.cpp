// Civil society's early warnings and their acknowledgement clock, as in
// broker/store/warnings.cpp (schema 2).
#include "postgres_statements.hpp"

namespace fpx::broker::pg {

namespace {

Status as_status(Result<Rows> rows) {
  if (!rows) return std::move(rows).take_error();
  return {};
}

}  // namespace

Status PostgresStore::insert_warning(const WarningRow& row) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  Params params;
  params.add(ByteView(row.warning_id.bytes))
      .add_text(row.country.str())
      .add_text(row.sender.str())
      .add(row.submitted_at_ms)
      .add(row.ack_due_ms);
  return as_status(run(sql::kInsertWarning, params, "storing an early warning's clock"));
}

Status PostgresStore::acknowledge_warning(const MessageId& warning_id, std::int64_t at_ms, const std::string& by) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  return as_status(run(sql::kAcknowledgeWarning, Params().add(ByteView(warning_id.bytes)).add(at_ms).add_text(by),
                       "dating an early warning's acknowledgement"));
}

Result<std::vector<WarningRow>> PostgresStore::warnings_due(std::int64_t now_ms) {
  auto rows = run(sql::kWarningsDue, Params().add(now_ms), "reading early warnings due");
  if (!rows) return std::move(rows).take_error();
  return read_warnings(*rows);
}

Status PostgresStore::mark_warning_reminded(const MessageId& warning_id) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  return as_status(
      run(sql::kMarkWarningReminded, Params().add(ByteView(warning_id.bytes)), "marking an early warning reminded"));
}

Result<std::vector<WarningRow>> PostgresStore::warnings_submitted_between(std::int64_t from_ms, std::int64_t to_ms) {
  auto rows = run(sql::kWarningsBetween, Params().add(from_ms).add(to_ms), "reading a period's early warnings");
  if (!rows) return std::move(rows).take_error();
  return read_warnings(*rows);
}

Result<std::vector<WarningRow>> PostgresStore::read_warnings(const Rows& rows) {
  std::vector<WarningRow> out;
  for (int i = 0; i < rows.size(); ++i) {
    WarningRow row;
    auto id = MessageId::from_bytes(rows.blob(i, 0));
    if (!id) return damaged("early warning id");
    row.warning_id = *id;
    row.country = CountryCode(rows.text(i, 1));
    row.sender = ParticipantId(rows.text(i, 2));
    row.submitted_at_ms = rows.integer(i, 3);
    row.ack_due_ms = rows.integer(i, 4);
    row.acknowledged_at_ms = rows.integer(i, 5);
    row.acknowledged_by = rows.text(i, 6);
    row.reminded = rows.integer(i, 7) != 0;
    out.push_back(std::move(row));
  }
  return out;
}

}  // namespace fpx::broker::pg
