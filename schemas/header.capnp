# The signed header of every message (DOMAIN.md "Messages").
@0xa2a4a1c716cb9c58;

$import "/capnp/c++.capnp".namespace("fpx::wire");

enum MessageType {
  unspecified @0;
  tracingRequest @1;
  tracingAcknowledgement @2;
  tracingResponse @3;
  alert @4;
  campaignReport @5;
  informationSupplied @6;
  forward @7;
  withdraw @8;
  close @9;
  hitNotification @10;
  reminder @11;
  escalation @12;
  deadLetterNotice @13;
  figuresStatement @14;
  earlyWarning @15;
  earlyWarningAcknowledgement @16;
  campaignContribution @17;
  # Civil society's voice (PROTOCOL.md §7.9): sent by a cso certificate to
  # its own state's focal point, the acknowledgement by that focal point.
}

enum Priority {
  routine @0;
  urgent @1;
}

enum Classification {
  public @0;
  restricted @1;
  confidential @2;
}

enum HandlingCode {
  h0CrimeFightingOnly @0;
  h1NotForCourtWithoutPermission @1;
  h2NoOnwardSharingWithoutPermission @2;
  h3OtherConditions @3;
}

enum SourceReliability {
  unset @0;
  a @1;
  b @2;
  c @3;
  x @4;
}

enum OtherChannel {
  iarms @0;
  etrace @1;
  siena @2;
  nationalCaseSystem @3;
  other @4;
}

struct Recipient {
  union {
    country @0 :Text;
    # ISO 3166-1 alpha-2: the state's focal point (and, for alerts, its agencies).
    participant @1 :Text;
    # A participant id such as "ne.focal-point".
    region @2 :Text;
    # A configured region (alerts only), e.g. "ECOWAS".
    allStates @3 :Void;
    # Every state (alerts only).
  }
}

struct Evaluation {
  sourceReliability @0 :SourceReliability;
  informationAccuracy @1 :UInt8;
  # 1-4; 0 means not evaluated.
}

struct ChannelReference {
  channel @0 :OtherChannel;
  reference @1 :Text;
}

enum MediaType {
  unspecified @0;
  imageJpeg @1;
  # image/jpeg: a photo of markings.
  imagePng @2;
  # image/png
  applicationPdf @3;
  # application/pdf: a document (shown as a download, never rendered inline).
}

struct Attachment {
  # One attached file, bound to the signature by its hash
  # (docs/PROTOCOL.md §5.7). Its bytes travel in Envelope.attachments at the
  # same index, outside the signed header.
  fileName @0 :Text;
  # Sanitised: 1-128 of A-Z a-z 0-9 . _ - ( ) and space, not starting with
  # '.', ending in an extension of its media type (.jpg/.jpeg, .png, .pdf).
  mediaType @1 :MediaType;
  # Must be what the bytes' magic says, not only what the name says.
  size @2 :UInt64;
  sha256 @3 :Data;
  # 32 bytes: SHA-256 of the attachment's bytes.
}

struct Header {
  schemaVersion @0 :UInt16;
  # 1 for this version of the schemas.

  messageId @1 :Data;
  # 16 random bytes chosen by the sender.

  type @2 :MessageType;
  createdAtMs @3 :Int64;
  # UTC, milliseconds since the Unix epoch.

  senderParticipant @4 :Text;
  senderCountry @5 :Text;
  recipients @6 :List(Recipient);
  caseReference @7 :Text;
  inReplyTo @8 :Data;
  # Message id of the message this one answers; empty if none.

  priority @9 :Priority;
  urgencyJustification @10 :Text;
  classification @11 :Classification;
  handlingCodes @12 :List(HandlingCode);
  handlingConditions @13 :Text;
  # Required with H3.

  evaluation @14 :Evaluation;
  otherChannelReferences @15 :List(ChannelReference);
  bodySha256 @16 :Data;

  officer @17 :Text;
  # The officer who signed, under senderParticipant: the officer extension
  # of the signer's certificate (certs/README.md). Absent (null) when the
  # participant's own certificate signed; then the header's bytes are those
  # of a header without this field. A verifier refuses a header whose officer
  # differs from its certificate's (signer_mismatch).

  attachments @18 :List(Attachment);
  # Issue 17: photos of markings and documents, by hash. Absent (null) when
  # the message has none, so such headers keep their canonical bytes.
}
