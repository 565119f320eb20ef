// Schema rules of DOMAIN.md for every message type (see fpx/validate.hpp).
//
// Every rule is checked and every break reported with its field path, so a
// sender fixes a message in one round trip instead of one error at a time.
// Messages say what to do, not only what is wrong. Nothing here throws: the
// readers come from messages that were already decoded, and every value is
// range-checked before use.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fpx/serial_range.hpp"
#include "fpx/validate.hpp"

namespace fpx {
namespace {

namespace chrono = std::chrono;

constexpr std::uint16_t kSchemaVersion = 1;
constexpr std::size_t kIdSize = 16;
constexpr std::size_t kSha256Size = 32;
constexpr std::int64_t kEarliestTimestampMs = 1'577'836'800'000;  // 2020-01-01T00:00:00Z, before FPX
constexpr std::int64_t kClockSkewMs = 5 * 60 * 1000;  // tolerated sender clock drift
constexpr int kEarliestDateYear = 1900;
constexpr int kEarliestManufactureYear = 1800;

// Text bounds, in characters (code points): enough for any honest value, small
// enough that nobody stores megabytes in a field that is copied into logs,
// deliveries and stores.
constexpr std::size_t kMaxFreeText = 4096;   // justifications, explanations, notes
constexpr std::size_t kMaxName = 256;        // names of makers, entities, places
constexpr std::size_t kMaxReference = 128;   // serial numbers, calibres, case references
// Issue 12: texts a state writes for the public feed. Short, so that the
// signed feed (every observer keeps all of it) cannot be made a file store,
// and a report shows them whole.
constexpr std::size_t kMaxPublicSummary = 280;   // an alert's public summary
constexpr std::size_t kMaxStatementText = 2000;  // a state's statement on its figures

// List bounds: a request traces a seizure, not an arsenal; a bulk alert may
// cover a whole stolen depot.
constexpr std::size_t kMaxRecipients = 256;
constexpr std::size_t kMaxRequestFirearms = 1000;
constexpr std::size_t kMaxAlertFirearms = 100'000;
constexpr std::size_t kMaxListEntries = 1000;
constexpr std::size_t kMaxChannelReferences = 16;
// Serial ranges of one batch (issue 14): each is one row of the watch list,
// so their count is bounded like a list, their widths by kMaxSerialRangeWidth.
constexpr std::size_t kMaxSerialRanges = 1000;

// A message with 100 000 broken firearms must not produce a megabyte reply.
constexpr std::size_t kMaxReportedErrors = 1000;

// ---- Error collection -------------------------------------------------------

struct ErrorSink {
  std::vector<FieldError> errors;
  std::size_t dropped = 0;
};

// Collects errors under a path prefix; at() descends into a field.
class Checker {
 public:
  Checker(ErrorSink& sink, std::string path) : sink_(&sink), path_(std::move(path)) {}

  Checker at(std::string_view field) const {
    return Checker(*sink_, path_ + "." + std::string(field));
  }
  Checker at(std::string_view field, std::size_t index) const {
    return Checker(*sink_, path_ + "." + std::string(field) + "[" + std::to_string(index) + "]");
  }

  void fail(std::string message) const {
    if (sink_->errors.size() >= kMaxReportedErrors) {
      ++sink_->dropped;
      return;
    }
    sink_->errors.push_back(FieldError{path_, std::move(message)});
  }

 private:
  ErrorSink* sink_;
  std::string path_;
};

// What body rules need to know beyond the body itself.
struct Facts {
  wire::Header::Reader header;
  std::int64_t now_ms;
  FutureTimestamps future_timestamps;
  chrono::year_month_day today;
  // Body fields are compared with the sender's country only when it is valid:
  // a broken header country is reported once, not again for every comparison.
  bool sender_country_valid;
};

// ---- Text -------------------------------------------------------------------

std::string_view view(capnp::Text::Reader text) { return {text.cStr(), text.size()}; }

bool blank(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; });
}

// Echoes a value in a message: short, printable, never the megabyte it may be.
std::string quote(std::string_view text) {
  constexpr std::size_t kMaxEcho = 32;
  std::string out = "'";
  for (std::size_t i = 0; i < text.size() && i < kMaxEcho; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  }
  if (text.size() > kMaxEcho) out += "...";
  out += "'";
  return out;
}

// Number of code points, or nullopt if the bytes are not valid UTF-8.
std::optional<std::size_t> utf8_length(std::string_view text) {
  std::size_t count = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    std::size_t extra = 0;
    std::uint32_t code = 0;
    if (lead < 0x80) {
      code = lead;
    } else if ((lead & 0xe0) == 0xc0) {
      extra = 1;
      code = lead & 0x1f;
    } else if ((lead & 0xf0) == 0xe0) {
      extra = 2;
      code = lead & 0x0f;
    } else if ((lead & 0xf8) == 0xf0) {
      extra = 3;
      code = lead & 0x07;
    } else {
      return std::nullopt;
    }
    if (i + extra >= text.size()) return std::nullopt;  // truncated sequence
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80) return std::nullopt;
      code = (code << 6) | (next & 0x3f);
    }
    constexpr std::array<std::uint32_t, 4> kMinimum = {0, 0x80, 0x800, 0x10000};
    if (code < kMinimum[extra] || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
      return std::nullopt;  // overlong, out of range or a surrogate
    }
    i += extra + 1;
    ++count;
  }
  return count;
}

// Bounded text; required when `required_hint` says what to put there.
void check_text(const Checker& at, capnp::Text::Reader text, std::size_t max_chars,
                const char* required_hint = nullptr) {
  const auto value = view(text);
  const auto length = utf8_length(value);
  if (!length) {
    at.fail("must be valid UTF-8 text");
    return;
  }
  if (*length > max_chars) {
    at.fail("is too long: at most " + std::to_string(max_chars) + " characters; got " +
            std::to_string(*length));
    return;
  }
  if (required_hint != nullptr && blank(value)) at.fail(std::string("is required: ") + required_hint);
}

