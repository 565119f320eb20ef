// fpx-admin's operations on a store (issue 16): backup, restore and its
// checks, audit export, dead letters, retention. Each is a small function
// per store engine; these are SQLite's. A PostgreSQL store adds its own
// beside them (pg_dump or base backups: deploy/README.md), not in them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "fpx/broker/config.hpp"
#include "fpx/result.hpp"

namespace fpx::broker::admin {

// A consistent copy of a live SQLite store: the online backup API copies
// every page inside one read transaction (a WAL snapshot), so the broker
// keeps committing meanwhile. Written as `to`.partial, 0600, fsynced, then
// renamed: `to` is either complete or absent. Refuses to overwrite `to`.
Status backup_sqlite(const std::filesystem::path& store, const std::filesystem::path& to);

// What a check of a store file found (restore runs it before and after).
struct StoreCheck {
  std::int64_t schema_version = 0;
  std::uint64_t messages = 0;
  std::uint64_t log_size = 0;
  std::uint64_t checkpoint_size = 0;  // 0: no checkpoint signed yet
  std::string root_hex;               // the root at log_size
};
// PRAGMA integrity_check, the schema version (1 .. this broker's), every
// leaf's hash against its data, every interior node against its children,
// and the latest signed checkpoint's root against the root the nodes give.
Result<StoreCheck> check_sqlite_store(const std::filesystem::path& file);

// Whether a process (a running broker) has the store open: SQLite refuses
// an exclusive lock on a WAL database another connection holds.
enum class StoreUse { free, in_use };
Result<StoreUse> sqlite_store_use(const std::filesystem::path& store);

// Restores `from` (a backup) to `to`: refuses when `to` is in use, checks
// `from`, copies it (0600), upgrades its schema if older, checks the copy,
// then replaces `to` (removing a stale -wal/-shm of the old file first).
Result<StoreCheck> restore_sqlite(const std::filesystem::path& from, const std::filesystem::path& to);

// ---- audit export ----
enum class ExportFormat { csv, json };
struct AuditFilter {
  std::optional<std::string> participant;  // the principal, or any of its officers ("id/officer")
  std::optional<std::int64_t> since_ms;    // at_ms >= since
  std::optional<std::int64_t> until_ms;    // at_ms < until
  std::optional<std::string> decision;     // "accepted", "refused", or an error code name
};
// Rows in id order; returns how many were written. Read-only.
Result<std::uint64_t> export_audit_sqlite(const std::filesystem::path& store, const AuditFilter& filter,
                                          ExportFormat format, std::ostream& out);

// ---- dead letters ----
// Deliveries in state dead_letter updated at or after `since_ms`, oldest
// first, as JSON lines. Read-only; returns how many.
Result<std::uint64_t> list_dead_letters_sqlite(const std::filesystem::path& store, std::int64_t since_ms,
                                               std::ostream& out);

// ---- retention ----
// Purges every body past its type's retention (config.retention), in
// transactions of RetentionPurge::limit messages beside a running broker.
// Returns the purged count per type.
Result<std::vector<std::pair<std::string, std::uint64_t>>> run_retention(const BrokerConfig& config,
                                                                         std::int64_t now_ms);

// ---- PostgreSQL ([store] backend = "postgres"; postgres_operations.cpp) ----
// `dsn` is the libpq connection string of [store] dsn. pg_dump and
// pg_restore (Debian's postgresql-client) run as child processes, no shell.

// pg_dump --format=custom --serializable-deferrable into `to` (0600,
// written as `to`.partial, fsynced, renamed): one consistent snapshot while
// the broker goes on committing. Checks the live store first.
Status backup_postgres(const std::string& dsn, const std::filesystem::path& to);
// The checks of check_sqlite_store on a PostgreSQL store, in one
// REPEATABLE READ snapshot (no integrity_check: the server has none to give).
Result<StoreCheck> check_postgres_store(const std::string& dsn);
// pg_restore of a backup into the EMPTY database at `dsn` (refused
// otherwise), in one transaction, then checked.
Result<StoreCheck> restore_postgres(const std::filesystem::path& from, const std::string& dsn);
Result<std::uint64_t> export_audit_postgres(const std::string& dsn, const AuditFilter& filter, ExportFormat format,
                                            std::ostream& out);
Result<std::uint64_t> list_dead_letters_postgres(const std::string& dsn, std::int64_t since_ms, std::ostream& out);

// "1733540000000" (Unix ms), "2026-12-07" or "2026-12-07T03:00:00Z" (UTC).
Result<std::int64_t> parse_time_argument(const std::string& text);

}  // namespace fpx::broker::admin
