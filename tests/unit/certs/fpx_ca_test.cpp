// fpx-ca end to end (the real binary in a temp dir, checked with the openssl
// command line as an independent verifier) and pki::Authority directly.
#include <sys/stat.h>
#include <sys/wait.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fpx/certificate_request.hpp"
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

// fpx-ca exactly as given.
Run fpx_ca_exact(const fs::path& dir, const std::string& args) {
  return run(quote(FPX_BIN_DIR "/fpx-ca") + " --dir " + quote(dir.string()) + " " + args);
}

// The tests of the CA directory itself (records, CRLs, renewal of files)
// still let fpx-ca make keys on its side, as only tests may: the flag is
// added here so each of them reads as the command it exercises.
Run fpx_ca(const fs::path& dir, const std::string& args) {
  std::string extra;
  if (args.rfind("issue", 0) == 0 || args.rfind("renew", 0) == 0) extra = " --generate-keys-for-testing";
  if (args.rfind("intermediate --country", 0) == 0) extra = " --generate-key-for-testing";
  return fpx_ca_exact(dir, args + extra);
}

Run fpx_cli(const std::string& args) {
  return run(quote(FPX_BIN_DIR "/fpx") + " " + args);
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

// ---- keys made by their owners, requests signed by the CAs -------------------

namespace {

// The documented flow (certs/README.md): the root in root/, Senegal's national
// CA in its own directory sn-ca/ (its key made there, its request signed by
// the root), Senegal's focal point's keys made by `fpx keys new` in keys/,
// its request signed by the national CA and the chain installed beside the keys.
struct RequestFlow {
  fpx::test::TempDir temp;
  fs::path root_dir = temp.path() / "root";
  fs::path sn_dir = temp.path() / "sn-ca";
  fs::path keys = temp.path() / "keys";
  fs::path root = root_dir / "root-ca.pem";
  fs::path sn_cert = temp.path() / "sn-national-ca.pem";
  fs::path focal = keys / "sn.focal-point";

  RequestFlow() {
    step(fpx_ca_exact(root_dir, "init"));
    step(fpx_ca_exact(sn_dir, "national init --country SN"));
    step(fpx_ca_exact(root_dir, "intermediate --request " + quote((sn_dir / "request.csr").string()) + " --out " +
                                    quote(sn_cert.string())));
    step(fpx_ca_exact(sn_dir,
                      "national install --cert " + quote(sn_cert.string()) + " --root-ca " + quote(root.string())));
    make_keys("sn.focal-point", "SN", "focal-point");
    sign_and_install(sn_dir, "sn.focal-point");
  }

  static void step(const Run& r) {
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
  }

  fs::path request_of(const std::string& name) const { return keys / name / "request.csr"; }

  void make_keys(const std::string& id, const std::string& country, const std::string& role,
                 const std::string& officer = "", const std::string& name = "") {
    const fs::path out = keys / (name.empty() ? id : name);
    step(fpx_cli("keys new --id " + id + " --country " + country + " --role " + role +
                 (officer.empty() ? std::string() : " --officer " + officer) + " --out " + quote(out.string())));
  }

  Run sign(const fs::path& ca_dir, const std::string& name, const std::string& extra = "") const {
    return fpx_ca_exact(ca_dir, "sign --request " + quote(request_of(name).string()) + " --out " +
                                    quote((keys / (name + ".chain.pem")).string()) + extra);
  }

  void sign_and_install(const fs::path& ca_dir, const std::string& name, const std::string& extra = "") const {
    step(sign(ca_dir, name, extra));
    step(fpx_cli("keys install --dir " + quote((keys / name).string()) + " --chain " +
                 quote((keys / (name + ".chain.pem")).string())));
  }

  std::string crl_args() const {
    return " -crl_check_all -CRLfile " + quote((root_dir / "crls" / "root.crl.pem").string()) + " -CRLfile " +
           quote((sn_dir / "crls" / "sn.crl.pem").string());
  }

  Run verify(const fs::path& leaf, bool with_crls = true) const {
    return run("openssl verify -CAfile " + quote(root.string()) + " -untrusted " + quote(sn_cert.string()) +
               (with_crls ? crl_args() : std::string()) + " " + quote(leaf.string()));
  }
};

// Every file under `dir` whose content holds a PEM private key.
std::vector<fs::path> private_key_files(const fs::path& dir) {
  std::vector<fs::path> found;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.find("PRIVATE KEY-----") != std::string::npos) found.push_back(entry.path());
  }
  return found;
}

}  // namespace

