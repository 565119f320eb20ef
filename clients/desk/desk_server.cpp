#include "desk_server.hpp"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <mutex>
#include <optional>

#include <capnp/message.h>

#include "case_files.hpp"
#include "case_search.hpp"
#include "compose.hpp"
#include "desk_import.hpp"
#include "fpx/crypto.hpp"
#include "fpx/signed_note.hpp"
#include "pages.hpp"

namespace fpx::desk {

namespace embedded {
extern const unsigned char desk_css[];
extern const std::size_t desk_css_size;
extern const unsigned char desk_js[];
extern const std::size_t desk_js_size;
}  // namespace embedded

namespace {

// Marks an English text for the catalogue (xgettext --keyword=N_); translated where shown.
constexpr const char* N_(const char* english) { return english; }

// Debian builds cpp-httplib as a shared library: its compiled-in form limit
// is the desk's body limit, so no form is cut short below ours.
static_assert(CPPHTTPLIB_FORM_URL_ENCODED_PAYLOAD_MAX_LENGTH == kMaxRequestBodyBytes);

constexpr const char* kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
constexpr std::size_t kTokenBytes = 32;

std::string random_token() {
  std::array<std::uint8_t, kTokenBytes> bytes{};
  random_bytes(bytes);
  return to_hex(ByteView(bytes.data(), bytes.size()));
}

// Compares secrets without stopping at the first difference, so response
// times do not reveal how much of a guessed token was right.
bool same_secret(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char difference = 0;
  for (std::size_t i = 0; i < a.size(); ++i) difference |= static_cast<unsigned char>(a[i] ^ b[i]);
  return difference == 0;
}

// The value of cookie `name` in a Cookie header ("a=1; b=2").
std::string cookie_value(const std::string& header, const std::string& name) {
  std::size_t at = 0;
  while (at < header.size()) {
    while (at < header.size() && (header[at] == ' ' || header[at] == ';')) ++at;
    const auto end = header.find(';', at);
    const auto item = header.substr(at, end == std::string::npos ? std::string::npos : end - at);
    const auto equals = item.find('=');
    if (equals != std::string::npos && item.substr(0, equals) == name) return item.substr(equals + 1);
    if (end == std::string::npos) break;
    at = end + 1;
  }
  return {};
}

std::optional<MessageId> parse_id(const std::string& hex) {
  auto bytes = from_hex(hex);
  if (!bytes) return std::nullopt;
  return MessageId::from_bytes(ByteView(bytes->data(), bytes->size()));
}

// The form's text fields, url-encoded or multipart (the new-request form,
// which carries attachments: cpp-httplib gives its text fields as "files"
// without a file name).
Form form_of(const httplib::Request& request) {
  Form form;
  for (const auto& [key, value] : request.params) form.emplace(key, value);
  for (const auto& [key, part] : request.files) {
    if (part.filename.empty()) form.emplace(key, part.content);
  }
  return form;
}

// The text fields of a multipart form, in bytes: held to the url-encoded
// limit, so the larger body of the new-request form is for files only.
std::size_t multipart_text_bytes(const httplib::Request& request) {
  std::size_t bytes = 0;
  for (const auto& [key, part] : request.files) {
    if (part.filename.empty()) bytes += key.size() + part.content.size();
  }
  return bytes;
}

// The attachment at `/attachment/<id>/<n>`: the Content-Type its sender
// signed (checked against its bytes by open()), and a policy that forbids
// everything a document could run: a file opened on its own can neither
// execute script nor be read as HTML.
constexpr const char* kAttachmentSecurityPolicy = "default-src 'none'; sandbox";

// The checked file the import's confirmation carries back as base64
// (pages.cpp, kCheckedCsvField), decoded with the project's one base64
// codec in pieces: one call of it takes at most a signed note's size
// (kMaxSignedNoteBytes), the file up to kMaxImportBase64Bytes. Strict as
// that codec: the one canonical encoding, padding only at the very end.
std::optional<std::string> decode_checked_csv(std::string_view text) {
  constexpr std::size_t kPieceChars = 48 * 1024;  // whole groups of 4, under kMaxSignedNoteBytes
  static_assert(kPieceChars % 4 == 0 && kPieceChars <= kMaxSignedNoteBytes);
  if (text.empty() || text.size() % 4 != 0 || text.size() > kMaxImportBase64Bytes) return std::nullopt;
  if (const auto padding = text.find('='); padding != std::string_view::npos && padding < text.size() - 2) {
    return std::nullopt;
  }
  std::string csv;
  csv.reserve(text.size() / 4 * 3);
  for (std::size_t at = 0; at < text.size(); at += kPieceChars) {
    auto piece = note_base64_decode(text.substr(at, kPieceChars));
    if (!piece) return std::nullopt;
    csv.append(piece->begin(), piece->end());
  }
  return csv;
}

}  // namespace

struct DeskServer::Impl {
  DeskSession& session;
  DeskOptions options;
  text::Catalogue text;
  httplib::Server server;
  int port = 0;
  std::string login_token = random_token();
  std::string cookie_name;

