#include "fpx/trust_store.hpp"

#include <algorithm>
#include <ctime>
#include <fstream>
#include <unordered_map>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "fpx/crypto.hpp"
#include "fpx/oids.hpp"
#include "fpx/openssl_handles.hpp"

namespace fpx {

namespace {

// A chain longer than root -> national intermediate -> leaf is never issued
// here; refusing longer ones bounds the work an attacker can make us do.
constexpr std::size_t kMaxChainLength = 3;
// Bound on cached chains: enough for every participant's current and renewed
// certificate; past it the cache starts over rather than grow without limit.
constexpr std::size_t kMaxCachedChains = 16384;

std::int64_t asn1_ms(const ASN1_TIME* time) {
  std::tm parts{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &parts) != 1) return 0;
  return static_cast<std::int64_t>(timegm(&parts)) * 1000;
}

std::string name_key(const X509_NAME* name) {
  const unsigned char* der = nullptr;
  std::size_t length = 0;
  if (X509_NAME_get0_der(name, &der, &length) != 1) return {};
  return std::string(reinterpret_cast<const char*>(der), length);
}

std::string format_time(std::int64_t ms) {
  std::time_t seconds = ms / 1000;
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return buffer;
}

struct LoadedCrl {
  ossl::X509CrlPtr crl;
  std::string file;
  std::string issuer_text;
  std::int64_t this_update_ms = 0;
  std::int64_t next_update_ms = 0;  // 0: none given, treated as stale
};

// What revocation checking concluded for one chain under one CRL generation.
struct RevocationFinding {
  std::uint64_t crl_generation = 0;
  std::optional<Error> error;  // CRL missing or badly signed
  std::optional<std::int64_t> revoked_at_ms;
  std::string revoked_subject;
  std::int64_t next_update_ms = 0;  // earliest nextUpdate of the CRLs used
  std::string next_update_issuer;
};

}  // namespace

struct ResolvedChain {
  std::shared_ptr<const Certificate> leaf;
  ParticipantInfo participant;
  std::vector<Certificate> path;  // leaf .. root, as OpenSSL built it
  std::int64_t valid_from_ms = 0;
  std::int64_t valid_until_ms = 0;
  std::string valid_from_subject;
  std::string valid_until_subject;
  RevocationFinding revocation;
};

namespace {

Result<std::vector<LoadedCrl>> read_crl_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::io_error, "cannot read CRL file " + path.string());
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<ossl::X509CrlPtr> crls;
  ossl::BioPtr bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  while (X509_CRL* crl = PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr)) crls.emplace_back(crl);
  ERR_clear_error();
  if (crls.empty()) {
    const unsigned char* cursor = reinterpret_cast<const unsigned char*>(data.data());
    if (X509_CRL* crl = d2i_X509_CRL(nullptr, &cursor, static_cast<long>(data.size()))) crls.emplace_back(crl);
    ERR_clear_error();
  }
  if (crls.empty()) {
    return make_error(ErrorCode::malformed, "CRL file " + path.string() + " holds no PEM or DER CRL");
  }
  std::vector<LoadedCrl> loaded;
  for (auto& crl : crls) {
    LoadedCrl entry;
    entry.this_update_ms = asn1_ms(X509_CRL_get0_lastUpdate(crl.get()));
    entry.next_update_ms = asn1_ms(X509_CRL_get0_nextUpdate(crl.get()));
    entry.file = path.string();
    ossl::BioPtr text(BIO_new(BIO_s_mem()));
    X509_NAME_print_ex(text.get(), X509_CRL_get_issuer(crl.get()), 0, XN_FLAG_ONELINE);
    char* chars = nullptr;
    long length = BIO_get_mem_data(text.get(), &chars);
    entry.issuer_text.assign(chars, static_cast<std::size_t>(length));
    entry.crl = std::move(crl);
    loaded.push_back(std::move(entry));
  }
  return loaded;
}

