#include "pages.hpp"

#include <array>
#include <ctime>

#include <capnp/message.h>
#include <capnp/schema.h>
#include <nlohmann/json.hpp>

#include "case_search.hpp"
#include "fpx/time_ordered_id.hpp"
#include "fpx/attachments.hpp"
#include "fpx/signed_note.hpp"
#include "desk_server.hpp"
#include "fpx/validate.hpp"
#include "import_check.hpp"
#include "render.hpp"
#include "seized_csv.hpp"

namespace fpx::desk {

namespace {

// Marks an English text for the catalogue (xgettext --keyword=N_) where it
// is translated later, at the place it is shown.
constexpr const char* N_(const char* english) { return english; }

struct Label {
  std::string_view enumeration;  // the schema's enum name
  std::string_view value;        // the enumerant, as in the schema (camelCase)
  const char* english;
};

// Every enumerant a person reads, in words. The codes stay visible beside
// them (H2, B2, ...), since focal points quote them.
constexpr Label kLabels[] = {
    {"MessageType", "tracingRequest", N_("Tracing request")},
    {"MessageType", "tracingAcknowledgement", N_("Acknowledgement of receipt")},
    {"MessageType", "tracingResponse", N_("Tracing response")},
    {"MessageType", "alert", N_("Alert")},
    {"MessageType", "campaignReport", N_("Collection campaign report")},
    {"MessageType", "informationSupplied", N_("Information supplied")},
    {"MessageType", "forward", N_("Forwarded")},
    {"MessageType", "withdraw", N_("Withdrawn")},
    {"MessageType", "close", N_("Case closed")},
    {"MessageType", "hitNotification", N_("Hit on an alert")},
    {"MessageType", "reminder", N_("Reminder")},
    {"MessageType", "escalation", N_("Escalation")},
    {"MessageType", "deadLetterNotice", N_("Undeliverable message notice")},
    {"MessageType", "figuresStatement", N_("Statement on published figures")},
    {"MessageType", "earlyWarning", N_("Early warning from civil society")},
    {"MessageType", "earlyWarningAcknowledgement", N_("Acknowledgement of an early warning")},
    {"MessageType", "campaignContribution", N_("Contribution to a collection campaign")},
    {"Priority", "routine", N_("Routine")},
    {"Priority", "urgent", N_("Urgent")},
    {"Classification", "public", N_("Public")},
    {"Classification", "restricted", N_("Restricted")},
    {"Classification", "confidential", N_("Confidential")},
    {"HandlingCode", "h0CrimeFightingOnly", N_("H0: for crime-fighting use only")},
    {"HandlingCode", "h1NotForCourtWithoutPermission", N_("H1: not for use in court without permission")},
    {"HandlingCode", "h2NoOnwardSharingWithoutPermission", N_("H2: no onward sharing without permission")},
    {"HandlingCode", "h3OtherConditions", N_("H3: other conditions (see the text)")},
    {"SourceReliability", "unset", N_("not evaluated")},
    {"SourceReliability", "a", N_("A: no doubt about the source's authenticity and reliability")},
    {"SourceReliability", "b", N_("B: a source that has in most cases proved reliable")},
    {"SourceReliability", "c", N_("C: a source that has in most cases proved unreliable")},
    {"SourceReliability", "x", N_("X: the source's reliability cannot be assessed")},
    {"OtherChannel", "iarms", N_("INTERPOL iARMS")},
    {"OtherChannel", "etrace", N_("eTrace")},
    {"OtherChannel", "siena", N_("Europol SIENA")},
    {"OtherChannel", "nationalCaseSystem", N_("National case system")},
    {"OtherChannel", "other", N_("Other channel")},
    {"RequestedStateRole", "countryOfManufacture", N_("Country of manufacture")},
    {"RequestedStateRole", "countryOfLastImport", N_("Country of last import")},
    {"RequestedStateRole", "otherOnTrail", N_("Other state on the trail")},
    {"IllicitBasis", "illicitUnderNationalLaw", N_("Illicit under national law")},
    {"IllicitBasis", "embargoViolation", N_("Arms embargo violation")},
    {"IllicitBasis", "notMarked", N_("Not marked")},
    {"IllicitBasis", "unlicensedManufacture", N_("Unlicensed manufacture")},
    {"IllicitBasis", "unlicensedTransfer", N_("Unlicensed transfer")},
    {"RecoveryCircumstance", "seized", N_("Seized")},
    {"RecoveryCircumstance", "found", N_("Found")},
    {"RecoveryCircumstance", "surrendered", N_("Surrendered")},
    {"InformationSought", "chainOfCustody", N_("Chain of custody")},
    {"InformationSought", "exportLicence", N_("Export licence")},
    {"InformationSought", "lastLegalHolder", N_("Last legal holder")},
    {"InformationSought", "pointOfDiversion", N_("Point of diversion")},
    {"AcknowledgementStatus", "accepted", N_("Accepted")},
    {"AcknowledgementStatus", "needsInformation", N_("More information needed")},
    {"AcknowledgementStatus", "rejectedAsMalformed", N_("Rejected as malformed")},
    {"AcknowledgementStatus", "forwarded", N_("Forwarded to another state")},
    {"ResponseKind", "interim", N_("Interim response")},
    {"ResponseKind", "final", N_("Final response")},
    {"TracingOutcome", "pointOfDiversionEstablished", N_("Point of diversion established")},
    {"TracingOutcome", "lastLegalHolderIdentified", N_("Last legal holder identified")},
    {"TracingOutcome", "partialChain", N_("Partial chain of custody")},
    {"TracingOutcome", "noRecord", N_("No record")},
    {"TracingOutcome", "notMadeOrImportedHere", N_("Not made or imported here")},
    {"TracingOutcome", "recordsTooOld", N_("Records too old")},
    {"TracingOutcome", "insufficientIdentifiers", N_("Insufficient identifiers")},
    {"TracingOutcome", "delayed", N_("Delayed")},
    {"TracingOutcome", "restricted", N_("Restricted")},
    {"TracingOutcome", "refused", N_("Refused")},
    {"CustodyRole", "manufacturer", N_("Manufacturer")},
    {"CustodyRole", "exporter", N_("Exporter")},
    {"CustodyRole", "importer", N_("Importer")},
    {"CustodyRole", "dealer", N_("Dealer")},
    {"CustodyRole", "stateStock", N_("State stock")},
    {"CustodyRole", "holder", N_("Holder")},
    {"RefusalGround", "ongoingInvestigation", N_("Ongoing investigation")},
    {"RefusalGround", "confidentialityLaw", N_("Confidentiality law")},
    {"RefusalGround", "nationalSecurity", N_("National security")},
    {"SerialState", "intact", N_("Intact")},
    {"SerialState", "obliterated", N_("Obliterated")},
    {"SerialState", "partlyRestored", N_("Partly restored")},
    {"FirearmType", "unspecified", N_("(choose)")},
    {"FirearmType", "revolver", N_("Revolver")},
    {"FirearmType", "selfLoadingPistol", N_("Self-loading pistol")},
    {"FirearmType", "rifleCarbine", N_("Rifle or carbine")},
    {"FirearmType", "shotgun", N_("Shotgun")},
    {"FirearmType", "subMachineGun", N_("Sub-machine gun")},
    {"FirearmType", "assaultRifle", N_("Assault rifle")},
    {"FirearmType", "lightMachineGun", N_("Light machine gun")},
    {"FirearmType", "heavyMachineGun", N_("Heavy machine gun")},
    {"FirearmType", "grenadeLauncher", N_("Grenade launcher")},
    {"FirearmType", "mortarUnder100mm", N_("Mortar under 100 mm")},
    {"FirearmType", "other", N_("Other")},
    {"AlertKind", "lost", N_("Lost")},
    {"AlertKind", "stolen", N_("Stolen")},
    {"AlertKind", "diverted", N_("Diverted")},
    {"AlertKind", "traffickingRouteOrMethod", N_("Trafficking route or method")},
    {"AlertKind", "suspectedEmbargoBreach", N_("Suspected embargo breach")},
    {"AlertKind", "emergingThreat", N_("Emerging threat")},
    {"AlertKind", "update", N_("Update")},
    {"AlertKind", "cancel", N_("Cancelled")},
    {"ClockKind", "acknowledgement", N_("acknowledgement")},
    {"ClockKind", "response", N_("response")},
};

// The meaning of the information-accuracy grades 1-4 (the 4x4 evaluation).
constexpr std::array<const char*, 5> kAccuracy = {
    N_("not evaluated"), N_("1: known to be true without reservation"),
    N_("2: known personally to the source, not to the officer passing it on"),
    N_("3: not known personally to the source, but corroborated"), N_("4: cannot be judged")};

// The firearm fields, in words, for the completeness feedback.
constexpr std::pair<const char*, const char*> kFirearmFields[] = {
    {"serialNumber", N_("Serial number")},
    {"serialState", N_("State of the serial number")},
    {"manufacturer", N_("Manufacturer (as marked)")},
    {"countryOfManufacture", N_("Country of manufacture")},
    {"placeOfManufacture", N_("Place of manufacture")},
    {"model", N_("Model")},
    {"type", N_("Type")},
    {"calibre", N_("Calibre or gauge")},
    {"importMarking", N_("Import marking")},
    {"importMarking.country", N_("Import marking: country")},
    {"importMarking.year", N_("Import marking: year")},
    {"stateStockMarking", N_("State-stock marking")},
    {"yearOfManufacture", N_("Year of manufacture")},
    {"otherMarkings", N_("Other markings")},
    {"componentSerials", N_("Component serial numbers")},
};

// One renderer for the case page and the command line (fpx trace show): in
// text mode, markup is dropped and every definition is collected as a
// translated (term, value) line, so both show the same fields in the same words.

class Html {
 public:
  explicit Html(const text::Catalogue& text, Lines* lines = nullptr) : text_(text), lines_(lines) {}
  Lines* lines() const { return lines_; }
  std::string tr(std::string_view english) const { return std::string(text_.tr(english)); }
  std::string e(std::string_view raw) const { return html_escape(raw); }
  // A translated text, escaped.
  std::string t(std::string_view english) const { return html_escape(text_.tr(english)); }
  Html& operator<<(std::string_view html) {
    if (lines_ == nullptr) out_ += html;
    return *this;
  }
  std::string str() const { return out_; }