// A text shown to the public (feed, report page, CSV): check_text, and no
// control characters (C0 including line breaks, DEL, C1, U+2028/U+2029) or
// bidirectional embeddings, overrides and isolates (U+202A-U+202E,
// U+2066-U+2069), which could make the report show other words than the
// ones signed, or break a reader's lines and fields.
void check_public_text(const Checker& at, capnp::Text::Reader text, std::size_t max_chars,
                       const char* required_hint = nullptr) {
  const auto value = view(text);
  const auto length = utf8_length(value);
  if (!length || *length > max_chars) return check_text(at, text, max_chars, required_hint);
  for (std::size_t i = 0; i < value.size();) {
    const auto lead = static_cast<unsigned char>(value[i]);
    const std::size_t units = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
    std::uint32_t code = units == 1 ? lead : lead & (0x7Fu >> units);
    for (std::size_t k = 1; k < units && i + k < value.size(); ++k) {
      code = (code << 6) | (static_cast<unsigned char>(value[i + k]) & 0x3Fu);
    }
    const bool control = code < 0x20 || (code >= 0x7F && code <= 0x9F) || code == 0x2028 || code == 0x2029;
    const bool bidi = (code >= 0x202A && code <= 0x202E) || (code >= 0x2066 && code <= 0x2069);
    if (control || bidi) {
      char hex[16];
      std::snprintf(hex, sizeof hex, "U+%04X", static_cast<unsigned>(code));
      at.fail(std::string("holds the ") + (control ? "control" : "bidirectional formatting") + " character " + hex +
              " at byte " + std::to_string(i) + ": public text is one plain line; remove it");
      return;
    }
    i += units;
  }
  check_text(at, text, max_chars, required_hint);
}

// ---- Codes and ids --------------------------------------------------------------

// Returns true when the value is a valid code (or absent and optional).
bool check_country(const Checker& at, capnp::Text::Reader text, bool required = true) {
  const auto value = view(text);
  if (value.empty()) {
    if (required) at.fail("is required: an ISO 3166-1 alpha-2 code such as SN");
    return !required;
  }
  if (!is_iso3166_alpha2(value)) {
    at.fail("must be an ISO 3166-1 alpha-2 code such as SN; got " + quote(value));
    return false;
  }
  return true;
}


void check_participant_id(const Checker& at, capnp::Text::Reader text) {
  const auto value = view(text);
  if (value.empty()) {
    at.fail("is required: a participant id such as sn.focal-point");
  } else if (!is_valid_participant_id(value)) {
    at.fail("must look like sn.focal-point (lower-case letters, digits, '.' and '-', at most " +
            std::to_string(kMaxParticipantIdLength) + " characters); got " + quote(value));
  }
}

void check_message_id(const Checker& at, capnp::Data::Reader id) {
  if (id.size() != kIdSize) {
    at.fail("must be a message id of exactly " + std::to_string(kIdSize) + " bytes; got " +
            std::to_string(id.size()));
  }
}

template <typename Enum>
bool check_enum(const Checker& at, Enum value, Enum last) {
  const auto raw = static_cast<std::uint16_t>(value);
  if (raw <= static_cast<std::uint16_t>(last)) return true;
  at.fail("has value " + std::to_string(raw) +
          ", unknown to schema version 1: use one of the values the schema lists");
  return false;
}

// ---- Time -------------------------------------------------------------------------

std::string format_date(int year, unsigned month, unsigned day) {
  std::array<char, 32> buffer{};
  std::snprintf(buffer.data(), buffer.size(), "%04d-%02u-%02u", year, month, day);
  return buffer.data();
}

std::string format_date(const chrono::year_month_day& date) {
  return format_date(static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                     static_cast<unsigned>(date.day()));
}

chrono::year_month_day date_of(std::int64_t ms) {
  return chrono::year_month_day{
      chrono::floor<chrono::days>(chrono::sys_time<chrono::milliseconds>{chrono::milliseconds{ms}})};
}

enum class DateRule { optional, required };

// A real calendar date from 1900 on, not after `latest` when given. Year 0
// means "not set" for optional dates. Returns the date when it is valid.
std::optional<chrono::year_month_day> check_date(
    const Checker& at, wire::Date::Reader date, DateRule rule,
    std::optional<chrono::year_month_day> latest = std::nullopt) {
  if (date.getYear() == 0) {
    if (rule == DateRule::required) at.fail("is required: give year, month and day");
    return std::nullopt;
  }
  const chrono::year_month_day value{chrono::year{date.getYear()}, chrono::month{date.getMonth()},
                                     chrono::day{date.getDay()}};
  if (date.getYear() < kEarliestDateYear || !value.ok()) {
    at.fail("must be a real calendar date from " + std::to_string(kEarliestDateYear) + " on; got " +
            format_date(date.getYear(), date.getMonth(), date.getDay()));
    return std::nullopt;
  }
  if (latest && value > *latest) {
    at.fail("must not be in the future: got " + format_date(value) + ", today is " +
            format_date(*latest));
    return std::nullopt;
  }
  return value;
}

void check_timestamp(const Checker& at, std::int64_t ms, std::int64_t now_ms,
                     FutureTimestamps future = FutureTimestamps::refused_here) {
  if (ms < kEarliestTimestampMs) {
    at.fail("must be UTC milliseconds since the Unix epoch after 2020-01-01; got " +
            std::to_string(ms));
  } else if (future == FutureTimestamps::refused_here && ms - kClockSkewMs > now_ms) {
    at.fail("is more than 5 minutes ahead of the broker's clock: check the sender's clock");
  }
}

void check_year(const Checker& at, std::uint16_t year, const Facts& facts) {
  const int current = static_cast<int>(facts.today.year());
  if (year != 0 && (year < kEarliestManufactureYear || year > current)) {
    at.fail("must be 0 (unknown) or a year from " + std::to_string(kEarliestManufactureYear) +
            " to " + std::to_string(current) + "; got " + std::to_string(year));
  }
}

// ---- Shared structures ------------------------------------------------------------

void check_evaluation(const Checker& at, wire::Evaluation::Reader evaluation) {
  const bool reliability_known = check_enum(at.at("sourceReliability"),
                                            evaluation.getSourceReliability(),
                                            wire::SourceReliability::X);
  const auto accuracy = evaluation.getInformationAccuracy();
  if (accuracy > 4) {
    at.at("informationAccuracy")
        .fail("must be 0 (not evaluated) or 1 to 4; got " + std::to_string(accuracy));
  } else if (accuracy != 0 && reliability_known &&
             evaluation.getSourceReliability() == wire::SourceReliability::UNSET) {
    at.at("sourceReliability")
        .fail("must be set (a, b, c or x) when informationAccuracy is given");
  }
}

