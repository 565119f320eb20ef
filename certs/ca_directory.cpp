// The file-based CA behind fpx-ca. Private keys are created with mode 0600
// from the first byte (O_CREAT|O_EXCL, never chmod afterwards), so there is
// no window in which another local user can open them; records are
// append-only text so an operator (or auditor) can read the CA's history.
#include "fpx/ca_directory.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>
#include <utility>

#include "fpx/certificate_request.hpp"
#include "fpx/identity.hpp"
#include "fpx/validate.hpp"

namespace fpx::pki {
namespace fs = std::filesystem;
namespace {

constexpr mode_t kPrivateFileMode = 0600;  // keys: owner only
constexpr mode_t kPublicFileMode = 0644;   // certificates, CRLs, records
constexpr mode_t kPrivateDirMode = 0700;   // directories holding keys
// thisUpdate is backdated by this much so that a verifier whose clock is a
// little behind does not refuse a fresh CRL as "not yet valid" (and, failing
// closed, refuse every message).
constexpr std::int64_t kCrlSkewMs = 60 * 1000;

const char* kIssuedFile = "issued.txt";
const char* kRevokedFile = "revoked.txt";
const char* kRootCaFile = "root-ca.pem";
// The role field of a national CA's record in issued.txt, and its id prefix.
const char* kNationalCaRole = "national-ca";
const char* kNationalCaIdPrefix = "national-ca.";
// What a national CA's directory hands to the root.
const char* kRequestFile = "request.csr";

Error io_error(const std::string& what, const fs::path& path) {
  return make_error(ErrorCode::io_error, what + " " + path.string() + ": " + std::strerror(errno));
}

Status write_all(int fd, const std::string& content, const fs::path& path) {
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot write", path);
    }
    done += static_cast<std::size_t>(n);
  }
  // fsync: a CA that crashes must not lose the record of a certificate it issued.
  if (::fsync(fd) != 0) return io_error("cannot sync", path);
  return {};
}

// Creates a file that must not exist yet, with its final mode from the start.
// O_EXCL|O_NOFOLLOW stops a planted file or symlink from redirecting a key
// into a place someone else can read.
Status write_new_file(const fs::path& path, const std::string& content, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return io_error("cannot create", path);
  auto status = write_all(fd, content, path);
  if (::close(fd) != 0 && status) return io_error("cannot close", path);
  return status;
}

// Replaces a file atomically (write beside, then rename): a broker reloading
// its CRL directory on SIGHUP never reads half a CRL.
Status replace_file(const fs::path& path, const std::string& content, mode_t mode) {
  fs::path temp = path;
  temp += ".tmp";
  ::unlink(temp.c_str());  // a leftover of a crashed run
  if (auto st = write_new_file(temp, content, mode); !st) return st;
  if (::rename(temp.c_str(), path.c_str()) != 0) return io_error("cannot rename onto", path);
  return {};
}

Status append_line(const fs::path& path, const std::string& line) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, kPublicFileMode);
  if (fd < 0) return io_error("cannot open", path);
  auto status = write_all(fd, line + "\n", path);
  ::close(fd);
  return status;
}

Status make_dir(const fs::path& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) != 0) return io_error("cannot create directory", path);
  return {};
}

