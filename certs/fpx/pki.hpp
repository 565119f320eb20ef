// Issuing side of the exchange's PKI, used by the fpx-ca tool and by tests
// that build a PKI at test time. Certificates are Ed25519 throughout.
//
// Profile (see certs/README.md):
//  - root:          CN=<name>, CA:TRUE, keyCertSign+cRLSign
//  - intermediate:  C=<cc>, CN=<cc> national CA, CA:TRUE pathlen:0,
//                   name constraint permitted dirName C=<cc> (so it may only
//                   issue for its own country; leaf subjects begin with C=)
//  - participant:   C=<cc>, CN=<participant id>, CA:FALSE, digitalSignature,
//                   extendedKeyUsage = the role OID, the CURVE public key
//                   extension (non-critical), subjectKeyIdentifier and
//                   authorityKeyIdentifier.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fpx/certificate.hpp"
#include "fpx/crypto.hpp"

namespace fpx::pki {

struct Validity {
  std::int64_t not_before_ms = 0;
  std::int64_t not_after_ms = 0;
  // From now (minus a minute of clock skew) for the given number of days.
  static Validity days_from_now(int days);
};

struct ParticipantRequest {
  ParticipantId id;
  CountryCode country;
  Role role = Role::agency;
  Ed25519PublicKey signing_public_key{};
  // nullopt leaves the CURVE extension out: only tests want that.
  std::optional<CurvePublicKey> curve_public_key;
  // An officer's certificate under the participant (oid::kOfficer); nullopt: the participant's own.
  std::optional<std::string> officer;
  Validity validity;
};

// Tests must be able to mint what a well-behaved CA refuses (another country,
// a role a national CA may not issue, an id of another country), to prove the
// verifier refuses it too.
enum class CountryCheck { enforce, skip_for_testing };

struct RevokedEntry {
  std::string serial_hex;
  std::int64_t revoked_at_ms = 0;
};

// A certificate authority held in memory: its certificate and private key.
class Authority {
 public:
  static Result<Authority> create_root(const std::string& common_name, SigningKey key, const Validity& validity);

  // A national intermediate for `country`, signed by this authority.
  Result<Authority> create_intermediate(const CountryCode& country, SigningKey key, const Validity& validity) const;

  // A national CA's certificate for a public key whose private half stays
  // with that state (its request, fpx::parse_certificate_request).
  Result<Certificate> sign_intermediate(const CountryCode& country, const Ed25519PublicKey& public_key,
                                        const Validity& validity) const;

  // True when this CA signed `certificate` (issuer name and signature).
  bool issued(const Certificate& certificate) const;

  // Refuses (invalid_argument) a country this CA may not issue for, unless told to skip.
  Result<Certificate> issue(const ParticipantRequest& request, CountryCheck check = CountryCheck::enforce) const;

  // A CRL listing `revoked`, valid from this_update to next_update, PEM.
  Result<std::string> make_crl_pem(const std::vector<RevokedEntry>& revoked, std::int64_t this_update_ms,
                                   std::int64_t next_update_ms, std::uint64_t crl_number) const;

  const Certificate& certificate() const { return certificate_; }
  const SigningKey& key() const { return key_; }
  // The country this CA is limited to (intermediates), nullopt for the root.
  std::optional<CountryCode> country() const { return certificate_.permitted_country(); }

  Authority(Certificate certificate, SigningKey key) : certificate_(std::move(certificate)), key_(std::move(key)) {}

 private:
  Certificate certificate_;
  SigningKey key_;
};

// True when `issuer`'s key signed `certificate` and the names chain.
bool is_issued_by(const Certificate& issuer, const Certificate& certificate);

// A CRL's nextUpdate (PEM), so renewal can re-issue only CRLs about to expire.
Result<std::int64_t> crl_next_update_ms(const std::string& pem);

}  // namespace fpx::pki