void check_firearm(const Checker& at, wire::Firearm::Reader firearm, const Facts& facts) {
  check_text(at.at("serialNumber"), firearm.getSerialNumber(), kMaxReference);
  check_text(at.at("manufacturer"), firearm.getManufacturer(), kMaxName);
  check_text(at.at("placeOfManufacture"), firearm.getPlaceOfManufacture(), kMaxName);
  check_text(at.at("model"), firearm.getModel(), kMaxName);
  check_text(at.at("calibre"), firearm.getCalibre(), kMaxReference);
  check_text(at.at("stateStockMarking"), firearm.getStateStockMarking(), kMaxName);
  check_text(at.at("otherMarkings"), firearm.getOtherMarkings(), kMaxFreeText);
  const auto components = firearm.getComponentSerials();
  check_text(at.at("componentSerials").at("frame"), components.getFrame(), kMaxReference);
  check_text(at.at("componentSerials").at("slide"), components.getSlide(), kMaxReference);
  check_text(at.at("componentSerials").at("barrel"), components.getBarrel(), kMaxReference);

  const bool has_serial = !blank(view(firearm.getSerialNumber()));
  if (check_enum(at.at("serialState"), firearm.getSerialState(),
                 wire::SerialState::PARTLY_RESTORED) &&
      !has_serial && firearm.getSerialState() != wire::SerialState::OBLITERATED) {
    at.at("serialNumber")
        .fail("is required: give the serial number as marked, or set serialState to obliterated");
  }
  if (!has_serial && blank(view(firearm.getManufacturer()))) {
    at.at("manufacturer")
        .fail("is required when there is no serial number: a firearm needs at least a "
              "manufacturer or a serial number to be traced");
  }
  if (check_enum(at.at("type"), firearm.getType(), wire::FirearmType::OTHER) &&
      firearm.getType() == wire::FirearmType::UNSPECIFIED) {
    at.at("type").fail("must be set: revolver, selfLoadingPistol, rifleCarbine, shotgun, ... "
                       "or other if none fits");
  }
  check_country(at.at("countryOfManufacture"), firearm.getCountryOfManufacture(), false);
  check_year(at.at("yearOfManufacture"), firearm.getYearOfManufacture(), facts);
  const auto import_marking = firearm.getImportMarking();
  check_country(at.at("importMarking").at("country"), import_marking.getCountry(), false);
  check_year(at.at("importMarking").at("year"), import_marking.getYear(), facts);
}

// A list bound; elements of a list over its bound are not checked one by one.
template <typename List>
bool check_size(const Checker& at, const List& list, std::size_t max) {
  if (list.size() <= max) return true;
  at.fail("has " + std::to_string(list.size()) + " entries; at most " + std::to_string(max) +
          " are allowed");
  return false;
}

void check_firearms(const Checker& parent, std::string_view field,
                    capnp::List<wire::Firearm>::Reader firearms, std::size_t max,
                    const Facts& facts) {
  if (!check_size(parent.at(field), firearms, max)) return;
  for (std::size_t i = 0; i < firearms.size(); ++i) {
    check_firearm(parent.at(field, i), firearms[static_cast<unsigned>(i)], facts);
  }
}

// Bounded list of short texts, each non-blank.
void check_text_list(const Checker& parent, std::string_view field,
                     capnp::List<capnp::Text>::Reader list, std::size_t max_chars,
                     const char* required_hint) {
  if (!check_size(parent.at(field), list, kMaxListEntries)) return;
  for (std::size_t i = 0; i < list.size(); ++i) {
    check_text(parent.at(field, i), list[static_cast<unsigned>(i)], max_chars, required_hint);
  }
}

// ---- Message types -------------------------------------------------------------------

struct BodyKind {
  wire::Body::Which which;
  wire::MessageType type;
  const char* name;
  bool needs_reply_to;
};

constexpr std::array<BodyKind, 17> kBodyKinds = {{
    {wire::Body::TRACING_REQUEST, wire::MessageType::TRACING_REQUEST, "tracingRequest", false},
    {wire::Body::TRACING_ACKNOWLEDGEMENT, wire::MessageType::TRACING_ACKNOWLEDGEMENT,
     "tracingAcknowledgement", true},
    {wire::Body::TRACING_RESPONSE, wire::MessageType::TRACING_RESPONSE, "tracingResponse", true},
    {wire::Body::ALERT, wire::MessageType::ALERT, "alert", false},
    {wire::Body::CAMPAIGN_REPORT, wire::MessageType::CAMPAIGN_REPORT, "campaignReport", false},
    {wire::Body::INFORMATION_SUPPLIED, wire::MessageType::INFORMATION_SUPPLIED,
     "informationSupplied", true},
    {wire::Body::FORWARD, wire::MessageType::FORWARD, "forward", true},
    {wire::Body::WITHDRAW, wire::MessageType::WITHDRAW, "withdraw", true},
    {wire::Body::CLOSE, wire::MessageType::CLOSE, "close", true},
    {wire::Body::HIT_NOTIFICATION, wire::MessageType::HIT_NOTIFICATION, "hitNotification", false},
    {wire::Body::REMINDER, wire::MessageType::REMINDER, "reminder", true},
    {wire::Body::ESCALATION, wire::MessageType::ESCALATION, "escalation", true},
    {wire::Body::DEAD_LETTER_NOTICE, wire::MessageType::DEAD_LETTER_NOTICE, "deadLetterNotice",
     false},
    {wire::Body::FIGURES_STATEMENT, wire::MessageType::FIGURES_STATEMENT, "figuresStatement", false},
    {wire::Body::EARLY_WARNING, wire::MessageType::EARLY_WARNING, "earlyWarning", false},
    {wire::Body::EARLY_WARNING_ACKNOWLEDGEMENT, wire::MessageType::EARLY_WARNING_ACKNOWLEDGEMENT,
     "earlyWarningAcknowledgement", true},
    {wire::Body::CAMPAIGN_CONTRIBUTION, wire::MessageType::CAMPAIGN_CONTRIBUTION,
     "campaignContribution", false},
}};

