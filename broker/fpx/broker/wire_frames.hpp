// Participant <-> broker frames (schemas/transport.capnp): decoding what a
// participant sends into plain values, encoding what the broker answers.
// The one place where fpx::ErrorCode becomes a wire code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fpx/ids.hpp"
#include "fpx/result.hpp"

namespace fpx::broker {

struct ClientRequest {
  enum class Kind { submit, confirm, status, ping };
  std::uint64_t request_id = 0;
  Kind kind = Kind::ping;
  Bytes envelope;                           // submit
  std::vector<std::uint64_t> delivery_ids;  // confirm
  std::optional<MessageId> status_of;       // status
};

// Decodes one ClientFrame from untrusted bytes (reader limits; no throw).
Result<ClientRequest> decode_client_frame(ByteView frame);

// One observer request (schemas/observer.capnp) as plain values.
struct ObserverQuery {
  enum class Kind { follow, latest_checkpoint, inclusion_proof, consistency_proof, unknown };
  std::uint64_t request_id = 0;
  Kind kind = Kind::unknown;        // unknown: a newer protocol's request, answered unsupported_version
  std::uint64_t from_sequence = 0;  // follow
  std::uint32_t max_records = 0;    // follow; 0 means a full page
  std::uint64_t leaf_index = 0;     // inclusion_proof
  std::uint64_t tree_size = 0;      // inclusion_proof
  std::uint64_t first_tree_size = 0;   // consistency_proof
  std::uint64_t second_tree_size = 0;  // consistency_proof
};

// Requests are a few words; anything bigger is hostile.
inline constexpr std::size_t kMaxObserverRequestBytes = 4096;

// Decodes one ObserverRequest from untrusted bytes (reader limits; no throw).
Result<ObserverQuery> decode_observer_request(ByteView frame);

struct RecipientStatusRow {
  std::string recipient;
  std::string state;
  std::int64_t updated_at_ms = 0;
  std::string lifecycle;
  std::string reason;
};

Bytes encode_error(std::uint64_t request_id, const Error& error, const std::optional<MessageId>& about,
                   std::uint32_t retry_after_ms = 0);
Bytes encode_receipt(std::uint64_t request_id, ByteView signed_receipt);
Bytes encode_delivery(std::uint64_t delivery_id, ByteView envelope);
Bytes encode_status(std::uint64_t request_id, const MessageId& id, const std::vector<RecipientStatusRow>& rows);
Bytes encode_pong(std::uint64_t request_id);
Bytes encode_session_closed(const std::string& reason);

}  // namespace fpx::broker