Result<std::string> read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::io_error, "cannot read " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string to_lower(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// Serials compare as numbers: "00AB:CD" == "abcd".
std::string normalize_serial(const std::string& serial) {
  std::string out;
  for (char c : serial) {
    if (c != ':') out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  const auto first = out.find_first_not_of('0');
  return first == std::string::npos ? std::string("0") : out.substr(first);
}

std::optional<std::int64_t> parse_utc(const std::string& text) {
  std::tm tm{};
  const char* end = ::strptime(text.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  return static_cast<std::int64_t>(::timegm(&tm)) * 1000;
}

// "key=value key=value": values never contain spaces (ids, codes, hex, times).
std::map<std::string, std::string> parse_fields(const std::string& line) {
  std::map<std::string, std::string> fields;
  std::istringstream in(line);
  std::string token;
  while (in >> token) {
    const auto eq = token.find('=');
    if (eq != std::string::npos) fields[token.substr(0, eq)] = token.substr(eq + 1);
  }
  return fields;
}

std::string ca_name_for(const CountryCode& country) { return to_lower(country.str()); }

Error bad_country(const std::string& code) {
  return make_error(ErrorCode::invalid_argument,
                    "'" + code + "' is not an ISO 3166-1 alpha-2 country code; use two upper-case letters such as SN");
}

}  // namespace


std::string format_utc(std::int64_t ms) {
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char text[32] = {};
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

CaDirectory::CaDirectory(CaDirectory&& other) noexcept
    : dir_(std::move(other.dir_)), lock_fd_(std::exchange(other.lock_fd_, -1)),
      issued_(std::move(other.issued_)), revoked_(std::move(other.revoked_)) {}

CaDirectory& CaDirectory::operator=(CaDirectory&& other) noexcept {
  if (this != &other) {
    if (lock_fd_ >= 0) ::close(lock_fd_);
    dir_ = std::move(other.dir_);
    lock_fd_ = std::exchange(other.lock_fd_, -1);
    issued_ = std::move(other.issued_);
    revoked_ = std::move(other.revoked_);
  }
  return *this;
}

CaDirectory::~CaDirectory() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

namespace {
// One fpx-ca at a time per CA directory: two concurrent runs could both
// append, or both bump a CRL number and publish CRLs out of order.
Result<int> take_lock(const fs::path& dir) {
  const fs::path path = dir / ".lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, kPrivateFileMode);
  if (fd < 0) return io_error("cannot open lock file", path);
  if (::flock(fd, LOCK_EX) != 0) {
    ::close(fd);
    return io_error("cannot lock", path);
  }
  return fd;
}
}  // namespace

Result<CaDirectory> CaDirectory::create_layout(const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(dir / "ca", ec)) {
    return make_error(ErrorCode::invalid_argument,
                      dir.string() + " already holds a CA; choose another --dir or remove it first");
  }
  fs::create_directories(dir, ec);
  if (ec) return make_error(ErrorCode::io_error, "cannot create " + dir.string() + ": " + ec.message());
  auto lock = take_lock(dir);
  if (!lock) return std::move(lock).take_error();
  CaDirectory ca(dir, *lock);
  // ca/ is 0700: it holds the CA's private key.
  if (auto st = make_dir(dir / "ca", kPrivateDirMode); !st) return st.error();
  for (const char* sub : {"crls", "issued"}) {
    if (auto st = make_dir(dir / sub, 0755); !st) return st.error();
  }
  return ca;
}

Result<CaDirectory> CaDirectory::init(const fs::path& dir, const std::string& root_name, int days) {
  if (days <= 0) return make_error(ErrorCode::invalid_argument, "--days must be positive");
  auto created = create_layout(dir);
  if (!created) return std::move(created).take_error();
  CaDirectory& ca = *created;
  if (auto st = make_dir(dir / "participants", kPrivateDirMode); !st) return st.error();

  auto key = SigningKey::generate();
  if (!key) return std::move(key).take_error();
  auto root = Authority::create_root(root_name, std::move(key).value(), Validity::days_from_now(days));
  if (!root) return std::move(root).take_error();
  if (auto st = ca.write_authority(kRootCaName, *root); !st) return st.error();
  if (auto st = write_new_file(dir / kRootCaFile, root->certificate().pem(), kPublicFileMode); !st) {
    return st.error();
  }
  if (auto st = write_new_file(dir / kIssuedFile,
                               "# certificates issued by this CA, one per line (appended, never rewritten)\n",
                               kPublicFileMode);
      !st) {
    return st.error();
  }
  if (auto st = write_new_file(dir / kRevokedFile, "# revocations, one per line (appended, never rewritten)\n",
                               kPublicFileMode);
      !st) {
    return st.error();
  }
  if (auto crl = ca.publish_crl(kRootCaName, kDefaultCrlDays); !crl) return std::move(crl).take_error();
  return std::move(ca);
}

Result<CaDirectory> CaDirectory::open(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir / "ca", ec) || !fs::exists(dir / kIssuedFile, ec)) {
    return make_error(ErrorCode::not_found, "no CA in " + dir.string() + ": run 'fpx-ca init --dir " + dir.string() +
                                                "' (the root) or 'fpx-ca --dir " + dir.string() +
                                                " national init --country XX' (a national CA) first, or pass the "
                                                "right --dir");
  }
  auto lock = take_lock(dir);
  if (!lock) return std::move(lock).take_error();
  CaDirectory ca(dir, *lock);
  if (auto st = ca.load_records(); !st) return st.error();
  return ca;
}

Status CaDirectory::load_records() {
  auto issued_text = read_text(dir_ / kIssuedFile);
  if (!issued_text) return std::move(issued_text).take_error();
  std::istringstream issued(*issued_text);
  std::string line;
  int number = 0;
  while (std::getline(issued, line)) {
    ++number;
    if (line.empty() || line[0] == '#') continue;
    auto f = parse_fields(line);
    const bool national_ca = f["role"] == kNationalCaRole;
    auto role = national_ca ? std::optional<Role>(Role::focal_point) : parse_role(f["role"]);
    auto issued_at = parse_utc(f["issued"]);
    auto not_after = parse_utc(f["not_after"]);
    if (f["serial"].empty() || f["id"].empty() || !role || !issued_at || !not_after || f["issuer"].empty()) {
      return make_error(ErrorCode::malformed,
                        (dir_ / kIssuedFile).string() + " line " + std::to_string(number) + " is not a record");
    }
    IssuedRecord record{f["serial"],
                        ParticipantId(f["id"]),
                        CountryCode(f["country"]),
                        *role,
                        national_ca ? RecordKind::national_ca : RecordKind::participant,
                        f["officer"],
                        f["issuer"],
                        *issued_at,
                        *not_after};
    issued_.push_back(std::move(record));
  }
  auto revoked_text = read_text(dir_ / kRevokedFile);
  if (!revoked_text) return std::move(revoked_text).take_error();
  std::istringstream revoked(*revoked_text);
  number = 0;
  while (std::getline(revoked, line)) {
    ++number;
    if (line.empty() || line[0] == '#') continue;
    auto f = parse_fields(line);
    auto when = parse_utc(f["revoked"]);
    if (f["serial"].empty() || f["issuer"].empty() || !when) {
      return make_error(ErrorCode::malformed,
                        (dir_ / kRevokedFile).string() + " line " + std::to_string(number) + " is not a record");
    }
    revoked_.push_back(RevocationRecord{f["serial"], f["issuer"], *when});
  }
  return {};
}

