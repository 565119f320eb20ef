// Message types: names, the body union member of each, and who may sign it.
#include "fpx/envelope.hpp"

namespace fpx {

using wire::MessageType;

bool role_may_sign(Role role, MessageType type) {
  switch (type) {
    case MessageType::TRACING_REQUEST:
    case MessageType::INFORMATION_SUPPLIED:
    case MessageType::WITHDRAW:
    case MessageType::CLOSE:
      // The requesting side: its agency or its focal point.
      return role == Role::focal_point || role == Role::agency;
    case MessageType::TRACING_ACKNOWLEDGEMENT:
    case MessageType::TRACING_RESPONSE:
    case MessageType::ALERT:
    case MessageType::CAMPAIGN_REPORT:
    case MessageType::FORWARD:
      return role == Role::focal_point;
    case MessageType::FIGURES_STATEMENT:
      // A state's right of reply to its own published figures: its focal
      // point speaks for it, never an agency (issue 12).
      return role == Role::focal_point;
    case MessageType::HIT_NOTIFICATION:
    case MessageType::REMINDER:
    case MessageType::ESCALATION:
    case MessageType::DEAD_LETTER_NOTICE:
      // Issued by the exchange itself.
      return role == Role::broker;
    // Civil society's voice: a cso certificate sends these two and nothing
    // else; the focal point acknowledges a warning.
    case MessageType::EARLY_WARNING:
    case MessageType::CAMPAIGN_CONTRIBUTION:
      return role == Role::cso;
    case MessageType::EARLY_WARNING_ACKNOWLEDGEMENT:
      return role == Role::focal_point;
    case MessageType::UNSPECIFIED:
      return false;
  }
  return false;  // observers, and any type this build does not know
}

MessageType message_type_of(wire::Body::Reader body) {
  switch (body.which()) {
    case wire::Body::TRACING_REQUEST: return MessageType::TRACING_REQUEST;
    case wire::Body::TRACING_ACKNOWLEDGEMENT: return MessageType::TRACING_ACKNOWLEDGEMENT;
    case wire::Body::TRACING_RESPONSE: return MessageType::TRACING_RESPONSE;
    case wire::Body::ALERT: return MessageType::ALERT;
    case wire::Body::CAMPAIGN_REPORT: return MessageType::CAMPAIGN_REPORT;
    case wire::Body::INFORMATION_SUPPLIED: return MessageType::INFORMATION_SUPPLIED;
    case wire::Body::FORWARD: return MessageType::FORWARD;
    case wire::Body::WITHDRAW: return MessageType::WITHDRAW;
    case wire::Body::CLOSE: return MessageType::CLOSE;
    case wire::Body::HIT_NOTIFICATION: return MessageType::HIT_NOTIFICATION;
    case wire::Body::REMINDER: return MessageType::REMINDER;
    case wire::Body::ESCALATION: return MessageType::ESCALATION;
    case wire::Body::DEAD_LETTER_NOTICE: return MessageType::DEAD_LETTER_NOTICE;
    case wire::Body::FIGURES_STATEMENT: return MessageType::FIGURES_STATEMENT;
    case wire::Body::EARLY_WARNING: return MessageType::EARLY_WARNING;
    case wire::Body::EARLY_WARNING_ACKNOWLEDGEMENT: return MessageType::EARLY_WARNING_ACKNOWLEDGEMENT;
    case wire::Body::CAMPAIGN_CONTRIBUTION: return MessageType::CAMPAIGN_CONTRIBUTION;
  }
  return MessageType::UNSPECIFIED;  // a union member from a newer schema
}

std::string_view message_type_name(MessageType type) {
  switch (type) {
    case MessageType::UNSPECIFIED: return "unspecified";
    case MessageType::TRACING_REQUEST: return "tracing-request";
    case MessageType::TRACING_ACKNOWLEDGEMENT: return "tracing-acknowledgement";
    case MessageType::TRACING_RESPONSE: return "tracing-response";
    case MessageType::ALERT: return "alert";
    case MessageType::CAMPAIGN_REPORT: return "campaign-report";
    case MessageType::INFORMATION_SUPPLIED: return "information-supplied";
    case MessageType::FORWARD: return "forward";
    case MessageType::WITHDRAW: return "withdraw";
    case MessageType::CLOSE: return "close";
    case MessageType::HIT_NOTIFICATION: return "hit-notification";
    case MessageType::REMINDER: return "reminder";
    case MessageType::ESCALATION: return "escalation";
    case MessageType::DEAD_LETTER_NOTICE: return "dead-letter-notice";
    case MessageType::FIGURES_STATEMENT: return "figures-statement";
    case MessageType::EARLY_WARNING: return "early-warning";
    case MessageType::EARLY_WARNING_ACKNOWLEDGEMENT: return "early-warning-acknowledgement";
    case MessageType::CAMPAIGN_CONTRIBUTION: return "campaign-contribution";
  }
  return "unknown";
}

}  // namespace fpx
