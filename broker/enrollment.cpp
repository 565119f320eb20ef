#include "fpx/broker/enrollment.hpp"

#include <algorithm>
#include <set>

namespace fpx::broker {

namespace {

// A certificate that verified, before the ownership rules are applied.
struct Candidate {
  std::filesystem::path file;
  EnrolledCertificate certificate;
  bool refused = false;
  bool issued_by_root = false;
};

// Who holds a key: a participant, or one officer of it. Two certificates of
// one holder may share keys (a renewal that keeps them); of two holders never.
using Holder = std::pair<ParticipantId, std::string>;

Holder holder_of(const EnrolledCertificate& certificate) {
  return {certificate.id, certificate.officer};
}

std::string holder_text(const EnrolledCertificate& certificate) {
  return certificate.officer.empty() ? certificate.id.str()
                                     : certificate.id.str() + " (officer " + certificate.officer + ")";
}

std::string claim_text(Role role, const CountryCode& country) {
  return "role " + std::string(role_name(role)) + ", country " + country.str();
}

std::string claim_text(const EnrolledCertificate& certificate) {
  return claim_text(certificate.role, certificate.country);
}

std::string files_text(const std::vector<Candidate*>& group) {
  std::string text;
  for (const Candidate* candidate : group) {
    text.append(text.empty() ? "" : ", ").append(candidate->file.filename().string());
  }
  return text;
}

// The certificate's CN, for the audit row of a file that did not verify.
std::string claimed_id_of(const std::vector<Certificate>& chain) {
  if (chain.empty()) return {};
  auto info = chain.front().participant();
  return info ? info->id.str() : std::string();
}

}  // namespace

Result<Enrollment> Enrollment::load(const std::filesystem::path& dir, TrustStore& trust, std::int64_t now_ms) {
  return read(dir, trust, now_ms, nullptr);
}

Result<Enrollment> Enrollment::reload(const std::filesystem::path& dir, TrustStore& trust, std::int64_t now_ms) const {
  return read(dir, trust, now_ms, this);
}

void Enrollment::refuse(EnrollmentRefusal refusal) {
  warnings_.push_back(refusal.file.string() + ": not enrolled: " + std::string(error_code_name(refusal.code)) + ": " +
                      refusal.message);
  refusals_.push_back(std::move(refusal));
}

Result<Enrollment> Enrollment::read(const std::filesystem::path& dir, TrustStore& trust, std::int64_t now_ms,
                                    const Enrollment* previous) {
  std::error_code io_error;
  if (!std::filesystem::is_directory(dir, io_error)) {
    return make_error(ErrorCode::io_error, "enrolled participants directory " + dir.string() + " does not exist");
  }
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, io_error)) {
    if (entry.is_regular_file() && entry.path().extension() == ".pem") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());

  Enrollment enrollment;
  // 1. Every file on its own: does its chain verify now?
  std::vector<Candidate> candidates;
  std::map<std::string, std::filesystem::path> seen_serials;  // issuer and serial -> first file
  for (const auto& file : files) {
    auto chain = Certificate::load_pem_file(file);
    if (!chain || chain->empty()) {
      enrollment.refuse(
          {file,
           {},
           chain ? ErrorCode::malformed : chain.error().code,
           chain ? "the file holds no certificate: put the participant's chain.pem here" : chain.error().message});
      continue;
    }
    std::vector<Bytes> der;
    for (const auto& certificate : *chain) der.push_back(certificate.der());
    std::vector<ByteView> views(der.begin(), der.end());
    auto verified = trust.verify_chain(views, now_ms, now_ms, RevocationCheck::required);
    if (!verified) {
      enrollment.refuse({file, claimed_id_of(*chain), verified.error().code, verified.error().message});
      continue;
    }
    const Certificate& leaf = *verified->leaf;
    // The same certificate copied twice is one certificate, not a conflict.
    auto [first, fresh] = seen_serials.emplace(leaf.issuer_text() + "/" + leaf.serial_hex(), file);
    if (!fresh) {
      enrollment.warnings_.push_back(file.string() + ": the same certificate as " + first->second.string() +
                                     ": enrolled once; remove one of the two files");
      continue;
    }
    const ParticipantInfo& info = verified->participant;
    auto signing_key = leaf.ed25519_public_key();
    if (!signing_key) {  // the trust store refuses other keys: a bug if reached
      enrollment.refuse({file, info.id.str(), ErrorCode::bad_key, "the certificate holds no Ed25519 signing key"});
      continue;
    }
    candidates.push_back({file,
                          EnrolledCertificate{info.id, info.country, info.role, info.officer, *signing_key,
                                              info.curve_public_key, info.serial_hex, info.not_after_ms},
                          false, leaf.issuer_text() == trust.root().subject_text()});
  }

  // 1b. A state whose participants come from a national CA of its own is
  // vouched for by that CA alone: a focal-point or agency certificate the
  // root issued for it is what the operator (who holds the root key) would
  // make to sign as that state, and is refused. Remembered across reloads.
  if (previous != nullptr) enrollment.national_ca_countries_ = previous->national_ca_countries_;
  for (const auto& candidate : candidates) {
    if (!candidate.issued_by_root) enrollment.national_ca_countries_.insert(candidate.certificate.country);
  }
  for (auto& candidate : candidates) {
    const EnrolledCertificate& mine = candidate.certificate;
    if (candidate.issued_by_root && national_ca_may_issue(mine.role) &&
        enrollment.national_ca_countries_.contains(mine.country)) {
      candidate.refused = true;
      enrollment.refuse({candidate.file, mine.id.str(), ErrorCode::untrusted_chain,
                         mine.country.str() + " has a national CA of its own: a certificate of its " +
                             std::string(role_name(mine.role)) +
                             " issued by the root is not enrolled (the exchange's operator must not be able to "
                             "sign as a state); have " + mine.country.str() + "'s national CA sign the request"});
    }
  }

  // 2. At reload, what was enrolled before keeps its claims: an id its role
  // and country, a key its holder. The newcomer is refused, never the owner.
  if (previous != nullptr) {
    for (auto& candidate : candidates) {
      if (candidate.refused) continue;  // one refusal per file
      const EnrolledCertificate& mine = candidate.certificate;
      if (const EnrolledParticipant* enrolled = previous->by_id(mine.id);
          enrolled != nullptr && (enrolled->role != mine.role || enrolled->country != mine.country)) {
        candidate.refused = true;
        enrollment.refuse({candidate.file, mine.id.str(), ErrorCode::wrong_role,
                           mine.id.str() + " is enrolled with " + claim_text(enrolled->role, enrolled->country) +
                               "; this certificate claims " + claim_text(mine) +
                               ": an id keeps its role and country, so it is refused and the enrolment kept; "
                               "remove the file, or issue the certificate to another id"});
        continue;
      }
      const EnrolledCertificate* curve_owner = previous->certificate_by_curve_key(mine.curve_key);
      const EnrolledCertificate* signing_owner = previous->certificate_by_signing_key(mine.signing_key);
      for (const auto& [owner, what] : {std::pair{curve_owner, "CURVE key"}, std::pair{signing_owner, "signing key"}}) {
        if (candidate.refused || owner == nullptr || holder_of(*owner) == holder_of(mine)) continue;
        candidate.refused = true;
        enrollment.refuse({candidate.file, mine.id.str(), ErrorCode::unauthorized,
                           "the certificate of " + holder_text(mine) + " carries the " + what + " enrolled for " +
                               holder_text(*owner) + ": a key belongs to one holder, so it is refused and " +
                               holder_text(*owner) + " keeps it; the holder must make keys of its own"});
      }
    }
  }

  // 3. Among what is left, an ambiguous claim refuses every side of it.
  std::map<ParticipantId, std::vector<Candidate*>> by_id;
  std::map<CurvePublicKey, std::vector<Candidate*>> by_curve;
  std::map<Ed25519PublicKey, std::vector<Candidate*>> by_signing;
  for (auto& candidate : candidates) {
    if (candidate.refused) continue;
    by_id[candidate.certificate.id].push_back(&candidate);
    by_curve[candidate.certificate.curve_key].push_back(&candidate);
    by_signing[candidate.certificate.signing_key].push_back(&candidate);
  }
  std::vector<std::pair<Candidate*, EnrollmentRefusal>> ambiguous;
  for (auto& [id, group] : by_id) {
    std::set<std::pair<Role, CountryCode>> claims;
    for (const Candidate* candidate : group)
      claims.emplace(candidate->certificate.role, candidate->certificate.country);
    if (claims.size() < 2) continue;
    std::string claimed;
    for (const Candidate* candidate : group) {
      claimed.append(claimed.empty() ? "" : ", ")
          .append(claim_text(candidate->certificate))
          .append(" in ")
          .append(candidate->file.filename().string());
    }
    for (Candidate* candidate : group) {
      ambiguous.push_back({candidate,
                           {candidate->file, id.str(), ErrorCode::wrong_role,
                            id.str() + " is claimed with different roles or countries (" + claimed +
                                "): none of them is enrolled; remove the certificates that are wrong "
                                "and reload"}});
    }
  }
  auto key_conflicts = [&ambiguous](auto& groups, const char* what) {
    for (auto& [key, group] : groups) {
      std::set<Holder> holders;
      for (const Candidate* candidate : group) holders.insert(holder_of(candidate->certificate));
      if (holders.size() < 2) continue;
      for (Candidate* candidate : group) {
        ambiguous.push_back({candidate,
                             {candidate->file, candidate->certificate.id.str(), ErrorCode::unauthorized,
                              std::string("one ") + what + " in the certificates of " + std::to_string(holders.size()) +
                                  " holders (" + files_text(group) +
                                  "): a key belongs to one holder, so none of them is enrolled; remove "
                                  "the certificate that borrows another's key and reload"}});
      }
    }
  };
  key_conflicts(by_curve, "CURVE key");
  key_conflicts(by_signing, "signing key");
  for (auto& [candidate, refusal] : ambiguous) {
    if (candidate->refused) continue;  // one refusal per file: the first reason found
    candidate->refused = true;
    enrollment.refuse(std::move(refusal));
  }

  // 4. Enrol what stands.
  for (auto& candidate : candidates) {
    if (candidate.refused) continue;
    const EnrolledCertificate& certificate = candidate.certificate;
    enrollment.by_id_[certificate.id] = EnrolledParticipant{certificate.id, certificate.country, certificate.role};
    enrollment.certificates_.emplace(certificate.id, certificate);
    // A holder's renewal may keep its keys: the later-expiring certificate answers.
    auto& by_curve_entry = enrollment.certificate_by_curve_key_[certificate.curve_key];
    if (by_curve_entry.id.empty() || by_curve_entry.not_after_ms < certificate.not_after_ms) {
      by_curve_entry = certificate;
    }
    auto& by_signing_entry = enrollment.certificate_by_signing_key_[certificate.signing_key];
    if (by_signing_entry.id.empty() || by_signing_entry.not_after_ms < certificate.not_after_ms) {
      by_signing_entry = certificate;
    }
  }
  return enrollment;
}