  std::mutex sessions_mutex;
  struct BrowserSession {
    std::string id;
    std::string csrf;
  };
  std::deque<BrowserSession> sessions;
  std::atomic<int> event_streams{0};
  std::atomic<std::size_t> imports_running{0};  // kMaxConcurrentImports

  Impl(DeskSession& s, const DeskOptions& o) : session(s), options(o), text(o.language) {}

  PageContext context(const std::string& csrf) const {
    return PageContext{text, session.participant(), csrf, session.connected()};
  }

  // The CSRF token of the request's browser session; nullopt without a valid cookie.
  std::optional<std::string> csrf_of(const httplib::Request& request) {
    const auto id = cookie_value(request.get_header_value("Cookie"), cookie_name);
    if (id.empty()) return std::nullopt;
    std::lock_guard lock(sessions_mutex);
    for (const auto& browser : sessions) {
      if (same_secret(browser.id, id)) return browser.csrf;
    }
    return std::nullopt;
  }

  void html(httplib::Response& response, int status, const std::string& page) {
    response.status = status;
    response.set_content(page, "text/html; charset=utf-8");
  }

  void refuse(httplib::Response& response, int status, const char* title, const char* message) {
    response.set_header("Connection", "close");  // an unread body must not be read as the next request
    html(response, status, notice_page(context({}), text.tr(title), text.tr(message)));
  }

  bool host_allowed(const httplib::Request& request) const {
    const auto host = request.get_header_value("Host");
    const auto suffix = ":" + std::to_string(port);
    return host == "127.0.0.1" + suffix || host == "localhost" + suffix;
  }

  bool origin_allowed(const httplib::Request& request) const {
    const auto origin = request.get_header_value("Origin");
    const auto suffix = ":" + std::to_string(port);
    if (!origin.empty() && origin != "http://127.0.0.1" + suffix && origin != "http://localhost" + suffix) return false;
    const auto site = request.get_header_value("Sec-Fetch-Site");
    return site.empty() || site == "same-origin" || site == "none";
  }

  httplib::Server::HandlerResponse guard(const httplib::Request& request, httplib::Response& response) {
    using Handled = httplib::Server::HandlerResponse;
    if (!host_allowed(request)) {
      refuse(response, 421, N_("Wrong address"),
             N_("This desk answers only at 127.0.0.1 or localhost with its port: open the URL fpx desk printed."));
      return Handled::Handled;
    }
    // Each route's body limit (body_limit_of), refused from its
    // Content-Length before the body is read. A browser sends every form
    // with a Content-Length, so a chunked body (whose size is known only
    // once read) is refused on every route.
    if (request.get_header_value<std::uint64_t>("Content-Length") > body_limit_of(request) ||
        request.has_header("Transfer-Encoding")) {
      response.set_header("Connection", "close");
      if (import_form(request) && csrf_of(request)) {
        // The officer's own page, in the officer's language (issue 17).
        refuse_import(request, response, 413, make_error(ErrorCode::too_large, import_too_large_message()));
        return Handled::Handled;
      }
      response.status = 413;
      response.set_content("the request is larger than the desk accepts (8 KiB): shorten the longest texts and send again",
                           "text/plain; charset=utf-8");
      return Handled::Handled;
    }
    if (request.path == "/login") return Handled::Unhandled;
    if (!csrf_of(request)) {
      refuse(response, 401, N_("Not signed in"),
             N_("Open the URL that fpx desk printed when it started (it holds a secret token), or restart fpx desk."));
      return Handled::Handled;
    }
    if (request.method == "POST" && !origin_allowed(request)) {
      refuse(response, 403, N_("Refused"), N_("A form from another site may not act on this desk: use the desk's own pages."));
      return Handled::Handled;
    }
    if (request.method != "GET" && request.method != "POST") {
      refuse(response, 405, N_("Refused"), N_("The desk only serves its pages and forms."));
      return Handled::Handled;
    }
    return Handled::Unhandled;
  }