const BodyKind* kind_of(wire::Body::Which which) {
  for (const auto& kind : kBodyKinds) {
    if (kind.which == which) return &kind;
  }
  return nullptr;
}

std::string type_name(wire::MessageType type) {
  for (const auto& kind : kBodyKinds) {
    if (kind.type == type) return kind.name;
  }
  if (type == wire::MessageType::UNSPECIFIED) return "unspecified";
  return "unknown (" + std::to_string(static_cast<std::uint16_t>(type)) + ")";
}

// ---- Header ---------------------------------------------------------------------------

void check_recipients(const Checker& at, wire::Header::Reader header, wire::Body::Which body) {
  const auto recipients = header.getRecipients();
  const bool is_alert = body == wire::Body::ALERT;
  // Issue 12: a figures statement is addressed to the exchange itself,
  // which publishes it; it has no recipient to route to.
  if (body == wire::Body::FIGURES_STATEMENT) {
    if (recipients.size() != 0) {
      at.at("recipients").fail("must be empty: a figures statement is addressed to the exchange, which "
                               "publishes it on the oversight feed");
    }
    return;
  }
  if (recipients.size() == 0 && body != wire::Body::CAMPAIGN_REPORT) {
    at.at("recipients")
        .fail("needs at least one recipient: a country code such as NE or a participant id "
              "such as ne.focal-point");
  }
  if (!check_size(at.at("recipients"), recipients, kMaxRecipients)) return;
  for (std::size_t i = 0; i < recipients.size(); ++i) {
    const auto recipient = recipients[static_cast<unsigned>(i)];
    const auto here = at.at("recipients", i);
    switch (recipient.which()) {
      case wire::Recipient::COUNTRY:
        check_country(here.at("country"), recipient.getCountry());
        break;
      case wire::Recipient::PARTICIPANT:
        check_participant_id(here.at("participant"), recipient.getParticipant());
        break;
      case wire::Recipient::REGION:
        if (!is_alert) {
          here.at("region").fail("is only allowed for alerts: address states or participants");
        } else {
          check_text(here.at("region"), recipient.getRegion(), kMaxParticipantIdLength,
                     "the name of a configured region such as ECOWAS");
        }
        break;
      case wire::Recipient::ALL_STATES:
        if (!is_alert) {
          here.at("allStates").fail("is only allowed for alerts: address states or participants");
        }
        break;
      default:
        here.fail("is of a kind unknown to schema version 1: use country, participant, region "
                  "or allStates");
        break;
    }
  }
}

void check_handling(const Checker& at, wire::Header::Reader header) {
  const auto codes = header.getHandlingCodes();
  bool has_h3 = false;
  std::array<bool, 4> seen{};
  for (std::size_t i = 0; i < codes.size(); ++i) {
    const auto code = codes[static_cast<unsigned>(i)];
    const auto here = at.at("handlingCodes", i);
    if (!check_enum(here, code, wire::HandlingCode::H3_OTHER_CONDITIONS)) continue;
    const auto index = static_cast<std::size_t>(code);
    if (seen[index]) here.fail("repeats a handling code: list each code once");
    seen[index] = true;
    has_h3 = has_h3 || code == wire::HandlingCode::H3_OTHER_CONDITIONS;
  }
  check_text(at.at("handlingConditions"), header.getHandlingConditions(), kMaxFreeText,
             has_h3 ? "handling code H3 needs its conditions written out" : nullptr);
}

void check_header(const Checker& at, wire::Header::Reader header, wire::Body::Which body,
                  const Facts& facts) {
  if (header.getSchemaVersion() != kSchemaVersion) {
    at.at("schemaVersion")
        .fail("must be " + std::to_string(kSchemaVersion) + "; got " +
              std::to_string(header.getSchemaVersion()));
  }
  check_message_id(at.at("messageId"), header.getMessageId());

  const BodyKind* kind = kind_of(body);
  if (kind != nullptr && header.getType() != kind->type) {
    at.at("type").fail("is " + type_name(header.getType()) + " but the body is a " + kind->name +
                       ": set it to " + kind->name);
  }
  check_timestamp(at.at("createdAtMs"), header.getCreatedAtMs(), facts.now_ms, facts.future_timestamps);
  check_participant_id(at.at("senderParticipant"), header.getSenderParticipant());
  check_country(at.at("senderCountry"), header.getSenderCountry());
  check_recipients(at, header, body);
  check_text(at.at("caseReference"), header.getCaseReference(), kMaxReference);
  // Photos and documents belong to a firearm's case: no other message may
  // carry files (a cso's warning, a public statement, a broker notice), so
  // no one gets a channel for files the exchange never meant to pass on.
  if (header.getAttachments().size() != 0 && body != wire::Body::TRACING_REQUEST &&
      body != wire::Body::TRACING_RESPONSE && body != wire::Body::INFORMATION_SUPPLIED &&
      body != wire::Body::FORWARD && body != wire::Body::ALERT) {
    at.at("attachments").fail(
        "are carried only by a tracing request, a tracing response, information supplied, a forward or an "
        "alert: send the files with one of those");
  }

  const auto reply_to = header.getInReplyTo();
  if (reply_to.size() != 0) {
    check_message_id(at.at("inReplyTo"), reply_to);
  } else if (kind != nullptr && kind->needs_reply_to) {
    at.at("inReplyTo").fail(std::string("is required for a ") + kind->name +
                            ": give the id of the message it answers");
  }

  const bool urgent = check_enum(at.at("priority"), header.getPriority(),
                                 wire::Priority::URGENT) &&
                      header.getPriority() == wire::Priority::URGENT;
  check_text(at.at("urgencyJustification"), header.getUrgencyJustification(), kMaxFreeText,
             urgent ? "say why this message is urgent" : nullptr);

  if (check_enum(at.at("classification"), header.getClassification(),
                 wire::Classification::CONFIDENTIAL) &&
      body == wire::Body::CAMPAIGN_REPORT &&
      header.getClassification() != wire::Classification::PUBLIC) {
    at.at("classification").fail("must be public: campaign reports go on the oversight feed");
  }
  if (body == wire::Body::FIGURES_STATEMENT && header.getClassification() != wire::Classification::PUBLIC) {
    at.at("classification").fail("must be public: a figures statement goes on the oversight feed");
  }
  check_handling(at, header);
  check_evaluation(at.at("evaluation"), header.getEvaluation());

  const auto references = header.getOtherChannelReferences();
  if (check_size(at.at("otherChannelReferences"), references, kMaxChannelReferences)) {
    for (std::size_t i = 0; i < references.size(); ++i) {
      const auto reference = references[static_cast<unsigned>(i)];
      const auto here = at.at("otherChannelReferences", i);
      check_enum(here.at("channel"), reference.getChannel(), wire::OtherChannel::OTHER);
      check_text(here.at("reference"), reference.getReference(), kMaxReference,
                 "the reference of the same matter in that channel");
    }
  }

  if (header.getBodySha256().size() != kSha256Size) {
    at.at("bodySha256")
        .fail("must be the SHA-256 of the body: exactly " + std::to_string(kSha256Size) +
              " bytes; got " + std::to_string(header.getBodySha256().size()));
  }
}

