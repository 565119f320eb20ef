// Enrolment (enrollment.cpp) on a real PKI made at test time: several
// certificates per participant (renewals, officers), one holder per key,
// one role and country per id, and reload keeping what was enrolled.
#include "fpx/broker/enrollment.hpp"

#include <catch2/catch.hpp>
#include <fstream>

#include "support/test_pki.hpp"

using namespace fpx;
using namespace fpx::broker;
using fpx::test::TestPki;

namespace {

template <typename T>
T must(Result<T> result) {
  if (!result) FAIL(result.error().describe());
  return std::move(result).value();
}

// A certificate for `id` as its holder would request it, with the keys given.
struct Holder {
  SigningKey key = must(SigningKey::generate());
  CurvePublicKey curve = must(CurveKeyPair::generate()).public_key;
};

Certificate issue(const pki::Authority& ca, const std::string& id, const std::string& country, Role role,
                  const Ed25519PublicKey& signing_key, const CurvePublicKey& curve_key,
                  std::optional<std::string> officer = std::nullopt) {
  pki::ParticipantRequest request;
  request.id = ParticipantId(id);
  request.country = CountryCode(country);
  request.role = role;
  request.signing_public_key = signing_key;
  request.curve_public_key = curve_key;
  request.officer = std::move(officer);
  request.validity = pki::Validity::days_from_now(30);
  return must(ca.issue(request));
}

class EnrolledDir {
 public:
  explicit EnrolledDir(TestPki& pki) : pki_(pki), dir_(pki.dir() / "enrolled") {
    std::filesystem::create_directories(dir_);
  }
  void put(const std::string& file, const Certificate& leaf, const pki::Authority& ca) {
    std::string chain = leaf.pem();
    if (ca.country()) chain += ca.certificate().pem();
    std::ofstream(dir_ / (file + ".pem"), std::ios::trunc) << chain;
  }
  void remove(const std::string& file) { std::filesystem::remove(dir_ / (file + ".pem")); }
  Enrollment load() {
    auto trust = trust_store();
    return must(Enrollment::load(dir_, *trust, now_ms()));
  }
  Enrollment reload(const Enrollment& previous) {
    auto trust = trust_store();
    return must(previous.reload(dir_, *trust, now_ms()));
  }

