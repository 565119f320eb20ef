#include "fpx/broker/wire_frames.hpp"

#include <cstring>

#include <capnp/serialize.h>
#include <kj/exception.h>

#include "fpx/wire/observer.capnp.h"
#include "fpx/wire/transport.capnp.h"

namespace fpx::broker {

namespace {

wire::ErrorCode to_wire(ErrorCode code) {
  // Ordinal for ordinal (static_assert in protocol/result.cpp).
  return static_cast<wire::ErrorCode>(static_cast<std::uint16_t>(code));
}

Bytes flatten(capnp::MessageBuilder& message) {
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  return Bytes(bytes.begin(), bytes.end());
}

kj::ArrayPtr<const kj::byte> as_data(ByteView bytes) { return kj::arrayPtr(bytes.data(), bytes.size()); }

}  // namespace

Result<ClientRequest> decode_client_frame(ByteView frame) {
  if (frame.empty() || frame.size() % sizeof(capnp::word) != 0) {
    return make_error(ErrorCode::malformed, "a frame must be one Cap'n Proto ClientFrame message");
  }
  try {
    auto words = kj::heapArray<capnp::word>(frame.size() / sizeof(capnp::word));
    std::memcpy(words.begin(), frame.data(), frame.size());  // frames carry no alignment promise
    capnp::ReaderOptions limits;
    limits.traversalLimitInWords = words.size() * 4 + 64;  // no amplification through shared pointers
    limits.nestingLimit = 16;
    capnp::FlatArrayMessageReader reader(words, limits);
    if (reader.getEnd() != words.end()) return make_error(ErrorCode::malformed, "trailing bytes after the ClientFrame");
    auto root = reader.getRoot<wire::ClientFrame>();
    ClientRequest request;
    request.request_id = root.getRequestId();
    switch (root.which()) {
      case wire::ClientFrame::SUBMIT: {
        request.kind = ClientRequest::Kind::submit;
        auto envelope = root.getSubmit();
        request.envelope.assign(envelope.begin(), envelope.end());
        break;
      }
      case wire::ClientFrame::CONFIRM: {
        request.kind = ClientRequest::Kind::confirm;
        auto ids = root.getConfirm().getDeliveryIds();
        // A participant has at most max_in_flight deliveries unconfirmed; a
        // longer list only costs the broker one UPDATE per id.
        if (ids.size() > 4096) return make_error(ErrorCode::too_large, "confirm at most 4096 deliveries at once");
        for (auto id : ids) request.delivery_ids.push_back(id);
        break;
      }
      case wire::ClientFrame::STATUS: {
        request.kind = ClientRequest::Kind::status;
        auto id = root.getStatus().getMessageId();
        request.status_of = MessageId::from_bytes(ByteView(id.begin(), id.size()));
        if (!request.status_of) return make_error(ErrorCode::malformed, "status: message id must be 16 bytes");
        break;
      }
      case wire::ClientFrame::PING:
        request.kind = ClientRequest::Kind::ping;
        break;
      default:
        return make_error(ErrorCode::unsupported_version, "unknown request kind: this broker speaks transport v1");
    }
    return request;
  } catch (const kj::Exception& exception) {
    return make_error(ErrorCode::malformed, std::string("undecodable ClientFrame: ") + exception.getDescription().cStr());
  }
}

Result<ObserverQuery> decode_observer_request(ByteView frame) {
  if (frame.empty() || frame.size() % sizeof(capnp::word) != 0) {
    return make_error(ErrorCode::malformed, "send one ObserverRequest per frame");
  }
  if (frame.size() > kMaxObserverRequestBytes) {
    return make_error(ErrorCode::too_large, "an ObserverRequest is a few words, not " + std::to_string(frame.size()) +
                                                " bytes");
  }
  try {
    auto words = kj::heapArray<capnp::word>(frame.size() / sizeof(capnp::word));
    std::memcpy(words.begin(), frame.data(), frame.size());  // frames carry no alignment promise
    capnp::ReaderOptions limits;
    limits.traversalLimitInWords = words.size() * 4 + 64;  // no amplification through shared pointers
    limits.nestingLimit = 8;
    capnp::FlatArrayMessageReader reader(words, limits);
    if (reader.getEnd() != words.end()) {
      return make_error(ErrorCode::malformed, "trailing bytes after the ObserverRequest");
    }
    auto request = reader.getRoot<wire::ObserverRequest>();
    ObserverQuery query;
    query.request_id = request.getRequestId();
    switch (request.which()) {
      case wire::ObserverRequest::FOLLOW:
        query.kind = ObserverQuery::Kind::follow;
        query.from_sequence = request.getFollow().getFromSequence();
        query.max_records = request.getFollow().getMaxRecords();
        break;
      case wire::ObserverRequest::LATEST_CHECKPOINT:
        query.kind = ObserverQuery::Kind::latest_checkpoint;
        break;
      case wire::ObserverRequest::INCLUSION_PROOF:
        query.kind = ObserverQuery::Kind::inclusion_proof;
        query.leaf_index = request.getInclusionProof().getLeafIndex();
        query.tree_size = request.getInclusionProof().getTreeSize();
        break;
      case wire::ObserverRequest::CONSISTENCY_PROOF:
        query.kind = ObserverQuery::Kind::consistency_proof;
        query.first_tree_size = request.getConsistencyProof().getFirstTreeSize();
        query.second_tree_size = request.getConsistencyProof().getSecondTreeSize();
        break;
      default:
        query.kind = ObserverQuery::Kind::unknown;
        break;
    }
    return query;
  } catch (const kj::Exception& exception) {
    return make_error(ErrorCode::malformed,
                      std::string("undecodable ObserverRequest: ") + exception.getDescription().cStr());
  }
}

Bytes encode_error(std::uint64_t request_id, const Error& error, const std::optional<MessageId>& about,
                   std::uint32_t retry_after_ms) {
  capnp::MallocMessageBuilder message;
  auto frame = message.initRoot<wire::BrokerFrame>();
  frame.setRequestId(request_id);
  auto out = frame.initError();
  out.setCode(to_wire(error.code));
  out.setMessage(error.message);
  auto fields = out.initFieldErrors(static_cast<unsigned>(error.field_errors.size()));
  for (unsigned i = 0; i < fields.size(); ++i) {
    fields[i].setPath(error.field_errors[i].path);
    fields[i].setMessage(error.field_errors[i].message);
  }
  if (about) out.setMessageId(as_data(about->bytes));
  out.setRetryAfterMs(retry_after_ms);
  return flatten(message);
}

Bytes encode_receipt(std::uint64_t request_id, ByteView signed_receipt) {
  // signed_receipt is our own SignedReceipt message, stored with the message.
  auto words = kj::heapArray<capnp::word>(signed_receipt.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), signed_receipt.data(), words.size() * sizeof(capnp::word));
  capnp::FlatArrayMessageReader reader(words);
  capnp::MallocMessageBuilder message;
  auto frame = message.initRoot<wire::BrokerFrame>();
  frame.setRequestId(request_id);
  frame.setReceipt(reader.getRoot<wire::SignedReceipt>());
  return flatten(message);
}

