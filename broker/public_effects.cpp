// Issue 12: authorization of the messages whose effect is public (a cancel,
// a figures statement), and the stored alert both authorize and publish read.
#include "public_effects.hpp"

#include <chrono>
#include <cstdio>
#include <string>

#include "fpx/aligned_reader.hpp"

namespace fpx::broker {

namespace {

using wire::MessageType;

// 9999-12-31T23:59:59Z: the last instant a statistics record can name (its
// dates are four-digit years); anything later is no period at all.
constexpr std::int64_t kLatestPeriodStartMs = 253'402'300'799'000;

}  // namespace

std::string utc_time_text(std::int64_t at_ms) {
  const auto seconds = std::chrono::sys_seconds(std::chrono::seconds(at_ms / 1000));
  const auto day = std::chrono::floor<std::chrono::days>(seconds);
  const std::chrono::year_month_day date(day);
  const std::chrono::hh_mm_ss time(seconds - day);
  char text[80];  // room for any int64 fields: no truncation warning
  std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02ld:%02ld:%02ldZ", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                static_cast<long>(time.hours().count()), static_cast<long>(time.minutes().count()),
                static_cast<long>(time.seconds().count()));
  return text;
}

namespace {

Status authorize_cancel(const StageContext& context, const EnrolledParticipant& principal,
                        const OpenedEnvelope& opened) {
  auto data = opened.message.header().getInReplyTo();
  auto cancelled = MessageId::from_bytes(ByteView(data.begin(), data.size()));
  if (!cancelled) {
    return make_error(ErrorCode::schema_violation,
                      "header.inReplyTo: an alert of kind cancel names the alert it cancels (its 16-byte message "
                      "id); nothing was stored");
  }
  auto alert = stored_alert(context.store, *cancelled);
  if (!alert) return std::move(alert).take_error();
  if (!alert->has_value()) {
    return make_error(ErrorCode::not_found,
                      "no alert " + cancelled->hex() + " at this exchange: check header.inReplyTo; nothing was stored");
  }
  // Only the issuing state lifts its alert: another state's cancel would
  // mark it cancelled on the public feed and empty its watch list.
  if ((*alert)->issuing_country != principal.country) {
    return make_error(ErrorCode::unauthorized, "alert " + cancelled->hex() + " was issued by " +
                                                   (*alert)->issuing_country.str() +
                                                   ": only the issuing state cancels it; nothing was stored");
  }
  if ((*alert)->body_kept && (*alert)->kind == wire::AlertKind::CANCEL) {
    return make_error(ErrorCode::unauthorized, "message " + cancelled->hex() +
                                                   " is itself a cancel: name the alert it cancelled; nothing was "
                                                   "stored");
  }
  return {};
}

Status authorize_statement(const StageContext& context, const EnrolledParticipant& principal,
                           const OpenedEnvelope& opened) {
  if (principal.role != Role::focal_point) {
    return make_error(ErrorCode::unauthorized, "only a focal point speaks for its state's figures");
  }
  if (opened.message.header().getRecipients().size() != 0) {
    return make_error(ErrorCode::schema_violation,
                      "header.recipients: a figures statement is addressed to the exchange, which publishes it; "
                      "leave recipients empty");
  }
  auto statement = opened.message.body().getFiguresStatement();
  const std::string country = statement.getCountry().cStr();
  if (country != principal.country.str()) {
    return make_error(ErrorCode::unauthorized, principal.country.str() +
                                                   " may attach a statement only to its own state's figures, not "
                                                   "to those of " + (country.empty() ? std::string("no state") : country) +
                                                   "; nothing was stored");
  }
  // Before any date arithmetic: authorize runs before validate.
  if (statement.getPeriodStartMs() <= 0 || statement.getPeriodStartMs() > kLatestPeriodStartMs) {
    return make_error(ErrorCode::schema_violation,
                      "body.figuresStatement.periodStartMs: must be the start (Unix ms) of a published statistics "
                      "period; nothing was stored");
  }
  auto period = context.store.published_statistics_period(statement.getPeriodStartMs());
  if (!period) return std::move(period).take_error();
  if (!period->has_value()) {
    return make_error(ErrorCode::not_found,
                      "no statistics period starting at " + utc_time_text(statement.getPeriodStartMs()) +
                          " has been published: a statement replies to published figures; use the periodStart of a "
                          "statistics record on the feed (fpx report lists them); nothing was stored");
  }
  return {};
}

}  // namespace

Result<std::optional<StoredAlert>> stored_alert(Store& store, const MessageId& id) {
  auto found = store.find_message(id);
  if (!found) return std::move(found).take_error();
  if (!found->has_value() || (*found)->type != message_type_name(MessageType::ALERT)) {
    return std::optional<StoredAlert>{};
  }
  StoredAlert alert;
  alert.issuing_country = (*found)->sender_country;
  alert.message_log_index = (*found)->log_index;
  auto envelope = store.message_envelope(id);
  if (!envelope) return std::move(envelope).take_error();
  if (!envelope->has_value() || (*envelope)->empty()) return std::optional<StoredAlert>{alert};  // purged
  // Verified when it arrived; read again from the stored bytes.
  auto read = read_message<wire::Envelope>(
      **envelope, Framing::flat, "stored envelope", [&alert](wire::Envelope::Reader stored) -> Status {
        auto body = stored.getBody();
        return read_message<wire::Body>(ByteView(body.begin(), body.size()), Framing::canonical, "stored body",
                                        [&alert](wire::Body::Reader body_reader) -> Status {
                                          if (body_reader.which() != wire::Body::ALERT) return {};
                                          alert.body_kept = true;
                                          alert.kind = body_reader.getAlert().getKind();
                                          alert.publishable = body_reader.getAlert().getPublishable();
                                          return {};
                                        });
      });
  if (!read) return std::move(read).take_error();
  return std::optional<StoredAlert>{alert};
}

Status authorize_public_effects(const StageContext& context, const EnrolledParticipant& principal,
                                const OpenedEnvelope& opened) {
  if (opened.type == MessageType::ALERT && opened.message.body().getAlert().getKind() == wire::AlertKind::CANCEL) {
    return authorize_cancel(context, principal, opened);
  }
  if (opened.type == MessageType::FIGURES_STATEMENT) return authorize_statement(context, principal, opened);
  return {};
}

}  // namespace fpx::broker
