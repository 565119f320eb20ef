// The broker's configuration (deploy/broker.toml documents every option).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "fpx/cosignature.hpp"
#include "fpx/ids.hpp"
#include "fpx/result.hpp"

namespace fpx::broker {

// Verify workers at most: a typo in limits.verify_workers cannot start
// thousands of threads, each holding a trust store and its chain cache.
inline constexpr std::size_t kMaxVerifyWorkers = 64;

// Store bytes each accepted envelope byte costs (issue 14): SQLite keeps the
// envelope and, beside it, the message row's other columns, its indexes,
// the delivery rows, the audit row, the log leaf and nodes and the receipt
// member, about as much again for a 2-3 KB message (fpx-bench --abuse
// printed about 2x: bench/README.md). Charging envelopes at face value let
// a flood grow the store twice as fast as limits.stored_bytes_per_minute
// said. A large message costs less than twice its envelope: charging it
// twice errs on the side of the disk.
inline constexpr std::uint64_t kStoredBytesPerEnvelopeByte = 2;

struct Limits {
  // Largest participant frame accepted (a submit frame: its envelope plus a
  // few words). The socket refuses (disconnects) a larger frame from its
  // length, before reading or decrypting it (socket_setup.cpp, issue 14).
  std::size_t max_message_bytes = 1024 * 1024;
  // Token bucket per participant, checked before any signature work, so a
  // flood costs the broker a counter, not an Ed25519 verification.
  double rate_per_second = 200;
  double burst = 400;
  // The same bucket counted in bytes of inbound frames (every frame, refused
  // or not): stops a participant inside its message rate from sending 200
  // frames of 1 MiB a second, each read, decoded and verified. A focal
  // point's real traffic is a few hundred KiB a day.
  double bytes_per_second = 8.0 * 1024 * 1024;
  double burst_bytes = 32.0 * 1024 * 1024;
  // Bytes of accepted envelopes one participant may store per UTC day:
  // stops an enrolled participant (or a stolen key) from filling the
  // broker's disk with valid messages inside its rate. Over it:
  // quota_exceeded with the wait to the next UTC midnight.
  std::uint64_t quota_bytes_per_day = 256ULL * 1024 * 1024;
  // The same bytes per minute, as a token bucket (a stolen/lost alert's
  // watched serials count too): the day's quota alone let one participant
  // add ~713 MB of store in a minute. Both count store bytes: an envelope
  // byte costs kStoredBytesPerEnvelopeByte (2). Burst plus a minute's
  // refill is what a flood of ordinary messages can store in any minute:
  // 768 KiB (issue 14: at most 1 MB a minute). A focal point's real
  // traffic is a few hundred 3 KB requests a day; a bulk import of 300
  // (900 KB of envelopes, 1.8 MB of store) has its first ~40 accepted at
  // once and the rest over about 3 minutes, resent by the client library on
  // its own. Over it: quota_exceeded with the wait.
  double stored_bytes_per_minute = 512.0 * 1024;
  double stored_burst_bytes = 256.0 * 1024;
  // Messages taken from the socket into one transaction (group commit).
  std::size_t batch_max = 256;
  // One connection's messages in one batch, at most (fair draining): a
  // flooding or bursty participant cannot fill whole batches and make
  // everyone else wait behind hundreds of its signature checks.
  std::size_t batch_share = 16;
  // Threads that verify submits (open: signature, chain, CRL; validate)
  // beside the loop, each with its own trust store; 0 verifies on the loop
  // thread. More than one helps only with a core to spare for each.
  std::size_t verify_workers = 1;
  // Unconfirmed deliveries in flight per session.
  std::size_t max_in_flight = 64;
  // Serial numbers one stolen/lost alert may put on the watch list.
  std::size_t max_watched_serials_per_alert = 10'000;
  // Active watched serials of all of one state's stolen/lost alerts: each
  // alert is bounded above, this bounds how many alerts a state may stack
  // into a standing watch list over other states' tracing (and the table
  // every request's serials are matched against).
  std::size_t max_watched_serials_per_state = 100'000;
};

struct Timing {
  std::int64_t max_message_age_ms = 24LL * 3600 * 1000;  // created-at older: stale_timestamp
  std::int64_t max_clock_skew_ms = 5LL * 60 * 1000;      // created-at further ahead: stale_timestamp
  std::int64_t hold_ms = 30LL * 24 * 3600 * 1000;        // undelivered past this: dead letter
  std::int64_t tracing_request_hold_ms = 365LL * 24 * 3600 * 1000;
  std::int64_t resend_after_ms = 30'000;                 // unconfirmed delivery resent after
  std::int64_t handshake_ivl_ms = 5'000;                 // a handshake must finish within
  std::int64_t heartbeat_ivl_ms = 10'000;
  std::int64_t heartbeat_timeout_ms = 30'000;
  // Background WAL checkpoints (own thread and connection). Often, so each
  // copies little: every second, each copy and its database fsync queued
  // the loop's WAL syncs behind it, and receipts' p99 at 1000 messages/s
  // was 87 ms against 38 ms at 100 ms (fpx-bench --lean, bench/README.md).
  std::int64_t checkpoint_every_ms = 100;
  // Group commit: a batch that waits for an fsync begins at least this long
  // after the previous one began, gathering what arrives meanwhile (0: at
  // once). Only under load: on a quiet broker the last durable commit is
  // long past and nothing waits. Every commit writes each page it touches
  // in full (about 30 of 8 KiB at 3 messages a commit), so at 1000
  // messages/s a commit every 3 ms cost the broker 88 % of its core.
  std::int64_t group_commit_wait_ms = 0;
};

// Tracing clocks per priority (DOMAIN.md): a missed one sends a reminder to
// the requested focal point and an escalation to both focal points.
struct Clocks {
  std::int64_t urgent_acknowledge_ms = 8LL * 3600 * 1000;
  std::int64_t urgent_respond_ms = 3LL * 24 * 3600 * 1000;
  std::int64_t routine_acknowledge_ms = 3LL * 24 * 3600 * 1000;
  std::int64_t routine_respond_ms = 30LL * 24 * 3600 * 1000;
  // A cso's early warning: its state's focal point acknowledges it within
  // this time (PROTOCOL.md §8.5), as a routine request's acknowledgement.
  // Missed: one reminder to the focal point; the public statistics count
  // the warnings acknowledged within it.
  std::int64_t warning_acknowledge_ms = 3LL * 24 * 3600 * 1000;
  std::int64_t scan_every_ms = 60'000;
};

// A period of the public statistics, in UTC: a calendar "quarter", "month"
// or "day", or a fixed length aligned on the Unix epoch ("6h", "15m",
// "10s"), which suits tests and demonstrations.
struct StatisticsPeriod {
  std::string name;
  std::int64_t fixed_ms = 0;  // 0 for the calendar periods
  std::int64_t start_of(std::int64_t at_ms) const;
  std::int64_t end_of(std::int64_t start_ms) const;
};
Result<StatisticsPeriod> parse_statistics_period(std::string_view name);

// The public oversight side (DOMAIN.md "Public oversight feed").
struct Oversight {
  std::string observers_endpoint = "tcp://127.0.0.1:7401";
  // The checkpoint's origin line and the name of its signing key.
  std::string origin = "fpx.exchange/log";
  std::int64_t checkpoint_every_ms = 60'000;
  // The statistics are published on ONE grid of periods that never
  // overlap: two overlapping periods let a reader subtract one from the
  // other and undo suppression (issue 12). Each period is published once,
  // final, `publish_after_ms` after it ends (a provisional figure revised
  // later would be a difference over time). Years are the sums of quarters.
  StatisticsPeriod statistics_period = {"quarter", 0};
  // Counts from 1 to threshold - 1 are suppressed; then more cells, until
  // no suppressed cell can be narrowed to fewer than `protection_range`
  // values by any combination of the published cells (docs/PROTOCOL.md).
  std::int64_t suppression_threshold = 3;
  std::int64_t protection_range = 3;
  std::int64_t publish_after_ms = 30LL * 24 * 3600 * 1000;
  // Year tables (issue 12): a calendar grid's calendar years are published
  // as tables of their own, linked to their periods in one audit. A
  // fixed-length grid (tests, demonstrations) has years only when this says
  // how many of its periods make one (0: none).
  std::int64_t periods_per_year = 0;
  // How long one add-checkpoint request to a witness may take (connecting,
  // sending, reading: each). A witness down or slow costs its own thread
  // this much per checkpoint and never delays the loop (witness_requests.hpp).
  std::int64_t witness_timeout_ms = 5'000;
};

// A witness the broker asks to cosign each new checkpoint ([[witnesses]],
// docs/PROTOCOL.md §13): its vkey (name and Ed25519 key, type 0x04) and
// where it serves add-checkpoint ("http://HOST:PORT[/PREFIX]").
struct WitnessConfig {
  WitnessKey key;
  std::string url;
};
// Witnesses one broker asks: each costs a thread and a request per
// checkpoint; C2SP clients need a handful. More is a misconfiguration.
inline constexpr std::size_t kMaxWitnesses = 16;

// Where the broker keeps its state ([store] backend): SQLite, embedded, one
// machine; PostgreSQL, for an exchange that replicates (broker/store_pg/).
enum class StoreBackend { sqlite, postgres };
// [metrics]: the Prometheus endpoint (broker/metrics.cpp).
struct MetricsSettings {
  // Loopback by default: the counters tell who is busy and when, which is
  // for the exchange's operators, not the network. "" disables metrics.
  std::string listen = "127.0.0.1:9464";
};

// [retention]: how long a message's body (its envelope) is kept after it
// was stored, per message type ("tracing-request" from the key
// tracing_request). A type without a rule is kept. `fpx-admin retention
// run` purges the bodies whose time is up; headers' hashes, log leaves and
// nodes stay, so the transparency log stays verifiable.
struct RetentionRule {
  std::int64_t keep_ms = 0;
  std::string text;  // as written ("5y"), for the audit rows
};
struct RetentionSettings {
  std::map<std::string, RetentionRule> rules;  // message type name -> retention
};
// "5y" (365 days a year), "90d", "12h", "30m", "10s" in milliseconds.
Result<std::int64_t> parse_retention_period(std::string_view text);

struct BrokerConfig {
  std::filesystem::path source;  // the file it came from
  std::string participants_endpoint = "tcp://127.0.0.1:7400";
  std::filesystem::path root_ca;
  std::filesystem::path crl_dir;
  std::filesystem::path identity_dir;     // the broker's own identity (fpx-ca issue --role broker)
  std::string passphrase_file;            // for an encrypted broker signing key
  std::string passphrase_env;
  std::filesystem::path enrolled_dir;     // chain.pem files of enrolled participants
  StoreBackend store_backend = StoreBackend::sqlite;  // [store] backend
  std::string store_dsn;                  // [store] dsn: libpq connection string, never a password
  // [store] lease_ms, holder (PostgreSQL leadership: broker/store_pg/README.md);
  // main() sets the hooks (stop standing by on SIGTERM, exit when deposed).
  std::int64_t store_lease_ms = 5000;
  std::string store_holder;
  std::function<bool()> standby_stop_waiting;
  std::function<void(const std::string&)> on_deposed;
  std::filesystem::path database;         // SQLite file
  std::string database_vfs;               // SQLite VFS by name; empty: the default. Not read from the
                                          // file: tests set it to open the store on a power-cut shim
  std::map<std::string, std::vector<CountryCode>> regions;  // "ECOWAS" -> states
  Limits limits;
  Timing timing;
  Clocks clocks;
  Oversight oversight;
  MetricsSettings metrics;
  RetentionSettings retention;
  std::vector<WitnessConfig> witnesses;  // [[witnesses]]: asked to cosign each checkpoint
  std::string log_level = "info";
};

// Reads and checks a TOML file; relative paths are relative to the file's
// directory. On failure the Error lists every problem as a field error.
Result<BrokerConfig> load_broker_config(const std::filesystem::path& path);
// The same check over TOML text already read from `path` (what the fuzz
// target drives: no file per input).
Result<BrokerConfig> parse_broker_config(std::string_view text, const std::filesystem::path& path);

// Splits "HOST:PORT" (an IPv6 host in brackets), as [metrics] listen is
// written; invalid_argument otherwise.
struct ListenAddress {
  std::string host;
  int port = 0;
};
Result<ListenAddress> parse_listen_address(std::string_view listen);

}  // namespace fpx::broker