// Only Ed25519 anywhere in a chain: every FPX CA and participant key is
// Ed25519 (DESIGN.md), so a chain holding another key type was not made by
// the exchange's tools, and refusing it keeps weaker or exotic signature
// algorithms (and their parsers) out of every verifier.
Status require_ed25519(const Certificate& certificate) {
  if (certificate.ed25519_public_key()) return {};
  EVP_PKEY* key = X509_get0_pubkey(certificate.get());
  const char* type = key != nullptr ? EVP_PKEY_get0_type_name(key) : nullptr;
  ERR_clear_error();
  return make_error(ErrorCode::bad_key, "certificate " + certificate.subject_text() + " carries a key of type " +
                                            (type != nullptr ? std::string(type) : std::string("unknown")) +
                                            ": FPX certificates hold Ed25519 keys only; ask its CA to issue an "
                                            "Ed25519 certificate");
}

// The roles a CA's certificate lists as extended-key-usage purposes: those
// it may issue (oids.hpp). A CA certificate without the extension lists none.
std::vector<Role> roles_listed_by(const Certificate& ca) {
  std::vector<Role> roles;
  ossl::ExtKeyUsagePtr usages(
      static_cast<EXTENDED_KEY_USAGE*>(X509_get_ext_d2i(ca.get(), NID_ext_key_usage, nullptr, nullptr)));
  ERR_clear_error();
  for (int i = 0; usages && i < sk_ASN1_OBJECT_num(usages.get()); ++i) {
    char dotted[128];
    // no_name = 1: always the dotted form, which is what role_from_oid reads.
    const int length = OBJ_obj2txt(dotted, sizeof dotted, sk_ASN1_OBJECT_value(usages.get(), i), 1);
    if (length <= 0 || static_cast<std::size_t>(length) >= sizeof dotted) continue;
    if (auto role = oid::role_from_oid(std::string_view(dotted, static_cast<std::size_t>(length)))) {
      roles.push_back(*role);
    }
  }
  return roles;
}

std::string role_list_text(const std::vector<Role>& roles) {
  if (roles.empty()) return "none";
  std::string text;
  for (Role role : roles) text.append(text.empty() ? "" : ", ").append(role_name(role));
  return text;
}

// Roles limited by issuer (issue 11): a national CA issues only what its own
// certificate lists and what a national CA may issue at all (focal-point and
// agency). An attacker holding a national CA's key could otherwise mint a
// broker certificate (forging receipts and notices) or an observer one.
// Certificates straight from the root may carry any role.
Status check_issuer_may_issue(const Certificate& leaf, Role role, const Certificate& issuer, const Certificate& root) {
  if (X509_cmp(issuer.get(), root.get()) == 0) return {};
  const std::string what = "certificate " + leaf.subject_text() + " (" + std::string(role_name(role)) +
                           ") was issued by " + issuer.subject_text();
  if (!national_ca_may_issue(role)) {
    return make_error(ErrorCode::wrong_role, what + ", a national CA: a " + std::string(role_name(role)) +
                                                 " certificate comes only from the exchange's root CA; ask the "
                                                 "root's operator to issue it");
  }
  const std::vector<Role> listed = roles_listed_by(issuer);
  if (std::find(listed.begin(), listed.end(), role) == listed.end()) {
    return make_error(ErrorCode::wrong_role,
                      what + ", whose certificate lists the roles it may issue as: " + role_list_text(listed) +
                          "; ask a CA that may issue a " + std::string(role_name(role)) + " certificate");
  }
  return {};
}

Error chain_error(int code, const std::string& subject) {
  switch (code) {
    case X509_V_ERR_PERMITTED_VIOLATION:
    case X509_V_ERR_EXCLUDED_VIOLATION:
      return make_error(ErrorCode::untrusted_chain,
                        "certificate " + subject +
                            " was issued outside its CA's name constraint (a national CA may only issue for its "
                            "own country)");
    default:
      return make_error(ErrorCode::untrusted_chain, "certificate " + subject + " does not chain to the FPX root: " +
                                                        X509_verify_cert_error_string(code));
  }
}

}  // namespace

