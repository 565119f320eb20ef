// libFuzzer target for fpx::open_receipt (protocol/receipt.cpp), which every
// client runs on the broker's receipt and `fpx verify` on a receipt file.
//
// Inputs are split by length so that no input is wasted:
//  - a whole number of 8-byte words: opened as a SignedReceipt (open_receipt
//    refuses any other length before decoding, so only these reach Cap'n Proto);
//  - any other length: its bytes pick the size of a group (1 to 64) and the
//    leaf, the fuzz PKI's participant signs the group, and that receipt must
//    open with every field as built (then be refused for its role, last).
//
// The same function also runs under g++ as the ctest replay_receipt_corpus.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fpx/receipt.hpp"
#include "fuzz_pki.hpp"

namespace {

struct FuzzState {
  fpx::fuzz::FuzzPki pki = fpx::fuzz::make_fuzz_pki();
};

FuzzState& state() {
  static FuzzState instance;
  return instance;
}

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "receipt_fuzz: %s: %s\n", what, detail.c_str());
  std::abort();
}

void open_untrusted(const std::uint8_t* data, std::size_t size) {
  auto opened =
      fpx::open_receipt(state().pki.trust, fpx::ByteView(data, size), fpx::now_ms(), fpx::RevocationCheck::skip);
  // The fuzz PKI holds no broker: nothing can pass the role check.
  if (opened) fail("accepted", "a receipt not signed by a broker was accepted");
}

void build_and_open(const std::uint8_t* data, std::size_t size) {
  const std::size_t group_size = 1 + (size == 0 ? 0 : data[0] % 64);
  const std::size_t leaf = size < 2 ? 0 : data[1] % group_size;
  const fpx::Identity& signer = state().pki.identity;
  const std::int64_t now = fpx::now_ms();
  std::vector<fpx::Bytes> bodies;
  std::vector<fpx::Sha256Digest> leaves;
  for (std::size_t i = 0; i < group_size; ++i) {
    fpx::ReceiptBody body;
    body.message_id = fpx::MessageId::random();
    body.envelope_sha256 = fpx::sha256(fpx::ByteView(data, size));
    body.stored_at_ms = now;
    body.log_index = i;
    body.broker = signer.participant().id;
    bodies.push_back(fpx::encode_receipt_body(body));
    leaves.push_back(fpx::receipt_leaf_hash(bodies.back()));
  }
  auto group = fpx::SealedReceiptGroup::seal(leaves, now, signer.participant().id, signer.signing_key());
  if (!group) fail("seal", group.error().describe());
  std::vector<fpx::Bytes> chain;
  for (const auto& certificate : signer.chain()) chain.push_back(certificate.der());
  auto receipt = group->receipt_for(leaf, bodies[leaf], chain);
  if (!receipt) fail("receipt_for", receipt.error().describe());
  auto opened = fpx::open_receipt(state().pki.trust, *receipt, now, fpx::RevocationCheck::skip);
  if (opened || opened.error().code != fpx::ErrorCode::wrong_role) {
    fail("reopen", opened ? "accepted" : opened.error().describe());
  }
}

}  // namespace

// Builds the PKI before the first input, so that its cost is not charged to one.
extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  (void)state();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size % 8 == 0) {
    open_untrusted(data, size);
  } else {
    build_and_open(data, size);
  }
  return 0;
}
