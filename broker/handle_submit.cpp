// A submit: verify (pure; usually done ahead, before the batch's
// transaction), then commit: authorize, dedupe, quota, then persist,
// receipt and account in one savepoint. Replies wait for the batch's commit.
#include <spdlog/spdlog.h>

#include "broker_impl.hpp"
#include "fpx/broker/stage_duplicate.hpp"

namespace fpx::broker {

void Broker::Impl::handle_submit(const EnrolledParticipant& principal, Inbound& inbound) {
  if (!inbound.submission) {
    // Issue 14: a submit its sender's stored bytes cannot hold is refused
    // before open, verify and validate cost anything (a flood of large
    // alerts was opened and validated only to be refused by the quota),
    // unless it claims the id of a message this sender stored: a resend
    // must still get its original receipt, so it goes the whole way (open,
    // then dedupe answers it). The claim only buys the verify a sender's
    // token already paid for; dedupe still compares the signed bytes.
    std::uint32_t retry_after_ms = 0;
    const Bytes& envelope = (*inbound.request)->envelope;
    if (auto fits = admission.precheck_stored_bytes(principal.id, envelope.size(), retry_after_ms); !fits) {
      const auto claimed = claimed_message_id(envelope);
      bool stored_resend = false;
      if (claimed) {
        auto found = store->find_message(*claimed);
        stored_resend = found && found->has_value() && (*found)->sender == principal.id;
      }
      if (!stored_resend) {
        // Not about the claimed id: nothing verified it.
        return admission.refuse(inbound.routing_id, (*inbound.request)->request_id, principal.id.str(), std::nullopt,
                                "persist", fits.error(), retry_after_ms);
      }
    }
    // Not verified ahead (its sender's bucket looked empty): verify now,
    // after its admission took a token.
    Submission submission;
    submission.routing_id = inbound.routing_id;
    submission.principal = principal;
    submission.request_id = (*inbound.request)->request_id;
    submission.envelope = (*inbound.request)->envelope;
    verify_submission(verify_context(), submission, stage_times);
    inbound.submission = std::move(submission);
  }
  commit_submission(*inbound.submission);
}

void Broker::Impl::commit_submission(Submission& submission) {
  const std::string who = submission.principal.id.str();
  StageContext context = stage_context();
  authorize_submission(context, submission, stage_times);
  dedupe_submission(context, submission, stage_times);
  if (!submission.refused() && submission.duplicate_of) {
    // Same message again (a resend after a lost receipt): same receipt, no second delivery.
    ScopedStageTimer timer(stage_times, StageTimer::receipt);
    ++counters.duplicates;
    append_audit_row(*store, audit_entry(context.now_ms, who, submission.opened->message_id, "dedupe",
                                         ErrorCode::none, "duplicate of an accepted message: receipt repeated"));
    // A tracing request's first receipt may have named an open request (PROTOCOL §6.2).
    std::vector<MessageId> open_requests;
    if (auto found = open_duplicates(*store, *submission.opened, submission.principal.country,
                                     submission.duplicate_of->stored_at_ms);
        found) {
      open_requests = std::move(found).value();
    }
    auto source =
        receipts.resend(*store, *submission.duplicate_of, submission.opened->envelope_sha256, open_requests);
    if (!source) {
      return admission.refuse(submission.routing_id, submission.request_id, who, submission.opened->message_id,
                              "receipt", source.error());
    }
    if (auto* ready = std::get_if<Bytes>(&*source)) {
      after_commit.reply(submission.routing_id, encode_receipt(submission.request_id, *ready), submission.request_id);
    } else {
      after_commit.reply_with_receipt(submission.routing_id, submission.request_id, std::get<GroupLeaf>(*source));
    }
    return;
  }
  {
    ScopedStageTimer timer(stage_times, StageTimer::persist);
    check_daily_quota(context, admission.daily_quota(), submission);
  }
  if (submission.refused()) {
    const Refusal& refusal = *submission.refusal;
    return admission.refuse(submission.routing_id, submission.request_id, who, refusal.about, refusal.stage,
                            refusal.error, refusal.retry_after_ms);
  }
  const OpenedEnvelope& opened = *submission.opened;
  const MessageId id = opened.message_id;
  // Issue 17: an open request of the same state that this one repeats is
  // named in the receipt (it is still stored: the state may mean it). Read
  // before this message's own rows exist; a failure to look costs only the note.
  std::optional<MessageId> open_request;
  if (opened.type == wire::MessageType::TRACING_REQUEST) {
    auto found = find_open_duplicate(*store, opened, submission.principal.country, context.now_ms);
    if (found) {
      open_request = *found;
    } else {
      spdlog::warn("{}: the duplicate check could not read the store: {}", id.hex(), found.error().describe());
    }
  }

  // One savepoint for everything this message writes: a failure at any
  // step undoes all of it (no shared forward without its forward, no
  // message without its lifecycle step) and the sender hears why.
  if (auto opened_savepoint = store->open_savepoint(); !opened_savepoint) {
    return admission.refuse(submission.routing_id, submission.request_id, who, id, "persist",
                            opened_savepoint.error());
  }
  const char* failed_stage = "persist";
  auto stored = [&]() -> Status {
    {
      ScopedStageTimer timer(stage_times, StageTimer::persist);
      if (opened.type == wire::MessageType::FORWARD) {
        if (auto shared = workflow.share_forwarded_request(opened); !shared) return shared;
      }
      auto inserted = persist(context, opened, submission.envelope, submission.signed_sha256, submission.recipients);
      if (!inserted) return std::move(inserted).take_error();
      submission.inserted = std::move(inserted).value();
    }
    ScopedStageTimer timer(stage_times, StageTimer::account);
    failed_stage = "account";
    if (auto applied = workflow.apply(opened, submission.principal, submission.recipients); !applied) return applied;
    if (auto published = publisher.publish_message(opened, *submission.inserted); !published) return published;
    return store->release_savepoint();
  }();
  if (!stored) {
    store->rollback_savepoint();
    const ErrorCode code = stored.error().code;
    if (code == ErrorCode::internal || code == ErrorCode::io_error) {
      ++counters.internal_errors;
      spdlog::error("{} not stored: {} failed: {}", id.hex(), failed_stage, stored.error().describe());
    }
    return admission.refuse(submission.routing_id, submission.request_id, who, id, failed_stage, stored.error());
  }
  GroupLeaf receipt;
  {
    // Its leaf in the batch's receipt group, only now that nothing of it can
    // be rolled back without the whole batch.
    ScopedStageTimer timer(stage_times, StageTimer::receipt);
    receipt = receipts.add(submission.inserted->seq, id, opened.envelope_sha256, context.now_ms,
                           submission.inserted->log_index, open_request);
  }
  ScopedStageTimer timer(stage_times, StageTimer::account);
  // The row names the officer who signed (the signer certificate's officer
  // extension, which open() checked equals the signed header's).
  // A store whose message row already says all of it (sender, officer,
  // stored time, id, type, recipient count) gets no second row (issue 15).
  const std::string& officer = opened.signer.participant.officer;
  if (store->acceptance_record() == AcceptanceRecord::audit_row) {
    append_audit_row(*store, audit_entry(context.now_ms, principal_label(submission.principal.id, officer), id,
                                         "persist", ErrorCode::none,
                                         std::string(message_type_name(opened.type)) + " accepted for " +
                                             std::to_string(submission.recipients.size()) + " recipient(s)" +
                                             (officer.empty() ? std::string() : "; signed by officer " + officer)));
  }
  ++counters.accepted;
  admission.daily_quota().charge(submission.principal.id, context.now_ms, submission.stored_bytes);
  // Sent only after the batch's commit: a receipt means "stored durably".
  after_commit.reply_with_receipt(submission.routing_id, submission.request_id, receipt);
  for (const auto& recipient : submission.recipients) after_commit.push_to.insert(recipient);
}

}  // namespace fpx::broker