std::vector<std::string> CaDirectory::authority_names() const {
  std::vector<std::string> names;
  std::error_code ec;
  bool root = false;
  for (const auto& entry : fs::directory_iterator(dir_ / "ca", ec)) {
    // A CA counts once its certificate is installed beside its key (a
    // national CA's directory holds only the key until the root signs).
    if (!entry.is_directory(ec) || !fs::exists(entry.path() / "cert.pem", ec) ||
        !fs::exists(entry.path() / "key.pem", ec)) {
      continue;
    }
    if (entry.path().filename() == kRootCaName) {
      root = true;
    } else {
      names.push_back(entry.path().filename().string());
    }
  }
  std::sort(names.begin(), names.end());
  if (root) names.insert(names.begin(), kRootCaName);
  return names;
}

Result<Authority> CaDirectory::load_authority(const std::string& name) const {
  const fs::path ca_dir = dir_ / "ca" / name;
  auto certs = Certificate::load_pem_file(ca_dir / "cert.pem");
  if (!certs) return std::move(certs).take_error();
  if (certs->empty()) return make_error(ErrorCode::malformed, (ca_dir / "cert.pem").string() + " holds no certificate");
  // TODO(security): CA keys are not encrypted at rest; the CA directory is
  // meant to live on an offline machine (see README).
  auto key = SigningKey::load_pem(ca_dir / "key.pem", PassphraseSource{});
  if (!key) return std::move(key).take_error();
  return Authority(certs->front(), std::move(key).value());
}

Status CaDirectory::write_authority(const std::string& name, const Authority& authority) {
  const fs::path ca_dir = dir_ / "ca" / name;
  if (auto st = make_dir(ca_dir, kPrivateDirMode); !st) return st;
  auto key_pem = authority.key().to_pem("");
  if (!key_pem) return std::move(key_pem).take_error();
  if (auto st = write_new_file(ca_dir / "key.pem", *key_pem, kPrivateFileMode); !st) return st;
  if (auto st = write_new_file(ca_dir / "cert.pem", authority.certificate().pem(), kPublicFileMode); !st) return st;
  return write_new_file(ca_dir / "crl-number", "0\n", kPublicFileMode);
}

bool CaDirectory::is_revoked(const std::string& serial_hex) const {
  const auto wanted = normalize_serial(serial_hex);
  return std::any_of(revoked_.begin(), revoked_.end(),
                     [&](const RevocationRecord& r) { return normalize_serial(r.serial_hex) == wanted; });
}

Result<fs::path> CaDirectory::publish_crl(const std::string& name, int crl_days) {
  if (crl_days <= 0) return make_error(ErrorCode::invalid_argument, "--days must be positive");
  auto authority = load_authority(name);
  if (!authority) return std::move(authority).take_error();

  std::vector<RevokedEntry> entries;
  for (const auto& r : revoked_) {
    if (r.issuer == name) entries.push_back(RevokedEntry{r.serial_hex, r.revoked_at_ms});
  }
  // The CRL number only grows, so a verifier can tell a newer CRL from a replayed older one.
  const fs::path number_path = dir_ / "ca" / name / "crl-number";
  auto number_text = read_text(number_path);
  if (!number_text) return std::move(number_text).take_error();
  std::uint64_t number = 0;
  try {
    number = std::stoull(*number_text) + 1;
  } catch (const std::exception&) {
    return make_error(ErrorCode::malformed, number_path.string() + " does not hold a number");
  }
  const std::int64_t now = now_ms();
  auto pem = authority->make_crl_pem(entries, now - kCrlSkewMs,
                                     now + static_cast<std::int64_t>(crl_days) * 24 * 60 * 60 * 1000, number);
  if (!pem) return std::move(pem).take_error();
  // The number is saved first: a crash in between skips a number, never reuses one.
  if (auto st = replace_file(number_path, std::to_string(number) + "\n", kPublicFileMode); !st) return st.error();
  const fs::path out = dir_ / "crls" / (name + ".crl.pem");
  if (auto st = replace_file(out, *pem, kPublicFileMode); !st) return st.error();
  return out;
}

Result<std::vector<fs::path>> CaDirectory::publish_crls(int crl_days, const CrlRenewal& renewal) {
  std::vector<fs::path> written;
  const std::int64_t now = now_ms();
  for (const auto& name : authority_names()) {
    if (renewal.renew_before_ms) {
      // Only a CRL that expires within the window (or is missing or
      // unreadable) is re-issued: a timer running every hour then bumps each
      // CRL number once per renewal, not once per run.
      auto text = read_text(dir_ / "crls" / (name + ".crl.pem"));
      if (text) {
        auto next = crl_next_update_ms(*text);
        if (next && *next - now > *renewal.renew_before_ms) continue;
      }
    }
    auto path = publish_crl(name, crl_days);
    if (!path) return std::move(path).take_error();
    written.push_back(*path);
  }
  return written;
}

