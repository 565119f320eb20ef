// The tracing workflow with its clocks: each requested state's lifecycle of
// a request, reminders and escalations, forwards, the stolen/lost registry's
// hits and the broker's own notices. Writes into the loop's open
// transaction; the recipients of what it issues are pushed after the
// commit. Private to broker/.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "after_commit.hpp"
#include "fpx/broker/config.hpp"
#include "fpx/broker/enrollment.hpp"
#include "fpx/broker/stages.hpp"
#include "fpx/broker/store.hpp"
#include "fpx/envelope.hpp"
#include "fpx/identity.hpp"
#include "loop_clock.hpp"

namespace fpx::broker {

// The handling rules a broker notice carries: those of the message whose
// facts it repeats (a hit repeats a request's), so they travel with them.
struct NoticeHandling {
  std::vector<wire::HandlingCode> codes{wire::HandlingCode::H0_CRIME_FIGHTING_ONLY};
  std::string conditions;  // the H3 conditions, verbatim
};

// "acknowledged (routine); response due 2026-12-27 10:00" for status replies.
std::string describe_lifecycle(const LifecycleRow& row);

class Workflow {
 public:
  Workflow(const BrokerConfig& config, Store& store, const Identity& identity, EnvelopeOpener& opener,
           const Enrollment& enrollment, AfterCommit& after_commit, const LoopClock& clock)
      : config_(config),
        store_(store),
        identity_(identity),
        opener_(opener),
        enrollment_(enrollment),
        after_commit_(after_commit),
        clock_(clock) {}

  // account: an accepted message's step in its tracing's lifecycle.
  Status apply(const OpenedEnvelope& opened, const EnrolledParticipant& principal,
               const std::vector<ParticipantId>& recipients);
  // A notice signed by the exchange, stored and delivered like any message.
  Result<MessageId> issue_notice(wire::MessageType type, const std::vector<ParticipantId>& recipients,
                                 const std::optional<MessageId>& in_reply_to,
                                 const std::function<void(wire::Body::Builder)>& fill,
                                 const NoticeHandling& handling = {});
  Status share_forwarded_request(const OpenedEnvelope& forward);
  // From the timers: reminders and escalations of clocks that ran out.
  void run_clock_scan();

 private:
  std::vector<ParticipantId> focal_points_of(const CountryCode& country) const;
  // Early warnings whose acknowledgement clock ran out: one reminder each.
  void remind_warnings();
  std::int64_t now_ms() const { return clock_.now_ms(); }
  StageContext stage_context() const {
    return StageContext{config_, store_, opener_, enrollment_, identity_, clock_.now_ms()};
  }

  const BrokerConfig& config_;
  Store& store_;
  const Identity& identity_;
  EnvelopeOpener& opener_;
  const Enrollment& enrollment_;
  AfterCommit& after_commit_;
  const LoopClock& clock_;
};

}  // namespace fpx::broker
