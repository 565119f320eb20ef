// A participant's own identity, as fpx-ca writes it to a directory:
//   chain.pem          leaf certificate, then any intermediate (never the root)
//   signing-key.pem    Ed25519 private key, PKCS#8 PEM (optionally encrypted), mode 0600
//   curve-secret.key   CURVE secret key, Z85 (40 characters), mode 0600
//   curve-public.key   CURVE public key, Z85 (also inside the certificate)
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "fpx/certificate.hpp"
#include "fpx/crypto.hpp"

namespace fpx {

inline constexpr const char* kChainFile = "chain.pem";
inline constexpr const char* kSigningKeyFile = "signing-key.pem";
inline constexpr const char* kCurveSecretFile = "curve-secret.key";
inline constexpr const char* kCurvePublicFile = "curve-public.key";

struct CurveKeyPair {
  CurvePublicKey public_key{};
  std::array<std::uint8_t, 32> secret_key{};
  static Result<CurveKeyPair> generate();
  // Derives the public half (X25519) from a secret key.
  static Result<CurveKeyPair> from_secret(ByteView secret32);
};

std::string z85_encode(ByteView bytes32);
std::optional<std::array<std::uint8_t, 32>> z85_decode_key(std::string_view text);

class Identity {
 public:
  // Checks that the signing key and the CURVE key belong to the certificate.
  static Result<Identity> load(const std::filesystem::path& dir, const PassphraseSource& passphrase);

  const ParticipantInfo& participant() const { return participant_; }
  const std::vector<Certificate>& chain() const { return chain_; }
  const SigningKey& signing_key() const { return signing_key_; }
  const CurveKeyPair& curve() const { return curve_; }

 private:
  Identity(std::vector<Certificate> chain, ParticipantInfo participant, SigningKey key, CurveKeyPair curve)
      : chain_(std::move(chain)), participant_(std::move(participant)),
        signing_key_(std::move(key)), curve_(curve) {}
  std::vector<Certificate> chain_;
  ParticipantInfo participant_;
  SigningKey signing_key_;
  CurveKeyPair curve_;
};

}  // namespace fpx
