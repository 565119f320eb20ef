// Hashes, randomness and Ed25519 through OpenSSL. No hand-written crypto.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <string>

#include "fpx/ids.hpp"
#include "fpx/result.hpp"

typedef struct evp_pkey_st EVP_PKEY;

namespace fpx {

Sha256Digest sha256(ByteView data);
// SHA-256 of the parts one after the other, without joining them first.
Sha256Digest sha256(std::initializer_list<ByteView> parts);
void random_bytes(std::span<std::uint8_t> out);

constexpr std::size_t kEd25519PublicKeySize = 32;
constexpr std::size_t kEd25519SignatureSize = 64;
using Ed25519PublicKey = std::array<std::uint8_t, kEd25519PublicKeySize>;
using Ed25519Signature = std::array<std::uint8_t, kEd25519SignatureSize>;

// Verifies an Ed25519 signature (RFC 8032, as OpenSSL implements it: rejects
// non-canonical S and small-order public keys as the test vectors expect).
bool ed25519_verify(ByteView public_key, ByteView message, ByteView signature);

// Verifies with an already parsed key (the public key of a certificate).
bool ed25519_verify(EVP_PKEY* public_key, ByteView message, ByteView signature);

// Where a private key's passphrase comes from. Never a command-line argument:
// arguments are visible to every user of the machine through /proc.
struct PassphraseSource {
  enum class Kind { none, file, environment };
  Kind kind = Kind::none;
  std::string where;  // file path or variable name

  static PassphraseSource from_file(std::string path) { return {Kind::file, std::move(path)}; }
  static PassphraseSource from_environment(std::string name) { return {Kind::environment, std::move(name)}; }
  Result<std::string> read() const;
};

// An Ed25519 private key. A resource: owned by one object, moved not copied.
class SigningKey {
 public:
  static Result<SigningKey> generate();
  static Result<SigningKey> from_seed(ByteView seed32);
  // PKCS#8 PEM, optionally encrypted (then a passphrase is required).
  static Result<SigningKey> load_pem(const std::filesystem::path& path, const PassphraseSource& passphrase);

  SigningKey(SigningKey&&) noexcept;
  SigningKey& operator=(SigningKey&&) noexcept;
  ~SigningKey();

  Ed25519Signature sign(ByteView message) const;
  Ed25519PublicKey public_key() const;
  // PKCS#8 PEM; encrypted with AES-256-CBC (scrypt-free PBKDF2) when a passphrase is given.
  Result<std::string> to_pem(const std::string& passphrase) const;
  EVP_PKEY* get() const { return key_; }

 private:
  explicit SigningKey(EVP_PKEY* key) : key_(key) {}
  EVP_PKEY* key_ = nullptr;
};

}  // namespace fpx