 private:
  const text::Catalogue& text_;
  Lines* lines_;
  std::string out_;
};

template <typename Enum>
std::string enum_schema_name(Enum value) {
  const auto schema = capnp::Schema::from<Enum>();
  auto enumerant = schema.getEnumerants();
  const auto index = static_cast<std::uint16_t>(value);
  return index < enumerant.size() ? std::string(enumerant[index].getProto().getName().cStr()) : std::to_string(index);
}

template <typename Enum>
std::string_view enum_short_name() {
  const auto name = capnp::Schema::from<Enum>().getShortDisplayName();
  return {name.cStr(), name.size()};
}

std::string label_english(std::string_view enumeration, std::string_view value) {
  for (const auto& label : kLabels) {
    if (label.enumeration == enumeration && label.value == value) return label.english;
  }
  return std::string(value);
}

template <typename Enum>
std::string label(const text::Catalogue& text, Enum value) {
  return std::string(text.tr(label_english(enum_short_name<Enum>(), enum_schema_name(value))));
}

// "2026-12-07 14:05 UTC": dates as dates, in UTC as the exchange keeps them.
std::string date_time(std::int64_t ms) {
  if (ms <= 0) return "-";
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M UTC", &utc);
  return buffer;
}

// Empty for an unset date, so the line is left out.
std::string date_text(wire::Date::Reader date) {
  if (date.getYear() == 0) return {};
  return cli::format_date(date);
}

std::string message_id_hex(capnp::Data::Reader data) { return to_hex(ByteView(data.begin(), data.size())); }

// The <option>s of a select built from the schema's enumerants.
template <typename Enum>
std::string options(const Html& h, const std::string& selected, bool skip_first = false) {
  std::string out;
  const auto enumerants = capnp::Schema::from<Enum>().getEnumerants();
  for (unsigned i = skip_first ? 1 : 0; i < enumerants.size(); ++i) {
    const std::string value = enumerants[i].getProto().getName().cStr();
    out += "<option value=\"" + h.e(value) + "\"" + (value == selected ? " selected" : "") + ">" +
           h.e(h.tr(label_english(enum_short_name<Enum>(), value))) + "</option>";
  }
  return out;
}

template <typename Enum>
std::string checkboxes(const Html& h, const std::string& name, const std::vector<std::string>& checked) {
  std::string out;
  for (auto enumerant : capnp::Schema::from<Enum>().getEnumerants()) {
    const std::string value = enumerant.getProto().getName().cStr();
    const bool on = std::find(checked.begin(), checked.end(), value) != checked.end();
    out += "<label class=\"check\"><input type=\"checkbox\" name=\"" + h.e(name) + "\" value=\"" + h.e(value) + "\"" +
           (on ? " checked" : "") + "> " + h.e(h.tr(label_english(enum_short_name<Enum>(), value))) + "</label>";
  }
  return out;
}

void page_start(Html& h, const PageContext& context, std::string_view title, bool live) {
  h << "<!doctype html><html lang=\"" << text::language_tag(context.text.language()) << "\"><head><meta charset=\"utf-8\">"
    << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    << "<title>" << h.e(title) << " · FPX</title><link rel=\"stylesheet\" href=\"/static/desk.css\">"
    << "<script src=\"/static/desk.js\" defer></script></head><body" << (live ? " data-live=\"1\"" : "") << ">"
    << "<header class=\"top\"><strong>FPX</strong> <span class=\"who\">" << h.e(context.me.id.str()) << " · "
    << h.e(context.me.country.str()) << " · "
    << h.t(context.me.role == Role::focal_point ? N_("national focal point") : N_("agency")) << "</span>"
    << "<nav><a href=\"/\">" << h.t(N_("Inbox and what we owe")) << "</a> <a href=\"/new\">"
    << h.t(N_("New tracing request")) << "</a> <a href=\"/import\">" << h.t(N_("Import a CSV"))
    << "</a> <a href=\"/alerts/new\">" << h.t(N_("New alert")) << "</a> <a href=\"/search\">"
    << h.t(N_("Search")) << "</a></nav></header>";
  if (!context.connected) {
    h << "<p class=\"banner warn\" role=\"status\">"
      << h.t(N_("Not connected to the exchange: the desk keeps trying. Messages are received and sent once it is back."))
      << "</p>";
  }
  h << "<p class=\"banner live\" id=\"live-notice\" hidden role=\"status\">" << h.t(N_("New messages arrived.")) << "</p>";
  h << "<main><h1>" << h.e(title) << "</h1>";
}

void page_end(Html& h) { h << "</main></body></html>"; }

std::string state_label(const Html& h, const Case& item) {
  switch (item.state) {
    case CaseState::awaiting_acknowledgement: return h.tr(N_("awaiting acknowledgement"));
    case CaseState::acknowledged: return h.tr(N_("acknowledged"));
    case CaseState::interim: return h.tr(N_("interim response"));
    case CaseState::answered: return h.tr(N_("answered"));
    case CaseState::withdrawn: return h.tr(N_("withdrawn"));
    case CaseState::closed: return h.tr(N_("closed"));
  }
  return {};
}

std::string requested_states(const OpenedEnvelope& request) {
  std::string out;
  for (auto state : request.message.body().getTracingRequest().getRequestedStates()) {
    if (!out.empty()) out += ", ";
    out += state.getCountry().cStr();
  }
  return out;
}

std::string case_link(const Case& item) { return "/case/" + item.request->opened.message_id.hex(); }

std::string case_title(const Case& item) {
  const std::string reference = item.request->opened.message.header().getCaseReference().cStr();
  // The id's last 12 characters: its first 12 are the time it was sealed
  // (time-ordered ids, PROTOCOL §5.3), alike for requests sealed together.
  return reference.empty() ? short_message_id(item.request->opened.message_id) : reference;
}

void field_errors(Html& h, const Error* error) {
  if (error == nullptr) return;
  h << "<div class=\"errors\" role=\"alert\"><p>" << h.e(h.tr(N_("Nothing was sent."))) << " " << h.e(error->message)
    << "</p>";
  if (!error->field_errors.empty()) {
    h << "<ul>";
    for (const auto& field : error->field_errors) {
      h << "<li><a href=\"#f-" << h.e(form_field_of(field.path)) << "\"><code>" << h.e(form_field_of(field.path))
        << "</code></a>: " << h.e(field.message) << "</li>";
    }
    h << "</ul>";
  }
  h << "</div>";
}

bool field_has_error(const Error* error, const std::string& name) {
  if (error == nullptr) return false;
  for (const auto& field : error->field_errors) {
    if (form_field_of(field.path) == name) return true;
  }
  return false;
}

struct FieldSpec {
  std::string name;
  const char* label;
  const char* help;
};

// One labelled input with its help; marked invalid when the validator named it.
void input(Html& h, const Form& values, const Error* error, const FieldSpec& spec, const std::string& type = "text",
           const std::string& extra = {}) {
  const std::string id = "f-" + spec.name;
  h << "<div class=\"field" << (field_has_error(error, spec.name) ? " invalid" : "") << "\"><label for=\"" << h.e(id)
    << "\">" << h.t(spec.label) << "</label><input id=\"" << h.e(id) << "\" name=\"" << h.e(spec.name) << "\" type=\""
    << type << "\" value=\"" << h.e(form_value(values, spec.name)) << "\"" << extra
    << (field_has_error(error, spec.name) ? " aria-invalid=\"true\"" : "");
  if (spec.help != nullptr) h << " aria-describedby=\"" << h.e(id) << "-help\"";
  h << ">";
  if (spec.help != nullptr) h << "<small id=\"" << h.e(id) << "-help\">" << h.t(spec.help) << "</small>";
  h << "</div>";
}

void textarea(Html& h, const Form& values, const Error* error, const FieldSpec& spec) {
  const std::string id = "f-" + spec.name;
  h << "<div class=\"field" << (field_has_error(error, spec.name) ? " invalid" : "") << "\"><label for=\"" << h.e(id)
    << "\">" << h.t(spec.label) << "</label><textarea id=\"" << h.e(id) << "\" name=\"" << h.e(spec.name)
    << "\" rows=\"2\">" << h.e(form_value(values, spec.name)) << "</textarea>";
  if (spec.help != nullptr) h << "<small>" << h.t(spec.help) << "</small>";
  h << "</div>";
}

template <typename Enum>
void select(Html& h, const Form& values, const Error* error, const FieldSpec& spec, const std::string& fallback,
            bool skip_first = false) {
  const std::string id = "f-" + spec.name;
  std::string selected = form_value(values, spec.name);
  if (selected.empty()) selected = fallback;
  h << "<div class=\"field" << (field_has_error(error, spec.name) ? " invalid" : "") << "\"><label for=\"" << h.e(id)
    << "\">" << h.t(spec.label) << "</label><select id=\"" << h.e(id) << "\" name=\"" << h.e(spec.name) << "\">"
    << options<Enum>(h, selected, skip_first) << "</select>";
  if (spec.help != nullptr) h << "<small>" << h.t(spec.help) << "</small>";
  h << "</div>";
}

void csrf_field(Html& h, const PageContext& context) {
  h << "<input type=\"hidden\" name=\"csrf\" value=\"" << h.e(context.csrf) << "\">";
}

// ---- message rendering ---------------------------------------------------------

void definition(Html& h, std::string_view term, const std::string& value) {
  if (value.empty()) return;
  if (h.lines() != nullptr) {
    h.lines()->emplace_back(h.tr(term), value);
    return;
  }
  h << "<dt>" << h.t(term) << "</dt><dd>" << h.e(value) << "</dd>";
}

void render_firearm(Html& h, const text::Catalogue& text, wire::Firearm::Reader firearm) {
  h << "<dl class=\"firearm\">";
  definition(h, N_("Serial number"), std::string(firearm.getSerialNumber().cStr()) + " (" +
                                         label(text, firearm.getSerialState()) + ")");
  definition(h, N_("Manufacturer (as marked)"), firearm.getManufacturer().cStr());
  definition(h, N_("Country of manufacture"), firearm.getCountryOfManufacture().cStr());
  definition(h, N_("Model"), firearm.getModel().cStr());
  definition(h, N_("Type"), label(text, firearm.getType()));
  definition(h, N_("Calibre or gauge"), firearm.getCalibre().cStr());
  const auto marking = firearm.getImportMarking();
  if (marking.getCountry().size() != 0) {
    definition(h, N_("Import marking"), std::string(marking.getCountry().cStr()) +
                                            (marking.getYear() ? " " + std::to_string(marking.getYear()) : ""));
  }
  if (firearm.getYearOfManufacture() != 0) {
    definition(h, N_("Year of manufacture"), std::to_string(firearm.getYearOfManufacture()));
  }
  definition(h, N_("Other markings"), firearm.getOtherMarkings().cStr());
  const auto report = firearm_completeness(firearm);
  definition(h, N_("Identifier completeness"), std::to_string(report.score) + "/100");
  h << "</dl>";
}

void render_body(Html& h, const text::Catalogue& text, const CaseMessage& message) {
  const auto body = message.opened.message.body();
  h << "<dl>";
  switch (body.which()) {
    case wire::Body::TRACING_REQUEST: {
      auto request = body.getTracingRequest();
      definition(h, N_("Requesting state"), request.getRequestingCountry().cStr());
      definition(h, N_("Requesting agency"), request.getRequestingAgency().cStr());
      definition(h, N_("National case reference"), request.getNationalCaseReference().cStr());
      std::string states;
      for (auto state : request.getRequestedStates()) {
        states += (states.empty() ? "" : "; ") + std::string(state.getCountry().cStr()) + " (" +
                  label(text, state.getRole()) + ")";
      }
      definition(h, N_("Requested states"), states);
      std::string basis;
      for (auto item : request.getIllicitBasis()) basis += (basis.empty() ? "" : "; ") + label(text, item);
      definition(h, N_("Illicit basis"), basis);
      definition(h, N_("Legal justification"), request.getLegalJustification().cStr());
      const auto recovery = request.getRecovery();
      definition(h, N_("Recovered on"), date_text(recovery.getDate()));
      definition(h, N_("Where"), recovery.getAdministrativeArea().cStr());
      definition(h, N_("How"), label(text, recovery.getCircumstance()));
      definition(h, N_("Crime category"), recovery.getCrimeCategory().cStr());
      definition(h, N_("Intended use of the information"), request.getIntendedUse().cStr());
      std::string sought;
      for (auto item : request.getInformationSought()) sought += (sought.empty() ? "" : "; ") + label(text, item);
      definition(h, N_("Information sought"), sought);
      h << "</dl>";
      for (auto firearm : request.getFirearms()) render_firearm(h, text, firearm);
      return;
    }
    case wire::Body::TRACING_ACKNOWLEDGEMENT: {
      auto ack = body.getTracingAcknowledgement();
      definition(h, N_("Status"), label(text, ack.getStatus()));
      definition(h, N_("Received at"), date_time(ack.getReceivedAtMs()));
      definition(h, N_("Expected response date"), date_text(ack.getExpectedResponseDate()));
      definition(h, N_("Point of contact"), ack.getPointOfContact().cStr());
      std::string missing;
      for (auto field : ack.getMissingFields()) missing += (missing.empty() ? "" : "; ") + std::string(field.cStr());
      definition(h, N_("Missing fields"), missing);
      break;
    }
    case wire::Body::TRACING_RESPONSE: {
      auto response = body.getTracingResponse();
      definition(h, N_("Kind"), label(text, response.getKind()));
      definition(h, N_("Outcome"), label(text, response.getOutcome()));
      std::string grounds;
      for (auto ground : response.getRefusalGrounds()) grounds += (grounds.empty() ? "" : "; ") + label(text, ground);
      definition(h, N_("Refusal or restriction grounds"), grounds);
      definition(h, N_("Explanation"), response.getGroundsExplanation().cStr());
      definition(h, N_("Use restrictions"), response.getUseRestrictions().cStr());
      definition(h, N_("Next update"), date_text(response.getNextUpdate()));
      h << "</dl>";
      if (response.getChainOfCustody().size() != 0) {
        h << "<table class=\"custody\"><caption>" << h.t(N_("Chain of custody")) << "</caption><thead><tr><th>"
          << h.t(N_("Role")) << "</th><th>" << h.t(N_("Entity")) << "</th><th>" << h.t(N_("Country")) << "</th><th>"
          << h.t(N_("Date")) << "</th><th>" << h.t(N_("Document")) << "</th></tr></thead><tbody>";
        for (auto hop : response.getChainOfCustody()) {
          const auto hop_date = date_text(hop.getDate());
          if (h.lines() != nullptr) {
            std::string line = label(text, hop.getRole()) + ": " + hop.getEntity().cStr();
            for (const std::string& part : {std::string(hop.getCountry().cStr()), hop_date,
                                           std::string(hop.getDocumentReference().cStr())}) {
              if (!part.empty()) line += ", " + part;
            }
            h.lines()->emplace_back(h.tr(N_("Chain of custody")), line);
          }
          h << "<tr><td>" << h.e(label(text, hop.getRole())) << "</td><td>" << h.e(hop.getEntity().cStr()) << "</td><td>"
            << h.e(hop.getCountry().cStr()) << "</td><td>" << h.e(hop_date.empty() ? "-" : hop_date) << "</td><td>"
            << h.e(hop.getDocumentReference().cStr()) << "</td></tr>";
        }
        h << "</tbody></table>";
      }
      return;
    }
    case wire::Body::CLOSE: definition(h, N_("Reason"), body.getClose().getReason().cStr()); break;
    case wire::Body::WITHDRAW: definition(h, N_("Reason"), body.getWithdraw().getReason().cStr()); break;
    case wire::Body::FORWARD:
      definition(h, N_("Forwarded to"), body.getForward().getToCountry().cStr());
      definition(h, N_("Reason"), body.getForward().getReason().cStr());
      break;
    case wire::Body::INFORMATION_SUPPLIED:
      for (auto field : body.getInformationSupplied().getFields()) {
        definition(h, N_("Information supplied"), std::string(field.getPath().cStr()) + " = " + field.getValue().cStr());
      }
      definition(h, N_("Note"), body.getInformationSupplied().getNote().cStr());
      break;
    case wire::Body::ALERT: {
      auto alert = body.getAlert();
      definition(h, N_("Kind"), label(text, alert.getKind()));
      definition(h, N_("Summary"), alert.getSummary().cStr());
      definition(h, N_("Where"), alert.getPlace().cStr());
      definition(h, N_("Region"), alert.getRegion().cStr());
      definition(h, N_("Occurred on"), date_text(alert.getOccurredOn()));
      definition(h, N_("Valid until"), date_text(alert.getValidUntil()));
      definition(h, N_("Batch"), alert.getBatch().getDescription().cStr());
      if (alert.getBatch().getQuantity() != 0) {
        definition(h, N_("Quantity"), std::to_string(alert.getBatch().getQuantity()));
      }
      definition(h, N_("Public"), alert.getPublishable() ? h.tr(N_("yes")) : h.tr(N_("no")));
      definition(h, N_("Public summary"), alert.getPublicSummary().cStr());
      h << "</dl>";
      for (auto firearm : alert.getFirearms()) render_firearm(h, text, firearm);
      return;
    }
    case wire::Body::REMINDER: {
      auto reminder = body.getReminder();
      definition(h, N_("Clock"), label(text, reminder.getClock()));
      definition(h, N_("Requested state"), reminder.getRequestedCountry().cStr());
      definition(h, N_("Due at"), date_time(reminder.getDueAtMs()));
      break;
    }
    case wire::Body::ESCALATION: {
      auto escalation = body.getEscalation();
      definition(h, N_("Clock"), label(text, escalation.getClock()));
      definition(h, N_("Requested state"), escalation.getRequestedCountry().cStr());
      definition(h, N_("Due at"), date_time(escalation.getDueAtMs()));
      definition(h, N_("Overdue by (hours)"), std::to_string(escalation.getOverdueMs() / 3'600'000));
      break;
    }
    case wire::Body::HIT_NOTIFICATION: {
      auto hit = body.getHitNotification();
      definition(h, N_("Matched serial number"), hit.getMatchedSerial().cStr());
      definition(h, N_("Alert"), message_id_hex(hit.getAlertMessageId()));
      break;
    }
    default:
      if (h.lines() != nullptr) h.lines()->emplace_back("JSON", cli::render_message_json(message.opened.message.header(), body));
      h << "</dl><pre>" << h.e(cli::render_message_json(message.opened.message.header(), body)) << "</pre>";
      return;
  }
  h << "</dl>";
}

void render_header(Html& h, const text::Catalogue& text, wire::Header::Reader header) {
  h << "<dl class=\"header\">";
  definition(h, N_("Case reference"), header.getCaseReference().cStr());
  std::string priority = label(text, header.getPriority());
  if (header.getUrgencyJustification().size() != 0) {
    priority += ": " + std::string(header.getUrgencyJustification().cStr());
  }
  definition(h, N_("Priority"), priority);
  definition(h, N_("Classification"), label(text, header.getClassification()));
  std::string handling;
  for (auto code : header.getHandlingCodes()) handling += (handling.empty() ? "" : "; ") + label(text, code);
  if (header.getHandlingConditions().size() != 0) handling += " (" + std::string(header.getHandlingConditions().cStr()) + ")";
  definition(h, N_("Handling codes"), handling.empty() ? h.tr(N_("none")) : handling);
  const auto evaluation = header.getEvaluation();
  if (evaluation.getSourceReliability() != wire::SourceReliability::UNSET) {
    const auto accuracy = evaluation.getInformationAccuracy();
    definition(h, N_("Evaluation"), label(text, evaluation.getSourceReliability()) + "; " +
                                        h.tr(kAccuracy[accuracy < kAccuracy.size() ? accuracy : 0]));
  }
  std::string references;
  for (auto reference : header.getOtherChannelReferences()) {
    references += (references.empty() ? "" : "; ") + label(text, reference.getChannel()) + " " +
                  std::string(reference.getReference().cStr());
  }
  definition(h, N_("Also sent through"), references);
  h << "</dl>";
}

// Issue 17: a message's attachments, as signed (name, type, size, SHA-256).
// Images are shown inline from the desk's attachment URL, which serves them
// with their signed type, nosniff and a sandboxing CSP; a PDF is only ever a
// download (Content-Disposition: attachment), never rendered in the page.
void render_attachments(Html& h, const CaseMessage& message) {
  const auto entries = attachments_of(message.opened.message.header());
  if (entries.empty()) return;
  const std::string id = message.opened.message_id.hex();
  if (h.lines() == nullptr) h << "<section class=\"attachments\"><h4>" << h.t(N_("Attachments")) << "</h4><ul>";
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& entry = entries[i];
    const std::string type(media_type_name(entry.media_type));
    const std::string facts = type + ", " + std::to_string(entry.size) + " " + h.tr(N_("bytes")) + ", SHA-256 " +
                              to_hex(entry.sha256);
    if (h.lines() != nullptr) {
      h.lines()->emplace_back(h.tr(N_("Attachment")) + " " + std::to_string(i + 1), entry.file_name + " (" + facts + ")");
      continue;
    }
    const std::string url = "/attachment/" + id + "/" + std::to_string(i + 1);
    h << "<li class=\"attachment\" data-type=\"" << h.e(type) << "\">";
    if (entry.media_type == wire::MediaType::IMAGE_JPEG || entry.media_type == wire::MediaType::IMAGE_PNG) {
      h << "<figure><img src=\"" << url << "\" alt=\"" << h.e(entry.file_name) << "\" loading=\"lazy\"><figcaption>"
        << "<a href=\"" << url << "\" download=\"" << h.e(entry.file_name) << "\">" << h.e(entry.file_name) << "</a> · "
        << h.e(facts) << "</figcaption></figure>";
    } else {
      h << "<a href=\"" << url << "\" download=\"" << h.e(entry.file_name) << "\">" << h.e(entry.file_name) << "</a> · "
        << h.e(facts);
    }
    h << "</li>";
  }
  if (h.lines() == nullptr) h << "</ul></section>";
}

}  // namespace