 private:
  std::unique_ptr<TrustStore> trust_store() { return std::make_unique<TrustStore>(pki_.trust_store()); }
  TestPki& pki_;
  std::filesystem::path dir_;
};

ParticipantInfo info_of(const Certificate& certificate) {
  return must(certificate.participant());
}

bool refused(const Enrollment& enrollment, const std::string& file, ErrorCode code) {
  for (const auto& refusal : enrollment.refusals()) {
    if (refusal.file.filename() == file + ".pem" && refusal.code == code) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("officers and a renewal are enrolled beside the participant's own certificate, each signing for it") {
  TestPki pki({"SN"});
  const auto& sn = pki.national_ca("SN");
  Holder own, renewed, amadou;
  const Certificate own_cert = issue(sn, "sn.douanes", "SN", Role::agency, own.key.public_key(), own.curve);
  const Certificate renewed_cert = issue(sn, "sn.douanes", "SN", Role::agency, renewed.key.public_key(), renewed.curve);
  const Certificate officer_cert =
      issue(sn, "sn.douanes", "SN", Role::agency, amadou.key.public_key(), amadou.curve, "amadou.sow");
  EnrolledDir dir(pki);
  dir.put("own", own_cert, sn);
  dir.put("renewed", renewed_cert, sn);
  dir.put("officer", officer_cert, sn);
  Enrollment enrollment = dir.load();
  CHECK(enrollment.refusals().empty());
  CHECK(enrollment.size() == 1);
  CHECK(enrollment.certificates_of(ParticipantId("sn.douanes")).size() == 3);
  for (const auto* holder : {&own, &renewed, &amadou}) {
    REQUIRE(enrollment.by_curve_key(holder->curve) != nullptr);
    CHECK(enrollment.by_curve_key(holder->curve)->id == ParticipantId("sn.douanes"));
  }
  CHECK(enrollment.certificate_by_curve_key(amadou.curve)->officer == "amadou.sow");
  CHECK(enrollment.certificate_by_curve_key(own.curve)->officer.empty());
  CHECK(enrollment.certificate_by_signing_key(amadou.key.public_key())->serial_hex == officer_cert.serial_hex());

  const ParticipantId douanes("sn.douanes");
  CHECK(enrollment.check_signer(douanes, info_of(own_cert), own.key.public_key()).ok());
  CHECK(enrollment.check_signer(douanes, info_of(renewed_cert), renewed.key.public_key()).ok());
  CHECK(enrollment.check_signer(douanes, info_of(officer_cert), amadou.key.public_key()).ok());

  // A certificate of the participant that is not enrolled: its key is unknown.
  Holder stranger;
  const Certificate unenrolled = issue(sn, "sn.douanes", "SN", Role::agency, stranger.key.public_key(), stranger.curve);
  auto not_enrolled = enrollment.check_signer(douanes, info_of(unenrolled), stranger.key.public_key());
  REQUIRE_FALSE(not_enrolled.ok());
  CHECK(not_enrolled.error().code == ErrorCode::signer_mismatch);
  // The enrolled key in a certificate claiming another role.
  const Certificate promoted = issue(sn, "sn.douanes", "SN", Role::focal_point, own.key.public_key(), own.curve);
  auto escalated = enrollment.check_signer(douanes, info_of(promoted), own.key.public_key());
  REQUIRE_FALSE(escalated.ok());
  CHECK(escalated.error().code == ErrorCode::wrong_role);
  // The enrolled key of one officer presented as another officer's.
  const Certificate renamed =
      issue(sn, "sn.douanes", "SN", Role::agency, amadou.key.public_key(), amadou.curve, "fatou.diop");
  auto other_officer = enrollment.check_signer(douanes, info_of(renamed), amadou.key.public_key());
  REQUIRE_FALSE(other_officer.ok());
  CHECK(other_officer.error().code == ErrorCode::signer_mismatch);
  // Another participant's enrolled key is never this one's.
  auto borrowed =
      enrollment.check_signer(ParticipantId("sn.police-judiciaire"), info_of(own_cert), own.key.public_key());
  REQUIRE_FALSE(borrowed.ok());
  CHECK(borrowed.error().code == ErrorCode::signer_mismatch);
}

TEST_CASE("a renewal that keeps its holder's keys is the same holder, not a conflict") {
  TestPki pki({"SN"});
  const auto& sn = pki.national_ca("SN");
  Holder holder;
  const Certificate first = issue(sn, "sn.douanes", "SN", Role::agency, holder.key.public_key(), holder.curve);
  const Certificate second = issue(sn, "sn.douanes", "SN", Role::agency, holder.key.public_key(), holder.curve);
  EnrolledDir dir(pki);
  dir.put("first", first, sn);
  dir.put("second", second, sn);
  dir.put("second-copy", second, sn);  // the same certificate twice: enrolled once
  Enrollment enrollment = dir.load();
  CHECK(enrollment.refusals().empty());
  CHECK(enrollment.certificates_of(ParticipantId("sn.douanes")).size() == 2);
  REQUIRE(enrollment.warnings().size() == 1);
  CHECK_THAT(enrollment.warnings().front(), Catch::Contains("the same certificate as"));
}

TEST_CASE("a key borrowed from another holder: refused at reload, both sides refused at first load") {
  TestPki pki({"SN"});
  const auto& sn = pki.national_ca("SN");
  Holder owner, borrower;
  const Certificate owned = issue(sn, "sn.douanes", "SN", Role::agency, owner.key.public_key(), owner.curve);
  EnrolledDir dir(pki);
  dir.put("sn.douanes", owned, sn);
  const Enrollment before = dir.load();

  SECTION("another participant's CURVE key") {
    dir.put("sn.impostor", issue(sn, "sn.impostor", "SN", Role::agency, borrower.key.public_key(), owner.curve), sn);
  }
  SECTION("another participant's signing key") {
    dir.put("sn.impostor", issue(sn, "sn.impostor", "SN", Role::agency, owner.key.public_key(), borrower.curve), sn);
  }
  SECTION("another officer's CURVE key under the same participant") {
    dir.put("sn.impostor",
            issue(sn, "sn.douanes", "SN", Role::agency, borrower.key.public_key(), owner.curve, "officer-2"), sn);
  }

  const Enrollment reloaded = dir.reload(before);
  CHECK(refused(reloaded, "sn.impostor", ErrorCode::unauthorized));
  CHECK_FALSE(refused(reloaded, "sn.douanes", ErrorCode::unauthorized));
  REQUIRE(reloaded.certificate_by_curve_key(owner.curve) != nullptr);
  CHECK(reloaded.certificate_by_curve_key(owner.curve)->serial_hex == owned.serial_hex());
  CHECK(reloaded.certificate_by_signing_key(owner.key.public_key())->serial_hex == owned.serial_hex());

  const Enrollment fresh = dir.load();
  CHECK(refused(fresh, "sn.impostor", ErrorCode::unauthorized));
  CHECK(refused(fresh, "sn.douanes", ErrorCode::unauthorized));
  CHECK(fresh.by_curve_key(owner.curve) == nullptr);
  CHECK(fresh.size() == 0);
}

TEST_CASE("an id with another role or country: refused at reload, both sides refused at first load") {
  TestPki pki({"SN"});
  const auto& sn = pki.national_ca("SN");
  Holder agency, promoted;
  EnrolledDir dir(pki);
  dir.put("agency", issue(sn, "sn.douanes", "SN", Role::agency, agency.key.public_key(), agency.curve), sn);
  const Enrollment before = dir.load();
  dir.put("promoted", issue(sn, "sn.douanes", "SN", Role::focal_point, promoted.key.public_key(), promoted.curve), sn);

  const Enrollment reloaded = dir.reload(before);
  CHECK(refused(reloaded, "promoted", ErrorCode::wrong_role));
  REQUIRE(reloaded.by_id(ParticipantId("sn.douanes")) != nullptr);
  CHECK(reloaded.by_id(ParticipantId("sn.douanes"))->role == Role::agency);
  CHECK(reloaded.by_curve_key(promoted.curve) == nullptr);

  const Enrollment fresh = dir.load();
  CHECK(refused(fresh, "promoted", ErrorCode::wrong_role));
  CHECK(refused(fresh, "agency", ErrorCode::wrong_role));
  CHECK(fresh.by_id(ParticipantId("sn.douanes")) == nullptr);

  // Once the wrong file is gone, the next reload enrols the agency again.
  dir.remove("promoted");
  CHECK(dir.reload(fresh).by_id(ParticipantId("sn.douanes")) != nullptr);
}

TEST_CASE("a revoked renewal drops out at reload and the participant's other certificate stays") {
  TestPki pki({"SN"});
  EnrolledDir dir(pki);
  auto write = [&](const std::string& file) {
    std::filesystem::copy_file(pki.dir() / "participants" / "sn.douanes" / kChainFile,
                               pki.dir() / "enrolled" / (file + ".pem"));
  };
  pki.issue("sn.douanes", "SN", Role::agency);
  write("old");
  pki.issue("sn.douanes", "SN", Role::agency);  // the renewal, with keys of its own
  write("new");
  const Enrollment both = dir.load();
  CHECK(both.certificates_of(ParticipantId("sn.douanes")).size() == 2);
  pki.revoke("sn.douanes", now_ms() - 60'000);  // the renewal (TestPki's latest)
  const Enrollment after = dir.reload(both);
  CHECK(after.certificates_of(ParticipantId("sn.douanes")).size() == 1);
  CHECK(refused(after, "new", ErrorCode::revoked));
  CHECK(after.by_id(ParticipantId("sn.douanes")) != nullptr);
}

// Attacker: the operator, who holds the root key. Niger has a national CA;
// a root-issued certificate for Niger's focal point, with keys the operator
// made, must not be enrolled beside the real one as a "renewal": the broker
// would accept messages signed with it as Niger's.
TEST_CASE("the root cannot enrol a certificate of a state that has its own national CA") {
  TestPki pki({"NE"});
  const auto& ne = pki.national_ca("NE");
  Holder real, operator_made;
  const Certificate real_cert =
      issue(ne, "ne.focal-point", "NE", Role::focal_point, real.key.public_key(), real.curve);
  EnrolledDir dir(pki);
  dir.put("ne", real_cert, ne);
  Enrollment before = dir.load();
  REQUIRE(before.refusals().empty());

  const Certificate forged = issue(pki.root(), "ne.focal-point", "NE", Role::focal_point,
                                   operator_made.key.public_key(), operator_made.curve);
  dir.put("ne-renewed", forged, pki.root());
  Enrollment after = dir.reload(before);
  // Expected: refused (its issuer is not the CA that issued Niger's enrolled certificate).
  CHECK(refused(after, "ne-renewed", ErrorCode::untrusted_chain));
  CHECK(after.by_curve_key(operator_made.curve) == nullptr);
  CHECK_FALSE(
      after.check_signer(ParticipantId("ne.focal-point"), info_of(forged), operator_made.key.public_key()).ok());
}

// Attacker: one state's CA key holder, or anyone whose CRL file is copied
// into the broker's crl_dir. A CRL that names Niger's national CA, signed by
// any other key and dated later, must not shadow Niger's real CRL (which
// would make every Niger certificate crl_missing and un-enrol all of Niger).
TEST_CASE("a CRL naming another CA, signed by a foreign key, does not un-enrol that CA's participants") {
  TestPki pki({"NE", "SN"});
  const auto& ne = pki.national_ca("NE");
  Holder niger;
  const Certificate niger_cert =
      issue(ne, "ne.focal-point", "NE", Role::focal_point, niger.key.public_key(), niger.curve);
  EnrolledDir dir(pki);
  dir.put("ne", niger_cert, ne);
  REQUIRE(dir.load().refusals().empty());

  // Made by Senegal (or anyone): issuer name "C=NE, CN=NE national CA", its own key, a later thisUpdate.
  const pki::Authority impostor(ne.certificate(), must(SigningKey::generate()));
  const std::int64_t now = now_ms();
  std::ofstream(pki.crl_dir() / "sn-published.crl.pem")
      << must(impostor.make_crl_pem({}, now, now + 7 * 24 * 3600 * 1000LL, 1));

  Enrollment after = dir.load();
  CHECK_FALSE(refused(after, "ne", ErrorCode::crl_missing));
  CHECK(after.by_curve_key(niger.curve) != nullptr);
}

// Issue 12 item 5. Attacker: a state's national CA that wants to choose which
// civil-society organisations may warn it (or to speak as one). Its cso
// certificate, made by going around fpx-ca's own refusal, is not enrolled;
// the root's is.
TEST_CASE("a cso certificate from a national CA is not enrolled and the root's is") {
  TestPki pki({"SN"});
  const auto& senegal = pki.national_ca("SN");
  Holder rogue, real;
  pki::ParticipantRequest request;
  request.id = ParticipantId("cso.rogue-watch.sn");
  request.country = CountryCode("SN");
  request.role = Role::cso;
  request.signing_public_key = rogue.key.public_key();
  request.curve_public_key = rogue.curve;
  request.validity = pki::Validity::days_from_now(30);
  REQUIRE_FALSE(senegal.issue(request).ok());  // fpx-ca refuses at issue
  const Certificate forged = must(senegal.issue(request, pki::CountryCheck::skip_for_testing));
  const Certificate rooted =
      issue(pki.root(), "cso.sahel-watch.sn", "SN", Role::cso, real.key.public_key(), real.curve);
  EnrolledDir dir(pki);
  dir.put("rogue", forged, senegal);
  dir.put("sahel", rooted, pki.root());
  Enrollment enrolled = dir.load();
  CHECK(refused(enrolled, "rogue", ErrorCode::wrong_role));
  CHECK(enrolled.by_curve_key(rogue.curve) == nullptr);
  const EnrolledParticipant* sahel = enrolled.by_id(ParticipantId("cso.sahel-watch.sn"));
  REQUIRE(sahel != nullptr);
  CHECK(sahel->role == Role::cso);
  CHECK(sahel->country == CountryCode("SN"));
}