  static bool import_form(const httplib::Request& request) {
    return request.method == "POST" && request.path == "/import";
  }

  // Only the new-request form (its attachments) and the import page (its
  // CSV, desk_import.hpp) may carry more than kMaxRequestBodyBytes.
  static std::uint64_t body_limit_of(const httplib::Request& request) {
    if (request.method == "POST" && request.path == "/new") return kMaxNewRequestBodyBytes;
    if (import_form(request)) return kMaxImportBodyBytes;
    return kMaxRequestBodyBytes;
  }

  std::string import_too_large_message() const {
    std::string message(text.tr(N_("The file is larger than the desk imports at once ({1} KiB, {2} lines of firearms): "
                                    "split it into files of at most {2} lines and import each one.")));
    const std::string kib = std::to_string(cli::kMaxImportBytes / 1024);
    const std::string lines = std::to_string(cli::kMaxImportLines);
    for (auto at = message.find("{1}"); at != std::string::npos; at = message.find("{1}")) message.replace(at, 3, kib);
    for (auto at = message.find("{2}"); at != std::string::npos; at = message.find("{2}")) message.replace(at, 3, lines);
    return message;
  }

  // The import page again, with the reason the file as a whole was refused.
  void refuse_import(const httplib::Request& request, httplib::Response& response, int status, const Error& error) {
    ImportView view;
    view.error = &error;
    html(response, status, import_page(context(csrf_of(request).value_or("")), view));
  }

  // A POST without the session's CSRF token is refused: true if refused.
  bool csrf_refused(const httplib::Request& request, httplib::Response& response) {
    const auto expected = csrf_of(request);
    const auto given = request.has_param("csrf")  ? request.get_param_value("csrf")
                       : request.has_file("csrf") ? request.get_file_value("csrf").content
                                                  : std::string();
    if (expected && !given.empty() && same_secret(*expected, given)) return false;
    refuse(response, 403, N_("Refused"),
           N_("The form's security token is missing or out of date: reload the page and send the form again."));
    return true;
  }

  void login(const httplib::Request& request, httplib::Response& response) {
    const auto token = request.has_param("token") ? request.get_param_value("token") : std::string();
    if (!same_secret(token, login_token)) {
      refuse(response, 401, N_("Not signed in"),
             N_("Open the URL that fpx desk printed when it started (it holds a secret token), or restart fpx desk."));
      return;
    }
    BrowserSession browser{random_token(), random_token()};
    {
      std::lock_guard lock(sessions_mutex);
      if (sessions.size() >= kMaxSessions) sessions.pop_front();
      sessions.push_back(browser);
    }
    response.set_header("Set-Cookie", cookie_name + "=" + browser.id + "; Path=/; HttpOnly; SameSite=Strict");
    response.set_redirect("/", 303);
  }

  Result<CaseFiles> cases() { return CaseFiles::load(session.profile(), session.participant()); }

  void inbox(const httplib::Request& request, httplib::Response& response) {
    auto files = cases();
    if (!files) {
      html(response, 500, notice_page(context(csrf_of(request).value_or("")), text.tr("Error"), files.error().describe()));
      return;
    }
    html(response, 200, inbox_page(context(csrf_of(request).value_or("")), *files));
  }

  void show_case(const httplib::Request& request, httplib::Response& response, const FormResult& result, int status) {
    const auto csrf = csrf_of(request).value_or("");
    const auto id = parse_id(request.matches[1]);
    auto files = cases();
    if (!files) {
      html(response, 500, notice_page(context(csrf), text.tr("Error"), files.error().describe()));
      return;
    }
    const Case* item = id ? files->find(*id) : nullptr;
    if (item == nullptr) {
      html(response, 404,
           notice_page(context(csrf), text.tr("Not found"),
                       text.tr("No case with this id in this profile: open it from the inbox.")));
      return;
    }
    FormResult shown = result;
    if (shown.notice.empty() && request.has_param("done")) shown.notice = text.tr("Sent: the exchange stored it and signed a receipt.");
    html(response, status, case_page(context(csrf), *item, shown));
  }

  enum class Reply { acknowledge, respond, forward, supply, withdraw, close };

