// libFuzzer target for decode_observer_reply: what fpx::client::ObserverClient
// reads from the broker's observers endpoint (protocol/observer_frames.cpp).
//
// Besides "no crash, no leak": a refusal is `malformed` with a message; no
// proof longer than kMaxProofHashes is accepted; and a decoded reply,
// encoded again with the broker's encoders, decodes to the same values.
//
// The same function also runs under g++ as the ctest replay_observer_reply_corpus.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fpx/frames.hpp"

namespace {

using fpx::ObserverReply;

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "observer_reply_fuzz: %s: %s\n", what, detail.c_str());
  std::abort();
}

// Empty when the broker's encoders cannot say it: an unknown kind, or a
// proof hash that is not 32 bytes (the broker only ever sends SHA-256 hashes).
fpx::Bytes encode(const ObserverReply& reply) {
  switch (reply.kind) {
    case ObserverReply::Kind::page: return fpx::encode_feed_page(reply.request_id, reply.records, reply.next_sequence);
    case ObserverReply::Kind::checkpoint: return fpx::encode_checkpoint_reply(reply.request_id, reply.note);
    case ObserverReply::Kind::proof: {
      std::vector<fpx::Sha256Digest> hashes;
      for (const auto& hash : reply.hashes) {
        if (hash.size() != fpx::Sha256Digest{}.size()) return {};
        hashes.emplace_back();
        std::copy(hash.begin(), hash.end(), hashes.back().begin());
      }
      return fpx::encode_proof_reply(reply.request_id, hashes);
    }
    case ObserverReply::Kind::error:
      return fpx::encode_observer_error(reply.request_id, reply.error, reply.retry_after_ms);
    case ObserverReply::Kind::unknown: return {};
  }
  return {};
}

bool same(const ObserverReply& a, const ObserverReply& b) {
  return a.request_id == b.request_id && a.kind == b.kind && a.records == b.records &&
         a.next_sequence == b.next_sequence && a.note == b.note && a.hashes == b.hashes &&
         a.error.code == b.error.code && a.error.message == b.error.message &&
         a.error.field_errors == b.error.field_errors && a.retry_after_ms == b.retry_after_ms;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) { return 0; }

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto reply = fpx::decode_observer_reply(fpx::ByteView(data, size));
  if (!reply) {
    if (reply.error().code != fpx::ErrorCode::malformed) fail("refusal with an unexpected code", reply.error().describe());
    if (reply.error().message.empty()) fail("refusal without a message", "");
    return 0;
  }
  if (reply->hashes.size() > fpx::kMaxProofHashes) fail("a proof over the limit", std::to_string(reply->hashes.size()));
  if (reply->kind == ObserverReply::Kind::error && reply->error.code == fpx::ErrorCode::none) {
    fail("an error reply reads as success", reply->error.message);
  }
  const fpx::Bytes again = encode(*reply);
  if (again.empty()) return 0;
  auto decoded = fpx::decode_observer_reply(again);
  if (!decoded) fail("a re-encoded reply is refused", decoded.error().describe());
  if (!same(*reply, *decoded)) fail("a reply changed in a decode/encode round trip", "");
  return 0;
}
