// libFuzzer target for what a witness and its clients read from the network
// or from files others give them (issue 13): an add-checkpoint body judged
// against a recorded checkpoint, a signed note, signature lines, a vkey, and
// a split-view evidence file.
//
// The same function also runs under g++ as the ctest replay_witness_input_corpus.
#include <array>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>
#include <vector>

#include "fpx/cosignature.hpp"
#include "fpx/signed_note.hpp"
#include "fpx/split_view_evidence.hpp"
#include "fpx/transparency_log.hpp"
#include "fpx/witness_protocol.hpp"

namespace {

struct FuzzState {
  fpx::SigningKey log_key = [] {
    std::array<std::uint8_t, 32> seed{};
    seed.fill(7);
    return std::move(fpx::SigningKey::from_seed(seed)).value();
  }();
  std::vector<fpx::WitnessedLog> logs{
      {"fpx.exchange/log", {"fpx.exchange/log", fpx::NoteSignatureType::ed25519, log_key.public_key()}}};
  fpx::WitnessedCheckpoint recorded{3, fpx::empty_tree_root(), ""};
  std::vector<fpx::WitnessKey> witnesses{{"w.example", log_key.public_key()}};
};

FuzzState& state() {
  static FuzzState instance;
  return instance;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  state();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto& s = state();
  if (auto request = fpx::parse_add_checkpoint(text)) {
    const auto decision = fpx::judge_add_checkpoint(*request, s.logs, std::nullopt);
    const auto again = fpx::judge_add_checkpoint(*request, s.logs, s.recorded);
    // What was parsed formats back to a body that parses to the same request.
    auto reparsed = fpx::parse_add_checkpoint(fpx::format_add_checkpoint(*request));
    if (!reparsed || !(*reparsed == *request)) std::abort();
    if (decision.verdict == fpx::WitnessVerdict::cosign && again.verdict == fpx::WitnessVerdict::cosign &&
        decision.checkpoint.size != 3 && decision.checkpoint.size != 0) {
      std::abort();  // one request cannot extend both the empty tree and a tree of 3 without a proof
    }
  }
  if (auto note = fpx::parse_signed_note(text)) {
    if (fpx::format_signed_note(*note) != text) std::abort();  // one text per note
    (void)fpx::verify_cosignatures(text, s.witnesses, 1);
  }
  (void)fpx::parse_note_signature_lines(text);
  (void)fpx::parse_verifier_key(text);
  if (auto evidence = fpx::witness::evidence_from_json(text)) (void)fpx::witness::check_evidence(*evidence);
  return 0;
}
