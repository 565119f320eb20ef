// fpx report --html FILE: the observer's page of the public feed. Works
// offline from what `fpx observe` saved (feed/), checks every saved record's
// signature again with the broker's key (the local copy may have been
// altered since), and says whether `fpx log verify` accepted the checkpoint
// the page was built from.
#include <filesystem>
#include <iostream>

#include "feed_store.hpp"
#include "fpx/trust_store.hpp"
#include "local_store.hpp"
#include "outgoing.hpp"
#include "render.hpp"
#include "report_csv.hpp"
#include "report_html.hpp"

namespace fpx::cli {

namespace {

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

}  // namespace

int run_report(const GlobalOptions& global, const ReportOptions& options) {
  if (options.html.empty() && options.csv.empty()) {
    return report_failure(global, kExitUsage,
                          make_error(ErrorCode::invalid_argument, "nothing to write: give --html FILE, --csv DIR or both"));
  }
  auto profile = load_profile(global.profile);
  if (!profile) return report_failure(global, kExitUsage, profile.error());
  FeedStore store(profile->feed_dir());
  auto saved = store.saved_records();
  if (!saved) {
    return report_failure(global, kExitRefused, saved.error(),
                          "the local copy of the feed is damaged: move " + profile->feed_dir().string() +
                              " away and run `fpx observe --from 1`");
  }
  if (saved->empty()) {
    return report_failure(
        global, kExitUsage,
        make_error(ErrorCode::not_found, "no feed records are saved in " + store.records_file().string()),
        "run `fpx observe` first (statistics of a period are published once it ends)");
  }
  auto broker_key = broker_signing_key(*profile);
  if (!broker_key) {
    // A key that is not the pinned exchange's is a refusal, not a typo.
    const int code = broker_key.error().code == ErrorCode::signer_mismatch ? kExitRefused : kExitUsage;
    return report_failure(global, code, broker_key.error(), "nothing was written");
  }

  // Every record again: a page must not show what the broker did not sign.
  for (const auto& record : *saved) {
    auto verified =
        client::verify_feed_record(*broker_key, record.sequence, record.kind, record.signed_record, record.signature);
    if (!verified) {
      Error error = std::move(verified).take_error();
      error.message.insert(0, "saved record " + std::to_string(record.sequence) + " (" + store.records_file().string() +
                                  " line " + std::to_string(record.line) + ") does not verify: ");
      return report_failure(global, kExitRefused, error,
                            "nothing was written; move " + profile->feed_dir().string() +
                                " away and run `fpx observe --from 1` to fetch the feed again");
    }
  }

  auto data = report::read_report_data(*saved, options.period);
  if (!data) {
    const int code = data.error().code == ErrorCode::invalid_argument ? kExitUsage : kExitRefused;
    return report_failure(global, code, data.error(), "nothing was written");
  }
  std::vector<std::filesystem::path> csv_files;
  if (!options.csv.empty()) {
    auto written = report::write_csv_tables(*data, options.csv);
    if (!written) return report_failure(global, kExitUsage, written.error(), "no page was written");
    csv_files = std::move(written).value();
  }
  report::PageContext context;
  context.generated_at = format_utc(now_ms());
  context.records_file = store.records_file().string();
  context.observer = observer_id(*profile);
  context.log_verify = log_verify_state(store, *profile, *broker_key);
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
      return report_failure(global, kExitUsage, written.error(), "nothing was written");
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
    std::cout << "report written to " << options.html << ": " << charts << " chart(s) from " << data->records
              << " verified record(s)\n";
  }
  for (const auto& file : csv_files) std::cout << "table written to " << file.string() << "\n";
  if (data->statistics) {
    std::cout << "statistics: " << data->statistics->period << " from " << data->statistics->period_start << " ("
              << (data->statistics->final ? "final" : "provisional") << "), " << data->statistics->table("pairs").size()
              << " pair(s) of states, a trend over " << data->history.size() << " period(s)\n";
  } else {
    std::cout << "statistics: none saved yet (a period's statistics are published once it ends)\n";
  }
  std::cout << "campaign reports: " << data->campaigns.size() << ", public alerts: " << data->alerts.size() << "\n";
  // Issue 12: each alert with its status and public text; the statements
  // beside the figures they answer.
  for (const auto& alert : data->alerts) {
    const auto status = report::alert_status(alert, context.generated_at.substr(0, 10));
    std::cout << "  alert " << alert.month << " " << alert.alert_kind << " from " << alert.issuing_country << " ("
              << alert.region << "): " << status
              << (status == "cancelled" ? " on " + *alert.cancelled_on
                                        : (alert.valid_until.empty() ? std::string() : ", valid until " + alert.valid_until))
              << (alert.public_summary.empty() ? std::string() : ": " + alert.public_summary) << "\n";
  }
  for (const auto& statement : data->statements) {
    const bool shown = data->statistics && data->statistics->period == statement.period &&
                       data->statistics->period_start == statement.period_start;
    std::cout << "statement of " << statement.country << " on its figures for " << statement.period << " from "
              << statement.period_start << (shown ? " (the period shown)" : "") << ": " << statement.text << "\n";
  }
  if (data->checkpoint) {
    std::cout << "checkpoint: tree size " << data->checkpoint->tree_size << ", "
              << (log_verified ? "accepted by `fpx log verify`" : "not yet accepted: run `fpx log verify`") << "\n";
  }
  return kExitOk;
}

}  // namespace fpx::cli
