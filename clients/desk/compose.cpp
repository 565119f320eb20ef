#include "compose.hpp"

#include <charconv>

#include <nlohmann/json.hpp>

namespace fpx::desk {

namespace {

using Json = nlohmann::json;

Error field_error(const std::string& field, const std::string& message) {
  Error error{ErrorCode::invalid_argument, "the form has a field to fix; nothing was sent", {}};
  error.field_errors.push_back({field, message});
  return error;
}

// "2026-11-02" -> {"year": 2026, "month": 11, "day": 2}; the JSON date the
// schema's decoder takes. Range checks are the validator's.
Result<Json> date_json(const std::string& field, const std::string& text) {
  unsigned year = 0, month = 0, day = 0;
  const char* p = text.data();
  const char* end = text.data() + text.size();
  auto read = [&](unsigned& out, std::size_t digits) {
    if (static_cast<std::size_t>(end - p) < digits) return false;
    auto [next, error] = std::from_chars(p, p + digits, out);
    if (error != std::errc() || next != p + digits) return false;
    p = next;
    return true;
  };
  const bool ok = read(year, 4) && p < end && *p++ == '-' && read(month, 2) && p < end && *p++ == '-' &&
                  read(day, 2) && p == end;
  if (!ok) return field_error(field, "is not a date: choose it in the calendar or write YYYY-MM-DD");
  return Json{{"year", year}, {"month", month}, {"day", day}};
}

Result<unsigned> number_of(const std::string& field, const std::string& text) {
  unsigned value = 0;
  auto [next, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || next != text.data() + text.size()) {
    return field_error(field, "must be a whole number, e.g. 2009");
  }
  return value;
}

void set_text(Json& object, const std::string& key, const std::string& value) {
  if (!value.empty()) object[key] = value;
}

void set_list(Json& object, const std::string& key, const std::vector<std::string>& values) {
  Json list = Json::array();
  for (const auto& value : values) {
    if (!value.empty()) list.push_back(value);
  }
  if (!list.empty()) object[key] = list;
}

// The decoder's error about the form: "the form: ... at body.tracingRequest.x"
// stays as it is, with its path, for the page to show.
Status decode(const Json& message, cli::Draft& draft) {
  return cli::parse_message_json(message.dump(), "the form", draft);
}

void start_reply(cli::Draft& draft, const OpenedEnvelope& request) {
  const auto header = request.message.header();
  draft.header.setCaseReference(header.getCaseReference());
  draft.header.setPriority(header.getPriority());
  draft.header.setUrgencyJustification(header.getUrgencyJustification());
  draft.header.setClassification(header.getClassification());
  draft.header.setHandlingCodes(header.getHandlingCodes());
  draft.header.setHandlingConditions(header.getHandlingConditions());
  draft.header.setInReplyTo(kj::arrayPtr(request.message_id.bytes.data(), request.message_id.bytes.size()));
}

}  // namespace

std::string form_value(const Form& form, const std::string& name) {
  auto it = form.find(name);
  return it == form.end() ? std::string() : it->second;
}

std::vector<std::string> form_values(const Form& form, const std::string& name) {
  std::vector<std::string> out;
  auto [first, last] = form.equal_range(name);
  for (auto it = first; it != last; ++it) out.push_back(it->second);
  return out;
}

std::string form_field_of(const std::string& path) {
  for (const std::string prefix :
       {"body.tracingRequest.", "body.tracingAcknowledgement.", "body.tracingResponse.", "body.close.",
        "body.forward.", "body.informationSupplied.", "body.withdraw.", "body.alert.", "tracingRequest.", "tracingAcknowledgement.",
        "tracingResponse.", "close.", "forward.", "informationSupplied.", "withdraw.", "alert."}) {
    if (path.rfind(prefix, 0) == 0) return path.substr(prefix.size());
  }
  return path;
}

Status compose_request(const Form& form, const ParticipantInfo& me, cli::Draft& draft) {
  Json header = Json::object();
  Json request = Json::object();
  const auto case_reference = form_value(form, "header.caseReference");
  set_text(header, "caseReference", case_reference);
  set_text(header, "priority", form_value(form, "header.priority"));
  set_text(header, "urgencyJustification", form_value(form, "header.urgencyJustification"));
  set_text(header, "classification", form_value(form, "header.classification"));
  set_list(header, "handlingCodes", form_values(form, "header.handlingCodes"));
  set_text(header, "handlingConditions", form_value(form, "header.handlingConditions"));
  const auto channel_reference = form_value(form, "header.otherChannelReferences[0].reference");
  if (!channel_reference.empty()) {
    header["otherChannelReferences"] = Json::array(
        {{{"channel", form_value(form, "header.otherChannelReferences[0].channel")}, {"reference", channel_reference}}});
  }
  const auto reliability = form_value(form, "header.evaluation.sourceReliability");
  if (!reliability.empty() && reliability != "unset") {
    auto accuracy = number_of("header.evaluation.informationAccuracy", form_value(form, "header.evaluation.informationAccuracy"));
    if (!accuracy) return std::move(accuracy).take_error();
    header["evaluation"] = {{"sourceReliability", reliability}, {"informationAccuracy", *accuracy}};
  }

  request["requestingCountry"] = me.country.str();
  request["requestingAgency"] = me.id.str();
  set_text(request, "nationalCaseReference", case_reference);
  Json states = Json::array();
  Json recipients = Json::array();
  for (std::size_t i = 0; i < kRequestedStateRows; ++i) {
    const std::string row = "requestedStates[" + std::to_string(i) + "].";
    const auto country = form_value(form, row + "country");
    if (country.empty()) continue;
    states.push_back({{"country", country}, {"role", form_value(form, row + "role")}});
    recipients.push_back({{"country", country}});
  }
  request["requestedStates"] = states;
  header["recipients"] = recipients;

  Json firearm = Json::object();
  const std::string f = "firearms[0].";
  for (const std::string key : {"serialNumber", "serialState", "manufacturer", "countryOfManufacture", "model", "type",
                                "calibre", "otherMarkings", "stateStockMarking"}) {
    set_text(firearm, key, form_value(form, f + key));
  }
  if (const auto year = form_value(form, f + "yearOfManufacture"); !year.empty()) {
    auto number = number_of(f + "yearOfManufacture", year);
    if (!number) return std::move(number).take_error();
    firearm["yearOfManufacture"] = *number;
  }
  const auto import_country = form_value(form, f + "importMarking.country");
  const auto import_year = form_value(form, f + "importMarking.year");
  if (!import_country.empty() || !import_year.empty()) {
    Json marking = Json::object();
    set_text(marking, "country", import_country);
    if (!import_year.empty()) {
      auto number = number_of(f + "importMarking.year", import_year);
      if (!number) return std::move(number).take_error();
      marking["year"] = *number;
    }
    firearm["importMarking"] = marking;
  }
  request["firearms"] = Json::array({firearm});
  set_list(request, "illicitBasis", form_values(form, "illicitBasis"));
  set_text(request, "legalJustification", form_value(form, "legalJustification"));
  Json recovery = Json::object();
  if (const auto date = form_value(form, "recovery.date"); !date.empty()) {
    auto parsed = date_json("recovery.date", date);
    if (!parsed) return std::move(parsed).take_error();
    recovery["date"] = *parsed;
  }
  set_text(recovery, "administrativeArea", form_value(form, "recovery.administrativeArea"));
  set_text(recovery, "circumstance", form_value(form, "recovery.circumstance"));
  set_text(recovery, "crimeCategory", form_value(form, "recovery.crimeCategory"));
  request["recovery"] = recovery;
  set_text(request, "intendedUse", form_value(form, "intendedUse"));
  set_list(request, "informationSought", form_values(form, "informationSought"));

  return decode({{"header", header}, {"body", {{"tracingRequest", request}}}}, draft);
}

Status compose_acknowledgement(const Form& form, const OpenedEnvelope& request, std::int64_t received_at_ms,
                               const ParticipantInfo& me, cli::Draft& draft) {
  Json ack = Json::object();
  set_text(ack, "status", form_value(form, "status"));
  if (const auto date = form_value(form, "expectedResponseDate"); !date.empty()) {
    auto parsed = date_json("expectedResponseDate", date);
    if (!parsed) return std::move(parsed).take_error();
    ack["expectedResponseDate"] = *parsed;
  }
  const auto contact = form_value(form, "pointOfContact");
  ack["pointOfContact"] = contact.empty() ? me.id.str() : contact;
  ack["receivedAtMs"] = received_at_ms;
  std::vector<std::string> missing;
  std::string line;
  for (const char c : form_value(form, "missingFields") + "\n") {
    if (c == '\n' || c == '\r') {
      if (!line.empty()) missing.push_back(line);
      line.clear();
    } else {
      line += c;
    }
  }
  set_list(ack, "missingFields", missing);
  start_reply(draft, request);
  if (auto decoded = decode({{"body", {{"tracingAcknowledgement", ack}}}}, draft); !decoded) return decoded;
  draft.header.initRecipients(1)[0].setCountry(request.message.header().getSenderCountry());
  return {};
}

Status compose_response(const Form& form, const OpenedEnvelope& request, cli::Draft& draft) {
  Json response = Json::object();
  set_text(response, "kind", form_value(form, "kind"));
  set_text(response, "outcome", form_value(form, "outcome"));
  set_list(response, "refusalGrounds", form_values(form, "refusalGrounds"));
  set_text(response, "groundsExplanation", form_value(form, "groundsExplanation"));
  set_text(response, "useRestrictions", form_value(form, "useRestrictions"));
  if (const auto date = form_value(form, "nextUpdate"); !date.empty()) {
    auto parsed = date_json("nextUpdate", date);
    if (!parsed) return std::move(parsed).take_error();
    response["nextUpdate"] = *parsed;
  }
  Json hops = Json::array();
  for (std::size_t i = 0; i < kCustodyHopRows; ++i) {
    const std::string row = "chainOfCustody[" + std::to_string(i) + "].";
    const auto entity = form_value(form, row + "entity");
    if (entity.empty()) continue;
    Json hop = {{"role", form_value(form, row + "role")}, {"entity", entity}};
    set_text(hop, "country", form_value(form, row + "country"));
    set_text(hop, "documentReference", form_value(form, row + "documentReference"));
    if (const auto date = form_value(form, row + "date"); !date.empty()) {
      auto parsed = date_json(row + "date", date);
      if (!parsed) return std::move(parsed).take_error();
      hop["date"] = *parsed;
    }
    hops.push_back(hop);
  }
  if (!hops.empty()) response["chainOfCustody"] = hops;
  start_reply(draft, request);
  if (auto decoded = decode({{"body", {{"tracingResponse", response}}}}, draft); !decoded) return decoded;
  draft.header.initRecipients(1)[0].setCountry(request.message.header().getSenderCountry());
  return {};
}

namespace {

// A follow-up of the requesting side goes to every state the request asked.
void address_requested_states(cli::Draft& draft, const OpenedEnvelope& request) {
  const auto states = request.message.body().getTracingRequest().getRequestedStates();
  auto recipients = draft.header.initRecipients(states.size());
  for (unsigned i = 0; i < states.size(); ++i) recipients[i].setCountry(states[i].getCountry());
}

// A follow-up whose body is one {"reason": ...} object: close and withdraw.
Status compose_reason(const Form& form, const OpenedEnvelope& request, const char* body_name, cli::Draft& draft) {
  Json body = Json::object();
  set_text(body, "reason", form_value(form, "reason"));
  start_reply(draft, request);
  if (auto decoded = decode({{"body", {{body_name, body}}}}, draft); !decoded) return decoded;
  address_requested_states(draft, request);
  return {};
}

}  // namespace

Status compose_close(const Form& form, const OpenedEnvelope& request, cli::Draft& draft) {
  return compose_reason(form, request, "close", draft);
}

Status compose_withdraw(const Form& form, const OpenedEnvelope& request, cli::Draft& draft) {
  return compose_reason(form, request, "withdraw", draft);
}

Status compose_forward(const Form& form, const OpenedEnvelope& request, cli::Draft& draft) {
  Json forward = Json::object();
  const auto to_country = form_value(form, "toCountry");
  set_text(forward, "toCountry", to_country);
  set_text(forward, "reason", form_value(form, "reason"));
  start_reply(draft, request);  // the handling codes and H3 conditions travel with it
  if (auto decoded = decode({{"body", {{"forward", forward}}}}, draft); !decoded) return decoded;
  // To the new state (the broker shares the request with it first) and,
  // added by the broker, back to the requesting side.
  draft.header.initRecipients(1)[0].setCountry(to_country);
  return {};
}

Status compose_information_supplied(const Form& form, const OpenedEnvelope& request, cli::Draft& draft) {
  Json supplied = Json::object();
  Json fields = Json::array();
  std::string line;
  for (const char c : form_value(form, "fields") + "\n") {
    if (c != '\n' && c != '\r') {
      line += c;
      continue;
    }
    if (line.empty()) continue;
    const auto equals = line.find('=');
    if (equals == std::string::npos || equals == 0) {
      return field_error("fields", "write one field per line as path=value, e.g. firearms[0].calibre=7.62x39mm");
    }
    fields.push_back({{"path", line.substr(0, equals)}, {"value", line.substr(equals + 1)}});
    line.clear();
  }
  if (!fields.empty()) supplied["fields"] = fields;
  set_text(supplied, "note", form_value(form, "note"));
  start_reply(draft, request);
  if (auto decoded = decode({{"body", {{"informationSupplied", supplied}}}}, draft); !decoded) return decoded;
  address_requested_states(draft, request);
  return {};
}

Status compose_alert(const Form& form, cli::Draft& draft) {
  Json header = Json::object();
  set_text(header, "caseReference", form_value(form, "header.caseReference"));
  set_text(header, "priority", form_value(form, "header.priority"));
  set_text(header, "urgencyJustification", form_value(form, "header.urgencyJustification"));
  set_text(header, "classification", form_value(form, "header.classification"));
  set_list(header, "handlingCodes", form_values(form, "header.handlingCodes"));
  const auto region = form_value(form, "recipientRegion");
  const auto country = form_value(form, "recipientCountry");
  Json recipients = Json::array();
  if (!region.empty()) recipients.push_back({{"region", region}});
  if (!country.empty()) recipients.push_back({{"country", country}});
  header["recipients"] = recipients;

  Json alert = Json::object();
  set_text(alert, "kind", form_value(form, "kind"));
  Json firearm = Json::object();
  const std::string f = "firearms[0].";
  for (const std::string key : {"serialNumber", "manufacturer", "countryOfManufacture", "model", "type", "calibre",
                                "stateStockMarking"}) {
    set_text(firearm, key, form_value(form, f + key));
  }
  if (firearm.contains("serialNumber") || firearm.contains("manufacturer")) alert["firearms"] = Json::array({firearm});
  const auto quantity = form_value(form, "batch.quantity");
  const auto description = form_value(form, "batch.description");
  if (!quantity.empty() || !description.empty()) {
    Json batch = Json::object();
    set_text(batch, "description", description);
    if (!quantity.empty()) {
      auto number = number_of("batch.quantity", quantity);
      if (!number) return std::move(number).take_error();
      batch["quantity"] = *number;
    }
    alert["batch"] = batch;
  }
  set_text(alert, "place", form_value(form, "place"));
  set_text(alert, "region", form_value(form, "region"));
  for (const std::string key : {"occurredOn", "validUntil"}) {
    if (const auto date = form_value(form, key); !date.empty()) {
      auto parsed = date_json(key, date);
      if (!parsed) return std::move(parsed).take_error();
      alert[key] = *parsed;
    }
  }
  alert["publishable"] = form_value(form, "publishable") == "1";
  set_text(alert, "summary", form_value(form, "summary"));
  set_text(alert, "publicSummary", form_value(form, "publicSummary"));
  return decode({{"header", header}, {"body", {{"alert", alert}}}}, draft);
}

Status compose_alert_cancel(const Form& form, const OpenedEnvelope& alert, cli::Draft& draft) {
  Json cancel = Json::object();
  cancel["kind"] = "cancel";
  set_text(cancel, "summary", form_value(form, "summary"));
  const auto header = alert.message.header();
  draft.header.setCaseReference(header.getCaseReference());
  draft.header.setClassification(header.getClassification());
  draft.header.setHandlingCodes(header.getHandlingCodes());
  draft.header.setHandlingConditions(header.getHandlingConditions());
  draft.header.setRecipients(header.getRecipients());
  draft.header.setInReplyTo(kj::arrayPtr(alert.message_id.bytes.data(), alert.message_id.bytes.size()));
  if (auto decoded = decode({{"body", {{"alert", cancel}}}}, draft); !decoded) return decoded;
  // Every alert says until when it holds: the cancellation, as long as what it lifts.
  const auto original = alert.message.body().getAlert();
  draft.body.getAlert().setValidUntil(original.getValidUntil());
  draft.body.getAlert().setRegion(original.getRegion());
  return {};
}

}  // namespace fpx::desk