struct TrustStore::State {
  std::filesystem::path crl_dir;
  Certificate root;
  ossl::X509StorePtr store;
  // Issuer name DER -> every CRL naming that issuer, newest first. Not just
  // the newest: a name is no proof, and a CRL that names a CA but is signed
  // by another key (another state's, anyone's) must not shadow the CA's own.
  std::unordered_map<std::string, std::vector<LoadedCrl>> crls_by_issuer;
  std::uint64_t crl_generation = 1;
  std::unordered_map<std::string, std::shared_ptr<ResolvedChain>> chains;  // SHA-256 of the chain bytes -> result

  explicit State(Certificate root_cert) : root(std::move(root_cert)) {}

  Result<ResolvedChain> verify_uncached(const std::vector<ByteView>& chain_der);
  void check_revocation(ResolvedChain& chain);
};

TrustStore::TrustStore(std::unique_ptr<State> state) : state_(std::move(state)) {}
TrustStore::TrustStore(TrustStore&&) noexcept = default;
TrustStore& TrustStore::operator=(TrustStore&&) noexcept = default;
TrustStore::~TrustStore() = default;

const Certificate& TrustStore::root() const { return state_->root; }

Result<TrustStore> TrustStore::load(const std::filesystem::path& root_ca_pem, const std::filesystem::path& crl_dir) {
  auto certificates = Certificate::load_pem_file(root_ca_pem);
  if (!certificates) return std::move(certificates).take_error();
  if (certificates->size() != 1) {
    return make_error(ErrorCode::invalid_argument,
                      root_ca_pem.string() + " must hold exactly one certificate: the FPX root CA");
  }
  Certificate root = certificates->front();
  if (!root.is_ca() || X509_check_issued(root.get(), root.get()) != X509_V_OK) {
    return make_error(ErrorCode::invalid_argument, root_ca_pem.string() + " is not a self-signed CA certificate");
  }
  if (auto ed25519 = require_ed25519(root); !ed25519) {
    return make_error(ErrorCode::bad_key, root_ca_pem.string() + ": " + ed25519.error().message);
  }
  auto state = std::make_unique<State>(root);
  state->crl_dir = crl_dir;
  state->store.reset(X509_STORE_new());
  if (!state->store || X509_STORE_add_cert(state->store.get(), root.get()) != 1) {
    return make_error(ErrorCode::internal, "cannot build the certificate store: " + ossl::last_error_text());
  }
  TrustStore trust(std::move(state));
  if (!crl_dir.empty()) {
    if (auto loaded = trust.reload_crls(); !loaded) return std::move(loaded).take_error();
  }
  return trust;
}

Status TrustStore::reload_crls() {
  std::error_code io_error;
  if (!std::filesystem::is_directory(state_->crl_dir, io_error)) {
    return make_error(ErrorCode::crl_missing, "CRL directory " + state_->crl_dir.string() + " does not exist");
  }
  std::unordered_map<std::string, std::vector<LoadedCrl>> by_issuer;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(state_->crl_dir, io_error)) {
    auto extension = entry.path().extension();
    if (entry.is_regular_file() && (extension == ".pem" || extension == ".crl")) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    auto loaded = read_crl_file(file);
    if (!loaded) return std::move(loaded).take_error();  // keep the previous set: never half a reload
    for (auto& crl : *loaded) {
      std::string issuer = name_key(X509_CRL_get_issuer(crl.crl.get()));
      by_issuer[issuer].push_back(std::move(crl));
    }
  }
  for (auto& [issuer, crls] : by_issuer) {
    std::stable_sort(crls.begin(), crls.end(),
                     [](const LoadedCrl& a, const LoadedCrl& b) { return a.this_update_ms > b.this_update_ms; });
  }
  state_->crls_by_issuer = std::move(by_issuer);
  ++state_->crl_generation;
  return {};
}

