# Participant <-> broker transport on the participants endpoint (ROUTER/DEALER
# with CURVE). Each ZeroMQ message is exactly one frame holding one
# ClientFrame (participant -> broker) or BrokerFrame (broker -> participant).
@0xb6036c98c05b909d;

$import "/capnp/c++.capnp".namespace("fpx::wire");

# One error-code set for the whole wire: protocol/result.hpp's ErrorCode maps
# to it one to one. Append only.
enum ErrorCode {
  none @0;
  malformed @1;
  notCanonical @2;
  bodyHashMismatch @3;
  badSignature @4;
  untrustedChain @5;
  certificateExpired @6;
  certificateNotYetValid @7;
  revoked @8;
  crlMissing @9;
  crlStale @10;
  wrongRole @11;
  missingExtension @12;
  signerMismatch @13;
  schemaViolation @14;
  unauthorized @15;
  unknownRecipient @16;
  replay @17;
  idReused @18;
  staleTimestamp @19;
  rateLimited @20;
  tooLarge @21;
  unsupportedVersion @22;
  notFound @23;
  internal @24;
  unavailable @25;
  revocationNotChecked @26;
  badKey @27;
  ioError @28;
  invalidArgument @29;
  quotaExceeded @30;
}

struct FieldError {
  path @0 :Text;
  # e.g. "body.tracingRequest.firearms[0].calibre"
  message @1 :Text;
}

struct Error {
  code @0 :ErrorCode;
  message @1 :Text;
  # What went wrong and what to do next, for a person.
  fieldErrors @2 :List(FieldError);
  messageId @3 :Data;
  # The message the error is about, when known.
  retryAfterMs @4 :UInt32;
  # With rateLimited: when to try again.
}

struct Receipt {
  # What the broker attests of one stored message: proof that it was stored
  # durably. Version 1 (SignedReceipt.version 0) signed it alone; version 2
  # makes it a leaf of a receipt group (docs/PROTOCOL.md section 6).
  messageId @0 :Data;
  envelopeSha256 @1 :Data;
  storedAtMs @2 :Int64;
  logIndex @3 :UInt64;
  # Transparency-log leaf index of the accepted message.
  brokerId @4 :Text;
  # Version 2: the broker's participant id (its certificate's CN). Empty in version 1.
  openRequest @5 :Data;
  # A tracing request only: the id (16 bytes) of an open tracing request of
  # the same requesting state that this one repeats (the same firearm to one
  # of the same states, or the same reference to another channel; issue 17).
  # Absent otherwise. Never names another state's request.
}

struct ReceiptGroupHead {
  # Signed once per commit group by the broker over
  # "fpx/receipt-group/v1\0" || canonical head bytes.
  context @0 :Text;
  # Always "fpx/receipt-group/v1": the head says what it is even without its signing prefix.
  root @1 :Data;
  # RFC 9162 Merkle tree hash (32 bytes) over the group's leaves, leaf i being
  # SHA-256(0x00 || canonical Receipt of the group's i-th message).
  size @2 :UInt64;
  # Number of leaves (at least 1).
  sealedAtMs @3 :Int64;
  # The broker's time when it signed the group, just before the commit.
  brokerId @4 :Text;
}

struct SignedReceipt {
  receipt @0 :Data;
  # Canonical encoding of Receipt.
  signature @1 :Data;
  # Version 1 only: Ed25519 over "fpx/v1/receipt\0" || receipt. Empty in version 2.
  brokerChain @2 :List(Data);
  version @3 :UInt16;
  # 0: version 1 (one signature per receipt; brokers before receipt groups).
  # 2: a group receipt: the fields below. Any other value: unsupported_version.
  groupHead @4 :Data;
  # Version 2: canonical encoding of ReceiptGroupHead.
  headSignature @5 :Data;
  # Version 2: Ed25519 over "fpx/receipt-group/v1\0" || groupHead.
  leafIndex @6 :UInt64;
  # Version 2: this receipt's leaf in the group (0 ..< head.size).
  inclusionPath @7 :List(Data);
  # Version 2: RFC 9162 PATH(leafIndex, group leaves), 32 bytes each, leaf end first.
}

struct Delivery {
  deliveryId @0 :UInt64;
  # Confirm with this id; a resent delivery keeps its id.
  envelope @1 :Data;
  # The sender's envelope, byte for byte as the broker received it.
}

struct DeliveryConfirmation {
  deliveryIds @0 :List(UInt64);
}

struct StatusQuery {
  messageId @0 :Data;
}

enum DeliveryState {
  stored @0;
  delivered @1;
  confirmed @2;
  deadLetter @3;
}

