// fpx report --html FILE: the observer's page of the public feed. Works
// offline from what `fpx observe` saved (feed/), checks every saved record's
// signature again with the broker's key (the local copy may have been
// altered since), and says whether `fpx log verify` accepted the checkpoint
// the page was built from.
#include <algorithm>
#include <filesystem>
#include <iostream>

#include "feed_store.hpp"
#include "fpx/trust_store.hpp"
#include "language.hpp"
#include "local_store.hpp"
#include "outgoing.hpp"
#include "render.hpp"
#include "report_csv.hpp"
#include "report_html.hpp"
#include "report_text.hpp"

namespace fpx::cli {

namespace {

using report::N_;

// The broker's signing key from the profile's copy of its chain, checked
// against the root CA and the profile's pins without connecting (as
// ObserverClient::connect does): a chain file swapped on disk for another
// broker-role certificate's is refused (signer_mismatch).
Result<Ed25519PublicKey> broker_signing_key(const Profile& profile) {
  auto options = profile.observer_options();
  if (!options) return std::move(options).take_error();
  auto broker = client::verify_broker_chain(options->broker_chain, options->root_ca, options->broker_pins);
  if (!broker) return std::move(broker).take_error();
  return broker->signing_key;
}

// What `fpx log verify` accepted last, if anything.
report::LogVerifyState log_verify_state(const FeedStore& store, const Profile& profile,
                                        const Ed25519PublicKey& broker_key) {
  report::LogVerifyState state;
  auto note = store.saved_checkpoint();
  if (!note) {
    state.problem = note.error().message;
    return state;
  }
  if (!*note) return state;
  auto checkpoint = client::verify_checkpoint_note(**note, profile.log_origin, broker_key);
  if (!checkpoint) {
    state.problem = checkpoint.error().message;
    return state;
  }
  state.checked = true;
  state.tree_size = checkpoint->checkpoint.size;
  state.root_hash = to_hex(checkpoint->checkpoint.root);
  return state;
}

// The observer's own participant id, for the page's footer.
std::string observer_id(const Profile& profile) {
  auto chain = Certificate::load_pem_file(profile.identity_dir / kChainFile);
  if (chain && !chain->empty()) {
    if (auto participant = chain->front().participant(); participant) return participant->id.str();
  }
  return profile.identity_dir.filename().string();
}

// "trafficking-route-or-method" -> "trafficking route or method": the
// catalogue's words for a code of the feed (report_html.cpp lists them).
[[maybe_unused]] constexpr const char* kAlertStatuses[] = {N_("active"), N_("expired"), N_("cancelled")};

std::string report_code_words(std::string code) {
  std::replace(code.begin(), code.end(), '_', ' ');
  std::replace(code.begin(), code.end(), '-', ' ');
  return code;
}

}  // namespace

int run_report(const GlobalOptions& global, const ReportOptions& options) {
  // Issue 17: what the observer reads in French or English; until the
  // profile is read, the language errors are printed in.
  report::Wording w(language_for_errors(global));
  if (options.html.empty() && options.csv.empty()) {
    return report_failure(global, kExitUsage,
                          make_error(ErrorCode::invalid_argument,
                                     w.tr(N_("nothing to write: give --html FILE, --csv DIR or both"))));
  }
  auto profile = load_profile(global.profile);
  if (!profile) return report_failure(global, kExitUsage, profile.error());
  auto language = resolve_language(*profile, global.language);
  if (!language) return report_failure(global, kExitUsage, language.error());
  w = report::Wording(*language);
  FeedStore store(profile->feed_dir());
  auto saved = store.saved_records();
  if (!saved) {
    return report_failure(global, kExitRefused, saved.error(),
                          w.fill(N_("the local copy of the feed is damaged: move {1} away and run `fpx observe --from 1`"),
                                 {profile->feed_dir().string()}));
  }
  if (saved->empty()) {
    return report_failure(global, kExitUsage,
                          make_error(ErrorCode::not_found, w.fill(N_("no feed records are saved in {1}"),
                                                                  {store.records_file().string()})),
                          w.tr(N_("run `fpx observe` first (statistics of a period are published once it ends)")));
  }
  auto broker_key = broker_signing_key(*profile);
  if (!broker_key) {
    // A key that is not the pinned exchange's is a refusal, not a typo.
    const int code = broker_key.error().code == ErrorCode::signer_mismatch ? kExitRefused : kExitUsage;
    return report_failure(global, code, broker_key.error(), w.tr(N_("nothing was written")));
  }

  // Every record again: a page must not show what the broker did not sign.
  for (const auto& record : *saved) {
    auto verified =
        client::verify_feed_record(*broker_key, record.sequence, record.kind, record.signed_record, record.signature);
    if (!verified) {
      Error error = std::move(verified).take_error();
      error.message.insert(0, w.fill(N_("saved record {1} ({2} line {3}) does not verify: "),
                                     {std::to_string(record.sequence), store.records_file().string(),
                                      std::to_string(record.line)}));
      return report_failure(global, kExitRefused, error,
                            w.fill(N_("nothing was written; move {1} away and run `fpx observe --from 1` to fetch the "
                                      "feed again"),
                                   {profile->feed_dir().string()}));
    }
  }

  auto data = report::read_report_data(*saved, options.period);
  if (!data) {
    const int code = data.error().code == ErrorCode::invalid_argument ? kExitUsage : kExitRefused;
    return report_failure(global, code, data.error(), w.tr(N_("nothing was written")));
  }
  std::vector<std::filesystem::path> csv_files;
  if (!options.csv.empty()) {
    auto written = report::write_csv_tables(*data, options.csv);
    if (!written) return report_failure(global, kExitUsage, written.error(), w.tr(N_("no page was written")));
    csv_files = std::move(written).value();
  }
  report::PageContext context;
  context.generated_at = format_utc(now_ms());
  context.records_file = store.records_file().string();
  context.observer = observer_id(*profile);
  context.log_verify = log_verify_state(store, *profile, *broker_key);
  context.language = w.language();
  if (!options.html.empty()) {
    const std::string page = report::render_page(*data, context);
    // Absolute: a bare "out.html" has no parent folder for the atomic write to create.
    std::error_code path_error;
    const auto html = std::filesystem::absolute(options.html, path_error);
    if (path_error) {
      return report_failure(global, kExitUsage,
                            make_error(ErrorCode::invalid_argument, options.html + ": " + path_error.message()));
    }
    if (auto written = write_file_atomically(html, as_bytes(page)); !written) {
      return report_failure(global, kExitUsage, written.error(), w.tr(N_("nothing was written")));
    }
  }

  const std::size_t charts = report::chart_count(*data);
  const bool log_verified =
      data->checkpoint && context.log_verify.checked && context.log_verify.tree_size >= data->checkpoint->tree_size;
  if (global.json) {
    JsonObject out;
    out.boolean("ok", true).text("file", options.html).unsigned_number("records", data->records);
    out.unsigned_number("csvFiles", csv_files.size());
    out.unsigned_number("charts", charts);
    if (data->statistics) {
      out.raw("statistics", JsonObject()
                                .text("period", data->statistics->period)
                                .text("periodStart", data->statistics->period_start)
                                .boolean("final", data->statistics->final)
                                .unsigned_number("pairs", data->statistics->table("pairs").size())
                                .unsigned_number("periods", data->history.size())
                                .str());
    }
    out.unsigned_number("campaignReports", data->campaigns.size()).unsigned_number("publicAlerts", data->alerts.size());
    // Issue 12: alerts by status as of today, and the states' statements.
    {
      const std::string today = context.generated_at.substr(0, 10);
      std::size_t cancelled = 0;
      std::size_t expired = 0;
      for (const auto& alert : data->alerts) {
        const auto status = report::alert_status(alert, today);
        cancelled += status == "cancelled" ? 1 : 0;
        expired += status == "expired" ? 1 : 0;
      }
      out.unsigned_number("cancelledAlerts", cancelled).unsigned_number("expiredAlerts", expired);
      out.unsigned_number("statements", data->statements.size());
    }
    if (data->checkpoint) out.unsigned_number("treeSize", data->checkpoint->tree_size);
    out.boolean("logVerified", log_verified);
    std::cout << out.str() << "\n";
    return kExitOk;
  }
  if (!options.html.empty()) {
    std::cout << w.fill(N_("report written to {1}: {2} chart(s) from {3} verified record(s)"),
                        {options.html, std::to_string(charts), std::to_string(data->records)})
              << "\n";
  }
  for (const auto& file : csv_files) std::cout << w.fill(N_("table written to {1}"), {file.string()}) << "\n";
  if (data->statistics) {
    const auto& statistics = *data->statistics;
    std::cout << w.fill(N_("statistics: {1} from {2} ({3}), {4} pair(s) of states, a trend over {5} period(s)"),
                        {w.tr(statistics.period), w.date(statistics.period_start),
                         statistics.final ? w.tr(N_("final")) : w.tr(N_("provisional")),
                         std::to_string(statistics.table("pairs").size()), std::to_string(data->history.size())})
              << "\n";
  } else {
    std::cout << w.tr(N_("statistics: none saved yet (a period's statistics are published once it ends)")) << "\n";
  }
  std::cout << w.fill(N_("campaign reports: {1}, public alerts: {2}"),
                      {std::to_string(data->campaigns.size()), std::to_string(data->alerts.size())})
            << "\n";
  // Issue 12: each alert with its status and public text; the statements
  // beside the figures they answer.
  const std::string today = context.generated_at.substr(0, 10);
  for (const auto& alert : data->alerts) {
    const auto status = report::alert_status(alert, today);
    // The status's word in the reader's language; --json and the CSV keep the code.
    std::string line = w.fill(N_("alert {1} {2} from {3} ({4}): {5}"),
                              {w.date(alert.month), w.tr(report_code_words(alert.alert_kind)), alert.issuing_country,
                               alert.region, w.tr(status)});
    if (status == "cancelled") {
      line += w.fill(N_(" on {1}"), {w.date(alert.cancelled_on.value_or(""))});
    } else if (!alert.valid_until.empty()) {
      line += w.fill(N_(", valid until {1}"), {w.date(alert.valid_until)});
    }
    if (!alert.public_summary.empty()) line.append(w.colon()).append(alert.public_summary);
    std::cout << "  " << line << "\n";
  }
  for (const auto& statement : data->statements) {
    const bool shown = data->statistics && data->statistics->period == statement.period &&
                       data->statistics->period_start == statement.period_start;
    std::cout << w.fill(N_("statement of {1} on its figures for {2} from {3}{4}: {5}"),
                        {statement.country, w.tr(statement.period), w.date(statement.period_start),
                         shown ? w.tr(N_(" (the period shown)")) : std::string(), statement.text})
              << "\n";
  }
  if (data->checkpoint) {
    std::cout << w.fill(N_("checkpoint: tree size {1}, {2}"),
                        {std::to_string(data->checkpoint->tree_size),
                         log_verified ? w.tr(N_("accepted by `fpx log verify`"))
                                      : w.tr(N_("not yet accepted: run `fpx log verify`"))})
              << "\n";
  }
  return kExitOk;
}

}  // namespace fpx::cli