std::vector<std::string> TrustStore::crls_expiring_before(std::int64_t deadline_ms) const {
  std::vector<std::string> expiring;
  for (const auto& [issuer, crls] : state_->crls_by_issuer) {
    const LoadedCrl& crl = crls.front();  // the newest of that name
    if (crl.next_update_ms == 0 || crl.next_update_ms <= deadline_ms) {
      expiring.push_back("CRL of " + crl.issuer_text + " (" + crl.file + ") has nextUpdate " +
                         (crl.next_update_ms == 0 ? std::string("missing") : format_time(crl.next_update_ms)) +
                         ": re-issue it with `fpx-ca crl` and send SIGHUP to the broker");
    }
  }
  return expiring;
}

std::int64_t TrustStore::earliest_crl_next_update_ms() const {
  std::int64_t earliest = 0;
  for (const auto& [issuer, crls] : state_->crls_by_issuer) {
    const std::int64_t next = crls.front().next_update_ms;
    if (next == 0) return 0;  // stale already: crls_expiring_before warns of it
    if (earliest == 0 || next < earliest) earliest = next;
  }
  return earliest;
}

Result<ResolvedChain> TrustStore::State::verify_uncached(const std::vector<ByteView>& chain_der) {
  std::vector<Certificate> certificates;
  for (auto der : chain_der) {
    auto certificate = Certificate::from_der(der);
    if (!certificate) {
      return make_error(ErrorCode::untrusted_chain, "the signer chain holds an undecodable certificate: " +
                                                        certificate.error().message);
    }
    certificates.push_back(std::move(certificate).value());
  }
  const Certificate& leaf = certificates.front();
  if (leaf.is_ca()) {
    return make_error(ErrorCode::wrong_role, "a CA certificate (" + leaf.subject_text() + ") cannot sign messages");
  }

  ossl::X509StackPtr untrusted(sk_X509_new_null());
  for (std::size_t i = 1; i < certificates.size(); ++i) sk_X509_push(untrusted.get(), certificates[i].get());
  ossl::X509StoreCtxPtr context(X509_STORE_CTX_new());
  if (!context || X509_STORE_CTX_init(context.get(), store.get(), leaf.get(), untrusted.get()) != 1) {
    return make_error(ErrorCode::internal, "cannot set up chain verification: " + ossl::last_error_text());
  }
  // Validity periods are checked below against the message's created-at, and
  // revocation against the current CRLs: OpenSSL would do both at one time.
  X509_STORE_CTX_set_flags(context.get(), X509_V_FLAG_NO_CHECK_TIME);
  if (X509_verify_cert(context.get()) != 1) {
    int code = X509_STORE_CTX_get_error(context.get());
    X509* failing = X509_STORE_CTX_get_current_cert(context.get());
    std::string subject = failing ? Certificate::share(failing).subject_text() : leaf.subject_text();
    ERR_clear_error();
    return chain_error(code, subject);
  }

  ossl::X509OwningStackPtr path(X509_STORE_CTX_get1_chain(context.get()));
  // OpenSSL built leaf .. root; the leaf's issuer is the next one.
  if (!path || sk_X509_num(path.get()) < 2) {
    return make_error(ErrorCode::untrusted_chain, "certificate " + leaf.subject_text() + " has no issuer in its chain");
  }
  // After the chain verified, so that a tampered certificate stays
  // untrusted_chain and bad_key means "signed by the PKI, but not Ed25519".
  for (int i = 0; i < sk_X509_num(path.get()); ++i) {
    if (auto ed25519 = require_ed25519(Certificate::share(sk_X509_value(path.get(), i))); !ed25519) {
      return ed25519.error();
    }
  }
  auto participant = leaf.participant();
  if (!participant) return std::move(participant).take_error();
  const Certificate issuer = Certificate::share(sk_X509_value(path.get(), 1));
  if (auto may_issue = check_issuer_may_issue(leaf, participant->role, issuer, root); !may_issue) {
    return may_issue.error();
  }
  // The id tied to its country (ids.hpp), so that a state's CA cannot make
  // a participant that reads as another state's ("ne.police" with C=SN).
  if (auto mismatch = id_country_mismatch(participant->id.str(), participant->country.str(), participant->role);
      !mismatch.empty()) {
    return make_error(ErrorCode::untrusted_chain, "certificate " + leaf.subject_text() +
                                                      " breaks the exchange's id "
                                                      "rule: " +
                                                      mismatch + "; no FPX CA issues such a certificate");
  }

  ResolvedChain verified;
  verified.leaf = std::make_shared<const Certificate>(leaf);
  verified.participant = std::move(participant).value();
  verified.valid_from_ms = INT64_MIN;
  verified.valid_until_ms = INT64_MAX;
  for (int i = 0; i < sk_X509_num(path.get()); ++i) {
    Certificate copy = Certificate::share(sk_X509_value(path.get(), i));
    if (copy.not_before_ms() > verified.valid_from_ms) {
      verified.valid_from_ms = copy.not_before_ms();
      verified.valid_from_subject = copy.subject_text();
    }
    if (copy.not_after_ms() < verified.valid_until_ms) {
      verified.valid_until_ms = copy.not_after_ms();
      verified.valid_until_subject = copy.subject_text();
    }
    verified.path.push_back(std::move(copy));
  }
  return verified;
}