struct RecipientStatus {
  recipient @0 :Text;
  state @1 :DeliveryState;
  updatedAtMs @2 :Int64;
  lifecycle @3 :Text;
  # Tracing lifecycle state for this requested state, if a tracing request.
  reason @4 :Text;
}

struct StatusReply {
  messageId @0 :Data;
  recipients @1 :List(RecipientStatus);
}

struct LogProofQuery {
  messageId @0 :Data;
  # One of the asker's own messages (16 bytes): its sender, or a focal point
  # of the sender's state, may ask (docs/PROTOCOL.md section 6.1).
}

struct LogProof {
  # "Your message is in the log everyone sees": the message's transparency-log
  # leaf opened far enough for its sender to recognise it, and its inclusion
  # proof against the latest checkpoint (docs/PROTOCOL.md section 6.1).
  messageId @0 :Data;
  leafIndex @1 :UInt64;
  # The message's leaf: its receipt's logIndex.
  checkpoint @2 :Text;
  # The latest C2SP signed checkpoint note (section 11); its tree size is
  # above leafIndex.
  partHashes @3 :List(Data);
  # SHA-256(salt || metadata) of every part of the leaf, in order (32 bytes each).
  eventSalt @4 :Data;
  eventMetadata @5 :Text;
  # Part 0 opened: "type|sender country|recipient countries,|day number".
  inclusionPath @6 :List(Data);
  # RFC 9162 PATH(leafIndex, tree of the checkpoint's size).
}

struct StatisticsFactsQuery {
  # A focal point asks for the opened facts of its own state's tracings in a
  # published statistics period (docs/PROTOCOL.md section 11, "Each party's
  # own facts"): the salts and metadata of every fact part of every tracing
  # its state requested or was asked, counted in that period.
  periodStart @0 :Int64;
  # The period's start, milliseconds since the Unix epoch (the record's
  # periodStart); the broker's one grid of periods.
  requestId @1 :Data;
  # Empty: every tracing of the asker's state in the period. Otherwise one
  # tracing request (16 bytes): not_found unless the asker's state is party.
  offset @2 :UInt32;
  # Facts to skip (paging: the reply's nextOffset).
}

struct OpenedFact {
  requestId @0 :Data;
  # The tracing request the fact is about (16 bytes).
  requestedCountry @1 :Text;
  # The requested state whose handling of the request the fact is about.
  leafIndex @2 :UInt64;
  salt @3 :Data;
  # 16 bytes; SHA-256(salt || metadata) is one of partHashes.
  metadata @4 :Text;
  # The fact as compact JSON (section 11, "Leaves and their parts").
  partHashes @5 :List(Data);
  # Every part of the leaf, in order: the leaf data is rebuilt from them.
  inclusionPath @6 :List(Data);
  # RFC 9162 PATH(leafIndex, tree of the checkpoint's size).
}

struct StatisticsFacts {
  checkpoint @0 :Text;
  # The latest C2SP signed checkpoint note; every leaf below is in its tree.
  record @1 :Text;
  # The period's statistics record, its signed JSON exactly as on the feed.
  recordSignature @2 :Data;
  # The broker's Ed25519 signature over the feed signing input of record.
  recordInclusionPath @3 :List(Data);
  # The record is a leaf itself at its logIndex (section 11): its path in
  # the checkpoint's tree.
  facts @4 :List(OpenedFact);
  nextOffset @5 :UInt32;
  # 0: the last page; otherwise ask again with this offset.
}

struct ClientFrame {
  requestId @0 :UInt64;
  # Echoed in the reply so a client can match answers to requests.
  union {
    submit @1 :Data;
    # An Envelope.
    confirm @2 :DeliveryConfirmation;
    status @3 :StatusQuery;
    ping @4 :Void;
    logProof @5 :LogProofQuery;
    statisticsFacts @6 :StatisticsFactsQuery;
  }
}

struct BrokerFrame {
  requestId @0 :UInt64;
  union {
    receipt @1 :SignedReceipt;
    error @2 :Error;
    delivery @3 :Delivery;
    status @4 :StatusReply;
    pong @5 :Void;
    sessionClosed @6 :Text;
    # Sent to a session taken over by a newer one, with the reason.
    logProof @7 :LogProof;
    statisticsFacts @8 :StatisticsFacts;
    probe @10 :Void;
    # requestId 0, unsolicited: the broker checks that a connection is still
    # there (docs/PROTOCOL.md §3, connections per key). Ignore it.
  }
  maxFrameBytes @9 :UInt32;
  # Set in a pong, 0 in every other frame and from a broker older than this
  # field: the largest ClientFrame in bytes this broker reads (its
  # limits.max_message_bytes). A bigger frame makes it drop the connection
  # unread (docs/PROTOCOL.md §2.6): a client must not send one.
}