TEST_CASE("a request made by fpx keys new passes openssl req -verify and asks for its id, role and CURVE key") {
  RequestFlow flow;
  const Run verified = run("openssl req -verify -noout -in " + quote(flow.request_of("sn.focal-point").string()));
  INFO(verified.output);
  CHECK(verified.exit_code == 0);
  CHECK(verified.output.find("verify OK") != std::string::npos);
  const Run text = run("openssl req -noout -text -in " + quote(flow.request_of("sn.focal-point").string()));
  INFO(text.output);
  CHECK(text.output.find("Subject: C = SN, CN = sn.focal-point") != std::string::npos);
  CHECK(text.output.find("ED25519") != std::string::npos);
  CHECK(text.output.find(fpx::oid::kRoleFocalPoint) != std::string::npos);
  CHECK(text.output.find(fpx::oid::kCurvePublicKey) != std::string::npos);

  std::ifstream in(flow.request_of("sn.focal-point"));
  const std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto info = must(fpx::parse_certificate_request(pem));
  const auto identity = must(fpx::Identity::load(flow.focal, fpx::PassphraseSource{}));
  CHECK(info.kind == fpx::RequestKind::participant);
  CHECK(info.id == fpx::ParticipantId("sn.focal-point"));
  CHECK(info.role == fpx::Role::focal_point);
  CHECK(info.curve_public_key == identity.curve().public_key);
  CHECK(info.signing_public_key == identity.signing_key().public_key());
}

TEST_CASE("fpx keys new writes 0600 keys in a 0700 directory, and with the signed chain it loads as an Identity") {
  RequestFlow flow;
  CHECK(mode_of(flow.focal) == 0700);
  CHECK(mode_of(flow.focal / fpx::kSigningKeyFile) == 0600);
  CHECK(mode_of(flow.focal / fpx::kCurveSecretFile) == 0600);
  CHECK(mode_of(flow.focal / fpx::kCurvePublicFile) == 0644);
  const auto identity = must(fpx::Identity::load(flow.focal, fpx::PassphraseSource{}));
  CHECK(identity.participant().id == fpx::ParticipantId("sn.focal-point"));
  CHECK(identity.chain().size() == 2);
  // A chain signed for someone else's request is refused and not left in place.
  flow.make_keys("sn.police", "SN", "agency");
  const Run wrong = fpx_cli("keys install --dir " + quote((flow.keys / "sn.police").string()) + " --chain " +
                            quote((flow.keys / "sn.focal-point.chain.pem").string()));
  INFO(wrong.output);
  CHECK(wrong.exit_code == 2);
  CHECK(!fs::exists(flow.keys / "sn.police" / fpx::kChainFile));
  // The id must fit its country already on the owner's machine.
  const Run other_country =
      fpx_cli("keys new --id ne.police --country SN --role agency --out " + quote((flow.keys / "x").string()));
  CHECK(other_country.exit_code == 2);
  CHECK(!fs::exists(flow.keys / "x"));
}

