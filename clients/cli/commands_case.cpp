#include "commands_case.hpp"

#include <algorithm>
#include <chrono>
#include <iostream>
#include <tuple>

#include "case_files.hpp"
#include "case_search.hpp"
#include "compose.hpp"
#include "fpx/attachments.hpp"
#include "language.hpp"
#include "local_store.hpp"
#include "outgoing.hpp"
#include "pages.hpp"
#include "render.hpp"
#include "text.hpp"

namespace fpx::cli {

namespace {

using desk::case_state_text;
using desk::date_time_text;
using desk::header_lines;
using desk::message_lines;
using desk::message_type_text;

// Marks an English text for the catalogue (xgettext --keyword=N_); translated where shown.
constexpr const char* N_(const char* english) { return english; }

// What every case command loads: the profile, the language, who we are, the cases.
struct CaseContext {
  Profile profile;
  text::Catalogue text{text::Language::en};
  std::unique_ptr<Identity> identity;
  std::unique_ptr<desk::CaseFiles> files;
  std::string tr(std::string_view english) const { return std::string(text.tr(english)); }
};

Result<CaseContext> load_context(const GlobalOptions& global, const std::string& language_flag) {
  auto profile = load_profile(global.profile);
  if (!profile) return std::move(profile).take_error();
  // The command's own --lang, else fpx's (issue 17: `fpx --lang fr trace show`).
  auto language = resolve_language(*profile, language_flag.empty() ? global.language : language_flag);
  if (!language) return std::move(language).take_error();
  auto identity = load_identity(*profile);
  if (!identity) return std::move(identity).take_error();
  auto files = desk::CaseFiles::load(*profile, identity->participant());
  if (!files) return std::move(files).take_error();
  CaseContext context{std::move(profile).value(), text::Catalogue(*language),
                      std::make_unique<Identity>(std::move(identity).value()),
                      std::make_unique<desk::CaseFiles>(std::move(files).value())};
  return context;
}

Result<const desk::Case*> find_case(const CaseContext& context, const std::string& id_or_prefix) {
  auto id = resolve_message_id(id_or_prefix, {context.profile.inbox_dir(), context.profile.sent_dir()});
  if (!id) return std::move(id).take_error();
  const desk::Case* item = context.files->find(*id);
  if (item == nullptr) {
    return make_error(ErrorCode::not_found, "message " + id->hex() +
                                                " is not a tracing request saved in this profile: give the id of "
                                                "the request (`fpx trace search` lists them)");
  }
  return item;
}

int usage_failure(const GlobalOptions& global, const Error& error) {
  const int code = error.code == ErrorCode::invalid_argument || error.code == ErrorCode::not_found ? kExitUsage
                                                                                                    : kExitRefused;
  return report_failure(global, code, error);
}

std::string reference_of(const desk::Case& item) {
  const std::string reference = item.request->opened.message.header().getCaseReference().cStr();
  return reference.empty() ? "-" : reference;
}

std::string from_of(const desk::CaseMessage& message) {
  const auto& signer = message.opened.signer.participant;
  return signer.id.str() + " (" + signer.country.str() + ")";
}

std::string due_of(const desk::Case& item) {
  return date_time_text(item.acknowledged_by_us ? item.respond_due_ms : item.acknowledge_due_ms);
}

// Characters, not bytes: French texts are UTF-8 ("Priorité"), and columns
// must line up on the screen.
std::size_t display_width(const std::string& text) {
  std::size_t width = 0;
  for (const char c : text) width += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  return width;
}

void print_lines(const desk::Lines& lines, const std::string& indent) {
  std::size_t width = 0;
  for (const auto& [term, value] : lines) width = std::max(width, display_width(term));
  for (const auto& [term, value] : lines) {
    std::cout << indent << term << ":" << std::string(width - display_width(term) + 1, ' ') << value << "\n";
  }
}

// Columns aligned by characters, headers as translated (render.hpp's Table
// upper-cases byte by byte, which would leave "PRIORITé").
class CaseTable {
 public:
  explicit CaseTable(std::vector<std::string> headers) : rows_{std::move(headers)} {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string str() const {
    std::vector<std::size_t> widths(rows_.front().size(), 0);
    for (const auto& row : rows_) {
      for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) {
        widths[i] = std::max(widths[i], display_width(row[i]));
      }
    }
    std::string out;
    for (const auto& row : rows_) {
      for (std::size_t i = 0; i < widths.size(); ++i) {
        const std::string cell = i < row.size() ? row[i] : "";
        out += cell;
        if (i + 1 < widths.size()) out += std::string(widths[i] - display_width(cell) + 2, ' ');
      }
      out += "\n";
    }
    return out;
  }

