// Who may connect and sign: the enrolled participants, read from a directory
// of certificate chains (chain.pem files as fpx-ca writes them, any file name
// ending in .pem). A certificate counts only if it chains to the root and is
// not revoked now (TrustStore: role limited by issuer, id tied to country,
// Ed25519 only). A participant may hold several certificates: a renewal
// beside the old one, and one per officer (same CN and C, the officer
// extension naming the officer, each with its own signing and CURVE keys).
//
// Ownership rules (issue 11), each refused with a clear warning and an
// EnrollmentRefusal, never by "first file wins":
//  - every certificate of one id agrees on role and country;
//  - a CURVE key and a signing key belong to one holder (id and officer):
//    a certificate carrying another holder's key is refused;
//  - at reload (SIGHUP) what was enrolled before keeps its claims and the
//    newcomer is refused; at first load both sides of an ambiguous claim
//    are refused, so the operator settles it rather than the file order.
#pragma once

#include <filesystem>
#include <map>
#include <set>
#include <optional>
#include <string>
#include <vector>

#include "fpx/certificate.hpp"
#include "fpx/crypto.hpp"
#include "fpx/trust_store.hpp"

namespace fpx::broker {

struct EnrolledParticipant {
  ParticipantId id;
  CountryCode country;
  Role role = Role::observer;
};

// One enrolled certificate: a participant's own, a renewal beside it, or one
// of its officers'. A message's signer must be one of these (same signing key).
struct EnrolledCertificate {
  ParticipantId id;
  CountryCode country;
  Role role = Role::observer;
  std::string officer;  // empty: the participant's own certificate
  Ed25519PublicKey signing_key{};
  CurvePublicKey curve_key{};
  std::string serial_hex;
  std::int64_t not_after_ms = 0;
};

// A certificate file that was not enrolled, and why: logged as a warning and
// written to the audit table (stage "enrol", principal = the id it claims).
struct EnrollmentRefusal {
  std::filesystem::path file;
  std::string claimed_id;  // the certificate's CN; empty when unreadable
  ErrorCode code = ErrorCode::invalid_argument;
  std::string message;  // what is wrong and what to do next
};

class Enrollment {
 public:
  // First load: files that do not verify are skipped and reported, so one
  // bad file does not lock every participant out; both sides of an
  // ambiguous claim (an id with two roles or countries, a key with two
  // holders) are refused.
  static Result<Enrollment> load(const std::filesystem::path& dir, TrustStore& trust, std::int64_t now_ms);
  // Reload (SIGHUP): as load, but an id keeps the role and country it was
  // enrolled with, and a key the holder it was enrolled for: a certificate
  // contradicting this enrolment is refused and this one's claim stands.
  // Revoked and expired certificates drop out.
  Result<Enrollment> reload(const std::filesystem::path& dir, TrustStore& trust, std::int64_t now_ms) const;

  const EnrolledParticipant* by_curve_key(const CurvePublicKey& key) const;
  // The certificate whose CURVE key this is: which officer holds a session.
  const EnrolledCertificate* certificate_by_curve_key(const CurvePublicKey& key) const;
  // The certificate whose Ed25519 signing key this is: who may sign with it.
  const EnrolledCertificate* certificate_by_signing_key(const Ed25519PublicKey& key) const;
  // Ok when `signer` (a verified leaf's claims) with `signing_key` is a
  // certificate enrolled for participant `principal`: same key, id, role,
  // country and officer. Else signer_mismatch (not an enrolled key of
  // `principal`) or wrong_role (an enrolled key in a certificate claiming
  // another role or country), with what to do next.
  Status check_signer(const ParticipantId& principal, const ParticipantInfo& signer,
                      const Ed25519PublicKey& signing_key) const;
  const EnrolledParticipant* by_id(const ParticipantId& id) const;
  // Every enrolled certificate of `id` (its own, renewals, officers').
  std::vector<const EnrolledCertificate*> certificates_of(const ParticipantId& id) const;
  // Every enrolled participant of `role` in `country`.
  std::vector<ParticipantId> of_country(const CountryCode& country, Role role) const;
  std::vector<CountryCode> countries() const;
  // Everything worth an operator's attention, refusals included, as text.
  const std::vector<std::string>& warnings() const { return warnings_; }
  const std::vector<EnrollmentRefusal>& refusals() const { return refusals_; }
  std::size_t size() const { return by_id_.size(); }

 private:
  // Countries with an enrolled certificate from a national CA of their own:
  // the root's certificates for their focal points and agencies are refused.
  std::set<CountryCode> national_ca_countries_;
  static Result<Enrollment> read(const std::filesystem::path& dir, TrustStore& trust, std::int64_t now_ms,
                                 const Enrollment* previous);
  void refuse(EnrollmentRefusal refusal);

  std::map<ParticipantId, EnrolledParticipant> by_id_;
  std::multimap<ParticipantId, EnrolledCertificate> certificates_;
  std::map<CurvePublicKey, EnrolledCertificate> certificate_by_curve_key_;
  std::map<Ed25519PublicKey, EnrolledCertificate> certificate_by_signing_key_;
  std::vector<std::string> warnings_;
  std::vector<EnrollmentRefusal> refusals_;
};

}  // namespace fpx::broker