const EnrolledParticipant* Enrollment::by_curve_key(const CurvePublicKey& key) const {
  const EnrolledCertificate* certificate = certificate_by_curve_key(key);
  return certificate == nullptr ? nullptr : by_id(certificate->id);
}

const EnrolledCertificate* Enrollment::certificate_by_curve_key(const CurvePublicKey& key) const {
  auto found = certificate_by_curve_key_.find(key);
  return found == certificate_by_curve_key_.end() ? nullptr : &found->second;
}

const EnrolledCertificate* Enrollment::certificate_by_signing_key(const Ed25519PublicKey& key) const {
  auto found = certificate_by_signing_key_.find(key);
  return found == certificate_by_signing_key_.end() ? nullptr : &found->second;
}

Status Enrollment::check_signer(const ParticipantId& principal, const ParticipantInfo& signer,
                                const Ed25519PublicKey& signing_key) const {
  const EnrolledCertificate* enrolled = certificate_by_signing_key(signing_key);
  if (enrolled == nullptr || enrolled->id != principal || enrolled->id != signer.id) {
    return make_error(ErrorCode::signer_mismatch,
                      "the message is signed with a certificate of " + signer.id.str() + " (serial " +
                          signer.serial_hex + ") whose key is not enrolled for " + principal.str() +
                          " at this exchange: sign with your enrolled certificate, or ask the operator to enrol "
                          "this one");
  }
  if (enrolled->role != signer.role || enrolled->country != signer.country) {
    return make_error(ErrorCode::wrong_role,
                      "the signing key of " + principal.str() + " is enrolled with " + claim_text(*enrolled) +
                          ", but the signing certificate (serial " + signer.serial_hex + ") claims " +
                          claim_text(signer.role, signer.country) + ": sign with the certificate enrolled for you");
  }
  if (enrolled->officer != signer.officer) {
    return make_error(ErrorCode::signer_mismatch,
                      "the signing key of " + holder_text(*enrolled) + " is presented in a certificate naming " +
                          (signer.officer.empty() ? std::string("no officer") : "officer " + signer.officer) +
                          ": sign with the certificate enrolled for you");
  }
  return {};
}

const EnrolledParticipant* Enrollment::by_id(const ParticipantId& id) const {
  auto found = by_id_.find(id);
  return found == by_id_.end() ? nullptr : &found->second;
}

std::vector<const EnrolledCertificate*> Enrollment::certificates_of(const ParticipantId& id) const {
  std::vector<const EnrolledCertificate*> found;
  for (auto [it, end] = certificates_.equal_range(id); it != end; ++it) found.push_back(&it->second);
  return found;
}

std::vector<ParticipantId> Enrollment::of_country(const CountryCode& country, Role role) const {
  std::vector<ParticipantId> ids;
  for (const auto& [id, participant] : by_id_) {
    if (participant.country == country && participant.role == role) ids.push_back(id);
  }
  return ids;
}

std::vector<CountryCode> Enrollment::countries() const {
  std::set<CountryCode> countries;
  for (const auto& [id, participant] : by_id_) {
    if (participant.role == Role::focal_point) countries.insert(participant.country);
  }
  return {countries.begin(), countries.end()};
}

}  // namespace fpx::broker
