#include "render.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <iostream>

#include "cli.hpp"
#include "language.hpp"
#include "text.hpp"

namespace fpx::cli {

std::string format_utc(std::int64_t ms) {
  if (ms == 0) return "-";
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  if (gmtime_r(&seconds, &utc) == nullptr) return std::to_string(ms);
  std::array<char, 32> buffer{};
  std::strftime(buffer.data(), buffer.size(), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer.data();
}

std::string json_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          std::array<char, 8> escaped{};
          std::snprintf(escaped.data(), escaped.size(), "\\u%04x", static_cast<unsigned>(c));
          out += escaped.data();
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string json_quote(std::string_view text) {
  std::string out = "\"";
  out += json_escape(text);
  out += '"';
  return out;
}

void JsonObject::key(std::string_view name) {
  if (!body_.empty()) body_ += ",";
  body_ += json_quote(name);
  body_ += ':';
}

JsonObject& JsonObject::text(std::string_view name, std::string_view value) {
  key(name);
  body_ += json_quote(value);
  return *this;
}

JsonObject& JsonObject::number(std::string_view name, std::int64_t value) {
  key(name);
  body_ += std::to_string(value);
  return *this;
}

JsonObject& JsonObject::unsigned_number(std::string_view name, std::uint64_t value) {
  key(name);
  body_ += std::to_string(value);
  return *this;
}

JsonObject& JsonObject::boolean(std::string_view name, bool value) {
  key(name);
  body_ += value ? "true" : "false";
  return *this;
}

JsonObject& JsonObject::raw(std::string_view name, std::string_view json) {
  key(name);
  body_ += json;
  return *this;
}

std::string json_array(const std::vector<std::string>& json_values) {
  std::string out = "[";
  for (std::size_t i = 0; i < json_values.size(); ++i) {
    if (i != 0) out += ",";
    out += json_values[i];
  }
  return out + "]";
}

std::string json_error(const Error& error) {
  std::vector<std::string> fields;
  for (const auto& field : error.field_errors) {
    fields.push_back(JsonObject().text("path", field.path).text("message", field.message).str());
  }
  return JsonObject()
      .text("code", error_code_name(error.code))
      .text("message", error.message)
      .raw("fieldErrors", json_array(fields))
      .str();
}

namespace {

// Marks an English text for the catalogue (xgettext --keyword=N_); translated where shown.
constexpr const char* N_(const char* english) { return english; }

// Characters, not bytes: French headers and cells are UTF-8 ("Priorité"),
// and columns must line up on the screen.
std::size_t display_width(std::string_view text) {
  std::size_t width = 0;
  for (const char c : text) width += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  return width;
}

// Upper case without a locale (fpx must work with none generated): ASCII,
// and the Latin-1 letters French writes (é -> É, à -> À, ç -> Ç, ÿ -> Ÿ,
// œ -> Œ). Any other character is kept as written, never cut in two, as
// toupper() byte by byte did ("PRIORITé", or a broken sequence).
std::string upper_case(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    const auto next = i + 1 < text.size() ? static_cast<unsigned char>(text[i + 1]) : 0;
    if (byte < 0x80) {
      out += static_cast<char>(std::toupper(byte));
    } else if (byte == 0xC3 && next >= 0xA0 && next <= 0xBE && next != 0xB7) {  // U+00E0-U+00FE but ÷
      out += static_cast<char>(byte);
      out += static_cast<char>(next - 0x20);
      ++i;
    } else if (byte == 0xC3 && next == 0xBF) {  // ÿ -> Ÿ (U+0178)
      out += "\xC5\xB8";
      ++i;
    } else if (byte == 0xC5 && next == 0x93) {  // œ -> Œ
      out += "\xC5\x92";
      ++i;
    } else {
      out += static_cast<char>(byte);
    }
  }
  return out;
}

}  // namespace

std::string Table::str() const {
  std::vector<std::string> headers;
  for (const auto& header : headers_) headers.push_back(upper_case(header));
  std::vector<std::size_t> widths(headers.size(), 0);
  for (std::size_t i = 0; i < headers.size(); ++i) widths[i] = display_width(headers[i]);
  for (const auto& row : rows_) {
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) widths[i] = std::max(widths[i], display_width(row[i]));
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (std::size_t i = 0; i < widths.size(); ++i) {
      const std::string cell = i < cells.size() ? cells[i] : "";
      const bool last = i + 1 == widths.size();
      out += last ? cell : cell + std::string(widths[i] - display_width(cell) + 2, ' ');
    }
    return out + "\n";
  };
  std::string out = line(headers);
  for (const auto& row : rows_) out += line(row);
  return out;
}

std::string handling_code_label(wire::HandlingCode code) {
  // DOMAIN.md "Messages": the words a recipient must see before it shares or uses anything.
  switch (code) {
    case wire::HandlingCode::H0_CRIME_FIGHTING_ONLY: return "H0: crime-fighting use only";
    case wire::HandlingCode::H1_NOT_FOR_COURT_WITHOUT_PERMISSION: return "H1: not for court without permission";
    case wire::HandlingCode::H2_NO_ONWARD_SHARING_WITHOUT_PERMISSION: return "H2: no onward sharing without permission";
    case wire::HandlingCode::H3_OTHER_CONDITIONS: return "H3: other conditions";
  }
  // A code of a newer schema: shown, never silently dropped.
  return "H" + std::to_string(static_cast<unsigned>(code)) + ": a handling code this fpx does not know; ask the sender";
}

