#include "support/test_pki.hpp"

#include <fstream>
#include <random>

#include <catch2/catch.hpp>

namespace fpx::test {

namespace {
template <typename T>
T must(Result<T> result) {
  if (!result) FAIL("test PKI: " << result.error().describe());
  return std::move(result).value();
}

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  REQUIRE(out.good());
}
}  // namespace

TempDir::TempDir() {
  std::random_device random;
  for (;;) {
    path_ = std::filesystem::temp_directory_path() / ("fpx-test-" + std::to_string(random()));
    if (std::filesystem::create_directory(path_)) break;
  }
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

namespace {
// CAs valid for a year either side of now, so tests can date messages and
// participant certificates in the past.
pki::Validity ca_validity() { return {now_ms() - 365 * kDayMs, now_ms() + 365 * kDayMs}; }
}  // namespace

TestPki::TestPki(const std::vector<std::string>& intermediate_countries)
    : root_(must(pki::Authority::create_root("FPX Test Root CA", must(SigningKey::generate()), ca_validity()))) {
  root_pem_ = dir_.path() / "root-ca.pem";
  crl_dir_ = dir_.path() / "crls";
  std::filesystem::create_directory(crl_dir_);
  write_file(root_pem_, root_.certificate().pem());
  for (const auto& country : intermediate_countries) {
    intermediates_.emplace(country, must(root_.create_intermediate(CountryCode(country), must(SigningKey::generate()),
                                                                   ca_validity())));
  }
  std::int64_t now = now_ms();
  write_crls(now - 60'000, now + 7 * kDayMs);
}

const pki::Authority& TestPki::issuer_for(const std::string& country, bool via_intermediate) const {
  if (via_intermediate) {
    if (auto found = intermediates_.find(country); found != intermediates_.end()) return found->second;
  }
  return root_;
}

std::string officer_name(const std::string& id, const std::string& officer) {
  return id + "~" + officer;
}

std::filesystem::path TestPki::issue(const std::string& id, const std::string& country, Role role,
                                     const IssueOptions& options) {
  auto key = must(SigningKey::generate());
  auto curve = must(CurveKeyPair::generate());
  pki::ParticipantRequest request;
  request.id = ParticipantId(id);
  request.country = CountryCode(country);
  request.role = role;
  request.signing_public_key = key.public_key();
  if (options.with_curve_key) request.curve_public_key = curve.public_key;
  request.validity = options.validity;
  if (options.officer) request.officer = *options.officer;

  // An identity may be issued "by SN's intermediate" for another country to
  // test name constraints: the issuer is chosen by the first label of the id.
  std::string issuer_country = country;
  if (options.country_check == pki::CountryCheck::skip_for_testing) {
    std::string prefix = id.substr(0, id.find('.'));
    for (auto& c : prefix) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    issuer_country = prefix;
  }
  const pki::Authority& issuer = issuer_for(issuer_country, options.via_intermediate);
  Certificate certificate = must(issuer.issue(request, options.country_check));

  const std::string name = options.officer ? officer_name(id, *options.officer) : id;
  auto dir = dir_.path() / "participants" / name;
  std::filesystem::create_directories(dir);
  std::string chain = certificate.pem();
  if (&issuer != &root_) chain += issuer.certificate().pem();
  write_file(dir / kChainFile, chain);
  write_file(dir / kSigningKeyFile, must(key.to_pem(options.passphrase)));
  write_file(dir / kCurveSecretFile, z85_encode(curve.secret_key) + "\n");
  write_file(dir / kCurvePublicFile, z85_encode(curve.public_key) + "\n");

  std::optional<std::string> intermediate;
  if (&issuer != &root_) intermediate = issuer_country;
  issued_[name] = Issued{certificate.serial_hex(), intermediate};
  return dir;
}

Identity TestPki::identity(const std::string& id, const IssueOptions& options) {
  PassphraseSource source;
  std::filesystem::path passphrase_file = dir_.path() / (id + ".passphrase");
  if (!options.passphrase.empty()) {
    write_file(passphrase_file, options.passphrase);
    source = PassphraseSource::from_file(passphrase_file.string());
  }
  return must(Identity::load(dir_.path() / "participants" / id, source));
}

Identity TestPki::issue_identity(const std::string& id, const std::string& country, Role role,
                                 const IssueOptions& options) {
  issue(id, country, role, options);
  return identity(options.officer ? officer_name(id, *options.officer) : id, options);
}

void TestPki::revoke(const std::string& id, std::int64_t revoked_at_ms) {
  const Issued& issued = issued_.at(id);
  revoked_[issued.intermediate.value_or("root")].push_back(pki::RevokedEntry{issued.serial_hex, revoked_at_ms});
  write_crls(crl_this_update_ms_, crl_next_update_ms_);
}

void TestPki::write_crls(std::int64_t this_update_ms, std::int64_t next_update_ms) {
  crl_this_update_ms_ = this_update_ms;
  crl_next_update_ms_ = next_update_ms;
  write_file(crl_dir_ / "root.crl.pem",
             must(root_.make_crl_pem(revoked_["root"], this_update_ms, next_update_ms, ++crl_number_)));
  for (const auto& [country, authority] : intermediates_) {
    write_file(crl_dir_ / (country + ".crl.pem"),
               must(authority.make_crl_pem(revoked_[country], this_update_ms, next_update_ms, ++crl_number_)));
  }
}

TrustStore TestPki::trust_store() const { return must(TrustStore::load(root_pem_, crl_dir_)); }

}  // namespace fpx::test