  void reply(const httplib::Request& request, httplib::Response& response, Reply kind) {
    if (csrf_refused(request, response)) return;
    const auto csrf = csrf_of(request).value_or("");
    const auto id = parse_id(request.matches[1]);
    auto files = cases();
    const Case* item = files && id ? files->find(*id) : nullptr;
    if (item == nullptr) {
      html(response, 404,
           notice_page(context(csrf), text.tr("Not found"),
                       text.tr("No case with this id in this profile: open it from the inbox.")));
      return;
    }
    const Form form = form_of(request);
    cli::Draft draft;
    Status composed;
    const char* name = "close";
    switch (kind) {
      case Reply::acknowledge:
        name = "ack";
        composed = compose_acknowledgement(form, item->request->opened, item->request->saved_at_ms,
                                           session.participant(), draft);
        break;
      case Reply::respond:
        name = "respond";
        composed = compose_response(form, item->request->opened, draft);
        break;
      case Reply::forward:
        name = "forward";
        composed = compose_forward(form, item->request->opened, draft);
        break;
      case Reply::supply:
        name = "supply";
        composed = compose_information_supplied(form, item->request->opened, draft);
        break;
      case Reply::withdraw:
        name = "withdraw";
        composed = compose_withdraw(form, item->request->opened, draft);
        break;
      case Reply::close: composed = compose_close(form, item->request->opened, draft); break;
    }
    Error error;
    if (!composed) {
      error = composed.error();
    } else {
      auto outcome = session.send(draft);
      if (outcome.accepted) {
        // A marker per form, so a script (or test) waiting for this page tells two sends apart.
        response.set_redirect("/case/" + id->hex() + "?done=" + name, 303);
        return;
      }
      error = outcome.error;
    }
    show_case(request, response, FormResult{name, &form, &error, {}}, 422);
  }

  // The files of the new-request form (issue 17), checked as `fpx trace
  // submit --attach` checks them: the type from the bytes' magic, never from
  // the browser's Content-Type or the name; the size and count limits of
  // the exchange. The browser checked the same; a script need not have.
  Result<std::vector<AttachmentFile>> attachments_of_form(const httplib::Request& request) {
    const std::string over_limit(
        text.tr("An attachment may hold at most 512 KiB, and all of them together 768 KiB, in at most 8 files."));
    const std::string wrong_type(text.tr("Only JPEG, PNG and PDF files may be attached."));
    std::vector<AttachmentFile> files;
    std::size_t total = 0;
    const auto range = request.files.equal_range("attachments");
    for (auto part = range.first; part != range.second; ++part) {
      if (part->second.filename.empty() && part->second.content.empty()) continue;  // no file chosen
      if (files.size() == kMaxAttachments) {
        return make_error(ErrorCode::too_large, over_limit);
      }
      const auto& content = part->second.content;
      total += content.size();
      auto file = make_attachment(part->second.filename, Bytes(content.begin(), content.end()));
      if (!file) {
        Error error = std::move(file).take_error();
        error.message = error.code == ErrorCode::too_large ? over_limit : wrong_type;
        error.field_errors.push_back({"attachments", part->second.filename});
        return error;
      }
      files.push_back(std::move(file).value());
    }
    if (total > kMaxAttachmentBytesPerMessage) {
      return make_error(ErrorCode::too_large, over_limit);
    }
    return files;
  }

  void new_request(const httplib::Request& request, httplib::Response& response) {
    if (multipart_text_bytes(request) > kMaxRequestBodyBytes) {
      response.set_header("Connection", "close");
      response.status = 413;
      response.set_content("the request is larger than the desk accepts (8 KiB): shorten the longest texts and send again",
                           "text/plain; charset=utf-8");
      return;
    }
    if (csrf_refused(request, response)) return;
    const auto csrf = csrf_of(request).value_or("");
    const Form form = form_of(request);
    cli::Draft draft;
    Error error;
    auto attachments = attachments_of_form(request);
    if (!attachments) {
      error = attachments.error();
    } else if (auto composed = compose_request(form, session.participant(), draft); !composed) {
      error = composed.error();
    } else if (auto duplicate = duplicate_warning(draft); duplicate && form_value(form, "force") != "1") {
      error = std::move(*duplicate);
    } else {
      auto outcome = session.send(draft, *attachments);
      if (outcome.accepted && outcome.message_id) {
        response.set_redirect("/case/" + outcome.message_id->hex() + "?done=new", 303);
        return;
      }
      error = outcome.error;
    }
    html(response, 422, new_request_page(context(csrf), form, &error));
  }

