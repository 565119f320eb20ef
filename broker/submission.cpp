// The submit path's stages over a Submission (fpx/broker/submission.hpp).
#include "fpx/broker/submission.hpp"

namespace fpx::broker {

void verify_submission(const VerifyContext& context, Submission& submission, StageTimes& times) {
  submission.verified = true;
  const EnrolledParticipant& principal = submission.principal;
  // Only focal points and agencies submit: observers are read-only, and the
  // exchange's own identity issues its notices itself, never over the wire.
  // A cso submits too: its two message types only (authorize's cso block).
  if (principal.role != Role::focal_point && principal.role != Role::agency && principal.role != Role::cso) {
    submission.refuse("authorize",
                      make_error(ErrorCode::unauthorized,
                                 principal.role == Role::observer
                                     ? "observers are read-only: they follow the public feed and may send nothing here"
                                     : "a " + std::string(role_name(principal.role)) + " may not submit messages"));
    return;
  }
  {
    ScopedStageTimer timer(times, StageTimer::open);
    auto opened = open_submitted(context, principal, submission.envelope);
    if (!opened) {
      submission.refuse("open", std::move(opened).take_error());
      return;
    }
    submission.opened.emplace(std::move(opened).value());
  }
  ScopedStageTimer timer(times, StageTimer::validate);
  submission.validated = validate_submitted(context, *submission.opened);
}

void authorize_submission(const StageContext& context, Submission& submission, StageTimes& times) {
  if (submission.refused()) return;
  {
    ScopedStageTimer timer(times, StageTimer::authorize);
    auto recipients = authorize(context, submission.principal, *submission.opened);
    if (!recipients) {
      submission.refuse("authorize", std::move(recipients).take_error());
      return;
    }
    submission.recipients = std::move(recipients).value();
  }
  if (!submission.validated) submission.refuse("validate", submission.validated.error());
}

void dedupe_submission(const StageContext& context, Submission& submission, StageTimes& times) {
  if (submission.refused()) return;
  ScopedStageTimer timer(times, StageTimer::dedupe);
  submission.signed_sha256 = signed_content_sha256(*submission.opened);
  auto verdict = dedupe(context, *submission.opened, submission.signed_sha256);
  if (!verdict) {
    submission.refuse("dedupe", std::move(verdict).take_error());
    return;
  }
  submission.duplicate_of = std::move(verdict->duplicate_of);
}

void check_daily_quota(const StageContext& context, DailyQuota& quota, Submission& submission) {
  if (submission.refused() || submission.duplicate_of) return;
  std::uint32_t retry_after_ms = 0;
  // What the quota counts, as charged: envelopes, and the weight of the
  // serials their alerts put on watch (so a restart gives neither back).
  auto stored_since = [&context](const ParticipantId& sender, std::int64_t since_ms) -> Result<std::uint64_t> {
    auto envelopes = context.store.bytes_stored_since(sender, since_ms);
    if (!envelopes) return envelopes;
    auto serials = context.store.watched_serials_added_since(sender, since_ms);
    if (!serials) return serials;
    return *envelopes * kStoredBytesPerEnvelopeByte + *serials * kStoredBytesPerWatchedSerial;
  };
  submission.stored_bytes = DailyQuota::stored_bytes_of(*submission.opened, submission.envelope.size());
  if (auto fits = quota.admit(submission.principal.id, context.now_ms, submission.stored_bytes, stored_since,
                              retry_after_ms);
      !fits) {
    const bool wait = fits.error().code == ErrorCode::quota_exceeded;
    submission.refuse("persist", std::move(fits).take_error(), wait ? retry_after_ms : 0);
  }
}

}  // namespace fpx::broker
