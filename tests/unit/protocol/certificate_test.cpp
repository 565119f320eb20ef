// Certificates and revocation as open() sees them: each problem its own error.
#include <openssl/ec.h>
#include <openssl/err.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>

#include "fpx/envelope.hpp"
#include "fpx/oids.hpp"
#include "fpx/openssl_handles.hpp"
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

// ---- Roles limited by issuer, ids tied to their country, Ed25519 only ----------
//
// Certificates pki::Authority refuses to make are made here by hand with the
// OpenSSL API (or by Authority with CountryCheck::skip_for_testing), as an
// attacker holding a national CA's key would make them.

namespace {

template <typename T>
T must(Result<T> result) {
  if (!result) FAIL(result.error().describe());
  return std::move(result).value();
}

ossl::PkeyPtr new_key(const char* type) {
  ossl::PkeyPtr key(std::string_view(type) == "EC" ? EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")
                                                   : EVP_PKEY_Q_keygen(nullptr, nullptr, type));
  REQUIRE(key);
  return key;
}

// A certificate as an attacker's tool would write it: any key type, any
// extended key usage, signed by whatever issuer key it holds.
struct HandMade {
  std::string country;  // empty: no C=
  std::string common_name;
  EVP_PKEY* subject_key = nullptr;
  X509* issuer = nullptr;  // nullptr: self-signed
  EVP_PKEY* issuer_key = nullptr;
  enum class Kind { ca, participant } kind = Kind::participant;
  std::vector<Role> roles;  // EKU purposes
  std::optional<CurvePublicKey> curve_key;
};

void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer, cert, nullptr, nullptr, 0);
  ossl::X509ExtensionPtr extension(X509V3_EXT_conf_nid(nullptr, &context, nid, value));
  REQUIRE(extension);
  REQUIRE(X509_add_ext(cert, extension.get(), -1) == 1);
}

