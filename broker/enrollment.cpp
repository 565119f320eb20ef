#include "fpx/broker/enrollment.hpp"

#include <algorithm>
#include <set>

namespace fpx::broker {

Result<Enrollment> Enrollment::load(const std::filesystem::path& dir, TrustStore& trust, std::int64_t now_ms) {
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
  for (const auto& file : files) {
    auto chain = Certificate::load_pem_file(file);
    if (!chain) {
      enrollment.warnings_.push_back(file.string() + ": " + chain.error().message);
      continue;
    }
    std::vector<Bytes> der;
    for (const auto& certificate : *chain) der.push_back(certificate.der());
    std::vector<ByteView> views(der.begin(), der.end());
    auto verified = trust.verify_chain(views, now_ms, now_ms, RevocationCheck::required);
    if (!verified) {
      enrollment.warnings_.push_back(file.string() + ": not enrolled: " + verified.error().describe());
      continue;
    }
    const ParticipantInfo& info = verified->participant;
    auto existing = enrollment.by_id_.find(info.id);
    if (existing != enrollment.by_id_.end() &&
        (existing->second.role != info.role || existing->second.country != info.country)) {
      enrollment.warnings_.push_back(file.string() + ": " + info.id.str() +
                                     " is enrolled already with another role or country; skipped");
      continue;
    }
    enrollment.by_id_[info.id] = EnrolledParticipant{info.id, info.country, info.role};
    enrollment.by_curve_key_[info.curve_public_key] = info.id;
    EnrolledCertificate certificate{info.id,          info.country, info.role,        info.officer, {},
                                    info.curve_public_key, info.serial_hex, info.not_after_ms};
    if (auto key = verified->leaf->ed25519_public_key()) certificate.signing_key = *key;
    enrollment.certificate_by_curve_key_[info.curve_public_key] = std::move(certificate);
  }
  return enrollment;
}

const EnrolledParticipant* Enrollment::by_curve_key(const CurvePublicKey& key) const {
  auto found = by_curve_key_.find(key);
  return found == by_curve_key_.end() ? nullptr : by_id(found->second);
}

const EnrolledCertificate* Enrollment::certificate_by_curve_key(const CurvePublicKey& key) const {
  auto found = certificate_by_curve_key_.find(key);
  return found == certificate_by_curve_key_.end() ? nullptr : &found->second;
}

const EnrolledParticipant* Enrollment::by_id(const ParticipantId& id) const {
  auto found = by_id_.find(id);
  return found == by_id_.end() ? nullptr : &found->second;
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
