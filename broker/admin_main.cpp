// fpx-admin: the exchange operator's tool beside a running broker (issue
// 16): backup, restore, check, audit export, dead letters, retention.
//
// A program of its own rather than `fpx-broker admin ...`: it needs no
// signing key, binds no socket and never joins the broker's loop, so an
// operator (or a systemd timer, deploy/fpx-retention.timer) runs it with
// the store's file permissions alone, while the broker serves.
#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>

#include "admin/operations.hpp"
#include "fpx/broker/config.hpp"
#include "fpx/certificate.hpp"

namespace {

using fpx::broker::admin::ExportFormat;

int fail(const fpx::Error& error) {
  std::cerr << "fpx-admin: " << error.describe() << "\n";
  return 1;
}

bool is_decision(const std::string& decision) {
  if (decision == "accepted" || decision == "refused") return true;
  for (auto code = static_cast<std::uint16_t>(fpx::ErrorCode::malformed);
       code <= static_cast<std::uint16_t>(fpx::kLastErrorCode); ++code) {
    if (fpx::error_code_name(static_cast<fpx::ErrorCode>(code)) == decision) return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fpx-admin: backup, restore, audit export, dead letters and retention of an FPX broker's store"};
  app.require_subcommand(1);
  std::string config_path;
  std::string store_override;
  app.add_option("--config", config_path, "the broker's TOML configuration (its [storage] database, [retention])");
  app.add_option("--store", store_override, "the store file, instead of the configuration's [storage] database");
  std::string dsn_override;
  app.add_option("--dsn", dsn_override,
                 "a PostgreSQL store's libpq connection string, instead of the configuration's [store] dsn");

  std::string backup_to;
  auto* backup = app.add_subcommand("backup", "a consistent online backup of the store (0600), while the broker runs");
  backup->add_option("--to", backup_to, "the backup file to write (must not exist)")->required();

  std::string restore_from;
  std::string restore_to;
  auto* restore = app.add_subcommand("restore", "check a backup and make it the store (the broker must be stopped)");
  restore->add_option("--from", restore_from, "the backup file")->required();
  restore->add_option("--to", restore_to, "the SQLite store file to replace or create (PostgreSQL: --dsn, an empty "
                                          "database)");

  std::string check_file;
  auto* check = app.add_subcommand("check", "check a store or backup: integrity, schema, leaves, nodes, checkpoint");
  check->add_option("--file", check_file, "the SQLite store or backup file (PostgreSQL: the store at --dsn or the "
                                          "configuration's [store] dsn)");

  auto* audit = app.add_subcommand("audit", "the audit trail");
  audit->require_subcommand(1);
  auto* audit_export = audit->add_subcommand("export", "write audit rows, oldest first, to standard output");
  std::string format = "csv";
  std::string participant;
  std::string since;
  std::string until;
  std::string decision;
  std::string out_path;
  audit_export->add_option("--format", format, "csv or json")->check(CLI::IsMember({"csv", "json"}));
  audit_export->add_option("--participant", participant, "only this principal and its officers (id/officer)");
  audit_export->add_option("--since", since, "from this time on (Unix ms, 2026-12-07 or 2026-12-07T03:00:00Z)");
  audit_export->add_option("--until", until, "before this time");
  audit_export->add_option("--decision", decision, "accepted, refused, or an error code (e.g. unauthorized)");
  audit_export->add_option("--out", out_path, "write to this file (0600) instead of standard output");

  std::string dead_since;
  auto* dead_letters = app.add_subcommand("dead-letters", "deliveries never confirmed in time, as JSON lines");
  dead_letters->add_option("--since", dead_since, "dead since this time (Unix ms or a UTC date)");

  auto* retention = app.add_subcommand("retention", "purge message bodies past their [retention] period");
  retention->require_subcommand(1);
  auto* retention_run = retention->add_subcommand("run", "purge now (audited); the log stays verifiable");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : 2;
  }

  std::optional<fpx::broker::BrokerConfig> config;
  if (!config_path.empty()) {
    auto loaded = fpx::broker::load_broker_config(config_path);
    if (!loaded) return fail(loaded.error());
    config = std::move(loaded).value();
  }
  // PostgreSQL when --dsn is given or the configuration's [store] backend says so.
  const std::string dsn = !dsn_override.empty() ? dsn_override
                          : (config && config->store_backend == fpx::broker::StoreBackend::postgres && store_override.empty())
                              ? config->store_dsn
                              : std::string();
  const bool postgres = !dsn.empty();
  auto store_path = [&]() -> fpx::Result<std::filesystem::path> {
    if (!store_override.empty()) return std::filesystem::path(store_override);
    if (config) return config->database;
    return fpx::make_error(fpx::ErrorCode::invalid_argument,
                           "give --config /etc/fpx/broker.toml (or --store FILE) to say which store");
  };

  if (*backup && postgres) {
    if (auto done = fpx::broker::admin::backup_postgres(dsn, backup_to); !done) return fail(done.error());
    std::cout << "backup " << backup_to << " (pg_dump custom format): restore it with fpx-admin restore --from "
              << backup_to << " --dsn <an empty database>\n";
    return 0;
  }
  if (*backup) {
    auto store = store_path();
    if (!store) return fail(store.error());
    if (auto done = fpx::broker::admin::backup_sqlite(*store, backup_to); !done) return fail(done.error());
    auto checked = fpx::broker::admin::check_sqlite_store(backup_to);
    if (!checked) return fail(checked.error());
    std::cout << "backup " << backup_to << ": " << checked->messages << " messages, log size " << checked->log_size
              << ", root " << checked->root_hex << "\n";
    return 0;
  }
  if (*restore && postgres) {
    auto restored = fpx::broker::admin::restore_postgres(restore_from, dsn);
    if (!restored) return fail(restored.error());
    std::cout << "restored the PostgreSQL store from " << restore_from << ": " << restored->messages
              << " messages, log size " << restored->log_size << ", root " << restored->root_hex << "\n";
    return 0;
  }
  if (*restore) {
    if (restore_to.empty()) {
      return fail(fpx::make_error(fpx::ErrorCode::invalid_argument,
                                  "restore needs --to FILE (SQLite) or --dsn (PostgreSQL, an empty database)"));
    }
    auto restored = fpx::broker::admin::restore_sqlite(restore_from, restore_to);
    if (!restored) return fail(restored.error());
    std::cout << "restored " << restore_to << " from " << restore_from << ": " << restored->messages
              << " messages, log size " << restored->log_size << ", root " << restored->root_hex << "\n";
    return 0;
  }
  if (*check && postgres && check_file.empty()) {
    auto checked = fpx::broker::admin::check_postgres_store(dsn);
    if (!checked) return fail(checked.error());
    std::cout << "PostgreSQL store: OK, schema " << checked->schema_version << ", " << checked->messages
              << " messages, log size " << checked->log_size << " (latest checkpoint " << checked->checkpoint_size
              << "), root " << checked->root_hex << "\n";
    return 0;
  }
  if (*check) {
    if (check_file.empty()) {
      return fail(fpx::make_error(fpx::ErrorCode::invalid_argument,
                                  "check needs --file FILE (SQLite) or --dsn (PostgreSQL)"));
    }
    auto checked = fpx::broker::admin::check_sqlite_store(check_file);
    if (!checked) return fail(checked.error());
    std::cout << check_file << ": OK, schema " << checked->schema_version << ", " << checked->messages
              << " messages, log size " << checked->log_size << " (latest checkpoint " << checked->checkpoint_size
              << "), root " << checked->root_hex << "\n";
    return 0;
  }
  if (*audit_export) {
    fpx::Result<std::filesystem::path> store = std::filesystem::path();
    if (!postgres) store = store_path();
    if (!store) return fail(store.error());
    fpx::broker::admin::AuditFilter filter;
    if (!participant.empty()) filter.participant = participant;
    if (!since.empty()) {
      auto at = fpx::broker::admin::parse_time_argument(since);
      if (!at) return fail(at.error());
      filter.since_ms = *at;
    }
    if (!until.empty()) {
      auto at = fpx::broker::admin::parse_time_argument(until);
      if (!at) return fail(at.error());
      filter.until_ms = *at;
    }
    if (!decision.empty()) {
      if (!is_decision(decision)) {
        return fail(fpx::make_error(fpx::ErrorCode::invalid_argument,
                                    "--decision " + decision +
                                        ": use accepted, refused, or an error code name such as unauthorized"));
      }
      filter.decision = decision;
    }
    const ExportFormat chosen = format == "json" ? ExportFormat::json : ExportFormat::csv;
    auto export_to = [&](std::ostream& out) {
      return postgres ? fpx::broker::admin::export_audit_postgres(dsn, filter, chosen, out)
                      : fpx::broker::admin::export_audit_sqlite(*store, filter, chosen, out);
    };
    if (out_path.empty()) {
      auto written = export_to(std::cout);
      if (!written) return fail(written.error());
      std::cerr << "fpx-admin: " << *written << " audit rows exported\n";
    } else {
      // The audit trail names participants and message ids: private to its reader.
      std::filesystem::path path(out_path);
      const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      if (fd < 0) {
        return fail(fpx::make_error(fpx::ErrorCode::io_error, "cannot write " + out_path + ": check the directory"));
      }
      ::close(fd);
      std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
      std::ofstream file(path, std::ios::binary | std::ios::trunc);
      auto written = export_to(file);
      if (!written) return fail(written.error());
      std::cerr << "fpx-admin: " << *written << " audit rows exported to " << out_path << "\n";
    }
    return 0;
  }
  if (*dead_letters) {
    fpx::Result<std::filesystem::path> store = std::filesystem::path();
    if (!postgres) store = store_path();
    if (!store) return fail(store.error());
    std::int64_t since_ms = 0;
    if (!dead_since.empty()) {
      auto at = fpx::broker::admin::parse_time_argument(dead_since);
      if (!at) return fail(at.error());
      since_ms = *at;
    }
    auto listed = postgres ? fpx::broker::admin::list_dead_letters_postgres(dsn, since_ms, std::cout)
                           : fpx::broker::admin::list_dead_letters_sqlite(*store, since_ms, std::cout);
    if (!listed) return fail(listed.error());
    std::cerr << "fpx-admin: " << *listed << " dead letters\n";
    return 0;
  }
  if (*retention_run) {
    if (!config) {
      return fail(fpx::make_error(fpx::ErrorCode::invalid_argument,
                                  "retention run needs --config: the periods are its [retention] table"));
    }
    if (!store_override.empty()) config->database = store_override;
    if (postgres) {
      config->store_backend = fpx::broker::StoreBackend::postgres;
      config->store_dsn = dsn;
    }
    auto purged = fpx::broker::admin::run_retention(*config, fpx::now_ms());
    if (!purged) return fail(purged.error());
    if (purged->empty()) std::cout << "no [retention] rules in " << config_path << ": nothing purged\n";
    for (const auto& [type, count] : *purged) std::cout << type << ": " << count << " bodies purged\n";
    return 0;
  }
  return 2;
}
