// fpx-ca end to end (the real binary in a temp dir, checked with the openssl
// command line as an independent verifier) and pki::Authority directly.
#include <sys/stat.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "fpx/identity.hpp"
#include "fpx/oids.hpp"
#include "fpx/pki.hpp"
#include "fpx/trust_store.hpp"
#include "support/test_pki.hpp"

namespace fs = std::filesystem;

namespace {

struct Run {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

std::string quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

Run run(const std::string& command) {
  Run result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 4096> buffer{};
  std::size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

Run fpx_ca(const fs::path& dir, const std::string& args) {
  return run(quote(FPX_BIN_DIR "/fpx-ca") + " --dir " + quote(dir.string()) + " " + args);
}

template <typename T>
T must(fpx::Result<T> result) {
  if (!result) FAIL(result.error().describe());
  return std::move(result).value();
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  REQUIRE(out.good());
}

// The leaf (first certificate) of an identity's chain.pem, alone in a file.
fs::path leaf_of(const fs::path& identity_dir) {
  auto chain = must(fpx::Certificate::load_pem_file(identity_dir / fpx::kChainFile));
  REQUIRE(!chain.empty());
  const fs::path leaf = identity_dir.parent_path() / (identity_dir.filename().string() + ".leaf.pem");
  write_text(leaf, chain.front().pem());
  return leaf;
}

std::string serial_of(const fs::path& identity_dir) {
  return must(fpx::Certificate::load_pem_file(identity_dir / fpx::kChainFile)).front().serial_hex();
}

mode_t mode_of(const fs::path& path) {
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  return info.st_mode & 0777;
}

// A CA directory with the root, the SN intermediate, a focal point of SN
// issued by the intermediate and a broker issued by the root.
struct CaFixture {
  fpx::test::TempDir temp;
  fs::path dir = temp.path() / "pki";
  fs::path root = dir / "root-ca.pem";
  fs::path sn_ca = dir / "ca" / "sn" / "cert.pem";
  fs::path focal = dir / "participants" / "sn.focal-point";
  fs::path broker = dir / "participants" / "exchange.broker";

  CaFixture() {
    for (const char* args : {"init --days 3650", "intermediate --country SN",
                             "issue --role focal-point --country SN --id sn.focal-point",
                             "issue --role broker --country NL --id exchange.broker"}) {
      const Run r = fpx_ca(dir, args);
      INFO(args << ": " << r.output);
      REQUIRE(r.exit_code == 0);
    }
  }

  std::string crl_args() const {
    return " -crl_check_all -CRLfile " + quote((dir / "crls" / "root.crl.pem").string()) + " -CRLfile " +
           quote((dir / "crls" / "sn.crl.pem").string());
  }

  Run verify(const fs::path& leaf, bool with_crls) const {
    return run("openssl verify -CAfile " + quote(root.string()) + " -untrusted " + quote(sn_ca.string()) +
               (with_crls ? crl_args() : std::string()) + " " + quote(leaf.string()));
  }
};

}  // namespace

TEST_CASE("fpx-ca issues a chain that openssl verifies, with and without the CRLs") {
  CaFixture ca;
  for (const auto& identity : {ca.focal, ca.broker}) {
    const fs::path leaf = leaf_of(identity);
    const Run plain = ca.verify(leaf, false);
    INFO(plain.output);
    CHECK(plain.exit_code == 0);
    CHECK(plain.output.find(": OK") != std::string::npos);
    const Run checked = ca.verify(leaf, true);
    INFO(checked.output);
    CHECK(checked.exit_code == 0);
  }
}

TEST_CASE("the focal point's chain holds the leaf then the SN intermediate, the broker's only its leaf") {
  CaFixture ca;
  auto focal_chain = must(fpx::Certificate::load_pem_file(ca.focal / fpx::kChainFile));
  REQUIRE(focal_chain.size() == 2);
  CHECK(focal_chain[0].subject_text().find("sn.focal-point") != std::string::npos);
  CHECK(focal_chain[1].permitted_country() == fpx::CountryCode("SN"));
  auto broker_chain = must(fpx::Certificate::load_pem_file(ca.broker / fpx::kChainFile));
  CHECK(broker_chain.size() == 1);
}

TEST_CASE("an issued identity directory loads with the protocol's Identity and matches its certificate") {
  CaFixture ca;
  auto identity = must(fpx::Identity::load(ca.focal, fpx::PassphraseSource{}));
  CHECK(identity.participant().id == fpx::ParticipantId("sn.focal-point"));
  CHECK(identity.participant().country == fpx::CountryCode("SN"));
  CHECK(identity.participant().role == fpx::Role::focal_point);
  CHECK(identity.participant().curve_public_key == identity.curve().public_key);
  std::ifstream public_file(ca.focal / fpx::kCurvePublicFile);
  std::string z85;
  std::getline(public_file, z85);
  CHECK(z85 == fpx::z85_encode(identity.curve().public_key));
}

TEST_CASE("after revoke, openssl verify with the CRLs fails with certificate revoked") {
  CaFixture ca;
  const Run revoke = fpx_ca(ca.dir, "revoke --id sn.focal-point");
  INFO(revoke.output);
  REQUIRE(revoke.exit_code == 0);
  const Run checked = ca.verify(leaf_of(ca.focal), true);
  INFO(checked.output);
  CHECK(checked.exit_code != 0);
  CHECK(checked.output.find("certificate revoked") != std::string::npos);
  // The broker, from another CA, is untouched.
  CHECK(ca.verify(leaf_of(ca.broker), true).exit_code == 0);
  // Revoking again says so instead of writing a second entry.
  const Run again = fpx_ca(ca.dir, "revoke --id sn.focal-point");
  CHECK(again.exit_code == 2);
  CHECK(again.output.find("already revoked") != std::string::npos);
}

TEST_CASE("fpx-ca crl re-issues every CA's CRL and openssl still verifies against them") {
  CaFixture ca;
  const Run crl = fpx_ca(ca.dir, "crl --days 3");
  INFO(crl.output);
  REQUIRE(crl.exit_code == 0);
  CHECK(fs::exists(ca.dir / "crls" / "root.crl.pem"));
  CHECK(fs::exists(ca.dir / "crls" / "sn.crl.pem"));
  const Run text = run("openssl crl -noout -text -in " + quote((ca.dir / "crls" / "sn.crl.pem").string()));
  INFO(text.output);
  CHECK(text.output.find("X509v3 CRL Number") != std::string::npos);
  CHECK(text.output.find("X509v3 Authority Key Identifier") != std::string::npos);
  CHECK(ca.verify(leaf_of(ca.focal), true).exit_code == 0);
}

TEST_CASE("openssl x509 -text shows the role OID, the CURVE extension and the name constraint") {
  CaFixture ca;
  const Run leaf = run("openssl x509 -noout -text -in " + quote(leaf_of(ca.focal).string()));
  INFO(leaf.output);
  CHECK(leaf.output.find(fpx::oid::kRoleFocalPoint) != std::string::npos);
  CHECK(leaf.output.find(fpx::oid::kCurvePublicKey) != std::string::npos);
  CHECK(leaf.output.find("Subject: C = SN, CN = sn.focal-point") != std::string::npos);
  CHECK(leaf.output.find("CA:FALSE") != std::string::npos);
  CHECK(leaf.output.find("ED25519") != std::string::npos);
  const Run broker = run("openssl x509 -noout -text -in " + quote(leaf_of(ca.broker).string()));
  CHECK(broker.output.find(fpx::oid::kRoleBroker) != std::string::npos);
  const Run intermediate = run("openssl x509 -noout -text -in " + quote(ca.sn_ca.string()));
  INFO(intermediate.output);
  CHECK(intermediate.output.find("Name Constraints") != std::string::npos);
  CHECK(intermediate.output.find("DirName:C = SN") != std::string::npos);
  CHECK(intermediate.output.find("pathlen:0") != std::string::npos);
}

TEST_CASE("private key files are mode 0600 and key directories 0700") {
  CaFixture ca;
  CHECK(mode_of(ca.focal / fpx::kSigningKeyFile) == 0600);
  CHECK(mode_of(ca.focal / fpx::kCurveSecretFile) == 0600);
  CHECK(mode_of(ca.broker / fpx::kSigningKeyFile) == 0600);
  CHECK(mode_of(ca.dir / "ca" / "root" / "key.pem") == 0600);
  CHECK(mode_of(ca.dir / "ca" / "sn" / "key.pem") == 0600);
  CHECK(mode_of(ca.focal) == 0700);
  CHECK(mode_of(ca.dir / "ca") == 0700);
}

TEST_CASE("an unknown role, a bad country code and a duplicate id exit with 2 and say what to do") {
  CaFixture ca;
  const Run role = fpx_ca(ca.dir, "issue --role admin --country SN --id sn.x");
  CHECK(role.exit_code == 2);
  CHECK(role.output.find("unknown role 'admin'") != std::string::npos);
  CHECK(role.output.find("focal-point") != std::string::npos);

  for (const char* country : {"sn", "SEN", "XX"}) {
    const Run bad = fpx_ca(ca.dir, std::string("issue --role agency --id sn.y --country ") + country);
    INFO(bad.output);
    CHECK(bad.exit_code == 2);
    CHECK(bad.output.find("ISO 3166-1 alpha-2") != std::string::npos);
  }

  const Run duplicate = fpx_ca(ca.dir, "issue --role focal-point --country SN --id sn.focal-point");
  CHECK(duplicate.exit_code == 2);
  CHECK(duplicate.output.find("already has a certificate") != std::string::npos);
  CHECK(duplicate.output.find("fpx-ca renew --id sn.focal-point") != std::string::npos);

  const Run traversal = fpx_ca(ca.dir, "issue --role agency --country SN --id ../escape");
  CHECK(traversal.exit_code == 2);
  CHECK(!fs::exists(ca.dir / "escape"));

  // None of these is a stack trace or more than one line.
  for (const Run* r : {&role, &duplicate, &traversal}) {
    CHECK(r->output.find('\n') == r->output.size() - 1);
  }
}

TEST_CASE("a missing CA directory or a missing option exits with 2 and one clear line") {
  fpx::test::TempDir temp;
  const Run missing = fpx_ca(temp.path() / "nowhere", "issue --role agency --country SN --id sn.a");
  CHECK(missing.exit_code == 2);
  CHECK(missing.output.find("fpx-ca init") != std::string::npos);
  const Run no_id = fpx_ca(temp.path(), "issue --role agency --country SN");
  CHECK(no_id.exit_code == 2);
  CHECK(no_id.output.find("--id") != std::string::npos);
  const Run help = run(quote(FPX_BIN_DIR "/fpx-ca") + " --help");
  CHECK(help.exit_code == 0);
  CHECK(help.output.find("intermediate") != std::string::npos);
}

TEST_CASE("renew gives the same id a new serial and keys while the old certificate stays valid") {
  CaFixture ca;
  const std::string old_serial = serial_of(ca.focal);
  const auto old_identity = must(fpx::Identity::load(ca.focal, fpx::PassphraseSource{}));
  const Run renew = fpx_ca(ca.dir, "renew --id sn.focal-point");
  INFO(renew.output);
  REQUIRE(renew.exit_code == 0);
  const std::string new_serial = serial_of(ca.focal);
  CHECK(new_serial != old_serial);
  const auto new_identity = must(fpx::Identity::load(ca.focal, fpx::PassphraseSource{}));
  CHECK(new_identity.participant().id == fpx::ParticipantId("sn.focal-point"));
  CHECK(new_identity.participant().role == fpx::Role::focal_point);
  CHECK(new_identity.curve().public_key != old_identity.curve().public_key);

  const fs::path previous = ca.dir / "participants" / ("sn.focal-point.replaced-" + old_serial);
  REQUIRE(fs::exists(previous / fpx::kChainFile));
  CHECK(serial_of(previous) == old_serial);
  CHECK(ca.verify(leaf_of(previous), true).exit_code == 0);
  CHECK(ca.verify(leaf_of(ca.focal), true).exit_code == 0);

  // Revoking only the old serial leaves the new certificate valid.
  REQUIRE(fpx_ca(ca.dir, "revoke --id sn.focal-point --serial " + old_serial).exit_code == 0);
  CHECK(ca.verify(leaf_of(previous), true).output.find("certificate revoked") != std::string::npos);
  CHECK(ca.verify(leaf_of(ca.focal), true).exit_code == 0);
}

TEST_CASE("the SN intermediate refuses to issue for NE") {
  CaFixture ca;
  const Run refused = fpx_ca(ca.dir, "issue --ca sn --role agency --country NE --id ne.police");
  INFO(refused.output);
  CHECK(refused.exit_code == 2);
  CHECK(refused.output.find("may only issue for SN") != std::string::npos);
  CHECK(!fs::exists(ca.dir / "participants" / "ne.police" / fpx::kChainFile));
  // Without --ca, NE (no intermediate) is issued by the root.
  const Run by_root = fpx_ca(ca.dir, "issue --role agency --country NE --id ne.police");
  INFO(by_root.output);
  CHECK(by_root.exit_code == 0);
  CHECK(by_root.output.find("by the root CA") != std::string::npos);
}

TEST_CASE("show prints the participant's id, country, role and CURVE key, also as JSON") {
  CaFixture ca;
  std::ifstream public_file(ca.focal / fpx::kCurvePublicFile);
  std::string z85;
  std::getline(public_file, z85);
  const Run text = fpx_ca(ca.dir, "show " + quote((ca.focal / fpx::kChainFile).string()));
  INFO(text.output);
  CHECK(text.exit_code == 0);
  CHECK(text.output.find("participant:      sn.focal-point") != std::string::npos);
  CHECK(text.output.find("country:          SN") != std::string::npos);
  CHECK(text.output.find("role:             focal-point") != std::string::npos);
  CHECK(text.output.find(z85) != std::string::npos);
  const Run json = fpx_ca(ca.dir, "show --json " + quote((ca.focal / fpx::kChainFile).string()));
  INFO(json.output);
  CHECK(json.exit_code == 0);
  CHECK(json.output.find("\"role\": \"focal-point\"") != std::string::npos);
  CHECK(json.output.find("\"curve_public_key\": \"" + z85 + "\"") != std::string::npos);
}

TEST_CASE("a signing key issued with a passphrase is encrypted and loads only with it") {
  CaFixture ca;
  ::setenv("FPX_CA_TEST_PASSPHRASE", "correct horse battery staple", 1);
  const Run issued =
      fpx_ca(ca.dir, "issue --role agency --country SN --id sn.police --passphrase-env FPX_CA_TEST_PASSPHRASE");
  INFO(issued.output);
  REQUIRE(issued.exit_code == 0);
  const fs::path dir = ca.dir / "participants" / "sn.police";
  CHECK(fpx::test::read_file(dir / fpx::kSigningKeyFile).find("ENCRYPTED PRIVATE KEY") != std::string::npos);
  CHECK(fpx::Identity::load(dir, fpx::PassphraseSource::from_environment("FPX_CA_TEST_PASSPHRASE")).ok());
  CHECK(!fpx::Identity::load(dir, fpx::PassphraseSource{}).ok());
}

TEST_CASE("the CA's records are human-readable lines that list issues and revocations") {
  CaFixture ca;
  REQUIRE(fpx_ca(ca.dir, "revoke --id exchange.broker").exit_code == 0);
  const std::string issued = fpx::test::read_file(ca.dir / "issued.txt");
  CHECK(issued.find("id=sn.focal-point country=SN role=focal-point issuer=sn") != std::string::npos);
  CHECK(issued.find("id=exchange.broker country=NL role=broker issuer=root") != std::string::npos);
  const std::string revoked = fpx::test::read_file(ca.dir / "revoked.txt");
  CHECK(revoked.find("serial=" + serial_of(ca.broker) + " id=exchange.broker issuer=root revoked=") != std::string::npos);
}

TEST_CASE("the protocol's TrustStore over root-ca.pem and crls/ accepts an issued chain until its revocation") {
  CaFixture ca;
  auto store = must(fpx::TrustStore::load(ca.root, ca.dir / "crls"));
  const auto chain = must(fpx::Certificate::load_pem_file(ca.focal / fpx::kChainFile));
  std::vector<fpx::Bytes> der;
  for (const auto& cert : chain) der.push_back(cert.der());
  const std::vector<fpx::ByteView> views(der.begin(), der.end());
  const std::int64_t before = fpx::now_ms() - 30 * 1000;
  auto verified = must(store.verify_chain(views, before, fpx::now_ms(), fpx::RevocationCheck::required));
  CHECK(verified.participant.id == fpx::ParticipantId("sn.focal-point"));
  CHECK(verified.revocation == fpx::RevocationStatus::checked);

  REQUIRE(fpx_ca(ca.dir, "revoke --id sn.focal-point").exit_code == 0);
  REQUIRE(store.reload_crls().ok());
  const std::int64_t after = fpx::now_ms() + 2000;
  auto refused = store.verify_chain(views, after, after, fpx::RevocationCheck::required);
  REQUIRE(!refused.ok());
  CHECK(refused.error().code == fpx::ErrorCode::revoked);
  // Revocation counts from its date: a message made before it stays valid evidence.
  CHECK(store.verify_chain(views, before, fpx::now_ms(), fpx::RevocationCheck::required).ok());
}

// pki::Authority directly.

TEST_CASE("an intermediate refuses to issue for another country unless told to skip the check") {
  auto root = must(fpx::pki::Authority::create_root("Test Root", must(fpx::SigningKey::generate()),
                                                    fpx::pki::Validity::days_from_now(10)));
  auto sn = must(root.create_intermediate(fpx::CountryCode("SN"), must(fpx::SigningKey::generate()),
                                          fpx::pki::Validity::days_from_now(10)));
  CHECK(sn.country() == fpx::CountryCode("SN"));
  CHECK(!root.country().has_value());
  fpx::pki::ParticipantRequest request;
  request.id = fpx::ParticipantId("ne.police");
  request.country = fpx::CountryCode("NE");
  request.role = fpx::Role::agency;
  request.signing_public_key = must(fpx::SigningKey::generate()).public_key();
  request.validity = fpx::pki::Validity::days_from_now(1);
  auto refused = sn.issue(request);
  REQUIRE(!refused.ok());
  CHECK(refused.error().code == fpx::ErrorCode::invalid_argument);
  CHECK(sn.issue(request, fpx::pki::CountryCheck::skip_for_testing).ok());
  request.country = fpx::CountryCode("ne");
  auto lower = sn.issue(request, fpx::pki::CountryCheck::skip_for_testing);
  REQUIRE(!lower.ok());
  CHECK(lower.error().code == fpx::ErrorCode::invalid_argument);
}

TEST_CASE("a certificate minted for another country fails openssl verify on the name constraint") {
  fpx::test::TempDir temp;
  auto root = must(fpx::pki::Authority::create_root("Test Root", must(fpx::SigningKey::generate()),
                                                    fpx::pki::Validity::days_from_now(10)));
  auto sn = must(root.create_intermediate(fpx::CountryCode("SN"), must(fpx::SigningKey::generate()),
                                          fpx::pki::Validity::days_from_now(10)));
  fpx::pki::ParticipantRequest request;
  request.id = fpx::ParticipantId("ne.police");
  request.country = fpx::CountryCode("NE");
  request.role = fpx::Role::agency;
  request.signing_public_key = must(fpx::SigningKey::generate()).public_key();
  request.curve_public_key = must(fpx::CurveKeyPair::generate()).public_key;
  request.validity = fpx::pki::Validity::days_from_now(1);
  auto forged = must(sn.issue(request, fpx::pki::CountryCheck::skip_for_testing));
  request.id = fpx::ParticipantId("sn.police");
  request.country = fpx::CountryCode("SN");
  auto honest = must(sn.issue(request));

  write_text(temp.path() / "root.pem", root.certificate().pem());
  write_text(temp.path() / "sn.pem", sn.certificate().pem());
  write_text(temp.path() / "forged.pem", forged.pem());
  write_text(temp.path() / "honest.pem", honest.pem());
  const std::string base = "openssl verify -CAfile " + quote((temp.path() / "root.pem").string()) + " -untrusted " +
                           quote((temp.path() / "sn.pem").string()) + " ";
  const Run refused = run(base + quote((temp.path() / "forged.pem").string()));
  INFO(refused.output);
  CHECK(refused.exit_code != 0);
  CHECK(refused.output.find("permitted subtree violation") != std::string::npos);
  const Run accepted = run(base + quote((temp.path() / "honest.pem").string()));
  INFO(accepted.output);
  CHECK(accepted.exit_code == 0);
}

TEST_CASE("serials are random positive 128-bit numbers and the certificate reads back as issued") {
  auto root = must(fpx::pki::Authority::create_root("Test Root", must(fpx::SigningKey::generate()),
                                                    fpx::pki::Validity::days_from_now(10)));
  fpx::pki::ParticipantRequest request;
  request.id = fpx::ParticipantId("exchange.broker");
  request.country = fpx::CountryCode("NL");
  request.role = fpx::Role::broker;
  request.signing_public_key = must(fpx::SigningKey::generate()).public_key();
  request.curve_public_key = must(fpx::CurveKeyPair::generate()).public_key;
  request.validity = fpx::pki::Validity::days_from_now(1);
  auto first = must(root.issue(request));
  auto second = must(root.issue(request));
  CHECK(first.serial_hex() != second.serial_hex());
  CHECK(first.serial_hex().size() <= 32);
  CHECK(first.serial_hex().find('-') == std::string::npos);
  auto info = must(first.participant());
  CHECK(info.id == request.id);
  CHECK(info.country == request.country);
  CHECK(info.role == fpx::Role::broker);
  CHECK(info.curve_public_key == *request.curve_public_key);
  // C comes first: the intermediate's name constraint is a prefix match.
  const std::string subject = first.subject_text();
  CHECK(subject.find("NL") < subject.find("broker"));
  CHECK(!first.is_ca());
  CHECK(root.certificate().is_ca());
}

TEST_CASE("a CRL made by an authority lists its revoked serials with their dates") {
  fpx::test::TempDir temp;
  auto root = must(fpx::pki::Authority::create_root("Test Root", must(fpx::SigningKey::generate()),
                                                    fpx::pki::Validity::days_from_now(10)));
  const std::int64_t now = fpx::now_ms();
  auto pem = must(root.make_crl_pem({{"0a1b2c", now - 1000}, {"00ff", now}}, now - 60000, now + 86400000, 42));
  write_text(temp.path() / "root.crl.pem", pem);
  write_text(temp.path() / "root.pem", root.certificate().pem());
  const Run text = run("openssl crl -noout -text -CAfile " + quote((temp.path() / "root.pem").string()) + " -in " +
                       quote((temp.path() / "root.crl.pem").string()));
  INFO(text.output);
  CHECK(text.exit_code == 0);
  CHECK(text.output.find("verify OK") != std::string::npos);
  CHECK(text.output.find("Serial Number: 0A1B2C") != std::string::npos);
  CHECK(text.output.find("Serial Number: FF") != std::string::npos);
  CHECK(text.output.find("42") != std::string::npos);
  CHECK(!root.make_crl_pem({{"not-hex", now}}, now, now + 1000, 1).ok());
  CHECK(!root.make_crl_pem({{"-ab", now}}, now, now + 1000, 1).ok());
  CHECK(!root.make_crl_pem({}, now, now - 1000, 1).ok());
}
