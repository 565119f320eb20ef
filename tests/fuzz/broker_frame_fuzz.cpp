// libFuzzer target for decode_broker_frame: the client library's first look
// at every frame the broker sends (protocol/client_frames.cpp).
//
// Besides "no crash, no leak": a refusal is `malformed` with a message; a
// receipt's bytes are a SignedReceipt message of their own; and a decoded
// frame, encoded again with the codec the broker uses, decodes to the same
// values (what a client reads is what the broker could have sent).
//
// The same function also runs under g++ as the ctest replay_broker_frame_corpus.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fpx/aligned_reader.hpp"
#include "fpx/frames.hpp"
#include "fpx/wire/transport.capnp.h"

namespace {

using fpx::BrokerReply;

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "broker_frame_fuzz: %s: %s\n", what, detail.c_str());
  std::abort();
}

// The frame the broker's encoders would build for these values; empty when
// they cannot say it (an unknown kind, a status without a 16-byte id).
fpx::Bytes encode(const BrokerReply& reply) {
  switch (reply.kind) {
    case BrokerReply::Kind::receipt: return fpx::encode_receipt(reply.request_id, reply.signed_receipt);
    case BrokerReply::Kind::error:
      return fpx::encode_error(reply.request_id, reply.error, reply.about, reply.retry_after_ms);
    case BrokerReply::Kind::delivery: return fpx::encode_delivery(reply.delivery_id, reply.envelope);
    case BrokerReply::Kind::status:
      if (!reply.status_of) return {};
      return fpx::encode_status(reply.request_id, *reply.status_of, reply.recipients);
    case BrokerReply::Kind::pong: return fpx::encode_pong(reply.request_id, reply.max_frame_bytes);
    case BrokerReply::Kind::session_closed: return fpx::encode_session_closed(reply.reason);
    // Not round-tripped here yet (their decoders, decode_log_proof and
    // decode_statistics_facts, have their own checks): skipped, not failed.
    case BrokerReply::Kind::log_proof: return {};
    case BrokerReply::Kind::statistics_facts: return {};
    case BrokerReply::Kind::unknown: return {};
  }
  return {};
}

bool known_states(const BrokerReply& reply) {
  for (const auto& row : reply.recipients) {
    if (row.state == "unknown") return false;  // a newer broker's state: not ours to encode
  }
  return true;
}

bool same(const BrokerReply& a, const BrokerReply& b) {
  // Deliveries and session closings are unsolicited: their encoders write request id 0.
  const bool unsolicited = a.kind == BrokerReply::Kind::delivery || a.kind == BrokerReply::Kind::session_closed;
  return (unsolicited || a.request_id == b.request_id) && a.kind == b.kind && a.error.code == b.error.code &&
         a.error.message == b.error.message && a.error.field_errors == b.error.field_errors &&
         a.about.has_value() == b.about.has_value() && (!a.about || a.about->bytes == b.about->bytes) &&
         a.retry_after_ms == b.retry_after_ms && a.delivery_id == b.delivery_id && a.envelope == b.envelope &&
         a.status_of.has_value() == b.status_of.has_value() &&
         (!a.status_of || a.status_of->bytes == b.status_of->bytes) && a.recipients == b.recipients &&
         a.reason == b.reason && a.signed_receipt == b.signed_receipt && a.max_frame_bytes == b.max_frame_bytes;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) { return 0; }

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto reply = fpx::decode_broker_frame(fpx::ByteView(data, size));
  if (!reply) {
    if (reply.error().code != fpx::ErrorCode::malformed) fail("refusal with an unexpected code", reply.error().describe());
    if (reply.error().message.empty()) fail("refusal without a message", "");
    return 0;
  }
  if (reply->kind == BrokerReply::Kind::receipt &&
      !fpx::AlignedMessage::open(reply->signed_receipt, fpx::Framing::flat, "signed receipt")) {
    fail("a receipt's bytes are not a SignedReceipt message of their own", "");
  }
  if (reply->kind == BrokerReply::Kind::error && reply->error.code == fpx::ErrorCode::none) {
    fail("an error reply reads as success", reply->error.message);
  }
  if (!known_states(*reply)) return 0;
  const fpx::Bytes again = encode(*reply);
  if (again.empty()) return 0;
  auto decoded = fpx::decode_broker_frame(again);
  if (!decoded) fail("a re-encoded frame is refused", decoded.error().describe());
  if (!same(*reply, *decoded)) fail("a frame changed in a decode/encode round trip", "");
  return 0;
}