Lines header_lines(const text::Catalogue& text, wire::Header::Reader header) {
  Lines lines;
  Html h(text, &lines);
  render_header(h, text, header);
  return lines;
}

Lines message_lines(const text::Catalogue& text, const CaseMessage& message) {
  Lines lines;
  Html h(text, &lines);
  render_body(h, text, message);
  render_attachments(h, message);
  return lines;
}

std::string message_type_text(const text::Catalogue& text, wire::MessageType type) { return label(text, type); }

std::string case_state_text(const text::Catalogue& text, const Case& item) { return state_label(Html(text), item); }

std::string date_time_text(std::int64_t ms) { return date_time(ms); }

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// ---- bulk import (issue 17) ---------------------------------------------------

namespace {

// "{1}", "{2}" in a translated text replaced by the values: the word order is the translation's.
std::string fill_in(std::string text, const std::vector<std::string>& values) {
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::string marker = "{" + std::to_string(i + 1) + "}";
    for (auto at = text.find(marker); at != std::string::npos; at = text.find(marker, at + values[i].size())) {
      text.replace(at, marker.size(), values[i]);
    }
  }
  return text;
}

void import_results(Html& h, const std::vector<cli::ImportCheck>& checks, const std::vector<ImportLineSent>& sent) {
  std::size_t ready = 0;
  for (const auto& check : checks) ready += check.ok() ? 1 : 0;
  std::size_t sent_count = 0;
  for (const auto& line : sent) sent_count += line.message_id.empty() ? 0 : 1;
  h << "<p class=\"banner\" role=\"status\" id=\"import-summary\">"
    << h.e(fill_in(h.tr(N_("{1} line(s) checked: {2} ready, {3} to fix.")),
                   {std::to_string(checks.size()), std::to_string(ready), std::to_string(checks.size() - ready)}));
  if (!sent.empty()) {
    h << " " << h.e(fill_in(h.tr(N_("{1} request(s) sent.")), {std::to_string(sent_count)}));
  } else if (ready > 0) {
    h << " " << h.t(N_("Nothing was sent yet: review the lines, then send the ready ones with the button after the list."));
  }
  h << "</p>";
  // In a file of hundreds of lines, the few to fix are linked from the top.
  if (ready < checks.size()) {
    h << "<p id=\"import-to-fix\">" << h.t(N_("Lines to fix:"));
    for (const auto& check : checks) {
      if (check.ok()) continue;
      const auto number = std::to_string(check.line);
      h << " <a href=\"#line-" << number << "\">" << number << "</a>";
    }
    h << "</p>";
  }
  h << "<table class=\"cases\" id=\"import-lines\"><thead><tr><th>" << h.t(N_("Line")) << "</th><th>"
    << h.t(N_("Case reference")) << "</th><th>" << h.t(N_("Serial number")) << "</th><th>" << h.t(N_("Check"))
    << "</th></tr></thead><tbody>";
  for (std::size_t i = 0; i < checks.size(); ++i) {
    const auto& check = checks[i];
    h << "<tr class=\"" << (check.ok() ? "ok" : "invalid") << "\" id=\"line-" << std::to_string(check.line)
      << "\" data-line=\"" << std::to_string(check.line) << "\"><td>" << std::to_string(check.line) << "</td><td>" << h.e(check.case_reference) << "</td><td>"
      << h.e(check.serial_number) << "</td><td>";
    if (check.ok()) {
      h << h.e(fill_in(h.tr(N_("ready: identifier completeness {1}/100")), {std::to_string(check.completeness.score)}));
      if (!check.completeness.missing.empty()) {
        std::string missing;
        for (const auto& field : check.completeness.missing) missing += (missing.empty() ? "" : ", ") + field;
        h << h.e(fill_in(h.tr(N_(", missing: {1}")), {missing}));
      }
    } else {
      h << h.t(N_("to fix, not sent:")) << "<ul>";
      for (const auto& problem : check.problems) {
        h << "<li>";
        // A problem's text is translated when the catalogue holds it (the
        // import's own texts without values); the others are shown as written.
        const std::string message = h.tr(problem.message);
        if (!problem.column.empty()) h << h.e(fill_in(h.tr(N_("column {1}: {2}")), {problem.column, message}));
        else h << h.e(message);
        h << "</li>";
      }
      h << "</ul>";
    }
    for (const auto& warning : check.warnings) h << "<p class=\"warn\">" << h.e(warning) << "</p>";
    if (i < sent.size() && !sent[i].message_id.empty()) {
      h << "<p>" << h.t(N_("Sent:")) << " <a href=\"/case/" << h.e(sent[i].message_id) << "\">"
        << h.e(sent[i].message_id) << "</a></p>";
    } else if (i < sent.size() && !sent[i].refusal.empty()) {
      h << "<p class=\"warn\">" << h.t(N_("Not accepted by the exchange:")) << " " << h.e(sent[i].refusal) << "</p>";
    }
    h << "</td></tr>";
  }
  h << "</tbody></table>";
}

