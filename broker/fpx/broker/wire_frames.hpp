// Participant <-> broker frames (schemas/transport.capnp): decoding what a
// participant sends into plain values, encoding what the broker answers.
// The one place where fpx::ErrorCode becomes a wire code.
#pragma once

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
