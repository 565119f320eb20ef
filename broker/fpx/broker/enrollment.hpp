// Who may connect: the enrolled participants, read from a directory of
// certificate chains (chain.pem files as fpx-ca writes them, any file name
// ending in .pem). A certificate counts only if it chains to the root and is
// not revoked now; renewal adds a certificate for the same id, and both
// CURVE keys map to that id until one is revoked.
#pragma once

#include <filesystem>
#include <map>
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

class Enrollment {
 public:
  // Files that do not verify are skipped and reported in warnings(), so one
  // bad file does not lock every participant out.
  static Result<Enrollment> load(const std::filesystem::path& dir, TrustStore& trust, std::int64_t now_ms);

  const EnrolledParticipant* by_curve_key(const CurvePublicKey& key) const;
  // The certificate whose CURVE key this is: which officer holds a session.
  const EnrolledCertificate* certificate_by_curve_key(const CurvePublicKey& key) const;
  const EnrolledParticipant* by_id(const ParticipantId& id) const;
  // Every enrolled participant of `role` in `country`.
  std::vector<ParticipantId> of_country(const CountryCode& country, Role role) const;
  std::vector<CountryCode> countries() const;
  const std::vector<std::string>& warnings() const { return warnings_; }
  std::size_t size() const { return by_id_.size(); }

 private:
  std::map<ParticipantId, EnrolledParticipant> by_id_;
  std::map<CurvePublicKey, ParticipantId> by_curve_key_;
  std::map<CurvePublicKey, EnrolledCertificate> certificate_by_curve_key_;
  std::vector<std::string> warnings_;
};

}  // namespace fpx::broker