Bytes encode_delivery(std::uint64_t delivery_id, ByteView envelope) {
  capnp::MallocMessageBuilder message;
  auto frame = message.initRoot<wire::BrokerFrame>();
  auto delivery = frame.initDelivery();
  delivery.setDeliveryId(delivery_id);
  delivery.setEnvelope(as_data(envelope));
  return flatten(message);
}

Bytes encode_status(std::uint64_t request_id, const MessageId& id, const std::vector<RecipientStatusRow>& rows) {
  capnp::MallocMessageBuilder message;
  auto frame = message.initRoot<wire::BrokerFrame>();
  frame.setRequestId(request_id);
  auto status = frame.initStatus();
  status.setMessageId(as_data(id.bytes));
  auto recipients = status.initRecipients(static_cast<unsigned>(rows.size()));
  for (unsigned i = 0; i < recipients.size(); ++i) {
    recipients[i].setRecipient(rows[i].recipient);
    wire::DeliveryState state = wire::DeliveryState::STORED;
    if (rows[i].state == "delivered") state = wire::DeliveryState::DELIVERED;
    if (rows[i].state == "confirmed") state = wire::DeliveryState::CONFIRMED;
    if (rows[i].state == "dead_letter") state = wire::DeliveryState::DEAD_LETTER;
    recipients[i].setState(state);
    recipients[i].setUpdatedAtMs(rows[i].updated_at_ms);
    recipients[i].setLifecycle(rows[i].lifecycle);
    recipients[i].setReason(rows[i].reason);
  }
  return flatten(message);
}

Bytes encode_pong(std::uint64_t request_id) {
  capnp::MallocMessageBuilder message;
  auto frame = message.initRoot<wire::BrokerFrame>();
  frame.setRequestId(request_id);
  frame.setPong();
  return flatten(message);
}

Bytes encode_session_closed(const std::string& reason) {
  capnp::MallocMessageBuilder message;
  auto frame = message.initRoot<wire::BrokerFrame>();
  frame.setSessionClosed(reason);
  return flatten(message);
}

}  // namespace fpx::broker
