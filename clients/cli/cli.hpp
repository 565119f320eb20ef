// Shared pieces of the fpx command line: exit codes, the global options every
// command sees, and the command entry points main.cpp dispatches to.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fpx/result.hpp"

namespace fpx::cli {

// Scripts branch on these: 2 means "fix what you typed or the file you gave",
// 1 means "the exchange (or a signature) said no, or could not be reached".
inline constexpr int kExitOk = 0;
inline constexpr int kExitRefused = 1;
inline constexpr int kExitUsage = 2;

struct GlobalOptions {
  std::string profile;  // --profile, else $FPX_PROFILE
  bool json = false;    // one JSON object (or JSON lines) on stdout instead of tables
  // `fpx --lang fr|en COMMAND` (issue 17): the language of what fpx prints,
  // errors included; a command's own --lang writes here too (import, status)
  // or wins over it (the case commands). Empty: the profile, else the environment.
  std::string language;
};

// Prints `error` for people (stderr) and, with --json, as one JSON object on
// stdout; then the next step, if any. Returns `exit_code`.
int report_failure(const GlobalOptions& global, int exit_code, const Error& error, const std::string& next_step = {});

// ---- commands ----------------------------------------------------------------

struct SendOptions {
  std::string file;
  bool dry_run = false;
  // fpx trace submit: send even if it repeats an open request of our state (commands_case.hpp).
  bool force = false;
  // fpx trace submit --attach FILE (repeatable, issue 17): photos and documents.
  std::vector<std::string> attachments;
};
enum class SendKind { tracing_request, alert, campaign_report };
int run_send(const GlobalOptions& global, SendKind kind, const SendOptions& options);

struct AckOptions {
  std::string id;
  std::string status = "accepted";
  std::string expected_response;  // YYYY-MM-DD
  std::string contact;
  std::vector<std::string> missing;
  std::string file;
  bool dry_run = false;
};
int run_ack(const GlobalOptions& global, const AckOptions& options);

struct RespondOptions {
  std::string id;
  std::string outcome;
  bool interim = false;
  bool final_answer = false;
  std::vector<std::string> grounds;
  std::string explanation;
  std::vector<std::string> hops;  // "role;entity;CC;YYYY-MM-DD;document"
  std::string use_restrictions;
  std::string next_update;  // YYYY-MM-DD
  std::string file;
  bool dry_run = false;
};
int run_respond(const GlobalOptions& global, const RespondOptions& options);

struct StatusOptions {
  std::string id;
};
int run_status(const GlobalOptions& global, const StatusOptions& options);

struct InboxOptions {
  double wait_seconds = 2.0;
  bool all = false;
};
int run_inbox(const GlobalOptions& global, const InboxOptions& options);

// fpx outbox: connects (which resends what is due), then lists the messages
// without a receipt, each with why it waits and when it is resent.
int run_outbox(const GlobalOptions& global);

struct VerifyOptions {
  std::string file;
  std::string root_ca;
  std::string crl_dir;
  // The exchange's broker signing keys, sha256:<hex>; default: the
  // profile's. Needed for a broker-signed file and for a receipt.
  std::vector<std::string> broker_pins;
};
int run_verify(const GlobalOptions& global, const VerifyOptions& options);

struct ProfileInitOptions {
  std::string dir;
  std::string identity;
  std::string broker_endpoint;   // participants; may be empty for an observer-only profile
  std::string observer_endpoint;  // observers: the broker's observer endpoint
  std::string log_origin = "fpx.exchange/log";
  std::string broker_cert;  // PEM chain of the broker: its CURVE key is read from it
  std::string broker_key;   // or the Z85 key itself
  std::string root_ca;
  std::string crl_dir;
  // Without --crl-dir the profile is refused unless this says so: recorded
  // in fpx.toml (pki.revocation_check = false) and warned about on every command.
  bool no_revocation_check = false;
  // More broker signing keys to pin ("sha256:<hex>"), beside the one of
  // --broker-cert; the only pins of a --broker-key profile.
  std::vector<std::string> broker_pins;
  std::string passphrase_file;
  std::string passphrase_env;
  bool force = false;
};

// fpx profile pin: lists, adds or removes the pinned broker signing keys.
struct ProfilePinOptions {
  std::vector<std::string> add;     // a broker chain.pem (checked against the root CA) or "sha256:<hex>"
  std::vector<std::string> remove;  // "sha256:<hex>"
  std::string broker_cert;          // also make this the profile's broker certificate (and pin its key)
};
struct ObserveOptions {
  std::optional<std::uint64_t> from;  // else the profile's saved position
  bool follow = false;
  std::optional<double> wait_seconds;  // bounds --follow (scripts, tests)
};
int run_observe(const GlobalOptions& global, const ObserveOptions& options);

struct LogVerifyOptions {
  // The exchange's oversight.checkpoint_every_ms in seconds: how long a
  // record at the feed's end may wait for a checkpoint (plus a minute's slack).
  double checkpoint_interval_seconds = 60;
};
int run_log_verify(const GlobalOptions& global, const LogVerifyOptions& options);

// fpx log prove: a message this profile sent is in the log everyone sees.
struct LogProveOptions {
  std::string message;  // an id (or prefix) of sent/, or a saved .fpx file with its .receipt beside it
};
int run_log_prove(const GlobalOptions& global, const LogProveOptions& options);

// fpx statistics check: a focal point recounts its state's cells of a published period (commands_facts.cpp).
struct StatisticsCheckOptions {
  std::string period;  // the period's start: its record's periodStart, or ms since the epoch
};
int run_statistics_check(const GlobalOptions& global, const StatisticsCheckOptions& options);

struct ReportOptions {
  std::string html;    // where the page goes ("" : no page)
  std::string csv;     // the folder every published table goes to as CSV ("" : none)
  std::string period;  // a kind of period ("quarter", "10s") or one period's start; empty: the longest saved
};
int run_report(const GlobalOptions& global, const ReportOptions& options);

struct KeysNewOptions {
  std::string id;
  std::string country;
  std::string role;
  std::string officer;  // empty: the participant's own keys
  std::string out;
  std::string passphrase_file;
  std::string passphrase_env;
};
int run_keys_new(const GlobalOptions& global, const KeysNewOptions& options);

struct KeysInstallOptions {
  std::string dir;
  std::string chain;
  std::string passphrase_file;
  std::string passphrase_env;
};
int run_keys_install(const GlobalOptions& global, const KeysInstallOptions& options);

int run_profile_init(const GlobalOptions& global, const ProfileInitOptions& options);
int run_profile_show(const GlobalOptions& global);
int run_profile_pin(const GlobalOptions& global, const ProfilePinOptions& options);

}  // namespace fpx::cli
