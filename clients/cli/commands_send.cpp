// fpx trace submit / alert send / campaign publish, and the seal-and-send path
// the tracing replies share.
#include <fstream>
#include <iostream>

#include "fpx/time_ordered_id.hpp"
#include "fpx/validate.hpp"
#include "local_store.hpp"
#include "outgoing.hpp"
#include "commands_case.hpp"
#include "render.hpp"
#include "language.hpp"

namespace fpx::cli {

namespace {

// Marks an English text for the catalogue (xgettext --keyword=N_); translated
// where shown (clients/desk/po/fr.po; main.cpp translates the --help texts).
constexpr const char* N_(const char* english) { return english; }

std::string type_label(wire::MessageType type) { return enum_name(type); }

// `text` is English for the JSON output (scripts), the reader's language otherwise.
std::string recipients_text(wire::Header::Reader header, const text::Catalogue& text) {
  std::string out;
  for (auto recipient : header.getRecipients()) {
    if (!out.empty()) out += ", ";
    switch (recipient.which()) {
      case wire::Recipient::COUNTRY: out += recipient.getCountry().cStr(); break;
      case wire::Recipient::PARTICIPANT: out += recipient.getParticipant().cStr(); break;
      case wire::Recipient::REGION: out += fill_values(text.tr(N_("region {1}")), {recipient.getRegion().cStr()}); break;
      case wire::Recipient::ALL_STATES: out += text.tr(N_("all states")); break;
    }
  }
  return out.empty() ? std::string(text.tr(N_("(the public feed)"))) : out;
}

struct FirearmReport {
  std::string label;
  CompletenessReport report;
};

void collect(std::vector<FirearmReport>& out, const std::string& path, capnp::List<wire::Firearm>::Reader firearms) {
  for (unsigned i = 0; i < firearms.size(); ++i) {
    std::string label = path + "[" + std::to_string(i) + "]";
    const auto serial = firearms[i].getSerialNumber();
    if (serial.size() != 0) label += " serial " + std::string(serial.cStr());
    out.push_back({label, firearm_completeness(firearms[i])});
  }
}

// Identifier completeness of every firearm the message describes: a trace
// without manufacturer, calibre and serial rarely succeeds, so people see
// what is missing before anything goes out.
std::vector<FirearmReport> completeness_of(wire::Body::Reader body) {
  std::vector<FirearmReport> reports;
  switch (body.which()) {
    case wire::Body::TRACING_REQUEST: collect(reports, "firearms", body.getTracingRequest().getFirearms()); break;
    case wire::Body::ALERT:
      collect(reports, "firearms", body.getAlert().getFirearms());
      collect(reports, "batch.firearms", body.getAlert().getBatch().getFirearms());
      break;
    case wire::Body::INFORMATION_SUPPLIED:
      collect(reports, "firearms", body.getInformationSupplied().getFirearms());
      break;
    default: break;
  }
  return reports;
}

std::string completeness_json(const std::vector<FirearmReport>& reports) {
  std::vector<std::string> items;
  for (const auto& item : reports) {
    std::vector<std::string> missing;
    for (const auto& field : item.report.missing) missing.push_back(json_quote(field));
    items.push_back(JsonObject()
                        .text("firearm", item.label)
                        .number("score", item.report.score)
                        .raw("missing", json_array(missing))
                        .str());
  }
  return json_array(items);
}

void print_completeness(const std::vector<FirearmReport>& reports, const text::Catalogue& text) {
  if (reports.empty()) return;
  std::cout << text.tr(N_("identifier completeness:")) << "\n";
  for (const auto& item : reports) {
    std::cout << "  " << item.label << ": " << item.report.score << "/100";
    if (item.report.missing.empty()) {
      std::cout << text.tr(N_(", nothing missing")) << "\n";
    } else {
      std::string missing;
      for (const auto& field : item.report.missing) missing += (missing.empty() ? "" : ", ") + field;
      std::cout << fill_values(text.tr(N_(", missing: {1}")), {missing}) << "\n";
    }
  }
}

// English texts marked for the catalogue: report_failure translates them.
std::string next_step_for_refusal(ErrorCode code) {
  switch (code) {
    case ErrorCode::schema_violation:
      return N_("fix the fields listed above and send again (--dry-run checks a file without sending)");
    case ErrorCode::unauthorized:
    case ErrorCode::wrong_role:
      return N_("your role may not send this message to these recipients; ask your focal point to send it");
    case ErrorCode::unknown_recipient:
      return N_("check the recipients: the broker knows no participant for one of them");
    case ErrorCode::rate_limited:
    case ErrorCode::unavailable:
      return N_("the message stays in the local outbox and is resent by the next fpx command that connects (`fpx outbox` "
                "lists it)");
    case ErrorCode::quota_exceeded:
      return N_("cancel alerts no longer needed (a stolen/lost alert over the state's watch list), or ask the exchange's "
                "operator for a larger quota");
    case ErrorCode::id_reused:
    case ErrorCode::replay: return N_("this message was sent before; check `fpx trace status`");
    case ErrorCode::stale_timestamp: return N_("check this machine's clock, then send again");
    case ErrorCode::signer_mismatch:
      return N_("the message stays in the local outbox; if the exchange announced a new broker key, compare its "
                "fingerprint with the operator out of band and pin it with `fpx profile pin --add broker-chain.pem`");
    default: return N_("if this persists, give the message id and this error to the exchange's operators");
  }
}

// When the library resends `id` (Unix ms), if it kept it in the outbox with
// a time to wait for; nullopt if it is not waiting for one.
std::optional<std::int64_t> next_try_of(client::Client& client, const std::optional<MessageId>& id) {
  if (!id) return std::nullopt;
  auto waiting = client.outbox();
  if (!waiting) return std::nullopt;
  for (const auto& message : *waiting) {
    if (message.message_id == *id && message.next_try_at_ms > 0) return message.next_try_at_ms;
  }
  return std::nullopt;
}

}  // namespace

int run_outbox(const GlobalOptions& global) {
  auto profile = load_profile(global.profile);
  if (!profile) return report_failure(global, kExitUsage, profile.error());
  auto identity = load_identity(*profile);
  if (!identity) return report_failure(global, kExitUsage, identity.error(), N_("check identity.dir in fpx.toml"));
  const text::Catalogue text(language_for_errors(global));
  const auto tr = [&](const char* english) { return std::string(text.tr(english)); };
  // Connecting resends what is due and settles the answers that come.
  auto client = connect_profile(*profile, std::move(identity).value());
  if (!client) {
    return report_failure(global, kExitRefused, client.error(), N_("the outbox is kept; try again when connected"));
  }
  report_background_events(**client, text.language());
  auto waiting = (*client)->outbox();
  if (!waiting) return report_failure(global, kExitRefused, waiting.error(), N_("check the profile's client.sqlite"));
  if (global.json) {
    for (const auto& message : *waiting) {
      std::cout << JsonObject()
                       .text("messageId", message.message_id.hex())
                       .text("queuedAt", format_utc(message.queued_at_ms))
                       .number("queuedAtMs", message.queued_at_ms)
                       .text("nextTryAt", format_utc(message.next_try_at_ms))
                       .number("nextTryAtMs", message.next_try_at_ms)
                       .text("reason", message.reason)
                       .str()
                << "\n";
    }
    return kExitOk;
  }
  if (waiting->empty()) {
    std::cout << text.tr(N_("outbox empty: every message you sent has a receipt, or was refused for good")) << "\n";
    return kExitOk;
  }
  std::cout << fill_values(text.tr(N_("{1} message(s) without a receipt, resent by the fpx client library:")),
                          {std::to_string(waiting->size())})
            << "\n";
  for (const auto& message : *waiting) {
    std::cout << key_values({{tr(N_("message id")), message.message_id.hex()},
                             {tr(N_("queued at")), format_utc(message.queued_at_ms)},
                             {tr(N_("next try")), message.next_try_at_ms > now_ms() ? format_utc(message.next_try_at_ms)
                                                                                   : tr(N_("at the next connect"))},
                             {tr(N_("why")), message.reason.empty() ? tr(N_("sent; no answer yet")) : message.reason}})
              << "\n";
  }
  return kExitOk;
}

Result<std::unique_ptr<client::Client>> connect_profile(const Profile& profile, Identity identity) {
  auto connected = client::Client::connect(std::move(identity), profile.client_options());
  if (!connected) {
    Error error = std::move(connected).take_error();
    if (error.code == ErrorCode::unauthorized) {
      error.message += " (check broker.curve_public_key or broker.cert in " + (profile.dir / kProfileFile).string() +
                       ", and that your certificate is enrolled at the broker)";
    } else if (error.code == ErrorCode::unavailable) {
      error.message += " (is the broker running at " + profile.broker_endpoint + "?)";
    }
    return error;
  }
  return std::move(connected).value();
}

void report_background_events(client::Client& client, text::Language language) {
  const text::Catalogue text(language);
  for (const auto& error : client.take_outbox_refusals()) {
    std::cerr << "fpx: " << text.tr(N_("an earlier message was not accepted:")) << " " << error.describe() << "\n";
  }
  for (const auto& error : client.take_rejected_deliveries()) {
    // The message says why and what follows.
    std::cerr << "fpx: " << text.tr(N_("not handed over:")) << " " << error.describe() << "\n";
  }
}

Result<AttachmentFile> read_attachment(const std::filesystem::path& path) {
  std::error_code error;
  const auto size = std::filesystem::file_size(path, error);
  if (error) {
    return make_error(ErrorCode::io_error, "cannot read " + path.string() + ": " + error.message() +
                                               "; give the path of a photo or PDF to attach");
  }
  // Refused before it is read: a 4 GB file must not be loaded to learn it is too big.
  if (size > kMaxAttachmentBytes) {
    return make_error(ErrorCode::too_large, path.string() + " has " + std::to_string(size) + " bytes, over the limit of " +
                                                std::to_string(kMaxAttachmentBytes) +
                                                " per attachment; reduce the photo's resolution or split the document");
  }
  std::ifstream in(path, std::ios::binary);
  Bytes bytes(static_cast<std::size_t>(size));
  if (!in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()))) {
    return make_error(ErrorCode::io_error, "cannot read " + path.string() + "; check that it is a readable file");
  }
  return make_attachment(path.filename().string(), std::move(bytes));
}

