#include "broker_impl.hpp"

namespace fpx::broker {

void Broker::Impl::handle_status(const EnrolledParticipant& principal, const ClientRequest& request,
                                 const std::string& routing_id) {
  const MessageId& id = *request.status_of;
  auto message = store->find_message(id);
  if (!message) return admission.refuse(routing_id, request.request_id, principal.id.str(), id, "status", message.error());
  // The sender and its state's focal point may ask; to anyone else the
  // message does not exist (no oracle for other states' traffic). A third
  // state, or a requested one, gets the very refusal an unknown id gets, so
  // asking about an H2 request's id tells it nothing it did not know: not
  // that the request exists, nor who sent it, nor its handling codes.
  bool may_ask = message->has_value() &&
                 ((*message)->sender == principal.id ||
                  (principal.role == Role::focal_point && principal.country == (*message)->sender_country));
  if (!may_ask) {
    return admission.refuse(routing_id, request.request_id, principal.id.str(), id, "status",
                  make_error(ErrorCode::not_found, "no message " + id.hex() +
                                                       " of yours or your state's: only a message's sender and its "
                                                       "state's focal point may ask its status; check the id"));
  }
  auto rows = store->delivery_status(id);
  if (!rows) return admission.refuse(routing_id, request.request_id, principal.id.str(), id, "status", rows.error());
  auto lifecycle = store->lifecycle_of(id);
  if (!lifecycle) return admission.refuse(routing_id, request.request_id, principal.id.str(), id, "status", lifecycle.error());
  std::vector<RecipientStatusRow> out;
  for (const auto& row : *rows) {
    // A requested state's focal point carries that state's lifecycle.
    std::string lifecycle_text;
    const EnrolledParticipant* recipient = enrollment.by_id(row.recipient);
    for (const auto& step : *lifecycle) {
      if (recipient != nullptr && recipient->role == Role::focal_point && recipient->country == step.requested_country) {
        lifecycle_text = describe_lifecycle(step);
      }
    }
    out.push_back({row.recipient.str(), std::string(delivery_state_name(row.state)), row.updated_at_ms,
                   lifecycle_text, row.reason});
  }
  after_commit.reply(routing_id, encode_status(request.request_id, id, out), request.request_id);
}

}  // namespace fpx::broker
