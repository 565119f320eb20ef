// Signed notes with many signatures, verifier keys, cosignature/v1 and the
// add-checkpoint request of c2sp.org/tlog-witness, with the witness's
// decision on it (protocol/signed_note.cpp, cosignature.cpp, witness_protocol.cpp).
#include "fpx/cosignature.hpp"

#include <array>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "fpx/crypto.hpp"
#include "fpx/signed_note.hpp"
#include "fpx/transparency_log.hpp"
#include "fpx/witness_protocol.hpp"

using namespace fpx;

namespace {

template <typename T>
T must(Result<T> result) {
  if (!result) FAIL(result.error().describe());
  return std::move(result).value();
}

template <typename T>
ErrorCode code_of(const Result<T>& result) {
  return result ? ErrorCode::none : result.error().code;
}

SigningKey key_from(std::uint8_t fill) {
  std::array<std::uint8_t, 32> seed{};
  seed.fill(fill);
  return must(SigningKey::from_seed(seed));
}

constexpr const char* kOrigin = "fpx.example/log";
const std::string kEmDash = "\xE2\x80\x94 ";

Sha256Digest leaf(int i) {
  const std::string data = "leaf " + std::to_string(i);
  return leaf_hash(as_bytes(data));
}

MemoryLog log_of(int leaves) {
  MemoryLog log;
  for (int i = 0; i < leaves; ++i) log.append(leaf(i));
  return log;
}

std::string checkpoint_of(MemoryLog& log, std::uint64_t size, const SigningKey& key) {
  return sign_checkpoint(kOrigin, size, must(root(log, size)), kOrigin, key);
}

std::string text_of(const std::string& note) {
  return note.substr(0, note.rfind("\n\n") + 1);
}

}  // namespace

// ---- signed notes ----

TEST_CASE("A note with several signature lines parses to its text and each line and formats back byte for byte") {
  const auto log_key = key_from(1);
  const auto witness = key_from(2);
  auto log = log_of(5);
  const auto note = checkpoint_of(log, 5, log_key);
  const auto line = cosign_checkpoint(text_of(note), "witness.example/w1", witness, 1700000000);
  const auto cosigned = must(add_note_signatures(note, std::vector<NoteSignature>{line}));
  const auto parsed = must(parse_signed_note(cosigned));
  CHECK(parsed.text == text_of(note));
  REQUIRE(parsed.signatures.size() == 2);
  CHECK(parsed.signatures[0].key_name == kOrigin);
  CHECK(parsed.signatures[0].key_id == note_key_id(kOrigin, log_key.public_key()));
  CHECK(parsed.signatures[1] == line);
  CHECK(format_signed_note(parsed) == cosigned);
  // Adding the same line again changes nothing.
  CHECK(must(add_note_signatures(cosigned, std::vector<NoteSignature>{line})) == cosigned);
}