// ---- Bodies ------------------------------------------------------------------------------

void check_tracing_request(const Checker& at, wire::TracingRequest::Reader request,
                           const Facts& facts) {
  const auto requesting = view(request.getRequestingCountry());
  const bool requesting_valid = check_country(at.at("requestingCountry"),
                                              request.getRequestingCountry());
  if (requesting_valid && facts.sender_country_valid &&
      requesting != view(facts.header.getSenderCountry())) {
    at.at("requestingCountry")
        .fail("must be the sender's country " + quote(view(facts.header.getSenderCountry())) +
              ": a state requests traces for itself only; got " + quote(requesting));
  }
  check_text(at.at("requestingAgency"), request.getRequestingAgency(), kMaxName);
  check_text(at.at("nationalCaseReference"), request.getNationalCaseReference(), kMaxReference);

  const auto states = request.getRequestedStates();
  if (states.size() == 0) {
    at.at("requestedStates")
        .fail("needs at least one requested state, e.g. the country of manufacture");
  } else if (check_size(at.at("requestedStates"), states, kMaxRecipients)) {
    std::set<std::string_view> seen;
    for (std::size_t i = 0; i < states.size(); ++i) {
      const auto state = states[static_cast<unsigned>(i)];
      const auto here = at.at("requestedStates", i);
      check_enum(here.at("role"), state.getRole(), wire::RequestedStateRole::OTHER_ON_TRAIL);
      if (!check_country(here.at("country"), state.getCountry())) continue;
      const auto country = view(state.getCountry());
      if (!seen.insert(country).second) {
        here.at("country").fail(quote(country) + " is listed twice: list each state once");
      } else if (requesting_valid && country == requesting) {
        here.at("country").fail("is the requesting country " + quote(country) +
                                ": a state does not trace with itself");
      }
    }
  }

  if (request.getFirearms().size() == 0) {
    at.at("firearms").fail("needs at least one firearm to trace");
  }
  check_firearms(at, "firearms", request.getFirearms(), kMaxRequestFirearms, facts);

  const auto bases = request.getIllicitBasis();
  if (bases.size() == 0) {
    at.at("illicitBasis").fail("needs at least one basis, e.g. illicitUnderNationalLaw");
  }
  if (check_size(at.at("illicitBasis"), bases, kMaxListEntries)) {
    for (std::size_t i = 0; i < bases.size(); ++i) {
      check_enum(at.at("illicitBasis", i), bases[static_cast<unsigned>(i)],
                 wire::IllicitBasis::UNLICENSED_TRANSFER);
    }
  }
  check_text(at.at("legalJustification"), request.getLegalJustification(), kMaxFreeText,
             "cite the law or embargo that makes the firearm illicit");

  const auto recovery = request.getRecovery();
  const auto recovery_at = at.at("recovery");
  check_date(recovery_at.at("date"), recovery.getDate(), DateRule::required, facts.today);
  check_text(recovery_at.at("administrativeArea"), recovery.getAdministrativeArea(), kMaxName,
             "the region or district where the firearm was recovered");
  check_enum(recovery_at.at("circumstance"), recovery.getCircumstance(),
             wire::RecoveryCircumstance::SURRENDERED);
  check_text(recovery_at.at("crimeCategory"), recovery.getCrimeCategory(), kMaxName);

  check_text(at.at("intendedUse"), request.getIntendedUse(), kMaxFreeText,
             "say what the information will be used for");

  const auto sought = request.getInformationSought();
  if (sought.size() == 0) {
    at.at("informationSought").fail("needs at least one item, e.g. chainOfCustody");
  }
  if (check_size(at.at("informationSought"), sought, kMaxListEntries)) {
    for (std::size_t i = 0; i < sought.size(); ++i) {
      check_enum(at.at("informationSought", i), sought[static_cast<unsigned>(i)],
                 wire::InformationSought::POINT_OF_DIVERSION);
    }
  }
}

void check_tracing_acknowledgement(const Checker& at, wire::TracingAcknowledgement::Reader ack,
                                   const Facts& facts) {
  if (ack.getReceivedAtMs() <= 0) {
    at.at("receivedAtMs").fail("must be the time the request was received (UTC milliseconds)");
  } else {
    check_timestamp(at.at("receivedAtMs"), ack.getReceivedAtMs(), facts.now_ms);
  }
  const bool needs_information =
      check_enum(at.at("status"), ack.getStatus(), wire::AcknowledgementStatus::FORWARDED) &&
      ack.getStatus() == wire::AcknowledgementStatus::NEEDS_INFORMATION;
  if (needs_information && ack.getMissingFields().size() == 0) {
    at.at("missingFields").fail("is required when the status is needsInformation: list what "
                                "the requester must supply");
  }
  check_text_list(at, "missingFields", ack.getMissingFields(), kMaxReference,
                  "the path of a missing field");
  check_date(at.at("expectedResponseDate"), ack.getExpectedResponseDate(), DateRule::optional);
  check_text(at.at("pointOfContact"), ack.getPointOfContact(), kMaxName);
}

