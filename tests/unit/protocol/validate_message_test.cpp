// validate_message(): one passing and one failing case per rule, each failing
// case asserting the exact field path, so that a sender can rely on the paths.
#include <capnp/message.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "fpx/serial_range.hpp"
#include "fpx/validate.hpp"

namespace wire = fpx::wire;

namespace {

// 2023-11-14T22:13:20Z: "today" for every date rule below.
constexpr std::int64_t kNowMs = 1'700'000'000'000;
constexpr std::int64_t kFiveMinutesMs = 5 * 60 * 1000;

using Paths = std::vector<std::string>;
const Paths kNoErrors{};

void fill(capnp::Data::Builder bytes, kj::byte value = 0x42) {
  std::fill(bytes.begin(), bytes.end(), value);
}

void set_date(wire::Date::Builder date, int year, int month, int day) {
  date.setYear(static_cast<std::uint16_t>(year));
  date.setMonth(static_cast<std::uint8_t>(month));
  date.setDay(static_cast<std::uint8_t>(day));
}

capnp::Text::Reader text(const std::string& value) { return {value.data(), value.size()}; }

// Every identifier a trace can use.
void describe_full_firearm(wire::Firearm::Builder firearm) {
  firearm.setSerialNumber("AK-123456");
  firearm.setSerialState(wire::SerialState::INTACT);
  firearm.setManufacturer("Example Arms Works");
  firearm.setCountryOfManufacture("BF");
  firearm.setPlaceOfManufacture("Ouagadougou");
  firearm.setModel("M70");
  firearm.setType(wire::FirearmType::ASSAULT_RIFLE);
  firearm.setCalibre("7.62x39mm");
  firearm.getImportMarking().setCountry("NE");
  firearm.getImportMarking().setYear(2015);
  firearm.setYearOfManufacture(2012);
  firearm.setOtherMarkings("proof mark on the receiver");
  firearm.getComponentSerials().setFrame("F-123456");
  firearm.getComponentSerials().setBarrel("B-123456");
}

// The smallest description the validator accepts.
void describe_minimal_firearm(wire::Firearm::Builder firearm) {
  firearm.setSerialNumber("X1");
  firearm.setType(wire::FirearmType::REVOLVER);
}

// A header and body that break no rule, starting as the demo's tracing
// request from the SN agency to NE and BF; make_*() turn it into a valid
// message of another type. Tests then break one field each.
class Message {
 public:
  Message() {
    auto h = header();
    h.setSchemaVersion(1);
    fill(h.initMessageId(16));
    h.setType(wire::MessageType::TRACING_REQUEST);
    h.setCreatedAtMs(kNowMs - 1000);
    h.setSenderParticipant("sn.police-judiciaire");
    h.setSenderCountry("SN");
    auto recipients = h.initRecipients(2);
    recipients[0].setCountry("NE");
    recipients[1].setCountry("BF");
    h.setCaseReference("SN-2023-0042");
    h.setClassification(wire::Classification::RESTRICTED);
    h.initHandlingCodes(1).set(0, wire::HandlingCode::H0_CRIME_FIGHTING_ONLY);
    fill(h.initBodySha256(32), 0x17);

    auto request = body().initTracingRequest();
    request.setRequestingCountry("SN");
    request.setRequestingAgency("Police judiciaire");
    request.setNationalCaseReference("PJ/ZIG/2023/118");
    auto states = request.initRequestedStates(2);
    states[0].setCountry("NE");
    states[0].setRole(wire::RequestedStateRole::COUNTRY_OF_LAST_IMPORT);
    states[1].setCountry("BF");
    states[1].setRole(wire::RequestedStateRole::COUNTRY_OF_MANUFACTURE);
    describe_full_firearm(request.initFirearms(1)[0]);
    request.initIllicitBasis(1).set(0, wire::IllicitBasis::ILLICIT_UNDER_NATIONAL_LAW);
    request.setLegalJustification("Possession without a licence, Law 66-03 art. 5");
    auto recovery = request.getRecovery();
    set_date(recovery.getDate(), 2023, 10, 2);
    recovery.setAdministrativeArea("Ziguinchor");
    recovery.setCircumstance(wire::RecoveryCircumstance::SEIZED);
    recovery.setCrimeCategory("armed robbery");
    request.setIntendedUse("Criminal investigation and prosecution");
    auto sought = request.initInformationSought(2);
    sought.set(0, wire::InformationSought::CHAIN_OF_CUSTODY);
    sought.set(1, wire::InformationSought::POINT_OF_DIVERSION);
  }

  wire::Header::Builder header() { return header_.getRoot<wire::Header>(); }
  wire::Body::Builder body() { return body_.getRoot<wire::Body>(); }
  wire::TracingRequest::Builder request() { return body().getTracingRequest(); }
  wire::Firearm::Builder firearm() { return request().getFirearms()[0]; }

  std::vector<fpx::FieldError> errors() {
    return fpx::validate_message(header().asReader(), body().asReader(),
                                 fpx::ValidationContext{kNowMs});
  }
  Paths paths() {
    Paths out;
    for (const auto& error : errors()) out.push_back(error.path);
    return out;
  }

