// logProof: a participant asks for the proof that its own message is in the
// log everyone sees (docs/PROTOCOL.md §6.1). Read-only: nothing is written
// but the refusal audit rows every request kind gets.
#include "broker_impl.hpp"
#include "fpx/message_log_proof.hpp"
#include "fpx/process_statistics.hpp"
#include "fpx/transparency_log.hpp"

namespace fpx::broker {

void Broker::Impl::handle_log_proof(const EnrolledParticipant& principal, const ClientRequest& request,
                                    const std::string& routing_id) {
  const MessageId& id = *request.log_proof_of;
  auto refuse = [&](const Error& error) {
    admission.refuse(routing_id, request.request_id, principal.id.str(), id, "log_proof", error);
  };
  auto message = store->find_message(id);
  if (!message) return refuse(message.error());
  // As for status: the sender and its state's focal point may ask; to anyone
  // else the message does not exist. The opened event part names the
  // states the message went to, which its sender knows (status shows them)
  // and nobody else may learn from the log.
  const bool may_ask = message->has_value() &&
                       ((*message)->sender == principal.id ||
                        (principal.role == Role::focal_point && principal.country == (*message)->sender_country));
  if (!may_ask) {
    return refuse(make_error(ErrorCode::not_found, "no message " + id.hex() +
                                                       " of yours or your state's: only a message's sender and its "
                                                       "state's focal point may ask for its log proof; check the id"));
  }
  const std::uint64_t leaf_index = (*message)->log_index;
  auto latest = store->latest_checkpoint();
  if (!latest) return refuse(latest.error());
  if (!latest->has_value() || (*latest)->tree_size <= leaf_index) {
    return refuse(make_error(ErrorCode::not_found,
                             "message " + id.hex() + " (log index " + std::to_string(leaf_index) +
                                 ") is not covered by a signed checkpoint yet: ask again after the next one "
                                 "(every oversight.checkpoint_every_ms, a minute by default)"));
  }
  auto parts = store->commitment_parts(leaf_index);
  if (!parts) return refuse(parts.error());
  StoreNodeSource nodes(*store);
  auto path = inclusion_proof(nodes, leaf_index, (*latest)->tree_size);
  if (!path) return refuse(path.error());

  MessageLogProof proof;
  proof.message_id = id;
  proof.leaf_index = leaf_index;
  proof.checkpoint_note = publisher.served_checkpoint_note(**latest);  // with its cosignatures, once they came
  for (const auto& part : *parts) proof.part_hashes.push_back(stats::commitment_part_hash(part.salt, part.metadata));
  proof.event_salt = parts->front().salt;
  proof.event_metadata = parts->front().metadata;
  proof.inclusion_path = std::move(path).value();
  after_commit.reply(routing_id, encode_log_proof_reply(request.request_id, proof), request.request_id);
}

}  // namespace fpx::broker