TEST_CASE("Malformed signed notes are refused with a typed error and say what is wrong") {
  const auto log_key = key_from(1);
  auto log = log_of(3);
  const auto note = checkpoint_of(log, 3, log_key);
  const auto signature_line = note.substr(note.rfind("\n\n") + 2);
  const std::string text = text_of(note);

  SECTION("empty") {
    CHECK(code_of(parse_signed_note("")) == ErrorCode::malformed);
  }
  SECTION("no final newline") {
    CHECK(code_of(parse_signed_note(note.substr(0, note.size() - 1))) == ErrorCode::malformed);
  }
  SECTION("no blank line") {
    CHECK(code_of(parse_signed_note(text + signature_line)) == ErrorCode::malformed);
  }
  SECTION("no signature line") {
    CHECK(code_of(parse_signed_note(text + "\n")) == ErrorCode::malformed);
  }
  SECTION("empty text") {
    CHECK(code_of(parse_signed_note("\n" + signature_line)) == ErrorCode::malformed);
  }
  SECTION("a signature line without the em dash") {
    CHECK(code_of(parse_signed_note(text + "\n- x AAAAAAAA\n")) == ErrorCode::malformed);
  }
  SECTION("a signature line without its signature") {
    CHECK(code_of(parse_signed_note(text + "\n" + kEmDash + "name\n")) == ErrorCode::malformed);
  }
  SECTION("a key name with a plus") {
    CHECK(code_of(parse_signed_note(text + "\n" + kEmDash + "a+b AAAAAAAA\n")) == ErrorCode::malformed);
  }
  SECTION("a signature of only a key ID") {
    CHECK(code_of(parse_signed_note(text + "\n" + kEmDash + "name AAAAAA==\n")) == ErrorCode::malformed);
  }
  SECTION("base64 with stray padding bits") {
    CHECK(code_of(parse_signed_note(text + "\n" + kEmDash + "name AAAAAAAAAB==\n")) == ErrorCode::malformed);
  }
  SECTION("base64 with whitespace") {
    CHECK(code_of(parse_signed_note(text + "\n" + kEmDash + "name AAAA AAAA\n")) == ErrorCode::malformed);
  }
  SECTION("a control character in the text") {
    CHECK(code_of(parse_signed_note("a\tb\n\n" + signature_line)) == ErrorCode::malformed);
  }
  SECTION("invalid UTF-8") {
    CHECK(code_of(parse_signed_note("a\xC0\xAF\n\n" + signature_line)) == ErrorCode::malformed);
  }
  SECTION("a carriage return") {
    CHECK(code_of(parse_signed_note("a\r\n\n" + signature_line)) == ErrorCode::malformed);
  }
  SECTION("longer than the bound") {
    CHECK(code_of(parse_signed_note(std::string(kMaxSignedNoteBytes, 'a') + "\n\n" + signature_line)) ==
          ErrorCode::too_large);
  }
  SECTION("more signature lines than the bound") {
    std::string many = text + "\n";
    for (std::size_t i = 0; i <= kMaxNoteSignatures; ++i) many += signature_line;
    CHECK(code_of(parse_signed_note(many)) == ErrorCode::too_large);
  }
  SECTION("a signature longer than the bound") {
    const Bytes huge(kMaxNoteSignatureBytes + 8, 0x41);
    CHECK(code_of(parse_signed_note(text + "\n" + kEmDash + "name " + note_base64_encode(huge) + "\n")) ==
          ErrorCode::too_large);
  }
}

TEST_CASE("Verifier keys round trip and Go's documented vkey parses with its key ID") {
  const auto parsed = must(parse_verifier_key("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"));
  CHECK(parsed.name == "PeterNeumann");
  CHECK(parsed.type == NoteSignatureType::ed25519);
  CHECK(parsed.key_id() == 0xc74f20a3u);
  CHECK(format_verifier_key(parsed) == "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW");
  const auto witness = key_from(3);
  const WitnessKey key{"witness.example/w1", witness.public_key()};
  const auto vkey = format_verifier_key(key.verifier_key());
  CHECK(must(parse_witness_key(vkey)) == key);
  // The key ID of a cosigner uses type 0x04, not a note signer's 0x01.
  CHECK(key.key_id() != note_key_id(key.name, witness.public_key()));
}

TEST_CASE("Malformed verifier keys are refused as bad keys") {
  const std::string good = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
  SECTION("no plus") {
    CHECK(code_of(parse_verifier_key("PeterNeumann")) == ErrorCode::bad_key);
  }
  SECTION("one plus") {
    CHECK(code_of(parse_verifier_key("PeterNeumann+c74f20a3")) == ErrorCode::bad_key);
  }
  SECTION("wrong key ID") {
    CHECK(code_of(parse_verifier_key("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")) ==
          ErrorCode::bad_key);
  }
  SECTION("upper-case key ID") {
    CHECK(code_of(parse_verifier_key("PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")) ==
          ErrorCode::bad_key);
  }
  SECTION("another name") {
    CHECK(code_of(parse_verifier_key("PeterNeuman+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")) ==
          ErrorCode::bad_key);
  }
  SECTION("a short key") {
    CHECK(code_of(parse_verifier_key("PeterNeumann+c74f20a3+ARpc2Q==")) == ErrorCode::bad_key);
  }
  SECTION("an unknown type") {
    const auto key = key_from(4).public_key();
    const std::uint8_t type[1] = {0x02};
    const auto text = "n+00000000+" + note_base64_encode(concat({type, key}));
    CHECK(code_of(parse_verifier_key(text)) == ErrorCode::bad_key);
  }
  SECTION("a log key where a witness key is expected") {
    CHECK(code_of(parse_witness_key(good)) == ErrorCode::bad_key);
  }
}

