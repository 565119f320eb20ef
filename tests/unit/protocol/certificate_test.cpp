// Certificates and revocation as open() sees them: each problem its own error.
#include <cstdlib>
#include <fstream>

#include <catch2/catch.hpp>

#include "fpx/envelope.hpp"
#include "support/sample_messages.hpp"
#include "support/test_pki.hpp"

using namespace fpx;
using fpx::test::kDayMs;
using fpx::test::TestPki;

namespace {

ErrorCode open_code(TrustStore& trust, const Bytes& envelope, std::int64_t now = 0,
                    RevocationCheck check = RevocationCheck::required) {
  EnvelopeOpener opener(trust);
  auto opened = opener.open(envelope, {now, check});
  return opened ? ErrorCode::none : opened.error().code;
}

const auto kRequest = wire::MessageType::TRACING_REQUEST;

}  // namespace

TEST_CASE("a certificate reads back its participant id, country, role and CURVE key") {
  TestPki pki;
  auto identity = pki.issue_identity("sn.police-judiciaire", "SN", Role::agency);
  const auto& info = identity.participant();
  CHECK(info.id.str() == "sn.police-judiciaire");
  CHECK(info.country.str() == "SN");
  CHECK(info.role == Role::agency);
  CHECK(info.curve_public_key == identity.curve().public_key);
  CHECK(identity.chain().size() == 2);
  CHECK(identity.chain()[1].permitted_country() == CountryCode("SN"));
}

TEST_CASE("a message signed inside the certificate's validity opens; outside it is expired or not yet valid") {
  TestPki pki;
  auto trust = pki.trust_store();
  const std::int64_t now = now_ms();
  pki::Validity window{now - 10 * kDayMs, now - 2 * kDayMs};
  auto expired = pki.issue_identity("sn.douanes", "SN", Role::agency, {.validity = window});

  // Created while the certificate was valid: still valid evidence today.
  CHECK(open_code(trust, test::seal_sample(expired, kRequest, now - 5 * kDayMs)) == ErrorCode::none);
  CHECK(open_code(trust, test::seal_sample(expired, kRequest, now)) == ErrorCode::certificate_expired);

  pki::Validity future{now + 2 * kDayMs, now + 10 * kDayMs};
  auto early = pki.issue_identity("sn.gendarmerie", "SN", Role::agency, {.validity = future});
  CHECK(open_code(trust, test::seal_sample(early, kRequest, now)) == ErrorCode::certificate_not_yet_valid);
}

TEST_CASE("a chain from another root is untrusted") {
  TestPki pki;
  TestPki other_pki;
  auto trust = pki.trust_store();
  auto stranger = other_pki.issue_identity("sn.police-judiciaire", "SN", Role::agency);
  CHECK(open_code(trust, test::seal_sample(stranger, kRequest)) == ErrorCode::untrusted_chain);
}

TEST_CASE("a national intermediate issuing for another country is refused") {
  TestPki pki({"SN"});
  // SN's intermediate will not issue for NE ...
  auto key = SigningKey::generate();
  REQUIRE(key.ok());
  pki::ParticipantRequest request;
  request.id = ParticipantId("ne.police");
  request.country = CountryCode("NE");
  request.role = Role::agency;
  request.signing_public_key = key->public_key();
  request.curve_public_key = CurvePublicKey{};
  request.validity = pki::Validity::days_from_now(30);
  auto intermediate = pki.root().create_intermediate(CountryCode("SN"), std::move(key).value(),
                                                     pki::Validity::days_from_now(30));
  REQUIRE(intermediate.ok());
  auto refused = intermediate->issue(request);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::invalid_argument);

  // ... and if a rogue one did, verification refuses it (name constraint).
  auto trust = pki.trust_store();
  auto rogue = pki.issue_identity("sn.rogue", "NE", Role::agency,
                                  {.country_check = pki::CountryCheck::skip_for_testing});
  EnvelopeOpener opener(trust);
  auto opened = opener.open(test::seal_sample(rogue, kRequest));
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.error().code == ErrorCode::untrusted_chain);
  CHECK_THAT(opened.error().message, Catch::Contains("name constraint"));
}