  // Issue 17, bulk import (desk_import.hpp): a multipart form, whose fields
  // cpp-httplib gives as files, so the CSRF token is read there. Its body
  // may reach kMaxImportBodyBytes (guard()); its text fields other than the
  // CSV keep the limit of any form.
  void import_file(const httplib::Request& request, httplib::Response& response) {
    std::size_t text_bytes = 0;
    for (const auto& [key, part] : request.files) {
      if (key != "csv" && key != kCheckedCsvField) text_bytes += key.size() + part.content.size();
    }
    if (text_bytes > kMaxRequestBodyBytes) {
      response.set_header("Connection", "close");
      response.status = 413;
      response.set_content("the request is larger than the desk accepts (8 KiB): shorten the longest texts and send again",
                           "text/plain; charset=utf-8");
      return;
    }
    const auto expected = csrf_of(request);
    const auto part = [&](const char* name) {
      return request.has_file(name) ? request.get_file_value(name).content : std::string();
    };
    const auto given = part("csrf");
    if (!expected || given.empty() || !same_secret(*expected, given)) {
      refuse(response, 403, N_("Refused"),
             N_("The form's security token is missing or out of date: reload the page and send the form again."));
      return;
    }
    if (imports_running.fetch_add(1) >= kMaxConcurrentImports) {
      imports_running.fetch_sub(1);
      refuse_import(request, response, 503,
                    make_error(ErrorCode::unavailable,
                               std::string(text.tr(N_("Another import is being checked or sent on this desk: wait "
                                                      "until it ends, then send the file again.")))));
      return;
    }
    struct Release {
      std::atomic<std::size_t>& running;
      ~Release() { running.fetch_sub(1); }
    } release{imports_running};
    // The confirmation carries the checked file back as base64, byte for
    // byte (pages.cpp, import_confirmation); an upload carries it as a file.
    std::string csv = part("csv");
    if (request.has_file(kCheckedCsvField)) {
      auto decoded = decode_checked_csv(part(kCheckedCsvField));
      if (!decoded || request.has_file("csv")) {
        refuse_import(request, response, 422,
                      make_error(ErrorCode::malformed,
                                 std::string(text.tr(N_("The checked file came back damaged, so nothing was sent: "
                                                        "choose the file again and check it again.")))));
        return;
      }
      csv = std::move(*decoded);
    }
    const auto reply = import_csv(context(*expected), session, csv,
                                  part("action") == "send" ? ImportAction::send : ImportAction::check,
                                  part("force") == "1" ? cli::ImportDuplicates::send_anyway : cli::ImportDuplicates::refuse);
    html(response, reply.status, reply.page);
  }

  // The same check as `fpx trace submit` (case_search.hpp): a request that
  // repeats an open one of our own state is not sent until the officer ticks
  // "send anyway". The warning names the open request and links to it.
  std::optional<Error> duplicate_warning(const cli::Draft& draft) {
    auto files = cases();
    if (!files) return std::nullopt;  // the broker checks again at the door
    const auto request = draft.body.asReader().getTracingRequest();
    const auto matches =
        find_duplicates(*files, request.getRequestingCountry().cStr(), draft.header.asReader(), request);
    if (matches.empty()) return std::nullopt;
    Error error{ErrorCode::invalid_argument, std::string(text.tr("A request for the same firearm or the same reference is already open from our state: follow it up, or tick \"Send anyway\".")), {}};
    for (const auto& match : matches) {
      std::string line = std::string(match.reason == DuplicateReason::same_firearm ? text.tr("Same firearm")
                                                                                   : text.tr("Same reference in another channel")) +
                         " (" + match.detail + (match.state.empty() ? "" : ", " + match.state) + "): " +
                         (match.case_reference.empty() ? "" : match.case_reference + " ") +
                         match.open_request.hex();
      error.field_errors.push_back({"duplicate", line});
    }
    return error;
  }

