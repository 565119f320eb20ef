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

namespace {

using namespace fpx::cli;

int run(int argc, char** argv) {
  CLI::App app{"fpx: send and receive firearm tracing messages through an FPX broker.\n"
               "Every command but `verify`, `keys` and `profile init` needs a profile: --profile DIR or FPX_PROFILE."};
  app.require_subcommand(1);
  // Global options may also follow the command ("fpx inbox --json"); subcommands inherit this.
  app.fallthrough();
  GlobalOptions global;
  app.add_option("--profile", global.profile, "profile directory holding fpx.toml (default: $FPX_PROFILE)");
  app.add_flag("--json", global.json, "JSON output for scripts (JSON lines for lists)");
  // Issue 17: French or English for everything fpx prints, errors included (language.hpp).
  app.add_option("--lang", global.language, "fr or en (default: the profile's [user] language, else LANG)");

  // --- trace ---------------------------------------------------------------
  auto* trace = app.add_subcommand("trace", "tracing requests: submit, acknowledge, respond, follow");
  trace->require_subcommand(1);

  SendOptions submit_options;
  auto* submit = trace->add_subcommand("submit", "send a tracing request from a JSON file (deploy/examples/tracing-request.json)");
  submit->add_option("FILE", submit_options.file, "message JSON: {\"header\": {...}, \"body\": {\"tracingRequest\": {...}}}")
      ->required();
  submit->add_flag("--dry-run", submit_options.dry_run,
                   "validate locally and print the identifier-completeness report; send nothing");
  submit->add_flag("--force", submit_options.force,
                   "send even when a request for the same firearm to the same state (or with the same reference "
                   "to another channel) is already open from your state");
  // Issue 17: attachments, carried by hash in the signed header.
  submit->add_option("--attach", submit_options.attachments,
                     "attach a photo (JPEG, PNG) or a PDF document, at most 512 KiB each, 768 KiB together, 8 "
                     "files; repeatable")
      ->check(CLI::ExistingFile);

  AckOptions ack_options;
  auto* ack = trace->add_subcommand("ack", "acknowledge a received tracing request (ITI: within a reasonable time)");
  ack->add_option("ID", ack_options.id, "the request's message id, or a unique prefix (from `fpx inbox`)")->required();
  auto* ack_status = ack->add_option("--status", ack_options.status,
                                     "accepted, needs-information, rejected-as-malformed or forwarded")
                         ->capture_default_str();
  auto* ack_expected = ack->add_option("--expected-response", ack_options.expected_response, "expected answer date, YYYY-MM-DD");
  auto* ack_contact = ack->add_option("--contact", ack_options.contact, "point of contact (default: your participant id)");
  auto* ack_missing = ack->add_option("--missing", ack_options.missing, "a missing field (with needs-information); repeatable");
  ack->add_option("--file", ack_options.file, "take the acknowledgement from a JSON file instead of the options")
      ->excludes(ack_status)
      ->excludes(ack_expected)
      ->excludes(ack_contact)
      ->excludes(ack_missing);
  ack->add_flag("--dry-run", ack_options.dry_run, "validate and show, send nothing");

  RespondOptions respond_options;
  auto* respond = trace->add_subcommand("respond", "answer a received tracing request (interim or final)");
  respond->add_option("ID", respond_options.id, "the request's message id, or a unique prefix")->required();
  auto* outcome = respond->add_option("--outcome", respond_options.outcome,
                                      "point-of-diversion-established, last-legal-holder-identified, partial-chain, "
                                      "no-record, not-made-or-imported-here, records-too-old, "
                                      "insufficient-identifiers, delayed, restricted, refused");
  auto* final_flag = respond->add_flag("--final", respond_options.final_answer, "a final response (the default)");
  auto* interim_flag = respond->add_flag("--interim", respond_options.interim, "an interim response");
  final_flag->excludes(interim_flag);
  auto* grounds = respond->add_option("--ground", respond_options.grounds,
                                      "refusal ground: ongoing-investigation, confidentiality-law, national-security; "
                                      "repeatable");
  auto* explanation = respond->add_option("--explanation", respond_options.explanation, "why refused or restricted");
  auto* hops = respond->add_option("--hop", respond_options.hops,
                                   "chain-of-custody hop \"ROLE;ENTITY;COUNTRY[;YYYY-MM-DD[;DOCUMENT]]\", ROLE one of "
                                   "manufacturer, exporter, importer, dealer, state-stock, holder; repeatable, in order");
  auto* restrictions = respond->add_option("--use-restrictions", respond_options.use_restrictions, "conditions on use");
  auto* next_update = respond->add_option("--next-update", respond_options.next_update, "date of the next update, YYYY-MM-DD");
  respond->add_option("--file", respond_options.file, "take the response from a JSON file instead of the options")
      ->excludes(outcome)
      ->excludes(final_flag)
      ->excludes(interim_flag)
      ->excludes(grounds)
      ->excludes(explanation)
      ->excludes(hops)
      ->excludes(restrictions)
      ->excludes(next_update);
  respond->add_flag("--dry-run", respond_options.dry_run, "validate and show, send nothing");

  // Issue 17: fpx trace show, owed, forward, supply, withdraw, close, search (commands_case.cpp).
  CaseCommands case_commands(*trace, global);
  // Issue 17: fpx trace import, a CSV of seized firearms (commands_import.cpp).
  ImportCommand import_command(*trace, global);

  StatusOptions status_options;
  auto* status = trace->add_subcommand("status", "where a message you sent stands, per recipient");
  status->add_option("ID", status_options.id, "message id, or a unique prefix of one you sent or received")->required();
  status->add_option("--lang", global.language, "fr or en (default: the profile's [user] language, else LANG)");

  // --- inbox -----------------------------------------------------------------
  InboxOptions inbox_options;
  auto* inbox = app.add_subcommand("inbox", "fetch, save (profile inbox/) and confirm what the broker holds for you");
  inbox->add_option("--wait", inbox_options.wait_seconds, "seconds to wait for messages")->capture_default_str();
  inbox->add_flag("--all", inbox_options.all, "after fetching, list every saved message, not only new ones");

  auto* outbox = app.add_subcommand(
      "outbox", "resend what is due, then list your messages without a receipt: why each waits, when it is resent");

  // --- alert, campaign ---------------------------------------------------------
  auto* alert = app.add_subcommand("alert", "early-warning alerts");
  alert->require_subcommand(1);
  SendOptions alert_options;
  auto* alert_send = alert->add_subcommand("send", "send an alert from a JSON file (deploy/examples/alert.json)");
  alert_send->add_option("FILE", alert_options.file, "message JSON with body {\"alert\": {...}}")->required();
  alert_send->add_flag("--dry-run", alert_options.dry_run, "validate and show, send nothing");

  auto* campaign = app.add_subcommand("campaign", "voluntary collection campaign reports (public)");
  campaign->require_subcommand(1);
  SendOptions campaign_options;
  auto* publish = campaign->add_subcommand("publish", "publish a campaign report (deploy/examples/campaign-report.json)");
  publish->add_option("FILE", campaign_options.file, "message JSON with body {\"campaignReport\": {...}}")->required();
  publish->add_flag("--dry-run", campaign_options.dry_run, "validate and show, send nothing");

  // --- statement (issue 12: a state's right of reply, commands_statement.cpp) ----
  StatementCommands statement_commands(app, global);

  // --- verify ------------------------------------------------------------------
  VerifyOptions verify_options;
  auto* verify = app.add_subcommand("verify", "check a saved message (.fpx) offline against the root CA");
  verify->add_option("FILE", verify_options.file, "a saved envelope, e.g. from the profile's inbox/")->required();
  verify->add_option("--root-ca", verify_options.root_ca, "the exchange's root CA (default: the profile's)");
  verify->add_option("--crl-dir", verify_options.crl_dir, "CRLs to check revocation against (default: the profile's)");
  verify->add_option("--broker-pin", verify_options.broker_pins,
                     "the exchange's broker signing key, sha256:<hex> (repeatable; default: the profile's pins): "
                     "checks a broker notice and the receipt kept beside a sent message");

  // --- observe, log verify (observers) ------------------------------------------
  ObserveOptions observe_options;
  auto* observe = app.add_subcommand("observe", "observers: fetch, verify and save the public oversight feed (profile feed/)");
  observe->add_option("--from", observe_options.from, "start at this sequence number (default: after the last one seen)");
  observe->add_flag("--follow", observe_options.follow, "keep polling for new records until interrupted");
  observe->add_option("--wait", observe_options.wait_seconds, "with or without --follow: follow for at most SECONDS");

  auto* log = app.add_subcommand("log", "the transparency log (observers: verify; participants: prove)");
  log->require_subcommand(1);
  auto* log_verify = log->add_subcommand(
      "verify", "check the latest signed checkpoint, its consistency with the one saved, and the inclusion of every "
                "saved record");
  // Issue 13: fpx witness, fpx log compare, fpx log evidence check (commands_witness.cpp).
  WitnessCommands witness_commands(app, *log, global);
  LogVerifyOptions log_verify_options;
  log_verify->add_option("--checkpoint-interval", log_verify_options.checkpoint_interval_seconds,
                         "the exchange's checkpoint interval in seconds (oversight.checkpoint_every_ms; default 60): a "
                         "record at the feed's end may wait this long plus a minute for a checkpoint that covers it");
  LogProveOptions log_prove_options;
  auto* log_prove = log->add_subcommand(
      "prove", "participants: prove that a message you sent is in the log everyone sees (its leaf, opened, and its "
               "inclusion in the latest signed checkpoint)");
  log_prove->add_option("message", log_prove_options.message, "the message's id (or prefix) in sent/, or a saved .fpx file")
      ->required();

  // Issue 12: fpx statistics check, a focal point recounts its state's published cells (commands_facts.cpp).
  StatisticsCheckOptions statistics_check_options;
  auto* statistics = app.add_subcommand("statistics", "focal points: check your state's published process statistics");
  statistics->require_subcommand(1);
  auto* statistics_check = statistics->add_subcommand(
      "check", "open your state's facts of a published period (each in its leaf, in the latest signed checkpoint) "
               "and recount the cells your state appears in: your pairs and your rows");
  statistics_check
      ->add_option("--period", statistics_check_options.period,
                   "the period's start, as its record's periodStart (2026-10-01T00:00:00Z) or in ms since the epoch")
      ->required();

  ReportOptions report_options;
  auto* report = app.add_subcommand(
      "report", "observers: write a self-contained HTML page of the saved feed (run `fpx observe` first): trends, "
                "answers in time, acknowledgement rates, refusal grounds, campaigns and alerts as charts, and the "
                "checkpoint");
  report->add_option("--html", report_options.html, "the HTML file to write (--html, --csv or both)");
  report->add_option("--csv", report_options.csv,
                     "a folder to write every published statistics table to as CSV (pairs.csv, by_requester.csv, "
                     "by_requested.csv, by_region.csv, total.csv)");
  report->add_option("--period", report_options.period,
                     "statistics period to show: a kind (quarter, month, 10s: its latest period) or one period's "
                     "start, e.g. 2026-10-01T00:00:00Z (default: the longest kind saved, its latest period)");

  // Issue 12 item 5: fpx warn, fpx contribute, fpx warning ack (commands_cso.cpp).
  CsoCommands cso_commands(app, global);

  // --- keys ----------------------------------------------------------------------
  auto* keys = app.add_subcommand("keys", "make your own keys and certificate request; install the signed chain");
  keys->require_subcommand(1);
  KeysNewOptions keys_new_options;
  auto* keys_new = keys->add_subcommand(
      "new", "make a signing key, a CURVE key pair and request.csr (hand over only request.csr) in a new directory");
  keys_new->add_option("--id", keys_new_options.id, "participant id, e.g. sn.focal-point")->required();
  keys_new->add_option("--country", keys_new_options.country, "ISO 3166-1 alpha-2 code, e.g. SN")->required();
  keys_new->add_option("--role", keys_new_options.role, "focal-point, agency, observer, broker or cso")->required();
  keys_new->add_option("--officer", keys_new_options.officer,
                       "an officer's own keys under the participant, e.g. awa.diop");
  keys_new->add_option("--out", keys_new_options.out, "the new key directory (0700)")->required();
  auto* keys_pass_file = keys_new->add_option("--passphrase-file", keys_new_options.passphrase_file,
                                              "encrypt signing-key.pem with the passphrase in this file");
  keys_new->add_option("--passphrase-env", keys_new_options.passphrase_env,
                       "encrypt signing-key.pem with the passphrase in this environment variable")
      ->excludes(keys_pass_file);
  KeysInstallOptions keys_install_options;
  auto* keys_install = keys->add_subcommand(
      "install", "copy the chain your CA signed into the key directory as chain.pem, checking it holds your keys");
  keys_install->add_option("--dir", keys_install_options.dir, "the directory `fpx keys new` made")->required();
  keys_install->add_option("--chain", keys_install_options.chain, "the chain.pem the CA sent back")->required();
  auto* install_pass_file = keys_install->add_option("--passphrase-file", keys_install_options.passphrase_file,
                                                     "file holding the signing key's passphrase");
  keys_install->add_option("--passphrase-env", keys_install_options.passphrase_env,
                           "environment variable holding the passphrase")
      ->excludes(install_pass_file);

  // --- profile -------------------------------------------------------------------
  auto* profile = app.add_subcommand("profile", "create or show a participant profile");
  profile->require_subcommand(1);
  ProfileInitOptions init_options;
  auto* init = profile->add_subcommand("init", "write DIR/fpx.toml");
  init->add_option("--dir", init_options.dir, "profile directory to create")->required();
  init->add_option("--identity", init_options.identity, "fpx-ca identity directory (chain.pem, signing-key.pem, ...)")
      ->required();
  init->add_option("--broker-endpoint", init_options.broker_endpoint,
                   "participants endpoint, e.g. tcp://broker.example:7400 (optional with --observer-endpoint)");
  init->add_option("--observer-endpoint", init_options.observer_endpoint,
                   "observers: the broker's observer endpoint, e.g. tcp://broker.example:7401 (needs --broker-cert)");
  init->add_option("--log-origin", init_options.log_origin,
                   "observers: the transparency log's origin line that checkpoints must carry")
      ->capture_default_str();
  auto* broker_cert = init->add_option("--broker-cert", init_options.broker_cert, "the broker's chain.pem (its CURVE key is read from it)");
  init->add_option("--broker-key", init_options.broker_key, "the broker's CURVE public key, Z85, as `fpx-ca show` prints it")
      ->excludes(broker_cert);
  init->add_option("--root-ca", init_options.root_ca, "the exchange's root CA certificate")->required();
  auto* crl_dir = init->add_option("--crl-dir", init_options.crl_dir,
                                   "directory of the CAs' CRLs (required unless --no-revocation-check)");
  init->add_flag("--no-revocation-check", init_options.no_revocation_check,
                 "run without CRLs, knowingly: recorded in fpx.toml, and every command then warns that a revoked "
                 "signer's messages are accepted")
      ->excludes(crl_dir);
  init->add_option("--broker-pin", init_options.broker_pins,
                   "pin this broker signing key too, sha256:<hex> (repeatable; required with --broker-key)");
  auto* passphrase_file = init->add_option("--passphrase-file", init_options.passphrase_file, "file holding the signing key's passphrase");
  init->add_option("--passphrase-env", init_options.passphrase_env, "environment variable holding the passphrase")
      ->excludes(passphrase_file);
  init->add_flag("--force", init_options.force, "overwrite an existing fpx.toml");
  auto* show = profile->add_subcommand("show", "print the profile in use");
  ProfilePinOptions pin_options;
  auto* pin = profile->add_subcommand(
      "pin", "list, add or remove the pinned broker signing keys (the exchange's key rotation); without options, list");
  pin->add_option("--add", pin_options.add,
                  "a broker chain.pem (checked against the root CA) or sha256:<hex> to pin; repeatable. Compare the "
                  "printed fingerprint with the operator's first");
  pin->add_option("--remove", pin_options.remove, "sha256:<hex> to unpin; repeatable (one pin must remain)");
  pin->add_option("--broker-cert", pin_options.broker_cert,
                  "make this chain.pem the profile's broker certificate (transport key; observers: feed key) and pin "
                  "its key");

  // --- desk (clients/desk/README.md) --------------------------------------------
  DeskCommandOptions desk_options;
  auto* desk = app.add_subcommand(
      "desk", "the officer's web console on 127.0.0.1: inbox, what we owe, cases, forms; prints the URL to open");
  desk->add_option("--port", desk_options.port, "port on 127.0.0.1 (default 0: any free port)");
  desk->add_option("--lang", desk_options.language, "fr or en (default: the profile's [user] language, else LANG)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? kExitOk : kExitUsage;
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

}  // namespace

int main(int argc, char** argv) {
  // The library returns Results; this is the last line of defence for what
  // still throws (allocation, CLI11 construction, Cap'n Proto on a bug).
  try {
    return run(argc, argv);
  } catch (const kj::Exception& exception) {
    std::cerr << "fpx: internal error (Cap'n Proto): " << exception.getDescription().cStr() << "\n";
  } catch (const std::exception& exception) {
    std::cerr << "fpx: internal error: " << exception.what() << "\n";
  } catch (...) {
    std::cerr << "fpx: internal error\n";
  }
  return kExitRefused;
}
