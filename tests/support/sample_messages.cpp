#include "support/sample_messages.hpp"

#include <cstring>

#include <capnp/serialize.h>
#include <catch2/catch.hpp>

namespace fpx::test {

using wire::MessageType;

std::vector<MessageType> types_signable_by(Role role) {
  std::vector<MessageType> types;
  for (int value = 1; value <= static_cast<int>(MessageType::DEAD_LETTER_NOTICE); ++value) {
    auto type = static_cast<MessageType>(value);
    if (role_may_sign(role, type)) types.push_back(type);
  }
  return types;
}

namespace {

void fill_firearm(wire::Firearm::Builder firearm) {
  firearm.setSerialNumber("AK-4711-ZG");
  firearm.setManufacturer("Izhmash");
  firearm.setCountryOfManufacture("BF");
  firearm.setModel("AKM");
  firearm.setType(wire::FirearmType::ASSAULT_RIFLE);
  firearm.setCalibre("7.62x39mm");
  firearm.getImportMarking().setCountry("NE");
  firearm.getImportMarking().setYear(2009);
  firearm.setYearOfManufacture(1988);
}

void set_date(wire::Date::Builder date, int year, int month, int day) {
  date.setYear(static_cast<std::uint16_t>(year));
  date.setMonth(static_cast<std::uint8_t>(month));
  date.setDay(static_cast<std::uint8_t>(day));
}

}  // namespace

void fill_sample(MessageType type, wire::Header::Builder header, wire::Body::Builder body) {
  header.setClassification(wire::Classification::RESTRICTED);
  header.initHandlingCodes(1).set(0, wire::HandlingCode::H0_CRIME_FIGHTING_ONLY);
  header.setCaseReference("SN-ZIG-2026-0142");
  auto recipients = header.initRecipients(1);
  recipients[0].setCountry("NE");
  MessageId answered = MessageId::random();
  auto reply_to = [&] { header.setInReplyTo(kj::arrayPtr(answered.bytes.data(), answered.bytes.size())); };

  switch (type) {
    case MessageType::TRACING_REQUEST: {
      auto request = body.initTracingRequest();
      request.setRequestingCountry("SN");
      request.setRequestingAgency("sn.police-judiciaire");
      request.setNationalCaseReference("SN-ZIG-2026-0142");
      auto both = header.initRecipients(2);
      both[0].setCountry("NE");
      both[1].setCountry("BF");
      auto states = request.initRequestedStates(2);
      states[0].setCountry("NE");
      states[0].setRole(wire::RequestedStateRole::COUNTRY_OF_LAST_IMPORT);
      states[1].setCountry("BF");
      states[1].setRole(wire::RequestedStateRole::COUNTRY_OF_MANUFACTURE);
      fill_firearm(request.initFirearms(1)[0]);
      request.initIllicitBasis(1).set(0, wire::IllicitBasis::ILLICIT_UNDER_NATIONAL_LAW);
      request.setLegalJustification("Code penal art. 92; seized in a criminal investigation");
      set_date(request.getRecovery().initDate(), 2026, 11, 2);
      request.getRecovery().setAdministrativeArea("Ziguinchor");
      request.getRecovery().setCircumstance(wire::RecoveryCircumstance::SEIZED);
      request.getRecovery().setCrimeCategory("armed robbery");
      request.setIntendedUse("criminal investigation and prosecution");
      request.initInformationSought(1).set(0, wire::InformationSought::CHAIN_OF_CUSTODY);
      break;
    }
    case MessageType::TRACING_ACKNOWLEDGEMENT: {
      reply_to();
      auto ack = body.initTracingAcknowledgement();
      ack.setReceivedAtMs(now_ms() - 1000);
      ack.setStatus(wire::AcknowledgementStatus::ACCEPTED);
      set_date(ack.initExpectedResponseDate(), 2026, 12, 20);
      ack.setPointOfContact("ne.focal-point desk");
      break;
    }
    case MessageType::TRACING_RESPONSE: {
      reply_to();
      auto response = body.initTracingResponse();
      response.setKind(wire::ResponseKind::FINAL);
      response.setOutcome(wire::TracingOutcome::PARTIAL_CHAIN);
      auto hop = response.initChainOfCustody(1)[0];
      hop.setRole(wire::CustodyRole::IMPORTER);
      hop.setEntity("Societe Nigerienne d'Armement");
      hop.setCountry("NE");
      set_date(hop.initDate(), 2009, 3, 14);
      hop.setDocumentReference("IMP-2009-0031");
      break;
    }
    case MessageType::ALERT: {
      recipients[0].setRegion("ECOWAS");
      auto alert = body.initAlert();
      alert.setKind(wire::AlertKind::STOLEN);
      fill_firearm(alert.initFirearms(1)[0]);
      alert.getBatch().setDescription("batch of 40 rifles stolen from a depot");
      alert.getBatch().setQuantity(40);
      alert.setPlace("Ouagadougou depot");
      alert.setRegion("Sahel");
      set_date(alert.initOccurredOn(), 2026, 11, 10);
      set_date(alert.initValidUntil(), 2027, 11, 10);
      alert.setPublishable(true);
      alert.setSummary("stolen batch of rifles");
      break;
    }
    case MessageType::CAMPAIGN_REPORT: {
      header.initRecipients(0);
      header.setClassification(wire::Classification::PUBLIC);
      auto report = body.initCampaignReport();
      report.setCountry("SN");
      report.setCommission("Commission nationale");
      auto regions = report.initRegions(3);
      regions.set(0, "Fatick");
      regions.set(1, "Thies");
      regions.set(2, "Ziguinchor");
      set_date(report.initPeriodStart(), 2018, 2, 1);
      set_date(report.initPeriodEnd(), 2018, 12, 31);
      report.setWeaponsCollected(412);
      report.setWeaponsDestroyed(380);
      report.initCommunityPartners(1).set(0, "community radio network");
      break;
    }
    case MessageType::INFORMATION_SUPPLIED: {
      reply_to();
      auto supplied = body.initInformationSupplied();
      auto field = supplied.initFields(1)[0];
      field.setPath("firearms[0].calibre");
      field.setValue("7.62x39mm");
      break;
    }
    case MessageType::FORWARD: {
      reply_to();
      body.initForward().setToCountry("ML");
      body.getForward().setReason("the rifle was re-exported to Mali");
      break;
    }
    case MessageType::WITHDRAW:
      reply_to();
      body.initWithdraw().setReason("duplicate of an iARMS request");
      break;
    case MessageType::CLOSE:
      reply_to();
      body.initClose().setReason("answered");
      break;
    case MessageType::HIT_NOTIFICATION: {
      auto hit = body.initHitNotification();
      hit.setAlertMessageId(kj::arrayPtr(answered.bytes.data(), answered.bytes.size()));
      hit.setRequestMessageId(kj::arrayPtr(answered.bytes.data(), answered.bytes.size()));
      hit.setMatchedSerial("AK-4711-ZG");
      break;
    }
    case MessageType::REMINDER: {
      reply_to();
      auto reminder = body.initReminder();
      reminder.setRequestMessageId(kj::arrayPtr(answered.bytes.data(), answered.bytes.size()));
      reminder.setRequestedCountry("NE");
      reminder.setClock(wire::ClockKind::ACKNOWLEDGEMENT);
      reminder.setDueAtMs(now_ms() - 1000);
      break;
    }
    case MessageType::ESCALATION: {
      reply_to();
      auto escalation = body.initEscalation();
      escalation.setRequestMessageId(kj::arrayPtr(answered.bytes.data(), answered.bytes.size()));
      escalation.setRequestedCountry("NE");
      escalation.setClock(wire::ClockKind::RESPONSE);
      escalation.setDueAtMs(now_ms() - 1000);
      escalation.setOverdueMs(1000);
      break;
    }
    case MessageType::DEAD_LETTER_NOTICE: {
      auto notice = body.initDeadLetterNotice();
      notice.setMessageId(kj::arrayPtr(answered.bytes.data(), answered.bytes.size()));
      notice.setRecipient("bf.focal-point");
      notice.setReason("not collected before the hold time ended");
      notice.setHeldUntilMs(now_ms() - 1000);
      break;
    }
    case MessageType::FIGURES_STATEMENT: {
      // Issue 12: public, addressed to the exchange itself (no recipients).
      header.setClassification(wire::Classification::PUBLIC);
      header.initRecipients(0);
      auto statement = body.initFiguresStatement();
      statement.setCountry("SN");
      statement.setPeriodStartMs(1'790'812'800'000);  // 2026-10-01T00:00:00Z
      statement.setText("Senegal answered every request it received; two were delayed by a records migration.");
      break;
    }
    // Civil society's voice: a cso of Senegal (cso.sahel-watch.sn) to its focal point.
    case MessageType::EARLY_WARNING: {
      recipients[0].setCountry("SN");
      auto warning = body.initEarlyWarning();
      warning.setThreat("Young men from outside the village offer pistols for sale at the weekly market");
      warning.setLocation("Tambacounda, weekly market");
      warning.setFirearmDescription("two or three handguns, no visible markings");
      set_date(warning.getObservedOn(), 2026, 3, 2);
      break;
    }
    case MessageType::EARLY_WARNING_ACKNOWLEDGEMENT: {
      recipients[0].setParticipant("cso.sahel-watch.sn");
      reply_to();
      auto ack = body.initEarlyWarningAcknowledgement();
      ack.setReceivedAtMs(now_ms() - 1000);
      ack.setNote("Received; the gendarmerie of Tambacounda is informed.");
      break;
    }
    case MessageType::CAMPAIGN_CONTRIBUTION: {
      recipients[0].setCountry("SN");
      auto contribution = body.initCampaignContribution();
      contribution.setCampaign("Tambacounda voluntary surrender 2026");
      set_date(contribution.getPeriodStart(), 2026, 1, 1);
      set_date(contribution.getPeriodEnd(), 2026, 2, 28);
      contribution.setWeaponsCollected(37);
      contribution.setAmmunitionCollected(1200);
      contribution.setText("Four village meetings; weapons handed in at the gendarmerie with our volunteers present.");
      break;
    }
    case MessageType::UNSPECIFIED:
      FAIL("no sample for an unspecified message type");
  }
}

Bytes seal_sample(const Identity& signer, MessageType type, std::int64_t created_at_ms) {
  return seal_changed(signer, type, [&](wire::Header::Builder header, wire::Body::Builder) {
    header.setCreatedAtMs(created_at_ms);
  });
}

Bytes seal_changed(const Identity& signer, MessageType type, const SampleChange& change) {
  capnp::MallocMessageBuilder header_message;
  capnp::MallocMessageBuilder body_message;
  auto header = header_message.initRoot<wire::Header>();
  auto body = body_message.initRoot<wire::Body>();
  fill_sample(type, header, body);
  change(header, body);
  auto sealed = seal_envelope(signer, header, body.asReader());
  if (!sealed) FAIL("seal failed: " << sealed.error().describe());
  return std::move(sealed).value();
}

MessageId message_id_of(const Bytes& envelope) {
  auto id = read_message<wire::Envelope>(envelope, Framing::flat, "envelope", [](wire::Envelope::Reader root) {
    auto header = root.getHeader();
    return read_message<wire::Header>(ByteView(header.begin(), header.size()), Framing::canonical, "header",
                                      [](wire::Header::Reader fields) -> Result<MessageId> {
                                        auto bytes = fields.getMessageId();
                                        auto parsed = MessageId::from_bytes(ByteView(bytes.begin(), bytes.size()));
                                        if (!parsed) return make_error(ErrorCode::malformed, "no 16-byte message id");
                                        return *parsed;
                                      });
  });
  if (!id) FAIL("a sample envelope has no readable message id: " << id.error().describe());
  return *id;
}

}  // namespace fpx::test