TEST_CASE(
    "the root signs a national CA's request: the chain verifies, the EKU lists its roles, its key is not in the root's "
    "directory") {
  RequestFlow flow;
  const Run intermediate = run("openssl x509 -noout -text -in " + quote(flow.sn_cert.string()));
  INFO(intermediate.output);
  CHECK(intermediate.output.find("Subject: C = SN, CN = SN national CA") != std::string::npos);
  CHECK(intermediate.output.find("DirName:C = SN") != std::string::npos);
  CHECK(intermediate.output.find("X509v3 Extended Key Usage") != std::string::npos);
  CHECK(intermediate.output.find(fpx::oid::kRoleFocalPoint) != std::string::npos);
  CHECK(intermediate.output.find(fpx::oid::kRoleAgency) != std::string::npos);
  CHECK(intermediate.output.find(fpx::oid::kRoleBroker) == std::string::npos);
  CHECK(run("openssl verify -CAfile " + quote(flow.root.string()) + " " + quote(flow.sn_cert.string())).exit_code == 0);

  const fs::path leaf = leaf_of(flow.focal);
  const Run verified = flow.verify(leaf);
  INFO(verified.output);
  CHECK(verified.exit_code == 0);

  // Only the root's own key is in the root's directory; the national CA's
  // key is only in its own; the focal point's only in its key directory.
  CHECK(private_key_files(flow.root_dir) == std::vector<fs::path>{flow.root_dir / "ca" / "root" / "key.pem"});
  CHECK(private_key_files(flow.sn_dir) == std::vector<fs::path>{flow.sn_dir / "ca" / "sn" / "key.pem"});
  CHECK(!fs::exists(flow.root_dir / "ca" / "sn"));
  // The root still knows the national CA it signed, to revoke it.
  std::ifstream issued(flow.root_dir / "issued.txt");
  const std::string records((std::istreambuf_iterator<char>(issued)), std::istreambuf_iterator<char>());
  CHECK(records.find("id=national-ca.sn country=SN role=national-ca issuer=root") != std::string::npos);
}

TEST_CASE("a national CA refuses to sign a broker's or an observer's request, which the root signs") {
  RequestFlow flow;
  flow.make_keys("exchange.broker", "SN", "broker");
  flow.make_keys("cso.watch", "SN", "observer");
  for (const char* name : {"exchange.broker", "cso.watch"}) {
    const Run refused = flow.sign(flow.sn_dir, name);
    INFO(refused.output);
    CHECK(refused.exit_code == 2);
    CHECK(refused.output.find("may not issue a") != std::string::npos);
    CHECK(refused.output.find("only the root issues broker and observer") != std::string::npos);
    CHECK(refused.output.find('\n') == refused.output.size() - 1);
    CHECK(!fs::exists(flow.keys / (std::string(name) + ".chain.pem")));
    flow.sign_and_install(flow.root_dir, name);
    CHECK(run("openssl verify -CAfile " + quote(flow.root.string()) + " " + quote(leaf_of(flow.keys / name).string()))
              .exit_code == 0);
  }
}

TEST_CASE("a request for an id of another country, or for another country, is refused by the national CA") {
  RequestFlow flow;
  // fpx keys new refuses such ids itself; a hand-made request is what an
  // attacker would send.
  auto key = must(fpx::SigningKey::generate());
  auto curve = must(fpx::CurveKeyPair::generate());
  struct Case {
    const char* id;
    const char* country;
    const char* expected;
  };
  for (const Case c : {Case{"ne.police", "SN", "ne."}, Case{"ne.police", "NE", "may only issue for SN"}}) {
    const std::string pem = must(fpx::make_participant_request(
        key, fpx::ParticipantId(c.id), fpx::CountryCode(c.country), fpx::Role::agency, curve.public_key, std::nullopt));
    fs::create_directories(flow.keys / "hand");
    fs::remove(flow.keys / "hand" / "request.csr");
    write_text(flow.keys / "hand" / "request.csr", pem);
    const Run refused = flow.sign(flow.sn_dir, "hand");
    INFO(c.id << " " << c.country << ": " << refused.output);
    CHECK(refused.exit_code == 2);
    CHECK(refused.output.find(c.expected) != std::string::npos);
    CHECK(!fs::exists(flow.keys / "hand.chain.pem"));
  }
}

