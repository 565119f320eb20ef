// What a broker that lies would do to its own feed, for tests of the
// observer's checks: records signed with the exchange's real key, written
// straight into the broker's SQLite store (table feed) while it runs.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "fpx/envelope.hpp"
#include "fpx/identity.hpp"

namespace fpx::test {

namespace detail {

inline void sqlite_check(bool ok, sqlite3* db, const char* what) {
  if (!ok) throw std::runtime_error(std::string(what) + ": " + sqlite3_errmsg(db));
}

inline void write_feed_row(sqlite3* db, const char* sql, std::uint64_t sequence, const std::string& kind,
                           const std::string& record, const Identity& broker) {
  const Bytes bytes(record.begin(), record.end());
  const auto signature = broker.signing_key().sign(feed_signing_input(bytes));
  sqlite3_stmt* statement = nullptr;
  sqlite_check(sqlite3_prepare_v2(db, sql, -1, &statement, nullptr) == SQLITE_OK, db, "preparing a feed write");
  sqlite3_bind_blob(statement, 1, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  sqlite3_bind_blob(statement, 2, signature.data(), static_cast<int>(signature.size()), SQLITE_TRANSIENT);
  sqlite3_bind_int64(statement, 3, static_cast<sqlite3_int64>(sequence));
  sqlite3_bind_text(statement, 4, kind.c_str(), -1, SQLITE_TRANSIENT);
  const int rc = sqlite3_step(statement);
  sqlite3_finalize(statement);
  sqlite_check(rc == SQLITE_DONE && sqlite3_changes(db) == 1, db, "writing a feed row");
}

}  // namespace detail

// Appends a record at the feed's next sequence: `fields` is the JSON
// object's inside without "sequence" and "kind", which are added. Returns
// the record's sequence.
inline std::uint64_t forge_feed_record(const std::filesystem::path& database, const Identity& broker,
                                       const std::string& kind, const std::string& fields) {
  sqlite3* db = nullptr;
  detail::sqlite_check(sqlite3_open(database.c_str(), &db) == SQLITE_OK, db, "opening the broker's store");
  sqlite3_busy_timeout(db, 10000);
  detail::sqlite_check(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK, db, "BEGIN");
  sqlite3_stmt* next = nullptr;
  sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(seq), 0) + 1 FROM feed", -1, &next, nullptr);
  detail::sqlite_check(next != nullptr && sqlite3_step(next) == SQLITE_ROW, db, "reading the next sequence");
  const auto sequence = static_cast<std::uint64_t>(sqlite3_column_int64(next, 0));
  sqlite3_finalize(next);
  const std::string record =
      "{" + fields + ",\"kind\":\"" + kind + "\",\"sequence\":" + std::to_string(sequence) + "}";
  detail::write_feed_row(db, "INSERT INTO feed (record, signature, seq, kind, created_at_ms) VALUES (?, ?, ?, ?, 0)",
                         sequence, kind, record, broker);
  detail::sqlite_check(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK, db, "COMMIT");
  sqlite3_close(db);
  return sequence;
}

// Replaces a stored record's signed JSON, re-signed with the real key:
// content altered after it was logged.
inline void rewrite_feed_record(const std::filesystem::path& database, const Identity& broker,
                                std::uint64_t sequence, const std::string& kind, const std::string& record) {
  sqlite3* db = nullptr;
  detail::sqlite_check(sqlite3_open(database.c_str(), &db) == SQLITE_OK, db, "opening the broker's store");
  sqlite3_busy_timeout(db, 10000);
  detail::write_feed_row(db, "UPDATE feed SET record = ?, signature = ? WHERE seq = ? AND kind = ?", sequence, kind,
                         record, broker);
  sqlite3_close(db);
}

}  // namespace fpx::test