Result<Certificate> CaDirectory::add_intermediate(const CountryCode& country, int days) {
  if (!is_iso3166_alpha2(country.str())) return bad_country(country.str());
  if (days <= 0) return make_error(ErrorCode::invalid_argument, "--days must be positive");
  const std::string name = ca_name_for(country);
  std::error_code ec;
  if (fs::exists(dir_ / "ca" / name, ec)) {
    return make_error(ErrorCode::invalid_argument, "an intermediate CA for " + country.str() + " already exists in " +
                                                       (dir_ / "ca" / name).string());
  }
  auto root = load_authority(kRootCaName);
  if (!root) return std::move(root).take_error();
  auto key = SigningKey::generate();
  if (!key) return std::move(key).take_error();
  auto intermediate = root->create_intermediate(country, std::move(key).value(), Validity::days_from_now(days));
  if (!intermediate) return std::move(intermediate).take_error();
  if (auto st = write_authority(name, *intermediate); !st) return st.error();
  if (auto crl = publish_crl(name, kDefaultCrlDays); !crl) return std::move(crl).take_error();
  return intermediate->certificate();
}

Result<IssuedIdentity> CaDirectory::issue(const IssueRequest& request) {
  if (!is_valid_participant_id(request.id.str())) {
    return make_error(ErrorCode::invalid_argument,
                      "participant id '" + request.id.str() +
                          "' is not valid: use 1-64 lower-case letters, digits, '.' and '-', with a prefix and a dot "
                          "(e.g. sn.focal-point)");
  }
  if (!is_iso3166_alpha2(request.country.str())) return bad_country(request.country.str());
  if (request.days <= 0) return make_error(ErrorCode::invalid_argument, "--days must be positive");
  for (const auto& record : issued_) {
    if (record.id == request.id) {
      return make_error(ErrorCode::id_reused, "participant id '" + request.id.str() +
                                                  "' already has a certificate (serial " + record.serial_hex +
                                                  "); use 'fpx-ca renew --id " + request.id.str() + "' instead");
    }
  }
  std::string issuer = to_lower(request.issuer);
  std::error_code ec;
  if (issuer.empty()) {
    // Brokers and observers are the exchange's own participants, not a
    // state's: only the root vouches for them.
    const bool national = request.role == Role::focal_point || request.role == Role::agency;
    const std::string cc = ca_name_for(request.country);
    issuer = national && fs::exists(dir_ / "ca" / cc / "key.pem", ec) ? cc : std::string(kRootCaName);
  } else if (!fs::exists(dir_ / "ca" / issuer / "key.pem", ec)) {
    return make_error(ErrorCode::invalid_argument, "no CA named '" + request.issuer + "' in " + dir_.string() +
                                                       "; create it with 'fpx-ca intermediate --country XX'");
  }
  auto authority = load_authority(issuer);
  if (!authority) return std::move(authority).take_error();
  const fs::path out = request.out_dir.empty() ? dir_ / "participants" / request.id.str() : request.out_dir;
  return issue_with(*authority, issuer, request, out);
}

Result<IssuedIdentity> CaDirectory::issue_with(const Authority& authority, const std::string& issuer_name,
                                               const IssueRequest& request, const fs::path& out) {
  std::error_code ec;
  if (fs::exists(out, ec) && !fs::is_empty(out, ec)) {
    return make_error(ErrorCode::invalid_argument,
                      out.string() + " already exists and is not empty; choose another --out");
  }
  auto signing_key = SigningKey::generate();
  if (!signing_key) return std::move(signing_key).take_error();
  auto curve = CurveKeyPair::generate();
  if (!curve) return std::move(curve).take_error();

  ParticipantRequest cert_request;
  cert_request.id = request.id;
  cert_request.country = request.country;
  cert_request.role = request.role;
  cert_request.signing_public_key = signing_key->public_key();
  cert_request.curve_public_key = curve->public_key;
  cert_request.validity = Validity::days_from_now(request.days);
  auto cert = authority.issue(cert_request);
  if (!cert) return std::move(cert).take_error();
  auto key_pem = signing_key->to_pem(request.key_passphrase);
  if (!key_pem) return std::move(key_pem).take_error();

  if (!fs::exists(out, ec)) {
    if (out.has_parent_path()) fs::create_directories(out.parent_path(), ec);
    // 0700: the directory holds the participant's private keys.
    if (auto st = make_dir(out, kPrivateDirMode); !st) return st.error();
  }

  // Record first: the CA must know every certificate that may exist, or it
  // could never revoke it.
  const std::string serial = cert->serial_hex();
  IssuedRecord record{serial, request.id,  request.country, request.role,        RecordKind::participant,
                      "",     issuer_name, now_ms(),        cert->not_after_ms()};
  if (auto st = record_issued(*cert, record); !st) return st.error();

  // chain.pem: leaf, then the intermediate (never the root: verifiers must
  // bring their own trusted root, or a forged root would verify itself).
  std::string chain = cert->pem();
  if (issuer_name != kRootCaName) chain += authority.certificate().pem();
  if (auto st = write_new_file(out / kChainFile, chain, kPublicFileMode); !st) return st.error();
  if (auto st = write_new_file(out / kSigningKeyFile, *key_pem, kPrivateFileMode); !st) return st.error();
  if (auto st = write_new_file(out / kCurveSecretFile, z85_encode(curve->secret_key) + "\n", kPrivateFileMode); !st) {
    return st.error();
  }
  if (auto st = write_new_file(out / kCurvePublicFile, z85_encode(curve->public_key) + "\n", kPublicFileMode); !st) {
    return st.error();
  }
  return IssuedIdentity{*cert, issuer_name, out, std::nullopt};
}