Certificate hand_made(const HandMade& spec) {
  ossl::X509Ptr cert(X509_new());
  REQUIRE(cert);
  REQUIRE(X509_set_version(cert.get(), X509_VERSION_3) == 1);
  Bytes serial(16);
  random_bytes(serial);
  serial[0] &= 0x7F;
  ossl::BignumPtr serial_number(BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr));
  REQUIRE(BN_to_ASN1_INTEGER(serial_number.get(), X509_get_serialNumber(cert.get())) != nullptr);
  ossl::X509NamePtr name(X509_NAME_new());
  auto add_entry = [&](const char* field, const std::string& value) {
    REQUIRE(X509_NAME_add_entry_by_txt(name.get(), field, MBSTRING_UTF8,
                                       reinterpret_cast<const unsigned char*>(value.data()),
                                       static_cast<int>(value.size()), -1, 0) == 1);
  };
  if (!spec.country.empty()) add_entry("C", spec.country);
  add_entry("CN", spec.common_name);
  REQUIRE(X509_set_subject_name(cert.get(), name.get()) == 1);
  X509* issuer = spec.issuer != nullptr ? spec.issuer : cert.get();
  REQUIRE(X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer)) == 1);
  REQUIRE(X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) != nullptr);
  REQUIRE(X509_gmtime_adj(X509_getm_notAfter(cert.get()), 30L * 24 * 3600) != nullptr);
  REQUIRE(X509_set_pubkey(cert.get(), spec.subject_key) == 1);
  if (spec.kind == HandMade::Kind::ca) {
    add_extension(cert.get(), issuer, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(cert.get(), issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_extension(cert.get(), issuer, NID_basic_constraints, "critical,CA:FALSE");
    add_extension(cert.get(), issuer, NID_key_usage, "critical,digitalSignature");
  }
  add_extension(cert.get(), issuer, NID_subject_key_identifier, "hash");
  if (spec.issuer != nullptr) add_extension(cert.get(), issuer, NID_authority_key_identifier, "keyid:always");
  if (!spec.roles.empty()) {
    std::string purposes;
    for (Role role : spec.roles) purposes.append(purposes.empty() ? "" : ",").append(oid::role_oid(role));
    add_extension(cert.get(), issuer, NID_ext_key_usage, purposes.c_str());
  }
  if (spec.curve_key) {
    Bytes der{0x04, 0x20};  // OCTET STRING of 32 bytes, as pki::Authority writes it
    der.insert(der.end(), spec.curve_key->begin(), spec.curve_key->end());
    ossl::Asn1OctetStringPtr value(ASN1_OCTET_STRING_new());
    REQUIRE(ASN1_OCTET_STRING_set(value.get(), der.data(), static_cast<int>(der.size())) == 1);
    ossl::Asn1ObjectPtr curve_oid(OBJ_txt2obj(oid::kCurvePublicKey, 1));
    ossl::X509ExtensionPtr extension(X509_EXTENSION_create_by_OBJ(nullptr, curve_oid.get(), 0, value.get()));
    REQUIRE(X509_add_ext(cert.get(), extension.get(), -1) == 1);
  }
  const EVP_PKEY* signer = spec.issuer_key != nullptr ? spec.issuer_key : spec.subject_key;
  const bool ed25519 = EVP_PKEY_get_id(signer) == EVP_PKEY_ED25519;
  REQUIRE(X509_sign(cert.get(), const_cast<EVP_PKEY*>(signer), ed25519 ? nullptr : EVP_sha256()) > 0);
  return Certificate::share(cert.get());
}

// A PKI of our own: an Ed25519 root (pki::Authority) and the national CAs a
// test makes under it, with a trust store that skips revocation.
struct OwnPki {
  test::TempDir dir;
  pki::Authority root =
      must(pki::Authority::create_root("Test Root", must(SigningKey::generate()), pki::Validity::days_from_now(30)));
  TrustStore trust() const {
    std::ofstream(dir.path() / "root.pem", std::ios::trunc) << root.certificate().pem();
    return must(TrustStore::load(dir.path() / "root.pem", {}));
  }
  pki::Authority national_ca(const std::string& country) const {
    return must(
        root.create_intermediate(CountryCode(country), must(SigningKey::generate()), pki::Validity::days_from_now(30)));
  }
};

Certificate issued(const pki::Authority& ca, const std::string& id, const std::string& country, Role role) {
  pki::ParticipantRequest request;
  request.id = ParticipantId(id);
  request.country = CountryCode(country);
  request.role = role;
  request.signing_public_key = must(SigningKey::generate()).public_key();
  request.curve_public_key = must(CurveKeyPair::generate()).public_key;
  request.validity = pki::Validity::days_from_now(10);
  return must(ca.issue(request, pki::CountryCheck::skip_for_testing));
}

Result<VerifiedSigner> verify(TrustStore& trust, const std::vector<Certificate>& chain) {
  std::vector<Bytes> der;
  for (const auto& certificate : chain) der.push_back(certificate.der());
  std::vector<ByteView> views(der.begin(), der.end());
  return trust.verify_chain(views, now_ms(), now_ms(), RevocationCheck::skip);
}

}  // namespace

TEST_CASE("a broker or observer certificate from a national CA is refused as wrong_role, naming issuer and role") {
  OwnPki own;
  auto trust = own.trust();
  const auto sn = own.national_ca("SN");
  for (Role role : {Role::broker, Role::observer}) {
    INFO("role: " << role_name(role));
    auto verified = verify(trust, {issued(sn, "exchange.rogue", "SN", role), sn.certificate()});
    REQUIRE_FALSE(verified.ok());
    CHECK(verified.error().code == ErrorCode::wrong_role);
    CHECK_THAT(verified.error().message, Catch::Contains("SN national CA"));
    CHECK_THAT(verified.error().message, Catch::Contains(std::string("a ") + std::string(role_name(role)) +
                                                         " certificate comes only from the exchange's root CA"));
  }
  // The same roles straight from the root, and the national CA's own roles, stand.
  CHECK(verify(trust, {issued(own.root, "exchange.broker", "AT", Role::broker)}).ok());
  CHECK(verify(trust, {issued(own.root, "cso.sahel-watch", "SN", Role::observer)}).ok());
  CHECK(verify(trust, {issued(sn, "sn.focal-point", "SN", Role::focal_point), sn.certificate()}).ok());
  CHECK(verify(trust, {issued(sn, "sn.douanes", "SN", Role::agency), sn.certificate()}).ok());
}