void check_tracing_response(const Checker& at, wire::TracingResponse::Reader response,
                            const Facts& facts) {
  const bool kind_known = check_enum(at.at("kind"), response.getKind(), wire::ResponseKind::FINAL);
  const bool outcome_known =
      check_enum(at.at("outcome"), response.getOutcome(), wire::TracingOutcome::REFUSED);
  const auto outcome = response.getOutcome();
  if (kind_known && outcome_known && response.getKind() == wire::ResponseKind::FINAL &&
      outcome == wire::TracingOutcome::DELAYED) {
    at.at("outcome").fail("cannot be delayed in a final response: send an interim response "
                          "with nextUpdate instead");
  }

  const auto grounds = response.getRefusalGrounds();
  const bool refusing =
      outcome == wire::TracingOutcome::REFUSED || outcome == wire::TracingOutcome::RESTRICTED;
  if (outcome_known && refusing && grounds.size() == 0) {
    at.at("refusalGrounds").fail("needs at least one ground for a refused or restricted answer: "
                                 "ongoingInvestigation, confidentialityLaw or nationalSecurity");
  } else if (outcome_known && !refusing && grounds.size() != 0) {
    at.at("refusalGrounds").fail("must be empty unless the outcome is refused or restricted");
  }
  if (check_size(at.at("refusalGrounds"), grounds, kMaxListEntries)) {
    for (std::size_t i = 0; i < grounds.size(); ++i) {
      check_enum(at.at("refusalGrounds", i), grounds[static_cast<unsigned>(i)],
                 wire::RefusalGround::NATIONAL_SECURITY);
    }
  }
  check_text(at.at("groundsExplanation"), response.getGroundsExplanation(), kMaxFreeText,
             refusing && outcome_known ? "explain the grounds for refusing or restricting"
                                       : nullptr);

  const auto hops = response.getChainOfCustody();
  if (check_size(at.at("chainOfCustody"), hops, kMaxListEntries)) {
    for (std::size_t i = 0; i < hops.size(); ++i) {
      const auto hop = hops[static_cast<unsigned>(i)];
      const auto here = at.at("chainOfCustody", i);
      check_enum(here.at("role"), hop.getRole(), wire::CustodyRole::HOLDER);
      check_text(here.at("entity"), hop.getEntity(), kMaxName,
                 "name the manufacturer, exporter, importer, dealer or holder");
      check_country(here.at("country"), hop.getCountry());
      check_date(here.at("date"), hop.getDate(), DateRule::optional, facts.today);
      check_text(here.at("documentReference"), hop.getDocumentReference(), kMaxReference);
    }
  }
  check_text(at.at("useRestrictions"), response.getUseRestrictions(), kMaxFreeText);
  check_date(at.at("nextUpdate"), response.getNextUpdate(), DateRule::optional);
}

void check_alert(const Checker& at, wire::Alert::Reader alert, const Facts& facts) {
  const bool kind_known = check_enum(at.at("kind"), alert.getKind(), wire::AlertKind::CANCEL);
  const auto kind = alert.getKind();
  // These describe a method, a threat or a withdrawal, not particular guns.
  const bool may_omit_firearms = kind == wire::AlertKind::TRAFFICKING_ROUTE_OR_METHOD ||
                                 kind == wire::AlertKind::EMERGING_THREAT ||
                                 kind == wire::AlertKind::CANCEL;
  const auto batch = alert.getBatch();
  const std::size_t described = alert.getFirearms().size() + batch.getFirearms().size();
  const bool has_firearms = described > 0 || batch.getQuantity() > 0 || batch.getSerialRanges().size() > 0;
  if (kind_known && !may_omit_firearms && !has_firearms) {
    at.at("firearms").fail("needs at least one firearm or a batch (batch.quantity > 0) for this "
                           "kind of alert");
  }
  check_text(at.at("summary"), alert.getSummary(), kMaxFreeText,
             kind_known && may_omit_firearms ? "describe the route, method, threat or "
                                               "what is cancelled"
                                             : nullptr);
  if (described > kMaxAlertFirearms) {
    at.at("firearms").fail("describes " + std::to_string(described) +
                           " firearms with the batch; at most " +
                           std::to_string(kMaxAlertFirearms) + " are allowed");
  } else {
    check_firearms(at, "firearms", alert.getFirearms(), kMaxAlertFirearms, facts);
    check_firearms(at.at("batch"), "firearms", batch.getFirearms(), kMaxAlertFirearms, facts);
  }
  if (batch.getQuantity() > 0 && batch.getQuantity() < batch.getFirearms().size()) {
    at.at("batch").at("quantity").fail(
        "is smaller than the " + std::to_string(batch.getFirearms().size()) +
        " firearms the batch describes: give the whole batch size");
  }
  check_text(at.at("batch").at("description"), batch.getDescription(), kMaxFreeText);
  // Serial ranges (PROTOCOL.md §8.4): the form fpx/serial_range.hpp defines.
  const auto ranges = batch.getSerialRanges();
  if (check_size(at.at("batch").at("serialRanges"), ranges, kMaxSerialRanges)) {
    for (std::size_t i = 0; i < ranges.size(); ++i) {
      const Checker here = at.at("batch").at("serialRanges", i);
      const auto range = ranges[static_cast<unsigned>(i)];
      check_text(here.at("from"), range.getFrom(), kMaxReference, "give the first serial");
      check_text(here.at("to"), range.getTo(), kMaxReference, "give the last serial");
      if (blank(view(range.getFrom())) || blank(view(range.getTo()))) continue;
      if (auto parsed = parse_serial_range(view(range.getFrom()), view(range.getTo())); !parsed) {
        here.fail(parsed.error().message);
      }
    }
  }
  check_text(at.at("place"), alert.getPlace(), kMaxName);
  check_text(at.at("region"), alert.getRegion(), kMaxName);

  const auto occurred =
      check_date(at.at("occurredOn"), alert.getOccurredOn(), DateRule::optional, facts.today);
  const auto valid_until = check_date(at.at("validUntil"), alert.getValidUntil(),
                                      DateRule::required);
  if (occurred && valid_until && *valid_until < *occurred) {
    at.at("validUntil").fail("must not be before occurredOn (" + format_date(*occurred) + ")");
  }
  check_evaluation(at.at("evaluation"), alert.getEvaluation());
  // Issue 12: the public summary is written for the feed, so it exists only
  // on an alert marked publishable (a state must not believe it wrote a
  // public text that nobody will see, nor publish one by mistake).
  check_public_text(at.at("publicSummary"), alert.getPublicSummary(), kMaxPublicSummary);
  if (!alert.getPublishable() && alert.getPublicSummary().size() != 0) {
    at.at("publicSummary").fail("is set but the alert is not publishable: set publishable to put it on the "
                                "public feed, or leave publicSummary empty");
  }
}

