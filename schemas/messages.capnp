# Message bodies (DOMAIN.md "Messages"). The union member of Body must match
# Header.type; open() refuses a mismatch.
@0xa9bc49be6fc47e21;

$import "/capnp/c++.capnp".namespace("fpx::wire");

using import "firearm.capnp".Firearm;
using import "header.capnp".Evaluation;

struct Date {
  year @0 :UInt16;
  month @1 :UInt8;
  day @2 :UInt8;
}

# ---- Tracing request ------------------------------------------------------

enum RequestedStateRole {
  countryOfManufacture @0;
  countryOfLastImport @1;
  otherOnTrail @2;
}

struct RequestedState {
  country @0 :Text;
  role @1 :RequestedStateRole;
}

enum IllicitBasis {
  illicitUnderNationalLaw @0;
  embargoViolation @1;
  notMarked @2;
  unlicensedManufacture @3;
  unlicensedTransfer @4;
}

enum RecoveryCircumstance {
  seized @0;
  found @1;
  surrendered @2;
}

struct Recovery {
  date @0 :Date;
  administrativeArea @1 :Text;
  circumstance @2 :RecoveryCircumstance;
  crimeCategory @3 :Text;
}

enum InformationSought {
  chainOfCustody @0;
  exportLicence @1;
  lastLegalHolder @2;
  pointOfDiversion @3;
}

struct TracingRequest {
  requestingCountry @0 :Text;
  requestingAgency @1 :Text;
  nationalCaseReference @2 :Text;
  requestedStates @3 :List(RequestedState);
  firearms @4 :List(Firearm);
  illicitBasis @5 :List(IllicitBasis);
  legalJustification @6 :Text;
  recovery @7 :Recovery;
  intendedUse @8 :Text;
  informationSought @9 :List(InformationSought);
}

# ---- Tracing acknowledgement ------------------------------------------------

enum AcknowledgementStatus {
  accepted @0;
  needsInformation @1;
  rejectedAsMalformed @2;
  forwarded @3;
}

struct TracingAcknowledgement {
  receivedAtMs @0 :Int64;
  status @1 :AcknowledgementStatus;
  missingFields @2 :List(Text);
  expectedResponseDate @3 :Date;
  pointOfContact @4 :Text;
}

# ---- Tracing response -------------------------------------------------------

enum ResponseKind {
  interim @0;
  final @1;
}

enum TracingOutcome {
  pointOfDiversionEstablished @0;
  lastLegalHolderIdentified @1;
  partialChain @2;
  noRecord @3;
  notMadeOrImportedHere @4;
  recordsTooOld @5;
  insufficientIdentifiers @6;
  delayed @7;
  restricted @8;
  refused @9;
}

enum CustodyRole {
  manufacturer @0;
  exporter @1;
  importer @2;
  dealer @3;
  stateStock @4;
  holder @5;
}

struct CustodyHop {
  role @0 :CustodyRole;
  entity @1 :Text;
  country @2 :Text;
  date @3 :Date;
  documentReference @4 :Text;
  # Licence or end-user document reference.
}

enum RefusalGround {
  # The ITI's three grounds (paragraph 24).
  ongoingInvestigation @0;
  confidentialityLaw @1;
  nationalSecurity @2;
}

struct TracingResponse {
  kind @0 :ResponseKind;
  outcome @1 :TracingOutcome;
  chainOfCustody @2 :List(CustodyHop);
  refusalGrounds @3 :List(RefusalGround);
  groundsExplanation @4 :Text;
  useRestrictions @5 :Text;
  nextUpdate @6 :Date;
}

# ---- Alert ------------------------------------------------------------------

enum AlertKind {
  lost @0;
  stolen @1;
  diverted @2;
  traffickingRouteOrMethod @3;
  suspectedEmbargoBreach @4;
  emergingThreat @5;
  update @6;
  cancel @7;
}

struct FirearmBatch {
  description @0 :Text;
  quantity @1 :UInt32;
  firearms @2 :List(Firearm);
  # Individually described firearms of the batch, if known.
  serialRanges @3 :List(SerialRange);
  # Consecutive serial numbers of the batch, e.g. "AK-1000" to "AK-1999"
  # (PROTOCOL.md §8.4): a stolen/lost alert watches every serial of each
  # range as it watches a listed firearm's.
}

struct SerialRange {
  # Both ends included. Normalised (letters and digits only, upper case),
  # both ends are the same prefix followed by the same number of digits
  # (1 to 18), and `from` is not above `to`; the broker bounds the width
  # (PROTOCOL.md §8.4).
  from @0 :Text;
  to @1 :Text;
}