// The confirmation of a checked file: the same bytes sent back with
// action=send, checked again by the server before anything is sent (the
// file's lines may have become duplicates since), and only its ready lines sent.
void import_confirmation(Html& h, const PageContext& context, const ImportView& view, std::size_t ready) {
  h << "<form method=\"post\" action=\"/import\" enctype=\"multipart/form-data\" id=\"import-confirm\">";
  csrf_field(h, context);
  // The file checked goes back byte for byte, as base64 in a hidden field
  // (issue 14, after review). A textarea, as before, did not keep it: the
  // HTML parser reads every CR and CRLF as LF, a browser submits every line
  // break of a textarea as CRLF, and bytes that are not UTF-8 come back as
  // U+FFFD, so what was sent could differ from what the officer uploaded and
  // was shown as checked (a quoted field's line break, a Latin-1 letter).
  // Base64 holds only [A-Za-z0-9+/=]: nothing a browser normalises.
  h << "<input type=\"hidden\" name=\"" << kCheckedCsvField << "\" value=\""
    << h.e(note_base64_encode(ByteView(reinterpret_cast<const std::uint8_t*>(view.checked_csv.data()),
                                       view.checked_csv.size())))
    << "\">";
  if (view.send_anyway) h << "<input type=\"hidden\" name=\"force\" value=\"1\">";
  h << "<p>" << h.t(N_("The lines to fix are never sent: correct them in the file and import it again.")) << "</p>"
    << "<p><button type=\"submit\" name=\"action\" value=\"send\">"
    << h.e(fill_in(h.tr(N_("Send the {1} line(s) that are ready")), {std::to_string(ready)})) << "</button></p></form>";
}

}  // namespace