  wire::TracingAcknowledgement::Builder make_acknowledgement() {
    reply_from("ne.focal-point", "NE", wire::MessageType::TRACING_ACKNOWLEDGEMENT);
    auto ack = body().initTracingAcknowledgement();
    ack.setReceivedAtMs(kNowMs - 60'000);
    ack.setStatus(wire::AcknowledgementStatus::ACCEPTED);
    set_date(ack.getExpectedResponseDate(), 2023, 12, 14);
    ack.setPointOfContact("Bureau des armes, +227 20 00 00 00");
    return ack;
  }

  wire::TracingResponse::Builder make_response() {
    reply_from("ne.focal-point", "NE", wire::MessageType::TRACING_RESPONSE);
    auto response = body().initTracingResponse();
    response.setKind(wire::ResponseKind::INTERIM);
    response.setOutcome(wire::TracingOutcome::PARTIAL_CHAIN);
    auto hop = response.initChainOfCustody(1)[0];
    hop.setRole(wire::CustodyRole::IMPORTER);
    hop.setEntity("Sahel Import SARL");
    hop.setCountry("NE");
    set_date(hop.getDate(), 2015, 3, 1);
    hop.setDocumentReference("IMP-2015-77");
    set_date(response.getNextUpdate(), 2023, 12, 15);
    return response;
  }

  wire::Alert::Builder make_alert() {
    send_from("bf.focal-point", "BF", wire::MessageType::ALERT);
    header().initRecipients(1)[0].setRegion("ECOWAS");
    auto alert = body().initAlert();
    alert.setKind(wire::AlertKind::STOLEN);
    alert.getBatch().setDescription("Rifles stolen from a police armoury");
    alert.getBatch().setQuantity(40);
    alert.setPlace("Armoury, Ouahigouya");
    alert.setRegion("Sahel");
    set_date(alert.getOccurredOn(), 2023, 11, 1);
    set_date(alert.getValidUntil(), 2024, 5, 1);
    alert.setSummary("Batch of 40 rifles stolen");
    return alert;
  }

  wire::CampaignReport::Builder make_campaign_report() {
    send_from("sn.focal-point", "SN", wire::MessageType::CAMPAIGN_REPORT);
    header().initRecipients(0);
    header().setClassification(wire::Classification::PUBLIC);
    auto report = body().initCampaignReport();
    report.setCountry("SN");
    report.setCommission("Commission nationale de lutte contre la prolifération des armes");
    auto regions = report.initRegions(3);
    regions.set(0, "Fatick");
    regions.set(1, "Thiès");
    regions.set(2, "Ziguinchor");
    set_date(report.getPeriodStart(), 2018, 2, 1);
    set_date(report.getPeriodEnd(), 2018, 12, 31);
    report.setWeaponsCollected(500);
    report.setWeaponsDestroyed(450);
    report.initCommunityPartners(1).set(0, "Association des femmes de Ziguinchor");
    return report;
  }

  wire::InformationSupplied::Builder make_information_supplied() {
    reply_from("sn.police-judiciaire", "SN", wire::MessageType::INFORMATION_SUPPLIED);
    auto supplied = body().initInformationSupplied();
    auto field = supplied.initFields(1)[0];
    field.setPath("body.tracingRequest.firearms[0].calibre");
    field.setValue("7.62x39mm");
    return supplied;
  }

  wire::Forward::Builder make_forward() {
    reply_from("ne.focal-point", "NE", wire::MessageType::FORWARD);
    auto forward = body().initForward();
    forward.setToCountry("ML");
    forward.setReason("The importer's records show a re-export to ML");
    return forward;
  }

  wire::Withdraw::Builder make_withdraw() {
    reply_from("sn.police-judiciaire", "SN", wire::MessageType::WITHDRAW);
    auto withdraw = body().initWithdraw();
    withdraw.setReason("Duplicate of an iARMS request");
    return withdraw;
  }

  wire::Close::Builder make_close() {
    reply_from("sn.police-judiciaire", "SN", wire::MessageType::CLOSE);
    auto close = body().initClose();
    close.setReason("Trace complete");
    return close;
  }

  wire::HitNotification::Builder make_hit_notification() {
    send_from("fpx.broker", "SN", wire::MessageType::HIT_NOTIFICATION);
    auto hit = body().initHitNotification();
    fill(hit.initAlertMessageId(16), 1);
    fill(hit.initRequestMessageId(16), 2);
    hit.setMatchedSerial("AK-123456");
    return hit;
  }

  wire::Reminder::Builder make_reminder() {
    reply_from("fpx.broker", "SN", wire::MessageType::REMINDER);
    auto reminder = body().initReminder();
    fill(reminder.initRequestMessageId(16), 2);
    reminder.setRequestedCountry("BF");
    reminder.setClock(wire::ClockKind::ACKNOWLEDGEMENT);
    reminder.setDueAtMs(kNowMs - 1000);
    return reminder;
  }

  wire::Escalation::Builder make_escalation() {
    reply_from("fpx.broker", "SN", wire::MessageType::ESCALATION);
    auto escalation = body().initEscalation();
    fill(escalation.initRequestMessageId(16), 2);
    escalation.setRequestedCountry("BF");
    escalation.setClock(wire::ClockKind::RESPONSE);
    escalation.setDueAtMs(kNowMs - 2000);
    escalation.setOverdueMs(2000);
    return escalation;
  }

  wire::DeadLetterNotice::Builder make_dead_letter_notice() {
    send_from("fpx.broker", "SN", wire::MessageType::DEAD_LETTER_NOTICE);
    auto notice = body().initDeadLetterNotice();
    fill(notice.initMessageId(16), 2);
    notice.setRecipient("bf.focal-point");
    notice.setReason("Not collected before the maximum hold time");
    notice.setHeldUntilMs(kNowMs - 1000);
    return notice;
  }

  // Any of the types above, for rules that apply to several.
  void make(wire::MessageType type) {
    switch (type) {
      case wire::MessageType::TRACING_ACKNOWLEDGEMENT: make_acknowledgement(); break;
      case wire::MessageType::TRACING_RESPONSE: make_response(); break;
      case wire::MessageType::ALERT: make_alert(); break;
      case wire::MessageType::CAMPAIGN_REPORT: make_campaign_report(); break;
      case wire::MessageType::INFORMATION_SUPPLIED: make_information_supplied(); break;
      case wire::MessageType::FORWARD: make_forward(); break;
      case wire::MessageType::WITHDRAW: make_withdraw(); break;
      case wire::MessageType::CLOSE: make_close(); break;
      case wire::MessageType::HIT_NOTIFICATION: make_hit_notification(); break;
      case wire::MessageType::REMINDER: make_reminder(); break;
      case wire::MessageType::ESCALATION: make_escalation(); break;
      case wire::MessageType::DEAD_LETTER_NOTICE: make_dead_letter_notice(); break;
      default: break;  // stays a tracing request
    }
  }

 private:
  void send_from(const char* participant, const char* country, wire::MessageType type) {
    auto h = header();
    h.setSenderParticipant(participant);
    h.setSenderCountry(country);
    h.setType(type);
    h.initRecipients(1)[0].setParticipant("sn.police-judiciaire");
  }
  void reply_from(const char* participant, const char* country, wire::MessageType type) {
    send_from(participant, country, type);
    fill(header().initInReplyTo(16), 0x42);
  }

  capnp::MallocMessageBuilder header_;
  capnp::MallocMessageBuilder body_;
};

Paths only(std::string path) { return Paths{std::move(path)}; }

}  // namespace

// ---- Valid messages ------------------------------------------------------------------

TEST_CASE("A complete tracing request breaks no rule") {
  Message message;
  CHECK(message.paths() == kNoErrors);
}

TEST_CASE("A valid message of every type breaks no rule") {
  const auto type = GENERATE(
      wire::MessageType::TRACING_ACKNOWLEDGEMENT, wire::MessageType::TRACING_RESPONSE,
      wire::MessageType::ALERT, wire::MessageType::CAMPAIGN_REPORT,
      wire::MessageType::INFORMATION_SUPPLIED, wire::MessageType::FORWARD,
      wire::MessageType::WITHDRAW, wire::MessageType::CLOSE, wire::MessageType::HIT_NOTIFICATION,
      wire::MessageType::REMINDER, wire::MessageType::ESCALATION,
      wire::MessageType::DEAD_LETTER_NOTICE);
  CAPTURE(static_cast<int>(type));
  Message message;
  message.make(type);
  CHECK(message.paths() == kNoErrors);
}

// ---- Header ----------------------------------------------------------------------------

TEST_CASE("The schema version must be 1") {
  Message message;
  message.header().setSchemaVersion(1);
  CHECK(message.paths() == kNoErrors);
  message.header().setSchemaVersion(2);
  CHECK(message.paths() == only("header.schemaVersion"));
}

TEST_CASE("The message id must be exactly 16 bytes") {
  Message message;
  const auto size = GENERATE(0u, 15u, 17u);
  fill(message.header().initMessageId(size));
  CHECK(message.paths() == only("header.messageId"));
  fill(message.header().initMessageId(16));
  CHECK(message.paths() == kNoErrors);
}

TEST_CASE("The header type must match the body") {
  Message message;
  message.header().setType(wire::MessageType::ALERT);
  const auto errors = message.errors();
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].path == "header.type");
  CHECK(errors[0].message == "is alert but the body is a tracingRequest: set it to tracingRequest");
  message.header().setType(wire::MessageType::TRACING_REQUEST);
  CHECK(message.paths() == kNoErrors);
}