Result<IssuedIdentity> CaDirectory::renew(const ParticipantId& id, int days, const fs::path& out_dir,
                                          const std::string& key_passphrase) {
  if (!is_valid_participant_id(id.str())) {
    return make_error(ErrorCode::invalid_argument, "participant id '" + id.str() + "' is not valid");
  }
  if (days <= 0) return make_error(ErrorCode::invalid_argument, "--days must be positive");
  const IssuedRecord* latest = nullptr;
  for (const auto& record : issued_) {
    if (record.id == id) latest = &record;  // file order is issue order
  }
  if (latest == nullptr) {
    return make_error(ErrorCode::not_found, "no certificate was issued for '" + id.str() +
                                                "'; use 'fpx-ca issue --id " + id.str() + " ...' first");
  }
  IssueRequest request;
  request.id = id;
  request.country = latest->country;
  request.role = latest->role;
  request.days = days;
  request.key_passphrase = key_passphrase;
  const std::string issuer = latest->issuer;
  auto authority = load_authority(issuer);
  if (!authority) return std::move(authority).take_error();

  const fs::path out = out_dir.empty() ? dir_ / "participants" / id.str() : out_dir;
  std::optional<fs::path> previous;
  std::error_code ec;
  if (fs::exists(out, ec)) {
    // Kept, not deleted: the old certificate stays valid, and the
    // participant keeps running on it until it switches to the new one.
    fs::path aside = out;
    aside += ".replaced-" + latest->serial_hex;
    if (fs::exists(aside, ec)) {
      return make_error(ErrorCode::invalid_argument, aside.string() + " already exists; move it away first");
    }
    if (::rename(out.c_str(), aside.c_str()) != 0) return io_error("cannot move aside", out);
    previous = aside;
  }
  auto result = issue_with(*authority, issuer, request, out);
  if (!result) {
    if (previous) {
      std::error_code ignored;
      fs::remove_all(out, ignored);
      ::rename(previous->c_str(), out.c_str());
    }
    return result;
  }
  result->previous_dir = previous;
  return result;
}

Result<std::vector<std::string>> CaDirectory::revoke(const ParticipantId& id, const std::optional<std::string>& serial,
                                                     int crl_days) {
  if (crl_days <= 0) return make_error(ErrorCode::invalid_argument, "--days must be positive");
  std::vector<const IssuedRecord*> of_id;
  for (const auto& record : issued_) {
    if (record.id == id) of_id.push_back(&record);
  }
  if (of_id.empty()) {
    return make_error(ErrorCode::not_found, "no certificate was issued for '" + id.str() + "'");
  }
  std::vector<const IssuedRecord*> targets;
  if (serial) {
    const auto wanted = normalize_serial(*serial);
    for (const auto* record : of_id) {
      if (normalize_serial(record->serial_hex) == wanted) targets.push_back(record);
    }
    if (targets.empty()) {
      return make_error(ErrorCode::invalid_argument,
                        "serial " + *serial + " is not a certificate of '" + id.str() + "'; see " +
                            (dir_ / kIssuedFile).string());
    }
    if (is_revoked(targets.front()->serial_hex)) {
      return make_error(ErrorCode::invalid_argument, "serial " + *serial + " is already revoked");
    }
  } else {
    for (const auto* record : of_id) {
      if (!is_revoked(record->serial_hex)) targets.push_back(record);
    }
    if (targets.empty()) {
      return make_error(ErrorCode::invalid_argument, "every certificate of '" + id.str() + "' is already revoked");
    }
  }
  // Revocation counts from now: messages signed before stay valid evidence.
  const std::int64_t now = now_ms();
  std::vector<std::string> serials;
  std::vector<std::string> issuers;
  for (const auto* record : targets) {
    if (auto st = record_revocation(record->serial_hex, id.str(), record->issuer, now); !st) return st.error();
    serials.push_back(record->serial_hex);
    if (std::find(issuers.begin(), issuers.end(), record->issuer) == issuers.end()) issuers.push_back(record->issuer);
  }
  for (const auto& issuer : issuers) {
    if (auto crl = publish_crl(issuer, crl_days); !crl) return std::move(crl).take_error();
  }
  return serials;
}

Status CaDirectory::record_issued(const Certificate& certificate, const IssuedRecord& record) {
  // Record first, before anyone sees the certificate: the CA must know every
  // certificate that may exist, or it could never revoke it.
  const std::string serial = certificate.serial_hex();
  if (auto st = write_new_file(dir_ / "issued" / (serial + ".pem"), certificate.pem(), kPublicFileMode); !st) {
    return st;
  }
  std::string line =
      "serial=" + serial + " id=" + record.id.str() + " country=" + record.country.str() + " role=" +
      (record.kind == RecordKind::national_ca ? std::string(kNationalCaRole) : std::string(role_name(record.role)));
  if (!record.officer.empty()) line += " officer=" + record.officer;
  line += " issuer=" + record.issuer + " issued=" + format_utc(record.issued_at_ms) +
          " not_after=" + format_utc(record.not_after_ms);
  if (auto st = append_line(dir_ / kIssuedFile, line); !st) return st;
  issued_.push_back(record);
  issued_.back().serial_hex = serial;
  return {};
}

