// What the SQLite and PostgreSQL operations share: one row format for the
// audit export and the dead letters (so both stores write the same bytes),
// and the fsync of a finished file. Defined in operations.cpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>

#include "admin/operations.hpp"

namespace fpx::broker::admin {

struct AuditExportRow {
  // The audit row's id; none for an acceptance read from its messages row
  // (SQLite schema 11 writes no audit row for it): an empty CSV cell, JSON null.
  std::optional<std::int64_t> id;
  std::int64_t at_ms = 0;
  std::string principal;
  std::string message_id_hex;  // "" when the row names no message
  std::string stage;
  std::string outcome;
  std::string detail;
};
// One row as CSV (RFC 4180, formula cells defused) or as a JSON array
// element (`first`: no separating comma before it).
void write_audit_row(std::ostream& out, ExportFormat format, const AuditExportRow& row, bool first);

struct DeadLetterRow {
  std::int64_t delivery_id = 0;
  std::string message_id_hex;
  std::string sender;
  std::string recipient;
  std::string type;
  std::int64_t stored_at_ms = 0;
  std::int64_t dead_at_ms = 0;
  std::string reason;
  std::int64_t attempts = 0;
};
// One JSON line.
void write_dead_letter(std::ostream& out, const DeadLetterRow& row);

// open(path, flags) and fsync: a file's bytes, or a directory's entries.
Status fsync_file(const std::filesystem::path& path, int flags);

}  // namespace fpx::broker::admin