TEST_CASE("The creation time must be after 2020 and at most five minutes ahead of the broker") {
  Message message;
  message.header().setCreatedAtMs(kNowMs + kFiveMinutesMs);
  CHECK(message.paths() == kNoErrors);
  message.header().setCreatedAtMs(1'577'836'800'000);  // 2020-01-01T00:00:00Z
  CHECK(message.paths() == kNoErrors);
  message.header().setCreatedAtMs(kNowMs + kFiveMinutesMs + 1);
  CHECK(message.paths() == only("header.createdAtMs"));
  message.header().setCreatedAtMs(1'577'836'799'999);
  CHECK(message.paths() == only("header.createdAtMs"));
}

TEST_CASE("A caller that judges future creation times itself (the broker) is not also told by the validator") {
  Message message;
  message.header().setCreatedAtMs(kNowMs + 3'600'000);
  auto judged_by_caller = [&] {
    return fpx::validate_message(message.header().asReader(), message.body().asReader(),
                                 fpx::ValidationContext{kNowMs, fpx::FutureTimestamps::judged_by_caller});
  };
  CHECK(judged_by_caller().empty());
  CHECK(message.paths() == only("header.createdAtMs"));  // the default context still refuses it
  message.header().setCreatedAtMs(1'577'836'799'999);   // before 2020: refused either way
  REQUIRE(judged_by_caller().size() == 1);
  CHECK(judged_by_caller()[0].path == "header.createdAtMs");
}

TEST_CASE("The sender participant must look like a participant id") {
  Message message;
  message.header().setSenderParticipant(text(std::string("sn.") + std::string(61, 'a')));
  CHECK(message.paths() == kNoErrors);
  const std::string bad = GENERATE(std::string(""), std::string("SN.Police"),
                                   std::string("snpolice"), std::string("sn.police judiciaire"),
                                   std::string(".sn"), std::string("sn.") + std::string(62, 'a'));
  CAPTURE(bad);
  message.header().setSenderParticipant(text(bad));
  CHECK(message.paths() == only("header.senderParticipant"));
}

TEST_CASE("The sender country must be an ISO 3166-1 alpha-2 code") {
  Message message;
  message.make_withdraw();
  message.header().setSenderCountry("NE");
  CHECK(message.paths() == kNoErrors);
  message.header().setSenderCountry("sn");
  const auto errors = message.errors();
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].path == "header.senderCountry");
  CHECK(errors[0].message == "must be an ISO 3166-1 alpha-2 code such as SN; got 'sn'");
}

TEST_CASE("A broken sender country is reported once, not again where the body must match it") {
  Message request;
  request.header().setSenderCountry("XX");
  CHECK(request.paths() == only("header.senderCountry"));
  Message report;
  report.make_campaign_report();
  report.header().setSenderCountry("");
  CHECK(report.paths() == only("header.senderCountry"));
}

TEST_CASE("Every message but a campaign report needs a recipient") {
  Message message;
  message.header().initRecipients(0);
  CHECK(message.paths() == only("header.recipients"));
  Message report;
  report.make_campaign_report();
  report.header().initRecipients(0);
  CHECK(report.paths() == kNoErrors);
}

TEST_CASE("A recipient country must be an ISO 3166-1 alpha-2 code") {
  Message message;
  message.header().getRecipients()[1].setCountry("XX");
  const auto errors = message.errors();
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].path == "header.recipients[1].country");
  CHECK(errors[0].message == "must be an ISO 3166-1 alpha-2 code such as SN; got 'XX'");
  message.header().getRecipients()[1].setCountry("BF");
  CHECK(message.paths() == kNoErrors);
}

TEST_CASE("A recipient participant must be a participant id") {
  Message message;
  message.header().getRecipients()[0].setParticipant("ne.focal-point");
  CHECK(message.paths() == kNoErrors);
  message.header().getRecipients()[0].setParticipant("NE focal point");
  CHECK(message.paths() == only("header.recipients[0].participant"));
}

TEST_CASE("Only alerts may be addressed to a region") {
  Message alert;
  alert.make_alert();
  alert.header().getRecipients()[0].setRegion("ECOWAS");
  CHECK(alert.paths() == kNoErrors);
  Message message;
  message.header().getRecipients()[1].setRegion("ECOWAS");
  CHECK(message.paths() == only("header.recipients[1].region"));
}

TEST_CASE("Only alerts may be addressed to all states") {
  Message alert;
  alert.make_alert();
  alert.header().getRecipients()[0].setAllStates();
  CHECK(alert.paths() == kNoErrors);
  Message message;
  message.header().getRecipients()[1].setAllStates();
  CHECK(message.paths() == only("header.recipients[1].allStates"));
}

TEST_CASE("An urgent message needs an urgency justification") {
  Message message;
  message.header().setPriority(wire::Priority::URGENT);
  CHECK(message.paths() == only("header.urgencyJustification"));
  message.header().setUrgencyJustification("Suspect to be released in 48 hours");
  CHECK(message.paths() == kNoErrors);
}

TEST_CASE("Handling code H3 needs the handling conditions written out") {
  Message message;
  message.header().initHandlingCodes(1).set(0, wire::HandlingCode::H3_OTHER_CONDITIONS);
  CHECK(message.paths() == only("header.handlingConditions"));
  message.header().setHandlingConditions("Not to be shared with the press");
  CHECK(message.paths() == kNoErrors);
}

TEST_CASE("A handling code is listed only once") {
  Message message;
  auto codes = message.header().initHandlingCodes(2);
  codes.set(0, wire::HandlingCode::H0_CRIME_FIGHTING_ONLY);
  codes.set(1, wire::HandlingCode::H2_NO_ONWARD_SHARING_WITHOUT_PERMISSION);
  CHECK(message.paths() == kNoErrors);
  codes.set(1, wire::HandlingCode::H0_CRIME_FIGHTING_ONLY);
  CHECK(message.paths() == only("header.handlingCodes[1]"));
}

TEST_CASE("Information accuracy is 0 to 4") {
  Message message;
  auto evaluation = message.header().getEvaluation();
  evaluation.setSourceReliability(wire::SourceReliability::B);
  evaluation.setInformationAccuracy(4);
  CHECK(message.paths() == kNoErrors);
  evaluation.setInformationAccuracy(5);
  CHECK(message.paths() == only("header.evaluation.informationAccuracy"));
}