void check_figures_statement(const Checker& at, wire::FiguresStatement::Reader statement,
                             const Facts& facts) {
  if (check_country(at.at("country"), statement.getCountry()) && facts.sender_country_valid &&
      view(statement.getCountry()) != view(facts.header.getSenderCountry())) {
    at.at("country").fail("must be the sender's country " +
                          quote(view(facts.header.getSenderCountry())) +
                          ": a state replies about its own figures only");
  }
  if (statement.getPeriodStartMs() <= 0) {
    at.at("periodStartMs").fail("must be the start (Unix ms) of a published statistics period: the "
                                "periodStart of its statistics record on the feed");
  }
  check_public_text(at.at("text"), statement.getText(), kMaxStatementText,
                    "write what the state says about its figures for that period");
}

void check_campaign_report(const Checker& at, wire::CampaignReport::Reader report,
                           const Facts& facts) {
  if (check_country(at.at("country"), report.getCountry()) && facts.sender_country_valid &&
      view(report.getCountry()) != view(facts.header.getSenderCountry())) {
    at.at("country").fail("must be the sender's country " +
                          quote(view(facts.header.getSenderCountry())) +
                          ": a state reports its own campaigns");
  }
  check_text(at.at("commission"), report.getCommission(), kMaxName,
             "the national commission that ran the campaign");
  if (report.getRegions().size() == 0) {
    at.at("regions").fail("needs at least one region where the campaign ran");
  }
  check_text_list(at, "regions", report.getRegions(), kMaxName, "the name of a region");
  const auto start = check_date(at.at("periodStart"), report.getPeriodStart(), DateRule::required);
  const auto end = check_date(at.at("periodEnd"), report.getPeriodEnd(), DateRule::required);
  if (start && end && *end < *start) {
    at.at("periodEnd").fail("must not be before periodStart (" + format_date(*start) + ")");
  }
  if (report.getWeaponsDestroyed() > report.getWeaponsCollected()) {
    at.at("weaponsDestroyed")
        .fail("must not exceed weaponsCollected (" + std::to_string(report.getWeaponsCollected()) +
              ")");
  }
  check_text_list(at, "communityPartners", report.getCommunityPartners(), kMaxName,
                  "the name of a partner");
}

// ---- Civil society's voice --------------------------------------------------------

// A community tip is a paragraph, not a dossier: a bounded text keeps a cso
// (or a stolen cso key) from filling a focal point's inbox and the store
// with megabytes per message; the daily quota bounds how many.
constexpr std::size_t kMaxWarningText = 2000;

void check_early_warning(const Checker& at, wire::EarlyWarning::Reader warning, const Facts& facts) {
  check_text(at.at("threat"), warning.getThreat(), kMaxWarningText,
             "describe the emerging threat the community reports");
  check_text(at.at("location"), warning.getLocation(), kMaxName);
  check_text(at.at("firearmDescription"), warning.getFirearmDescription(), kMaxWarningText);
  check_date(at.at("observedOn"), warning.getObservedOn(), DateRule::optional, facts.today);
}

void check_early_warning_acknowledgement(const Checker& at,
                                         wire::EarlyWarningAcknowledgement::Reader ack,
                                         const Facts& facts) {
  if (ack.getReceivedAtMs() <= 0) {
    at.at("receivedAtMs").fail("must be when the warning was taken in (ms since the epoch)");
  } else if (ack.getReceivedAtMs() > facts.now_ms + kClockSkewMs) {
    at.at("receivedAtMs").fail("is in the future: give the time the warning was taken in");
  }
  check_text(at.at("note"), ack.getNote(), kMaxFreeText);
}

// What no honest community collection reaches in one period: bounds the
// figures a cso can put before a focal point (not a security limit on memory:
// they are fixed-width integers) so a typo of a few zeros is caught here.
constexpr std::uint32_t kMaxContributedWeapons = 1'000'000;

void check_campaign_contribution(const Checker& at, wire::CampaignContribution::Reader contribution,
                                 const Facts& facts) {
  check_text(at.at("campaign"), contribution.getCampaign(), kMaxName,
             "name the collection campaign the contribution is for");
  const auto start = check_date(at.at("periodStart"), contribution.getPeriodStart(),
                                DateRule::required, facts.today);
  const auto end = check_date(at.at("periodEnd"), contribution.getPeriodEnd(), DateRule::required,
                              facts.today);
  if (start && end && *end < *start) {
    at.at("periodEnd").fail("must not be before periodStart (" + format_date(*start) + ")");
  }
  if (contribution.getWeaponsCollected() > kMaxContributedWeapons) {
    at.at("weaponsCollected")
        .fail("must be at most " + std::to_string(kMaxContributedWeapons) + ": check the figure");
  }
  check_text(at.at("text"), contribution.getText(), kMaxFreeText,
             "say what the organisation did and saw for the campaign");
}

void check_information_supplied(const Checker& at, wire::InformationSupplied::Reader supplied,
                                const Facts& facts) {
  const auto fields = supplied.getFields();
  if (fields.size() == 0 && supplied.getFirearms().size() == 0 && blank(view(supplied.getNote()))) {
    at.at("fields").fail("needs at least one supplied field, firearm or a note");
  }
  if (check_size(at.at("fields"), fields, kMaxListEntries)) {
    for (std::size_t i = 0; i < fields.size(); ++i) {
      const auto field = fields[static_cast<unsigned>(i)];
      check_text(at.at("fields", i).at("path"), field.getPath(), kMaxReference,
                 "the path of the field supplied, as listed in missingFields");
      check_text(at.at("fields", i).at("value"), field.getValue(), kMaxFreeText);
    }
  }
  check_firearms(at, "firearms", supplied.getFirearms(), kMaxRequestFirearms, facts);
  check_text(at.at("note"), supplied.getNote(), kMaxFreeText);
}

