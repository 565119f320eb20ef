// A real PKI made at test time: root CA, national intermediates, participant
// identities written to disk exactly as fpx-ca writes them, and CRLs.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fpx/identity.hpp"
#include "fpx/pki.hpp"
#include "fpx/trust_store.hpp"

namespace fpx::test {

// A fresh directory under the system temp dir, removed with its contents.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

struct IssueOptions {
  pki::Validity validity = pki::Validity::days_from_now(30);
  bool via_intermediate = true;  // when the country has one
  bool with_curve_key = true;
  pki::CountryCheck country_check = pki::CountryCheck::enforce;
  std::string passphrase;  // encrypts the signing key when set
  // Issues an officer's certificate under the participant (same CN and C,
  // the officer extension naming it, keys of its own). Its identity lives
  // under officer_name(id, officer): pass that to identity(), revoke(),
  // BrokerProcess::enroll() and client_options().
  std::optional<std::string> officer;
};

// The name an officer's identity is kept under in a TestPki: "ne.focal-point~amadou".
std::string officer_name(const std::string& id, const std::string& officer);

constexpr std::int64_t kDayMs = 24LL * 60 * 60 * 1000;

class TestPki {
 public:
  // Root CA and national intermediates for `countries`; current CRLs for all.
  explicit TestPki(const std::vector<std::string>& intermediate_countries = {"SN"});

  const std::filesystem::path& root_pem() const { return root_pem_; }
  const std::filesystem::path& crl_dir() const { return crl_dir_; }
  const std::filesystem::path& dir() const { return dir_.path(); }
  pki::Authority& root() { return root_; }
  // A national CA made in the constructor: tests mint with it what fpx-ca would refuse.
  const pki::Authority& national_ca(const std::string& country) const { return intermediates_.at(country); }

  // Issues a participant (or, with options.officer, an officer) certificate
  // and writes its identity directory: participants/<id> or
  // participants/<officer_name(id, officer)>.
  std::filesystem::path issue(const std::string& id, const std::string& country, Role role,
                              const IssueOptions& options = {});
  Identity identity(const std::string& id, const IssueOptions& options = {});
  Identity issue_identity(const std::string& id, const std::string& country, Role role,
                          const IssueOptions& options = {});

  // Adds the participant's current certificate to its CA's CRL and rewrites the CRLs.
  void revoke(const std::string& id, std::int64_t revoked_at_ms);
  // Rewrites every CA's CRL with the given validity window.
  void write_crls(std::int64_t this_update_ms, std::int64_t next_update_ms);

  TrustStore trust_store() const;

 private:
  struct Issued {
    std::string serial_hex;
    std::optional<std::string> intermediate;  // issuing country, or root
  };
  const pki::Authority& issuer_for(const std::string& country, bool via_intermediate) const;

  TempDir dir_;
  std::filesystem::path root_pem_;
  std::filesystem::path crl_dir_;
  pki::Authority root_;
  std::map<std::string, pki::Authority> intermediates_;
  std::map<std::string, Issued> issued_;
  std::map<std::string, std::vector<pki::RevokedEntry>> revoked_;  // CA key ("root" or country) -> entries
  std::int64_t crl_this_update_ms_ = 0;
  std::int64_t crl_next_update_ms_ = 0;
  std::uint64_t crl_number_ = 1;
};

// Reads a whole file (test data).
std::string read_file(const std::filesystem::path& path);

}  // namespace fpx::test