  // GET /attachment/<message id>/<n>: one attachment of a saved message,
  // after checking its bytes against the signed size and SHA-256 once more.
  // Served with its signed type and nosniff (never guessed as HTML), a
  // sandboxing CSP, and as a download unless it is an image, so a PDF is
  // never rendered inside the desk's origin.
  void attachment(const httplib::Request& request, httplib::Response& response) {
    const auto csrf = csrf_of(request).value_or("");
    const auto id = parse_id(request.matches[1]);
    const auto number = static_cast<std::size_t>(std::stoul(std::string(request.matches[2])));
    auto files = cases();
    const CaseMessage* message = files && id ? files->find_message(*id) : nullptr;
    // Read again from the saved envelope and checked against the signed
    // size and SHA-256 (CaseFiles::attachment); anything else is a 404.
    auto bytes = message != nullptr ? files->attachment(*message, number) : Result<Bytes>(make_error(ErrorCode::not_found, ""));
    if (!bytes) {
      html(response, 404,
           notice_page(context(csrf), text.tr("Not found"),
                       text.tr("No such attachment in this profile: open the case from the inbox.")));
      return;
    }
    const auto entry = attachments_of(message->opened.message.header())[number - 1];
    const bool image = entry.media_type == wire::MediaType::IMAGE_JPEG || entry.media_type == wire::MediaType::IMAGE_PNG;
    // The name was sanitised before it was signed (A-Z a-z 0-9 . _ - ( )
    // and space), and open() refused any other: it cannot break the header.
    response.set_header("Content-Disposition",
                        std::string(image ? "inline" : "attachment") + "; filename=\"" + entry.file_name + "\"");
    // Replaces the pages' policy the server set by default (set_header would add a second one).
    response.headers.erase("Content-Security-Policy");
    response.set_header("Content-Security-Policy", kAttachmentSecurityPolicy);
    response.set_content(reinterpret_cast<const char*>(bytes->data()), bytes->size(),
                         std::string(media_type_name(entry.media_type)).c_str());
  }

  enum class AlertAction { view, cancel };

  // An alert's page; its cancel form posts here too.
  void show_alert(const httplib::Request& request, httplib::Response& response, AlertAction action) {
    const bool cancel = action == AlertAction::cancel;
    if (cancel && csrf_refused(request, response)) return;
    const auto csrf = csrf_of(request).value_or("");
    const auto id = parse_id(request.matches[1]);
    auto files = cases();
    const CaseMessage* alert = files && id ? files->find_message(*id) : nullptr;
    if (alert == nullptr || alert->opened.type != wire::MessageType::ALERT) {
      html(response, 404,
           notice_page(context(csrf), text.tr("Not found"),
                       text.tr("No alert with this id in this profile: open it from the inbox.")));
      return;
    }
    if (!cancel) {
      FormResult shown;
      if (request.has_param("done")) shown.notice = text.tr("Sent: the exchange stored it and signed a receipt.");
      html(response, 200, alert_page(context(csrf), *files, *alert, shown));
      return;
    }
    const Form form = form_of(request);
    cli::Draft draft;
    Error error;
    if (auto composed = compose_alert_cancel(form, alert->opened, draft); !composed) {
      error = composed.error();
    } else {
      auto outcome = session.send(draft);
      if (outcome.accepted) {
        response.set_redirect("/alert/" + id->hex() + "?done=cancel", 303);
        return;
      }
      error = outcome.error;
    }
    html(response, 422, alert_page(context(csrf), *files, *alert, FormResult{"cancel", &form, &error, {}}));
  }

  void new_alert(const httplib::Request& request, httplib::Response& response) {
    if (csrf_refused(request, response)) return;
    const auto csrf = csrf_of(request).value_or("");
    const Form form = form_of(request);
    cli::Draft draft;
    Error error;
    if (auto composed = compose_alert(form, draft); !composed) {
      error = composed.error();
    } else {
      auto outcome = session.send(draft);
      if (outcome.accepted && outcome.message_id) {
        response.set_redirect("/alert/" + outcome.message_id->hex() + "?done=alert", 303);
        return;
      }
      error = outcome.error;
    }
    html(response, 422, new_alert_page(context(csrf), form, &error));
  }

  void search(const httplib::Request& request, httplib::Response& response) {
    const auto csrf = csrf_of(request).value_or("");
    const Form form = form_of(request);
    if (form.empty()) {
      html(response, 200, search_page(context(csrf), form, nullptr));
      return;
    }
    auto files = cases();
    if (!files) {
      html(response, 500, notice_page(context(csrf), text.tr("Error"), files.error().describe()));
      return;
    }
    CaseQuery query;
    query.serial = form_value(form, "serial");
    query.manufacturer = form_value(form, "manufacturer");
    query.case_reference = form_value(form, "caseReference");
    query.state = form_value(form, "state");
    query.status = parse_case_state(form_value(form, "status"));
    query.from_ms = day_ms(form_value(form, "from"), 0);
    query.until_ms = day_ms(form_value(form, "until"), 1);
    const auto found = search_cases(*files, query);
    html(response, 200, search_page(context(csrf), form, &found));
  }

