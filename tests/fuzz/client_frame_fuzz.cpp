// libFuzzer target for decode_client_frame: the broker's first look at every
// frame a participant sends, before any identity or signature check.
//
// Besides "no crash, no leak", it checks what the loop relies on: a refusal
// has a wire-mappable code and a message (and encodes as an error reply);
// an accepted frame obeys the decoder's own limits and survives a round trip
// through the same codec's encoder unchanged (protocol/client_frames.cpp).
//
// The same function also runs under g++ as the ctest replay_client_frame_corpus.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fpx/frames.hpp"

namespace {

using fpx::ClientRequest;

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "client_frame_fuzz: %s: %s\n", what, detail.c_str());
  std::abort();
}

bool same(const ClientRequest& a, const ClientRequest& b) {
  return a.request_id == b.request_id && a.kind == b.kind && a.envelope == b.envelope &&
         a.delivery_ids == b.delivery_ids && a.status_of.has_value() == b.status_of.has_value() &&
         (!a.status_of || a.status_of->bytes == b.status_of->bytes);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) { return 0; }

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto request = fpx::decode_client_frame(fpx::ByteView(data, size));
  if (!request) {
    const fpx::Error& error = request.error();
    if (error.message.empty()) fail("refusal without a message", error.describe());
    if (error.code != fpx::ErrorCode::malformed && error.code != fpx::ErrorCode::too_large &&
        error.code != fpx::ErrorCode::unsupported_version) {
      fail("refusal with an unexpected code", error.describe());
    }
    // The broker answers every refusal: the reply must be buildable from any message text.
    if (fpx::encode_error(0, error, std::nullopt).empty()) fail("empty error reply", error.describe());
    return 0;
  }
  if (request->delivery_ids.size() > fpx::kMaxConfirmIds) fail("confirm list over the limit", std::to_string(request->delivery_ids.size()));
  if (request->kind == ClientRequest::Kind::status && !request->status_of) fail("status without a message id", "");

  const fpx::Bytes again = fpx::encode_client_frame(*request);
  auto decoded = fpx::decode_client_frame(again);
  if (!decoded) fail("a re-encoded frame is refused", decoded.error().describe());
  if (!same(*request, *decoded)) fail("a frame changed in a decode/encode round trip", "");
  return 0;
}
