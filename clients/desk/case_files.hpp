// The cases a profile holds, read from its inbox/ and sent/ folders (the
// exact signed envelopes fpx inbox, fpx trace and the desk save): each
// tracing request with its whole thread (acknowledgements, interim and final
// responses, information supplied, forwards, withdrawals, closing, and the
// broker's reminders, escalations and hit notices), and the clocks of what
// this participant owes.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fpx/envelope.hpp"
#include "fpx/trust_store.hpp"
#include "profile.hpp"

namespace fpx::desk {

// Envelope files read per page, at most: a profile folder filled by a flood
// of deliveries must not make every page of the desk read without end. The
// newest files are kept (by modification time).
inline constexpr std::size_t kMaxCaseFiles = 5000;
// A saved envelope larger than this is not read (the broker refuses bigger
// messages long before; such a file was not written by fpx).
inline constexpr std::uintmax_t kMaxEnvelopeFileBytes = 4u * 1024 * 1024;

// The exchange's default tracing clocks (deploy/broker.toml [clocks]): the
// desk has no way to read the broker's own settings, so it shows these as
// "due by" and says they are the defaults.
inline constexpr std::int64_t kHourMs = 3'600'000;
inline constexpr std::int64_t kUrgentAcknowledgeMs = 8 * kHourMs;
inline constexpr std::int64_t kUrgentRespondMs = 72 * kHourMs;
inline constexpr std::int64_t kRoutineAcknowledgeMs = 72 * kHourMs;
inline constexpr std::int64_t kRoutineRespondMs = 720 * kHourMs;

enum class Folder { inbox, sent };

struct CaseMessage {
  Folder folder = Folder::inbox;
  std::int64_t saved_at_ms = 0;  // the file's time: when it was received or sent here
  OpenedEnvelope opened;
  std::optional<MessageId> in_reply_to;
  // The request a broker notice (reminder, escalation, hit) is about.
  std::optional<MessageId> about_request;
  // The saved envelope (issue 17: its attachments are read again from it,
  // only when one is shown or saved).
  std::filesystem::path file;
};

enum class CaseState { awaiting_acknowledgement, acknowledged, interim, answered, withdrawn, closed };

struct Case {
  const CaseMessage* request = nullptr;
  std::vector<const CaseMessage*> thread;  // the request first, then by time
  CaseState state = CaseState::awaiting_acknowledgement;
  bool urgent = false;
  // This participant is one of the requested states: it owes an answer.
  bool owed_by_us = false;
  std::int64_t acknowledge_due_ms = 0;
  std::int64_t respond_due_ms = 0;
  bool acknowledged_by_us = false;
  bool answered_by_us = false;  // a final response from us
  bool overdue(std::int64_t now) const;
};

class CaseFiles {
 public:
  // Re-opens every saved envelope (signatures checked again; revocation was
  // checked when each arrived) and groups them into cases.
  static Result<CaseFiles> load(const cli::Profile& profile, const ParticipantInfo& me);

  // Open cases first: what we owe (overdue, then urgent, then the earliest
  // clock), then the ones we wait for; closed ones last, newest first.
  const std::vector<Case>& cases() const { return cases_; }
  const Case* find(const MessageId& request_id) const;
  // Any saved message by id (an alert, for its page); nullptr if not here.
  const CaseMessage* find_message(const MessageId& id) const;
  // Messages that belong to no request in this profile (alerts, campaign reports, ...).
  std::vector<const CaseMessage*> loose_messages() const;
  // Attachment `number` (from 1) of `message`, read again from its saved
  // envelope and checked against its signed size and SHA-256 (the case list
  // checks them but keeps no copy). not_found if there is no such attachment,
  // body_hash_mismatch if the file changed since.
  Result<Bytes> attachment(const CaseMessage& message, std::size_t number) const;

 private:
  std::unique_ptr<TrustStore> trust_;  // the opened messages' certificates live here
  std::vector<std::unique_ptr<CaseMessage>> messages_;
  std::vector<Case> cases_;
};

}  // namespace fpx::desk