TEST_CASE("a tampered request fails openssl req -verify and fpx-ca refuses it") {
  RequestFlow flow;
  flow.make_keys("sn.police", "SN", "agency");
  const fs::path der = flow.keys / "request.der";
  REQUIRE(run("openssl req -in " + quote(flow.request_of("sn.police").string()) + " -outform DER -out " +
              quote(der.string()))
              .exit_code == 0);
  std::ifstream in(der, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  const auto cn = bytes.find("sn.police");
  REQUIRE(cn != std::string::npos);
  bytes[cn + 3] = 'q';  // the CN now reads sn.qolice: changed after the owner signed
  write_text(der, bytes);
  fs::create_directories(flow.keys / "tampered");
  REQUIRE(
      run("openssl req -inform DER -in " + quote(der.string()) + " -out " + quote(flow.request_of("tampered").string()))
          .exit_code == 0);
  const Run verify = run("openssl req -verify -noout -in " + quote(flow.request_of("tampered").string()));
  INFO(verify.output);
  // OpenSSL 3.0's `req -verify` reports the failure but exits 0.
  CHECK(verify.output.find("verify failure") != std::string::npos);
  CHECK(verify.output.find("verify OK") == std::string::npos);
  const Run refused = flow.sign(flow.sn_dir, "tampered");
  INFO(refused.output);
  CHECK(refused.exit_code == 2);
  CHECK(refused.output.find("self-signature does not verify") != std::string::npos);
}

TEST_CASE("a request with a P-256 key made by openssl is refused: FPX keys are Ed25519") {
  RequestFlow flow;
  const fs::path dir = flow.keys / "ec";
  fs::create_directories(dir);
  REQUIRE(
      run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " + quote((dir / "key.pem").string()))
          .exit_code == 0);
  const Run req = run("openssl req -new -key " + quote((dir / "key.pem").string()) + " -subj /C=SN/CN=sn.police -out " +
                      quote((dir / "request.csr").string()));
  INFO(req.output);
  REQUIRE(req.exit_code == 0);
  const Run refused = flow.sign(flow.sn_dir, "ec");
  INFO(refused.output);
  CHECK(refused.exit_code == 2);
  CHECK(refused.output.find("not Ed25519") != std::string::npos);
  CHECK(!fs::exists(flow.keys / "ec.chain.pem"));
}

TEST_CASE("a national CA's request is signed only by intermediate, a participant's only by sign") {
  RequestFlow flow;
  const Run wrong_way = fpx_ca_exact(flow.root_dir, "sign --request " + quote((flow.sn_dir / "request.csr").string()) +
                                                        " --out " + quote((flow.keys / "x.pem").string()));
  CHECK(wrong_way.exit_code == 2);
  CHECK(wrong_way.output.find("fpx-ca intermediate --request") != std::string::npos);
  const Run participant =
      fpx_ca_exact(flow.root_dir, "intermediate --request " + quote(flow.request_of("sn.focal-point").string()));
  CHECK(participant.exit_code == 2);
  CHECK(participant.output.find("fpx-ca sign --request") != std::string::npos);
  // A second live national CA for SN is refused: revoke the first to replace it.
  const Run second =
      fpx_ca_exact(flow.root_dir, "intermediate --request " + quote((flow.sn_dir / "request.csr").string()));
  CHECK(second.exit_code == 2);
  CHECK(second.output.find("already has a live certificate") != std::string::npos);
  // The root's directory holds no key of SN: it cannot sign as the SN national CA.
  const Run as_sn = flow.sign(flow.root_dir, "sn.focal-point", " --ca sn --renew");
  CHECK(as_sn.exit_code == 2);
  // Making keys on the CA's side is for tests only, and says so.
  const Run issue = fpx_ca_exact(flow.root_dir, "issue --role broker --country NL --id exchange.broker");
  CHECK(issue.exit_code == 2);
  CHECK(issue.output.find("fpx keys new") != std::string::npos);
}

TEST_CASE("renewal from a new request: refused without --renew, then both certificates verify until one is revoked") {
  RequestFlow flow;
  flow.make_keys("sn.focal-point", "SN", "focal-point", "", "sn.focal-point.2");
  const Run refused = flow.sign(flow.sn_dir, "sn.focal-point.2");
  INFO(refused.output);
  CHECK(refused.exit_code == 2);
  CHECK(refused.output.find("--renew") != std::string::npos);
  flow.sign_and_install(flow.sn_dir, "sn.focal-point.2", " --renew");
  const fs::path old_leaf = leaf_of(flow.focal);
  const fs::path new_leaf = leaf_of(flow.keys / "sn.focal-point.2");
  CHECK(flow.verify(old_leaf).exit_code == 0);
  CHECK(flow.verify(new_leaf).exit_code == 0);
  REQUIRE(fpx_ca_exact(flow.sn_dir, "revoke --cert " + quote(old_leaf.string())).exit_code == 0);
  CHECK(flow.verify(old_leaf).output.find("certificate revoked") != std::string::npos);
  CHECK(flow.verify(new_leaf).exit_code == 0);
  // A renewal cannot change the role: an agency id never becomes a focal point.
  flow.make_keys("sn.focal-point", "SN", "agency", "", "sn.focal-point.as-agency");
  const Run role = flow.sign(flow.sn_dir, "sn.focal-point.as-agency", " --renew");
  CHECK(role.exit_code == 2);
  CHECK(role.output.find("keeps its role and country") != std::string::npos);
}

TEST_CASE("an officer's request gives a certificate of its own under the participant, shown by fpx-ca show") {
  RequestFlow flow;
  flow.make_keys("sn.focal-point", "SN", "focal-point", "awa.diop", "awa.diop");
  flow.sign_and_install(flow.sn_dir, "awa.diop");
  const auto identity = must(fpx::Identity::load(flow.keys / "awa.diop", fpx::PassphraseSource{}));
  CHECK(identity.participant().id == fpx::ParticipantId("sn.focal-point"));
  CHECK(identity.participant().officer == "awa.diop");
  const Run show = fpx_ca_exact(flow.sn_dir, "show " + quote((flow.keys / "awa.diop" / fpx::kChainFile).string()));
  CHECK(show.output.find("awa.diop") != std::string::npos);
  CHECK(flow.verify(leaf_of(flow.keys / "awa.diop")).exit_code == 0);
}

TEST_CASE(
    "revoke --cert revokes a certificate signed elsewhere with this directory's CA key, and refuses another CA's") {
  RequestFlow flow;
  // A certificate the SN national CA's key signed without its directory
  // recording it (what a copy of that key elsewhere would make).
  auto sn_key = must(fpx::SigningKey::load_pem(flow.sn_dir / "ca" / "sn" / "key.pem", fpx::PassphraseSource{}));
  auto sn_cert = must(fpx::Certificate::load_pem_file(flow.sn_cert)).front();
  fpx::pki::Authority sn(sn_cert, std::move(sn_key));
  auto curve = must(fpx::CurveKeyPair::generate());
  auto key = must(fpx::SigningKey::generate());
  fpx::pki::ParticipantRequest request;
  request.id = fpx::ParticipantId("sn.unrecorded");
  request.country = fpx::CountryCode("SN");
  request.role = fpx::Role::agency;
  request.signing_public_key = key.public_key();
  request.curve_public_key = curve.public_key;
  request.validity = fpx::pki::Validity::days_from_now(30);
  const auto unrecorded = must(sn.issue(request));
  const fs::path file = flow.keys / "unrecorded.pem";
  write_text(file, unrecorded.pem());
  CHECK(flow.verify(file).exit_code == 0);

  // The root's directory does not hold the SN key: it says where to go.
  const Run elsewhere = fpx_ca_exact(flow.root_dir, "revoke --cert " + quote(file.string()));
  INFO(elsewhere.output);
  CHECK(elsewhere.exit_code == 2);
  CHECK(elsewhere.output.find("whose key is not in") != std::string::npos);
  // By serial alone, an unrecorded serial needs the certificate or --ca.
  const Run serial_only = fpx_ca_exact(flow.sn_dir, "revoke --serial " + unrecorded.serial_hex());
  CHECK(serial_only.exit_code == 2);
  CHECK(serial_only.output.find("--cert FILE") != std::string::npos);

  const Run revoked = fpx_ca_exact(flow.sn_dir, "revoke --cert " + quote(file.string()));
  INFO(revoked.output);
  REQUIRE(revoked.exit_code == 0);
  CHECK(flow.verify(file).output.find("certificate revoked") != std::string::npos);
  CHECK(flow.verify(leaf_of(flow.focal)).exit_code == 0);

  // The root revokes the SN national CA itself: its whole branch fails.
  const Run national = fpx_ca_exact(flow.root_dir, "revoke --cert " + quote(flow.sn_cert.string()));
  INFO(national.output);
  REQUIRE(national.exit_code == 0);
  CHECK(flow.verify(leaf_of(flow.focal)).output.find("certificate revoked") != std::string::npos);
}

TEST_CASE("crl --renew-before re-issues only the CRLs that expire within the window") {
  RequestFlow flow;
  const auto crl_number = [&](const fs::path& crl) {
    const Run r = run("openssl crl -noout -crlnumber -in " + quote(crl.string()));
    return r.output;
  };
  const fs::path root_crl = flow.root_dir / "crls" / "root.crl.pem";
  const std::string before = crl_number(root_crl);
  const Run nothing = fpx_ca_exact(flow.root_dir, "crl --renew-before 2d");
  INFO(nothing.output);
  REQUIRE(nothing.exit_code == 0);
  CHECK(nothing.output.find("nothing to do") != std::string::npos);
  CHECK(crl_number(root_crl) == before);

  REQUIRE(fpx_ca_exact(flow.root_dir, "crl --days 1").exit_code == 0);
  const std::string short_lived = crl_number(root_crl);
  CHECK(short_lived != before);
  const Run renewed = fpx_ca_exact(flow.root_dir, "crl --renew-before 2d --days 7");
  INFO(renewed.output);
  REQUIRE(renewed.exit_code == 0);
  CHECK(renewed.output.find("root.crl.pem") != std::string::npos);
  CHECK(crl_number(root_crl) != short_lived);
  const Run next = run("openssl crl -noout -nextupdate -in " + quote(root_crl.string()));
  CHECK(next.exit_code == 0);
  CHECK(fpx_ca_exact(flow.root_dir, "crl --renew-before soon").exit_code == 2);
  // The national CA renews its own CRL in its own directory.
  CHECK(fpx_ca_exact(flow.sn_dir, "crl --renew-before 8d").output.find("sn.crl.pem") != std::string::npos);
}

TEST_CASE("hand-made requests asking for more than an FPX request may carry are refused by fpx-ca sign") {
  RequestFlow flow;
  const fs::path dir = flow.keys / "hand";
  fs::create_directories(dir);
  const fs::path key = dir / "key.pem";
  REQUIRE(run("openssl genpkey -algorithm ed25519 -out " + quote(key.string())).exit_code == 0);
  const std::string curve_hex = "DER:04:20:" + [] {
    std::string hex;
    for (int i = 0; i < 32; ++i) hex += (i ? ":" : "") + std::string("11");
    return hex;
  }();
  const std::string role = std::string("extendedKeyUsage=") + fpx::oid::kRoleAgency;
  const std::string curve = std::string(fpx::oid::kCurvePublicKey) + "=" + curve_hex;
  // Each request is made by openssl from an Ed25519 key, self-signed and
  // valid as PKCS#10: only FPX's own rules can refuse it.
  const auto attempt = [&](const std::string& subject, const std::vector<std::string>& extensions) {
    std::string command = "openssl req -new -key " + quote(key.string()) + " -subj " + quote(subject) + " -out " +
                          quote((dir / "request.csr").string());
    for (const auto& ext : extensions) command += " -addext " + quote(ext);
    fs::remove(dir / "request.csr");
    const Run made = run(command);
    INFO(made.output);
    REQUIRE(made.exit_code == 0);
    return flow.sign(flow.sn_dir, "hand");
  };
  SECTION("the baseline request made this way is signed") {
    const Run ok = attempt("/C=SN/CN=sn.hand", {role, curve});
    INFO(ok.output);
    CHECK(ok.exit_code == 0);
  }
  SECTION("a requested basicConstraints CA:TRUE is refused, not silently dropped") {
    const Run r = attempt("/C=SN/CN=sn.hand", {role, curve, "basicConstraints=critical,CA:TRUE"});
    CHECK(r.exit_code == 2);
    CHECK(r.output.find("unexpected extension") != std::string::npos);
  }
  SECTION("two roles in one request are refused") {
    const Run r = attempt("/C=SN/CN=sn.hand", {role + "," + fpx::oid::kRoleFocalPoint, curve});
    CHECK(r.exit_code == 2);
    CHECK(r.output.find("exactly one FPX role") != std::string::npos);
  }
  SECTION("a subject with CN before C is refused (the name constraint needs C first)") {
    const Run r = attempt("/CN=sn.hand/C=SN", {role, curve});
    CHECK(r.exit_code == 2);
    CHECK(r.output.find("in that order") != std::string::npos);
  }
  SECTION("a subject with a second CN is refused") {
    const Run r = attempt("/C=SN/CN=sn.hand/CN=sn.focal-point", {role, curve});
    CHECK(r.exit_code == 2);
    CHECK(r.output.find("exactly C=<cc>, CN=<name>") != std::string::npos);
  }
  SECTION("a request without a CURVE key is refused") {
    const Run r = attempt("/C=SN/CN=sn.hand", {role});
    CHECK(r.exit_code == 2);
    CHECK(r.output.find("no CURVE public key") != std::string::npos);
  }
  SECTION("a national CA's request with extensions is refused") {
    const Run national = attempt("/C=NE/CN=NE national CA", {"basicConstraints=critical,CA:TRUE"});
    CHECK(national.exit_code == 2);
    CHECK(national.output.find("carries no extension") != std::string::npos);
  }
}

TEST_CASE("a request carrying another participant's CURVE or signing key is refused by the CA that signed the other") {
  RequestFlow flow;
  const auto victim = must(fpx::Identity::load(flow.focal, fpx::PassphraseSource{}));
  auto own_key = must(fpx::SigningKey::generate());
  auto own_curve = must(fpx::CurveKeyPair::generate());
  fs::create_directories(flow.keys / "thief");
  SECTION("the focal point's CURVE key under an agency's id") {
    write_text(flow.request_of("thief"),
               must(fpx::make_participant_request(own_key, fpx::ParticipantId("sn.thief"), fpx::CountryCode("SN"),
                                                  fpx::Role::agency, victim.curve().public_key, std::nullopt)));
    const Run r = flow.sign(flow.sn_dir, "thief");
    INFO(r.output);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find("CURVE public key is already in the certificate of 'sn.focal-point'") != std::string::npos);
  }
  SECTION("the focal point's signing key under an agency's id") {
    write_text(
        flow.request_of("thief"),
        must(fpx::make_participant_request(victim.signing_key(), fpx::ParticipantId("sn.thief"), fpx::CountryCode("SN"),
                                           fpx::Role::agency, own_curve.public_key, std::nullopt)));
    const Run r = flow.sign(flow.sn_dir, "thief");
    INFO(r.output);
    CHECK(r.exit_code == 2);
    CHECK(r.output.find("signing public key is already in the certificate of 'sn.focal-point'") != std::string::npos);
  }
  CHECK(!fs::exists(flow.keys / "thief.chain.pem"));
}