std::string import_page(const PageContext& context, const ImportView& view) {
  Html h(context.text);
  page_start(h, context, h.tr(N_("Import seized firearms (CSV)")), false);
  field_errors(h, view.error);
  if (view.checks != nullptr) {
    import_results(h, *view.checks, view.sent);
    std::size_t ready = 0;
    for (const auto& check : *view.checks) ready += check.ok() ? 1 : 0;
    if (view.sent.empty() && ready > 0 && !view.checked_csv.empty()) import_confirmation(h, context, view, ready);
  }
  // multipart: the file is sent as it is, never decoded as a form field.
  h << "<form method=\"post\" action=\"/import\" enctype=\"multipart/form-data\" id=\"import-form\">";
  csrf_field(h, context);
  h << "<div class=\"field\"><label for=\"f-csv\">" << h.t(N_("CSV file of seized firearms")) << "</label>"
    // The limit is written into the input for desk.js, which refuses a
    // larger file before it is sent (the server refuses it again, 413).
    << "<input id=\"f-csv\" name=\"csv\" type=\"file\" accept=\".csv,text/csv\" required aria-describedby=\"f-csv-help\""
    << " data-max-bytes=\"" << std::to_string(cli::kMaxImportBytes) << "\" data-message-size=\""
    << h.e(fill_in(h.tr(N_("The file is larger than the desk imports at once ({1} KiB, {2} lines of firearms): "
                            "split it into files of at most {2} lines and import each one.")),
                   {std::to_string(cli::kMaxImportBytes / 1024), std::to_string(cli::kMaxImportLines)}))
    << "\"><small id=\"f-csv-help\">"
    << h.e(fill_in(h.tr(N_("One firearm per line; the first line names the columns (below). The desk and `fpx trace "
                            "import` take files of up to {1} KiB and {2} lines: split a larger seizure into several "
                            "files.")),
                   {std::to_string(cli::kMaxImportBytes / 1024), std::to_string(cli::kMaxImportLines)}))
    << "</small></div>";
  h << "<div class=\"field\"><label><input type=\"checkbox\" name=\"force\" value=\"1\"> "
    << h.t(N_("Send a line even when it repeats an open request of our state")) << "</label></div>";
  h << "<p><button type=\"submit\" name=\"action\" value=\"check\">" << h.t(N_("Check the file")) << "</button> "
    << "<button type=\"submit\" name=\"action\" value=\"send\">" << h.t(N_("Check and send the lines that pass"))
    << "</button></p></form>";
  h << "<h2>" << h.t(N_("Columns")) << "</h2><p>"
    << h.t(N_("Any order, any subset; several values in one cell are separated by ';'. Enum values are written "
              "kebab-case (rifle-carbine). Requested states: NE:country-of-last-import;BF:country-of-manufacture."))
    << "</p><table class=\"cases\" id=\"import-columns\"><thead><tr><th>" << h.t(N_("Column")) << "</th><th>"
    << h.t(N_("What it holds")) << "</th></tr></thead><tbody>";
  for (const auto& column : cli::import_columns()) {
    h << "<tr><td><code>" << h.e(column.name) << "</code></td><td>" << h.t(column.help) << "</td></tr>";
  }
  h << "</tbody></table>";
  page_end(h);
  return h.str();
}

std::string notice_page(const PageContext& context, std::string_view title, std::string_view message) {
  Html h(context.text);
  page_start(h, context, title, false);
  h << "<p>" << h.e(message) << "</p><p><a href=\"/\">" << h.t(N_("Back to the inbox")) << "</a></p>";
  page_end(h);
  return h.str();
}

std::string inbox_page(const PageContext& context, const CaseFiles& files) {
  Html h(context.text);
  page_start(h, context, h.tr(N_("Inbox and what we owe")), true);
  const auto now = now_ms();

  h << "<section id=\"owed\"><h2>" << h.t(N_("What we owe")) << "</h2>"
    << "<p class=\"note\">"
    << h.t(N_("Clocks are the exchange's defaults: acknowledge within 3 days (urgent: 8 hours), answer within 30 days (urgent: 3 days)."))
    << "</p>";
  bool any = false;
  for (const auto& item : files.cases()) {
    if (!item.owed_by_us || item.answered_by_us || item.state == CaseState::closed || item.state == CaseState::withdrawn) {
      continue;
    }
    if (!any) {
      h << "<table class=\"cases\"><thead><tr><th>" << h.t(N_("Case reference")) << "</th><th>" << h.t(N_("From"))
        << "</th><th>" << h.t(N_("Received")) << "</th><th>" << h.t(N_("Priority")) << "</th><th>" << h.t(N_("Status"))
        << "</th><th>" << h.t(N_("Acknowledge by")) << "</th><th>" << h.t(N_("Answer by")) << "</th></tr></thead><tbody>";
      any = true;
    }
    const bool overdue = item.overdue(now);
    h << "<tr class=\"" << (overdue ? "overdue" : "") << (item.urgent ? " urgent" : "") << "\" data-case=\""
      << item.request->opened.message_id.hex() << "\"><td><a href=\"" << case_link(item) << "\">" << h.e(case_title(item))
      << "</a>" << (overdue ? " <span class=\"tag overdue\">" + h.t(N_("overdue")) + "</span>" : "") << "</td><td>"
      << h.e(item.request->opened.signer.participant.id.str()) << "</td><td>" << date_time(item.request->saved_at_ms)
      << "</td><td>" << h.e(label(context.text, item.request->opened.message.header().getPriority())) << "</td><td>"
      << h.e(state_label(h, item)) << "</td><td>"
      << (item.acknowledged_by_us ? h.t(N_("done")) : date_time(item.acknowledge_due_ms)) << "</td><td>"
      << date_time(item.respond_due_ms) << "</td></tr>";
  }
  h << (any ? "</tbody></table>" : "<p class=\"empty\">" + h.t(N_("Nothing owed: no open request waits for us.")) + "</p>")
    << "</section>";

  h << "<section id=\"ours\"><h2>" << h.t(N_("Our requests and other open cases")) << "</h2>";
  any = false;
  for (const auto& item : files.cases()) {
    if (item.owed_by_us || item.state == CaseState::closed || item.state == CaseState::withdrawn) continue;
    if (!any) {
      h << "<table class=\"cases\"><thead><tr><th>" << h.t(N_("Case reference")) << "</th><th>"
        << h.t(N_("Requested states")) << "</th><th>" << h.t(N_("Sent")) << "</th><th>" << h.t(N_("Status"))
        << "</th><th>" << h.t(N_("Messages")) << "</th></tr></thead><tbody>";
      any = true;
    }
    h << "<tr data-case=\"" << item.request->opened.message_id.hex() << "\"><td><a href=\"" << case_link(item) << "\">"
      << h.e(case_title(item)) << "</a></td><td>" << h.e(requested_states(item.request->opened)) << "</td><td>"
      << date_time(item.request->opened.created_at_ms) << "</td><td>" << h.e(state_label(h, item)) << "</td><td>"
      << std::to_string(item.thread.size()) << "</td></tr>";
  }
  h << (any ? "</tbody></table>" : "<p class=\"empty\">" + h.t(N_("No open case of ours.")) + "</p>") << "</section>";

  h << "<section id=\"closed\"><h2>" << h.t(N_("Closed cases")) << "</h2><ul>";
  for (const auto& item : files.cases()) {
    if (item.state != CaseState::closed && item.state != CaseState::withdrawn) continue;
    h << "<li data-case=\"" << item.request->opened.message_id.hex() << "\"><a href=\"" << case_link(item) << "\">"
      << h.e(case_title(item)) << "</a> · " << h.e(state_label(h, item)) << "</li>";
  }
  h << "</ul></section>";

  const auto loose = files.loose_messages();
  if (!loose.empty()) {
    h << "<section id=\"other\"><h2>" << h.t(N_("Other messages")) << "</h2><ul>";
    for (const auto* message : loose) {
      h << "<li>";
      const bool alert = message->opened.type == wire::MessageType::ALERT;
      if (alert) h << "<a href=\"/alert/" << message->opened.message_id.hex() << "\">";
      h << h.e(label(context.text, message->opened.type));
      if (alert) {
        h << ": " << h.e(label(context.text, message->opened.message.body().getAlert().getKind())) << "</a>";
      }
      h << " · " << h.e(message->opened.signer.participant.id.str()) << " · "
        << date_time(message->opened.created_at_ms) << "</li>";
    }
    h << "</ul></section>";
  }
  page_end(h);
  return h.str();
}