TEST_CASE("a broker certificate from a national CA cannot sign what only the exchange signs, for any verifier") {
  // TestPki picks SN's national CA for an id beginning "sn." when told to skip
  // the checks pki::Authority makes: what an attacker with that key would do.
  TestPki pki({"SN"});
  auto trust = pki.trust_store();
  auto rogue_broker =
      pki.issue_identity("sn.exchange", "SN", Role::broker, {.country_check = pki::CountryCheck::skip_for_testing});
  REQUIRE(rogue_broker.chain().size() == 2);
  // A reminder is the broker's own message: refused on the issuer, before any role rule.
  EnvelopeOpener opener(trust);
  auto opened = opener.open(test::seal_sample(rogue_broker, wire::MessageType::REMINDER));
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.error().code == ErrorCode::wrong_role);
  CHECK_THAT(opened.error().message, Catch::Contains("SN national CA"));
  auto rogue_observer =
      pki.issue_identity("sn.watch", "SN", Role::observer, {.country_check = pki::CountryCheck::skip_for_testing});
  std::vector<Bytes> der;
  for (const auto& certificate : rogue_observer.chain()) der.push_back(certificate.der());
  std::vector<ByteView> views(der.begin(), der.end());
  auto resolved = trust.resolve_chain(views);  // what the observer client and verify_receipt call
  REQUIRE_FALSE(resolved.ok());
  CHECK(resolved.error().code == ErrorCode::wrong_role);
}

TEST_CASE("a national CA issues only the roles its certificate lists, and never broker or observer") {
  OwnPki own;
  auto trust = own.trust();
  auto ca_key = new_key("ED25519");
  auto make_ca = [&](std::vector<Role> roles) {
    return hand_made({.country = "SN",
                      .common_name = "SN national CA",
                      .subject_key = ca_key.get(),
                      .issuer = own.root.certificate().get(),
                      .issuer_key = own.root.key().get(),
                      .kind = HandMade::Kind::ca,
                      .roles = std::move(roles)});
  };
  auto leaf_key = new_key("ED25519");
  auto leaf = [&](const Certificate& ca, const std::string& id, Role role) {
    return hand_made({.country = "SN",
                      .common_name = id,
                      .subject_key = leaf_key.get(),
                      .issuer = ca.get(),
                      .issuer_key = ca_key.get(),
                      .roles = {role},
                      .curve_key = CurvePublicKey{1, 2, 3}});
  };

  // A CA listing only agency may not issue a focal point.
  const Certificate agencies_only = make_ca({Role::agency});
  CHECK(verify(trust, {leaf(agencies_only, "sn.douanes", Role::agency), agencies_only}).ok());
  auto focal = verify(trust, {leaf(agencies_only, "sn.focal-point", Role::focal_point), agencies_only});
  REQUIRE_FALSE(focal.ok());
  CHECK(focal.error().code == ErrorCode::wrong_role);
  CHECK_THAT(focal.error().message, Catch::Contains("lists the roles it may issue as: agency"));

  // A CA without the extension lists none.
  const Certificate none = make_ca({});
  auto unlisted = verify(trust, {leaf(none, "sn.douanes", Role::agency), none});
  REQUIRE_FALSE(unlisted.ok());
  CHECK(unlisted.error().code == ErrorCode::wrong_role);
  CHECK_THAT(unlisted.error().message, Catch::Contains("as: none"));

  // A CA whose certificate (wrongly) lists broker still may not issue one.
  const Certificate overreaching = make_ca({Role::focal_point, Role::agency, Role::broker});
  auto broker = verify(trust, {leaf(overreaching, "exchange.broker", Role::broker), overreaching});
  REQUIRE_FALSE(broker.ok());
  CHECK(broker.error().code == ErrorCode::wrong_role);
  CHECK_THAT(broker.error().message, Catch::Contains("comes only from the exchange's root CA"));
}

