// Default deny: a message goes only where DOMAIN.md's routing rules send it,
// and only from a participant whose role may send it.
#include <algorithm>
#include <cstring>
#include <optional>
#include <set>

#include "fpx/aligned_reader.hpp"

#include "fpx/broker/stages.hpp"
#include "public_effects.hpp"

namespace fpx::broker {

namespace {

using wire::MessageType;

bool is_reply(MessageType type) {
  switch (type) {
    case MessageType::TRACING_ACKNOWLEDGEMENT:
    case MessageType::TRACING_RESPONSE:
    case MessageType::INFORMATION_SUPPLIED:
    case MessageType::FORWARD:
    case MessageType::WITHDRAW:
    case MessageType::CLOSE:
      return true;
    default:
      return false;
  }
}

// The side that answers a request (its recipients) versus the side that made it.
bool is_answer(MessageType type) {
  return type == MessageType::TRACING_ACKNOWLEDGEMENT || type == MessageType::TRACING_RESPONSE ||
         type == MessageType::FORWARD;
}

struct StoredHandling {
  std::vector<wire::HandlingCode> codes;
  std::string conditions;
};

// The handling codes and conditions of a message we stored (and verified when it arrived).
Result<StoredHandling> stored_handling(Store& store, const MessageId& id) {
  auto envelope = store.message_envelope(id);
  if (!envelope) return std::move(envelope).take_error();
  if (!envelope->has_value()) return make_error(ErrorCode::not_found, "message " + id.hex() + " is not stored");
  return read_message<wire::Envelope>(
      **envelope, Framing::flat, "stored envelope", [](wire::Envelope::Reader stored) -> Result<StoredHandling> {
        auto header_data = stored.getHeader();
        return read_message<wire::Header>(
            ByteView(header_data.begin(), header_data.size()), Framing::single_segment, "stored header",
            [](wire::Header::Reader stored_header) -> Result<StoredHandling> {
              StoredHandling handling;
              for (auto code : stored_header.getHandlingCodes()) handling.codes.push_back(code);
              handling.conditions = stored_header.getHandlingConditions().cStr();
              return handling;
            });
      });
}

bool has_code(const std::vector<wire::HandlingCode>& codes, wire::HandlingCode code) {
  return std::find(codes.begin(), codes.end(), code) != codes.end();
}

// DOMAIN.md: a forward goes on only when the request's handling codes allow
// it. H2 forbids it outright (the requested state asks the requesting state
// instead). Every other code travels with the forward: the new state is
// bound by the same rules, and H3's conditions are repeated word for word,
// so a forwarding state cannot drop or soften them on the way.
Status forward_allowed(Store& store, const MessageId& request, wire::Header::Reader forward) {
  auto stored = stored_handling(store, request);
  if (!stored) return std::move(stored).take_error();
  const std::vector<wire::HandlingCode>& codes = stored->codes;
  if (has_code(codes, wire::HandlingCode::H2_NO_ONWARD_SHARING_WITHOUT_PERMISSION)) {
    return make_error(ErrorCode::unauthorized, "message " + request.hex() +
                                                   " carries handling code H2: no onward sharing without the "
                                                   "sender's permission; ask the requesting state first");
  }
  std::vector<wire::HandlingCode> carried;
  for (auto code : forward.getHandlingCodes()) carried.push_back(code);
  for (auto code : codes) {
    if (!has_code(carried, code)) {
      return make_error(ErrorCode::unauthorized,
                        "message " + request.hex() + " carries handling code H" +
                            std::to_string(static_cast<int>(code)) +
                            " and a forward must carry every handling code of the request it forwards: copy the "
                            "request's handling codes (and H3 conditions) into the forward's header");
    }
  }
  if (has_code(codes, wire::HandlingCode::H3_OTHER_CONDITIONS)) {
    if (stored->conditions != forward.getHandlingConditions().cStr()) {
      return make_error(ErrorCode::unauthorized, "message " + request.hex() +
                                                     " carries H3 conditions and a forward must repeat them word "
                                                     "for word in header.handlingConditions: copy them from the "
                                                     "request");
    }
  }
  return {};
}

class RecipientList {
 public:
  explicit RecipientList(ParticipantId sender) : sender_(std::move(sender)) {}
  void add(const ParticipantId& id) {
    if (id != sender_ && seen_.insert(id).second) ordered_.push_back(id);
  }
  void add_all(const std::vector<ParticipantId>& ids) {
    for (const auto& id : ids) add(id);
  }
  const std::vector<ParticipantId>& ids() const { return ordered_; }
  std::vector<ParticipantId> take() { return std::move(ordered_); }
  bool empty() const { return ordered_.empty(); }

