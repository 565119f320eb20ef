// libFuzzer target for decode_observer_request: what the broker's observer
// endpoint reads from every frame an observer sends.
//
// Checks: a refusal has a message and the code the endpoint answers with; an
// accepted request survives a round trip through a freshly built
// ObserverRequest unchanged.
//
// The same function also runs under g++ as the ctest replay_observer_request_corpus.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fpx/frames.hpp"

namespace {

using fpx::ObserverQuery;

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "observer_request_fuzz: %s: %s\n", what, detail.c_str());
  std::abort();
}

// A newer protocol's request has nothing of ours to rebuild it with.
fpx::Bytes encode(const ObserverQuery& query) {
  if (query.kind == ObserverQuery::Kind::unknown) return {};
  return fpx::encode_observer_request(query);
}

bool same(const ObserverQuery& a, const ObserverQuery& b) {
  return a.request_id == b.request_id && a.kind == b.kind && a.from_sequence == b.from_sequence &&
         a.max_records == b.max_records && a.leaf_index == b.leaf_index && a.tree_size == b.tree_size &&
         a.first_tree_size == b.first_tree_size && a.second_tree_size == b.second_tree_size;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) { return 0; }

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto query = fpx::decode_observer_request(fpx::ByteView(data, size));
  if (!query) {
    const fpx::Error& error = query.error();
    if (error.message.empty()) fail("refusal without a message", error.describe());
    if (error.code != fpx::ErrorCode::malformed && error.code != fpx::ErrorCode::too_large) {
      fail("refusal with an unexpected code", error.describe());
    }
    return 0;
  }
  if (size > fpx::kMaxObserverRequestBytes) fail("an oversized request was accepted", std::to_string(size));
  const fpx::Bytes again = encode(*query);
  if (again.empty()) return 0;
  auto decoded = fpx::decode_observer_request(again);
  if (!decoded) fail("a re-encoded request is refused", decoded.error().describe());
  if (!same(*query, *decoded)) fail("a request changed in a decode/encode round trip", "");
  return 0;
}