TEST_CASE("An information accuracy needs a source reliability") {
  Message message;
  auto evaluation = message.header().getEvaluation();
  evaluation.setInformationAccuracy(2);
  CHECK(message.paths() == only("header.evaluation.sourceReliability"));
  evaluation.setSourceReliability(wire::SourceReliability::X);
  CHECK(message.paths() == kNoErrors);
}

TEST_CASE("The body hash must be 32 bytes") {
  Message message;
  fill(message.header().initBodySha256(31));
  CHECK(message.paths() == only("header.bodySha256"));
  fill(message.header().initBodySha256(32));
  CHECK(message.paths() == kNoErrors);
}

TEST_CASE("In-reply-to is empty or a 16-byte message id") {
  Message message;
  fill(message.header().initInReplyTo(16));
  CHECK(message.paths() == kNoErrors);
  fill(message.header().initInReplyTo(8));
  CHECK(message.paths() == only("header.inReplyTo"));
}

TEST_CASE("Replies and workflow messages need in-reply-to") {
  const auto type = GENERATE(
      wire::MessageType::TRACING_ACKNOWLEDGEMENT, wire::MessageType::TRACING_RESPONSE,
      wire::MessageType::INFORMATION_SUPPLIED, wire::MessageType::FORWARD,
      wire::MessageType::WITHDRAW, wire::MessageType::CLOSE, wire::MessageType::REMINDER,
      wire::MessageType::ESCALATION);
  CAPTURE(static_cast<int>(type));
  Message message;
  message.make(type);
  CHECK(message.paths() == kNoErrors);
  message.header().initInReplyTo(0);
  CHECK(message.paths() == only("header.inReplyTo"));
}

TEST_CASE("Messages that start a matter need no in-reply-to") {
  const auto type = GENERATE(wire::MessageType::TRACING_REQUEST, wire::MessageType::ALERT,
                             wire::MessageType::CAMPAIGN_REPORT,
                             wire::MessageType::HIT_NOTIFICATION,
                             wire::MessageType::DEAD_LETTER_NOTICE);
  Message message;
  message.make(type);
  message.header().initInReplyTo(0);
  CHECK(message.paths() == kNoErrors);
}

TEST_CASE("A campaign report must be public") {
  Message message;
  message.make_campaign_report();
  message.header().setClassification(wire::Classification::RESTRICTED);
  CHECK(message.paths() == only("header.classification"));
  message.header().setClassification(wire::Classification::PUBLIC);
  CHECK(message.paths() == kNoErrors);
}

TEST_CASE("A reference in another channel must be given") {
  Message message;
  auto reference = message.header().initOtherChannelReferences(1)[0];
  reference.setChannel(wire::OtherChannel::IARMS);
  CHECK(message.paths() == only("header.otherChannelReferences[0].reference"));
  reference.setReference("IARMS-2023-5512");
  CHECK(message.paths() == kNoErrors);
}

TEST_CASE("References are at most 128 characters") {
  Message message;
  message.header().setCaseReference(text(std::string(128, 'r')));
  CHECK(message.paths() == kNoErrors);
  message.header().setCaseReference(text(std::string(129, 'r')));
  CHECK(message.paths() == only("header.caseReference"));
}

TEST_CASE("Free text is at most 4096 characters, counted as characters rather than bytes") {
  Message message;
  std::string accented;
  for (int i = 0; i < 4096; ++i) accented += "\xc3\xa9";  // é: two bytes, one character
  message.request().setLegalJustification(text(accented));
  CHECK(message.paths() == kNoErrors);
  message.request().setLegalJustification(text(std::string(4097, 'j')));
  const auto errors = message.errors();
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].path == "body.tracingRequest.legalJustification");
  CHECK(errors[0].message == "is too long: at most 4096 characters; got 4097");
}

TEST_CASE("Text must be valid UTF-8") {
  Message message;
  message.header().setCaseReference("Thi\xc3\xa8s-01");
  CHECK(message.paths() == kNoErrors);
  const std::string bad = GENERATE(std::string("\xff"), std::string("\xc3"),
                                   std::string("\xc0\xaf"), std::string("\xed\xa0\x80"));
  message.header().setCaseReference(text(bad));
  CHECK(message.paths() == only("header.caseReference"));
}

TEST_CASE("Enum values unknown to the schema are refused") {
  Message message;
  message.header().setPriority(static_cast<wire::Priority>(7));
  CHECK(message.paths() == only("header.priority"));
  message.header().setPriority(wire::Priority::ROUTINE);
  message.firearm().setType(static_cast<wire::FirearmType>(42));
  CHECK(message.paths() == only("body.tracingRequest.firearms[0].type"));
  message.firearm().setType(wire::FirearmType::OTHER);
  CHECK(message.paths() == kNoErrors);
}

// ---- Dates -----------------------------------------------------------------------------

TEST_CASE("A date must be a real calendar date from 1900 on") {
  Message message;
  auto date = message.request().getRecovery().getDate();
  SECTION("leap days of leap years pass") {
    set_date(date, 2020, 2, 29);
    CHECK(message.paths() == kNoErrors);
    set_date(date, 2000, 2, 29);
    CHECK(message.paths() == kNoErrors);
  }
  SECTION("impossible dates fail") {
    const auto bad = GENERATE(std::array<int, 3>{2023, 2, 29}, std::array<int, 3>{1900, 2, 29},
                              std::array<int, 3>{2023, 13, 1}, std::array<int, 3>{2023, 4, 31},
                              std::array<int, 3>{2023, 1, 0}, std::array<int, 3>{1899, 12, 31});
    set_date(date, bad[0], bad[1], bad[2]);
    CHECK(message.paths() == only("body.tracingRequest.recovery.date"));
  }
}

TEST_CASE("The recovery date is required and not in the future") {
  Message message;
  auto date = message.request().getRecovery().getDate();
  set_date(date, 2023, 11, 14);  // today
  CHECK(message.paths() == kNoErrors);
  set_date(date, 2023, 11, 15);
  CHECK(message.paths() == only("body.tracingRequest.recovery.date"));
  set_date(date, 0, 0, 0);
  CHECK(message.paths() == only("body.tracingRequest.recovery.date"));
}

TEST_CASE("The year of manufacture is 0 or from 1800 to the current year") {
  Message message;
  const auto good = GENERATE(0, 1800, 2023);
  message.firearm().setYearOfManufacture(static_cast<std::uint16_t>(good));
  CHECK(message.paths() == kNoErrors);
  const auto bad = GENERATE(1799, 2024);
  message.firearm().setYearOfManufacture(static_cast<std::uint16_t>(bad));
  CHECK(message.paths() == only("body.tracingRequest.firearms[0].yearOfManufacture"));
}

TEST_CASE("The import marking year is 0 or from 1800 to the current year") {
  Message message;
  auto marking = message.firearm().getImportMarking();
  marking.setYear(0);
  CHECK(message.paths() == kNoErrors);
  marking.setYear(2023);
  CHECK(message.paths() == kNoErrors);
  marking.setYear(2024);
  CHECK(message.paths() == only("body.tracingRequest.firearms[0].importMarking.year"));
}