 private:
  ParticipantId sender_;
  std::set<ParticipantId> seen_;
  std::vector<ParticipantId> ordered_;
};

Status add_state(RecipientList& list, const Enrollment& enrollment, const CountryCode& country, bool with_agencies) {
  auto focal_points = enrollment.of_country(country, Role::focal_point);
  if (focal_points.empty()) {
    return make_error(ErrorCode::unknown_recipient,
                      "no focal point of " + country.str() + " is enrolled at this exchange: check the country code");
  }
  list.add_all(focal_points);
  if (with_agencies) list.add_all(enrollment.of_country(country, Role::agency));
  return {};
}

// ---- Civil society's voice -----------------------------------------------------
// A cso sends early warnings and campaign contributions to the focal points
// of its own country (its certificate's C) and nothing else: no state's
// agencies, no other state, no reply to anything. A focal point
// acknowledges a warning of its own state's csos, to that cso only.
Result<std::vector<ParticipantId>> authorize_civil_society(const StageContext& context,
                                                           const EnrolledParticipant& principal,
                                                           const OpenedEnvelope& opened) {
  auto header = opened.message.header();
  const MessageType type = opened.type;
  const bool cso_type = type == MessageType::EARLY_WARNING || type == MessageType::CAMPAIGN_CONTRIBUTION;
  if (principal.role == Role::cso && !cso_type) {
    return make_error(ErrorCode::unauthorized,
                      "a cso certificate sends early warnings and campaign contributions only, not a " +
                          std::string(message_type_name(type)));
  }
  if (cso_type && principal.role != Role::cso) {
    return make_error(ErrorCode::unauthorized,
                      std::string(message_type_name(type)) + " is sent with a cso certificate only: ask the root CA "
                      "for one (role cso); an observer certificate only reads the public feed");
  }
  if (cso_type) {
    if (header.getInReplyTo().size() != 0) {
      return make_error(ErrorCode::unauthorized, "a cso's message answers nothing: leave header.inReplyTo empty");
    }
    auto focal_points = context.enrollment.of_country(principal.country, Role::focal_point);
    for (auto recipient : header.getRecipients()) {
      bool own_state = false;
      if (recipient.which() == wire::Recipient::COUNTRY) {
        own_state = principal.country.str() == recipient.getCountry().cStr();
      } else if (recipient.which() == wire::Recipient::PARTICIPANT) {
        ParticipantId id(recipient.getParticipant());
        own_state = std::find(focal_points.begin(), focal_points.end(), id) != focal_points.end();
      }
      if (!own_state) {
        return make_error(ErrorCode::unauthorized,
                          "a cso of " + principal.country.str() + " writes to the focal point of " +
                              principal.country.str() + " only: address it as country " + principal.country.str());
      }
    }
    if (focal_points.empty()) {
      return make_error(ErrorCode::unknown_recipient, "no focal point of " + principal.country.str() +
                                                          " is enrolled at this exchange: try again once it is");
    }
    return focal_points;
  }
  // The acknowledgement of a warning, by a focal point of the warned state.
  auto warning_id = MessageId::from_bytes(ByteView(header.getInReplyTo().begin(), header.getInReplyTo().size()));
  if (!warning_id) return make_error(ErrorCode::schema_violation, "header.inReplyTo: a 16-byte message id is required");
  auto warning = context.store.find_message(*warning_id);
  if (!warning) return std::move(warning).take_error();
  if (!warning->has_value() || (**warning).type != message_type_name(MessageType::EARLY_WARNING) ||
      (**warning).sender_country != principal.country) {
    // One answer for "absent", "not a warning" and "another state's": a
    // focal point learns nothing of other states' warnings from it.
    return make_error(ErrorCode::not_found, "no early warning " + warning_id->hex() + " to " +
                                                principal.country.str() + " at this exchange: check inReplyTo");
  }
  const ParticipantId sender = (**warning).sender;
  for (auto recipient : header.getRecipients()) {
    if (recipient.which() != wire::Recipient::PARTICIPANT || ParticipantId(recipient.getParticipant()) != sender) {
      return make_error(ErrorCode::unauthorized, "an early-warning acknowledgement goes to the warning's sender " +
                                                     sender.str() + " only: address it as participant " +
                                                     sender.str());
    }
  }
  return std::vector<ParticipantId>{sender};
}

}  // namespace

Result<std::vector<ParticipantId>> authorize(const StageContext& context, const EnrolledParticipant& principal,
                                             const OpenedEnvelope& opened) {
  if (principal.role != Role::focal_point && principal.role != Role::agency && principal.role != Role::cso) {
    return make_error(ErrorCode::unauthorized, "only focal points, agencies and csos submit messages");
  }
  const ParticipantInfo& signer = opened.signer.participant;
  if (signer.id != principal.id) {
    auto known = context.store.find_message(opened.message_id);
    if (known.ok() && known->has_value()) {
      return make_error(ErrorCode::replay, "message " + opened.message_id.hex() + " of " + signer.id.str() +
                                               " was accepted already; a participant may not re-submit what it "
                                               "received");
    }
    return make_error(ErrorCode::signer_mismatch, "the message is signed by " + signer.id.str() + " but sent by " +
                                                      principal.id.str() + ": submit only what you signed yourself");
  }

  auto header = opened.message.header();
  const MessageType type = opened.type;
  // Before any routing work: a long list would cost the loop time per entry
  // (validation caps it too, but runs after authorize).
  constexpr unsigned kMaxRecipients = 256;
  if (header.getRecipients().size() > kMaxRecipients) {
    return make_error(ErrorCode::schema_violation, "at most " + std::to_string(kMaxRecipients) + " recipients");
  }
  // Civil society's voice (PROTOCOL.md §7.9): its own rule block, before
  // any other routing, so a cso never reaches the tracing rules below.
  if (principal.role == Role::cso || type == MessageType::EARLY_WARNING ||
      type == MessageType::EARLY_WARNING_ACKNOWLEDGEMENT || type == MessageType::CAMPAIGN_CONTRIBUTION) {
    return authorize_civil_society(context, principal, opened);
  }

  const bool is_alert = type == MessageType::ALERT;
  RecipientList recipients(principal.id);
  // Issue 12: a cancel and a figures statement change what the public feed
  // shows about a state: only that state's own (public_effects.cpp).
  if (auto allowed = authorize_public_effects(context, principal, opened); !allowed) {
    return std::move(allowed).take_error();
  }

  if (type == MessageType::TRACING_REQUEST && principal.role == Role::agency) {
    auto requesting = opened.message.body().getTracingRequest().getRequestingCountry();
    if (principal.country.str() != requesting.cStr()) {
      return make_error(ErrorCode::unauthorized, "an agency requests traces for its own state only (" +
                                                     principal.country.str() + "), not for " + requesting.cStr());
    }
  }

  // Set for an answer to an H2 request: everyone the request reached, the
  // only participants the answer may go to.
  std::optional<std::set<ParticipantId>> h2_reach;
  MessageId h2_request;
  if (is_reply(type)) {
    auto in_reply_to = MessageId::from_bytes(ByteView(header.getInReplyTo().begin(), header.getInReplyTo().size()));
    if (!in_reply_to) return make_error(ErrorCode::schema_violation, "header.inReplyTo: a 16-byte message id is required");
    auto original = context.store.find_message(*in_reply_to);
    if (!original) return std::move(original).take_error();
    if (!original->has_value()) {
      return make_error(ErrorCode::not_found,
                        "no message " + in_reply_to->hex() + " to answer at this exchange: check inReplyTo");
    }
    auto addressed = context.store.delivery_status(*in_reply_to);
    if (!addressed) return std::move(addressed).take_error();
    const StoredMessage& request = **original;
    // Replies and follow-ups concern tracing requests only: never the
    // exchange's own notices (whose sender is the broker, not a state).
    if (request.type != message_type_name(MessageType::TRACING_REQUEST)) {
      return make_error(ErrorCode::unauthorized, "message " + in_reply_to->hex() + " is a " + request.type +
                                                     ", not a tracing request: only requests are answered");
    }
    bool was_recipient = std::any_of(addressed->begin(), addressed->end(),
                                     [&](const DeliveryStatusRow& row) { return row.recipient == principal.id; });
    if (is_answer(type)) {
      if (!was_recipient) {
        return make_error(ErrorCode::unauthorized, "message " + in_reply_to->hex() +
                                                       " was not addressed to you: only its recipients answer it");
      }
      // Only after the recipient check: a state the request never reached
      // learns nothing of its handling codes from the refusal.
      if (type == MessageType::FORWARD) {
        if (auto allowed = forward_allowed(context.store, *in_reply_to, header); !allowed) return std::move(allowed).take_error();
      }
      // An acknowledgement or response of an H2 request goes nowhere the
      // request did not: cc'ing a third state would share the request
      // (its id, its case reference) as surely as a forward would.
      if (type != MessageType::FORWARD) {
        auto stored = stored_handling(context.store, *in_reply_to);
        if (!stored) return std::move(stored).take_error();
        if (has_code(stored->codes, wire::HandlingCode::H2_NO_ONWARD_SHARING_WITHOUT_PERMISSION)) {
          h2_reach.emplace();
          h2_reach->insert(request.sender);
          for (const auto& id : context.enrollment.of_country(request.sender_country, Role::focal_point)) {
            h2_reach->insert(id);
          }
          for (const auto& row : *addressed) h2_reach->insert(row.recipient);
          h2_request = *in_reply_to;
        }
      }
      // Replies go to the request's sender and that sender's focal point.
      recipients.add(request.sender);
      recipients.add_all(context.enrollment.of_country(request.sender_country, Role::focal_point));
    } else {
      // Follow-ups of the requesting side go to everyone the request reached.
      bool requesting_side = request.sender == principal.id ||
                             (principal.role == Role::focal_point && principal.country == request.sender_country);
      if (!requesting_side) {
        return make_error(ErrorCode::unauthorized, "only the requesting side may follow up on message " +
                                                       in_reply_to->hex());
      }
      recipients.add(request.sender);
      for (const auto& row : *addressed) recipients.add(row.recipient);
    }
  }

  bool all_states_added = false;
  for (auto recipient : header.getRecipients()) {
    switch (recipient.which()) {
      case wire::Recipient::COUNTRY: {
        if (auto added = add_state(recipients, context.enrollment, CountryCode(recipient.getCountry()), is_alert);
            !added) {
          return std::move(added).take_error();
        }
        break;
      }
      case wire::Recipient::PARTICIPANT: {
        ParticipantId id(recipient.getParticipant());
        const EnrolledParticipant* target = context.enrollment.by_id(id);
        if (target == nullptr) {
          return make_error(ErrorCode::unknown_recipient, "participant " + id.str() + " is not enrolled here");
        }
        // A cso hears only the acknowledgement of its warning (the cso block above).
        if (target->role == Role::observer || target->role == Role::broker || target->role == Role::cso) {
          return make_error(ErrorCode::unauthorized, id.str() + " receives no messages from participants");
        }
        if (principal.role == Role::agency && target->role != Role::focal_point) {
          return make_error(ErrorCode::unauthorized, "an agency writes to focal points only, not to " + id.str());
        }
        recipients.add(id);
        break;
      }
      case wire::Recipient::REGION: {
        if (!is_alert) return make_error(ErrorCode::unauthorized, "only alerts may be addressed to a region");
        auto region = context.config.regions.find(recipient.getRegion().cStr());
        if (region == context.config.regions.end()) {
          return make_error(ErrorCode::unknown_recipient, std::string("region ") + recipient.getRegion().cStr() +
                                                              " is not configured at this exchange");
        }
        for (const auto& country : region->second) {
          // A region may list states not (yet) enrolled: they are skipped.
          recipients.add_all(context.enrollment.of_country(country, Role::focal_point));
          recipients.add_all(context.enrollment.of_country(country, Role::agency));
        }
        break;
      }
      case wire::Recipient::ALL_STATES: {
        if (!is_alert) return make_error(ErrorCode::unauthorized, "only alerts may be addressed to all states");
        if (all_states_added) break;  // once is enough, however often it is listed
        all_states_added = true;
        for (const auto& country : context.enrollment.countries()) {
          recipients.add_all(context.enrollment.of_country(country, Role::focal_point));
          recipients.add_all(context.enrollment.of_country(country, Role::agency));
        }
        break;
      }
      default:
        return make_error(ErrorCode::unsupported_version, "a recipient kind this exchange does not know");
    }
  }

  // A request reaches every state it asks (their lifecycles and clocks
  // start from this list), and an agency's also its own focal point.
  if (type == MessageType::TRACING_REQUEST) {
    for (auto state : opened.message.body().getTracingRequest().getRequestedStates()) {
      if (auto added = add_state(recipients, context.enrollment, CountryCode(state.getCountry()), false); !added) {
        return std::move(added).take_error();
      }
    }
  }
  if (type == MessageType::TRACING_REQUEST && principal.role == Role::agency) {
    recipients.add_all(context.enrollment.of_country(principal.country, Role::focal_point));
  }
  if (h2_reach) {
    for (const auto& id : recipients.ids()) {
      if (h2_reach->count(id) == 0) {
        return make_error(ErrorCode::unauthorized,
                          "message " + h2_request.hex() + " carries handling code H2: an answer goes only to those "
                          "the request reached, not to " + id.str() + "; remove that recipient");
      }
    }
  }
  if (recipients.empty() && type != MessageType::CAMPAIGN_REPORT && type != MessageType::FIGURES_STATEMENT) {
    return make_error(ErrorCode::unknown_recipient, "the message has no enrolled recipient besides its sender");
  }
  return recipients.take();
}

}  // namespace fpx::broker