namespace {

std::string attachment_line(const AttachmentFile& file) {
  return file.file_name + " (" + std::string(media_type_name(file.media_type)) + ", " +
         std::to_string(file.bytes.size()) + " bytes, SHA-256 " + to_hex(sha256(file.bytes)) + ")";
}

std::string attachments_json(std::span<const AttachmentFile> attachments) {
  std::vector<std::string> items;
  for (const auto& file : attachments) {
    items.push_back(JsonObject()
                        .text("fileName", file.file_name)
                        .text("mediaType", std::string(media_type_name(file.media_type)))
                        .unsigned_number("size", file.bytes.size())
                        .text("sha256", to_hex(sha256(file.bytes)))
                        .str());
  }
  return json_array(items);
}

void print_attachments(std::span<const AttachmentFile> attachments, const text::Catalogue& text) {
  for (std::size_t i = 0; i < attachments.size(); ++i) {
    std::cout << fill_values(text.tr(N_("attachment {1}: {2}")), {std::to_string(i + 1), attachment_line(attachments[i])})
              << "\n";
  }
}

}  // namespace

int seal_and_send(const GlobalOptions& global, const Profile& profile, Identity identity, Draft& draft, bool dry_run,
                  const std::string& source, std::span<const AttachmentFile> attachments) {
  const text::Catalogue text(language_for_errors(global));
  const text::Catalogue english(text::Language::en);  // JSON output: for scripts, always the same words
  const auto tr = [&](const char* english_text) { return std::string(text.tr(english_text)); };
  // A file name, or "the ... built from the options" (marked N_ by the command): in the reader's language.
  const std::string source_words(text.tr(source));
  const auto type = message_type_of(draft.body.asReader());
  const auto& me = identity.participant();
  if (!role_may_sign(me.role, type)) {
    return report_failure(global, kExitUsage,
                          make_error(ErrorCode::wrong_role, me.id.str() + " is of role " + std::string(role_name(me.role)) +
                                                                " and may not send a message of type " + type_label(type)),
                          N_("send it from a participant whose role allows it (see DOMAIN.md, Participants and roles)"));
  }
  auto sealed = seal_envelope(identity, draft.header, draft.body.asReader(), attachments);
  if (!sealed) {
    if (sealed.error().code == ErrorCode::too_large) {
      return report_failure(global, kExitUsage, sealed.error(), N_("attach fewer or smaller files; nothing was sent"));
    }
    return report_failure(global, kExitRefused, sealed.error(), N_("check the identity in the profile"));
  }

  const auto problems = validate_message(draft.header.asReader(), draft.body.asReader(), {now_ms()});
  const auto reports = completeness_of(draft.body.asReader());
  if (!problems.empty()) {
    if (!global.json) print_completeness(reports, text);
    Error error{ErrorCode::schema_violation,
                fill_values(text.tr(N_("{1} breaks {2} rule(s) of the exchange; nothing was sent")),
                            {source_words, std::to_string(problems.size())}),
                problems};
    return report_failure(global, kExitUsage, error,
                          fill_values(text.tr(N_("fix the fields listed above ({1}) and run again; --dry-run checks "
                                                 "without sending")),
                                      {source_words}));
  }

  const auto id = MessageId::from_bytes(ByteView(draft.header.getMessageId().begin(), draft.header.getMessageId().size()));
  const std::string id_hex = id ? id->hex() : "";
  if (dry_run) {
    if (global.json) {
      std::cout << JsonObject()
                       .boolean("ok", true)
                       .boolean("dryRun", true)
                       .text("type", type_label(type))
                       .text("sender", me.id.str())
                       .text("recipients", recipients_text(draft.header.asReader(), english))
                       .raw("completeness", completeness_json(reports))
                       .raw("attachments", attachments_json(attachments))
                       .str()
                << "\n";
    } else {
      std::cout << fill_values(text.tr(N_("dry run: {1} is a valid {2} from {3} to {4}")),
                               {source_words, type_label(type), me.id.str(), recipients_text(draft.header.asReader(), text)})
                << "\n";
      print_completeness(reports, text);
      print_attachments(attachments, text);
      std::cout << text.tr(N_("nothing was sent")) << "\n";
    }
    return kExitOk;
  }

  auto client = connect_profile(profile, std::move(identity));
  if (!client) {
    return report_failure(global, kExitRefused, client.error(), N_("nothing was sent; try again when connected"));
  }
  auto receipt = (*client)->submit(*sealed);
  report_background_events(**client, text.language());
  if (!receipt) {
    Error error = receipt.error();
    error.message = type_label(type) + " " + id_hex + " was not accepted: " + error.message;
    // Refused for now (the broker's storage or rate bound, or its trouble):
    // the library kept it and said when it resends it.
    if (auto waiting = next_try_of(**client, id)) {
      return report_failure(global, kExitRefused, error,
                            fill_values(text.tr(N_("nothing to do: the message is kept in the local outbox and resent "
                                                   "at {1} (or at once, if that is past) by the next fpx command that "
                                                   "connects after then (`fpx inbox`, `fpx outbox`); `fpx outbox` "
                                                   "lists it")),
                                        {format_utc(*waiting)}));
    }
    return report_failure(global, kExitRefused, error, next_step_for_refusal(receipt.error().code));
  }

  // Kept so that `fpx trace status` finds it by prefix and `fpx verify` can
  // check it later; the receipt is the broker's proof that it stored it.
  const auto folder = profile.sent_dir();
  std::string saved_note;
  if (auto saved = write_file_atomically(envelope_path(folder, receipt->message_id), *sealed); !saved) {
    saved_note = saved.error().message;
  } else {
    const std::string json = render_message_json(draft.header.asReader(), draft.body.asReader());
    (void)write_file_atomically(folder / (id_hex + kJsonExtension), as_bytes(json));
    (void)write_file_atomically(folder / (id_hex + kReceiptExtension), receipt->signed_receipt);
  }
  if (!saved_note.empty()) std::cerr << "fpx: " << text.tr(N_("sent, but not saved locally:")) << " " << saved_note << "\n";

  if (global.json) {
    std::cout << JsonObject()
                     .boolean("ok", true)
                     .text("messageId", receipt->message_id.hex())
                     .text("type", type_label(type))
                     .text("recipients", recipients_text(draft.header.asReader(), english))
                     .text("storedAt", format_utc(receipt->stored_at_ms))
                     .number("storedAtMs", receipt->stored_at_ms)
                     .unsigned_number("logIndex", receipt->log_index)
                     .text("broker", receipt->broker.str())
                     .text("openRequest", receipt->open_request ? receipt->open_request->hex() : "")
                     .text("file", envelope_path(folder, receipt->message_id).string())
                     .raw("completeness", completeness_json(reports))
                     .raw("attachments", attachments_json(attachments))
                     .str()
              << "\n";
  } else {
    print_completeness(reports, text);
    print_attachments(attachments, text);
    std::cout << text.tr(N_("accepted: the broker stored it durably and signed a receipt")) << "\n"
              << key_values({{tr(N_("message id")), receipt->message_id.hex()},
                             {tr(N_("type")), type_label(type)},
                             {tr(N_("to")), recipients_text(draft.header.asReader(), text)},
                             {tr(N_("stored at")), format_utc(receipt->stored_at_ms)},
                             {tr(N_("log index")), std::to_string(receipt->log_index)},
                             {tr(N_("receipt by")), receipt->broker.str()}});
    std::cout << text.tr(N_("next:")) << " "
              << fill_values(text.tr(N_("follow it with `fpx trace status {1}`")), {short_message_id(receipt->message_id)})
              << "\n";
  }
  if (receipt->open_request) {
    std::cerr << fill_values(text.tr(N_("warning: the exchange found an open request of your state that this one "
                                        "repeats: {1} (follow it with `fpx trace show {1}`)")),
                             {receipt->open_request->hex()})
              << "\n";
  }
  return kExitOk;
}

