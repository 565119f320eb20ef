// fpx statement --period START "text": the right of reply of issue 12
// (docs/PROTOCOL.md §5.3.1 figuresStatement, §8.3, §11 figures-statement).
#include "commands_statement.hpp"

#include <ctime>
#include <iomanip>
#include <sstream>

#include "json_messages.hpp"
#include "outgoing.hpp"
#include "profile.hpp"
#include "language.hpp"

namespace fpx::cli {

namespace {

// Marks an English text for the catalogue (xgettext --keyword=N_); translated
// where shown (clients/desk/po/fr.po; main.cpp translates the --help texts).
constexpr const char* N_(const char* english) { return english; }

// "2026-10-01T00:00:00Z" (a statistics record's periodStart, as `fpx report`
// prints it) or milliseconds since the Unix epoch.
Result<std::int64_t> period_start_ms(const std::string& text, const text::Catalogue& words) {
  // 18 digits stay below 2^63: no overflow in stoll.
  constexpr std::size_t kMaxMillisecondDigits = 18;
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos &&
      text.size() <= kMaxMillisecondDigits) {
    return static_cast<std::int64_t>(std::stoll(text));
  }
  std::tm parts{};
  std::istringstream in(text);
  in >> std::get_time(&parts, "%Y-%m-%dT%H:%M:%SZ");
  if (in.fail() || in.peek() != std::char_traits<char>::eof()) {
    return make_error(ErrorCode::invalid_argument,
                      fill_values(words.tr(N_("--period {1}: give the periodStart of a published statistics record, "
                                              "as `fpx report` prints it (2026-10-01T00:00:00Z), or milliseconds "
                                              "since the Unix epoch")),
                                  {text}));
  }
  return static_cast<std::int64_t>(timegm(&parts)) * 1000;
}

}  // namespace

int run_statement(const GlobalOptions& global, const StatementOptions& options) {
  auto profile = load_profile(global.profile);
  if (!profile) return report_failure(global, kExitUsage, profile.error());
  auto start = period_start_ms(options.period, text::Catalogue(language_for_errors(global)));
  if (!start) return report_failure(global, kExitUsage, start.error());
  auto identity = load_identity(*profile);
  if (!identity) {
    return report_failure(global, kExitUsage, identity.error(),
                          fill_values(text::Catalogue(language_for_errors(global))
                                          .tr(N_("check identity.dir and the passphrase settings in {1}")),
                                      {(profile->dir / kProfileFile).string()}));
  }
  Draft draft;
  // Public, and addressed to the exchange itself: no recipients.
  draft.header.setClassification(wire::Classification::PUBLIC);
  auto statement = draft.body.initFiguresStatement();
  statement.setCountry(identity->participant().country.str());
  statement.setPeriodStartMs(*start);
  statement.setText(options.text);
  return seal_and_send(global, *profile, std::move(identity).value(), draft, options.dry_run,
                       N_("the statement built from the options"));
}

StatementCommands::StatementCommands(CLI::App& app, const GlobalOptions& global) : global_(global) {
  statement_ = app.add_subcommand(
      "statement",
      N_("focal points: publish your state's signed statement beside its published figures for one period (the "
      "exchange puts it on the public feed; `fpx report` shows it)"));
  statement_->add_option("--period", options_.period,
                         N_("the period's start: the periodStart of its statistics record (2026-10-01T00:00:00Z), or ms "
                         "since the epoch"))
      ->required();
  statement_->add_option("TEXT", options_.text, N_("the statement: at most 2000 characters on one line"))->required();
  statement_->add_flag("--dry-run", options_.dry_run, N_("validate and show, send nothing"));
}

std::optional<int> StatementCommands::run_parsed() const {
  if (statement_->parsed()) return run_statement(global_, options_);
  return std::nullopt;
}

}  // namespace fpx::cli