TEST_CASE("revocation counts from its date: earlier messages stay valid, later ones are refused") {
  TestPki pki;
  const std::int64_t now = now_ms();
  auto agency = pki.issue_identity("sn.police-judiciaire", "SN", Role::agency,
                                   {.validity = {now - kDayMs, now + 30 * kDayMs}});
  Bytes before = test::seal_sample(agency, kRequest, now - 2 * 60'000);
  Bytes after = test::seal_sample(agency, kRequest, now);
  pki.revoke("sn.police-judiciaire", now - 60'000);
  auto trust = pki.trust_store();
  CHECK(open_code(trust, before) == ErrorCode::none);
  CHECK(open_code(trust, after) == ErrorCode::revoked);
}

TEST_CASE("a revoked intermediate revokes every certificate under it") {
  TestPki pki({"SN"});
  auto agency = pki.issue_identity("sn.police-judiciaire", "SN", Role::agency);
  auto trust = pki.trust_store();
  CHECK(open_code(trust, test::seal_sample(agency, kRequest)) == ErrorCode::none);
  // Revoke the intermediate itself in the root's CRL.
  auto intermediate_serial = agency.chain()[1].serial_hex();
  auto crl = pki.root().make_crl_pem({{intermediate_serial, now_ms() - 60'000}}, now_ms() - 60'000,
                                     now_ms() + kDayMs, 99);
  REQUIRE(crl.ok());
  std::ofstream(pki.crl_dir() / "root.crl.pem", std::ios::trunc) << *crl;
  REQUIRE(trust.reload_crls().ok());
  CHECK(open_code(trust, test::seal_sample(agency, kRequest)) == ErrorCode::revoked);
}

TEST_CASE("a CRL reload applies to chains already cached") {
  TestPki pki;
  auto agency = pki.issue_identity("sn.police-judiciaire", "SN", Role::agency);
  auto trust = pki.trust_store();
  CHECK(open_code(trust, test::seal_sample(agency, kRequest)) == ErrorCode::none);
  pki.revoke("sn.police-judiciaire", now_ms() - 1000);
  CHECK(open_code(trust, test::seal_sample(agency, kRequest)) == ErrorCode::none);  // not reloaded yet
  REQUIRE(trust.reload_crls().ok());
  CHECK(open_code(trust, test::seal_sample(agency, kRequest)) == ErrorCode::revoked);
}

TEST_CASE("a missing CRL refuses, and skipping revocation says that it was not checked") {
  TestPki pki;
  auto agency = pki.issue_identity("sn.police-judiciaire", "SN", Role::agency);
  std::filesystem::remove(pki.crl_dir() / "SN.crl.pem");
  auto trust = pki.trust_store();
  Bytes sealed = test::seal_sample(agency, kRequest);
  CHECK(open_code(trust, sealed) == ErrorCode::crl_missing);

  EnvelopeOpener opener(trust);
  auto opened = opener.open(sealed, {0, RevocationCheck::skip});
  REQUIRE(opened.ok());
  CHECK(opened->signer.revocation == RevocationStatus::not_checked);

  auto no_crls = TrustStore::load(pki.root_pem(), {});
  REQUIRE(no_crls.ok());
  CHECK(open_code(*no_crls, sealed) == ErrorCode::crl_missing);
  CHECK(open_code(*no_crls, sealed, 0, RevocationCheck::skip) == ErrorCode::none);
}

TEST_CASE("a CRL past its nextUpdate refuses (fail-closed) and is reported a day ahead") {
  TestPki pki;
  auto agency = pki.issue_identity("sn.police-judiciaire", "SN", Role::agency);
  const std::int64_t now = now_ms();
  pki.write_crls(now - 3 * kDayMs, now - kDayMs);
  auto trust = pki.trust_store();
  CHECK(open_code(trust, test::seal_sample(agency, kRequest)) == ErrorCode::crl_stale);

  pki.write_crls(now - kDayMs, now + kDayMs / 2);
  REQUIRE(trust.reload_crls().ok());
  CHECK(open_code(trust, test::seal_sample(agency, kRequest)) == ErrorCode::none);
  CHECK(trust.crls_expiring_before(now + kDayMs).size() == 2);
  CHECK(trust.crls_expiring_before(now).empty());
}

TEST_CASE("a CRL not signed by its issuer is no evidence") {
  TestPki pki;
  TestPki impostor;
  auto agency = pki.issue_identity("sn.police-judiciaire", "SN", Role::agency);
  // The impostor's SN intermediate has the same name as the real one.
  std::filesystem::copy_file(impostor.crl_dir() / "SN.crl.pem", pki.crl_dir() / "SN.crl.pem",
                             std::filesystem::copy_options::overwrite_existing);
  auto trust = pki.trust_store();
  CHECK(open_code(trust, test::seal_sample(agency, kRequest)) == ErrorCode::crl_missing);
}

TEST_CASE("a certificate without the CURVE extension is refused as missing an extension") {
  TestPki pki;
  auto trust = pki.trust_store();
  auto bare = pki.issue("sn.bare", "SN", Role::agency, {.with_curve_key = false});
  // Identity::load needs the extension too: build the chain check directly.
  auto chain = Certificate::load_pem_file(bare / kChainFile);
  REQUIRE(chain.ok());
  std::vector<Bytes> der;
  for (const auto& cert : *chain) der.push_back(cert.der());
  std::vector<ByteView> views(der.begin(), der.end());
  auto verified = trust.verify_chain(views, now_ms(), now_ms(), RevocationCheck::required);
  REQUIRE_FALSE(verified.ok());
  CHECK(verified.error().code == ErrorCode::missing_extension);

  auto identity = Identity::load(bare, {});
  REQUIRE_FALSE(identity.ok());
  CHECK(identity.error().code == ErrorCode::missing_extension);
}

TEST_CASE("a renewed certificate and the old one are both accepted until one is revoked") {
  TestPki pki;
  auto old_identity = pki.issue_identity("sn.police-judiciaire", "SN", Role::agency);
  Bytes old_message = test::seal_sample(old_identity, kRequest);
  auto new_identity = pki.issue_identity("sn.police-judiciaire", "SN", Role::agency);
  CHECK(old_identity.participant().serial_hex != new_identity.participant().serial_hex);
  auto trust = pki.trust_store();
  CHECK(open_code(trust, old_message) == ErrorCode::none);
  CHECK(open_code(trust, test::seal_sample(new_identity, kRequest)) == ErrorCode::none);
}

TEST_CASE("an encrypted signing key loads only with its passphrase, from a file or the environment") {
  TestPki pki;
  auto dir = pki.issue("sn.police-judiciaire", "SN", Role::agency, {.passphrase = "correct horse"});
  auto without = Identity::load(dir, {});
  REQUIRE_FALSE(without.ok());
  CHECK(without.error().code == ErrorCode::bad_key);
  CHECK_THAT(without.error().message, Catch::Contains("passphrase"));

  auto with_file = pki.identity("sn.police-judiciaire", {.passphrase = "correct horse"});
  CHECK(with_file.participant().id.str() == "sn.police-judiciaire");

  ::setenv("FPX_TEST_PASSPHRASE", "correct horse", 1);
  CHECK(Identity::load(dir, PassphraseSource::from_environment("FPX_TEST_PASSPHRASE")).ok());
  ::setenv("FPX_TEST_PASSPHRASE", "wrong", 1);
  auto wrong = Identity::load(dir, PassphraseSource::from_environment("FPX_TEST_PASSPHRASE"));
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().code == ErrorCode::bad_key);
  ::unsetenv("FPX_TEST_PASSPHRASE");
}

TEST_CASE("an identity whose CURVE key does not match its certificate is refused") {
  TestPki pki;
  auto dir = pki.issue("sn.police-judiciaire", "SN", Role::agency);
  auto other = CurveKeyPair::generate();
  REQUIRE(other.ok());
  std::ofstream(dir / kCurveSecretFile, std::ios::trunc) << z85_encode(other->secret_key) << "\n";
  auto identity = Identity::load(dir, {});
  REQUIRE_FALSE(identity.ok());
  CHECK(identity.error().code == ErrorCode::bad_key);
}