Status CaDirectory::record_revocation(const std::string& serial_hex, const std::string& id, const std::string& issuer,
                                      std::int64_t now) {
  const std::string line = "serial=" + serial_hex + " id=" + (id.empty() ? std::string("-") : id) +
                           " issuer=" + issuer + " revoked=" + format_utc(now);
  if (auto st = append_line(dir_ / kRevokedFile, line); !st) return st;
  revoked_.push_back(RevocationRecord{serial_hex, issuer, now / 1000 * 1000});
  return {};
}

Result<std::string> CaDirectory::init_national(const fs::path& dir, const CountryCode& country) {
  if (!is_iso3166_alpha2(country.str())) return bad_country(country.str());
  auto created = create_layout(dir);  // holds the directory's lock while its files are written
  if (!created) return std::move(created).take_error();
  const fs::path ca_dir = dir / "ca" / ca_name_for(country);
  if (auto st = make_dir(ca_dir, kPrivateDirMode); !st) return st.error();
  // The national CA's key is made here, on the state's own machine, and
  // never leaves it: the root receives only the request below.
  auto key = SigningKey::generate();
  if (!key) return std::move(key).take_error();
  auto key_pem = key->to_pem("");
  if (!key_pem) return std::move(key_pem).take_error();
  if (auto st = write_new_file(ca_dir / "key.pem", *key_pem, kPrivateFileMode); !st) return st.error();
  if (auto st = write_new_file(ca_dir / "crl-number", "0\n", kPublicFileMode); !st) return st.error();
  auto request = make_national_ca_request(*key, country);
  if (!request) return std::move(request).take_error();
  if (auto st = write_new_file(dir / kRequestFile, *request, kPublicFileMode); !st) return st.error();
  for (const auto& [file, header] :
       {std::pair{kIssuedFile, "# certificates issued by this CA, one per line (appended, never rewritten)\n"},
        std::pair{kRevokedFile, "# revocations, one per line (appended, never rewritten)\n"}}) {
    if (auto st = write_new_file(dir / file, header, kPublicFileMode); !st) return st.error();
  }
  return *request;
}

Result<Certificate> CaDirectory::sign_intermediate_request(const std::string& request_pem, int days) {
  if (days <= 0) return make_error(ErrorCode::invalid_argument, "--days must be positive");
  auto request = parse_certificate_request(request_pem);
  if (!request) return std::move(request).take_error();
  if (request->kind != RequestKind::national_ca) {
    return make_error(ErrorCode::invalid_argument,
                      "this is a participant's request (CN=" + request->id.str() +
                          "), not a national CA's; sign it with 'fpx-ca sign --request FILE'");
  }
  if (!is_iso3166_alpha2(request->country.str())) return bad_country(request->country.str());
  auto root = load_authority(kRootCaName);
  if (!root) {
    return make_error(ErrorCode::invalid_argument,
                      "only the root signs national CAs, and " + dir_.string() + " holds no root key");
  }
  const std::string national_id = kNationalCaIdPrefix + ca_name_for(request->country);
  for (const auto& record : issued_) {
    if (record.id.str() == national_id && !is_revoked(record.serial_hex) && record.not_after_ms > now_ms()) {
      // One live national CA per state: a second one would double the keys
      // that can speak for that state; revoke the first to replace it.
      return make_error(ErrorCode::id_reused, "the " + request->country.str() +
                                                  " national CA already has a live "
                                                  "certificate (serial " +
                                                  record.serial_hex + "); revoke it first: fpx-ca revoke --id " +
                                                  national_id);
    }
  }
  auto cert = root->sign_intermediate(request->country, request->signing_public_key, Validity::days_from_now(days));
  if (!cert) return std::move(cert).take_error();
  IssuedRecord record{"",
                      ParticipantId(national_id),
                      request->country,
                      Role::focal_point,
                      RecordKind::national_ca,
                      "",
                      kRootCaName,
                      now_ms(),
                      cert->not_after_ms()};
  if (auto st = record_issued(*cert, record); !st) return st.error();
  return cert;
}

