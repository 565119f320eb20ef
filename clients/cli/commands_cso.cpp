// fpx warn / contribute / warning ack (PROTOCOL.md §7.9). A cso's message
// is always addressed to its own state (the country of its certificate):
// the command offers no recipient, so a cso cannot mistype one. The
// acknowledgement is built from the saved warning (inbox/<id>.fpx), so
// inReplyTo and the recipient are never typed by hand.
#include "commands_cso.hpp"

#include <iostream>

#include "json_messages.hpp"
#include "local_store.hpp"
#include "outgoing.hpp"
#include "profile.hpp"
#include "language.hpp"

namespace fpx::cli {

namespace {

// Marks an English text for the catalogue (xgettext --keyword=N_); translated
// where shown (clients/desk/po/fr.po; main.cpp translates the --help texts).
constexpr const char* N_(const char* english) { return english; }

struct Loaded {
  Profile profile;
  std::unique_ptr<Identity> identity;
};

Result<Loaded> load(const GlobalOptions& global) {
  auto profile = load_profile(global.profile);
  if (!profile) return std::move(profile).take_error();
  auto identity = load_identity(*profile);
  if (!identity) {
    Error error = std::move(identity).take_error();
    error.message += " (check identity.dir in fpx.toml)";
    return error;
  }
  return Loaded{std::move(profile).value(), std::make_unique<Identity>(std::move(identity).value())};
}

Status set_date(const std::string& option, const std::string& value, wire::Date::Builder date, text::Language language) {
  if (!parse_date(value, date)) {
    return make_error(ErrorCode::invalid_argument,
                      fill_values(text::Catalogue(language).tr(N_("{1} '{2}' is not a date: write YYYY-MM-DD")),
                                  {option, value}));
  }
  return {};
}

// Only a cso certificate sends these: say so before anything is sealed.
std::optional<int> refuse_unless_cso(const GlobalOptions& global, const Identity& identity, const char* command) {
  const auto& me = identity.participant();
  if (me.role == Role::cso) return std::nullopt;
  return report_failure(
      global, kExitUsage,
      make_error(ErrorCode::wrong_role,
                 fill_values(text::Catalogue(language_for_errors(global))
                                 .tr(N_("{1} is of role {2}; `fpx {3}` needs a cso certificate")),
                             {me.id.str(), std::string(role_name(me.role)), command})),
      N_("ask the exchange's root CA for a cso certificate (fpx keys new --role cso) and a profile "
         "for it; an observer certificate only reads the feed"));
}

int run_warn(const GlobalOptions& global, const WarnOptions& options) {
  const auto language = language_for_errors(global);
  auto loaded = load(global);
  if (!loaded) return report_failure(global, kExitUsage, loaded.error());
  if (auto refused = refuse_unless_cso(global, *loaded->identity, "warn")) return *refused;
  Draft draft;
  draft.header.initRecipients(1)[0].setCountry(loaded->identity->participant().country.str());
  draft.header.setClassification(wire::Classification::RESTRICTED);
  auto warning = draft.body.initEarlyWarning();
  warning.setThreat(options.threat);
  warning.setLocation(options.location);
  warning.setFirearmDescription(options.firearm);
  if (!options.observed_on.empty()) {
    if (auto dated = set_date("--observed-on", options.observed_on, warning.getObservedOn(), language); !dated) {
      return report_failure(global, kExitUsage, dated.error());
    }
  }
  return seal_and_send(global, loaded->profile, std::move(*loaded->identity), draft, options.dry_run,
                       std::string(text::Catalogue(language).tr(N_("the early warning built from the options"))));
}

int run_contribute(const GlobalOptions& global, const ContributeOptions& options) {
  const auto language = language_for_errors(global);
  auto loaded = load(global);
  if (!loaded) return report_failure(global, kExitUsage, loaded.error());
  if (auto refused = refuse_unless_cso(global, *loaded->identity, "contribute")) return *refused;
  Draft draft;
  draft.header.initRecipients(1)[0].setCountry(loaded->identity->participant().country.str());
  draft.header.setClassification(wire::Classification::RESTRICTED);
  auto contribution = draft.body.initCampaignContribution();
  contribution.setCampaign(options.campaign);
  if (auto dated = set_date("--from", options.period_start, contribution.getPeriodStart(), language); !dated) {
    return report_failure(global, kExitUsage, dated.error());
  }
  if (auto dated = set_date("--until", options.period_end, contribution.getPeriodEnd(), language); !dated) {
    return report_failure(global, kExitUsage, dated.error());
  }
  contribution.setWeaponsCollected(options.weapons);
  contribution.setAmmunitionCollected(options.ammunition);
  contribution.setText(options.text);
  return seal_and_send(global, loaded->profile, std::move(*loaded->identity), draft, options.dry_run,
                       std::string(text::Catalogue(language).tr(N_("the campaign contribution built from the options"))));
}

// The warning being acknowledged, re-opened from the inbox: its id and its
// sender (the only recipient the broker allows). Revocation is not
// re-checked: it was on delivery, and a cso revoked since still gets its answer.
struct SavedWarning {
  MessageId id;
  ParticipantId sender;
};

Result<SavedWarning> load_warning(const Profile& profile, const std::string& id_or_prefix, text::Language language) {
  const text::Catalogue text(language);
  auto id = resolve_message_id(id_or_prefix, {profile.inbox_dir()}, language);
  if (!id) return std::move(id).take_error();
  auto bytes = read_whole_file(envelope_path(profile.inbox_dir(), *id));
  if (!bytes) {
    return make_error(ErrorCode::not_found, fill_values(text.tr(N_("message {1} is not in {2}: run `fpx inbox` first")),
                                                        {id->hex(), profile.inbox_dir().string()}));
  }
  auto trust = TrustStore::load(profile.root_ca, {});
  if (!trust) return std::move(trust).take_error();
  EnvelopeOpener opener(*trust);
  OpenOptions options;
  options.revocation = RevocationCheck::skip;
  auto opened = opener.open(*bytes, options);
  if (!opened) return std::move(opened).take_error();
  if (opened->type != wire::MessageType::EARLY_WARNING) {
    return make_error(ErrorCode::invalid_argument,
                      fill_values(text.tr(N_("message {1} is a {2}, not an early warning: `fpx warning ack` "
                                             "acknowledges warnings only (tracing requests: `fpx trace ack`)")),
                                  {id->hex(), enum_name(opened->type)}));
  }
  return SavedWarning{*id, opened->signer.participant.id};
}

int run_warning_ack(const GlobalOptions& global, const WarningAckOptions& options) {
  auto loaded = load(global);
  if (!loaded) return report_failure(global, kExitUsage, loaded.error());
  auto warning = load_warning(loaded->profile, options.id, language_for_errors(global));
  if (!warning) {
    const int code = warning.error().code == ErrorCode::invalid_argument || warning.error().code == ErrorCode::not_found
                         ? kExitUsage
                         : kExitRefused;
    return report_failure(global, code, warning.error());
  }
  Draft draft;
  draft.header.initRecipients(1)[0].setParticipant(warning->sender.str());
  draft.header.setInReplyTo(kj::arrayPtr(warning->id.bytes.data(), warning->id.bytes.size()));
  draft.header.setClassification(wire::Classification::RESTRICTED);
  auto ack = draft.body.initEarlyWarningAcknowledgement();
  ack.setReceivedAtMs(now_ms());
  ack.setNote(options.note);
  return seal_and_send(global, loaded->profile, std::move(*loaded->identity), draft, options.dry_run,
                       N_("the early-warning acknowledgement built from the options"));
}

}  // namespace

CsoCommands::CsoCommands(CLI::App& app, const GlobalOptions& global) : global_(global) {
  warn_command_ =
      app.add_subcommand("warn", N_("civil society (cso certificate): send an early warning to your state's focal point"));
  warn_command_->add_option("--threat", warn_.threat, N_("the emerging threat the community reports (required)"))
      ->required();
  warn_command_->add_option("--location", warn_.location, N_("where: a place, district or area"));
  warn_command_->add_option("--firearm", warn_.firearm, N_("what was seen: kind, number, markings"));
  warn_command_->add_option("--observed-on", warn_.observed_on, N_("the day it was seen, YYYY-MM-DD"));
  warn_command_->add_flag("--dry-run", warn_.dry_run, N_("validate and show, send nothing"));

  contribute_command_ =
      app.add_subcommand("contribute",
                         N_("civil society (cso certificate): send a contribution to a collection campaign report to your "
                         "state's focal point"));
  contribute_command_->add_option("--campaign", contribute_.campaign, N_("the campaign's name (required)"))->required();
  contribute_command_->add_option("--from", contribute_.period_start, N_("first day covered, YYYY-MM-DD"))->required();
  contribute_command_->add_option("--until", contribute_.period_end, N_("last day covered, YYYY-MM-DD"))->required();
  contribute_command_->add_option("--weapons", contribute_.weapons, N_("weapons collected"));
  contribute_command_->add_option("--ammunition", contribute_.ammunition, N_("rounds of ammunition collected"));
  contribute_command_->add_option("--text", contribute_.text, N_("what the organisation did and saw (required)"))
      ->required();
  contribute_command_->add_flag("--dry-run", contribute_.dry_run, N_("validate and show, send nothing"));

  auto* warning = app.add_subcommand("warning", N_("focal points: early warnings from your state's csos"));
  warning->require_subcommand(1);
  ack_command_ = warning->add_subcommand(
      "ack", N_("acknowledge a received early warning (on the warning clock: clocks.warning_acknowledge)"));
  ack_command_->add_option("ID", ack_.id, N_("the warning's message id, or a unique prefix or suffix (from `fpx inbox`)"))
      ->required();
  ack_command_->add_option("--note", ack_.note, N_("a word back to the organisation"));
  ack_command_->add_flag("--dry-run", ack_.dry_run, N_("validate and show, send nothing"));
}

std::optional<int> CsoCommands::run_parsed() const {
  if (warn_command_->parsed()) return run_warn(global_, warn_);
  if (contribute_command_->parsed()) return run_contribute(global_, contribute_);
  if (ack_command_->parsed()) return run_warning_ack(global_, ack_);
  return std::nullopt;
}

}  // namespace fpx::cli
