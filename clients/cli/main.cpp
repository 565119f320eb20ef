// fpx: the command line of FPX participants. Parses arguments and dispatches
// to the commands; owns the exit-code contract (0 ok, 1 refused or
// unreachable, 2 usage or input error) and lets no exception escape.
#include <exception>
#include <iostream>

#include <CLI/CLI.hpp>
#include <kj/exception.h>

#include "cli.hpp"
#include "commands_witness.hpp"
#include "commands_desk.hpp"
#include "commands_case.hpp"
#include "commands_import.hpp"
#include "commands_statement.hpp"
#include "commands_cso.hpp"
#include "language.hpp"

namespace {

using namespace fpx::cli;

// Marks an English text for the catalogue (xgettext --keyword=N_); the help
// texts are translated once the whole command line is built (translate_help).
constexpr const char* N_(const char* english) { return english; }

// CLI11's own words in its help and usage lines: its formatter's labels, and
// the group headings ("Options", "Subcommands") translate_help translates.
constexpr const char* kHelpLabels[] = {N_("Options"),     N_("Subcommands"), N_("Usage"),    N_("OPTIONS"),
                                       N_("SUBCOMMAND"),  N_("SUBCOMMANDS"), N_("REQUIRED"), N_("Positionals"),
                                       N_("Excludes"),    N_("Needs"),       N_("TEXT"),     N_("INT"),
                                       N_("UINT"),        N_("FLOAT"),       N_("FILE")};

// Issue 17: `fpx --help` in the reader's language. CLI11 keeps the texts
// given when each command and option was added (here and in the command
// classes, marked N_ where written); this replaces every one of them, in
// every command, by its translation. Option and command names stay English:
// they are an interface scripts and documentation use.
void translate_help(CLI::App& app, const fpx::text::Catalogue& text) {
  app.description(std::string(text.tr(app.get_description())));
  app.group(std::string(text.tr(app.get_group())));
  for (CLI::Option* option : app.get_options()) {
    option->description(std::string(text.tr(option->get_description())));
    option->group(std::string(text.tr(option->get_group())));
  }
  for (CLI::App* command : app.get_subcommands({})) translate_help(*command, text);
}

int run(int argc, char** argv) {
  // Decided before parsing: CLI11 prints --help (and its usage errors) while it parses.
  const fpx::text::Catalogue text(language_before_parsing(argc, argv));
  CLI::App app{N_("fpx: send and receive firearm tracing messages through an FPX broker.\n"
                  "Every command but `verify`, `keys` and `profile init` needs a profile: --profile DIR or FPX_PROFILE.")};
  app.set_help_flag("-h,--help", N_("Print this help message and exit"));
  for (const char* label : kHelpLabels) app.get_formatter()->label(label, std::string(text.tr(label)));
  app.require_subcommand(1);
  // Global options may also follow the command ("fpx inbox --json"); subcommands inherit this.
  app.fallthrough();
  GlobalOptions global;
  app.add_option("--profile", global.profile, N_("profile directory holding fpx.toml (default: $FPX_PROFILE)"));
  app.add_flag("--json", global.json, N_("JSON output for scripts (JSON lines for lists)"));
  // Issue 17: French or English for everything fpx prints, errors included (language.hpp).
  app.add_option("--lang", global.language, N_("fr or en (default: the profile's [user] language, else LANG)"));

  // --- trace ---------------------------------------------------------------
  auto* trace = app.add_subcommand("trace", N_("tracing requests: submit, acknowledge, respond, follow"));
  trace->require_subcommand(1);

  SendOptions submit_options;
  auto* submit = trace->add_subcommand("submit", N_("send a tracing request from a JSON file (deploy/examples/tracing-request.json)"));
  submit->add_option("FILE", submit_options.file, N_("message JSON: {\"header\": {...}, \"body\": {\"tracingRequest\": {...}}}"))
      ->required();
  submit->add_flag("--dry-run", submit_options.dry_run,
                   N_("validate locally and print the identifier-completeness report; send nothing"));
  submit->add_flag("--force", submit_options.force,
                   N_("send even when a request for the same firearm to the same state (or with the same reference "
                   "to another channel) is already open from your state"));
  // Issue 17: attachments, carried by hash in the signed header.
  submit->add_option("--attach", submit_options.attachments,
                     N_("attach a photo (JPEG, PNG) or a PDF document, at most 512 KiB each, 768 KiB together, 8 "
                     "files; repeatable"))
      ->check(CLI::ExistingFile);

  AckOptions ack_options;
  auto* ack = trace->add_subcommand("ack", N_("acknowledge a received tracing request (ITI: within a reasonable time)"));
  ack->add_option("ID", ack_options.id, N_("the request's message id, or a unique prefix or suffix (from `fpx inbox`)"))->required();
  auto* ack_status = ack->add_option("--status", ack_options.status,
                                     N_("accepted, needs-information, rejected-as-malformed or forwarded"))
                         ->capture_default_str();
  auto* ack_expected = ack->add_option("--expected-response", ack_options.expected_response, N_("expected answer date, YYYY-MM-DD"));
  auto* ack_contact = ack->add_option("--contact", ack_options.contact, N_("point of contact (default: your participant id)"));
  auto* ack_missing = ack->add_option("--missing", ack_options.missing, N_("a missing field (with needs-information); repeatable"));
  ack->add_option("--file", ack_options.file, N_("take the acknowledgement from a JSON file instead of the options"))
      ->excludes(ack_status)
      ->excludes(ack_expected)
      ->excludes(ack_contact)
      ->excludes(ack_missing);
  ack->add_flag("--dry-run", ack_options.dry_run, N_("validate and show, send nothing"));

  RespondOptions respond_options;
  auto* respond = trace->add_subcommand("respond", N_("answer a received tracing request (interim or final)"));
  respond->add_option("ID", respond_options.id, N_("the request's message id, or a unique prefix or suffix"))->required();
  auto* outcome = respond->add_option("--outcome", respond_options.outcome,
                                      N_("point-of-diversion-established, last-legal-holder-identified, partial-chain, "
                                      "no-record, not-made-or-imported-here, records-too-old, "
                                      "insufficient-identifiers, delayed, restricted, refused"));
  auto* final_flag = respond->add_flag("--final", respond_options.final_answer, N_("a final response (the default)"));
  auto* interim_flag = respond->add_flag("--interim", respond_options.interim, N_("an interim response"));
  final_flag->excludes(interim_flag);
  auto* grounds = respond->add_option("--ground", respond_options.grounds,
                                      N_("refusal ground: ongoing-investigation, confidentiality-law, national-security; "
                                      "repeatable"));
  auto* explanation = respond->add_option("--explanation", respond_options.explanation, N_("why refused or restricted"));
  auto* hops = respond->add_option("--hop", respond_options.hops,
                                   N_("chain-of-custody hop \"ROLE;ENTITY;COUNTRY[;YYYY-MM-DD[;DOCUMENT]]\", ROLE one of "
                                   "manufacturer, exporter, importer, dealer, state-stock, holder; repeatable, in order"));
  auto* restrictions = respond->add_option("--use-restrictions", respond_options.use_restrictions, N_("conditions on use"));
  auto* next_update = respond->add_option("--next-update", respond_options.next_update, N_("date of the next update, YYYY-MM-DD"));
  respond->add_option("--file", respond_options.file, N_("take the response from a JSON file instead of the options"))
      ->excludes(outcome)
      ->excludes(final_flag)
      ->excludes(interim_flag)
      ->excludes(grounds)
      ->excludes(explanation)
      ->excludes(hops)
      ->excludes(restrictions)
      ->excludes(next_update);
  respond->add_flag("--dry-run", respond_options.dry_run, N_("validate and show, send nothing"));

  // Issue 17: fpx trace show, owed, forward, supply, withdraw, close, search (commands_case.cpp).
  CaseCommands case_commands(*trace, global);
  // Issue 17: fpx trace import, a CSV of seized firearms (commands_import.cpp).
  ImportCommand import_command(*trace, global);

  StatusOptions status_options;
  auto* status = trace->add_subcommand("status", N_("where a message you sent stands, per recipient"));
  status->add_option("ID", status_options.id, N_("message id, or a unique prefix or suffix of one you sent or received"))->required();
  status->add_option("--lang", global.language, N_("fr or en (default: the profile's [user] language, else LANG)"));

  // --- inbox -----------------------------------------------------------------
  InboxOptions inbox_options;
  auto* inbox = app.add_subcommand("inbox", N_("fetch, save (profile inbox/) and confirm what the broker holds for you"));
  inbox->add_option("--wait", inbox_options.wait_seconds, N_("seconds to wait for messages"))->capture_default_str();
  inbox->add_flag("--all", inbox_options.all, N_("after fetching, list every saved message, not only new ones"));

  auto* outbox = app.add_subcommand(
      "outbox", N_("resend what is due, then list your messages without a receipt: why each waits, when it is resent"));

  // --- alert, campaign ---------------------------------------------------------
  auto* alert = app.add_subcommand("alert", N_("early-warning alerts"));
  alert->require_subcommand(1);
  SendOptions alert_options;
  auto* alert_send = alert->add_subcommand("send", N_("send an alert from a JSON file (deploy/examples/alert.json)"));
  alert_send->add_option("FILE", alert_options.file, N_("message JSON with body {\"alert\": {...}}"))->required();
  alert_send->add_flag("--dry-run", alert_options.dry_run, N_("validate and show, send nothing"));

  auto* campaign = app.add_subcommand("campaign", N_("voluntary collection campaign reports (public)"));
  campaign->require_subcommand(1);
  SendOptions campaign_options;
  auto* publish = campaign->add_subcommand("publish", N_("publish a campaign report (deploy/examples/campaign-report.json)"));
  publish->add_option("FILE", campaign_options.file, N_("message JSON with body {\"campaignReport\": {...}}"))->required();
  publish->add_flag("--dry-run", campaign_options.dry_run, N_("validate and show, send nothing"));

  // --- statement (issue 12: a state's right of reply, commands_statement.cpp) ----
  StatementCommands statement_commands(app, global);

  // --- verify ------------------------------------------------------------------
  VerifyOptions verify_options;
  auto* verify = app.add_subcommand("verify", N_("check a saved message (.fpx) offline against the root CA"));
  verify->add_option("FILE", verify_options.file, N_("a saved envelope, e.g. from the profile's inbox/"))->required();
  verify->add_option("--root-ca", verify_options.root_ca, N_("the exchange's root CA (default: the profile's)"));
  verify->add_option("--crl-dir", verify_options.crl_dir, N_("CRLs to check revocation against (default: the profile's)"));
  verify->add_option("--broker-pin", verify_options.broker_pins,
                     N_("the exchange's broker signing key, sha256:<hex> (repeatable; default: the profile's pins): "
                     "checks a broker notice and the receipt kept beside a sent message"));

  // --- observe, log verify (observers) ------------------------------------------
  ObserveOptions observe_options;
  auto* observe = app.add_subcommand("observe", N_("observers: fetch, verify and save the public oversight feed (profile feed/)"));
  observe->add_option("--from", observe_options.from, N_("start at this sequence number (default: after the last one seen)"));
  observe->add_flag("--follow", observe_options.follow, N_("keep polling for new records until interrupted"));
  observe->add_option("--wait", observe_options.wait_seconds, N_("with or without --follow: follow for at most SECONDS"));

  auto* log = app.add_subcommand("log", N_("the transparency log (observers: verify; participants: prove)"));
  log->require_subcommand(1);
  auto* log_verify = log->add_subcommand(
      "verify", N_("check the latest signed checkpoint, its consistency with the one saved, and the inclusion of every "
                "saved record"));
  // Issue 13: fpx witness, fpx log compare, fpx log evidence check (commands_witness.cpp).
  WitnessCommands witness_commands(app, *log, global);
  LogVerifyOptions log_verify_options;
  log_verify->add_option("--checkpoint-interval", log_verify_options.checkpoint_interval_seconds,
                         N_("the exchange's checkpoint interval in seconds (oversight.checkpoint_every_ms; default 60): a "
                         "record at the feed's end may wait this long plus a minute for a checkpoint that covers it"));
  LogProveOptions log_prove_options;
  auto* log_prove = log->add_subcommand(
      "prove", N_("participants: prove that a message you sent is in the log everyone sees (its leaf, opened, and its "
               "inclusion in the latest signed checkpoint)"));
  log_prove->add_option("message", log_prove_options.message, N_("the message's id (or a prefix or suffix) in sent/, or a saved .fpx file"))
      ->required();

  // Issue 12: fpx statistics check, a focal point recounts its state's published cells (commands_facts.cpp).
  StatisticsCheckOptions statistics_check_options;
  auto* statistics = app.add_subcommand("statistics", N_("focal points: check your state's published process statistics"));
  statistics->require_subcommand(1);
  auto* statistics_check = statistics->add_subcommand(
      "check", N_("open your state's facts of a published period (each in its leaf, in the latest signed checkpoint) "
               "and recount the cells your state appears in: your pairs and your rows"));
  statistics_check
      ->add_option("--period", statistics_check_options.period,
                   N_("the period's start, as its record's periodStart (2026-10-01T00:00:00Z) or in ms since the epoch"))
      ->required();

  ReportOptions report_options;
  auto* report = app.add_subcommand(
      "report", N_("observers: write a self-contained HTML page of the saved feed (run `fpx observe` first): trends, "
                "answers in time, acknowledgement rates, refusal grounds, campaigns and alerts as charts, and the "
                "checkpoint"));
  report->add_option("--html", report_options.html, N_("the HTML file to write (--html, --csv or both)"));
  report->add_option("--csv", report_options.csv,
                     N_("a folder to write every published statistics table to as CSV (pairs.csv, by_requester.csv, "
                     "by_requested.csv, by_region.csv, total.csv)"));
  report->add_option("--period", report_options.period,
                     N_("statistics period to show: a kind (quarter, month, 10s: its latest period) or one period's "
                     "start, e.g. 2026-10-01T00:00:00Z (default: the longest kind saved, its latest period)"));

  // Issue 12 item 5: fpx warn, fpx contribute, fpx warning ack (commands_cso.cpp).
  CsoCommands cso_commands(app, global);

  // --- keys ----------------------------------------------------------------------
  auto* keys = app.add_subcommand("keys", N_("make your own keys and certificate request; install the signed chain"));
  keys->require_subcommand(1);
  KeysNewOptions keys_new_options;
  auto* keys_new = keys->add_subcommand(
      "new", N_("make a signing key, a CURVE key pair and request.csr (hand over only request.csr) in a new directory"));
  keys_new->add_option("--id", keys_new_options.id, N_("participant id, e.g. sn.focal-point"))->required();
  keys_new->add_option("--country", keys_new_options.country, N_("ISO 3166-1 alpha-2 code, e.g. SN"))->required();
  keys_new->add_option("--role", keys_new_options.role, N_("focal-point, agency, observer, broker or cso"))->required();
  keys_new->add_option("--officer", keys_new_options.officer,
                       N_("an officer's own keys under the participant, e.g. awa.diop"));
  keys_new->add_option("--out", keys_new_options.out, N_("the new key directory (0700)"))->required();
  auto* keys_pass_file = keys_new->add_option("--passphrase-file", keys_new_options.passphrase_file,
                                              N_("encrypt signing-key.pem with the passphrase in this file"));
  keys_new->add_option("--passphrase-env", keys_new_options.passphrase_env,
                       N_("encrypt signing-key.pem with the passphrase in this environment variable"))
      ->excludes(keys_pass_file);
  KeysInstallOptions keys_install_options;
  auto* keys_install = keys->add_subcommand(
      "install", N_("copy the chain your CA signed into the key directory as chain.pem, checking it holds your keys"));
  keys_install->add_option("--dir", keys_install_options.dir, N_("the directory `fpx keys new` made"))->required();
  keys_install->add_option("--chain", keys_install_options.chain, N_("the chain.pem the CA sent back"))->required();
  auto* install_pass_file = keys_install->add_option("--passphrase-file", keys_install_options.passphrase_file,
                                                     N_("file holding the signing key's passphrase"));
  keys_install->add_option("--passphrase-env", keys_install_options.passphrase_env,
                           N_("environment variable holding the passphrase"))
      ->excludes(install_pass_file);

  // --- profile -------------------------------------------------------------------
  auto* profile = app.add_subcommand("profile", N_("create or show a participant profile"));
  profile->require_subcommand(1);
  ProfileInitOptions init_options;
  auto* init = profile->add_subcommand("init", N_("write DIR/fpx.toml"));
  init->add_option("--dir", init_options.dir, N_("profile directory to create"))->required();
  init->add_option("--identity", init_options.identity, N_("fpx-ca identity directory (chain.pem, signing-key.pem, ...)"))
      ->required();
  init->add_option("--broker-endpoint", init_options.broker_endpoint,
                   N_("participants endpoint, e.g. tcp://broker.example:7400 (optional with --observer-endpoint)"));
  init->add_option("--observer-endpoint", init_options.observer_endpoint,
                   N_("observers: the broker's observer endpoint, e.g. tcp://broker.example:7401 (needs --broker-cert)"));
  init->add_option("--log-origin", init_options.log_origin,
                   N_("observers: the transparency log's origin line that checkpoints must carry"))
      ->capture_default_str();
  auto* broker_cert = init->add_option("--broker-cert", init_options.broker_cert, N_("the broker's chain.pem (its CURVE key is read from it)"));
  init->add_option("--broker-key", init_options.broker_key, N_("the broker's CURVE public key, Z85, as `fpx-ca show` prints it"))
      ->excludes(broker_cert);
  init->add_option("--root-ca", init_options.root_ca, N_("the exchange's root CA certificate"))->required();
  auto* crl_dir = init->add_option("--crl-dir", init_options.crl_dir,
                                   N_("directory of the CAs' CRLs (required unless --no-revocation-check)"));
  init->add_flag("--no-revocation-check", init_options.no_revocation_check,
                 N_("run without CRLs, knowingly: recorded in fpx.toml, and every command then warns that a revoked "
                 "signer's messages are accepted"))
      ->excludes(crl_dir);
  init->add_option("--broker-pin", init_options.broker_pins,
                   N_("pin this broker signing key too, sha256:<hex> (repeatable; required with --broker-key)"));
  auto* passphrase_file = init->add_option("--passphrase-file", init_options.passphrase_file, N_("file holding the signing key's passphrase"));
  init->add_option("--passphrase-env", init_options.passphrase_env, N_("environment variable holding the passphrase"))
      ->excludes(passphrase_file);
  init->add_flag("--force", init_options.force, N_("overwrite an existing fpx.toml"));
  auto* show = profile->add_subcommand("show", N_("print the profile in use"));
  ProfilePinOptions pin_options;
  auto* pin = profile->add_subcommand(
      "pin", N_("list, add or remove the pinned broker signing keys (the exchange's key rotation); without options, list"));
  pin->add_option("--add", pin_options.add,
                  N_("a broker chain.pem (checked against the root CA) or sha256:<hex> to pin; repeatable. Compare the "
                  "printed fingerprint with the operator's first"));
  pin->add_option("--remove", pin_options.remove, N_("sha256:<hex> to unpin; repeatable (one pin must remain)"));
  pin->add_option("--broker-cert", pin_options.broker_cert,
                  N_("make this chain.pem the profile's broker certificate (transport key; observers: feed key) and pin "
                  "its key"));

  // --- desk (clients/desk/README.md) --------------------------------------------
  DeskCommandOptions desk_options;
  auto* desk = app.add_subcommand(
      "desk", N_("the officer's web console on 127.0.0.1: inbox, what we owe, cases, forms; prints the URL to open"));
  desk->add_option("--port", desk_options.port, N_("port on 127.0.0.1 (default 0: any free port)"));
  desk->add_option("--lang", desk_options.language, N_("fr or en (default: the profile's [user] language, else LANG)"));

  translate_help(app, text);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    // CLI11's own error line is English; the way out is in the reader's language.
    if (code != 0) {
      std::cerr << text.tr(N_("next:")) << " "
                << text.tr(N_("run `fpx --help` (or `fpx COMMAND --help`) to see the commands and their options")) << "\n";
    }
    return code == 0 ? kExitOk : kExitUsage;
  }
  // A --lang we have no catalogue for is refused once, here, for every command
  // (language_for_errors would quietly fall back to the profile's language).
  if (!global.language.empty() && !fpx::text::parse_language(global.language)) {
    return report_failure(global, kExitUsage,
                          fpx::make_error(fpx::ErrorCode::invalid_argument,
                                          "--lang '" + global.language + "' is not available"),
                          N_("give --lang fr or --lang en"));
  }

