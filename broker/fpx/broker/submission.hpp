// One submitted message on its way through the stages, as a plain value:
// what the loop took off the socket, then what each stage found. The stages
// are split in two by what they touch:
//
//   verify (pure: no store, no sockets)  authorize's role check, open, validate
//   commit (the batch's transaction)     authorize, dedupe, quota, persist,
//                                        receipt, account
//
// so that verify can run on another thread (it reads only the config, an
// opener over the trust store, and the enrolment) while commit stays with
// the store. validate's verdict is found in verify but reported after
// authorize's (stages.hpp says why authorize speaks first).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fpx/broker/enrollment.hpp"
#include "fpx/broker/stage_timers.hpp"
#include "fpx/broker/stages.hpp"
#include "fpx/broker/store.hpp"
#include "fpx/envelope.hpp"

namespace fpx::broker {

// Why a stage stopped a message: the reply and audit row it gets.
struct Refusal {
  const char* stage = "";  // the audit row's stage: "authorize", "open", ...
  Error error;
  std::optional<MessageId> about;  // the message id, once open() found it
  std::uint32_t retry_after_ms = 0;
};

struct Submission {
  // Taken off the socket (the loop).
  std::string routing_id;
  EnrolledParticipant principal;  // the ZAP User-Id's participant, never the payload's claim
  std::uint64_t request_id = 0;
  Bytes envelope;

  // verify
  std::optional<Refusal> refusal;  // the first stage that refused; nothing later runs
  std::optional<OpenedEnvelope> opened;
  Status validated;  // validate's verdict, reported once authorize let the message on
  bool verified = false;

  // commit
  std::vector<ParticipantId> recipients;  // authorize's routing, in order
  Sha256Digest signed_sha256{};
  std::optional<StoredMessage> duplicate_of;  // dedupe: a resend of a stored message
  std::uint64_t stored_bytes = 0;             // what the quota counts: the envelope, and watched serials
  std::optional<InsertedMessage> inserted;    // persist

  bool refused() const { return refusal.has_value(); }
  void refuse(const char* stage, Error error, std::uint32_t retry_after_ms = 0) {
    std::optional<MessageId> about;
    if (opened) about = opened->message_id;
    refusal = Refusal{stage, std::move(error), about, retry_after_ms};
  }
};

// verify: who may submit at all, open (signature, chain, CRL, enrolled
// signer) and validate. Pure: safe on a worker thread with its own opener.
void verify_submission(const VerifyContext& context, Submission& submission, StageTimes& times);

// authorize (routing by the signed header; replies are checked against the
// store), then validate's verdict.
void authorize_submission(const StageContext& context, Submission& submission, StageTimes& times);

// dedupe: the same message again (duplicate_of), or a new one in the window.
void dedupe_submission(const StageContext& context, Submission& submission, StageTimes& times);

// The participant's stored bytes of the day (limits.quota_bytes_per_day) and
// of the minute (limits.stored_bytes_per_minute, watched serials counted): after
// dedupe, so that a resend of an accepted message still gets its receipt.
void check_daily_quota(const StageContext& context, DailyQuota& quota, Submission& submission);

}  // namespace fpx::broker
