// fpx trace ack / respond / status: replies are built from the saved request
// (inbox/<id>.fpx), so inReplyTo, the recipient and the case reference are
// never typed by hand and never wrong.
#include <chrono>
#include <iostream>
#include <variant>

#include "language.hpp"
#include "local_store.hpp"
#include "outgoing.hpp"
#include "render.hpp"
#include "text.hpp"

namespace fpx::cli {

namespace {

// Marks an English text for the catalogue (xgettext --keyword=N_); translated where shown.
constexpr const char* N_(const char* english) { return english; }

// The request being answered, re-opened from the inbox. Revocation is not
// re-checked: it was checked on delivery, and a signer revoked since must
// still get its answer.
struct SavedRequest {
  MessageId id;
  std::int64_t received_at_ms = 0;
  std::unique_ptr<TrustStore> trust;  // the opened message's certificates live here
  std::unique_ptr<OpenedEnvelope> opened;
};

std::int64_t file_time_ms(const std::filesystem::path& path) {
  std::error_code error;
  const auto written = std::filesystem::last_write_time(path, error);
  if (error) return now_ms();
  const auto system = std::chrono::file_clock::to_sys(written);
  return std::chrono::duration_cast<std::chrono::milliseconds>(system.time_since_epoch()).count();
}

Result<SavedRequest> load_request(const Profile& profile, const std::string& id_or_prefix, text::Language language) {
  auto id = resolve_message_id(id_or_prefix, {profile.inbox_dir()}, language);
  if (!id) return std::move(id).take_error();
  const auto path = envelope_path(profile.inbox_dir(), *id);
  auto bytes = read_whole_file(path);
  if (!bytes) {
    return make_error(ErrorCode::not_found,
                      fill_values(text::Catalogue(language).tr(N_("message {1} is not in {2}: run `fpx inbox` first")),
                                  {id->hex(), profile.inbox_dir().string()}));
  }
  auto trust = TrustStore::load(profile.root_ca, {});
  if (!trust) return std::move(trust).take_error();
  SavedRequest saved;
  saved.id = *id;
  saved.received_at_ms = file_time_ms(path);
  saved.trust = std::make_unique<TrustStore>(std::move(trust).value());
  EnvelopeOpener opener(*saved.trust);
  OpenOptions options;
  options.revocation = RevocationCheck::skip;
  auto opened = opener.open(*bytes, options);
  if (!opened) return std::move(opened).take_error();
  if (opened->type != wire::MessageType::TRACING_REQUEST) {
    return make_error(ErrorCode::invalid_argument,
                      fill_values(text::Catalogue(language).tr(N_("message {1} is a {2}, not a tracing request: only "
                                                                  "requests are acknowledged and answered")),
                                  {id->hex(), enum_name(opened->type)}));
  }
  saved.opened = std::make_unique<OpenedEnvelope>(std::move(opened).value());
  return saved;
}

// A reply keeps the request's case reference, priority and handling rules
// unless the reply file says otherwise; then it is addressed back.
void start_reply(Draft& draft, const SavedRequest& request) {
  const auto header = request.opened->message.header();
  draft.header.setCaseReference(header.getCaseReference());
  draft.header.setPriority(header.getPriority());
  draft.header.setUrgencyJustification(header.getUrgencyJustification());
  draft.header.setClassification(header.getClassification());
  draft.header.setHandlingCodes(header.getHandlingCodes());
  draft.header.setHandlingConditions(header.getHandlingConditions());
}

void address_reply(Draft& draft, const SavedRequest& request) {
  draft.header.setInReplyTo(kj::arrayPtr(request.id.bytes.data(), request.id.bytes.size()));
  draft.header.initRecipients(1)[0].setCountry(request.opened->message.header().getSenderCountry());
}

struct Prepared {
  Profile profile;
  std::unique_ptr<Identity> identity;
  SavedRequest request;
};

// Profile, identity and saved request, or the exit code of the failure.
std::variant<Prepared, int> prepare(const GlobalOptions& global, const std::string& id) {
  auto profile = load_profile(global.profile);
  if (!profile) return report_failure(global, kExitUsage, profile.error());
  auto identity = load_identity(*profile);
  if (!identity) return report_failure(global, kExitUsage, identity.error(), N_("check identity.dir in fpx.toml"));
  auto request = load_request(*profile, id, language_for_errors(global));
  if (!request) {
    const int code = request.error().code == ErrorCode::invalid_argument || request.error().code == ErrorCode::not_found
                         ? kExitUsage
                         : kExitRefused;
    return report_failure(global, code, request.error());
  }
  return Prepared{std::move(profile).value(), std::make_unique<Identity>(std::move(identity).value()),
                  std::move(request).value()};
}

Error bad_value(const text::Catalogue& text, const std::string& option, const std::string& value,
                const std::string& choices) {
  return make_error(ErrorCode::invalid_argument,
                    fill_values(text.tr(N_("{1} '{2}' is not known; use one of: {3}")), {option, value, choices}));
}

// The handling codes for people, in the catalogue's words (the desk's and
// `fpx trace show`'s), H3 followed by its conditions; "none" if none.
std::string handling_text(const text::Catalogue& text, wire::Header::Reader header) {
  // In English, DOMAIN.md's words as `fpx trace status` always printed them
  // (render.cpp handling_summary): scripts and tests read them.
  if (text.language() == text::Language::en) return handling_summary(header);
  std::string out;
  for (auto code : header.getHandlingCodes()) {
    std::string label;
    switch (code) {
      case wire::HandlingCode::H0_CRIME_FIGHTING_ONLY: label = text.tr(N_("H0: for crime-fighting use only")); break;
      case wire::HandlingCode::H1_NOT_FOR_COURT_WITHOUT_PERMISSION:
        label = text.tr(N_("H1: not for use in court without permission"));
        break;
      case wire::HandlingCode::H2_NO_ONWARD_SHARING_WITHOUT_PERMISSION:
        label = text.tr(N_("H2: no onward sharing without permission"));
        break;
      case wire::HandlingCode::H3_OTHER_CONDITIONS:
        label = std::string(text.tr(N_("H3: other conditions (see the text)"))) + ": " +
                (header.getHandlingConditions().size() == 0 ? std::string(text.tr(N_("(no conditions given)")))
                                                            : std::string(header.getHandlingConditions().cStr()));
        break;
      default: label = handling_code_label(code); break;  // a newer schema's code: shown, never dropped
    }
    if (out.find(label) != std::string::npos) continue;
    out += (out.empty() ? "" : "; ") + label;
  }
  return out.empty() ? std::string(text.tr(N_("none"))) : out;
}

// The handling codes of the message asked about, read from this profile's
// own copy (sent/ or inbox/): the broker's status reply does not repeat
// them, and the copy is the signed original. Revocation is not re-checked,
// as for replies.
struct LocalHandling {
  std::string codes = "-";
  std::string summary;
};

LocalHandling local_handling(const Profile& profile, const MessageId& id, const text::Catalogue& text) {
  LocalHandling handling;
  handling.summary = text.tr(N_("unknown: no copy of the message in this profile's sent/ or inbox/"));
  for (const auto& folder : {profile.sent_dir(), profile.inbox_dir()}) {
    auto bytes = read_whole_file(envelope_path(folder, id));
    if (!bytes) continue;
    auto trust = TrustStore::load(profile.root_ca, {});
    if (!trust) return handling;
    EnvelopeOpener opener(*trust);
    OpenOptions options;
    options.revocation = RevocationCheck::skip;
    auto opened = opener.open(*bytes, options);
    if (!opened) {
      handling.summary = std::string(text.tr(N_("unknown: the saved copy no longer verifies"))) + " (" +
                         opened.error().describe() + ")";
      return handling;
    }
    handling.codes = handling_codes_short(opened->message.header());
    handling.summary = handling_text(text, opened->message.header());
    return handling;
  }
  return handling;
}

}  // namespace

int run_ack(const GlobalOptions& global, const AckOptions& options) {
  auto prepared = prepare(global, options.id);
  if (auto* code = std::get_if<int>(&prepared)) return *code;
  auto& [profile, identity, request] = std::get<Prepared>(prepared);

  Draft draft;
  start_reply(draft, request);
  const text::Catalogue text(language_for_errors(global));
  std::string source(text.tr(N_("the acknowledgement built from the options")));
  if (!options.file.empty()) {
    source = options.file;
    if (auto read = read_message_json(options.file, draft, text.language()); !read) {
      return report_failure(global, kExitUsage, read.error());
    }
    if (draft.body.which() != wire::Body::TRACING_ACKNOWLEDGEMENT) {
      return report_failure(global, kExitUsage,
                            make_error(ErrorCode::invalid_argument,
                                       options.file + " must hold {\"body\": {\"tracingAcknowledgement\": {...}}}"));
    }
  } else {
    auto ack = draft.body.initTracingAcknowledgement();
    auto status = parse_enum<wire::AcknowledgementStatus>(options.status);
    if (!status) {
      return report_failure(global, kExitUsage,
                            bad_value(text, "--status", options.status, enum_choices<wire::AcknowledgementStatus>()));
    }
    ack.setStatus(*status);
    if (!options.expected_response.empty() && !parse_date(options.expected_response, ack.initExpectedResponseDate())) {
      return report_failure(global, kExitUsage,
                            make_error(ErrorCode::invalid_argument,
                                       fill_values(text.tr(N_("{1} '{2}' is not a date: write YYYY-MM-DD")),
                                                   {"--expected-response", options.expected_response})));
    }
    if (!options.contact.empty()) ack.setPointOfContact(options.contact);
    auto missing = ack.initMissingFields(static_cast<unsigned>(options.missing.size()));
    for (unsigned i = 0; i < missing.size(); ++i) missing.set(i, options.missing[i]);
  }
  // Received when `fpx inbox` saved it; the contact is the acknowledging participant.
  auto ack = draft.body.getTracingAcknowledgement();
  if (ack.getReceivedAtMs() == 0) ack.setReceivedAtMs(request.received_at_ms);
  if (ack.getPointOfContact().size() == 0) ack.setPointOfContact(identity->participant().id.str());
  address_reply(draft, request);
  return seal_and_send(global, profile, std::move(*identity), draft, options.dry_run, source);
}

int run_respond(const GlobalOptions& global, const RespondOptions& options) {
  auto prepared = prepare(global, options.id);
  if (auto* code = std::get_if<int>(&prepared)) return *code;
  auto& [profile, identity, request] = std::get<Prepared>(prepared);

  Draft draft;
  start_reply(draft, request);
  const text::Catalogue text(language_for_errors(global));
  std::string source(text.tr(N_("the response built from the options")));
  if (!options.file.empty()) {
    source = options.file;
    if (auto read = read_message_json(options.file, draft, text.language()); !read) {
      return report_failure(global, kExitUsage, read.error());
    }
    if (draft.body.which() != wire::Body::TRACING_RESPONSE) {
      return report_failure(global, kExitUsage,
                            make_error(ErrorCode::invalid_argument,
                                       options.file + " must hold {\"body\": {\"tracingResponse\": {...}}}"));
    }
  } else {
    if (options.outcome.empty()) {
      return report_failure(global, kExitUsage,
                            make_error(ErrorCode::invalid_argument,
                                       fill_values(text.tr(N_("give --outcome (or --file response.json); one of: {1}")),
                                                   {enum_choices<wire::TracingOutcome>()})));
    }
    auto response = draft.body.initTracingResponse();
    auto outcome = parse_enum<wire::TracingOutcome>(options.outcome);
    if (!outcome) {
      return report_failure(global, kExitUsage, bad_value(text, "--outcome", options.outcome, enum_choices<wire::TracingOutcome>()));
    }
    response.setOutcome(*outcome);
    response.setKind(options.interim ? wire::ResponseKind::INTERIM : wire::ResponseKind::FINAL);
    auto grounds = response.initRefusalGrounds(static_cast<unsigned>(options.grounds.size()));
    for (unsigned i = 0; i < grounds.size(); ++i) {
      auto ground = parse_enum<wire::RefusalGround>(options.grounds[i]);
      if (!ground) {
        return report_failure(global, kExitUsage, bad_value(text, "--ground", options.grounds[i], enum_choices<wire::RefusalGround>()));
      }
      grounds.set(i, *ground);
    }
    response.setGroundsExplanation(options.explanation);
    response.setUseRestrictions(options.use_restrictions);
    if (!options.next_update.empty() && !parse_date(options.next_update, response.initNextUpdate())) {
      return report_failure(global, kExitUsage,
                            make_error(ErrorCode::invalid_argument,
                                       fill_values(text.tr(N_("{1} '{2}' is not a date: write YYYY-MM-DD")),
                                                   {"--next-update", options.next_update})));
    }
    auto hops = response.initChainOfCustody(static_cast<unsigned>(options.hops.size()));
    for (unsigned i = 0; i < hops.size(); ++i) {
      // role;entity;country;date;document: entity names contain commas, never semicolons.
      std::vector<std::string> parts;
      std::string part;
      for (const char c : options.hops[i] + ";") {
        if (c == ';') {
          parts.push_back(part);
          part.clear();
        } else {
          part += c;
        }
      }
      const auto role = parts.empty() ? std::nullopt : parse_enum<wire::CustodyRole>(parts[0]);
      if (parts.size() < 3 || parts.size() > 5 || !role ||
          (parts.size() > 3 && !parts[3].empty() && !parse_date(parts[3], hops[i].initDate()))) {
        return report_failure(global, kExitUsage,
                              make_error(ErrorCode::invalid_argument,
                                         "--hop '" + options.hops[i] +
                                             "' must be \"ROLE;ENTITY;COUNTRY[;YYYY-MM-DD[;DOCUMENT]]\" with ROLE one of: " +
                                             enum_choices<wire::CustodyRole>()));
      }
      hops[i].setRole(*role);
      hops[i].setEntity(parts[1]);
      hops[i].setCountry(parts[2]);
      if (parts.size() > 4) hops[i].setDocumentReference(parts[4]);
    }
  }
  address_reply(draft, request);
  return seal_and_send(global, profile, std::move(*identity), draft, options.dry_run, source);
}

int run_status(const GlobalOptions& global, const StatusOptions& options) {
  auto profile = load_profile(global.profile);
  if (!profile) return report_failure(global, kExitUsage, profile.error());
  auto language = resolve_language(*profile, global.language);
  if (!language) return report_failure(global, kExitUsage, language.error());
  const text::Catalogue text(*language);
  const auto tr = [&](const char* english) { return std::string(text.tr(english)); };
  auto id = resolve_message_id(options.id, {profile->sent_dir(), profile->inbox_dir()}, *language);
  if (!id) return report_failure(global, kExitUsage, id.error());
  auto identity = load_identity(*profile);
  if (!identity) return report_failure(global, kExitUsage, identity.error(), tr(N_("check identity.dir in fpx.toml")));
  auto client = connect_profile(*profile, std::move(identity).value());
  if (!client) return report_failure(global, kExitRefused, client.error());
  auto rows = (*client)->status(*id);
  report_background_events(**client, *language);
  if (!rows) {
    return report_failure(global, kExitRefused, rows.error(),
                          rows.error().code == ErrorCode::not_found
                              ? tr(N_("only the sender and its state's focal point may ask; check the id"))
                              : tr(N_("try again later")));
  }
  const LocalHandling handling = local_handling(*profile, *id, text);
  if (global.json) {
    std::vector<std::string> items;
    for (const auto& row : *rows) {
      items.push_back(JsonObject()
                          .text("recipient", row.recipient.str())
                          .text("state", row.state)
                          .text("updatedAt", format_utc(row.updated_at_ms))
                          .number("updatedAtMs", row.updated_at_ms)
                          .text("lifecycle", row.lifecycle)
                          .text("reason", row.reason)
                          .str());
    }
    std::cout << JsonObject()
                     .boolean("ok", true)
                     .text("messageId", id->hex())
                     .text("handlingCodes", handling.codes)
                     .text("handling", handling.summary)
                     .raw("recipients", json_array(items))
                     .str()
              << "\n";
    return kExitOk;
  }
  std::cout << tr(N_("message")) << " " << id->hex() << "\n";
  std::cout << tr(N_("handling:")) << " " << handling.summary << "\n";
  if (rows->empty()) {
    std::cout << tr(N_("no recipients recorded")) << "\n";
    return kExitOk;
  }
  Table table({tr(N_("recipient")), tr(N_("state")), tr(N_("updated")), tr(N_("lifecycle")), tr(N_("reason"))});
  for (const auto& row : *rows) {
    table.add({row.recipient.str(), row.state, format_utc(row.updated_at_ms), row.lifecycle.empty() ? "-" : row.lifecycle,
               row.reason.empty() ? "-" : row.reason});
  }
  std::cout << table.str();
  return kExitOk;
}

}  // namespace fpx::cli