Result<Certificate> CaDirectory::install_national(const fs::path& certificate_file, const fs::path& root_ca_file) {
  std::vector<std::string> pending;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_ / "ca", ec)) {
    if (fs::exists(entry.path() / "key.pem", ec) && !fs::exists(entry.path() / "cert.pem", ec)) {
      pending.push_back(entry.path().filename().string());
    }
  }
  if (pending.size() != 1) {
    return make_error(ErrorCode::invalid_argument, dir_.string() +
                                                       " holds no national CA key waiting for its "
                                                       "certificate; make one with 'fpx-ca --dir DIR "
                                                       "national init --country XX'");
  }
  const std::string name = pending.front();
  auto certs = Certificate::load_pem_file(certificate_file);
  if (!certs) return std::move(certs).take_error();
  auto roots = Certificate::load_pem_file(root_ca_file);
  if (!roots) return std::move(roots).take_error();
  if (certs->empty() || roots->size() != 1) {
    return make_error(ErrorCode::invalid_argument,
                      "give the national CA's certificate (--cert) and the one root "
                      "certificate (--root-ca) the root's operator sent");
  }
  const Certificate& cert = certs->front();
  const Certificate& root = roots->front();
  auto key = SigningKey::load_pem(dir_ / "ca" / name / "key.pem", PassphraseSource{});
  if (!key) return std::move(key).take_error();
  if (cert.ed25519_public_key() != key->public_key()) {
    return make_error(ErrorCode::signer_mismatch, certificate_file.string() +
                                                      " is not for this directory's national CA key: ask the root's "
                                                      "operator for the certificate signed from " +
                                                      (dir_ / kRequestFile).string());
  }
  if (!cert.is_ca() || !cert.permitted_country() || ca_name_for(*cert.permitted_country()) != name) {
    return make_error(ErrorCode::wrong_role,
                      certificate_file.string() + " is not a national CA certificate for " + name);
  }
  if (!root.is_ca() || !is_issued_by(root, cert)) {
    return make_error(ErrorCode::untrusted_chain, certificate_file.string() + " is not signed by " +
                                                      root_ca_file.string() +
                                                      ": check that both come from the exchange's root operator");
  }
  if (auto st = write_new_file(dir_ / kRootCaFile, root.pem(), kPublicFileMode); !st) return st.error();
  if (auto st = write_new_file(dir_ / "ca" / name / "cert.pem", cert.pem(), kPublicFileMode); !st) return st.error();
  if (auto crl = publish_crl(name, kDefaultCrlDays); !crl) return std::move(crl).take_error();
  return cert;
}

Result<SignedCertificate> CaDirectory::sign(const SignRequest& sign_request) {
  if (sign_request.days <= 0) return make_error(ErrorCode::invalid_argument, "--days must be positive");
  auto request = parse_certificate_request(sign_request.request_pem);
  if (!request) return std::move(request).take_error();
  if (request->kind == RequestKind::national_ca) {
    return make_error(ErrorCode::invalid_argument,
                      "this is a national CA's request; the root signs it with 'fpx-ca intermediate --request FILE'");
  }
  if (!is_iso3166_alpha2(request->country.str())) return bad_country(request->country.str());
  const auto names = authority_names();
  if (names.empty()) {
    return make_error(ErrorCode::invalid_argument,
                      dir_.string() + " holds no installed CA: run 'fpx-ca national install' first");
  }
  std::string issuer = to_lower(sign_request.issuer);
  const std::string cc = ca_name_for(request->country);
  const auto have = [&](const std::string& name) { return std::find(names.begin(), names.end(), name) != names.end(); };
  if (issuer.empty()) {
    // Brokers and observers are the exchange's own participants: only the
    // root vouches for them. A state's participants go to its national CA
    // when this directory holds it.
    issuer = national_ca_may_issue(request->role) && have(cc) ? cc : std::string(kRootCaName);
    if (!have(issuer)) issuer = names.front();
  } else if (!have(issuer)) {
    return make_error(ErrorCode::invalid_argument,
                      "no CA named '" + sign_request.issuer + "' with its key in " + dir_.string());
  }
  if (issuer == kRootCaName && national_ca_may_issue(request->role)) {
    // A state with a national CA of its own is vouched for by it alone: the
    // root signing for its focal point or agency would let the operator
    // sign as that state. (Brokers refuse to enrol such a certificate too.)
    for (const auto& record : issued_) {
      if (record.kind == RecordKind::national_ca && record.country == request->country &&
          !is_revoked(record.serial_hex)) {
        return make_error(ErrorCode::wrong_role,
                          request->country.str() + " has a national CA of its own (serial " + record.serial_hex +
                              "): only it signs " + request->country.str() +
                              "'s focal point and agencies; send the request to " + request->country.str() +
                              "'s CA");
      }
    }
  }
  auto authority = load_authority(issuer);
  if (!authority) return std::move(authority).take_error();

  // An officer's certificate is its own (same id, its own keys); the
  // participant's own certificate has no officer. Either way one live
  // certificate per (id, officer) unless the operator says this is a renewal.
  const std::string officer = request->officer.value_or("");
  for (const auto& record : issued_) {
    if (record.kind != RecordKind::participant || record.id != request->id) continue;
    if (record.role != request->role || record.country != request->country) {
      // An agency asking to become a focal point under the same id would
      // inherit everything addressed to that id: a new role is a new id.
      return make_error(ErrorCode::invalid_argument,
                        "'" + request->id.str() + "' was issued as " + std::string(role_name(record.role)) + " of " +
                            record.country.str() + "; this request asks for " + std::string(role_name(request->role)) +
                            " of " + request->country.str() +
                            ": a participant keeps its role and country (use a new id)");
    }
    if (record.officer == officer && sign_request.existing == ExistingId::refuse && !is_revoked(record.serial_hex) &&
        record.not_after_ms > now_ms()) {
      return make_error(ErrorCode::id_reused, "'" + request->id.str() + "'" +
                                                  (officer.empty() ? "" : " officer " + officer) +
                                                  " already has a live certificate (serial " + record.serial_hex +
                                                  "); pass --renew to issue a new one beside it");
    }
  }

  // The CURVE public key is public: anyone can put another participant's
  // into a request (no proof of possession exists for it). A certificate
  // binding it to a second identity would let that identity take over the
  // transport key at enrolment, so a key this CA already bound elsewhere is
  // refused here; the broker's enrolment refuses it across CAs.
  for (const auto& record : issued_) {
    if (record.kind != RecordKind::participant) continue;
    if (record.id == request->id && record.officer == officer) continue;  // a renewal may keep its keys
    auto certs = Certificate::load_pem_file(dir_ / "issued" / (record.serial_hex + ".pem"));
    if (!certs || certs->empty()) continue;
    auto info = certs->front().participant();
    const bool same_curve = info && request->curve_public_key && info->curve_public_key == *request->curve_public_key;
    const bool same_signing = certs->front().ed25519_public_key() == request->signing_public_key;
    if (same_curve || same_signing) {
      return make_error(ErrorCode::id_reused, std::string("this request's ") + (same_curve ? "CURVE" : "signing") +
                                                  " public key is already in the certificate of '" + record.id.str() +
                                                  "'" + (record.officer.empty() ? "" : " officer " + record.officer) +
                                                  " (serial " + record.serial_hex +
                                                  "): every participant and officer makes keys of its own "
                                                  "(`fpx keys new`)");
    }
  }

  ParticipantRequest cert_request;
  cert_request.id = request->id;
  cert_request.country = request->country;
  cert_request.role = request->role;
  cert_request.signing_public_key = request->signing_public_key;
  cert_request.curve_public_key = request->curve_public_key;
  cert_request.officer = request->officer;
  cert_request.validity = Validity::days_from_now(sign_request.days);
  auto cert = authority->issue(cert_request, CountryCheck::enforce);
  if (!cert) return std::move(cert).take_error();
  IssuedRecord record{"",      request->id, request->country, request->role,       RecordKind::participant,
                      officer, issuer,      now_ms(),         cert->not_after_ms()};
  if (auto st = record_issued(*cert, record); !st) return st.error();
  std::string chain = cert->pem();
  // Leaf then the national CA, never the root: verifiers bring their own.
  if (issuer != kRootCaName) chain += authority->certificate().pem();
  return SignedCertificate{*cert, issuer, chain};
}

