// X.509 certificates of the exchange: one certificate binds who (CN), where
// (C), what role (an extended-key-usage OID) and which CURVE transport key (a
// custom extension) to an Ed25519 signing key. See certs/README.md.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fpx/ids.hpp"
#include "fpx/result.hpp"

typedef struct x509_st X509;

namespace fpx {

using CurvePublicKey = std::array<std::uint8_t, 32>;

// What a participant certificate says about its holder.
struct ParticipantInfo {
  ParticipantId id;
  CountryCode country;
  Role role = Role::observer;
  CurvePublicKey curve_public_key{};
  // The officer holding this certificate (oid::kOfficer); empty for the
  // participant's own certificate.
  std::string officer;
  std::int64_t not_before_ms = 0;
  std::int64_t not_after_ms = 0;
  std::string serial_hex;
};

// An immutable, shareable X.509 certificate (reference-counted by OpenSSL).
class Certificate {
 public:
  static Result<Certificate> from_der(ByteView der);
  // Shares an OpenSSL certificate (takes a new reference to it).
  static Certificate share(X509* cert);
  // Every certificate in a PEM file, in file order.
  static Result<std::vector<Certificate>> load_pem_file(const std::filesystem::path& path);

  Certificate(const Certificate& other);
  Certificate& operator=(const Certificate& other);
  Certificate(Certificate&&) noexcept;
  Certificate& operator=(Certificate&&) noexcept;
  ~Certificate();

  X509* get() const { return cert_; }
  Bytes der() const;
  std::string pem() const;
  std::string subject_text() const;  // "C = SN, CN = sn.focal-point"
  std::string issuer_text() const;
  std::string serial_hex() const;
  bool is_ca() const;
  std::int64_t not_before_ms() const;
  std::int64_t not_after_ms() const;
  // The C= of the subject, if any.
  std::optional<CountryCode> subject_country() const;
  // The C= of a CA's permitted name constraint ("SN" for a national intermediate).
  std::optional<CountryCode> permitted_country() const;
  // The subject's Ed25519 public key; nullopt when the key is of another type.
  std::optional<std::array<std::uint8_t, 32>> ed25519_public_key() const;
  // Reads id, country, role and CURVE key. Errors: missing_extension, wrong_role.
  Result<ParticipantInfo> participant() const;

 private:
  explicit Certificate(X509* cert) : cert_(cert) {}
  X509* cert_ = nullptr;
};

std::int64_t now_ms();

}  // namespace fpx