std::string handling_summary(wire::Header::Reader header) {
  std::string out;
  for (auto code : header.getHandlingCodes()) {
    std::string label = handling_code_label(code);
    if (code == wire::HandlingCode::H3_OTHER_CONDITIONS) {
      label += ": " + (header.getHandlingConditions().size() == 0 ? std::string("(no conditions given)")
                                                                   : std::string(header.getHandlingConditions().cStr()));
    }
    if (out.find(label) != std::string::npos) continue;
    out += (out.empty() ? "" : "; ") + label;
  }
  return out.empty() ? "none" : out;
}

std::string handling_codes_short(wire::Header::Reader header) {
  std::string out;
  for (auto code : header.getHandlingCodes()) {
    const std::string name = "H" + std::to_string(static_cast<unsigned>(code));
    if (("," + out + ",").find("," + name + ",") != std::string::npos) continue;
    out += (out.empty() ? "" : ",") + name;
  }
  return out.empty() ? "-" : out;
}

std::string key_values(const std::vector<std::pair<std::string, std::string>>& pairs) {
  std::size_t width = 0;
  for (const auto& [label, value] : pairs) width = std::max(width, display_width(label) + 1);
  std::string out;
  for (const auto& [label, value] : pairs) {
    out += "  " + label + ":" + std::string(width - display_width(label) + 1, ' ') + value + "\n";
  }
  return out;
}

namespace {

// What each error code means, in words a person reads: the first line of an
// error in French says it (the English line after it keeps the code and the
// detail, built where the error arose, as scripts and the documentation
// quote them).
const char* error_code_words(ErrorCode code) {
  switch (code) {
    case ErrorCode::none: return N_("no error");
    case ErrorCode::malformed: return N_("the data is not in the expected format");
    case ErrorCode::not_canonical: return N_("the message is not in its canonical form");
    case ErrorCode::body_hash_mismatch: return N_("the message's content does not match its signed header");
    case ErrorCode::bad_signature: return N_("the signature does not verify");
    case ErrorCode::untrusted_chain: return N_("the certificate is not issued by a trusted authority");
    case ErrorCode::certificate_expired: return N_("the certificate has expired");
    case ErrorCode::certificate_not_yet_valid: return N_("the certificate is not yet valid");
    case ErrorCode::revoked: return N_("the certificate has been revoked");
    case ErrorCode::crl_missing: return N_("a revocation list is missing");
    case ErrorCode::crl_stale: return N_("a revocation list is out of date");
    case ErrorCode::wrong_role: return N_("this role may not do this");
    case ErrorCode::missing_extension: return N_("the certificate lacks a required extension");
    case ErrorCode::signer_mismatch: return N_("the signer is not who the message says");
    case ErrorCode::schema_violation: return N_("the message breaks the exchange's rules");
    case ErrorCode::unauthorized: return N_("not allowed for this participant");
    case ErrorCode::unknown_recipient: return N_("unknown recipient");
    case ErrorCode::replay: return N_("this message was already received (replay)");
    case ErrorCode::id_reused: return N_("this message id is already used by another message");
    case ErrorCode::stale_timestamp: return N_("the message's date is too far from now");
    case ErrorCode::rate_limited: return N_("too many requests: wait before trying again");
    case ErrorCode::too_large: return N_("too large");
    case ErrorCode::unsupported_version: return N_("unsupported version");
    case ErrorCode::not_found: return N_("not found");
    case ErrorCode::internal: return N_("internal error");
    case ErrorCode::unavailable: return N_("the exchange cannot be reached");
    case ErrorCode::revocation_not_checked: return N_("revocation could not be checked");
    case ErrorCode::bad_key: return N_("the key is not valid");
    case ErrorCode::io_error: return N_("a file or the store could not be read or written");
    case ErrorCode::invalid_argument: return N_("an argument is not valid");
    case ErrorCode::quota_exceeded: return N_("quota reached: wait before sending more");
  }
  return N_("error");
}

}  // namespace

int report_failure(const GlobalOptions& global, int exit_code, const Error& error, const std::string& next_step) {
  // Issue 17: the next step in the reader's language. A hint that is in the
  // catalogue is translated here (a command may also pass it translated);
  // the error code stays as it is (scripts and documentation quote it), and
  // the message, built with values where the error arose, stays English.
  const text::Catalogue text(language_for_errors(global));
  const std::string next = next_step.empty() ? std::string() : std::string(text.tr(next_step));
  // In French, first what the error means; the line after it (the code and
  // the detail, in English) is the same in both languages.
  if (text.language() != text::Language::en) std::cerr << "fpx : " << text.tr(error_code_words(error.code)) << "\n";
  // Not Error::describe(): one field error per line, with a "(message)" label for path-less ones.
  std::cerr << "fpx: " << error_code_name(error.code) << ": " << error.message << "\n";
  for (const auto& field : error.field_errors) {
    std::cerr << "  " << (field.path.empty() ? "(message)" : field.path) << ": " << field.message << "\n";
  }
  // In English the label stays "next:" (scripts match it); in French it is "à faire :".
  if (!next.empty()) std::cerr << text.tr(N_("next:")) << " " << next << "\n";
  if (global.json) {
    JsonObject out;
    out.boolean("ok", false).raw("error", json_error(error));
    if (!next.empty()) out.text("next", next);
    std::cout << out.str() << "\n";
  }
  return exit_code;
}

}  // namespace fpx::cli