// ---- Tracing request ---------------------------------------------------------------------

TEST_CASE("The requesting country must be an ISO code") {
  Message message;
  message.request().setRequestingCountry("XX");
  CHECK(message.paths() == only("body.tracingRequest.requestingCountry"));
}

TEST_CASE("The requesting country must be the sender's country") {
  Message message;
  message.request().setRequestingCountry("ML");
  CHECK(message.paths() == only("body.tracingRequest.requestingCountry"));
  message.request().setRequestingCountry("SN");
  CHECK(message.paths() == kNoErrors);
}

TEST_CASE("A tracing request names at least one requested state") {
  Message message;
  message.request().initRequestedStates(0);
  CHECK(message.paths() == only("body.tracingRequest.requestedStates"));
}

TEST_CASE("A requested state must be an ISO code") {
  Message message;
  message.request().getRequestedStates()[1].setCountry("XX");
  CHECK(message.paths() == only("body.tracingRequest.requestedStates[1].country"));
  message.request().getRequestedStates()[1].setCountry("ML");
  CHECK(message.paths() == kNoErrors);
}

TEST_CASE("A requested state is listed only once") {
  Message message;
  message.request().getRequestedStates()[1].setCountry("NE");
  CHECK(message.paths() == only("body.tracingRequest.requestedStates[1].country"));
}

TEST_CASE("A state does not request a trace from itself") {
  Message message;
  message.request().getRequestedStates()[1].setCountry("SN");
  CHECK(message.paths() == only("body.tracingRequest.requestedStates[1].country"));
}

TEST_CASE("A tracing request describes at least one firearm") {
  Message message;
  message.request().initFirearms(0);
  CHECK(message.paths() == only("body.tracingRequest.firearms"));
}

TEST_CASE("A tracing request describes at most 1000 firearms") {
  Message message;
  auto firearms = message.request().initFirearms(1000);
  for (auto firearm : firearms) describe_minimal_firearm(firearm);
  CHECK(message.paths() == kNoErrors);
  auto too_many = message.request().initFirearms(1001);
  for (auto firearm : too_many) describe_minimal_firearm(firearm);
  CHECK(message.paths() == only("body.tracingRequest.firearms"));
}

TEST_CASE("A tracing request gives at least one illicit basis") {
  Message message;
  message.request().initIllicitBasis(0);
  CHECK(message.paths() == only("body.tracingRequest.illicitBasis"));
}

TEST_CASE("A tracing request gives its legal justification") {
  Message message;
  message.request().setLegalJustification(" \n ");
  CHECK(message.paths() == only("body.tracingRequest.legalJustification"));
}

TEST_CASE("A tracing request names the administrative area of the recovery") {
  Message message;
  message.request().getRecovery().setAdministrativeArea("");
  CHECK(message.paths() == only("body.tracingRequest.recovery.administrativeArea"));
}

TEST_CASE("A tracing request states the intended use of the information") {
  Message message;
  message.request().setIntendedUse("");
  CHECK(message.paths() == only("body.tracingRequest.intendedUse"));
}

TEST_CASE("A tracing request asks for at least one kind of information") {
  Message message;
  message.request().initInformationSought(0);
  CHECK(message.paths() == only("body.tracingRequest.informationSought"));
}

// ---- Firearm description -------------------------------------------------------------------

TEST_CASE("A firearm has a serial number unless it was obliterated") {
  Message message;
  message.firearm().setSerialNumber("");
  message.firearm().setSerialState(wire::SerialState::OBLITERATED);
  CHECK(message.paths() == kNoErrors);
  const auto state = GENERATE(wire::SerialState::INTACT, wire::SerialState::PARTLY_RESTORED);
  message.firearm().setSerialState(state);
  CHECK(message.paths() == only("body.tracingRequest.firearms[0].serialNumber"));
}

TEST_CASE("A firearm has at least a manufacturer or a serial number") {
  Message message;
  message.firearm().setManufacturer("");
  CHECK(message.paths() == kNoErrors);
  message.firearm().setSerialNumber("");
  message.firearm().setSerialState(wire::SerialState::OBLITERATED);
  CHECK(message.paths() == only("body.tracingRequest.firearms[0].manufacturer"));
}

TEST_CASE("A firearm's type must be set") {
  Message message;
  message.firearm().setType(wire::FirearmType::UNSPECIFIED);
  CHECK(message.paths() == only("body.tracingRequest.firearms[0].type"));
}

TEST_CASE("A firearm's country of manufacture is an ISO code when given") {
  Message message;
  message.firearm().setCountryOfManufacture("");
  CHECK(message.paths() == kNoErrors);
  message.firearm().setCountryOfManufacture("Burkina");
  CHECK(message.paths() == only("body.tracingRequest.firearms[0].countryOfManufacture"));
}

TEST_CASE("A firearm's import marking country is an ISO code when given") {
  Message message;
  message.firearm().getImportMarking().setCountry("");
  CHECK(message.paths() == kNoErrors);
  message.firearm().getImportMarking().setCountry("ne");
  CHECK(message.paths() == only("body.tracingRequest.firearms[0].importMarking.country"));
}

// ---- Tracing acknowledgement -----------------------------------------------------------------

TEST_CASE("An acknowledgement that needs information lists the missing fields") {
  Message message;
  auto ack = message.make_acknowledgement();
  ack.setStatus(wire::AcknowledgementStatus::NEEDS_INFORMATION);
  CHECK(message.paths() == only("body.tracingAcknowledgement.missingFields"));
  ack.initMissingFields(1).set(0, "body.tracingRequest.firearms[0].calibre");
  CHECK(message.paths() == kNoErrors);
  ack.getMissingFields().set(0, "");
  CHECK(message.paths() == only("body.tracingAcknowledgement.missingFields[0]"));
}

TEST_CASE("An acknowledgement's expected response date is a real date when set") {
  Message message;
  auto ack = message.make_acknowledgement();
  set_date(ack.getExpectedResponseDate(), 0, 0, 0);
  CHECK(message.paths() == kNoErrors);
  set_date(ack.getExpectedResponseDate(), 2023, 11, 31);
  CHECK(message.paths() == only("body.tracingAcknowledgement.expectedResponseDate"));
}

TEST_CASE("An acknowledgement says when the request was received") {
  Message message;
  auto ack = message.make_acknowledgement();
  ack.setReceivedAtMs(0);
  CHECK(message.paths() == only("body.tracingAcknowledgement.receivedAtMs"));
}

// ---- Tracing response --------------------------------------------------------------------------