 private:
  std::vector<std::vector<std::string>> rows_;  // the headers first
};

std::string lines_json(const desk::Lines& lines) {
  std::vector<std::string> items;
  for (const auto& [term, value] : lines) items.push_back(JsonObject().text("term", term).text("value", value).str());
  return json_array(items);
}

std::string case_row_json(const CaseContext& context, const desk::Case& item, std::int64_t now) {
  const auto& request = item.request->opened;
  return JsonObject()
      .text("messageId", request.message_id.hex())
      .text("caseReference", reference_of(item))
      .text("from", request.signer.participant.id.str())
      .text("state", std::string(desk::case_state_name(item.state)))
      .text("stateText", case_state_text(context.text, item))
      .boolean("urgent", item.urgent)
      .boolean("overdue", item.overdue(now))
      .text("createdAt", format_utc(request.created_at_ms))
      .text("dueAt", format_utc(item.acknowledged_by_us ? item.respond_due_ms : item.acknowledge_due_ms))
      .str();
}

int run_show(const GlobalOptions& global, const std::string& language, const std::string& id) {
  auto context = load_context(global, language);
  if (!context) return usage_failure(global, context.error());
  auto found = find_case(*context, id);
  if (!found) return usage_failure(global, found.error());
  const desk::Case& item = **found;
  const auto& request = item.request->opened;
  if (global.json) {
    std::vector<std::string> thread;
    for (const auto* message : item.thread) {
      thread.push_back(JsonObject()
                           .text("messageId", message->opened.message_id.hex())
                           .text("type", message_type_text(context->text, message->opened.type))
                           .text("from", message->opened.signer.participant.id.str())
                           .text("createdAt", format_utc(message->opened.created_at_ms))
                           .raw("lines", lines_json(message_lines(context->text, *message)))
                           .str());
    }
    std::cout << JsonObject()
                     .boolean("ok", true)
                     .raw("case", case_row_json(*context, item, now_ms()))
                     .raw("header", lines_json(header_lines(context->text, request.message.header())))
                     .raw("thread", json_array(thread))
                     .str()
              << "\n";
    return kExitOk;
  }
  std::cout << context->tr(N_("Tracing request")) << " " << reference_of(item) << " (" << context->tr(N_("message id"))
            << " " << request.message_id.hex() << ")\n";
  desk::Lines summary = {{context->tr(N_("Status")), case_state_text(context->text, item)}};
  if (item.owed_by_us && !item.answered_by_us) {
    summary.emplace_back(context->tr(item.acknowledged_by_us ? N_("Answer by") : N_("Acknowledge by")),
                         due_of(item) + (item.overdue(now_ms()) ? " (" + context->tr(N_("overdue")) + ")" : ""));
  }
  for (auto& line : header_lines(context->text, request.message.header())) summary.push_back(std::move(line));
  print_lines(summary, "");
  std::cout << "\n" << context->tr(N_("The whole thread")) << "\n";
  for (const auto* message : item.thread) {
    std::cout << "\n" << date_time_text(message->opened.created_at_ms) << "  "
              << message_type_text(context->text, message->opened.type) << "  " << context->tr(N_("From")) << " "
              << from_of(*message) << "\n";
    print_lines(message_lines(context->text, *message), "  ");
  }
  return kExitOk;
}

// Saves one attachment of a saved message, after checking its bytes against
// the size and SHA-256 its sender signed (open() checked them when the
// message was loaded; checked again here, right before the bytes are used).
int run_attachment(const GlobalOptions& global, const std::string& language, const AttachmentSaveOptions& options) {
  auto context = load_context(global, language);
  if (!context) return usage_failure(global, context.error());
  auto id = resolve_message_id(options.id, {context->profile.inbox_dir(), context->profile.sent_dir()});
  if (!id) return usage_failure(global, id.error());
  const desk::CaseMessage* message = context->files->find_message(*id);
  if (message == nullptr) {
    return usage_failure(global, make_error(ErrorCode::not_found, "message " + id->hex() +
                                                                      " is not saved in this profile: run `fpx inbox`, "
                                                                      "or give the id `fpx trace show` prints"));
  }
  const auto entries = attachments_of(message->opened.message.header());
  if (options.number < 1 || options.number > entries.size()) {
    return usage_failure(global, make_error(ErrorCode::invalid_argument,
                                            "message " + id->hex() + " has " + std::to_string(entries.size()) +
                                                " attachment(s); give a number from 1 to " +
                                                std::to_string(entries.size()) + " (`fpx trace show` lists them)"));
  }
  const auto& entry = entries[options.number - 1];
  // Read again from the saved envelope and checked against the signed hash.
  auto read = context->files->attachment(*message, options.number);
  if (!read) {
    return report_failure(global, kExitRefused, read.error(), "the saved message is damaged: run `fpx inbox` to fetch it again");
  }
  const Bytes& bytes = *read;
  const std::filesystem::path out = options.out.empty() ? std::filesystem::path(entry.file_name)
                                                       : std::filesystem::path(options.out);
  if (!options.overwrite && std::filesystem::exists(out)) {
    return usage_failure(global, make_error(ErrorCode::invalid_argument,
                                            out.string() + " exists; choose another --out, or add --overwrite"));
  }
  if (auto written = write_file_atomically(out, bytes); !written) {
    return report_failure(global, kExitRefused, written.error(), "check that the folder of --out exists and is writable");
  }
  const std::string type(media_type_name(entry.media_type));
  const std::string hash = to_hex(entry.sha256);
  if (global.json) {
    std::cout << JsonObject()
                     .boolean("ok", true)
                     .text("messageId", id->hex())
                     .unsigned_number("number", options.number)
                     .text("fileName", entry.file_name)
                     .text("mediaType", type)
                     .unsigned_number("size", entry.size)
                     .text("sha256", hash)
                     .text("file", out.string())
                     .str()
              << "\n";
    return kExitOk;
  }
  std::cout << context->tr(N_("Saved")) << " " << entry.file_name << " (" << type << ", " << entry.size << " "
            << context->tr(N_("bytes")) << ", SHA-256 " << hash << ") " << context->tr(N_("to")) << " " << out.string()
            << "\n";
  return kExitOk;
}

int run_owed(const GlobalOptions& global, const std::string& language) {
  auto context = load_context(global, language);
  if (!context) return usage_failure(global, context.error());
  const auto now = now_ms();
  std::vector<const desk::Case*> owed;
  // CaseFiles orders what we owe first: overdue, then urgent, then the earliest clock.
  for (const auto& item : context->files->cases()) {
    const bool finished = item.state == desk::CaseState::closed || item.state == desk::CaseState::withdrawn;
    if (item.owed_by_us && !item.answered_by_us && !finished) owed.push_back(&item);
  }
  if (global.json) {
    for (const auto* item : owed) std::cout << case_row_json(*context, *item, now) << "\n";
    return kExitOk;
  }
  if (owed.empty()) {
    std::cout << context->tr(N_("Nothing owed: no open request waits for us.")) << "\n";
    return kExitOk;
  }
  CaseTable table({context->tr(N_("Case")), context->tr(N_("From")), context->tr(N_("Priority")),
               context->tr(N_("Status")), context->tr(N_("Due at")), context->tr(N_("message id"))});
  for (const auto* item : owed) {
    std::string due = due_of(*item);
    if (item->overdue(now)) due += " (" + context->tr(N_("overdue")) + ")";
    table.add({reference_of(*item), from_of(*item->request),
               context->tr(item->urgent ? N_("Urgent") : N_("Routine")), case_state_text(context->text, *item), due,
               item->request->opened.message_id.hex()});
  }
  std::cout << table.str();
  std::cout << context->tr(N_("Clocks are the exchange's defaults: acknowledge within 3 days (urgent: 8 hours), "
                              "answer within 30 days (urgent: 3 days)."))
            << "\n";
  return kExitOk;
}

// "2026-12-07" -> Unix ms at 00:00 UTC that day (plus `days`).
std::optional<std::int64_t> day_start_ms(const std::string& text, int days) {
  capnp::MallocMessageBuilder scratch;
  auto date = scratch.initRoot<wire::Date>();
  if (!parse_date(text, date)) return std::nullopt;
  const std::chrono::year_month_day day{std::chrono::year(date.getYear()), std::chrono::month(date.getMonth()),
                                        std::chrono::day(date.getDay())};
  if (!day.ok()) return std::nullopt;
  const auto start = std::chrono::sys_days(day) + std::chrono::days(days);
  return std::chrono::duration_cast<std::chrono::milliseconds>(start.time_since_epoch()).count();
}

int run_search(const GlobalOptions& global, const std::string& language, const CaseSearchOptions& options) {
  auto context = load_context(global, language);
  if (!context) return usage_failure(global, context.error());
  desk::CaseQuery query;
  query.serial = options.serial;
  query.manufacturer = options.manufacturer;
  query.case_reference = options.case_reference;
  query.state = options.state;
  if (!options.status.empty()) {
    query.status = desk::parse_case_state(options.status);
    if (!query.status) {
      return report_failure(global, kExitUsage,
                            make_error(ErrorCode::invalid_argument,
                                       "--status '" + options.status +
                                           "' is not known; use one of: awaiting-acknowledgement, acknowledged, "
                                           "interim, answered, withdrawn, closed"));
    }
  }
  for (const auto& [flag, value, days, out] :
       {std::tuple{"--from", &options.from, 0, &query.from_ms}, std::tuple{"--until", &options.until, 1, &query.until_ms}}) {
    if (value->empty()) continue;
    auto ms = day_start_ms(*value, days);
    if (!ms) {
      return report_failure(global, kExitUsage,
                            make_error(ErrorCode::invalid_argument,
                                       std::string(flag) + " '" + *value + "' is not a date: write YYYY-MM-DD"));
    }
    *out = *ms;
  }
  const auto found = desk::search_cases(*context->files, query);
  const auto now = now_ms();
  if (global.json) {
    for (const auto* item : found) std::cout << case_row_json(*context, *item, now) << "\n";
    return kExitOk;
  }
  if (found.empty()) {
    std::cout << context->tr(N_("No case matches the search.")) << "\n";
    return kExitOk;
  }
  CaseTable table({context->tr(N_("Case")), context->tr(N_("Received")), context->tr(N_("From")),
               context->tr(N_("Requested states")), context->tr(N_("Serial number")), context->tr(N_("Status")),
               context->tr(N_("message id"))});
  for (const auto* item : found) {
    const auto request = item->request->opened.message.body().getTracingRequest();
    std::string states;
    for (auto state : request.getRequestedStates()) states += (states.empty() ? "" : ",") + std::string(state.getCountry().cStr());
    std::string serials;
    for (auto firearm : request.getFirearms()) {
      serials += (serials.empty() ? "" : ", ") + std::string(firearm.getSerialNumber().cStr()) + " " +
                 firearm.getManufacturer().cStr();
    }
    table.add({reference_of(*item), date_time_text(item->request->opened.created_at_ms), from_of(*item->request),
               states, serials, case_state_text(context->text, *item), item->request->opened.message_id.hex()});
  }
  std::cout << table.str();
  return kExitOk;
}

int run_step(const GlobalOptions& global, const std::string& language, CaseStep step, const CaseStepOptions& options) {
  auto context = load_context(global, language);
  if (!context) return usage_failure(global, context.error());
  auto found = find_case(*context, options.id);
  if (!found) return usage_failure(global, found.error());
  const auto& request = (*found)->request->opened;
  desk::Form form;
  form.emplace("toCountry", options.to_country);
  form.emplace("reason", options.reason);
  form.emplace("note", options.note);
  std::string fields;
  for (const auto& field : options.fields) fields += field + "\n";
  form.emplace("fields", fields);
  Draft draft;
  Status composed;
  std::string source;
  switch (step) {
    case CaseStep::forward:
      composed = desk::compose_forward(form, request, draft);
      source = "the forward built from the options";
      break;
    case CaseStep::supply:
      composed = desk::compose_information_supplied(form, request, draft);
      source = "the information supplied built from the options";
      break;
    case CaseStep::withdraw:
      composed = desk::compose_withdraw(form, request, draft);
      source = "the withdrawal built from the options";
      break;
    case CaseStep::close:
      composed = desk::compose_close(form, request, draft);
      source = "the closing built from the options";
      break;
  }
  if (!composed) return report_failure(global, kExitUsage, composed.error());
  return seal_and_send(global, context->profile, std::move(*context->identity), draft, options.dry_run, source);
}

std::string duplicate_text(const desk::DuplicateMatch& match) {
  const std::string reference = match.case_reference.empty() ? "" : " (" + match.case_reference + ")";
  if (match.reason == DuplicateReason::same_firearm) {
    return "a request for the same firearm (" + match.detail + ") to " + match.state +
           " is already open from your state: " + match.open_request.hex() + reference;
  }
  return "an open request of your state carries the same reference to another channel (" + match.detail +
         "): " + match.open_request.hex() + reference;
}

}  // namespace

std::optional<int> check_duplicates(const GlobalOptions& global, const Profile& profile, const ParticipantInfo& me,
                                    const Draft& draft, DuplicatePolicy policy) {
  auto body = draft.body.asReader();
  if (body.which() != wire::Body::TRACING_REQUEST) return std::nullopt;
  auto files = desk::CaseFiles::load(profile, me);
  if (!files) {
    std::cerr << "warning: the duplicate check could not read this profile's cases (" << files.error().describe()
              << "); the broker checks again at the door\n";
    return std::nullopt;
  }
  const auto request = body.getTracingRequest();
  const auto matches =
      desk::find_duplicates(*files, request.getRequestingCountry().cStr(), draft.header.asReader(), request);
  if (matches.empty()) return std::nullopt;
  std::string message;
  for (const auto& match : matches) message += (message.empty() ? "" : "; ") + duplicate_text(match);
  if (policy == DuplicatePolicy::send_anyway) {
    std::cerr << "warning: " << message << "; sending anyway (--force)\n";
    return std::nullopt;
  }
  if (policy == DuplicatePolicy::warn_only) {
    std::cerr << "warning: " << message << "; without --force, fpx trace submit will not send it\n";
    return std::nullopt;
  }
  return report_failure(global, kExitUsage, make_error(ErrorCode::invalid_argument, "nothing was sent: " + message),
                        "follow the open request up with `fpx trace show " + matches.front().open_request.hex() +
                            "`, or send this one anyway with --force");
}

CaseCommands::CaseCommands(CLI::App& trace, const GlobalOptions& global) : global_(global) {
  const auto add_lang = [this](CLI::App* command) {
    command->add_option("--lang", language_, N_("fr or en (default: the profile's [user] language, else LANG)"));
  };
  show_ = trace.add_subcommand("show", N_("a case, readable: the request and its whole thread, codes in words"));
  show_->add_option("ID", show_id_, N_("the request's message id, or a unique prefix or suffix"))->required();
  add_lang(show_);

  owed_ = trace.add_subcommand("owed", N_("what we owe: open requests to answer, overdue and urgent first"));
  add_lang(owed_);

  forward_command_ = trace.add_subcommand(
      "forward", N_("pass a received request on to another state (refused by the broker for an H2 request)"));
  forward_command_->add_option("ID", forward_.id, N_("the request's message id, or a unique prefix or suffix"))->required();
  forward_command_->add_option("--to", forward_.to_country, N_("the state to forward to, ISO code, e.g. BF"))->required();
  forward_command_->add_option("--reason", forward_.reason, N_("why that state (required)"))->required();
  forward_command_->add_flag("--dry-run", forward_.dry_run, N_("validate and show, send nothing"));
  add_lang(forward_command_);

  supply_command_ = trace.add_subcommand(
      "supply", N_("information supplied: answer \"more information needed\" on a request you sent"));
  supply_command_->add_option("ID", supply_.id, N_("the request's message id, or a unique prefix or suffix"))->required();
  supply_command_->add_option("--field", supply_.fields,
                              N_("a supplied field as PATH=VALUE, the path as the acknowledgement listed it "
                              "(e.g. firearms[0].calibre=7.62x39mm); repeatable"));
  supply_command_->add_option("--note", supply_.note, N_("free text"));
  supply_command_->add_flag("--dry-run", supply_.dry_run, N_("validate and show, send nothing"));
  add_lang(supply_command_);

  withdraw_command_ = trace.add_subcommand("withdraw", N_("withdraw a request you sent (it is no longer needed)"));
  withdraw_command_->add_option("ID", withdraw_.id, N_("the request's message id, or a unique prefix or suffix"))->required();
  withdraw_command_->add_option("--reason", withdraw_.reason, N_("why (required)"))->required();
  withdraw_command_->add_flag("--dry-run", withdraw_.dry_run, N_("validate and show, send nothing"));
  add_lang(withdraw_command_);

  close_command_ = trace.add_subcommand("close", N_("close a request you sent, once answered"));
  close_command_->add_option("ID", close_.id, N_("the request's message id, or a unique prefix or suffix"))->required();
  close_command_->add_option("--reason", close_.reason, N_("e.g. answer received (required)"))->required();
  close_command_->add_flag("--dry-run", close_.dry_run, N_("validate and show, send nothing"));
  add_lang(close_command_);

  search_command_ = trace.add_subcommand(
      "search", N_("search the saved requests (inbox/ and sent/); every criterion given must hold"));
  search_command_->add_option("--serial", search_.serial, N_("serial number, or part of it (case, spaces and dashes ignored)"));
  search_command_->add_option("--manufacturer", search_.manufacturer, N_("manufacturer, or part of it"));
  search_command_->add_option("--case-reference", search_.case_reference, N_("case reference, or part of it"));
  search_command_->add_option("--state", search_.state, N_("a requesting or requested state, ISO code"));
  search_command_->add_option("--status", search_.status,
                              N_("awaiting-acknowledgement, acknowledged, interim, answered, withdrawn or closed"));
  search_command_->add_option("--from", search_.from, N_("requests made on or after this day, YYYY-MM-DD (UTC)"));
  search_command_->add_option("--until", search_.until, N_("requests made on or before this day, YYYY-MM-DD (UTC)"));
  add_lang(search_command_);

  // Issue 17: one attachment of a saved message, checked against its signed hash.
  attachment_command_ = trace.add_subcommand(
      "attachment", N_("save an attachment of a saved message, after checking it against the SHA-256 its sender signed"));
  attachment_command_->add_option("ID", attachment_.id, N_("the message's id, or a unique prefix or suffix"))->required();
  attachment_command_->add_option("N", attachment_.number, N_("which attachment, from 1, as `fpx trace show` lists them"))
      ->required();
  attachment_command_->add_option("--out", attachment_.out,
                                  N_("where to save it (default: its file name, in the current folder)"));
  attachment_command_->add_flag("--overwrite", attachment_.overwrite, N_("replace --out if it exists"));
  add_lang(attachment_command_);
}

std::optional<int> CaseCommands::run_parsed() const {
  if (show_->parsed()) return run_show(global_, language_, show_id_);
  if (owed_->parsed()) return run_owed(global_, language_);
  if (forward_command_->parsed()) return run_step(global_, language_, CaseStep::forward, forward_);
  if (supply_command_->parsed()) return run_step(global_, language_, CaseStep::supply, supply_);
  if (withdraw_command_->parsed()) return run_step(global_, language_, CaseStep::withdraw, withdraw_);
  if (close_command_->parsed()) return run_step(global_, language_, CaseStep::close, close_);
  if (search_command_->parsed()) return run_search(global_, language_, search_);
  if (attachment_command_->parsed()) return run_attachment(global_, language_, attachment_);
  return std::nullopt;
}

}  // namespace fpx::cli
