// What a batch decides to send, acted on only after its transaction is
// durable: replies (receipts, refusals, status answers), the participants
// whose deliveries to push, and the deliveries that leave the in-flight
// window once their confirmation is committed. Plain values, filled by the
// stages and drained by the loop thread, which alone owns the sockets.
// Private to broker/.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "fpx/broker/receipt_group.hpp"
#include "fpx/ids.hpp"

namespace fpx::broker {

// Something to send once the batch's transaction is durable.
struct Outgoing {
  std::string routing_id;
  Bytes frame;
  std::uint64_t request_id = 0;  // the request it answers; 0 for deliveries and notices
  // Set: `frame` is this leaf's receipt, drawn from the batch's group once it is sealed and committed.
  std::optional<GroupLeaf> receipt = std::nullopt;
};

struct AfterCommit {
  std::vector<Outgoing> replies;
  std::set<ParticipantId> push_to;
  std::map<ParticipantId, std::vector<std::uint64_t>> confirmed;  // leave the in-flight window

  void reply(const std::string& routing_id, Bytes frame, std::uint64_t request_id) {
    replies.push_back({routing_id, std::move(frame), request_id});
  }
  void reply_with_receipt(const std::string& routing_id, std::uint64_t request_id, GroupLeaf leaf) {
    replies.push_back({routing_id, {}, request_id, leaf});
  }
};

}  // namespace fpx::broker