TEST_CASE("A refused or restricted response gives its grounds and explains them") {
  Message message;
  auto response = message.make_response();
  const auto outcome = GENERATE(wire::TracingOutcome::REFUSED, wire::TracingOutcome::RESTRICTED);
  response.setOutcome(outcome);
  CHECK(message.paths() == Paths{"body.tracingResponse.refusalGrounds",
                                 "body.tracingResponse.groundsExplanation"});
  response.initRefusalGrounds(1).set(0, wire::RefusalGround::ONGOING_INVESTIGATION);
  CHECK(message.paths() == only("body.tracingResponse.groundsExplanation"));
  response.setGroundsExplanation("An investigation into the armoury theft is ongoing");
  CHECK(message.paths() == kNoErrors);
}

TEST_CASE("A response that is neither refused nor restricted carries no refusal grounds") {
  Message message;
  auto response = message.make_response();
  response.initRefusalGrounds(1).set(0, wire::RefusalGround::NATIONAL_SECURITY);
  CHECK(message.paths() == only("body.tracingResponse.refusalGrounds"));
}

TEST_CASE("A custody hop names its entity") {
  Message message;
  message.make_response().getChainOfCustody()[0].setEntity("");
  CHECK(message.paths() == only("body.tracingResponse.chainOfCustody[0].entity"));
}

TEST_CASE("A custody hop's country is an ISO code") {
  Message message;
  message.make_response().getChainOfCustody()[0].setCountry("XX");
  CHECK(message.paths() == only("body.tracingResponse.chainOfCustody[0].country"));
}

TEST_CASE("A final response cannot be delayed") {
  Message message;
  auto response = message.make_response();
  response.setOutcome(wire::TracingOutcome::DELAYED);
  CHECK(message.paths() == kNoErrors);
  response.setKind(wire::ResponseKind::FINAL);
  CHECK(message.paths() == only("body.tracingResponse.outcome"));
}

// ---- Alert -------------------------------------------------------------------------------------

TEST_CASE("An alert about particular firearms describes them or their batch") {
  Message message;
  auto alert = message.make_alert();
  alert.getBatch().setQuantity(0);
  CHECK(message.paths() == only("body.alert.firearms"));
  describe_minimal_firearm(alert.initFirearms(1)[0]);
  CHECK(message.paths() == kNoErrors);
  alert.initFirearms(0);
  describe_minimal_firearm(alert.getBatch().initFirearms(1)[0]);
  CHECK(message.paths() == kNoErrors);
}

TEST_CASE("An alert about a method, a threat or a cancellation needs a summary, not firearms") {
  Message message;
  auto alert = message.make_alert();
  const auto kind = GENERATE(wire::AlertKind::TRAFFICKING_ROUTE_OR_METHOD,
                             wire::AlertKind::EMERGING_THREAT, wire::AlertKind::CANCEL);
  alert.setKind(kind);
  alert.getBatch().setQuantity(0);
  CHECK(message.paths() == kNoErrors);
  alert.setSummary("");
  CHECK(message.paths() == only("body.alert.summary"));
}

TEST_CASE("An alert is valid until a real date") {
  Message message;
  auto alert = message.make_alert();
  set_date(alert.getValidUntil(), 2024, 2, 30);
  CHECK(message.paths() == only("body.alert.validUntil"));
  set_date(alert.getValidUntil(), 0, 0, 0);
  CHECK(message.paths() == only("body.alert.validUntil"));
}

TEST_CASE("An alert's validity does not end before it occurred") {
  Message message;
  auto alert = message.make_alert();
  set_date(alert.getValidUntil(), 2023, 11, 1);
  CHECK(message.paths() == kNoErrors);
  set_date(alert.getValidUntil(), 2023, 10, 31);
  CHECK(message.paths() == only("body.alert.validUntil"));
}

