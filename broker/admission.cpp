#include "admission.hpp"

#include <spdlog/spdlog.h>

#include "fpx/frames.hpp"

namespace fpx::broker {

Admission::Admission(const Limits& limits, Store& store, BrokerCounters& counters, PendingWrites& pending,
                     AfterCommit& after_commit, const LoopClock& clock)
    : store_(store),
      counters_(counters),
      pending_(pending),
      after_commit_(after_commit),
      clock_(clock),
      rate_limiter_(limits.rate_per_second, limits.burst),
      inbound_bytes_(limits.bytes_per_second, limits.burst_bytes,
                     "sent more bytes than this broker takes per second; send less, and"),
      daily_quota_(limits.quota_bytes_per_day, limits.stored_bytes_per_minute, limits.stored_burst_bytes),
      refusal_tally_(kRateLimitAuditWindowMs) {}

Status Admission::admit_bytes(const ParticipantId& sender, std::size_t bytes, std::uint32_t& retry_after_ms) {
  if (auto admitted = inbound_bytes_.admit(sender, clock_.now_ms(), retry_after_ms); !admitted) return admitted;
  inbound_bytes_.charge(sender, clock_.now_ms(), bytes);
  return {};
}

void Admission::refuse(const std::string& routing_id, std::uint64_t request_id, const std::string& principal,
                       const std::optional<MessageId>& about, const char* stage, const Error& error,
                       std::uint32_t retry_after_ms) {
  ++counters_.refused;
  // Decided before anything is written for this frame: a flood of refused
  // frames (malformed, too large, unknown, unauthorized...) costs one audit
  // row per principal, stage and kind a second, and a summary row with the
  // count of the rest, never a row each (tens of thousands a second).
  if (refusal_tally_.audit_in_full(stage, principal, error.code, clock_.now_ms())) {
    append_audit_row(store_, audit_entry(clock_.now_ms(), principal, about, stage, error.code, error.message));
  }
  spdlog::debug("refused at {} for {}: {}", stage, principal, error.describe());
  after_commit_.reply(routing_id, encode_error(request_id, error, about, retry_after_ms), request_id);
}

void Admission::refuse_rate_limited(const std::string& routing_id, std::uint64_t request_id,
                                    const std::string& principal, const Error& error, std::uint32_t retry_after_ms) {
  ++counters_.rate_limited;
  ++counters_.refused;
  if (refusal_tally_.audit_in_full("accept", principal, clock_.now_ms())) {
    append_audit_row(store_, audit_entry(clock_.now_ms(), principal, std::nullopt, "accept", error.code,
                                         error.message + "; more refusals of " + principal + " in the next " +
                                             std::to_string(kRateLimitAuditWindowMs) +
                                             " ms are audited as one summary row"));
  }
  after_commit_.reply(routing_id, encode_error(request_id, error, std::nullopt, retry_after_ms), request_id);
}

void Admission::refuse_unreadable(const std::string& routing_id, const std::string& principal, const Error& error) {
  const std::int64_t now_ms = clock_.now_ms();
  switch (participants_guard_.unreadable(routing_id, principal, now_ms)) {
    case UnreadableVerdict::answer: refuse(routing_id, 0, principal, std::nullopt, "accept", error); return;
    case UnreadableVerdict::count_only:
      // Not answered: counted as refused and through the tally (a row a
      // second in full, the rest in a summary), as an answered refusal is.
      ++counters_.refused;
      if (refusal_tally_.audit_in_full("accept", principal, error.code, now_ms)) {
        append_audit_row(store_, audit_entry(now_ms, principal, std::nullopt, "accept", error.code,
                                             error.message + " (not answered: this connection sends more "
                                                             "unreadable frames than the broker answers)"));
      }
      return;
    case UnreadableVerdict::answer_and_mute: {
      ++counters_.refused;
      ++counters_.rate_limited;
      const Error muted = make_error(
          ErrorCode::rate_limited,
          "this connection of " + principal + " sent more than " + std::to_string(kMuteAfterUnanswered) +
              " frames the broker cannot read (the last: " + error.message + "); its frames are dropped unread for " +
              std::to_string(kMuteMs) + " ms. Fix the client that encodes them (the fpx client library never "
              "sends one), then send again after that time");
      // One row in full per mute, whatever the tally's window: a mute is rare and always worth its row.
      append_audit_row(store_, audit_entry(now_ms, principal, std::nullopt, "accept", ErrorCode::rate_limited,
                                           muted.message));
      after_commit_.reply(routing_id, encode_error(0, muted, std::nullopt, static_cast<std::uint32_t>(kMuteMs)), 0);
      return;
    }
  }
}

bool Admission::drop_if_muted(GuardedEndpoint endpoint, const std::string& connection, const char* stage) {
  const std::int64_t now_ms = clock_.now_ms();
  const std::string* principal = guard(endpoint).muted(connection, now_ms);
  if (principal == nullptr) return false;
  // Counted like every refusal (a summary row a second), never answered,
  // never decoded: a muted flood costs a receive and a map lookup per frame.
  ++counters_.refused;
  if (refusal_tally_.audit_in_full(stage, *principal, ErrorCode::rate_limited, now_ms)) {
    pending_.audit(audit_entry(now_ms, *principal, std::nullopt, stage, ErrorCode::rate_limited,
                               "a frame of a muted connection of " + *principal +
                                   " was dropped unread (it sent too many frames the broker cannot read)"));
  }
  return true;
}

Status Admission::admit_connection(GuardedEndpoint endpoint, const std::string& routing_id, const std::string& key,
                                   const std::string& principal, const ConnectionCap::StillThere& still_there) {
  ConnectionCap& cap = connection_cap(endpoint);
  switch (cap.admit(routing_id, key, clock_.now_ms(), still_there)) {
    case ConnectionVerdict::admitted: return {};
    case ConnectionVerdict::over_key_cap:
      return make_error(ErrorCode::unavailable,
                        "this connection is not served: the certificate of " + principal + " (its CURVE key) holds " +
                            std::to_string(cap.per_key()) +
                            " live connections at this endpoint already, the most one key may hold. Close the ones "
                            "you do not use (another fpx command or desk with the same certificate still running), "
                            "then connect again; a closed connection frees its place at once");
    case ConnectionVerdict::over_table:
      return make_error(ErrorCode::unavailable,
                        "this connection is not served: the broker holds " + std::to_string(kMaxTrackedConnections) +
                            " connections at this endpoint, the most it tracks. Connect again in a few minutes, and "
                            "tell the exchange's operator if it lasts");
  }
  return {};
}

void Admission::forget_gone_connections(std::int64_t now_ms, const ConnectionCap::StillThere& participant_there,
                                        const ConnectionCap::StillThere& observer_there) {
  participants_cap_.forget_idle(now_ms, participant_there);
  observers_cap_.forget_idle(now_ms, observer_there);
}

void Admission::report_summaries(std::int64_t ended_by_ms) {
  for (const GuardedEndpoint endpoint : {GuardedEndpoint::participants, GuardedEndpoint::observers}) {
    const char* stage = endpoint == GuardedEndpoint::participants ? "accept" : "observer";
    for (const auto& ended : guard(endpoint).take_ended(ended_by_ms)) {
      spdlog::warn("a connection of {} at {} is answered again after a mute of {} ms that dropped {} frame(s) unread",
                   ended.principal, stage, kMuteMs, ended.dropped);
    }
  }

  for (const auto& summary : refusal_tally_.take_ended(ended_by_ms)) {
    const std::string code(error_code_name(summary.code));
    std::string detail = std::to_string(summary.refusals);
    detail.append(" more ")
        .append(code)
        .append(" refusal(s) of ")
        .append(summary.principal)
        .append(" in the ")
        .append(std::to_string(kRateLimitAuditWindowMs))
        .append(" ms after the one audited in full; each was answered with ")
        .append(code);
    spdlog::warn("{} at {}", detail, summary.stage);
    pending_.audit(audit_entry(clock_.now_ms(), summary.principal, std::nullopt, summary.stage, summary.code, detail));
  }
}

}  // namespace fpx::broker