  // "2026-12-07" -> that day's 00:00 UTC (plus `days`) in Unix ms; 0 (no bound) for anything else.
  static std::int64_t day_ms(const std::string& text, int days) {
    capnp::MallocMessageBuilder scratch;
    auto date = scratch.initRoot<wire::Date>();
    if (!cli::parse_date(text, date)) return 0;
    const std::chrono::year_month_day day{std::chrono::year(date.getYear()), std::chrono::month(date.getMonth()),
                                          std::chrono::day(date.getDay())};
    if (!day.ok()) return 0;
    const auto start = std::chrono::sys_days(day) + std::chrono::days(days);
    return std::chrono::duration_cast<std::chrono::milliseconds>(start.time_since_epoch()).count();
  }

  void events(httplib::Response& response) {
    if (event_streams.fetch_add(1) >= kMaxEventStreams) {
      event_streams.fetch_sub(1);
      response.status = 503;
      response.set_content("too many live streams open: close other desk tabs", "text/plain; charset=utf-8");
      return;
    }
    auto seen = std::make_shared<std::uint64_t>(session.version());
    response.set_header("Cache-Control", "no-store");
    response.set_chunked_content_provider(
        "text/event-stream",
        [this, seen](std::size_t, httplib::DataSink& sink) {
          const auto now = session.wait_for_change(*seen, std::chrono::duration_cast<std::chrono::milliseconds>(kEventKeepAlive));
          std::string chunk;
          if (now != *seen) {
            *seen = now;
            chunk = "event: delivery\ndata: " + std::to_string(now) + "\n\n";
          } else {
            chunk = ": still here\n\n";
          }
          if (!server.is_running() || session.stopped()) return false;
          return sink.write(chunk.data(), chunk.size());
        },
        [this](bool) { event_streams.fetch_sub(1); });
  }

