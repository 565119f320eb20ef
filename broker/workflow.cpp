// The tracing workflow (DOMAIN.md "Lifecycle and clocks"): each requested
// state's lifecycle of a request, its clocks, reminders and escalations,
// the stolen/lost registry and its hit notifications. Everything here runs
// inside the transaction of the message that caused it, and the notices the
// broker issues are real messages, signed by the broker and stored and
// delivered like any other.
#include <algorithm>
#include <cctype>
#include <set>

#include <spdlog/spdlog.h>

#include "fpx/broker/stage_duplicate.hpp"
#include "fpx/serial_range.hpp"
#include "workflow.hpp"

namespace fpx::broker {

namespace {

using wire::MessageType;

constexpr std::int64_t kDayMs = 24LL * 3600 * 1000;

// Serials as the registry compares them (fpx/serial_range.hpp: without
// case, spaces and dashes); shorter ones than kMinWatchedSerialLength match too much.
std::vector<std::string> serials_of(capnp::List<wire::Firearm>::Reader firearms) {
  std::vector<std::string> serials;
  for (auto firearm : firearms) {
    std::string serial = normalise_serial(firearm.getSerialNumber().cStr());
    if (serial.size() >= kMinWatchedSerialLength) serials.push_back(std::move(serial));
  }
  return serials;
}

// A batch's serial ranges, parsed. validate() already refused a message
// with a malformed, inverted or too wide range; parsing again here is the
// registry's own guard, never the sender's first answer.
Result<std::vector<SerialSpan>> ranges_of(capnp::List<wire::SerialRange>::Reader ranges) {
  std::vector<SerialSpan> spans;
  for (auto range : ranges) {
    auto span = parse_serial_range(range.getFrom().cStr(), range.getTo().cStr());
    if (!span) return std::move(span).take_error();
    spans.push_back(std::move(span).value());
  }
  return spans;
}

std::int64_t end_of_day_ms(wire::Date::Reader date) {
  std::tm parts{};
  parts.tm_year = date.getYear() - 1900;
  parts.tm_mon = date.getMonth() - 1;
  parts.tm_mday = date.getDay();
  return static_cast<std::int64_t>(timegm(&parts)) * 1000 + kDayMs - 1;
}

std::optional<MessageId> in_reply_to_of(const OpenedEnvelope& opened) {
  auto data = opened.message.header().getInReplyTo();
  return MessageId::from_bytes(ByteView(data.begin(), data.size()));
}

// The handling rules of a message, for a notice that repeats its facts.
// A message without codes is H0 (crime-fighting use only), as the
// broker's own notices always were.
NoticeHandling handling_of(wire::Header::Reader header) {
  NoticeHandling handling;
  if (header.getHandlingCodes().size() != 0) {
    handling.codes.clear();
    for (auto code : header.getHandlingCodes()) {
      if (std::find(handling.codes.begin(), handling.codes.end(), code) == handling.codes.end()) {
        handling.codes.push_back(code);
      }
    }
  }
  handling.conditions = header.getHandlingConditions().cStr();
  return handling;
}

bool is_closed_state(const std::string& state) {
  return state == "final" || state == "restricted" || state == "refused" || state == "forwarded" ||
         state == "withdrawn" || state == "closed";
}

}  // namespace

std::string tracing_outcome_name(wire::TracingOutcome outcome) {
  switch (outcome) {
    case wire::TracingOutcome::POINT_OF_DIVERSION_ESTABLISHED: return "point_of_diversion_established";
    case wire::TracingOutcome::LAST_LEGAL_HOLDER_IDENTIFIED: return "last_legal_holder_identified";
    case wire::TracingOutcome::PARTIAL_CHAIN: return "partial_chain";
    case wire::TracingOutcome::NO_RECORD: return "no_record";
    case wire::TracingOutcome::NOT_MADE_OR_IMPORTED_HERE: return "not_made_or_imported_here";
    case wire::TracingOutcome::RECORDS_TOO_OLD: return "records_too_old";
    case wire::TracingOutcome::INSUFFICIENT_IDENTIFIERS: return "insufficient_identifiers";
    case wire::TracingOutcome::DELAYED: return "delayed";
    case wire::TracingOutcome::RESTRICTED: return "restricted";
    case wire::TracingOutcome::REFUSED: return "refused";
  }
  return "unknown";
}

std::string refusal_ground_name(wire::RefusalGround ground) {
  switch (ground) {
    case wire::RefusalGround::ONGOING_INVESTIGATION: return "ongoing_investigation";
    case wire::RefusalGround::CONFIDENTIALITY_LAW: return "confidentiality_law";
    case wire::RefusalGround::NATIONAL_SECURITY: return "national_security";
  }
  return "unknown";
}

std::vector<ParticipantId> Workflow::focal_points_of(const CountryCode& country) const {
  return enrollment_.of_country(country, Role::focal_point);
}

Result<MessageId> Workflow::issue_notice(MessageType type, const std::vector<ParticipantId>& recipients,
                                             const std::optional<MessageId>& in_reply_to,
                                             const std::function<void(wire::Body::Builder)>& fill,
                                             const NoticeHandling& handling) {
  capnp::MallocMessageBuilder header_message;
  capnp::MallocMessageBuilder body_message;
  auto header = header_message.initRoot<wire::Header>();
  auto body = body_message.initRoot<wire::Body>();
  auto addressed = header.initRecipients(static_cast<unsigned>(recipients.size()));
  for (unsigned i = 0; i < addressed.size(); ++i) addressed[i].setParticipant(recipients[i].str());
  header.setClassification(wire::Classification::RESTRICTED);
  auto codes = header.initHandlingCodes(static_cast<unsigned>(handling.codes.size()));
  for (unsigned i = 0; i < codes.size(); ++i) codes.set(i, handling.codes[i]);
  if (!handling.conditions.empty()) header.setHandlingConditions(handling.conditions);
  header.setCreatedAtMs(now_ms());
  if (in_reply_to) header.setInReplyTo(kj::arrayPtr(in_reply_to->bytes.data(), in_reply_to->bytes.size()));
  fill(body);
  if (message_type_of(body.asReader()) != type) {
    return make_error(ErrorCode::internal, "a broker notice was built with the wrong body");
  }
  auto sealed = seal_envelope(identity_, header, body.asReader());
  if (!sealed) return std::move(sealed).take_error();
  // Open our own notice like any other: it is stored as what it is, a
  // signed message, and a broken broker identity shows up here, not at the recipient.
  auto opened = opener_.open(*sealed, OpenOptions{now_ms(), RevocationCheck::required});
  if (!opened) return std::move(opened).take_error();
  auto context = stage_context();
  auto inserted = persist(context, *opened, *sealed, signed_content_sha256(*opened), recipients);
  if (!inserted) return std::move(inserted).take_error();
  std::string to;
  for (const auto& recipient : recipients) to += (to.empty() ? "" : ", ") + recipient.str();
  append_audit_row(store_, audit_entry(now_ms(), identity_.participant().id.str(), opened->message_id, "account",
                                       ErrorCode::none, std::string(message_type_name(type)) + " issued to " + to));
  for (const auto& recipient : recipients) after_commit_.push_to.insert(recipient);
  return opened->message_id;
}

Status Workflow::apply(const OpenedEnvelope& opened, const EnrolledParticipant& principal,
                                    const std::vector<ParticipantId>& recipients) {
  auto body = opened.message.body();
  auto header = opened.message.header();
  switch (opened.type) {
    // Civil society's voice (PROTOCOL.md §8.5): a warning starts its
    // acknowledgement clock; the first acknowledgement stops it. Authorize
    // routed both (the warning to the cso's own state, the acknowledgement
    // from that state's focal point, in reply to a warning).
    case MessageType::EARLY_WARNING: {
      WarningRow row;
      row.warning_id = opened.message_id;
      row.country = principal.country;
      row.sender = principal.id;
      row.submitted_at_ms = now_ms();
      row.ack_due_ms = now_ms() + config_.clocks.warning_acknowledge_ms;
      return store_.insert_warning(row);
    }
    case MessageType::EARLY_WARNING_ACKNOWLEDGEMENT: {
      auto warning = in_reply_to_of(opened);
      if (!warning) return {};
      return store_.acknowledge_warning(*warning, now_ms(), opened.signer.participant.officer);
    }
    case MessageType::CAMPAIGN_CONTRIBUTION:
      return {};  // delivered to the focal point; no clock
    case MessageType::TRACING_REQUEST: {
      auto request = body.getTracingRequest();
      const bool urgent = header.getPriority() == wire::Priority::URGENT;
      const auto& clocks = config_.clocks;
      std::set<std::string> seen;
      for (auto state : request.getRequestedStates()) {
        std::string country = state.getCountry().cStr();
        if (!seen.insert(country).second) continue;
        LifecycleRow row;
        row.request_id = opened.message_id;
        row.requested_country = CountryCode(country);
        row.requester = principal.id;
        row.requester_country = principal.country;
        row.priority = urgent ? "urgent" : "routine";
        row.state = "submitted";
        row.submitted_at_ms = now_ms();
        row.ack_due_ms = now_ms() + (urgent ? clocks.urgent_acknowledge_ms : clocks.routine_acknowledge_ms);
        row.response_due_ms = now_ms() + (urgent ? clocks.urgent_respond_ms : clocks.routine_respond_ms);
        row.updated_at_ms = now_ms();
        if (auto stored = store_.insert_lifecycle(row); !stored) return stored;
      }
      // Its keys, so a later request of the same state that repeats it is found (stage_duplicate.hpp).
      if (auto keyed = record_request_keys(store_, opened, principal.country, now_ms()); !keyed) return keyed;
      // The stolen/lost registry (PROTOCOL.md §8.4). The requesting state
      // always hears of the alert its own request matched. The alerting
      // state hears of the match only as far as the request's handling codes
      // allow: under H2 (no onward sharing without permission) only if the
      // request reached it anyway (a requested state, or the requesting
      // state's own alert); otherwise it learns nothing at all, not even
      // that a match happened, so a watch list is no standing view of other
      // states' H2 tracing. The requesting state, which knows the alert,
      // decides whether to tell it. Every hit notice carries the request's
      // handling codes and H3 conditions, since it repeats the request's facts.
      const NoticeHandling handling = handling_of(header);
      const bool no_onward_sharing =
          std::find(handling.codes.begin(), handling.codes.end(),
                    wire::HandlingCode::H2_NO_ONWARD_SHARING_WITHOUT_PERMISSION) != handling.codes.end();
      std::set<std::pair<MessageId, std::string>> notified;
      for (const auto& serial : serials_of(request.getFirearms())) {
        auto hits = store_.match_serial(serial, principal.country, now_ms());
        if (!hits) return std::move(hits).take_error();
        for (const auto& hit : *hits) {
          if (!notified.insert({hit.alert_id, serial}).second) continue;
          std::vector<ParticipantId> to = focal_points_of(principal.country);
          // The participant that filed the request (an agency, issue 17
          // item 4) is told too: it is the request's own sender, so its
          // handling codes, which bind those the request is shared with,
          // withhold nothing from it, and the alert it learns of reached its
          // state (match_serial matches only alerts that did).
          if (std::find(to.begin(), to.end(), principal.id) == to.end()) to.push_back(principal.id);
          bool withheld = false;
          for (const auto& id : focal_points_of(hit.alert_country)) {
            if (std::find(to.begin(), to.end(), id) != to.end()) continue;
            const bool reached_by_request = std::find(recipients.begin(), recipients.end(), id) != recipients.end();
            if (no_onward_sharing && !reached_by_request) {
              withheld = true;
              continue;
            }
            to.push_back(id);
          }
          if (to.empty()) continue;
          auto issued = issue_notice(
              MessageType::HIT_NOTIFICATION, to, opened.message_id,
              [&](auto notice) {
                auto hit_body = notice.initHitNotification();
                hit_body.setAlertMessageId(kj::arrayPtr(hit.alert_id.bytes.data(), hit.alert_id.bytes.size()));
                hit_body.setRequestMessageId(
                    kj::arrayPtr(opened.message_id.bytes.data(), opened.message_id.bytes.size()));
                hit_body.setMatchedSerial(serial);
              },
              handling);
          if (!issued) return std::move(issued).take_error();
          // Never the serial itself: logs travel to places the store does
          // not (journald, log shippers, support tickets). The notice and
          // the store hold it for those entitled to it.
          spdlog::info("hit: request {} matches alert {} on a watched serial{}", opened.message_id.hex(),
                       hit.alert_id.hex(),
                       withheld ? "; the alerting state was not told (the request carries H2)" : "");
        }
      }
      return {};
    }
    case MessageType::ALERT: {
      auto alert = body.getAlert();
      if (alert.getKind() == wire::AlertKind::CANCEL) {
        // Only the state that raised an alert can lift its watch list.
        if (auto cancelled = in_reply_to_of(opened)) return store_.unwatch_serials(*cancelled, principal.country);
        return {};
      }
      if (alert.getKind() != wire::AlertKind::STOLEN && alert.getKind() != wire::AlertKind::LOST) return {};
      auto serials = serials_of(alert.getFirearms());
      auto batch = serials_of(alert.getBatch().getFirearms());
      serials.insert(serials.end(), batch.begin(), batch.end());
      auto ranges = ranges_of(alert.getBatch().getSerialRanges());
      if (!ranges) return std::move(ranges).take_error();
      if (serials.empty() && ranges->empty()) return {};
      // A watch list is a standing question about other states' requests:
      // bounded, and answered only for the states the alert reached. A
      // range counts as many serials as it holds (its width), not as one
      // row: it asks the same question of every request naming one of
      // them, so a fixed weight would let a state watch millions of serials
      // for the price of a few rows. (What a range costs the store, one
      // row, is the quota's to count: DailyQuota::stored_bytes_of.)
      std::uint64_t watching = serials.size();
      for (const auto& range : *ranges) watching += range.width();
      if (watching > config_.limits.max_watched_serials_per_alert) {
        return make_error(ErrorCode::invalid_argument,
                          "a stolen/lost alert may watch at most " +
                              std::to_string(config_.limits.max_watched_serials_per_alert) +
                              " serial numbers, listed or in ranges (this one has " + std::to_string(watching) +
                              "); split the batch into several alerts");
      }
      // All of the state's alerts together are bounded too, so that stacking
      // alerts cannot build a watch list of any size (limits.max_watched_serials_per_state).
      auto watched = store_.active_watched_serials(principal.country, now_ms());
      if (!watched) return std::move(watched).take_error();
      if (*watched + watching > config_.limits.max_watched_serials_per_state) {
        return make_error(ErrorCode::quota_exceeded,
                          principal.country.str() + " already watches " + std::to_string(*watched) +
                              " serial numbers in active stolen/lost alerts (a range counts by its width); with "
                              "this alert's " +
                              std::to_string(watching) + " it would pass the limit of " +
                              std::to_string(config_.limits.max_watched_serials_per_state) +
                              " a state may watch. Nothing was stored: cancel alerts no longer needed (an alert of "
                              "kind cancel in reply to each), then send this one again");
      }
      std::vector<CountryCode> reached{principal.country};
      for (const auto& id : recipients) {
        const auto* participant = enrollment_.by_id(id);
        if (participant != nullptr && std::find(reached.begin(), reached.end(), participant->country) == reached.end()) {
          reached.push_back(participant->country);
        }
      }
      const std::int64_t valid_until_ms = end_of_day_ms(alert.getValidUntil());
      if (auto watched_serials = store_.watch_serials(opened.message_id, principal.country, reached, serials,
                                                      valid_until_ms);
          !watched_serials) {
        return watched_serials;
      }
      return store_.watch_serial_ranges(opened.message_id, principal.country, reached, *ranges, valid_until_ms);
    }
    default:
      break;
  }

  // The replies and follow-ups move the lifecycle of the request they answer.
  auto request_id = in_reply_to_of(opened);
  if (!request_id) return {};
  auto rows = store_.lifecycle_of(*request_id);
  if (!rows) return std::move(rows).take_error();
  // The officer who signed the reply (open() checked the header names the same).
  const std::string& officer = opened.signer.participant.officer;
  for (auto& row : *rows) {
    const bool own_row = row.requested_country == principal.country;
    std::string before = row.state;
    switch (opened.type) {
      case MessageType::TRACING_ACKNOWLEDGEMENT: {
        if (!own_row) continue;
        if (row.acknowledged_at_ms == 0) {
          row.acknowledged_at_ms = now_ms();
          row.acknowledged_by = officer;
        }
        switch (body.getTracingAcknowledgement().getStatus()) {
          case wire::AcknowledgementStatus::ACCEPTED: row.state = "acknowledged"; break;
          case wire::AcknowledgementStatus::NEEDS_INFORMATION: row.state = "needs_information"; break;
          case wire::AcknowledgementStatus::REJECTED_AS_MALFORMED:
            row.state = "refused";
            row.outcome = "rejected_as_malformed";
            row.refusal_grounds.clear();
            row.answered_at_ms = now_ms();
            row.answered_by = officer;
            break;
          case wire::AcknowledgementStatus::FORWARDED: row.state = "forwarded"; break;
        }
        break;
      }
      case MessageType::TRACING_RESPONSE: {
        if (!own_row) continue;
        auto response = body.getTracingResponse();
        if (row.acknowledged_at_ms == 0) {  // an answer acknowledges too
          row.acknowledged_at_ms = now_ms();
          row.acknowledged_by = officer;
        }
        if (response.getKind() == wire::ResponseKind::INTERIM) {
          row.state = "interim";
          break;
        }
        auto outcome = response.getOutcome();
        row.state = outcome == wire::TracingOutcome::REFUSED      ? "refused"
                    : outcome == wire::TracingOutcome::RESTRICTED ? "restricted"
                                                                  : "final";
        row.outcome = tracing_outcome_name(outcome);
        row.refusal_grounds.clear();
        for (auto ground : response.getRefusalGrounds()) {
          row.refusal_grounds += (row.refusal_grounds.empty() ? "" : ",") + refusal_ground_name(ground);
        }
        row.answered_at_ms = now_ms();
        row.answered_by = officer;
        break;
      }
      case MessageType::FORWARD: {
        if (!own_row) continue;
        row.state = "forwarded";
        break;
      }
      case MessageType::INFORMATION_SUPPLIED:
        if (row.state != "needs_information") continue;
        row.state = "supplied";
        break;
      case MessageType::WITHDRAW:
        if (is_closed_state(row.state)) continue;
        row.state = "withdrawn";
        row.closed_at_ms = now_ms();
        break;
      case MessageType::CLOSE:
        if (row.state == "closed") continue;
        row.state = "closed";
        row.closed_at_ms = now_ms();
        break;
      default:
        continue;
    }
    row.updated_at_ms = now_ms();
    if (auto updated = store_.update_lifecycle(row); !updated) return updated;
    spdlog::debug("lifecycle of {} for {}: {} -> {}", request_id->hex(), row.requested_country.str(), before,
                  row.state);
  }
  // Closed or withdrawn for every state: no later request repeats it, so
  // its duplicate-request keys go (a state's closed cases cost no lookups).
  if (!rows->empty() && std::all_of(rows->begin(), rows->end(), [](const LifecycleRow& row) {
        return row.state == "closed" || row.state == "withdrawn";
      })) {
    if (auto deleted = store_.delete_request_keys(*request_id); !deleted) return deleted;
  }

  return {};
}

Status Workflow::share_forwarded_request(const OpenedEnvelope& forward) {
  // Called before the forward itself is stored, so that the new state
  // receives the request first and the forward that explains it second.
  auto request_id = in_reply_to_of(forward);
  if (!request_id) return {};
  auto rows = store_.lifecycle_of(*request_id);
  if (!rows) return std::move(rows).take_error();
  if (rows->empty()) return {};
  CountryCode to(forward.message.body().getForward().getToCountry());
  auto focal_points = focal_points_of(to);
  if (auto shared = store_.add_deliveries(*request_id, focal_points, now_ms()); !shared) return shared;
  for (const auto& id : focal_points) after_commit_.push_to.insert(id);
  LifecycleRow row = rows->front();
  row.requested_country = to;
  row.state = "submitted";
  row.submitted_at_ms = now_ms();
  row.delivered_at_ms = row.acknowledged_at_ms = row.answered_at_ms = row.closed_at_ms = 0;
  row.ack_reminded = row.response_reminded = false;
  const bool urgent = row.priority == "urgent";
  row.ack_due_ms = now_ms() + (urgent ? config_.clocks.urgent_acknowledge_ms : config_.clocks.routine_acknowledge_ms);
  row.response_due_ms = now_ms() + (urgent ? config_.clocks.urgent_respond_ms : config_.clocks.routine_respond_ms);
  row.outcome.clear();
  row.refusal_grounds.clear();
  row.updated_at_ms = now_ms();
  return store_.insert_lifecycle(row);
}

void Workflow::remind_warnings() {
  auto due = store_.warnings_due(now_ms());
  if (!due) {
    spdlog::error("clocks: {}", due.error().describe());
    return;
  }
  for (const auto& row : *due) {
    auto focal_points = focal_points_of(row.country);
    if (!focal_points.empty()) {
      // The Reminder names the warning where a tracing reminder names the
      // request: same body, same clock kind, so every client reads it.
      auto reminded = issue_notice(MessageType::REMINDER, focal_points, row.warning_id, [&](auto body) {
        auto reminder = body.initReminder();
        reminder.setRequestMessageId(kj::arrayPtr(row.warning_id.bytes.data(), row.warning_id.bytes.size()));
        reminder.setRequestedCountry(row.country.str());
        reminder.setClock(wire::ClockKind::ACKNOWLEDGEMENT);
        reminder.setDueAtMs(row.ack_due_ms);
      });
      if (!reminded) spdlog::error("early warning reminder not issued: {}", reminded.error().describe());
    }
    if (auto marked = store_.mark_warning_reminded(row.warning_id); !marked) {
      spdlog::error("clocks: {}", marked.error().describe());
    }
    spdlog::info("acknowledgement clock of early warning {} to {} ran out: reminder issued", row.warning_id.hex(),
                 row.country.str());
  }
}

void Workflow::run_clock_scan() {
  remind_warnings();
  auto due = store_.lifecycle_due(now_ms());
  if (!due) {
    spdlog::error("clocks: {}", due.error().describe());
    return;
  }
  for (auto& row : *due) {
    const bool ack_clock = !row.ack_reminded && row.acknowledged_at_ms == 0 && row.ack_due_ms <= now_ms();
    const wire::ClockKind clock_kind = ack_clock ? wire::ClockKind::ACKNOWLEDGEMENT : wire::ClockKind::RESPONSE;
    const std::int64_t due_at = ack_clock ? row.ack_due_ms : row.response_due_ms;
    auto requested = focal_points_of(row.requested_country);
    std::vector<ParticipantId> both = requested;
    for (const auto& id : focal_points_of(row.requester_country)) both.push_back(id);
    if (std::find(both.begin(), both.end(), row.requester) == both.end()) both.push_back(row.requester);

    if (!requested.empty()) {
      auto reminded = issue_notice(MessageType::REMINDER, requested, row.request_id, [&](auto body) {
        auto reminder = body.initReminder();
        reminder.setRequestMessageId(kj::arrayPtr(row.request_id.bytes.data(), row.request_id.bytes.size()));
        reminder.setRequestedCountry(row.requested_country.str());
        reminder.setClock(clock_kind);
        reminder.setDueAtMs(due_at);
      });
      if (!reminded) spdlog::error("reminder not issued: {}", reminded.error().describe());
    }
    auto escalated = issue_notice(MessageType::ESCALATION, both, row.request_id, [&](auto body) {
      auto escalation = body.initEscalation();
      escalation.setRequestMessageId(kj::arrayPtr(row.request_id.bytes.data(), row.request_id.bytes.size()));
      escalation.setRequestedCountry(row.requested_country.str());
      escalation.setClock(clock_kind);
      escalation.setDueAtMs(due_at);
      escalation.setOverdueMs(now_ms() - due_at);
    });
    if (!escalated) spdlog::error("escalation not issued: {}", escalated.error().describe());
    (ack_clock ? row.ack_reminded : row.response_reminded) = true;
    row.updated_at_ms = now_ms();
    if (auto updated = store_.update_lifecycle(row); !updated) {
      spdlog::error("clocks: {}", updated.error().describe());
    }
    spdlog::info("{} clock of request {} for {} ran out: reminder and escalation issued",
                 ack_clock ? "acknowledgement" : "response", row.request_id.hex(), row.requested_country.str());
  }
}

std::string describe_lifecycle(const LifecycleRow& row) {
  auto day = [](std::int64_t ms) {
    std::time_t seconds = ms / 1000;
    std::tm parts{};
    gmtime_r(&seconds, &parts);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%d %H:%M", &parts);
    return std::string(text);
  };
  // Who, when an officer's certificate signed it: the office's own certificate names no one.
  auto by = [](const std::string& officer) { return officer.empty() ? std::string() : " by officer " + officer; };
  std::string text = row.state + " (" + row.priority + ")";
  if (row.acknowledged_at_ms != 0) {
    text += "; acknowledged " + day(row.acknowledged_at_ms) + by(row.acknowledged_by);
  } else {
    text += "; acknowledgement due " + day(row.ack_due_ms);
  }
  if (row.answered_at_ms != 0) {
    text += "; answered " + day(row.answered_at_ms) + by(row.answered_by) + " (" + row.outcome + ")";
  } else if (!is_closed_state(row.state)) {
    text += "; response due " + day(row.response_due_ms);
  }
  if (!row.refusal_grounds.empty()) text += "; grounds: " + row.refusal_grounds;
  if (row.ack_reminded || row.response_reminded) text += "; escalated";
  return text;
}

}  // namespace fpx::broker