// ---- cosignature/v1 ----

TEST_CASE("The spec's example cosignature line decodes to its key ID and its timestamp 1679315147") {
  // c2sp.org/tlog-cosignature: the example checkpoint's witness line, whose
  // timestamp is the one of the spec's example signed message.
  const std::string line =
      kEmDash +
      "witness.example.com/w1 "
      "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";
  const auto lines = must(parse_note_signature_lines(line));
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].key_name == "witness.example.com/w1");
  CHECK(lines[0].key_id == 0x8d66cf3fu);
  REQUIRE(lines[0].signature.size() == kCosignatureV1Size);
  std::uint64_t timestamp = 0;
  for (std::size_t i = 0; i < 8; ++i) timestamp = (timestamp << 8) | lines[0].signature[i];
  CHECK(timestamp == 1679315147u);
  CHECK(cosignature_v1_message("example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
                               1679315147) ==
        "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n"
        "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n");
}

TEST_CASE("A cosignature verifies with the witness key and not with another key or on another checkpoint") {
  const auto log_key = key_from(1);
  const auto witness = key_from(2);
  auto log = log_of(6);
  const auto text = text_of(checkpoint_of(log, 6, log_key));
  const WitnessKey key{"witness.example/w1", witness.public_key()};
  const auto line = cosign_checkpoint(text, key.name, witness, 1700000123);
  CHECK(line.key_id == key.key_id());
  CHECK(line.signature.size() == kCosignatureV1Size);
  CHECK(must(verify_cosignature(text, line, key)) == 1700000123u);

  const WitnessKey other{"witness.example/w1", key_from(5).public_key()};
  CHECK(code_of(verify_cosignature(text, line, other)) == ErrorCode::not_found);
  const WitnessKey renamed{"witness.example/w2", witness.public_key()};
  CHECK(code_of(verify_cosignature(text, line, renamed)) == ErrorCode::not_found);
  const auto other_text = text_of(checkpoint_of(log, 5, log_key));
  CHECK(code_of(verify_cosignature(other_text, line, key)) == ErrorCode::bad_signature);
  auto moved_time = line;
  moved_time.signature[7] ^= 1;
  CHECK(code_of(verify_cosignature(text, moved_time, key)) == ErrorCode::bad_signature);
  auto short_line = line;
  short_line.signature.pop_back();
  CHECK(code_of(verify_cosignature(text, short_line, key)) == ErrorCode::malformed);
  auto far_future = cosign_checkpoint(text, key.name, witness, 0);
  far_future.signature[0] = 0x80;  // above 2^63-1
  CHECK(code_of(verify_cosignature(text, far_future, key)) == ErrorCode::malformed);
}

TEST_CASE("verify_cosignatures says which of the trusted witnesses signed and whether k of n did") {
  const auto log_key = key_from(1);
  const auto w1 = key_from(11);
  const auto w2 = key_from(12);
  const auto w3 = key_from(13);
  const auto stranger = key_from(14);
  const std::vector<WitnessKey> trusted{
      {"w1.example", w1.public_key()}, {"w2.example", w2.public_key()}, {"w3.example", w3.public_key()}};
  auto log = log_of(9);
  const auto note = checkpoint_of(log, 9, log_key);
  const auto text = text_of(note);
  const std::vector<NoteSignature> lines{cosign_checkpoint(text, "w1.example", w1, 100),
                                         cosign_checkpoint(text, "w2.example", w2, 101),
                                         cosign_checkpoint(text, "stranger.example", stranger, 102)};
  const auto cosigned = must(add_note_signatures(note, lines));

  const auto report = must(verify_cosignatures(cosigned, trusted, 2));
  CHECK(report.quorum());
  REQUIRE(report.valid.size() == 2);
  CHECK(report.valid[0].witness == "w1.example");
  CHECK(report.valid[0].timestamp == 100u);
  CHECK(report.valid[1].witness == "w2.example");
  CHECK(report.missing == std::vector<std::string>{"w3.example"});
  CHECK(report.describe() == "2 of 2 required witnesses signed (w1.example, w2.example); no cosignature: w3.example");
  CHECK(must(require_cosignatures(cosigned, trusted, 2)).valid.size() == 2);

  auto three = require_cosignatures(cosigned, trusted, 3);
  REQUIRE(!three);
  CHECK(three.error().code == ErrorCode::bad_signature);
  CHECK_THAT(three.error().message, Catch::Contains("no cosignature: w3.example"));

  SECTION("a cosignature moved to another checkpoint counts as invalid") {
    const auto other = checkpoint_of(log, 8, log_key);
    const auto moved = must(add_note_signatures(other, lines));
    const auto moved_report = must(verify_cosignatures(moved, trusted, 1));
    CHECK(moved_report.valid.empty());
    CHECK(moved_report.invalid == std::vector<std::string>{"w1.example", "w2.example"});
    CHECK(!moved_report.quorum());
  }
  SECTION("an impossible policy is an invalid argument") {
    CHECK(code_of(verify_cosignatures(cosigned, trusted, 0)) == ErrorCode::invalid_argument);
    CHECK(code_of(verify_cosignatures(cosigned, trusted, 4)) == ErrorCode::invalid_argument);
    const std::vector<WitnessKey> twice{trusted[0], trusted[0]};
    CHECK(code_of(verify_cosignatures(cosigned, twice, 1)) == ErrorCode::invalid_argument);
  }
}

