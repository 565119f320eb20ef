// Ed25519 against third-party vectors: the reference implementation's 1024
// vectors (Debian's python3-cryptography-vectors, always present) and
// Project Wycheproof's edge cases (../shared/vectors, present in CI).
// The vector files are read in place; they are never copied into the repo.
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "fpx/crypto.hpp"

namespace {

namespace fs = std::filesystem;

const fs::path kDebianSignInput = fs::path(FPX_DEBIAN_VECTORS) / "asymmetric" / "Ed25519" / "sign.input";
const fs::path kWycheproofEd25519 = fs::path(FPX_SHARED_VECTORS) / "wycheproof" / "ed25519_test.json";

constexpr std::size_t kDebianVectorCount = 1024;
// The snapshot has 151; a later upstream file may add some but not drop many.
constexpr std::size_t kMinWycheproofTests = 150;

struct SignVector {
  std::size_t line = 0;
  fpx::Bytes seed;        // first half of the reference "secret key"
  fpx::Bytes public_key;  // 32 bytes
  fpx::Bytes message;
  fpx::Bytes signature;   // 64 bytes
};

std::vector<std::string> split(std::string_view text, char separator) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    std::size_t end = text.find(separator, start);
    parts.emplace_back(text.substr(start, end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

fpx::Bytes hex_or_fail(std::string_view hex, std::size_t line) {
  auto bytes = fpx::from_hex(hex);
  if (!bytes) FAIL("line " << line << ": not hex: " << hex);
  return std::move(*bytes);
}

// Format (one vector a line, colon-separated hex, trailing colon):
//   secret key (seed 32 || public 32) : public key : message : signature 64 || message :
std::vector<SignVector> read_debian_vectors() {
  std::ifstream in(kDebianSignInput);
  if (!in) {
    FAIL("Debian's Ed25519 reference vectors are missing at " << kDebianSignInput.string()
                                                               << ": install python3-cryptography-vectors (apt)");
  }
  std::vector<SignVector> vectors;
  std::string text;
  std::size_t line = 0;
  while (std::getline(in, text)) {
    ++line;
    if (text.empty()) continue;
    auto fields = split(text, ':');
    if (fields.size() < 4) FAIL("line " << line << " has " << fields.size() << " fields, expected 4");
    SignVector vector;
    vector.line = line;
    fpx::Bytes secret = hex_or_fail(fields[0], line);
    fpx::Bytes signed_message = hex_or_fail(fields[3], line);
    vector.public_key = hex_or_fail(fields[1], line);
    vector.message = hex_or_fail(fields[2], line);
    if (secret.size() != 64 || vector.public_key.size() != fpx::kEd25519PublicKeySize ||
        signed_message.size() != fpx::kEd25519SignatureSize + vector.message.size()) {
      FAIL("line " << line << " has fields of unexpected sizes");
    }
    vector.seed.assign(secret.begin(), secret.begin() + 32);
    vector.signature.assign(signed_message.begin(), signed_message.begin() + fpx::kEd25519SignatureSize);
    vectors.push_back(std::move(vector));
  }
  return vectors;
}

fpx::Bytes with_bit_flipped(fpx::Bytes bytes, std::size_t bit) {
  bytes[bit / 8 % bytes.size()] ^= static_cast<std::uint8_t>(1u << (bit % 8));
  return bytes;
}

}  // namespace

TEST_CASE("Ed25519 signs and verifies all 1024 reference vectors exactly as the reference implementation does",
          "[crypto][ed25519][vectors]") {
  const auto vectors = read_debian_vectors();
  REQUIRE(vectors.size() == kDebianVectorCount);

  std::size_t checked = 0;
  for (const auto& vector : vectors) {
    INFO("sign.input line " << vector.line << ", message of " << vector.message.size() << " bytes");
    auto key = fpx::SigningKey::from_seed(vector.seed);
    REQUIRE(key.ok());
    const auto public_key = key->public_key();
    REQUIRE(fpx::Bytes(public_key.begin(), public_key.end()) == vector.public_key);

    const auto signature = key->sign(vector.message);
    REQUIRE(fpx::Bytes(signature.begin(), signature.end()) == vector.signature);

    REQUIRE(fpx::ed25519_verify(vector.public_key, vector.message, vector.signature));
    // A different bit each time, so that R, S and every message position get hit.
    REQUIRE_FALSE(fpx::ed25519_verify(vector.public_key, vector.message, with_bit_flipped(vector.signature, vector.line)));
    if (!vector.message.empty()) {
      REQUIRE_FALSE(
          fpx::ed25519_verify(vector.public_key, with_bit_flipped(vector.message, vector.line), vector.signature));
    }
    ++checked;
  }
  CHECK(checked == kDebianVectorCount);
}

TEST_CASE("Ed25519 verification accepts every valid and rejects every invalid Wycheproof vector",
          "[crypto][ed25519][vectors][wycheproof]") {
  std::ifstream in(kWycheproofEd25519);
  if (!in) {
    WARN("Wycheproof vectors not found at " << kWycheproofEd25519.string()
                                            << ": skipped (CI has them in ../shared/vectors)");
    SUCCEED("Wycheproof vectors skipped");
    return;
  }

  nlohmann::json document;
  try {
    document = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& error) {
    FAIL("cannot parse " << kWycheproofEd25519.string() << ": " << error.what());
  }
  REQUIRE(document.at("algorithm").get<std::string>() == "EDDSA");

  std::size_t valid = 0;
  std::size_t invalid = 0;
  std::size_t acceptable = 0;
  std::size_t acceptable_accepted = 0;
  for (const auto& group : document.at("testGroups")) {
    REQUIRE(group.at("type").get<std::string>() == "EddsaVerify");
    const std::string public_key_hex = group.at("publicKey").at("pk").get<std::string>();
    auto public_key = fpx::from_hex(public_key_hex);
    REQUIRE(public_key.has_value());
    for (const auto& test : group.at("tests")) {
      const int id = test.at("tcId").get<int>();
      const std::string result = test.at("result").get<std::string>();
      auto message = fpx::from_hex(test.at("msg").get<std::string>());
      auto signature = fpx::from_hex(test.at("sig").get<std::string>());
      INFO("tcId " << id << " (" << result << "): " << test.at("comment").get<std::string>());
      // Odd-length hex is a deliberate "invalid" case in some files; as bytes
      // it cannot be a signature, so it counts as rejected.
      const bool verified = message && signature && fpx::ed25519_verify(*public_key, *message, *signature);
      if (result == "valid") {
        CHECK(verified);
        ++valid;
      } else if (result == "invalid") {
        CHECK_FALSE(verified);
        ++invalid;
      } else {
        REQUIRE(result == "acceptable");
        ++acceptable;
        if (verified) ++acceptable_accepted;
      }
    }
  }
  const std::size_t total = valid + invalid + acceptable;
  WARN("Wycheproof Ed25519: " << total << " vectors (" << valid << " valid, " << invalid << " invalid, "
                              << acceptable << " acceptable of which " << acceptable_accepted << " accepted)");
  CHECK(total == document.at("numberOfTests").get<std::size_t>());
  REQUIRE(total >= kMinWycheproofTests);
}