void check_forward(const Checker& at, wire::Forward::Reader forward, const Facts& facts) {
  if (check_country(at.at("toCountry"), forward.getToCountry()) &&
      view(forward.getToCountry()) == view(facts.header.getSenderCountry())) {
    at.at("toCountry").fail("is the sender's own country: forward to another state");
  }
  check_text(at.at("reason"), forward.getReason(), kMaxFreeText,
             "say why the request goes to that state");
}

void check_reason(const Checker& at, capnp::Text::Reader reason) {
  check_text(at.at("reason"), reason, kMaxFreeText, "say why");
}

void check_hit_notification(const Checker& at, wire::HitNotification::Reader hit) {
  check_message_id(at.at("alertMessageId"), hit.getAlertMessageId());
  check_message_id(at.at("requestMessageId"), hit.getRequestMessageId());
  check_text(at.at("matchedSerial"), hit.getMatchedSerial(), kMaxReference,
             "the serial number that matched");
}

template <typename Clock>
void check_clock(const Checker& at, Clock clock) {
  check_message_id(at.at("requestMessageId"), clock.getRequestMessageId());
  check_country(at.at("requestedCountry"), clock.getRequestedCountry());
  check_enum(at.at("clock"), clock.getClock(), wire::ClockKind::RESPONSE);
  if (clock.getDueAtMs() <= 0) at.at("dueAtMs").fail("must be the time the clock ran out");
}

void check_escalation(const Checker& at, wire::Escalation::Reader escalation) {
  check_clock(at, escalation);
  if (escalation.getOverdueMs() <= 0) {
    at.at("overdueMs").fail("must be positive: escalate only overdue clocks");
  }
}

void check_dead_letter(const Checker& at, wire::DeadLetterNotice::Reader notice) {
  check_message_id(at.at("messageId"), notice.getMessageId());
  const auto recipient = view(notice.getRecipient());
  if (!is_iso3166_alpha2(recipient) && !is_valid_participant_id(recipient)) {
    at.at("recipient").fail("must be a country code such as NE or a participant id such as "
                            "ne.focal-point; got " + quote(recipient));
  }
  check_reason(at, notice.getReason());
  if (notice.getHeldUntilMs() <= 0) {
    at.at("heldUntilMs").fail("must be the time the message stopped being held");
  }
}

void check_body(const Checker& at, wire::Body::Reader body, const Facts& facts) {
  switch (body.which()) {
    case wire::Body::TRACING_REQUEST:
      return check_tracing_request(at.at("tracingRequest"), body.getTracingRequest(), facts);
    case wire::Body::TRACING_ACKNOWLEDGEMENT:
      return check_tracing_acknowledgement(at.at("tracingAcknowledgement"),
                                           body.getTracingAcknowledgement(), facts);
    case wire::Body::TRACING_RESPONSE:
      return check_tracing_response(at.at("tracingResponse"), body.getTracingResponse(), facts);
    case wire::Body::ALERT:
      return check_alert(at.at("alert"), body.getAlert(), facts);
    case wire::Body::CAMPAIGN_REPORT:
      return check_campaign_report(at.at("campaignReport"), body.getCampaignReport(), facts);
    case wire::Body::INFORMATION_SUPPLIED:
      return check_information_supplied(at.at("informationSupplied"),
                                        body.getInformationSupplied(), facts);
    case wire::Body::FORWARD:
      return check_forward(at.at("forward"), body.getForward(), facts);
    case wire::Body::WITHDRAW:
      return check_reason(at.at("withdraw"), body.getWithdraw().getReason());
    case wire::Body::CLOSE:
      return check_reason(at.at("close"), body.getClose().getReason());
    case wire::Body::HIT_NOTIFICATION:
      return check_hit_notification(at.at("hitNotification"), body.getHitNotification());
    case wire::Body::REMINDER:
      return check_clock(at.at("reminder"), body.getReminder());
    case wire::Body::ESCALATION:
      return check_escalation(at.at("escalation"), body.getEscalation());
    case wire::Body::DEAD_LETTER_NOTICE:
      return check_dead_letter(at.at("deadLetterNotice"), body.getDeadLetterNotice());
    case wire::Body::FIGURES_STATEMENT:
      return check_figures_statement(at.at("figuresStatement"), body.getFiguresStatement(), facts);
    case wire::Body::EARLY_WARNING:
      return check_early_warning(at.at("earlyWarning"), body.getEarlyWarning(), facts);
    case wire::Body::EARLY_WARNING_ACKNOWLEDGEMENT:
      return check_early_warning_acknowledgement(at.at("earlyWarningAcknowledgement"),
                                                 body.getEarlyWarningAcknowledgement(), facts);
    case wire::Body::CAMPAIGN_CONTRIBUTION:
      return check_campaign_contribution(at.at("campaignContribution"),
                                         body.getCampaignContribution(), facts);
  }
  at.fail("is of a message type unknown to schema version 1");
}

}  // namespace

std::vector<FieldError> validate_message(wire::Header::Reader header, wire::Body::Reader body,
                                         const ValidationContext& context) {
  ErrorSink sink;
  const Facts facts{header, context.now_ms, context.future_timestamps, date_of(context.now_ms),
                    is_iso3166_alpha2(view(header.getSenderCountry()))};
  check_header(Checker(sink, "header"), header, body.which(), facts);
  check_body(Checker(sink, "body"), body, facts);
  if (sink.dropped > 0) {
    sink.errors.push_back(FieldError{
        "", std::to_string(sink.dropped) + " further errors not listed: fix the ones above first"});
  }
  return std::move(sink.errors);
}

bool is_valid_participant_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxParticipantIdLength) return false;
  const bool allowed = std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
  });
  // "sn.focal-point": a prefix, a dot, a name; starting like the CA wants it.
  const auto dot = id.find('.');
  const bool starts_well = id.front() != '.' && id.front() != '-';
  return allowed && starts_well && dot != std::string_view::npos && id.back() != '.';
}

}  // namespace fpx
