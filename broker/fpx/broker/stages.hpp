// The stages a submitted message passes, in order, each in its own file:
//   accept -> identify -> open -> authorize -> validate -> dedupe -> persist
//   -> receipt -> (after the commit) route, reply; account writes the audit
//   row and transparency-log leaf of every decision.
// A stage either lets the message on or returns a typed Error; nothing is
// written for a refused message except its audit row.
//
// authorize runs before validate (DESIGN.md lists them the other way): it
// needs only the signed header and is cheap, and a participant who may not
// send a message at all should hear "unauthorized", whatever the body says.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "fpx/broker/config.hpp"
#include "fpx/broker/enrollment.hpp"
#include "fpx/broker/store.hpp"
#include "fpx/envelope.hpp"

namespace fpx::broker {

// What the pure stages (open, validate) read: no store, so that they can run
// on any thread holding its own opener and a snapshot of enrolment and trust.
struct VerifyContext {
  const BrokerConfig& config;
  EnvelopeOpener& opener;
  const Enrollment& enrollment;
  std::int64_t now_ms;
};

// What the store stages read and write: the batch's open transaction.
struct StageContext {
  const BrokerConfig& config;
  Store& store;
  EnvelopeOpener& opener;
  const Enrollment& enrollment;
  const Identity& identity;
  std::int64_t now_ms;

  VerifyContext verify() const { return VerifyContext{config, opener, enrollment, now_ms}; }
};

// accept: per-participant token bucket, checked before any signature work.
class RateLimiter {
 public:
  RateLimiter(double rate_per_second, double burst) : rate_per_ms_(rate_per_second / 1000.0), burst_(burst) {}
  // ok, or rate_limited with the wait in retry_after_ms. `cost` tokens are
  // taken (a confirm costs by its ids: kConfirmIdsPerToken); a cost over the
  // burst is taken once the bucket is full, leaving it in debt.
  Status admit(const ParticipantId& participant, std::int64_t now_ms, std::uint32_t& retry_after_ms,
               double cost = 1.0);
  // Whether admit() would let a message through now, without taking a token.
  bool would_admit(const ParticipantId& participant, std::int64_t now_ms) const;
  // Tokens the participant holds now (admit() takes them): how many of its
  // messages may be verified ahead of admission without verifying a flood.
  double tokens(const ParticipantId& participant, std::int64_t now_ms) const;

 private:
  struct Bucket {
    double tokens = 0;
    std::int64_t updated_ms = 0;
  };
  double rate_per_ms_;
  double burst_;
  std::map<ParticipantId, Bucket> buckets_;
};

// Bytes a principal may make the broker send, as a token bucket that may go
// into debt: a reply's size is known only once it is built, so it is charged
// afterwards, and the principal's next request waits until the debt is paid.
// Stops an observer that asks for large pages faster than it reads them from
// making the broker build (and queue) replies without end.
class ByteBudget {
 public:
  // `advice`: what the refused principal did and should do, after its name.
  ByteBudget(double bytes_per_second, double burst_bytes,
             std::string advice = "asked for more reply bytes than this broker sends per second; read the replies "
                                  "you asked for, ask for smaller pages, and")
      : rate_per_ms_(bytes_per_second / 1000.0), burst_(burst_bytes), advice_(std::move(advice)) {}
  // ok while the principal is not in debt, else rate_limited with the wait.
  Status admit(const ParticipantId& principal, std::int64_t now_ms, std::uint32_t& retry_after_ms);
  void charge(const ParticipantId& principal, std::int64_t now_ms, std::size_t bytes);
  // The principal's bytes now (negative: in debt), nothing taken.
  double available(const ParticipantId& principal, std::int64_t now_ms) const;

