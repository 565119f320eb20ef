// The exchange's CA kept in a directory: the root, the national
// intermediates, every certificate ever issued, the revocations and the
// published CRLs. fpx-ca is a thin command line over this class.
//
// Layout (see certs/README.md):
//   root-ca.pem                 the root certificate, for verifiers
//   crls/<ca>.crl.pem           each CA's current CRL (root.crl.pem, sn.crl.pem): a broker's CRL directory
//   ca/<ca>/cert.pem            a CA's certificate ("root" or the lower-case country)
//   ca/<ca>/key.pem             its private key, mode 0600 (directory 0700)
//   ca/<ca>/crl-number          the last CRL number it used
//   issued.txt                  one line per certificate issued (never rewritten, only appended)
//   revoked.txt                 one line per revocation (appended)
//   issued/<serial>.pem         every participant certificate issued
//   participants/<id>/          default output of issue/renew (identity.hpp layout)
//   .lock                       flock()ed while a command runs
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "fpx/pki.hpp"

namespace fpx::pki {

constexpr int kDefaultRootDays = 3650;
constexpr int kDefaultIntermediateDays = 1825;
constexpr int kDefaultParticipantDays = 730;
constexpr int kDefaultCrlDays = 7;
inline constexpr const char* kRootCaName = "root";

// One line of issued.txt.
struct IssuedRecord {
  std::string serial_hex;  // lower case, as Certificate::serial_hex()
  ParticipantId id;
  CountryCode country;
  Role role = Role::agency;
  std::string issuer;  // CA name: "root" or a lower-case country
  std::int64_t issued_at_ms = 0;
  std::int64_t not_after_ms = 0;
};

// One line of revoked.txt.
struct RevocationRecord {
  std::string serial_hex;
  std::string issuer;
  std::int64_t revoked_at_ms = 0;
};

struct IssueRequest {
  ParticipantId id;
  CountryCode country;
  Role role = Role::agency;
  int days = kDefaultParticipantDays;
  // Force the issuing CA ("root" or a country); empty picks by the rules:
  // broker and observer by the root, others by their country's intermediate
  // if there is one, else by the root.
  std::string issuer;
  std::filesystem::path out_dir;  // empty: <dir>/participants/<id>
  std::string key_passphrase;     // empty: signing-key.pem is not encrypted
};

struct IssuedIdentity {
  Certificate certificate;
  std::string issuer;
  std::filesystem::path dir;
  std::optional<std::filesystem::path> previous_dir;  // renew: where the old identity was moved
};

class CaDirectory {
 public:
  // Creates the directory (which must not hold a CA yet), the root and its empty CRL.
  static Result<CaDirectory> init(const std::filesystem::path& dir, const std::string& root_name, int days);
  // Opens an existing CA directory and takes its lock.
  static Result<CaDirectory> open(const std::filesystem::path& dir);

  CaDirectory(CaDirectory&&) noexcept;
  CaDirectory& operator=(CaDirectory&&) noexcept;
  CaDirectory(const CaDirectory&) = delete;
  CaDirectory& operator=(const CaDirectory&) = delete;
  ~CaDirectory();

  // A national intermediate for `country` signed by the root, and its empty CRL.
  Result<Certificate> add_intermediate(const CountryCode& country, int days);

  // New keys and certificate for an id that has none yet; writes the identity directory.
  Result<IssuedIdentity> issue(const IssueRequest& request);

  // New keys and certificate for an id that has one; the old certificates stay
  // valid (until they expire or are revoked). An existing identity directory
  // at the output path is moved aside, not deleted.
  Result<IssuedIdentity> renew(const ParticipantId& id, int days, const std::filesystem::path& out_dir,
                               const std::string& key_passphrase);

  // Revokes every unexpired, unrevoked certificate of `id` (or only `serial`),
  // dated now, and republishes the CRLs of the CAs concerned. Returns the serials revoked.
  Result<std::vector<std::string>> revoke(const ParticipantId& id, const std::optional<std::string>& serial,
                                          int crl_days);

  // Re-issues every CA's CRL into crls/. Returns the files written.
  Result<std::vector<std::filesystem::path>> publish_crls(int crl_days);

  const std::filesystem::path& path() const { return dir_; }
  const std::vector<IssuedRecord>& issued() const { return issued_; }
  const std::vector<RevocationRecord>& revoked() const { return revoked_; }
  // "root" and every intermediate's name, from ca/.
  std::vector<std::string> authority_names() const;

 private:
  CaDirectory(std::filesystem::path dir, int lock_fd) : dir_(std::move(dir)), lock_fd_(lock_fd) {}
  Status load_records();
  Result<Authority> load_authority(const std::string& name) const;
  Status write_authority(const std::string& name, const Authority& authority);
  Result<std::filesystem::path> publish_crl(const std::string& name, int crl_days);
  Result<IssuedIdentity> issue_with(const Authority& authority, const std::string& issuer_name,
                                    const IssueRequest& request, const std::filesystem::path& out_dir);
  bool is_revoked(const std::string& serial_hex) const;

  std::filesystem::path dir_;
  int lock_fd_ = -1;
  std::vector<IssuedRecord> issued_;
  std::vector<RevocationRecord> revoked_;
};

// "2026-11-27T23:30:00Z"
std::string format_utc(std::int64_t ms);

}  // namespace fpx::pki
