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

// What a line of issued.txt records: a participant's (or officer's)
// certificate, or a national CA's certificate signed by the root (its id is
// "national-ca.<cc>", its role field "national-ca").
enum class RecordKind { participant, national_ca };

// One line of issued.txt.
struct IssuedRecord {
  std::string serial_hex;  // lower case, as Certificate::serial_hex()
  ParticipantId id;
  CountryCode country;
  Role role = Role::agency;  // participant records only
  RecordKind kind = RecordKind::participant;
  std::string officer;  // empty: the participant's own certificate
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

// Whether signing a request for an id that already has a live certificate
// (same officer) is a renewal the operator asked for, or a mistake to refuse.
enum class ExistingId { refuse, renew };

struct SignRequest {
  std::string request_pem;  // PKCS#10, as `fpx keys new` writes it
  // "root", a country ("sn"), or empty: chosen by role and country as for issue.
  std::string issuer;
  int days = kDefaultParticipantDays;
  ExistingId existing = ExistingId::refuse;
};

struct SignedCertificate {
  Certificate certificate;
  std::string issuer;     // CA name
  std::string chain_pem;  // leaf, then the national CA's certificate if it issued it (never the root)
};

// Which CRLs `crl` re-issues: all of them, or only those whose nextUpdate
// falls within a window (what a timer runs, so unchanged CRLs keep their number).
struct CrlRenewal {
  std::optional<std::int64_t> renew_before_ms;  // nullopt: every CRL
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

  // A national CA's own directory, made on the machine of that state's focal
  // point: its key (ca/<cc>/key.pem, 0600) and request.csr for the root.
  // Returns the request PEM. The directory has no root key, ever.
  static Result<std::string> init_national(const std::filesystem::path& dir, const CountryCode& country);

  // Testing only: a national intermediate whose key is generated here, in the
  // root's directory. The documented way is sign_intermediate_request.
  Result<Certificate> add_intermediate(const CountryCode& country, int days);

  // The root signs a national CA's request; the key stays with that state.
  // Records it in issued.txt (id national-ca.<cc>) so it can be revoked.
  Result<Certificate> sign_intermediate_request(const std::string& request_pem, int days);

  // In a national CA's directory: installs the certificate the root signed
  // (checked: it is for this directory's key, and chains to root_ca) and the
  // root certificate, and publishes the national CA's first CRL.
  Result<Certificate> install_national(const std::filesystem::path& certificate_file,
                                       const std::filesystem::path& root_ca_file);

  // Verifies a participant's or officer's request and signs it with the
  // issuing CA's profile; refuses what that CA may not issue.
  Result<SignedCertificate> sign(const SignRequest& request);

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

  // Revokes one certificate given as a file, also one not recorded here (e.g.
  // issued by a national CA kept in this directory but signed elsewhere):
  // into the CRL of the CA here that signed it; refused if none did.
  Result<std::string> revoke_certificate(const Certificate& certificate, int crl_days);

  // Revokes a serial: a recorded one, or with `ca` an unrecorded one of that CA.
  Result<std::string> revoke_serial(const std::string& serial, const std::string& ca, int crl_days);

  // Re-issues CRLs into crls/ (every CA's, or only those about to expire). Returns the files written.
  Result<std::vector<std::filesystem::path>> publish_crls(int crl_days, const CrlRenewal& renewal = {});

  const std::filesystem::path& path() const { return dir_; }
  const std::vector<IssuedRecord>& issued() const { return issued_; }
  const std::vector<RevocationRecord>& revoked() const { return revoked_; }
  // Every CA whose key and certificate are in ca/: "root" first if present.
  std::vector<std::string> authority_names() const;

 private:
  // A new CA directory, locked: ca/ (0700), crls/ and issued/; refuses one that holds a CA.
  static Result<CaDirectory> create_layout(const std::filesystem::path& dir);
  CaDirectory(std::filesystem::path dir, int lock_fd) : dir_(std::move(dir)), lock_fd_(lock_fd) {}
  Status load_records();
  Result<Authority> load_authority(const std::string& name) const;
  Status write_authority(const std::string& name, const Authority& authority);
  Result<std::filesystem::path> publish_crl(const std::string& name, int crl_days);
  Result<IssuedIdentity> issue_with(const Authority& authority, const std::string& issuer_name,
                                    const IssueRequest& request, const std::filesystem::path& out_dir);
  bool is_revoked(const std::string& serial_hex) const;
  Status record_issued(const Certificate& certificate, const IssuedRecord& record);
  Status record_revocation(const std::string& serial_hex, const std::string& id, const std::string& issuer,
                           std::int64_t now);

  std::filesystem::path dir_;
  int lock_fd_ = -1;
  std::vector<IssuedRecord> issued_;
  std::vector<RevocationRecord> revoked_;
};

// "2026-11-27T23:30:00Z"
std::string format_utc(std::int64_t ms);

}  // namespace fpx::pki