// ---- add-checkpoint ----

TEST_CASE("An add-checkpoint request formats and parses back to its old size proof and checkpoint") {
  const auto log_key = key_from(1);
  auto log = log_of(20);
  const AddCheckpointRequest request{7, must(consistency_proof(log, 7, 20)), checkpoint_of(log, 20, log_key)};
  const auto body = format_add_checkpoint(request);
  CHECK(body.rfind("old 7\n", 0) == 0);
  CHECK(must(parse_add_checkpoint(body)) == request);
  const AddCheckpointRequest first{0, {}, checkpoint_of(log, 3, log_key)};
  CHECK(format_add_checkpoint(first).rfind("old 0\n\n", 0) == 0);
  CHECK(must(parse_add_checkpoint(format_add_checkpoint(first))) == first);
}

TEST_CASE("Malformed add-checkpoint bodies are refused as malformed") {
  const auto log_key = key_from(1);
  auto log = log_of(4);
  const auto note = checkpoint_of(log, 4, log_key);
  const auto hash = note_base64_encode(leaf(1));
  SECTION("empty") {
    CHECK(code_of(parse_add_checkpoint("")) == ErrorCode::malformed);
  }
  SECTION("no old line") {
    CHECK(code_of(parse_add_checkpoint("\n" + note)) == ErrorCode::malformed);
  }
  SECTION("a leading zero") {
    CHECK(code_of(parse_add_checkpoint("old 01\n\n" + note)) == ErrorCode::malformed);
  }
  SECTION("a negative size") {
    CHECK(code_of(parse_add_checkpoint("old -1\n\n" + note)) == ErrorCode::malformed);
  }
  SECTION("a size beyond 64 bits") {
    CHECK(code_of(parse_add_checkpoint("old 18446744073709551616\n\n" + note)) == ErrorCode::malformed);
  }
  SECTION("two spaces") {
    CHECK(code_of(parse_add_checkpoint("old  1\n\n" + note)) == ErrorCode::malformed);
  }
  SECTION("a proof line that is not a hash") {
    CHECK(code_of(parse_add_checkpoint("old 1\nAAAA\n\n" + note)) == ErrorCode::malformed);
  }
  SECTION("no empty line") {
    CHECK(code_of(parse_add_checkpoint("old 1\n" + hash + "\n")) == ErrorCode::malformed);
  }
  SECTION("no checkpoint") {
    CHECK(code_of(parse_add_checkpoint("old 1\n\n")) == ErrorCode::malformed);
  }
  SECTION("64 proof lines") {
    std::string body = "old 1\n";
    for (int i = 0; i < 64; ++i) body += hash + "\n";
    CHECK(code_of(parse_add_checkpoint(body + "\n" + note)) == ErrorCode::malformed);
  }
  SECTION("longer than the bound") {
    CHECK(code_of(parse_add_checkpoint("old 1\n\n" + std::string(kMaxAddCheckpointBytes, 'a'))) ==
          ErrorCode::too_large);
  }
}

