// A real fpx-broker process on 127.0.0.1 for integration tests: its own
// config, enrolled directory and SQLite file in the test PKI's directory.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "support/test_pki.hpp"

namespace fpx::test {

struct BrokerOptions {
  double rate_per_second = 1000;
  double burst = 1000;
  std::int64_t hold_ms = 30LL * 24 * 3600 * 1000;
  std::int64_t resend_after_ms = 30'000;
  std::int64_t max_message_age_ms = 24LL * 3600 * 1000;
  std::size_t max_message_bytes = 1024 * 1024;
  std::int64_t checkpoint_every_ms = 500;
  std::int64_t handshake_ivl_ms = 5'000;  // half-open and slow handshakes are dropped after this
  // Public statistics: empty keeps the broker's default ("month", "day");
  // tests use a short fixed period such as "2s" so that one ends while they run.
  std::vector<std::string> statistics_periods;
  std::optional<std::int64_t> reveal_after_ms;  // the embargo; unset keeps the broker's default
  std::optional<std::int64_t> periods_per_year;  // oversight.periods_per_year: a fixed grid's year tables
  // Per-participant bounds ([limits]); unset keeps the broker's defaults.
  std::optional<double> bytes_per_second;
  std::optional<double> burst_bytes;
  std::optional<std::uint64_t> quota_bytes_per_day;
  // Stored bytes per participant and minute (a token bucket refilled at
  // this rate, holding at most stored_burst_bytes). Tests send many
  // messages quickly, far above a focal point's real traffic: by default
  // the bucket holds a gibibyte, and the tests of the bound set it small.
  double stored_bytes_per_minute = 1024.0 * 1024 * 1024;
  double stored_burst_bytes = 1024.0 * 1024 * 1024;
  std::optional<std::size_t> max_watched_serials_per_state;
  std::optional<std::size_t> max_watched_serials_per_alert;  // issue 14: ranges count by their width
  std::optional<std::size_t> verify_workers;  // limits.verify_workers; unset keeps the broker's default
  // Non-empty: the broker keeps its state in this PostgreSQL database
  // ([store] backend = "postgres"; tests/support/postgres_cluster.hpp), not
  // in the SQLite file, and audit() cannot read it.
  std::string postgres_dsn;
  std::string metrics_listen;  // [metrics] listen; empty: no metrics endpoint
  std::string extra_toml;      // appended after every other table (e.g. "[retention]\nalert = \"1s\"\n")
  // oversight.witness_timeout_ms; unset keeps the broker's default.
  std::optional<std::int64_t> witness_timeout_ms;
  // Failover (postgres_dsn set): [store] lease_ms and holder; a standby
  // starts while another broker leads, and start() returns once it stands
  // by (wait_listening() then waits for its takeover). A second broker of
  // the same exchange reuses the first one's identity instead of issuing
  // a new one (both sign as the exchange: broker/README.md).
  std::optional<std::int64_t> lease_ms;
  std::string holder;
  bool standby = false;
  bool reuse_broker_identity = false;
};

struct AuditRecord {
  std::string principal;
  std::string message_id_hex;
  std::string stage;
  std::string outcome;
  std::string detail;
};

class BrokerProcess {
 public:
  // Issues the broker identity and enrolls `participants` (ids already issued in `pki`).
  BrokerProcess(TestPki& pki, const std::vector<std::string>& participants, BrokerOptions options = {});
  ~BrokerProcess();
  BrokerProcess(const BrokerProcess&) = delete;
  BrokerProcess& operator=(const BrokerProcess&) = delete;

  void start();                 // waits until it listens (a standby: until it stands by)
  // A standby's takeover: true once it listens, false if it did not within `within`.
  bool wait_listening(std::chrono::milliseconds within);
  void send_signal(int signal);  // SIGSTOP, SIGCONT: a paused process, as a stalled machine
  // The exit status once the process ended by itself within `within`, else nothing.
  std::optional<int> wait_exit(std::chrono::milliseconds within);
  void kill_hard();             // SIGKILL, as a crash
  int stop();                   // SIGTERM; returns the exit status
  void reload();                // SIGHUP, then waits until the broker has read it
  void enroll(const std::string& id);  // copies the chain into the enrolled directory
  // Appends TOML (tables such as [[witnesses]]) to the config, read at the next start().
  void append_config(const std::string& toml);

  const std::string& endpoint() const { return endpoint_; }
  const std::string& observers_endpoint() const { return observers_endpoint_; }
  CurvePublicKey curve_public_key() const;
  const std::filesystem::path& database() const { return database_; }
  const std::filesystem::path& config_path() const { return config_; }
  std::string log_text() const;  // what the broker logged so far, over all its starts
  std::vector<AuditRecord> audit() const;
  // Count of audit rows of `stage` with `outcome` (an error code name or "accepted").
  int audit_count(const std::string& stage, const std::string& outcome) const;
  // rate_limited refusals of `principal` at `stage` that the audit accounts
  // for: one per row audited in full plus the count of each summary row.
  // Waits (up to 10 s) for the summary rows until `expected` are accounted for.
  std::uint64_t rate_limited_audited(const std::string& stage, const std::string& principal,
                                     std::uint64_t expected) const;
  // The same for refusals of any kind (`outcome` as audited: "malformed", ...).
  std::uint64_t refusals_audited(const std::string& stage, const std::string& principal, const std::string& outcome,
                                 std::uint64_t expected) const;

 private:
  enum class Launch { listening, port_taken };
  void choose_endpoints_and_write_config();
  Launch launch();

  TestPki& pki_;
  BrokerOptions options_;
  std::filesystem::path dir_;
  std::filesystem::path config_;
  std::filesystem::path database_;
  std::filesystem::path log_;
  std::string endpoint_;
  std::string observers_endpoint_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace fpx::test