std::string case_page(const PageContext& context, const Case& item, const FormResult& result) {
  Html h(context.text);
  page_start(h, context, h.tr(N_("Case")) + " " + case_title(item), true);
  const auto& request = item.request->opened;
  h << "<p class=\"status\">" << h.t(N_("Status")) << ": <strong id=\"case-status\">" << h.e(state_label(h, item))
    << "</strong></p>";
  if (!result.notice.empty()) h << "<p class=\"banner ok\" role=\"status\">" << h.e(result.notice) << "</p>";
  render_header(h, context.text, request.message.header());

  h << "<section class=\"thread\"><h2>" << h.t(N_("The whole thread")) << "</h2>";
  for (const auto* message : item.thread) {
    const auto& opened = message->opened;
    h << "<article class=\"message\" data-type=\"" << h.e(enum_schema_name(opened.type)) << "\" data-id=\""
      << opened.message_id.hex() << "\"><h3>" << h.e(label(context.text, opened.type)) << "</h3><p class=\"meta\">"
      << h.t(N_("From")) << " " << h.e(opened.signer.participant.id.str()) << " ("
      << h.e(opened.signer.participant.country.str()) << ")";
    if (!opened.signer.participant.officer.empty()) h << ", " << h.t(N_("officer")) << " " << h.e(opened.signer.participant.officer);
    h << " · " << date_time(opened.created_at_ms) << " · <code title=\"" << h.t(N_("message id")) << "\">"
      << short_message_id(opened.message_id) << "</code></p>";
    render_body(h, context.text, *message);
    render_attachments(h, *message);
    h << "</article>";
  }
  h << "</section>";

  const bool finished = item.state == CaseState::closed || item.state == CaseState::withdrawn;
  const std::string base = case_link(item);
  const Form empty;
  auto values_for = [&](const std::string& form) -> const Form& {
    return result.form == form && result.values != nullptr ? *result.values : empty;
  };
  auto error_for = [&](const std::string& form) -> const Error* { return result.form == form ? result.error : nullptr; };

  if (item.owed_by_us && !finished) {
    if (!item.acknowledged_by_us) {
      const Form& values = values_for("ack");
      const Error* error = error_for("ack");
      h << "<section class=\"action\"><h2>" << h.t(N_("Acknowledge receipt")) << "</h2>";
      field_errors(h, error);
      h << "<form method=\"post\" action=\"" << base << "/ack\" id=\"ack-form\">";
      csrf_field(h, context);
      select<wire::AcknowledgementStatus>(h, values, error,
                                          {"status", N_("Status"), N_("Accepted, or say what is missing.")}, "accepted");
      input(h, values, error,
            {"expectedResponseDate", N_("Expected response date"), N_("When the requesting state can expect the answer.")},
            "date");
      input(h, values, error, {"pointOfContact", N_("Point of contact"), N_("Who to call about this case (default: your participant).")});
      textarea(h, values, error, {"missingFields", N_("Missing fields"), N_("With \"More information needed\": one field per line.")});
      h << "<button type=\"submit\">" << h.t(N_("Send the acknowledgement")) << "</button></form></section>";
    }
    if (!item.answered_by_us) {
      const Form& values = values_for("respond");
      const Error* error = error_for("respond");
      h << "<section class=\"action\"><h2>" << h.t(N_("Respond")) << "</h2>";
      field_errors(h, error);
      h << "<form method=\"post\" action=\"" << base << "/respond\" id=\"respond-form\">";
      csrf_field(h, context);
      select<wire::ResponseKind>(h, values, error, {"kind", N_("Kind"), N_("Interim: an update, more follows. Final: the answer.")},
                                 "final");
      select<wire::TracingOutcome>(h, values, error, {"outcome", N_("Outcome"), nullptr}, "partialChain");
      h << "<fieldset><legend>" << h.t(N_("Refusal or restriction grounds")) << "</legend>"
        << checkboxes<wire::RefusalGround>(h, "refusalGrounds", form_values(values, "refusalGrounds")) << "<small>"
        << h.t(N_("Required when the outcome is refused or restricted: the three grounds of the International Tracing Instrument."))
        << "</small></fieldset>";
      textarea(h, values, error, {"groundsExplanation", N_("Explanation"), N_("Why the answer is refused or restricted.")});
      h << "<fieldset><legend>" << h.t(N_("Chain of custody")) << "</legend>";
      for (std::size_t i = 0; i < kCustodyHopRows; ++i) {
        const std::string row = "chainOfCustody[" + std::to_string(i) + "].";
        h << "<div class=\"row\">";
        select<wire::CustodyRole>(h, values, error, {row + "role", N_("Role"), nullptr}, "manufacturer");
        input(h, values, error, {row + "entity", N_("Entity"), nullptr});
        input(h, values, error, {row + "country", N_("Country"), nullptr}, "text", " maxlength=\"2\" size=\"3\"");
        input(h, values, error, {row + "date", N_("Date"), nullptr}, "date");
        input(h, values, error, {row + "documentReference", N_("Licence or document"), nullptr});
        h << "</div>";
      }
      h << "</fieldset>";
      input(h, values, error, {"useRestrictions", N_("Use restrictions"), nullptr});
      input(h, values, error, {"nextUpdate", N_("Next update"), N_("With an interim response: when more follows.")}, "date");
      h << "<button type=\"submit\">" << h.t(N_("Send the response")) << "</button></form></section>";
    }
    // Where the request's handling codes allow it (the broker refuses any forward of an H2 request).
    const Form& values = values_for("forward");
    const Error* error = error_for("forward");
    h << "<section class=\"action\"><h2>" << h.t(N_("Forward to another state")) << "</h2>";
    field_errors(h, error);
    h << "<form method=\"post\" action=\"" << base << "/forward\" id=\"forward-form\">";
    csrf_field(h, context);
    input(h, values, error, {"toCountry", N_("State (ISO code)"), N_("Two letters, e.g. NE for Niger.")}, "text",
          " maxlength=\"2\" size=\"3\"");
    textarea(h, values, error, {"reason", N_("Reason"), N_("Why that state: e.g. the importer it named.")});
    h << "<button type=\"submit\">" << h.t(N_("Forward")) << "</button></form></section>";
  }
  if (!finished && request.signer.participant.id == context.me.id) {
    {
      const Form& values = values_for("supply");
      const Error* error = error_for("supply");
      h << "<section class=\"action\"><h2>" << h.t(N_("Information supplied")) << "</h2>";
      field_errors(h, error);
      h << "<form method=\"post\" action=\"" << base << "/supply\" id=\"supply-form\">";
      csrf_field(h, context);
      textarea(h, values, error,
               {"fields", N_("Fields supplied"),
                N_("One per line as path=value, the path as the acknowledgement listed it: firearms[0].calibre=7.62x39mm")});
      textarea(h, values, error, {"note", N_("Note"), nullptr});
      h << "<button type=\"submit\">" << h.t(N_("Send the information")) << "</button></form></section>";
    }
    {
      const Form& values = values_for("withdraw");
      const Error* error = error_for("withdraw");
      h << "<section class=\"action\"><h2>" << h.t(N_("Withdraw the request")) << "</h2>";
      field_errors(h, error);
      h << "<form method=\"post\" action=\"" << base << "/withdraw\" id=\"withdraw-form\">";
      csrf_field(h, context);
      textarea(h, values, error, {"reason", N_("Reason"), N_("For example: the firearm was traced through another channel.")});
      h << "<button type=\"submit\">" << h.t(N_("Withdraw the request")) << "</button></form></section>";
    }
    const Form& values = values_for("close");
    const Error* error = error_for("close");
    h << "<section class=\"action\"><h2>" << h.t(N_("Close the case")) << "</h2>";
    field_errors(h, error);
    h << "<form method=\"post\" action=\"" << base << "/close\" id=\"close-form\">";
    csrf_field(h, context);
    textarea(h, values, error, {"reason", N_("Reason"), N_("For example: answer received, investigation finished.")});
    h << "<button type=\"submit\">" << h.t(N_("Close the case")) << "</button></form></section>";
  }
  page_end(h);
  return h.str();
}