  void routes() {
    server.set_pre_routing_handler([this](const auto& request, auto& response) { return guard(request, response); });
    server.Get("/login", [this](const auto& request, auto& response) { login(request, response); });
    server.Get("/", [this](const auto& request, auto& response) { inbox(request, response); });
    server.Get("/new", [this](const auto& request, auto& response) {
      html(response, 200, new_request_page(context(csrf_of(request).value_or("")), Form{}, nullptr));
    });
    server.Post("/new", [this](const auto& request, auto& response) { new_request(request, response); });
    server.Get(R"(/case/([0-9a-f]{32}))",
               [this](const auto& request, auto& response) { show_case(request, response, FormResult{}, 200); });
    server.Post(R"(/case/([0-9a-f]{32})/ack)",
                [this](const auto& request, auto& response) { reply(request, response, Reply::acknowledge); });
    server.Post(R"(/case/([0-9a-f]{32})/respond)",
                [this](const auto& request, auto& response) { reply(request, response, Reply::respond); });
    server.Post(R"(/case/([0-9a-f]{32})/forward)",
                [this](const auto& request, auto& response) { reply(request, response, Reply::forward); });
    server.Post(R"(/case/([0-9a-f]{32})/supply)",
                [this](const auto& request, auto& response) { reply(request, response, Reply::supply); });
    server.Post(R"(/case/([0-9a-f]{32})/withdraw)",
                [this](const auto& request, auto& response) { reply(request, response, Reply::withdraw); });
    server.Get("/search", [this](const auto& request, auto& response) { search(request, response); });
    // Issue 17: at most two digits: kMaxAttachments is 8.
    server.Get(R"(/attachment/([0-9a-f]{32})/([1-9][0-9]?))",
               [this](const auto& request, auto& response) { attachment(request, response); });
    // Issue 17: bulk import of a CSV of seized firearms (desk_import.hpp).
    server.Get("/import", [this](const auto& request, auto& response) {
      html(response, 200, import_page(context(csrf_of(request).value_or("")), ImportView{}));
    });
    server.Post("/import", [this](const auto& request, auto& response) { import_file(request, response); });
    server.Get("/alerts/new", [this](const auto& request, auto& response) {
      html(response, 200, new_alert_page(context(csrf_of(request).value_or("")), Form{}, nullptr));
    });
    server.Post("/alerts/new", [this](const auto& request, auto& response) { new_alert(request, response); });
    server.Get(R"(/alert/([0-9a-f]{32}))",
               [this](const auto& request, auto& response) { show_alert(request, response, AlertAction::view); });
    server.Post(R"(/alert/([0-9a-f]{32})/cancel)",
                [this](const auto& request, auto& response) { show_alert(request, response, AlertAction::cancel); });
    server.Post(R"(/case/([0-9a-f]{32})/close)",
                [this](const auto& request, auto& response) { reply(request, response, Reply::close); });
    server.Get("/completeness", [this](const auto& request, auto& response) {
      response.set_content(completeness_json(text, form_of(request)), "application/json");
    });
    // Browsers ask for it on their own; nothing to serve, and no 404 in their console.
    server.Get("/favicon.ico", [](const auto&, auto& response) { response.status = 204; });
    server.Get("/events", [this](const auto&, auto& response) { events(response); });
    server.Get("/static/desk.css", [](const auto&, auto& response) {
      response.set_content(reinterpret_cast<const char*>(embedded::desk_css), embedded::desk_css_size, "text/css");
    });
    server.Get("/static/desk.js", [](const auto&, auto& response) {
      response.set_content(reinterpret_cast<const char*>(embedded::desk_js), embedded::desk_js_size,
                           "text/javascript");
    });
    // Every other path: 404 with a page (never a file by path).
    server.set_error_handler([this](const auto& request, auto& response) {
      if (response.status == 404 && response.body.empty()) {
        html(response, 404,
             notice_page(context(csrf_of(request).value_or("")), text.tr("Not found"),
                         text.tr("The desk has no such page: start from the inbox.")));
      } else if (response.status == 413 && response.body.empty()) {  // keeps the import page's own 413
        response.set_content("the request is larger than the desk accepts (8 KiB): shorten the longest texts and send again", "text/plain; charset=utf-8");
      }
    });
    server.set_default_headers({{"Content-Security-Policy", kContentSecurityPolicy},
                                {"X-Frame-Options", "DENY"},
                                {"X-Content-Type-Options", "nosniff"},
                                // Not no-referrer: Chromium then sends "Origin: null" with the desk's
                                // own form posts, which the Origin check must refuse.
                                {"Referrer-Policy", "same-origin"},
                                {"Cache-Control", "no-store"},
                                {"Cross-Origin-Opener-Policy", "same-origin"},
                                {"Cross-Origin-Resource-Policy", "same-origin"}});
    // The largest body of any route (issue 17: the import page's CSV, and
    // the new-request form's attachments below it); guard() holds each
    // route to its own limit (body_limit_of) before its body is read.
    static_assert(kMaxImportBodyBytes >= kMaxNewRequestBodyBytes);
    server.set_payload_max_length(kMaxImportBodyBytes);
    // cpp-httplib's API takes the pool as a raw pointer it owns and deletes.
    server.new_task_queue = [] { return new httplib::ThreadPool(kServerThreads); };
    server.set_read_timeout(kReadTimeoutSeconds, 0);
    server.set_keep_alive_max_count(kMaxKeepAliveRequests);
  }
};

DeskServer::DeskServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DeskServer::~DeskServer() = default;

Result<std::unique_ptr<DeskServer>> DeskServer::bind(DeskSession& session, const DeskOptions& options) {
  auto impl = std::make_unique<Impl>(session, options);
  impl->routes();
  if (options.port == 0) {
    impl->port = impl->server.bind_to_any_port("127.0.0.1");
    if (impl->port <= 0) return make_error(ErrorCode::unavailable, "no free port on 127.0.0.1: give one with --port");
  } else {
    if (!impl->server.bind_to_port("127.0.0.1", options.port)) {
      return make_error(ErrorCode::unavailable, "port " + std::to_string(options.port) +
                                                    " on 127.0.0.1 is taken: choose another with --port, or --port 0");
    }
    impl->port = options.port;
  }
  impl->cookie_name = "fpx_desk_" + std::to_string(impl->port);
  return std::unique_ptr<DeskServer>(new DeskServer(std::move(impl)));
}

int DeskServer::port() const { return impl_->port; }

std::string DeskServer::login_url() const {
  return "http://127.0.0.1:" + std::to_string(impl_->port) + "/login?token=" + impl_->login_token;
}

void DeskServer::serve() { impl_->server.listen_after_bind(); }
void DeskServer::stop() { impl_->server.stop(); }

}  // namespace fpx::desk
