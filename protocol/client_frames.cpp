// Participant <-> broker frames (schemas/transport.capnp): both directions,
// both ends. The broker decodes requests and encodes replies with these; the
// client library does the opposite with the same functions.
#include <cassert>

#include <capnp/message.h>

#include "fpx/aligned_reader.hpp"
#include "fpx/frames.hpp"
#include "fpx/wire/transport.capnp.h"
#include "fpx/wire_error.hpp"

namespace fpx {

namespace {

ByteView data_view(capnp::Data::Reader data) { return {data.begin(), data.size()}; }
std::string text_of(capnp::Text::Reader text) { return std::string(text.cStr(), text.size()); }
kj::ArrayPtr<const kj::byte> as_data(ByteView bytes) { return kj::arrayPtr(bytes.data(), bytes.size()); }

wire::DeliveryState state_to_wire(const std::string& state) {
  if (state == "delivered") return wire::DeliveryState::DELIVERED;
  if (state == "confirmed") return wire::DeliveryState::CONFIRMED;
  if (state == "dead_letter") return wire::DeliveryState::DEAD_LETTER;
  return wire::DeliveryState::STORED;
}

std::string state_name(wire::DeliveryState state) {
  switch (state) {
    case wire::DeliveryState::STORED: return "stored";
    case wire::DeliveryState::DELIVERED: return "delivered";
    case wire::DeliveryState::CONFIRMED: return "confirmed";
    case wire::DeliveryState::DEAD_LETTER: return "dead_letter";
  }
  return "unknown";  // a newer broker's state
}

Error error_of(wire::Error::Reader wire_error) {
  Error error;
  // An error that says "none" is broken: it must not read as success.
  error.code = wire_error.getCode() == wire::ErrorCode::NONE ? ErrorCode::internal : from_wire(wire_error.getCode());
  error.message = text_of(wire_error.getMessage());
  for (auto field : wire_error.getFieldErrors()) {
    error.field_errors.push_back(FieldError{text_of(field.getPath()), text_of(field.getMessage())});
  }
  return error;
}

}  // namespace

// --- participant -> broker ---------------------------------------------------

Result<ClientRequest> decode_client_frame(ByteView frame) {
  return read_message<wire::ClientFrame>(
      frame, Framing::flat, "ClientFrame", [](wire::ClientFrame::Reader root) -> Result<ClientRequest> {
        ClientRequest request;
        request.request_id = root.getRequestId();
        switch (root.which()) {
          case wire::ClientFrame::SUBMIT: {
            request.kind = ClientRequest::Kind::submit;
            auto envelope = data_view(root.getSubmit());
            request.envelope.assign(envelope.begin(), envelope.end());
            break;
          }
          case wire::ClientFrame::CONFIRM: {
            request.kind = ClientRequest::Kind::confirm;
            auto ids = root.getConfirm().getDeliveryIds();
            if (ids.size() > kMaxConfirmIds) {
              return make_error(ErrorCode::too_large,
                                "confirm at most " + std::to_string(kMaxConfirmIds) + " deliveries at once");
            }
            for (auto id : ids) request.delivery_ids.push_back(id);
            break;
          }
          case wire::ClientFrame::STATUS: {
            request.kind = ClientRequest::Kind::status;
            request.status_of = MessageId::from_bytes(data_view(root.getStatus().getMessageId()));
            if (!request.status_of) return make_error(ErrorCode::malformed, "status: message id must be 16 bytes");
            break;
          }
          case wire::ClientFrame::LOG_PROOF: {
            request.kind = ClientRequest::Kind::log_proof;
            request.log_proof_of = MessageId::from_bytes(data_view(root.getLogProof().getMessageId()));
            if (!request.log_proof_of) return make_error(ErrorCode::malformed, "logProof: message id must be 16 bytes");
            break;
          }
          case wire::ClientFrame::STATISTICS_FACTS: {
            request.kind = ClientRequest::Kind::statistics_facts;
            auto query = root.getStatisticsFacts();
            request.statistics_facts.period_start_ms = query.getPeriodStart();
            request.statistics_facts.offset = query.getOffset();
            if (query.getRequestId().size() != 0) {
              request.statistics_facts.request_id = MessageId::from_bytes(data_view(query.getRequestId()));
              if (!request.statistics_facts.request_id) {
                return make_error(ErrorCode::malformed, "statisticsFacts: a request id must be 16 bytes, or empty");
              }
            }
            break;
          }
          case wire::ClientFrame::PING:
            request.kind = ClientRequest::Kind::ping;
            break;
          default:
            return make_error(ErrorCode::unsupported_version, "unknown request kind: this broker speaks transport v1");
        }
        return request;
      });
}

Bytes encode_client_frame(const ClientRequest& request) {
  capnp::MallocMessageBuilder message;
  auto frame = message.initRoot<wire::ClientFrame>();
  frame.setRequestId(request.request_id);
  switch (request.kind) {
    case ClientRequest::Kind::submit:
      frame.setSubmit(as_data(request.envelope));
      break;
    case ClientRequest::Kind::confirm: {
      auto ids = frame.initConfirm().initDeliveryIds(static_cast<unsigned>(request.delivery_ids.size()));
      for (unsigned i = 0; i < ids.size(); ++i) ids.set(i, request.delivery_ids[i]);
      break;
    }
    case ClientRequest::Kind::log_proof:
      assert(request.log_proof_of);
      frame.initLogProof().setMessageId(as_data(request.log_proof_of->bytes));
      break;
    case ClientRequest::Kind::status:
      assert(request.status_of);
      frame.initStatus().setMessageId(as_data(request.status_of->bytes));
      break;
    case ClientRequest::Kind::ping:
      frame.setPing();
      break;
    case ClientRequest::Kind::statistics_facts: {
      auto query = frame.initStatisticsFacts();
      query.setPeriodStart(request.statistics_facts.period_start_ms);
      query.setOffset(request.statistics_facts.offset);
      if (request.statistics_facts.request_id) query.setRequestId(as_data(request.statistics_facts.request_id->bytes));
      break;
    }
  }
  return flat_bytes(message);
}

Bytes encode_statistics_facts_query(std::uint64_t request_id, const StatisticsFactsQuery& query) {
  ClientRequest request;
  request.request_id = request_id;
  request.kind = ClientRequest::Kind::statistics_facts;
  request.statistics_facts = query;
  return encode_client_frame(request);
}

Bytes encode_submit(std::uint64_t request_id, ByteView envelope) {
  capnp::MallocMessageBuilder message;
  auto frame = message.initRoot<wire::ClientFrame>();
  frame.setRequestId(request_id);
  frame.setSubmit(as_data(envelope));  // no intermediate copy: envelopes run to megabytes
  return flat_bytes(message);
}

Bytes encode_log_proof_query(std::uint64_t request_id, const MessageId& id) {
  ClientRequest request;
  request.request_id = request_id;
  request.kind = ClientRequest::Kind::log_proof;
  request.log_proof_of = id;
  return encode_client_frame(request);
}

Bytes encode_confirm(std::uint64_t request_id, const std::vector<std::uint64_t>& delivery_ids) {
  ClientRequest request;
  request.request_id = request_id;
  request.kind = ClientRequest::Kind::confirm;
  request.delivery_ids = delivery_ids;
  return encode_client_frame(request);
}

Bytes encode_status_query(std::uint64_t request_id, const MessageId& id) {
  ClientRequest request;
  request.request_id = request_id;
  request.kind = ClientRequest::Kind::status;
  request.status_of = id;
  return encode_client_frame(request);
}

Bytes encode_ping(std::uint64_t request_id) {
  ClientRequest request;
  request.request_id = request_id;
  request.kind = ClientRequest::Kind::ping;
  return encode_client_frame(request);
}

// --- broker -> participant ---------------------------------------------------

Result<BrokerReply> decode_broker_frame(ByteView frame) {
  return read_message<wire::BrokerFrame>(
      frame, Framing::flat, "BrokerFrame", [](wire::BrokerFrame::Reader root) -> Result<BrokerReply> {
        BrokerReply reply;
        reply.request_id = root.getRequestId();
        switch (root.which()) {
          case wire::BrokerFrame::RECEIPT: {
            reply.kind = BrokerReply::Kind::receipt;
            // Kept as a SignedReceipt message of its own: the bytes a client
            // stores and anyone can verify later. The copy walks the whole
            // struct under the reader's nesting and traversal limits.
            capnp::MallocMessageBuilder copy;
            copy.setRoot(root.getReceipt());
            reply.signed_receipt = flat_bytes(copy);
            break;
          }
          case wire::BrokerFrame::ERROR: {
            reply.kind = BrokerReply::Kind::error;
            auto error = root.getError();
            reply.error = error_of(error);
            if (error.hasMessageId()) reply.about = MessageId::from_bytes(data_view(error.getMessageId()));
            reply.retry_after_ms = error.getRetryAfterMs();
            break;
          }
          case wire::BrokerFrame::DELIVERY: {
            reply.kind = BrokerReply::Kind::delivery;
            auto delivery = root.getDelivery();
            reply.delivery_id = delivery.getDeliveryId();
            auto envelope = data_view(delivery.getEnvelope());
            reply.envelope.assign(envelope.begin(), envelope.end());
            break;
          }
          case wire::BrokerFrame::STATUS: {
            reply.kind = BrokerReply::Kind::status;
            auto status = root.getStatus();
            reply.status_of = MessageId::from_bytes(data_view(status.getMessageId()));
            for (auto recipient : status.getRecipients()) {
              reply.recipients.push_back(RecipientStatusRow{text_of(recipient.getRecipient()),
                                                            state_name(recipient.getState()),
                                                            recipient.getUpdatedAtMs(), text_of(recipient.getLifecycle()),
                                                            text_of(recipient.getReason())});
            }
            break;
          }
          case wire::BrokerFrame::LOG_PROOF: {
            reply.kind = BrokerReply::Kind::log_proof;
            // Kept as a LogProof message of its own (fpx/message_log_proof.hpp
            // reads it), copied under the reader's limits.
            capnp::MallocMessageBuilder copy;
            copy.setRoot(root.getLogProof());
            reply.log_proof = flat_bytes(copy);
            break;
          }
          case wire::BrokerFrame::STATISTICS_FACTS: {
            reply.kind = BrokerReply::Kind::statistics_facts;
            // Kept as a StatisticsFacts message of its own
            // (fpx/statistics_facts.hpp reads it), copied under the reader's limits.
            capnp::MallocMessageBuilder copy;
            copy.setRoot(root.getStatisticsFacts());
            reply.statistics_facts = flat_bytes(copy);
            break;
          }
          case wire::BrokerFrame::PONG:
            reply.kind = BrokerReply::Kind::pong;
            reply.max_frame_bytes = root.getMaxFrameBytes();
            break;
          case wire::BrokerFrame::SESSION_CLOSED:
            reply.kind = BrokerReply::Kind::session_closed;
            reply.reason = text_of(root.getSessionClosed());
            break;
          default:
            reply.kind = BrokerReply::Kind::unknown;
            break;
        }
        return reply;
      });
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
  return flat_bytes(message);
}

Bytes encode_receipt(std::uint64_t request_id, ByteView signed_receipt) {
  capnp::MallocMessageBuilder message;
  auto frame = message.initRoot<wire::BrokerFrame>();
  frame.setRequestId(request_id);
  // The broker's own SignedReceipt, stored with the message: read through
  // the same reader as anything else, so a damaged row cannot crash the loop.
  auto copied = read_message<wire::SignedReceipt>(signed_receipt, Framing::flat, "stored signed receipt",
                                                  [&](wire::SignedReceipt::Reader receipt) -> Status {
                                                    frame.setReceipt(receipt);
                                                    return {};
                                                  });
  if (!copied) return encode_error(request_id, copied.error(), std::nullopt);
  return flat_bytes(message);
}

Bytes encode_delivery(std::uint64_t delivery_id, ByteView envelope) {
  capnp::MallocMessageBuilder message;
  auto frame = message.initRoot<wire::BrokerFrame>();
  auto delivery = frame.initDelivery();
  delivery.setDeliveryId(delivery_id);
  delivery.setEnvelope(as_data(envelope));
  return flat_bytes(message);
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
    recipients[i].setState(state_to_wire(rows[i].state));
    recipients[i].setUpdatedAtMs(rows[i].updated_at_ms);
    recipients[i].setLifecycle(rows[i].lifecycle);
    recipients[i].setReason(rows[i].reason);
  }
  return flat_bytes(message);
}

Bytes encode_pong(std::uint64_t request_id, std::uint32_t max_frame_bytes) {
  capnp::MallocMessageBuilder message;
  auto frame = message.initRoot<wire::BrokerFrame>();
  frame.setRequestId(request_id);
  frame.setPong();
  frame.setMaxFrameBytes(max_frame_bytes);
  return flat_bytes(message);
}

Bytes encode_probe() {
  capnp::MallocMessageBuilder message;
  auto frame = message.initRoot<wire::BrokerFrame>();
  frame.setProbe();
  return flat_bytes(message);
}

Bytes encode_session_closed(const std::string& reason) {
  capnp::MallocMessageBuilder message;
  auto frame = message.initRoot<wire::BrokerFrame>();
  frame.setSessionClosed(reason);
  return flat_bytes(message);
}

}  // namespace fpx