TEST_CASE("A bulk alert may describe up to 100000 firearms") {
  Message message;
  auto alert = message.make_alert();
  alert.getBatch().setQuantity(0);
  for (auto firearm : alert.initFirearms(100'000)) describe_minimal_firearm(firearm);
  CHECK(message.paths() == kNoErrors);
  describe_minimal_firearm(alert.getBatch().initFirearms(1)[0]);
  CHECK(message.paths() == only("body.alert.firearms"));
}

TEST_CASE("A batch alert may watch serial ranges of one prefix and digit count in order") {
  Message message;
  auto alert = message.make_alert();
  alert.getBatch().setQuantity(0);
  auto ranges = alert.getBatch().initSerialRanges(1);
  ranges[0].setFrom("AK-1000");
  ranges[0].setTo("ak 1999");
  CHECK(message.paths() == kNoErrors);  // a range alone describes the batch
  ranges[0].setFrom("AK-2000");
  CHECK(message.paths() == only("body.alert.batch.serialRanges[0]"));  // inverted
  ranges[0].setFrom("AK-100");
  CHECK(message.paths() == only("body.alert.batch.serialRanges[0]"));  // 3 digits against 4
  ranges[0].setFrom("");
  CHECK(message.paths() == only("body.alert.batch.serialRanges[0].from"));
}

TEST_CASE("A serial range is parsed into its key and ends and bounded in width") {
  auto span = fpx::parse_serial_range("AK-1000", "ak 1999");
  REQUIRE(span.ok());
  CHECK(span->key == "AK#4");
  CHECK(span->low == 1000);
  CHECK(span->high == 1999);
  CHECK(span->width() == 1000);
  auto single = fpx::parse_serial_range("X-0042", "X0042");
  REQUIRE(single.ok());
  CHECK(single->width() == 1);
  CHECK(fpx::parse_serial_range("AK-000000", "AK-099999").ok());  // kMaxSerialRangeWidth exactly
  for (auto [from, to] : {std::pair{"AK-000000", "AK-100000"},  // one wider than the bound
                          std::pair{"AK-1999", "AK-1000"},      // inverted
                          std::pair{"AK-100", "AK-1999"},       // digit counts differ
                          std::pair{"AK-1000", "AM-1999"},      // prefixes differ
                          std::pair{"AK-X", "AK-Y"},            // no digits
                          std::pair{"12", "99"},                // too short to watch
                          std::pair{"A1234567890123456789", "A1234567890123456799"}}) {  // 19 digits
    INFO(from << " to " << to);
    auto refused = fpx::parse_serial_range(from, to);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == fpx::ErrorCode::schema_violation);
  }
  auto place = fpx::serial_place_of("AK1500");
  REQUIRE(place.has_value());
  CHECK(place->key == "AK#4");
  CHECK(place->number == 1500);
  CHECK_FALSE(fpx::serial_place_of("AKX").has_value());
}

TEST_CASE("A batch is at least as large as the firearms it describes") {
  Message message;
  auto batch = message.make_alert().getBatch();
  batch.setQuantity(2);
  auto firearms = batch.initFirearms(2);
  describe_minimal_firearm(firearms[0]);
  describe_minimal_firearm(firearms[1]);
  CHECK(message.paths() == kNoErrors);
  batch.setQuantity(1);
  CHECK(message.paths() == only("body.alert.batch.quantity"));
}

// ---- Campaign report -------------------------------------------------------------------------------

TEST_CASE("A campaign report's country is an ISO code") {
  Message message;
  message.make_campaign_report().setCountry("XX");
  CHECK(message.paths() == only("body.campaignReport.country"));
}

TEST_CASE("A state reports its own campaigns only") {
  Message message;
  message.make_campaign_report().setCountry("NE");
  CHECK(message.paths() == only("body.campaignReport.country"));
}

TEST_CASE("A campaign period does not end before it starts") {
  Message message;
  auto report = message.make_campaign_report();
  set_date(report.getPeriodEnd(), 2018, 2, 1);
  CHECK(message.paths() == kNoErrors);
  set_date(report.getPeriodEnd(), 2018, 1, 31);
  CHECK(message.paths() == only("body.campaignReport.periodEnd"));
}

TEST_CASE("A campaign destroys no more weapons than it collected") {
  Message message;
  auto report = message.make_campaign_report();
  report.setWeaponsDestroyed(500);
  CHECK(message.paths() == kNoErrors);
  report.setWeaponsDestroyed(501);
  CHECK(message.paths() == only("body.campaignReport.weaponsDestroyed"));
}

TEST_CASE("A campaign report names at least one region") {
  Message message;
  auto report = message.make_campaign_report();
  report.getRegions().set(1, " ");
  CHECK(message.paths() == only("body.campaignReport.regions[1]"));
  report.initRegions(0);
  CHECK(message.paths() == only("body.campaignReport.regions"));
}

// ---- Workflow messages ---------------------------------------------------------------------------

TEST_CASE("Supplied information supplies something") {
  Message message;
  auto supplied = message.make_information_supplied();
  supplied.initFields(0);
  CHECK(message.paths() == only("body.informationSupplied.fields"));
  supplied.setNote("The calibre is 7.62x39mm");
  CHECK(message.paths() == kNoErrors);
}

TEST_CASE("A forward goes to another state, for a reason") {
  Message message;
  auto forward = message.make_forward();
  forward.setToCountry("XX");
  CHECK(message.paths() == only("body.forward.toCountry"));
  forward.setToCountry("NE");  // the sender's own
  CHECK(message.paths() == only("body.forward.toCountry"));
  forward.setToCountry("ML");
  forward.setReason("");
  CHECK(message.paths() == only("body.forward.reason"));
}

TEST_CASE("A withdrawal gives its reason") {
  Message message;
  message.make_withdraw().setReason("");
  CHECK(message.paths() == only("body.withdraw.reason"));
}

TEST_CASE("A close gives its reason") {
  Message message;
  message.make_close().setReason("");
  CHECK(message.paths() == only("body.close.reason"));
}

TEST_CASE("A hit notification names both messages by 16-byte id and the matched serial") {
  Message message;
  auto hit = message.make_hit_notification();
  fill(hit.initAlertMessageId(15));
  CHECK(message.paths() == only("body.hitNotification.alertMessageId"));
  fill(hit.initAlertMessageId(16));
  hit.initRequestMessageId(0);
  CHECK(message.paths() == only("body.hitNotification.requestMessageId"));
  fill(hit.initRequestMessageId(16));
  hit.setMatchedSerial("");
  CHECK(message.paths() == only("body.hitNotification.matchedSerial"));
}

TEST_CASE("A reminder names the request by 16-byte id and the requested state by ISO code") {
  Message message;
  auto reminder = message.make_reminder();
  reminder.initRequestMessageId(0);
  CHECK(message.paths() == only("body.reminder.requestMessageId"));
  fill(reminder.initRequestMessageId(16));
  reminder.setRequestedCountry("XX");
  CHECK(message.paths() == only("body.reminder.requestedCountry"));
}

TEST_CASE("An escalation names the request by 16-byte id and the requested state by ISO code") {
  Message message;
  auto escalation = message.make_escalation();
  fill(escalation.initRequestMessageId(17));
  CHECK(message.paths() == only("body.escalation.requestMessageId"));
  fill(escalation.initRequestMessageId(16));
  escalation.setRequestedCountry("bf");
  CHECK(message.paths() == only("body.escalation.requestedCountry"));
  escalation.setRequestedCountry("BF");
  escalation.setOverdueMs(0);
  CHECK(message.paths() == only("body.escalation.overdueMs"));
}

TEST_CASE("A dead-letter notice names the message by 16-byte id and a real recipient") {
  Message message;
  auto notice = message.make_dead_letter_notice();
  notice.setRecipient("BF");
  CHECK(message.paths() == kNoErrors);
  notice.setRecipient("XX");
  CHECK(message.paths() == only("body.deadLetterNotice.recipient"));
  notice.setRecipient("bf.focal-point");
  fill(notice.initMessageId(3));
  CHECK(message.paths() == only("body.deadLetterNotice.messageId"));
}

// ---- Reporting ---------------------------------------------------------------------------------

TEST_CASE("A message breaking three rules reports all three") {
  Message message;
  message.header().setSchemaVersion(0);
  message.header().getRecipients()[1].setCountry("XX");
  message.firearm().setType(wire::FirearmType::UNSPECIFIED);
  CHECK(message.paths() == Paths{"header.schemaVersion", "header.recipients[1].country",
                                 "body.tracingRequest.firearms[0].type"});
}

TEST_CASE("Messages tell the sender what to do") {
  Message message;
  message.firearm().setType(wire::FirearmType::UNSPECIFIED);
  message.request().setIntendedUse("");
  for (const auto& error : message.errors()) {
    CAPTURE(error.path, error.message);
    CHECK(error.message.size() > 20);
    CHECK(error.message.find(':') != std::string::npos);
  }
}

TEST_CASE("A flood of broken firearms yields a bounded error list") {
  Message message;
  auto alert = message.make_alert();
  for (auto firearm : alert.initFirearms(5000)) firearm.setSerialNumber("X");  // type unset
  const auto errors = message.errors();
  REQUIRE(errors.size() == 1001);
  CHECK(errors.front().path == "body.alert.firearms[0].type");
  CHECK(errors.back().path.empty());
  CHECK(errors.back().message == "4000 further errors not listed: fix the ones above first");
}

TEST_CASE("Out-of-range values in the message are echoed short and printable") {
  Message message;
  message.header().getRecipients()[1].setCountry(text("\x01" + std::string(100, 'Q')));
  const auto errors = message.errors();
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].message == "must be an ISO 3166-1 alpha-2 code such as SN; got '?" +
                                 std::string(31, 'Q') + "...'");
}

// ---- Completeness -------------------------------------------------------------------------------

TEST_CASE("A full firearm description scores 100 with nothing missing") {
  capnp::MallocMessageBuilder builder;
  auto firearm = builder.initRoot<wire::Firearm>();
  describe_full_firearm(firearm);
  const auto report = fpx::firearm_completeness(firearm.asReader());
  CHECK(report.score == 100);
  CHECK(report.missing.empty());
}