TEST_CASE("The witness decides each add-checkpoint as tlog-witness says") {
  const auto log_key = key_from(1);
  const std::vector<WitnessedLog> logs{{kOrigin, {kOrigin, NoteSignatureType::ed25519, log_key.public_key()}}};
  auto log = log_of(30);
  const auto at = [&](std::uint64_t size) {
    return WitnessedCheckpoint{size, must(root(log, size)), checkpoint_of(log, size, log_key)};
  };
  const auto verdict = [&](const AddCheckpointRequest& request, const std::optional<WitnessedCheckpoint>& state) {
    return judge_add_checkpoint(request, logs, state).verdict;
  };

  SECTION("the first checkpoint of a log with old size 0 and no proof is cosigned") {
    const auto decision = judge_add_checkpoint({0, {}, checkpoint_of(log, 10, log_key)}, logs, std::nullopt);
    CHECK(decision.verdict == WitnessVerdict::cosign);
    CHECK(decision.checkpoint.size == 10u);
    CHECK(decision.checkpoint_text == text_of(checkpoint_of(log, 10, log_key)));
  }
  SECTION("a consistent checkpoint from the recorded size is cosigned") {
    CHECK(verdict({10, must(consistency_proof(log, 10, 30)), checkpoint_of(log, 30, log_key)}, at(10)) ==
          WitnessVerdict::cosign);
  }
  SECTION("the recorded checkpoint again with an empty proof is cosigned") {
    CHECK(verdict({10, {}, checkpoint_of(log, 10, log_key)}, at(10)) == WitnessVerdict::cosign);
  }
  SECTION("a stale old size is a conflict that names the recorded size") {
    const auto decision =
        judge_add_checkpoint({5, must(consistency_proof(log, 5, 30)), checkpoint_of(log, 30, log_key)}, logs, at(10));
    CHECK(decision.verdict == WitnessVerdict::old_size_conflict);
    CHECK(decision.recorded_size == 10u);
    CHECK(http_status_of(decision.verdict) == 409);
  }
  SECTION("an old size above the checkpoint's is malformed") {
    CHECK(verdict({20, {}, checkpoint_of(log, 10, log_key)}, at(20)) == WitnessVerdict::malformed);
  }
  SECTION("a proof that does not verify is unprocessable") {
    auto proof = must(consistency_proof(log, 10, 30));
    proof[0][0] ^= 1;
    CHECK(verdict({10, proof, checkpoint_of(log, 30, log_key)}, at(10)) == WitnessVerdict::bad_proof);
    CHECK(http_status_of(WitnessVerdict::bad_proof) == 422);
  }
  SECTION("a forked checkpoint of a larger size fails its proof") {
    MemoryLog fork;
    for (int i = 0; i < 30; ++i) fork.append(i == 3 ? leaf(1000) : leaf(i));
    CHECK(verdict({10, must(consistency_proof(fork, 10, 30)), checkpoint_of(fork, 30, log_key)}, at(10)) ==
          WitnessVerdict::bad_proof);
  }
  SECTION("another root at the recorded size is a root conflict") {
    MemoryLog fork;
    for (int i = 0; i < 10; ++i) fork.append(i == 3 ? leaf(1000) : leaf(i));
    CHECK(verdict({10, {}, checkpoint_of(fork, 10, log_key)}, at(10)) == WitnessVerdict::root_conflict);
  }
  SECTION("an unknown origin is not found") {
    const auto other = sign_checkpoint("other.example/log", 3, must(root(log, 3)), "other.example/log", log_key);
    CHECK(verdict({0, {}, other}, std::nullopt) == WitnessVerdict::unknown_origin);
    CHECK(http_status_of(WitnessVerdict::unknown_origin) == 404);
  }
  SECTION("a checkpoint signed by another key is forbidden") {
    CHECK(verdict({0, {}, checkpoint_of(log, 3, key_from(9))}, std::nullopt) == WitnessVerdict::bad_log_signature);
    CHECK(http_status_of(WitnessVerdict::bad_log_signature) == 403);
  }
  SECTION("a proof with old size 0 must be empty") {
    CHECK(verdict({0, {leaf(1)}, checkpoint_of(log, 3, log_key)}, std::nullopt) == WitnessVerdict::bad_proof);
  }
}
