// libFuzzer target for EnvelopeOpener::open, the first code that touches
// bytes from the network.
//
// Inputs are split by length so that no input is wasted:
//  - a whole number of 8-byte words: opened as an envelope (open() refuses
//    any other length before decoding, so only these reach Cap'n Proto);
//  - any other length (up to kMaxSealedText): used as text in a tracing
//    request that is sealed and opened again, which must succeed and give back the same text. This
//    keeps the success path (canonical checks, body parsing) under the
//    sanitizers too.
//
// The same function also runs under g++ as the ctest
// replay_open_envelope_corpus (see replay_corpus_main.cpp).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <capnp/message.h>

#include "fpx/envelope.hpp"
#include "fuzz_pki.hpp"

namespace {

// Far below kMaxEnvelopeBytes even though the text appears three times, so a
// refusal of the sealed envelope is always a bug, never a size limit.
constexpr std::size_t kMaxSealedText = 64 * 1024;

// The fuzz target's one-time state: building a PKI costs milliseconds, an
// input must cost microseconds. Function-local, so replay and libFuzzer
// share the code and it is built on first use.
struct FuzzState {
  fpx::fuzz::FuzzPki pki = fpx::fuzz::make_fuzz_pki();
  fpx::EnvelopeOpener opener{pki.trust};
};

FuzzState& state() {
  static FuzzState instance;
  return instance;
}

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "open_envelope_fuzz: %s: %s\n", what, detail.c_str());
  std::abort();
}

void open_untrusted(const std::uint8_t* data, std::size_t size) {
  auto opened = state().opener.open(fpx::ByteView(data, size));
  if (!opened) {
    // Every refusal must say why; an empty message would leave an operator blind.
    if (opened.error().message.empty()) fail("refusal without a message", opened.error().describe());
    return;
  }
  // Anything that opens was signed by our PKI: read it all to let the
  // sanitizers check that the readers outlive nothing they point into.
  auto header = opened->message.header();
  auto body = opened->message.body();
  (void)header.totalSize();
  (void)body.totalSize();
}

void seal_and_open(const std::uint8_t* data, std::size_t size) {
  // capnp::Text::Reader needs a NUL after the text; std::string provides it.
  const std::string text(reinterpret_cast<const char*>(data), size);
  FuzzState& fuzz = state();

  capnp::MallocMessageBuilder body_message;
  auto request = body_message.initRoot<fpx::wire::Body>().initTracingRequest();
  request.setRequestingCountry(fpx::fuzz::kFuzzCountry);
  request.setRequestingAgency(fpx::fuzz::kFuzzParticipant);
  request.setNationalCaseReference(capnp::Text::Reader(text.c_str(), text.size()));
  request.initFirearms(1)[0].setSerialNumber(capnp::Text::Reader(text.c_str(), text.size()));

  capnp::MallocMessageBuilder header_message;
  auto header = header_message.initRoot<fpx::wire::Header>();
  header.initRecipients(1)[0].setCountry("NE");
  header.setCaseReference(capnp::Text::Reader(text.c_str(), text.size()));

  auto sealed = fpx::seal_envelope(fuzz.pki.identity, header,
                                   body_message.getRoot<fpx::wire::Body>().asReader());
  if (!sealed) fail("seal refused a message we built", sealed.error().describe());

  auto opened = fuzz.opener.open(*sealed);
  if (!opened) fail("open refused an envelope we sealed", opened.error().describe());
  auto body = opened->message.body();
  if (!body.isTracingRequest()) fail("body type changed", "");
  auto reference = body.getTracingRequest().getNationalCaseReference();
  if (reference.size() != text.size() || std::memcmp(reference.begin(), text.data(), text.size()) != 0) {
    fail("body text changed in the round trip", text);
  }
  if (opened->message.header().getCaseReference() != capnp::Text::Reader(text.c_str(), text.size())) {
    fail("header text changed in the round trip", text);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  (void)state();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size % sizeof(capnp::word) != 0 && size <= kMaxSealedText) {
    seal_and_open(data, size);
  } else {
    open_untrusted(data, size);
  }
  return 0;
}