Result<std::string> CaDirectory::revoke_certificate(const Certificate& certificate, int crl_days) {
  if (crl_days <= 0) return make_error(ErrorCode::invalid_argument, "--days must be positive");
  std::optional<std::string> issuer;
  for (const auto& name : authority_names()) {
    auto authority = load_authority(name);
    if (authority && authority->issued(certificate)) {
      issuer = name;
      break;
    }
  }
  if (!issuer) {
    return make_error(ErrorCode::not_found, "the certificate " + certificate.subject_text() + " (serial " +
                                                certificate.serial_hex() + ") was issued by '" +
                                                certificate.issuer_text() + "', whose key is not in " + dir_.string() +
                                                ": revoke it with that CA's own fpx-ca --dir");
  }
  const std::string serial = certificate.serial_hex();
  if (is_revoked(serial)) return make_error(ErrorCode::invalid_argument, "serial " + serial + " is already revoked");
  std::string id;
  if (auto info = certificate.participant()) {
    id = info->id.str();
  } else if (auto country = certificate.permitted_country()) {
    id = kNationalCaIdPrefix + ca_name_for(*country);
  }
  if (auto st = record_revocation(serial, id, *issuer, now_ms()); !st) return st.error();
  if (auto crl = publish_crl(*issuer, crl_days); !crl) return std::move(crl).take_error();
  return serial;
}

Result<std::string> CaDirectory::revoke_serial(const std::string& serial, const std::string& ca, int crl_days) {
  if (crl_days <= 0) return make_error(ErrorCode::invalid_argument, "--days must be positive");
  const std::string wanted = normalize_serial(serial);
  const bool all_hex = !wanted.empty() && std::all_of(wanted.begin(), wanted.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
  if (!all_hex) return make_error(ErrorCode::invalid_argument, "serial '" + serial + "' is not hexadecimal");
  if (is_revoked(serial)) return make_error(ErrorCode::invalid_argument, "serial " + serial + " is already revoked");
  const IssuedRecord* found = nullptr;
  for (const auto& record : issued_) {
    if (normalize_serial(record.serial_hex) == wanted) found = &record;
  }
  std::string issuer = to_lower(ca);
  std::string id;
  if (found != nullptr) {
    if (!issuer.empty() && issuer != found->issuer) {
      return make_error(ErrorCode::invalid_argument,
                        "serial " + serial + " was issued by '" + found->issuer + "', not '" + ca + "'");
    }
    issuer = found->issuer;
    id = found->id.str();
  } else if (issuer.empty()) {
    return make_error(ErrorCode::not_found,
                      "serial " + serial + " is not in " + (dir_ / kIssuedFile).string() +
                          ": give the certificate itself (--cert FILE), or --ca NAME to revoke a serial that CA "
                          "issued elsewhere");
  }
  const auto names = authority_names();
  if (std::find(names.begin(), names.end(), issuer) == names.end()) {
    return make_error(ErrorCode::not_found, "the key of CA '" + issuer + "' is not in " + dir_.string() +
                                                ": revoke it with that CA's own fpx-ca --dir");
  }
  if (auto st = record_revocation(found != nullptr ? found->serial_hex : wanted, id, issuer, now_ms()); !st) {
    return st.error();
  }
  if (auto crl = publish_crl(issuer, crl_days); !crl) return std::move(crl).take_error();
  return found != nullptr ? found->serial_hex : wanted;
}

}  // namespace fpx::pki