 private:
  struct Bucket {
    double tokens = 0;
    std::int64_t updated_ms = 0;
  };
  Bucket& refill(const ParticipantId& principal, std::int64_t now_ms);
  double rate_per_ms_;
  double burst_;
  std::string advice_;
  std::map<ParticipantId, Bucket> buckets_;
};

// Confirmed delivery ids one token of the participant's bucket pays for: a
// confirm frame costs 1 token plus 1 per this many ids, so a flood of
// 4096-id confirms (each an UPDATE per id on the loop thread) meets the
// rate limit, while a client confirming its in-flight window (64) pays 2.
inline constexpr double kConfirmIdsPerToken = 64;

// persist: bytes of accepted envelopes per participant, bounded twice, so
// that an enrolled participant (or a stolen key) cannot fill the broker's
// disk with valid messages:
//  - per UTC day (limits.quota_bytes_per_day), counted from the store once
//    a day (a restart keeps it), then in memory: a message costs a
//    comparison, not a query;
//  - per minute, as a token bucket of stored bytes
//    (limits.stored_bytes_per_minute, limits.stored_burst_bytes): the day's
//    quota alone let a participant add ~713 MB of store in its first minute.
//    A restart starts the bucket from what the store holds from the
//    participant's last refill period (the bucket is never fuller than it
//    was, so a restart cannot hand out a second burst).
// Both count a stolen/lost alert's watched serials as well as envelopes
// (each serial a row and two index entries, kStoredBytesPerWatchedSerial),
// so that stacking alerts grows the store no faster than sending envelopes,
// and both read them back from the store after a restart.
// Both are charged after dedupe: a resend of an accepted message still gets
// its receipt, whatever the bounds say.
class DailyQuota {
 public:
  DailyQuota(std::uint64_t bytes_per_day, double stored_bytes_per_minute, double stored_burst_bytes);
  // The bytes `participant` stored since `since_ms` (from the store).
  using StoredSince = std::function<Result<std::uint64_t>(const ParticipantId&, std::int64_t since_ms)>;
  // ok if a message of `envelope_bytes`, storing `stored_bytes` in all
  // (stored_bytes_of()), fits in the participant's day and minute;
  // quota_exceeded with the wait in retry_after_ms otherwise (to the next
  // 00:00 UTC, or until the minute's bucket holds enough); the store's error
  // if it cannot read.
  // `stored_bytes`: stored_bytes_of() the message, what both bounds count.
  Status admit(const ParticipantId& participant, std::int64_t now_ms, std::uint64_t stored_bytes,
               const StoredSince& stored_since, std::uint32_t& retry_after_ms);
  // Before any signature work (issue 14): quota_exceeded, with the wait,
  // when the participant's day or minute, as last counted in memory, cannot
  // hold even the least a message of `envelope_bytes` costs
  // (stored_bytes_of() of it without watched serials); ok otherwise, and
  // when nothing is counted yet (admit() reads the store then). Changes
  // nothing: admit() and charge() still decide and count after dedupe.
  Status precheck(const ParticipantId& participant, std::int64_t now_ms, std::uint64_t envelope_bytes,
                  std::uint32_t& retry_after_ms) const;
  // An accepted message's bytes (after admit() said ok).
  void charge(const ParticipantId& participant, std::int64_t now_ms, std::uint64_t stored_bytes);
  // After a rolled-back transaction: counts are read from the store again.
  void forget() {
    used_.clear();
    minute_.clear();
  }
  static std::int64_t day_start_ms(std::int64_t at_ms);
  // What accepting `opened` adds to the store, as counted by both bounds:
  // kStoredBytesPerEnvelopeByte for each byte of its envelope, and
  // kStoredBytesPerWatchedSerial for each watch-list row a stolen/lost
  // alert adds (a listed serial, or a serial range: one row whatever its width).
  static std::uint64_t stored_bytes_of(const OpenedEnvelope& opened, std::uint64_t envelope_bytes);

 private:
  struct Day {
    std::int64_t start_ms = 0;
    std::uint64_t bytes = 0;
  };
  struct Bucket {
    double tokens = 0;
    std::int64_t updated_ms = 0;
  };
  Status admit_day(const ParticipantId& participant, std::int64_t now_ms, std::uint64_t bytes,
                   const StoredSince& stored_since, std::uint32_t& retry_after_ms);
  Status day_refusal(const ParticipantId& participant, std::uint64_t used, std::uint64_t bytes, std::int64_t now_ms,
                     std::uint32_t& retry_after_ms) const;
  Status minute_refusal(const ParticipantId& participant, double tokens, double due, std::uint64_t bytes,
                        std::uint32_t& retry_after_ms) const;
  Status admit_minute(const ParticipantId& participant, std::int64_t now_ms, std::uint64_t bytes,
                      const StoredSince& stored_since, std::uint32_t& retry_after_ms);
  std::uint64_t bytes_per_day_;
  double minute_rate_per_ms_;
  double minute_burst_;
  std::map<ParticipantId, Day> used_;
  std::map<ParticipantId, Bucket> minute_;
};

// Store bytes one watched serial number adds beyond the alert's envelope: a
// watched_serials row (serial, alert, country, validity, the states it
// reached) and its entries in the two indexes, with SQLite's page slack.
// Estimated from the schema and checked against fpx-bench --abuse's
// watch_list flood (bench/README.md).
inline constexpr std::uint64_t kStoredBytesPerWatchedSerial = 128;


// accept: the audit of rate_limited refusals. Every refusal is answered,
// but a flood must not become an audit flood (tens of thousands of rows a
// second, filling the disk): the first refusal of a principal at a stage in
// each window is audited in full, and the others of that window are counted
// and audited as one summary row once the window has ended.
class RefusalTally {
 public:
  explicit RefusalTally(std::int64_t window_ms) : window_ms_(window_ms) {}
  // true: audit this refusal in full; false: it is counted for a summary.
  // Windows are per stage, principal and error code.
  bool audit_in_full(const std::string& stage, const std::string& principal, ErrorCode code, std::int64_t now_ms);
  bool audit_in_full(const std::string& stage, const std::string& principal, std::int64_t now_ms) {
    return audit_in_full(stage, principal, ErrorCode::rate_limited, now_ms);
  }

