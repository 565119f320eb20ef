// fpx statistics check: "my state's requests are counted, correctly"
// (docs/PROTOCOL.md §11, "Each party's own facts"). A focal point asks the
// broker for the opened facts of its state's tracings in one published
// statistics period, checks each against its leaf and the leaf's inclusion
// in the latest checkpoint (signed by the pinned broker key), checks the
// period's record the same way, and recounts from the facts every cell its
// state can see in full: its pairs, and its own rows of byRequester and
// byRequested. Suppressed cells are listed as such: nothing to compare.
#include <ctime>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "cli.hpp"
#include "fpx/observer_client.hpp"
#include "fpx/statistics_facts.hpp"
#include "outgoing.hpp"
#include "profile.hpp"
#include "render.hpp"
#include "language.hpp"

namespace fpx::cli {

namespace {

// Marks an English text for the catalogue (xgettext --keyword=N_); translated
// where shown (clients/desk/po/fr.po; main.cpp translates the --help texts).
constexpr const char* N_(const char* english) { return english; }

// "2026-12-07T04:20:00Z" (a record's periodStart) or milliseconds since the epoch.
Result<std::int64_t> period_start_of(const std::string& text, const text::Catalogue& words) {
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos && text.size() <= 18) {
    return static_cast<std::int64_t>(std::stoll(text));
  }
  std::tm parts{};
  std::istringstream in(text);
  in >> std::get_time(&parts, "%Y-%m-%dT%H:%M:%SZ");
  if (in.fail() || in.peek() != std::char_traits<char>::eof()) {
    return make_error(ErrorCode::invalid_argument,
                      fill_values(words.tr(N_("--period {1}: give the periodStart of a published statistics record "
                                              "(2026-10-01T00:00:00Z) or milliseconds since the Unix epoch")),
                                  {text}));
  }
  return static_cast<std::int64_t>(timegm(&parts)) * 1000;
}

}  // namespace

int run_statistics_check(const GlobalOptions& global, const StatisticsCheckOptions& options) {
  const text::Catalogue text(language_for_errors(global));
  auto profile = load_profile(global.profile);
  if (!profile) return report_failure(global, kExitUsage, profile.error());
  auto start = period_start_of(options.period, text);
  if (!start) return report_failure(global, kExitUsage, start.error());
  if (profile->broker_cert.empty()) {
    return report_failure(global, kExitUsage,
                          make_error(ErrorCode::invalid_argument, "the profile names no broker certificate"),
                          N_("make the profile with the broker's certificate: its key checks the facts' checkpoint"));
  }
  auto broker_chain = Certificate::load_pem_file(profile->broker_cert);
  if (!broker_chain) return report_failure(global, kExitUsage, broker_chain.error());
  if (broker_chain->empty()) {
    return report_failure(global, kExitUsage,
                          make_error(ErrorCode::invalid_argument, profile->broker_cert.string() + " holds no certificate"),
                          N_("give the profile the broker's certificate (PEM)"));
  }
  const Certificate& broker_cert = broker_chain->front();  // the leaf first
  if (auto pinned = client::check_pinned_broker(profile->broker_pins, broker_cert, "the broker certificate");
      !pinned) {
    return report_failure(global, kExitRefused, pinned.error());
  }
  auto broker_key = client::ed25519_key_of(broker_cert);
  if (!broker_key) return report_failure(global, kExitRefused, broker_key.error());

  auto identity = load_identity(*profile);
  if (!identity) return report_failure(global, kExitUsage, identity.error());
  const CountryCode country = identity->participant().country;
  auto connected = connect_profile(*profile, std::move(identity).value());
  if (!connected) return report_failure(global, kExitRefused, connected.error());
  StatisticsFactsQuery query;
  query.period_start_ms = *start;
  auto pages = (*connected)->statistics_facts(query);
  if (!pages) return report_failure(global, kExitRefused, pages.error());
  auto checked = verify_statistics_facts(*pages, country, profile->log_origin, *broker_key);
  if (!checked) return report_failure(global, kExitRefused, checked.error());
  auto recount = recount_own_cells(*checked, country);
  if (!recount) return report_failure(global, kExitRefused, recount.error());

  const bool ok = recount->mismatched == 0;
  if (global.json) {
    std::vector<std::string> cells;
    for (const auto& cell : recount->cells) {
      JsonObject item;
      item.text("table", cell.table).text("requester", cell.requester).text("requested", cell.requested);
      item.text("measure", cell.measure).number("own", cell.own_count);
      if (cell.published) {
        item.number("published", *cell.published);
      } else {
        item.raw("published", "null");
      }
      item.boolean("matches", cell.matches());
      cells.push_back(item.str());
    }
    JsonObject out;
    out.boolean("ok", ok)
        .text("country", country.str())
        .number("periodStart", *start)
        .unsigned_number("facts", checked->facts.size())
        .unsigned_number("tracings", recount->tracings)
        .unsigned_number("cellsShown", recount->shown)
        .unsigned_number("cellsSuppressed", recount->suppressed)
        .unsigned_number("cellsMismatched", recount->mismatched)
        .unsigned_number("recordLogIndex", checked->record_log_index)
        .unsigned_number("treeSize", checked->checkpoint.size)
        .raw("cells", json_array(cells));
    std::cout << out.str() << "\n";
  } else {
    std::cout << fill_values(text.tr(N_("period from {1}: {2} fact(s) of {3} tracing(s) of {4}, each in its leaf, "
                                        "included in the checkpoint of size {5} (signed by the pinned broker key), "
                                        "as is the period's record (log index {6})")),
                             {format_utc(*start), std::to_string(checked->facts.size()),
                              std::to_string(recount->tracings), country.str(),
                              std::to_string(checked->checkpoint.size), std::to_string(checked->record_log_index)})
              << "\n";
    for (const auto& cell : recount->cells) {
      if (cell.published && cell.matches()) continue;
      // MISMATCH stays as it is in both languages: people and scripts look for it.
      std::cout << (cell.published ? std::string("MISMATCH ") : std::string(text.tr(N_("suppressed"))) + " ")
                << cell.table << " " << cell.requester << "->" << cell.requested << " " << cell.measure << ": "
                << fill_values(text.tr(N_("own count {1}")), {std::to_string(cell.own_count)});
      if (cell.published) std::cout << fill_values(text.tr(N_(", published {1}")), {std::to_string(*cell.published)});
      std::cout << "\n";
    }
    std::cout << fill_values(text.tr(N_("{1} shown cell(s) recounted, {2} different; {3} suppressed (not "
                                        "comparable); answeredWithinClock is not checked (no fact states it), nor "
                                        "any cell of other pairs (totals, regions)")),
                             {std::to_string(recount->shown), std::to_string(recount->mismatched),
                              std::to_string(recount->suppressed)})
              << "\n";
  }
  if (!ok) {
    std::cerr << "fpx: "
              << text.tr(N_("the published figures do not match your state's facts: keep this output (--json) and "
                            "the record as evidence and raise it with the exchange's oversight body"))
              << "\n";
    return kExitRefused;
  }
  return kExitOk;
}

}  // namespace fpx::cli