void TrustStore::State::check_revocation(ResolvedChain& chain) {
  RevocationFinding finding;
  finding.crl_generation = crl_generation;
  finding.next_update_ms = INT64_MAX;
  // Every certificate but the root is checked against its issuer's CRL.
  for (std::size_t i = 0; i + 1 < chain.path.size(); ++i) {
    const Certificate& subject = chain.path[i];
    const Certificate& issuer = chain.path[i + 1];
    auto found = crls_by_issuer.find(name_key(X509_get_subject_name(issuer.get())));
    if (found == crls_by_issuer.end()) {
      finding.error = make_error(ErrorCode::crl_missing, "no CRL of " + issuer.subject_text() + " in " +
                                                             crl_dir.string() +
                                                             ": copy the CA's CRL there and reload (SIGHUP)");
      break;
    }
    // A CRL is only evidence if its own issuer signed it: the newest that is.
    const LoadedCrl* signed_by_issuer = nullptr;
    for (const LoadedCrl& candidate : found->second) {
      if (X509_CRL_verify(candidate.crl.get(), X509_get0_pubkey(issuer.get())) == 1) {
        signed_by_issuer = &candidate;
        break;
      }
      ERR_clear_error();
    }
    if (signed_by_issuer == nullptr) {
      finding.error = make_error(ErrorCode::crl_missing, "no CRL in " + crl_dir.string() + " is signed by " +
                                                             issuer.subject_text() + " (" +
                                                             std::to_string(found->second.size()) +
                                                             " name it): copy the CA's own CRL there and reload");
      break;
    }
    X509_CRL* crl = signed_by_issuer->crl.get();
    if (signed_by_issuer->next_update_ms < finding.next_update_ms) {
      finding.next_update_ms = signed_by_issuer->next_update_ms;
      finding.next_update_issuer = issuer.subject_text();
    }
    X509_REVOKED* entry = nullptr;
    if (X509_CRL_get0_by_serial(crl, &entry, X509_get0_serialNumber(subject.get())) == 1 && entry != nullptr) {
      std::int64_t revoked_at = asn1_ms(X509_REVOKED_get0_revocationDate(entry));
      if (!finding.revoked_at_ms || revoked_at < *finding.revoked_at_ms) {
        finding.revoked_at_ms = revoked_at;
        finding.revoked_subject = subject.subject_text();
      }
    }
  }
  chain.revocation = std::move(finding);
}

