// Messages as people write them: JSON files decoded with Cap'n Proto's
// JsonCodec into wire::Header / wire::Body, and saved envelopes rendered back
// to JSON. Field names and enum values are the schema's (camelCase); Data
// fields (message ids) are hex strings; dates are {"year", "month", "day"}.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <capnp/message.h>
#include <capnp/schema.h>

#include "fpx/envelope.hpp"
#include "text.hpp"

namespace fpx::cli {

// A message being composed: header and body, each in its own arena, because
// seal_envelope signs them as two separate canonical messages.
struct Draft {
  capnp::MallocMessageBuilder header_message;
  capnp::MallocMessageBuilder body_message;
  wire::Header::Builder header = header_message.initRoot<wire::Header>();
  wire::Body::Builder body = body_message.initRoot<wire::Body>();
};

// Reads {"header": {...}, "body": {...}} from `path` into `draft`. Fields the
// file leaves out keep what the draft already holds (a reply starts from the
// request it answers). Unknown field names and enum values are errors, not
// silently dropped: a typo in "serialNumbr" must not send a request without
// a serial. Errors are invalid_argument and name the file; they are in
// `language` (issue 17), field paths and schema names as they are.
Status read_message_json(const std::filesystem::path& path, Draft& draft, text::Language language = text::Language::en);
// The same over JSON text already read; `source` names it in errors.
Status parse_message_json(std::string_view text, const std::string& source, Draft& draft,
                          text::Language language = text::Language::en);

// {"header": {...}, "body": {...}} with hex message ids, for people and jq.
std::string render_message_json(wire::Header::Reader header, wire::Body::Reader body);

// "needs-information" or "needsInformation" -> the enumerant's value.
std::optional<std::uint16_t> parse_enumerant(capnp::EnumSchema schema, std::string_view name);
// The command-line (kebab-case) names of every enumerant, for error messages.
std::string enumerant_choices(capnp::EnumSchema schema);
// "needs-information" for an enumerant value.
std::string enumerant_name(capnp::EnumSchema schema, std::uint16_t value);

template <typename Enum>
std::optional<Enum> parse_enum(std::string_view name) {
  auto value = parse_enumerant(capnp::Schema::from<Enum>(), name);
  if (!value) return std::nullopt;
  return static_cast<Enum>(*value);
}
template <typename Enum>
std::string enum_choices() {
  return enumerant_choices(capnp::Schema::from<Enum>());
}
template <typename Enum>
std::string enum_name(Enum value) {
  return enumerant_name(capnp::Schema::from<Enum>(), static_cast<std::uint16_t>(value));
}

// "2026-03-14" into a wire::Date; false if it is not such a date.
bool parse_date(std::string_view text, wire::Date::Builder date);
std::string format_date(wire::Date::Reader date);

}  // namespace fpx::cli