  if (submit->parsed()) return run_send(global, SendKind::tracing_request, submit_options);
  if (ack->parsed()) return run_ack(global, ack_options);
  if (respond->parsed()) return run_respond(global, respond_options);
  if (status->parsed()) return run_status(global, status_options);
  if (inbox->parsed()) return run_inbox(global, inbox_options);
  if (outbox->parsed()) return run_outbox(global);
  if (alert_send->parsed()) return run_send(global, SendKind::alert, alert_options);
  if (publish->parsed()) return run_send(global, SendKind::campaign_report, campaign_options);
  if (verify->parsed()) return run_verify(global, verify_options);
  if (observe->parsed()) return run_observe(global, observe_options);
  if (log_verify->parsed()) return run_log_verify(global, log_verify_options);
  if (log_prove->parsed()) return run_log_prove(global, log_prove_options);
  if (report->parsed()) return run_report(global, report_options);
  if (statistics_check->parsed()) return run_statistics_check(global, statistics_check_options);
  if (keys_new->parsed()) return run_keys_new(global, keys_new_options);
  if (keys_install->parsed()) return run_keys_install(global, keys_install_options);
  if (init->parsed()) return run_profile_init(global, init_options);
  if (show->parsed()) return run_profile_show(global);
  if (pin->parsed()) return run_profile_pin(global, pin_options);
  if (auto code = witness_commands.run_parsed()) return *code;
  if (desk->parsed()) {
    // Issue 17: `fpx --lang fr desk` as `fpx desk --lang fr`.
    if (desk_options.language.empty()) desk_options.language = global.language;
    return run_desk(global, desk_options);
  }
  if (auto code = case_commands.run_parsed()) return *code;
  if (auto code = import_command.run_parsed()) return *code;
  if (auto code = statement_commands.run_parsed()) return *code;
  if (auto code = cso_commands.run_parsed()) return *code;
  std::cerr << app.help();
  return kExitUsage;
}

// Last words of an fpx that failed in a way no command reported.
void report_internal_error(int argc, char** argv, const std::string& detail) {
  std::string what;
  try {
    what = std::string(fpx::text::Catalogue(language_before_parsing(argc, argv)).tr(N_("internal error")));
  } catch (...) {
    what = "internal error";
  }
  std::cerr << "fpx: " << what << detail << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  // The library returns Results; this is the last line of defence for what
  // still throws (allocation, CLI11 construction, Cap'n Proto on a bug).
  try {
    return run(argc, argv);
  } catch (const kj::Exception& exception) {
    report_internal_error(argc, argv, std::string(" (Cap'n Proto): ") + exception.getDescription().cStr());
  } catch (const std::exception& exception) {
    report_internal_error(argc, argv, std::string(": ") + exception.what());
  } catch (...) {
    report_internal_error(argc, argv, {});
  }
  return kExitRefused;
}