Result<std::shared_ptr<ResolvedChain>> TrustStore::resolve_chain(const std::vector<ByteView>& chain_der) {
  if (chain_der.empty()) return make_error(ErrorCode::malformed, "the envelope carries no signer certificate");
  if (chain_der.size() > kMaxChainLength) {
    return make_error(ErrorCode::untrusted_chain, "signer chain longer than leaf, intermediate and root");
  }
  // Cache key: SHA-256 over length-prefixed certificates, so two different
  // chains can never share a key by moving bytes between certificates.
  Bytes keyed;
  for (auto der : chain_der) {
    std::uint32_t length = static_cast<std::uint32_t>(der.size());
    for (int shift = 24; shift >= 0; shift -= 8) keyed.push_back(static_cast<std::uint8_t>(length >> shift));
    keyed.insert(keyed.end(), der.begin(), der.end());
  }
  Sha256Digest digest = sha256(keyed);
  std::string key(reinterpret_cast<const char*>(digest.data()), digest.size());

  auto cached = state_->chains.find(key);
  if (cached != state_->chains.end()) return cached->second;
  auto verified = state_->verify_uncached(chain_der);
  if (!verified) return std::move(verified).take_error();
  if (state_->chains.size() >= kMaxCachedChains) state_->chains.clear();
  auto resolved = std::make_shared<ResolvedChain>(std::move(verified).value());
  state_->chains.emplace(key, resolved);
  return resolved;
}

const Certificate& TrustStore::leaf_of(const ResolvedChain& chain) { return *chain.leaf; }

Result<VerifiedSigner> TrustStore::verify_chain(const std::vector<ByteView>& chain_der, std::int64_t created_at_ms,
                                                std::int64_t now, RevocationCheck check) {
  auto resolved = resolve_chain(chain_der);
  if (!resolved) return std::move(resolved).take_error();
  return check_chain_at(**resolved, created_at_ms, now, check);
}

Result<VerifiedSigner> TrustStore::check_chain_at(ResolvedChain& chain, std::int64_t created_at_ms, std::int64_t now,
                                                  RevocationCheck check) {
  if (created_at_ms < chain.valid_from_ms) {
    return make_error(ErrorCode::certificate_not_yet_valid,
                      "message created at " + format_time(created_at_ms) + ", before certificate " +
                          chain.valid_from_subject + " became valid (" + format_time(chain.valid_from_ms) + ")");
  }
  if (created_at_ms > chain.valid_until_ms) {
    return make_error(ErrorCode::certificate_expired,
                      "message created at " + format_time(created_at_ms) + ", after certificate " +
                          chain.valid_until_subject + " expired (" + format_time(chain.valid_until_ms) +
                          "): renew it with `fpx-ca renew`");
  }

  VerifiedSigner signer{chain.participant, chain.leaf, RevocationStatus::not_checked};
  if (check == RevocationCheck::skip) return signer;

  if (chain.revocation.crl_generation != state_->crl_generation) state_->check_revocation(chain);
  const RevocationFinding& revocation = chain.revocation;
  if (revocation.error) return *revocation.error;
  if (revocation.next_update_ms == 0 || now > revocation.next_update_ms) {
    return make_error(ErrorCode::crl_stale, "the CRL of " + revocation.next_update_issuer + " is past its nextUpdate (" +
                                                format_time(revocation.next_update_ms) +
                                                "): re-issue it with `fpx-ca crl` and reload");
  }
  if (revocation.revoked_at_ms && *revocation.revoked_at_ms <= created_at_ms) {
    return make_error(ErrorCode::revoked, "certificate " + revocation.revoked_subject + " was revoked at " +
                                              format_time(*revocation.revoked_at_ms) +
                                              ", before this message was created (" + format_time(created_at_ms) +
                                              ")");
  }
  signer.revocation = RevocationStatus::checked;
  return signer;
}

}  // namespace fpx
