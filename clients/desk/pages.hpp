// The desk's pages, rendered on the server as HTML (no inline script or
// style: the Content-Security-Policy allows only /static/desk.css and
// /static/desk.js). Every text from a message or a form is HTML-escaped.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "case_files.hpp"
#include "compose.hpp"
#include "desk_session.hpp"
#include "text.hpp"

namespace fpx::cli {
struct ImportCheck;  // import_check.hpp
}

namespace fpx::desk {

std::string html_escape(std::string_view text);

// What the case page shows, for the command line (fpx trace show): the same
// fields in the same translated words, as (term, value) lines without markup.
using Lines = std::vector<std::pair<std::string, std::string>>;
Lines header_lines(const text::Catalogue& text, wire::Header::Reader header);
Lines message_lines(const text::Catalogue& text, const CaseMessage& message);
std::string message_type_text(const text::Catalogue& text, wire::MessageType type);
std::string case_state_text(const text::Catalogue& text, const Case& item);
// "2026-12-07 14:05 UTC"; "-" for 0.
std::string date_time_text(std::int64_t ms);

struct PageContext {
  const text::Catalogue& text;
  const ParticipantInfo& me;
  std::string csrf;  // the session's token, in every form that changes state
  bool connected = true;
};

// Inbox and what we owe: every open request with its clocks, overdue and
// urgent first; our own requests; closed cases.
std::string inbox_page(const PageContext& context, const CaseFiles& files);

// What a case page shows after a form was sent.
struct FormResult {
  std::string form;  // "ack", "respond", "close": the form the result belongs to
  const Form* values = nullptr;
  const Error* error = nullptr;
  std::string notice;  // a success line
};
std::string case_page(const PageContext& context, const Case& item, const FormResult& result);

std::string new_request_page(const PageContext& context, const Form& values, const Error* error);
// An alert, readable, with its cancellation or (for an alert of our own
// state not yet cancelled) the form that cancels it.
std::string alert_page(const PageContext& context, const CaseFiles& files, const CaseMessage& alert,
                       const FormResult& result);
std::string new_alert_page(const PageContext& context, const Form& values, const Error* error);
// The search form and, once searched, the cases found (nullptr: not searched yet).
std::string search_page(const PageContext& context, const Form& values, const std::vector<const Case*>* found);
std::string sent_page(const PageContext& context, const SendOutcome& outcome, const std::string& case_link);

// The bulk import page (issue 17): the upload form and the documented
// columns; once a CSV was checked, each line's check (ready, or what is
// wrong with the column named) and, when sent, each line's message id or the
// exchange's refusal. `error` refuses the file as a whole.
struct ImportLineSent {
  std::string message_id;  // hex; empty: not sent
  std::string refusal;     // why the exchange refused the line
};
// The confirmation form's field holding the checked file as base64; POST
// /import reads it instead of an uploaded file part `csv`.
inline constexpr const char* kCheckedCsvField = "checked_csv_base64";
struct ImportView {
  const Error* error = nullptr;
  const std::vector<cli::ImportCheck>* checks = nullptr;
  std::vector<ImportLineSent> sent;  // per check when the lines were sent; empty when only checked
  // The file just checked, offered back (base64, in the hidden field
  // kCheckedCsvField) with a button that sends its ready lines: the officer
  // confirms exactly the drafts shown, byte for byte, without choosing the
  // file again. Empty: no such button.
  std::string_view checked_csv;
  bool send_anyway = false;  // the checked file's "send even when it repeats" box, carried to the confirmation
};
std::string import_page(const PageContext& context, const ImportView& view);

// A short page for errors (404, 403, ...): what happened, what to do next.
std::string notice_page(const PageContext& context, std::string_view title, std::string_view message);

// {"score": 70, "missing": ["Calibre or gauge", ...]} for the firearm in the
// query's firearms[0].* fields: the identifier-completeness feedback shown while typing.
std::string completeness_json(const text::Catalogue& text, const Form& firearm_fields);

}  // namespace fpx::desk