  struct Summary {
    std::string stage;
    std::string principal;
    ErrorCode code = ErrorCode::rate_limited;
    std::uint64_t refusals = 0;  // not audited one by one
    std::int64_t window_start_ms = 0;
  };
  // The summaries of windows ended by now_ms, each once; windows in which
  // nothing was left uncounted give none.
  std::vector<Summary> take_ended(std::int64_t now_ms);

 private:
  struct Window {
    std::int64_t start_ms = 0;
    std::uint64_t uncounted = 0;
  };
  std::int64_t window_ms_;
  std::map<std::tuple<std::string, std::string, ErrorCode>, Window> open_;  // (stage, principal, code)
  std::vector<Summary> ended_;  // ended before take_ended() came round
};

// accept: frame count and size, before decoding anything.
Status accept_frame(std::size_t frame_count, std::size_t payload_bytes, const Limits& limits);

// identify: the principal is the participant ZAP authenticated (its
// User-Id), never a name taken from the payload.
Result<const EnrolledParticipant*> identify(const std::string& user_id, const Enrollment& enrollment);

// identify (of the signer): ok when the message's signing certificate is one
// enrolled for `principal` (same Ed25519 key, id, role, country, officer);
// signer_mismatch or wrong_role otherwise.
Status identify_signer(const Enrollment& enrollment, const EnrolledParticipant& principal,
                       const VerifiedSigner& signer);

// open: protocol's open() with revocation required, at the broker's clock;
// a message signed in the principal's name must pass identify_signer.
// The message id an envelope claims, read without any signature check, or
// nullopt when it cannot be decoded. Only for deciding whether a submit the
// quota would refuse before open (DailyQuota::precheck) may be a resend of
// a message this sender stored, which must still get its receipt: such a
// submit is then opened and deduped as any other, never trusted on its claim.
std::optional<MessageId> claimed_message_id(ByteView envelope);

Result<OpenedEnvelope> open_submitted(const VerifyContext& context, const EnrolledParticipant& principal,
                                      ByteView envelope);

// authorize: default deny; the routing rules of DOMAIN.md. Returns the
// participants the message goes to, in routing order.
Result<std::vector<ParticipantId>> authorize(const StageContext& context, const EnrolledParticipant& principal,
                                             const OpenedEnvelope& opened);

// validate: the schema rules (protocol/validate.hpp).
Status validate_submitted(const VerifyContext& context, const OpenedEnvelope& opened);

// dedupe: the same id with the same signed bytes is the same message (its
// receipt is given again); with other bytes it is id_reused; a new
// message must have been created within the timestamp window.
struct DedupeVerdict {
  std::optional<StoredMessage> duplicate_of;
};
Result<DedupeVerdict> dedupe(const StageContext& context, const OpenedEnvelope& opened,
                             const Sha256Digest& signed_sha256);

// SHA-256 of header bytes || body bytes: what the signature binds.
Sha256Digest signed_content_sha256(const OpenedEnvelope& opened);

// persist: message, deliveries and log leaf in the current transaction.
Result<InsertedMessage> persist(const StageContext& context, const OpenedEnvelope& opened, ByteView envelope,
                                const Sha256Digest& signed_sha256, const std::vector<ParticipantId>& recipients);

// receipt: the broker-signed proof of durable storage, one signature per
// commit group (fpx/broker/receipt_group.hpp).

// account: the transparency-log leaf of an accepted message, a salted
// commitment to its metadata (not its content), and audit entries. The leaf
// commits to parts (fpx/process_statistics.hpp): part 0 is the event
// ("type|sender country|recipient countries|day"); a tracing message adds
// one part per fact it establishes about a tracing (a request, its first
// acknowledgement, an answer, its outcome and grounds), read from the
// lifecycle as it stands before this message moves it.
struct LeafCommitment {
  std::vector<CommitmentPart> parts;
  Bytes leaf_data;
};
Result<LeafCommitment> log_leaf_commitment(const StageContext& context, const OpenedEnvelope& opened,
                                           const std::vector<ParticipantId>& recipients);

// Public names of outcomes and refusal grounds: lifecycle rows, statistics
// and revealed facts all use these.
std::string tracing_outcome_name(wire::TracingOutcome outcome);
std::string refusal_ground_name(wire::RefusalGround ground);
// One audit row into the open transaction; a failure is logged, never
// thrown: the decision it records stands.
void append_audit_row(Store& store, AuditEntry entry);
AuditEntry audit_entry(std::int64_t now_ms, const std::string& principal, const std::optional<MessageId>& id,
                       std::string stage, ErrorCode outcome, std::string detail);

}  // namespace fpx::broker