TEST_CASE("an id that does not fit its country is refused, from a national CA or from the root") {
  OwnPki own;
  auto trust = own.trust();
  const auto sn = own.national_ca("SN");
  // Inside SN's name constraint (C=SN), but reads as Niger's.
  auto foreign_id = verify(trust, {issued(sn, "ne.police", "SN", Role::agency), sn.certificate()});
  REQUIRE_FALSE(foreign_id.ok());
  CHECK(foreign_id.error().code == ErrorCode::untrusted_chain);
  CHECK_THAT(foreign_id.error().message, Catch::Contains("must begin with \"sn.\""));

  auto from_root = verify(trust, {issued(own.root, "ne.focal-point", "SN", Role::focal_point)});
  REQUIRE_FALSE(from_root.ok());
  CHECK(from_root.error().code == ErrorCode::untrusted_chain);

  // A broker or observer id may not pass for a state's participant.
  auto state_like = verify(trust, {issued(own.root, "sn.exchange", "AT", Role::broker)});
  REQUIRE_FALSE(state_like.ok());
  CHECK(state_like.error().code == ErrorCode::untrusted_chain);
  CHECK_THAT(state_like.error().message, Catch::Contains("two-letter label"));

  CHECK(verify(trust, {issued(sn, "sn.police", "SN", Role::agency), sn.certificate()}).ok());
}

TEST_CASE("only Ed25519 keys are accepted anywhere in a chain: leaf, national CA and root") {
  OwnPki own;
  auto trust = own.trust();
  const auto sn = own.national_ca("SN");

  SECTION("a P-256 leaf issued by a genuine national CA") {
    auto ec_key = new_key("EC");
    auto leaf = hand_made({.country = "SN",
                           .common_name = "sn.douanes",
                           .subject_key = ec_key.get(),
                           .issuer = sn.certificate().get(),
                           .issuer_key = sn.key().get(),
                           .roles = {Role::agency},
                           .curve_key = CurvePublicKey{7}});
    auto verified = verify(trust, {leaf, sn.certificate()});
    REQUIRE_FALSE(verified.ok());
    CHECK(verified.error().code == ErrorCode::bad_key);
    CHECK_THAT(verified.error().message, Catch::Contains("Ed25519 keys only"));
    CHECK_THAT(verified.error().message, Catch::Contains("EC"));
  }
  SECTION("an Ed25519 leaf under a P-256 national CA signed by the root") {
    auto ca_key = new_key("EC");
    auto ca = hand_made({.country = "SN",
                         .common_name = "SN national CA",
                         .subject_key = ca_key.get(),
                         .issuer = own.root.certificate().get(),
                         .issuer_key = own.root.key().get(),
                         .kind = HandMade::Kind::ca,
                         .roles = {Role::focal_point, Role::agency}});
    auto leaf_key = new_key("ED25519");
    auto leaf = hand_made({.country = "SN",
                           .common_name = "sn.douanes",
                           .subject_key = leaf_key.get(),
                           .issuer = ca.get(),
                           .issuer_key = ca_key.get(),
                           .roles = {Role::agency},
                           .curve_key = CurvePublicKey{7}});
    auto verified = verify(trust, {leaf, ca});
    REQUIRE_FALSE(verified.ok());
    CHECK(verified.error().code == ErrorCode::bad_key);
    CHECK_THAT(verified.error().message, Catch::Contains("SN national CA"));
  }
  SECTION("a P-256 root") {
    auto root_key = new_key("EC");
    auto root = hand_made({.common_name = "P-256 Root", .subject_key = root_key.get(), .kind = HandMade::Kind::ca});
    std::ofstream(own.dir.path() / "p256-root.pem", std::ios::trunc) << root.pem();
    auto loaded = TrustStore::load(own.dir.path() / "p256-root.pem", {});
    REQUIRE_FALSE(loaded.ok());
    CHECK(loaded.error().code == ErrorCode::bad_key);
  }
}