TEST_CASE("An empty firearm description scores 0 and lists serial, manufacturer and calibre first") {
  capnp::MallocMessageBuilder builder;
  const auto report = fpx::firearm_completeness(builder.initRoot<wire::Firearm>().asReader());
  CHECK(report.score == 0);
  REQUIRE(report.missing.size() == 10);
  CHECK(std::vector<std::string>(report.missing.begin(), report.missing.begin() + 3) ==
        std::vector<std::string>{"serialNumber", "manufacturer", "calibre"});
}

TEST_CASE("Missing manufacturer and calibre are listed first and cost most") {
  capnp::MallocMessageBuilder builder;
  auto firearm = builder.initRoot<wire::Firearm>();
  describe_full_firearm(firearm);
  firearm.setManufacturer("");
  firearm.setCalibre("");
  firearm.setModel("");
  const auto report = fpx::firearm_completeness(firearm.asReader());
  CHECK(report.missing == std::vector<std::string>{"manufacturer", "calibre", "model"});
  CHECK(report.score < 70);
}

TEST_CASE("A missing serial number is listed first") {
  capnp::MallocMessageBuilder builder;
  auto firearm = builder.initRoot<wire::Firearm>();
  describe_full_firearm(firearm);
  firearm.setSerialNumber("   ");
  firearm.setYearOfManufacture(0);
  const auto report = fpx::firearm_completeness(firearm.asReader());
  CHECK(report.missing == std::vector<std::string>{"serialNumber", "yearOfManufacture"});
}

TEST_CASE("An obliterated serial with nothing else to go on counts less") {
  capnp::MallocMessageBuilder builder;
  auto firearm = builder.initRoot<wire::Firearm>();
  describe_full_firearm(firearm);
  const int intact = fpx::firearm_completeness(firearm.asReader()).score;
  firearm.setSerialState(wire::SerialState::PARTLY_RESTORED);
  const int restored = fpx::firearm_completeness(firearm.asReader()).score;
  firearm.setSerialState(wire::SerialState::OBLITERATED);
  firearm.setSerialNumber("");
  const int obliterated_with_components = fpx::firearm_completeness(firearm.asReader()).score;
  firearm.getComponentSerials().setFrame("");
  firearm.getComponentSerials().setBarrel("");
  const auto bare = fpx::firearm_completeness(firearm.asReader());
  CHECK(intact > restored);
  CHECK(restored > obliterated_with_components);
  CHECK(obliterated_with_components > bare.score);
  CHECK(bare.missing.front() == "serialNumber");
}

// ---- Country codes ----------------------------------------------------------------------------

TEST_CASE("Officially assigned ISO 3166-1 alpha-2 codes are accepted") {
  for (const char* code : {"SN", "NE", "BF", "FR", "AD", "ZW", "SS", "BQ"}) {
    CAPTURE(code);
    CHECK(fpx::is_iso3166_alpha2(code));
  }
}

TEST_CASE("Unassigned, lower-case and wrongly sized codes are refused") {
  for (const char* code : {"XX", "sn", "S", "SNN", "", "UK", "EU", "XK", "AN", "S1"}) {
    CAPTURE(code);
    CHECK_FALSE(fpx::is_iso3166_alpha2(code));
  }
}

// ---- Public texts (issue 12: alert public summaries and figures statements) -----------

namespace {

// SN's focal point's statement on SN's figures for the period starting
// 2023-10-01T00:00:00Z, as `fpx statement` builds it.
wire::FiguresStatement::Builder make_figures_statement(Message& message) {
  auto header = message.header();
  header.setSenderParticipant("sn.focal-point");
  header.setSenderCountry("SN");
  header.setType(wire::MessageType::FIGURES_STATEMENT);
  header.initRecipients(0);
  header.setClassification(wire::Classification::PUBLIC);
  auto statement = message.body().initFiguresStatement();
  statement.setCountry("SN");
  statement.setPeriodStartMs(1'696'118'400'000);
  statement.setText("Senegal answered every request; two were delayed by a records migration.");
  return statement;
}

}  // namespace

TEST_CASE("An alert's public summary is a plain line of at most 280 characters on a publishable alert") {
  Message message;
  auto alert = message.make_alert();
  alert.setPublishable(true);
  alert.setPublicSummary("Fusils volés à Ouahigouya: signalez tout fusil M70 proposé à la vente");
  CHECK(message.paths() == kNoErrors);
  const std::string at_bound(280, 'a');
  alert.setPublicSummary(text(at_bound));
  CHECK(message.paths() == kNoErrors);
  // 280 characters of two bytes each: the bound counts characters.
  std::string accented;
  for (int i = 0; i < 280; ++i) accented += "\xC3\xA9";
  alert.setPublicSummary(text(accented));
  CHECK(message.paths() == kNoErrors);
  const std::string over(281, 'a');
  alert.setPublicSummary(text(over));
  CHECK(message.paths() == only("body.alert.publicSummary"));
  for (const std::string& hostile : {std::string("two\nlines"), std::string("a\ttab"), std::string("bell\x07"),
                                    std::string("C1 \xC2\x85 next line"), std::string("line \xE2\x80\xA8 separator"),
                                    std::string("Rifles \xE2\x80\xAE" "denots"),
                                    std::string("isolate \xE2\x81\xA6x\xE2\x81\xA9")}) {
    INFO(hostile);
    alert.setPublicSummary(text(hostile));
    CHECK(message.paths() == only("body.alert.publicSummary"));
  }
  alert.setPublicSummary("Rifles stolen");
  alert.setPublishable(false);
  CHECK(message.paths() == only("body.alert.publicSummary"));
  alert.setPublicSummary("");
  CHECK(message.paths() == kNoErrors);
}

TEST_CASE("A figures statement speaks for the sender's own state about a period and says something") {
  Message message;
  auto statement = make_figures_statement(message);
  CHECK(message.paths() == kNoErrors);
  statement.setText(text(std::string(2000, 'a')));
  CHECK(message.paths() == kNoErrors);
  statement.setText(text(std::string(2001, 'a')));
  CHECK(message.paths() == only("body.figuresStatement.text"));
  statement.setText(" ");
  CHECK(message.paths() == only("body.figuresStatement.text"));
  statement.setText("first line\r\nsecond line");
  CHECK(message.paths() == only("body.figuresStatement.text"));
  statement.setText("Our figures are right");
  statement.setCountry("NE");
  CHECK(message.paths() == only("body.figuresStatement.country"));
  statement.setCountry("SN");
  statement.setPeriodStartMs(0);
  CHECK(message.paths() == only("body.figuresStatement.periodStartMs"));
  statement.setPeriodStartMs(-1);
  CHECK(message.paths() == only("body.figuresStatement.periodStartMs"));
  statement.setPeriodStartMs(1'696'118'400'000);
  CHECK(message.paths() == kNoErrors);
}

TEST_CASE("A figures statement is public and addressed to the exchange alone") {
  Message message;
  make_figures_statement(message);
  message.header().initRecipients(1)[0].setCountry("NE");
  CHECK(message.paths() == only("header.recipients"));
  message.header().initRecipients(0);
  message.header().setClassification(wire::Classification::RESTRICTED);
  CHECK(message.paths() == only("header.classification"));
}