std::string new_request_page(const PageContext& context, const Form& values, const Error* error) {
  Html h(context.text);
  page_start(h, context, h.tr(N_("New tracing request")), false);
  field_errors(h, error);
  // multipart: the form carries attachments (issue 17); its text fields
  // are read as the url-encoded ones are.
  h << "<form method=\"post\" action=\"/new\" id=\"request-form\" enctype=\"multipart/form-data\">";
  csrf_field(h, context);
  h << "<fieldset><legend>" << h.t(N_("The case")) << "</legend>";
  input(h, values, error,
        {"header.caseReference", N_("Case reference"), N_("Your national case reference, e.g. SN-ZIG-2026-0142.")},
        "text", " required");
  select<wire::Priority>(h, values, error, {"header.priority", N_("Priority"), nullptr}, "routine");
  input(h, values, error,
        {"header.urgencyJustification", N_("Why urgent"), N_("Required for an urgent request: an urgent clock is 8 hours.")});
  select<wire::Classification>(h, values, error, {"header.classification", N_("Classification"), nullptr}, "restricted");
  h << "<fieldset><legend>" << h.t(N_("Handling codes")) << "</legend>"
    << checkboxes<wire::HandlingCode>(h, "header.handlingCodes", form_values(values, "header.handlingCodes"))
    << "</fieldset>";
  input(h, values, error, {"header.handlingConditions", N_("H3 conditions"), N_("The conditions, with H3.")});
  h << "<div class=\"row\">";
  select<wire::OtherChannel>(h, values, error,
                             {"header.otherChannelReferences[0].channel", N_("Also sent through"), nullptr}, "iarms");
  input(h, values, error,
        {"header.otherChannelReferences[0].reference", N_("Reference there"),
         N_("The same matter in iARMS, eTrace, SIENA or a national system: it avoids duplicate requests.")});
  h << "</div></fieldset>";

  h << "<fieldset><legend>" << h.t(N_("Requested states")) << "</legend>";
  for (std::size_t i = 0; i < kRequestedStateRows; ++i) {
    const std::string row = "requestedStates[" + std::to_string(i) + "].";
    h << "<div class=\"row\">";
    input(h, values, error,
          {row + "country", N_("State (ISO code)"), i == 0 ? N_("Two letters, e.g. NE for Niger.") : nullptr}, "text",
          " maxlength=\"2\" size=\"3\"");
    select<wire::RequestedStateRole>(h, values, error, {row + "role", N_("Its role"), nullptr}, "countryOfManufacture");
    h << "</div>";
  }
  h << "</fieldset>";

  h << "<fieldset id=\"firearm\"><legend>" << h.t(N_("The firearm")) << "</legend>";
  const std::string f = "firearms[0].";
  input(h, values, error, {f + "serialNumber", N_("Serial number"), N_("Exactly as marked, with letters and dashes.")});
  select<wire::SerialState>(h, values, error, {f + "serialState", N_("State of the serial number"), nullptr}, "intact");
  input(h, values, error, {f + "manufacturer", N_("Manufacturer (as marked)"), N_("The name or logo as marked on the weapon.")});
  input(h, values, error, {f + "countryOfManufacture", N_("Country of manufacture"), N_("ISO code, e.g. BF.")}, "text",
        " maxlength=\"2\" size=\"3\"");
  input(h, values, error, {f + "model", N_("Model"), nullptr});
  select<wire::FirearmType>(h, values, error, {f + "type", N_("Type"), nullptr}, "unspecified");
  input(h, values, error, {f + "calibre", N_("Calibre or gauge"), N_("For example 7.62x39mm or 12 gauge.")});
  h << "<div class=\"row\">";
  input(h, values, error, {f + "importMarking.country", N_("Import marking: country"), nullptr}, "text",
        " maxlength=\"2\" size=\"3\"");
  input(h, values, error, {f + "importMarking.year", N_("Import marking: year"), nullptr}, "text",
        " inputmode=\"numeric\" size=\"5\"");
  input(h, values, error, {f + "yearOfManufacture", N_("Year of manufacture"), nullptr}, "text",
        " inputmode=\"numeric\" size=\"5\"");
  h << "</div>";
  textarea(h, values, error, {f + "otherMarkings", N_("Other markings"), N_("Crests, proof marks, state-stock marks.")});
  h << "<output id=\"completeness\" aria-live=\"polite\" for=\"firearm\">"
    << h.t(N_("Identifier completeness: type the markings to see what is missing.")) << "</output>";
  h << "</fieldset>";

  h << "<fieldset><legend>" << h.t(N_("Why it is illicit")) << "</legend>"
    << checkboxes<wire::IllicitBasis>(h, "illicitBasis", form_values(values, "illicitBasis")) << "</fieldset>";
  textarea(h, values, error,
           {"legalJustification", N_("Legal justification"), N_("The law and the facts, e.g. the article of the penal code.")});
  h << "<fieldset><legend>" << h.t(N_("Recovery")) << "</legend><div class=\"row\">";
  input(h, values, error, {"recovery.date", N_("Recovered on"), nullptr}, "date");
  input(h, values, error, {"recovery.administrativeArea", N_("Where"), N_("Region or district.")});
  select<wire::RecoveryCircumstance>(h, values, error, {"recovery.circumstance", N_("How"), nullptr}, "seized");
  input(h, values, error, {"recovery.crimeCategory", N_("Crime category"), nullptr});
  h << "</div></fieldset>";
  input(h, values, error, {"intendedUse", N_("Intended use of the information"), N_("E.g. criminal investigation and prosecution.")});
  h << "<fieldset><legend>" << h.t(N_("Information sought")) << "</legend>"
    << checkboxes<wire::InformationSought>(h, "informationSought", form_values(values, "informationSought"))
    << "</fieldset>";
  // Issue 17: photos of markings and documents. desk.js checks type, size
  // and count in the browser from these data- limits; the server checks
  // again (make_attachment: magic bytes, not the name) and so does the broker.
  h << "<fieldset id=\"attachments\"><legend>" << h.t(N_("Attachments")) << "</legend><div class=\"field\">"
    << "<label for=\"f-attachments\">" << h.t(N_("Photos of markings and documents")) << "</label>"
    << "<input type=\"file\" id=\"f-attachments\" name=\"attachments\" multiple "
    << "accept=\"image/jpeg,image/png,application/pdf,.jpg,.jpeg,.png,.pdf\" data-max-files=\""
    << std::to_string(kMaxAttachments) << "\" data-max-bytes=\"" << std::to_string(kMaxAttachmentBytes)
    << "\" data-max-total-bytes=\"" << std::to_string(kMaxAttachmentBytesPerMessage) << "\" data-message-type=\""
    << h.t(N_("Only JPEG, PNG and PDF files may be attached.")) << "\" data-message-size=\""
    << h.t(N_("An attachment may hold at most 512 KiB, and all of them together 768 KiB, in at most 8 files."))
    << "\"><small>" << h.t(N_("JPEG, PNG or PDF; at most 512 KiB each, 768 KiB together, 8 files. Sent again if the form has to be corrected."))
    << "</small></div></fieldset>";
  if (field_has_error(error, "duplicate")) {
    // Shown only once the duplicate warning named the open request.
    h << "<div class=\"field\"><label><input type=\"checkbox\" id=\"f-duplicate\" name=\"force\" value=\"1\"> "
      << h.t(N_("Send anyway: this is not the same matter as the open request.")) << "</label></div>";
  }
  h << "<button type=\"submit\">" << h.t(N_("Send the tracing request")) << "</button></form>";
  page_end(h);
  return h.str();
}

std::string alert_page(const PageContext& context, const CaseFiles& files, const CaseMessage& alert,
                       const FormResult& result) {
  Html h(context.text);
  const auto& opened = alert.opened;
  page_start(h, context, h.tr(N_("Alert")) + ": " + label(context.text, opened.message.body().getAlert().getKind()), true);
  if (!result.notice.empty()) h << "<p class=\"banner ok\" role=\"status\">" << h.e(result.notice) << "</p>";
  h << "<p class=\"meta\">" << h.t(N_("From")) << " " << h.e(opened.signer.participant.id.str()) << " ("
    << h.e(opened.signer.participant.country.str()) << ") · " << date_time(opened.created_at_ms) << "</p>";
  render_header(h, context.text, opened.message.header());
  h << "<article class=\"message\" id=\"alert\" data-type=\"alert\">";
  render_body(h, context.text, alert);
  h << "</article>";
  // Cancellations of it, from the profile's files.
  const CaseMessage* cancelled_by = nullptr;
  for (const auto* other : files.loose_messages()) {
    if (other->in_reply_to == opened.message_id && other->opened.type == wire::MessageType::ALERT &&
        other->opened.message.body().getAlert().getKind() == wire::AlertKind::CANCEL) {
      cancelled_by = other;
    }
  }
  if (cancelled_by != nullptr) {
    h << "<p class=\"status\" id=\"alert-cancelled\">" << h.t(N_("Cancelled")) << " · "
      << date_time(cancelled_by->opened.created_at_ms) << ": "
      << h.e(cancelled_by->opened.message.body().getAlert().getSummary().cStr()) << "</p>";
  } else if (opened.signer.participant.country == context.me.country &&
             opened.message.body().getAlert().getKind() != wire::AlertKind::CANCEL) {
    const Form empty;
    const Form& values = result.form == "cancel" && result.values != nullptr ? *result.values : empty;
    const Error* error = result.form == "cancel" ? result.error : nullptr;
    h << "<section class=\"action\"><h2>" << h.t(N_("Cancel the alert")) << "</h2>";
    field_errors(h, error);
    h << "<form method=\"post\" action=\"/alert/" << opened.message_id.hex() << "/cancel\" id=\"cancel-form\">";
    csrf_field(h, context);
    textarea(h, values, error, {"summary", N_("Reason"), N_("What is cancelled and why, e.g. the rifles were recovered.")});
    h << "<button type=\"submit\">" << h.t(N_("Cancel the alert")) << "</button></form></section>";
  }
  page_end(h);
  return h.str();
}