struct Alert {
  kind @0 :AlertKind;
  firearms @1 :List(Firearm);
  batch @2 :FirearmBatch;
  place @3 :Text;
  region @4 :Text;
  # Coarse region for a public version, e.g. "Sahel".
  occurredOn @5 :Date;
  validUntil @6 :Date;
  evaluation @7 :Evaluation;
  publishable @8 :Bool;
  # May a redacted version appear on the public oversight feed?
  summary @9 :Text;
  # Private: for the recipients only (never on the public feed).
  publicSummary @10 :Text;
  # Issue 12: a short text the issuing state writes for the public, shown on
  # the oversight feed only when `publishable` is set (docs/PROTOCOL.md
  # §5.3.1); at most 280 characters, no control or bidi-override characters.
}

# ---- Campaign report (public) -------------------------------------------------

struct CampaignReport {
  country @0 :Text;
  commission @1 :Text;
  regions @2 :List(Text);
  periodStart @3 :Date;
  periodEnd @4 :Date;
  weaponsCollected @5 :UInt32;
  weaponsDestroyed @6 :UInt32;
  communityPartners @7 :List(Text);
}

# ---- Figures statement (public; issue 12: a state's right of reply) -----------

struct FiguresStatement {
  country @0 :Text;
  # The sender's own state: a state speaks only about its own figures.
  periodStartMs @1 :Int64;
  # The start (Unix ms) of a statistics period already published on the
  # feed: the `periodStart` of its `statistics` record.
  text @2 :Text;
  # The statement, at most 2000 characters, no control characters.
}

# ---- Civil society's voice (PROTOCOL.md §7.9) --------------------------------
# Sent only by a cso certificate, only to the focal point(s) of the cso's own
# country (its certificate's C). Never published: the feed counts warnings
# per state, never their content.

struct EarlyWarning {
  threat @0 :Text;
  # Required: the community's tip about an emerging threat, in its own words.
  location @1 :Text;
  # Optional: a place, district or area.
  firearmDescription @2 :Text;
  # Optional: what was seen (kind, number, markings), in words.
  observedOn @3 :Date;
  # Optional: the day it was seen (year 0: not given).
}

struct EarlyWarningAcknowledgement {
  receivedAtMs @0 :Int64;
  # When the focal point took the warning in (ms since the epoch).
  note @1 :Text;
  # Optional: a word back to the organisation.
}

struct CampaignContribution {
  campaign @0 :Text;
  # Required: the collection campaign the contribution is for.
  periodStart @1 :Date;
  periodEnd @2 :Date;
  weaponsCollected @3 :UInt32;
  ammunitionCollected @4 :UInt32;
  # Rounds of ammunition.
  text @5 :Text;
  # Required: what the organisation did and saw, for the campaign report.
}

# ---- Workflow messages ------------------------------------------------------

struct InformationSupplied {
  fields @0 :List(SuppliedField);
  firearms @1 :List(Firearm);
  # Corrected or completed firearm descriptions, if any.
  note @2 :Text;
}

struct SuppliedField {
  path @0 :Text;
  value @1 :Text;
}

struct Forward {
  toCountry @0 :Text;
  reason @1 :Text;
}

struct Withdraw {
  reason @0 :Text;
}

struct Close {
  reason @0 :Text;
}

struct HitNotification {
  alertMessageId @0 :Data;
  requestMessageId @1 :Data;
  matchedSerial @2 :Text;
}

enum ClockKind {
  acknowledgement @0;
  response @1;
}

struct Reminder {
  requestMessageId @0 :Data;
  requestedCountry @1 :Text;
  clock @2 :ClockKind;
  dueAtMs @3 :Int64;
}

struct Escalation {
  requestMessageId @0 :Data;
  requestedCountry @1 :Text;
  clock @2 :ClockKind;
  dueAtMs @3 :Int64;
  overdueMs @4 :Int64;
}

struct DeadLetterNotice {
  messageId @0 :Data;
  recipient @1 :Text;
  reason @2 :Text;
  heldUntilMs @3 :Int64;
}

struct Body {
  union {
    tracingRequest @0 :TracingRequest;
    tracingAcknowledgement @1 :TracingAcknowledgement;
    tracingResponse @2 :TracingResponse;
    alert @3 :Alert;
    campaignReport @4 :CampaignReport;
    informationSupplied @5 :InformationSupplied;
    forward @6 :Forward;
    withdraw @7 :Withdraw;
    close @8 :Close;
    hitNotification @9 :HitNotification;
    reminder @10 :Reminder;
    escalation @11 :Escalation;
    deadLetterNotice @12 :DeadLetterNotice;
    figuresStatement @13 :FiguresStatement;
    earlyWarning @14 :EarlyWarning;
    earlyWarningAcknowledgement @15 :EarlyWarningAcknowledgement;
    campaignContribution @16 :CampaignContribution;
  }
}