TEST_CASE("fpx keys new encrypts the signing key with a passphrase, and keys install needs the same passphrase") {
  RequestFlow flow;
  ::setenv("FPX_KEYS_TEST_PASSPHRASE", "correct horse battery staple", 1);
  const fs::path dir = flow.keys / "sn.guarded";
  const Run made = fpx_cli(
      "keys new --id sn.guarded --country SN --role agency --passphrase-env "
      "FPX_KEYS_TEST_PASSPHRASE --out " +
      quote(dir.string()));
  INFO(made.output);
  REQUIRE(made.exit_code == 0);
  std::ifstream in(dir / fpx::kSigningKeyFile);
  const std::string key_pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(key_pem.find("ENCRYPTED PRIVATE KEY") != std::string::npos);
  REQUIRE(flow.sign(flow.sn_dir, "sn.guarded").exit_code == 0);
  const std::string chain = quote((flow.keys / "sn.guarded.chain.pem").string());
  const Run without = fpx_cli("keys install --dir " + quote(dir.string()) + " --chain " + chain);
  CHECK(without.exit_code == 2);
  CHECK(!fs::exists(dir / fpx::kChainFile));
  const Run with = fpx_cli("keys install --dir " + quote(dir.string()) + " --chain " + chain +
                           " --passphrase-env FPX_KEYS_TEST_PASSPHRASE");
  INFO(with.output);
  CHECK(with.exit_code == 0);
  CHECK(must(fpx::Identity::load(dir, fpx::PassphraseSource::from_environment("FPX_KEYS_TEST_PASSPHRASE")))
            .participant()
            .id == fpx::ParticipantId("sn.guarded"));
  ::unsetenv("FPX_KEYS_TEST_PASSPHRASE");
}