std::string new_alert_page(const PageContext& context, const Form& values, const Error* error) {
  Html h(context.text);
  page_start(h, context, h.tr(N_("New alert")), false);
  field_errors(h, error);
  h << "<form method=\"post\" action=\"/alerts/new\" id=\"alert-form\">";
  csrf_field(h, context);
  h << "<fieldset><legend>" << h.t(N_("The alert")) << "</legend>";
  select<wire::AlertKind>(h, values, error, {"kind", N_("Kind"), nullptr}, "stolen");
  input(h, values, error, {"header.caseReference", N_("Case reference"), nullptr});
  select<wire::Priority>(h, values, error, {"header.priority", N_("Priority"), nullptr}, "routine");
  input(h, values, error, {"header.urgencyJustification", N_("Why urgent"), nullptr});
  select<wire::Classification>(h, values, error, {"header.classification", N_("Classification"), nullptr}, "restricted");
  h << "<fieldset><legend>" << h.t(N_("Handling codes")) << "</legend>"
    << checkboxes<wire::HandlingCode>(h, "header.handlingCodes", form_values(values, "header.handlingCodes"))
    << "</fieldset><div class=\"row\">";
  input(h, values, error, {"recipientRegion", N_("To the region"), N_("A region the exchange knows, e.g. Sahel.")});
  input(h, values, error, {"recipientCountry", N_("Or to the state (ISO code)"), nullptr}, "text",
        " maxlength=\"2\" size=\"3\"");
  h << "</div></fieldset><fieldset><legend>" << h.t(N_("The firearm")) << "</legend>";
  const std::string f = "firearms[0].";
  input(h, values, error, {f + "serialNumber", N_("Serial number"), nullptr});
  input(h, values, error, {f + "manufacturer", N_("Manufacturer (as marked)"), nullptr});
  input(h, values, error, {f + "countryOfManufacture", N_("Country of manufacture"), nullptr}, "text",
        " maxlength=\"2\" size=\"3\"");
  input(h, values, error, {f + "model", N_("Model"), nullptr});
  select<wire::FirearmType>(h, values, error, {f + "type", N_("Type"), nullptr}, "unspecified");
  input(h, values, error, {f + "calibre", N_("Calibre or gauge"), nullptr});
  input(h, values, error, {f + "stateStockMarking", N_("State-stock marking"), nullptr});
  h << "</fieldset><fieldset><legend>" << h.t(N_("Batch")) << "</legend><div class=\"row\">";
  input(h, values, error, {"batch.description", N_("Batch"), nullptr});
  input(h, values, error, {"batch.quantity", N_("Quantity"), nullptr}, "text", " inputmode=\"numeric\" size=\"5\"");
  h << "</div></fieldset><div class=\"row\">";
  input(h, values, error, {"place", N_("Where"), nullptr});
  input(h, values, error, {"region", N_("Region"), nullptr});
  input(h, values, error, {"occurredOn", N_("Occurred on"), nullptr}, "date");
  input(h, values, error, {"validUntil", N_("Valid until"), nullptr}, "date");
  h << "</div>";
  textarea(h, values, error, {"summary", N_("Summary"), N_("What happened, for the states the alert reaches.")});
  h << "<div class=\"field\"><label><input type=\"checkbox\" name=\"publishable\" value=\"1\""
    << (form_value(values, "publishable") == "1" ? " checked" : "") << "> "
    << h.t(N_("Publish a redacted version on the public oversight feed")) << "</label></div>";
  // Issue 12: the only free text the public feed carries (docs/PROTOCOL.md §5.3.1).
  textarea(h, values, error,
           {"publicSummary", N_("Public summary"),
            N_("Only with the box above: at most 280 characters, one line, shown to the public. Name no person, "
               "case or investigation.")});
  h << "<button type=\"submit\">" << h.t(N_("Send the alert")) << "</button></form>";
  page_end(h);
  return h.str();
}

std::string search_page(const PageContext& context, const Form& values, const std::vector<const Case*>* found) {
  Html h(context.text);
  page_start(h, context, h.tr(N_("Search")), false);
  h << "<form method=\"get\" action=\"/search\" id=\"search-form\"><div class=\"row\">";
  input(h, values, nullptr, {"serial", N_("Serial number"), nullptr});
  input(h, values, nullptr, {"manufacturer", N_("Manufacturer"), nullptr});
  input(h, values, nullptr, {"caseReference", N_("Case reference"), nullptr});
  input(h, values, nullptr, {"state", N_("State (ISO code)"), nullptr}, "text", " maxlength=\"2\" size=\"3\"");
  h << "</div><div class=\"row\"><div class=\"field\"><label for=\"f-status\">" << h.t(N_("Status"))
    << "</label><select id=\"f-status\" name=\"status\"><option value=\"\">" << h.t(N_("(choose)")) << "</option>";
  const std::string status = form_value(values, "status");
  for (const auto state : {CaseState::awaiting_acknowledgement, CaseState::acknowledged, CaseState::interim,
                           CaseState::answered, CaseState::withdrawn, CaseState::closed}) {
    Case probe;
    probe.state = state;
    const std::string name(case_state_name(state));
    h << "<option value=\"" << name << "\"" << (status == name ? " selected" : "") << ">"
      << h.e(state_label(h, probe)) << "</option>";
  }
  h << "</select></div>";
  input(h, values, nullptr, {"from", N_("From"), nullptr}, "date");
  input(h, values, nullptr, {"until", N_("Until"), nullptr}, "date");
  h << "</div><button type=\"submit\">" << h.t(N_("Search")) << "</button></form>";
  if (found != nullptr) {
    if (found->empty()) {
      h << "<p id=\"search-none\">" << h.t(N_("No case matches the search.")) << "</p>";
    } else {
      h << "<table class=\"cases\" id=\"search-results\"><thead><tr><th>" << h.t(N_("Case reference")) << "</th><th>"
        << h.t(N_("From")) << "</th><th>" << h.t(N_("Received")) << "</th><th>" << h.t(N_("Requested states"))
        << "</th><th>" << h.t(N_("Status")) << "</th></tr></thead><tbody>";
      for (const Case* item : *found) {
        h << "<tr><td><a href=\"" << case_link(*item) << "\">" << h.e(case_title(*item)) << "</a></td><td>"
          << h.e(item->request->opened.signer.participant.id.str()) << "</td><td>"
          << date_time(item->request->opened.created_at_ms) << "</td><td>" << h.e(requested_states(item->request->opened))
          << "</td><td>" << h.e(state_label(h, *item)) << "</td></tr>";
      }
      h << "</tbody></table>";
    }
  }
  page_end(h);
  return h.str();
}

std::string sent_page(const PageContext& context, const SendOutcome& outcome, const std::string& case_link_path) {
  Html h(context.text);
  page_start(h, context, h.tr(N_("Sent")), false);
  h << "<p class=\"banner ok\" role=\"status\" id=\"sent\">"
    << h.t(N_("Accepted: the exchange stored it durably and signed a receipt.")) << "</p>";
  if (outcome.message_id) h << "<p>" << h.t(N_("message id")) << ": <code>" << outcome.message_id->hex() << "</code></p>";
  h << "<p><a href=\"" << h.e(case_link_path) << "\" id=\"open-case\">" << h.t(N_("Open the case")) << "</a></p>";
  page_end(h);
  return h.str();
}

std::string completeness_json(const text::Catalogue& text, const Form& fields) {
  capnp::MallocMessageBuilder message;
  auto firearm = message.initRoot<wire::Firearm>();
  const std::string f = "firearms[0].";
  firearm.setSerialNumber(form_value(fields, f + "serialNumber"));
  if (auto state = cli::parse_enum<wire::SerialState>(form_value(fields, f + "serialState"))) firearm.setSerialState(*state);
  firearm.setManufacturer(form_value(fields, f + "manufacturer"));
  firearm.setCountryOfManufacture(form_value(fields, f + "countryOfManufacture"));
  firearm.setModel(form_value(fields, f + "model"));
  if (auto type = cli::parse_enum<wire::FirearmType>(form_value(fields, f + "type"))) firearm.setType(*type);
  firearm.setCalibre(form_value(fields, f + "calibre"));
  firearm.initImportMarking().setCountry(form_value(fields, f + "importMarking.country"));
  firearm.setOtherMarkings(form_value(fields, f + "otherMarkings"));
  const auto report = firearm_completeness(firearm.asReader());
  nlohmann::json missing = nlohmann::json::array();
  for (const auto& field : report.missing) {
    std::string shown = field;
    for (const auto& [name, english] : kFirearmFields) {
      if (field == name) shown = text.tr(english);
    }
    missing.push_back(shown);
  }
  return nlohmann::json{{"score", report.score},
                        {"label", std::string(text.tr(N_("Identifier completeness")))},
                        {"missingLabel", std::string(text.tr(N_("missing")))},
                        {"missing", missing}}
      .dump();
}

}  // namespace fpx::desk