int run_send(const GlobalOptions& global, SendKind kind, const SendOptions& options) {
  const text::Catalogue text(language_for_errors(global));
  auto profile = load_profile(global.profile);
  if (!profile) return report_failure(global, kExitUsage, profile.error());
  auto identity = load_identity(*profile);
  if (!identity) {
    return report_failure(global, kExitUsage, identity.error(),
                          fill_values(text.tr(N_("check identity.dir and the passphrase settings in {1}")),
                                      {(profile->dir / kProfileFile).string()}));
  }
  Draft draft;
  if (auto read = read_message_json(options.file, draft, text.language()); !read) {
    return report_failure(global, kExitUsage, read.error(),
                          fill_values(text.tr(N_("fix {1} (see deploy/examples/)")), {options.file}));
  }

  const auto& me = identity->participant();
  auto body = draft.body;
  wire::Body::Which expected = wire::Body::TRACING_REQUEST;
  const char* command = "fpx trace submit";
  switch (kind) {
    case SendKind::tracing_request: break;
    case SendKind::alert:
      expected = wire::Body::ALERT;
      command = "fpx alert send";
      break;
    case SendKind::campaign_report:
      expected = wire::Body::CAMPAIGN_REPORT;
      command = "fpx campaign publish";
      break;
  }
  if (body.which() != expected) {
    const std::string wanted = expected == wire::Body::TRACING_REQUEST ? "tracingRequest"
                               : expected == wire::Body::ALERT         ? "alert"
                                                                       : "campaignReport";
    return report_failure(global, kExitUsage,
                          make_error(ErrorCode::invalid_argument, options.file + " holds a " +
                                                                      type_label(message_type_of(body.asReader())) +
                                                                      ", but " + command + " sends a body {\"" +
                                                                      wanted + "\": {...}}"),
                          N_("use the command for that message type (fpx --help lists them)"));
  }

  // What the sender's certificate already says need not be typed again.
  if (kind == SendKind::tracing_request) {
    auto request = body.getTracingRequest();
    if (request.getRequestingCountry().size() == 0) request.setRequestingCountry(me.country.str());
    if (request.getRequestingAgency().size() == 0) request.setRequestingAgency(me.id.str());
    if (draft.header.getRecipients().size() == 0) {
      auto states = request.getRequestedStates();
      auto recipients = draft.header.initRecipients(states.size());
      for (unsigned i = 0; i < states.size(); ++i) recipients[i].setCountry(states[i].getCountry());
    }
  } else if (kind == SendKind::campaign_report) {
    auto report = body.getCampaignReport();
    if (report.getCountry().size() == 0) report.setCountry(me.country.str());
  }
  // Issue 17: a request that repeats an open one of our state is not sent without --force.
  if (kind == SendKind::tracing_request) {
    const auto policy = options.force     ? DuplicatePolicy::send_anyway
                       : options.dry_run ? DuplicatePolicy::warn_only
                                         : DuplicatePolicy::refuse;
    if (auto code = check_duplicates(global, *profile, me, draft, policy)) return *code;
  }
  std::vector<AttachmentFile> attachments;
  for (const auto& path : options.attachments) {
    auto file = read_attachment(path);
    if (!file) return report_failure(global, kExitUsage, file.error(), N_("nothing was sent"));
    attachments.push_back(std::move(file).value());
  }
  return seal_and_send(global, *profile, std::move(identity).value(), draft, options.dry_run, options.file,
                       attachments);
}

}  // namespace fpx::cli
