// Issuing side of the exchange's PKI with the OpenSSL 3 C API. Every
// certificate is Ed25519, so X509_sign/X509_CRL_sign take a NULL digest
// (Ed25519 is one-shot and hashes internally; TOOLCHAIN.md trap 20).
#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <ctime>
#include <initializer_list>
#include <utility>

#include "fpx/oids.hpp"
#include "fpx/openssl_handles.hpp"
#include "fpx/pki.hpp"

namespace fpx::pki {
namespace {

using NameConstraintsPtr = std::unique_ptr<NAME_CONSTRAINTS, ossl::Deleter<NAME_CONSTRAINTS_free>>;
using GeneralSubtreePtr = std::unique_ptr<GENERAL_SUBTREE, ossl::Deleter<GENERAL_SUBTREE_free>>;
using X509RevokedPtr = std::unique_ptr<X509_REVOKED, ossl::Deleter<X509_REVOKED_free>>;

constexpr std::int64_t kMsPerDay = 24LL * 60 * 60 * 1000;
// Tolerates a verifier whose clock is slightly behind ours, so a freshly
// issued certificate is not refused as "not yet valid".
constexpr std::int64_t kClockSkewMs = 60 * 1000;
// A serial of 128 random bits: unpredictable serials stop chosen-prefix
// collision attacks on the signed bytes and make serials unique without a
// counter that two CA copies could both advance.
constexpr std::size_t kSerialBytes = 16;

Error openssl_error(const std::string& what) {
  return make_error(ErrorCode::internal, what + ": " + ossl::last_error_text());
}

// Two upper-case ASCII letters (ISO 3166-1 alpha-2 shape; the list itself is
// protocol/'s business). Anything else would make a name constraint that
// matches nothing or a subject no verifier expects.
bool is_country_code(const std::string& code) {
  return code.size() == 2 && code[0] >= 'A' && code[0] <= 'Z' && code[1] >= 'A' && code[1] <= 'Z';
}

Status set_serial(X509* cert) {
  std::array<std::uint8_t, kSerialBytes> raw{};
  // A zero serial is not allowed by RFC 5280; with 128 random bits this loop
  // practically never repeats.
  do {
    random_bytes(raw);
  } while (std::all_of(raw.begin(), raw.end(), [](std::uint8_t b) { return b == 0; }));
  // BN_bin2bn reads unsigned big-endian, so the serial is always positive.
  ossl::BignumPtr bn(BN_bin2bn(raw.data(), static_cast<int>(raw.size()), nullptr));
  if (!bn) return openssl_error("BN_bin2bn");
  ossl::Asn1IntegerPtr serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  if (!serial || X509_set_serialNumber(cert, serial.get()) != 1) return openssl_error("set serial");
  return {};
}

ossl::Asn1TimePtr asn1_time_from_ms(std::int64_t ms) {
  return ossl::Asn1TimePtr(ASN1_TIME_set(nullptr, static_cast<std::time_t>(ms / 1000)));
}

Status set_validity(X509* cert, const Validity& validity) {
  if (validity.not_after_ms <= validity.not_before_ms) {
    return make_error(ErrorCode::invalid_argument, "validity ends before it begins");
  }
  auto not_before = asn1_time_from_ms(validity.not_before_ms);
  auto not_after = asn1_time_from_ms(validity.not_after_ms);
  if (!not_before || !not_after || X509_set1_notBefore(cert, not_before.get()) != 1 ||
      X509_set1_notAfter(cert, not_after.get()) != 1) {
    return openssl_error("set validity");
  }
  return {};
}

Status add_name_entry(X509_NAME* name, const char* field, const std::string& value) {
  if (X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(value.data()),
                                 static_cast<int>(value.size()), -1, 0) != 1) {
    return openssl_error(std::string("name entry ") + field);
  }
  return {};
}

// A standard extension from its OpenSSL config text ("critical,CA:TRUE").
// The context gives SKI/AKI the subject and issuer certificates to hash.
Status add_conf_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ossl::X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return openssl_error(std::string("extension ") + OBJ_nid2sn(nid));
  }
  return {};
}

// A blank v3 certificate with serial, subject, issuer name, validity and key.
Result<ossl::X509Ptr> new_certificate(X509_NAME* subject, X509_NAME* issuer_name, EVP_PKEY* public_key,
                                      const Validity& validity) {
  ossl::X509Ptr cert(X509_new());
  if (!cert) return openssl_error("X509_new");
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1) return openssl_error("X509_set_version");
  if (auto st = set_serial(cert.get()); !st) return Error(st.error());
  if (X509_set_subject_name(cert.get(), subject) != 1 || X509_set_issuer_name(cert.get(), issuer_name) != 1) {
    return openssl_error("set names");
  }
  if (auto st = set_validity(cert.get(), validity); !st) return Error(st.error());
  if (X509_set_pubkey(cert.get(), public_key) != 1) return openssl_error("X509_set_pubkey");
  return cert;
}

Result<Certificate> sign_and_wrap(X509* cert, const SigningKey& issuer_key) {
  // NULL digest: Ed25519 signs the message itself (PureEdDSA).
  if (X509_sign(cert, issuer_key.get(), nullptr) <= 0) return openssl_error("X509_sign");
  unsigned char* der = nullptr;
  const int len = i2d_X509(cert, &der);
  if (len <= 0) return openssl_error("i2d_X509");
  Bytes bytes(der, der + len);
  OPENSSL_free(der);
  return Certificate::from_der(bytes);
}

// nameConstraints: permitted dirName C=<cc>. OpenSSL matches a permitted
// dirName as a prefix of the subject's RDN sequence, so a leaf "C=SN, CN=x"
// passes and "C=NE, CN=x" fails: this is what stops a national CA (whose key
// sits with one state's focal point) from minting identities for another state.
Status add_country_name_constraint(X509* cert, const std::string& country) {
  ossl::X509NamePtr name(X509_NAME_new());
  if (!name) return openssl_error("X509_NAME_new");
  if (auto st = add_name_entry(name.get(), "C", country); !st) return st;

  GeneralSubtreePtr subtree(GENERAL_SUBTREE_new());
  if (!subtree) return openssl_error("GENERAL_SUBTREE_new");
  // GENERAL_SUBTREE_new allocates base; fill it as a directoryName that owns the name.
  GENERAL_NAME_set0_value(subtree->base, GEN_DIRNAME, name.release());

  NameConstraintsPtr constraints(NAME_CONSTRAINTS_new());
  if (!constraints) return openssl_error("NAME_CONSTRAINTS_new");
  constraints->permittedSubtrees = sk_GENERAL_SUBTREE_new_null();
  if (constraints->permittedSubtrees == nullptr ||
      sk_GENERAL_SUBTREE_push(constraints->permittedSubtrees, subtree.get()) <= 0) {
    return openssl_error("permitted subtrees");
  }
  subtree.release();  // now owned by constraints
  // Critical, as RFC 5280 requires: a verifier that cannot enforce the
  // constraint must refuse the chain rather than ignore it.
  if (X509_add1_ext_i2d(cert, NID_name_constraints, constraints.get(), 1, X509V3_ADD_DEFAULT) != 1) {
    return openssl_error("nameConstraints");
  }
  return {};
}

// extendedKeyUsage = the role's OID, so the role is signed by the CA and a
// participant cannot claim another role in a message.
// On a national CA, the roles it may issue (oid.hpp), so that any verifier
// holding only the root can refuse a broker or observer certificate from it.
Status add_roles(X509* cert, std::initializer_list<Role> roles) {
  ossl::ExtKeyUsagePtr eku(sk_ASN1_OBJECT_new_null());
  if (!eku) return openssl_error("EKU stack");
  for (Role role : roles) {
    // no_name=1: always parse as a dotted OID, never as a short name.
    ossl::Asn1ObjectPtr oid(OBJ_txt2obj(oid::role_oid(role), 1));
    if (!oid || sk_ASN1_OBJECT_push(eku.get(), oid.get()) <= 0) return openssl_error("role OID");
    oid.release();  // owned by the stack
  }
  // Non-critical: OpenSSL treats a critical EKU without a purpose it checks
  // the same way, and other verifiers (python cryptography) stay happy.
  if (X509_add1_ext_i2d(cert, NID_ext_key_usage, eku.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return openssl_error("extendedKeyUsage");
  }
  return {};
}

Status add_role(X509* cert, Role role) { return add_roles(cert, {role}); }

// The officer's name: extension value = DER UTF8String (oid::kOfficer).
Status add_officer(X509* cert, const std::string& officer) {
  ossl::Asn1Utf8StringPtr inner(ASN1_UTF8STRING_new());
  if (!inner || ASN1_STRING_set(inner.get(), officer.data(), static_cast<int>(officer.size())) != 1) {
    return openssl_error("officer name");
  }
  unsigned char* der = nullptr;
  const int len = i2d_ASN1_UTF8STRING(inner.get(), &der);
  if (len <= 0) return openssl_error("officer DER");
  ossl::Asn1OctetStringPtr outer(ASN1_OCTET_STRING_new());
  const int set_ok = outer ? ASN1_OCTET_STRING_set(outer.get(), der, len) : 0;
  OPENSSL_free(der);
  if (set_ok != 1) return openssl_error("officer extension value");
  ossl::Asn1ObjectPtr oid(OBJ_txt2obj(oid::kOfficer, 1));
  if (!oid) return openssl_error("officer OID");
  ossl::X509ExtensionPtr ext(X509_EXTENSION_create_by_OBJ(nullptr, oid.get(), 0, outer.get()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) return openssl_error("officer extension");
  return {};
}

// The CURVE transport key: extension value = DER OCTET STRING of 32 bytes.
// Binding it into the certificate stops an attacker who steals only a
// transport key from impersonating the participant with its own signing key
// (and vice versa): the broker checks both belong to one certificate.
Status add_curve_key(X509* cert, const CurvePublicKey& key) {
  ossl::Asn1OctetStringPtr inner(ASN1_OCTET_STRING_new());
  if (!inner || ASN1_OCTET_STRING_set(inner.get(), key.data(), static_cast<int>(key.size())) != 1) {
    return openssl_error("CURVE key octets");
  }
  unsigned char* der = nullptr;
  const int len = i2d_ASN1_OCTET_STRING(inner.get(), &der);
  if (len <= 0) return openssl_error("CURVE key DER");
  ossl::Asn1OctetStringPtr outer(ASN1_OCTET_STRING_new());
  const int set_ok = outer ? ASN1_OCTET_STRING_set(outer.get(), der, len) : 0;
  OPENSSL_free(der);
  if (set_ok != 1) return openssl_error("CURVE extension value");

  ossl::Asn1ObjectPtr oid(OBJ_txt2obj(oid::kCurvePublicKey, 1));
  if (!oid) return openssl_error("CURVE OID");
  // Non-critical: OpenSSL refuses any chain with a critical extension it does
  // not know (TOOLCHAIN.md trap 15); our own verifier requires it anyway.
  ossl::X509ExtensionPtr ext(X509_EXTENSION_create_by_OBJ(nullptr, oid.get(), 0, outer.get()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) return openssl_error("CURVE extension");
  return {};
}

}  // namespace

Validity Validity::days_from_now(int days) {
  const std::int64_t now = now_ms();
  return Validity{now - kClockSkewMs, now + static_cast<std::int64_t>(days) * kMsPerDay};
}

Result<Authority> Authority::create_root(const std::string& common_name, SigningKey key, const Validity& validity) {
  if (common_name.empty()) return make_error(ErrorCode::invalid_argument, "the root CA needs a name");
  ossl::X509NamePtr name(X509_NAME_new());
  if (!name) return openssl_error("X509_NAME_new");
  if (auto st = add_name_entry(name.get(), "CN", common_name); !st) return Error(st.error());

  auto cert = new_certificate(name.get(), name.get(), key.get(), validity);
  if (!cert) return Error(cert.error());
  X509* x = cert->get();
  // No pathlen on the root: intermediates below it carry pathlen:0.
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:TRUE"},
                            std::pair{NID_key_usage, "critical,keyCertSign,cRLSign"},
                            std::pair{NID_subject_key_identifier, "hash"}}) {
    if (auto st = add_conf_extension(x, x, nid, value); !st) return Error(st.error());
  }
  auto signed_cert = sign_and_wrap(x, key);
  if (!signed_cert) return Error(signed_cert.error());
  return Authority(std::move(signed_cert).value(), std::move(key));
}

Result<Authority> Authority::create_intermediate(const CountryCode& country, SigningKey key,
                                                 const Validity& validity) const {
  auto cert = sign_intermediate(country, key.public_key(), validity);
  if (!cert) return std::move(cert).take_error();
  return Authority(std::move(cert).value(), std::move(key));
}

Result<Certificate> Authority::sign_intermediate(const CountryCode& country, const Ed25519PublicKey& public_key,
                                                 const Validity& validity) const {
  if (!is_country_code(country.str())) {
    return make_error(ErrorCode::invalid_argument,
                      "country code '" + country.str() + "' must be two upper-case letters (ISO 3166-1 alpha-2)");
  }
  if (this->country()) {
    // pathlen:0 on intermediates forbids this anyway; say it clearly.
    return make_error(ErrorCode::invalid_argument, "only the root CA may create intermediates");
  }
  ossl::X509NamePtr name(X509_NAME_new());
  if (!name) return openssl_error("X509_NAME_new");
  if (auto st = add_name_entry(name.get(), "C", country.str()); !st) return Error(st.error());
  if (auto st = add_name_entry(name.get(), "CN", country.str() + " national CA"); !st) return Error(st.error());

  ossl::PkeyPtr subject_key(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, public_key.data(), public_key.size()));
  if (!subject_key) return make_error(ErrorCode::bad_key, "national CA public key: " + ossl::last_error_text());
  X509* issuer = certificate_.get();
  auto cert = new_certificate(name.get(), X509_get_subject_name(issuer), subject_key.get(), validity);
  if (!cert) return Error(cert.error());
  X509* x = cert->get();
  // pathlen:0 stops a national CA from creating sub-CAs that would escape
  // the exchange's oversight (they would still be name-constrained, but
  // could not be revoked by the root's CRL alone).
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                            std::pair{NID_key_usage, "critical,keyCertSign,cRLSign"},
                            std::pair{NID_subject_key_identifier, "hash"},
                            std::pair{NID_authority_key_identifier, "keyid:always"}}) {
    if (auto st = add_conf_extension(x, issuer, nid, value); !st) return Error(st.error());
  }
  if (auto st = add_country_name_constraint(x, country.str()); !st) return Error(st.error());
  if (auto st = add_roles(x, {Role::focal_point, Role::agency}); !st) return Error(st.error());
  return sign_and_wrap(x, key_);
}

bool Authority::issued(const Certificate& certificate) const {
  return is_issued_by(certificate_, certificate);
}

bool is_issued_by(const Certificate& issuer, const Certificate& certificate) {
  // The issuer name must match and the signature must verify with the
  // issuer's key: a name alone is what an attacker would copy.
  X509* mine = issuer.get();
  const bool ok = X509_check_issued(mine, certificate.get()) == X509_V_OK &&
                  X509_verify(certificate.get(), X509_get0_pubkey(mine)) == 1;
  ERR_clear_error();
  return ok;
}

Result<std::int64_t> crl_next_update_ms(const std::string& pem) {
  ossl::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return openssl_error("BIO_new_mem_buf");
  ossl::X509CrlPtr crl(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
  if (!crl) return make_error(ErrorCode::malformed, "not a PEM CRL: " + ossl::last_error_text());
  const ASN1_TIME* next = X509_CRL_get0_nextUpdate(crl.get());
  if (next == nullptr) return make_error(ErrorCode::malformed, "the CRL has no nextUpdate");
  std::tm tm{};
  if (ASN1_TIME_to_tm(next, &tm) != 1) return make_error(ErrorCode::malformed, "the CRL's nextUpdate is not a time");
  return static_cast<std::int64_t>(::timegm(&tm)) * 1000;
}

Result<Certificate> Authority::issue(const ParticipantRequest& request, CountryCheck check) const {
  if (!is_country_code(request.country.str())) {
    return make_error(ErrorCode::invalid_argument, "country code '" + request.country.str() +
                                                       "' must be two upper-case letters (ISO 3166-1 alpha-2)");
  }
  if (request.id.empty()) return make_error(ErrorCode::invalid_argument, "participant id is empty");
  // The role first: a broker or observer request to a national CA is refused
  // for what it asks, whatever country it names.
  if (check == CountryCheck::enforce) {
    if (const auto limit = country(); limit && !national_ca_may_issue(request.role)) {
      return make_error(ErrorCode::invalid_argument, "the " + limit->str() + " national CA may not issue a " +
                                                         std::string(role_name(request.role)) +
                                                         " certificate: only the root issues broker and observer "
                                                         "certificates, and a civil-society organisation's cso "
                                                         "certificate");
    }
  }
  if (const auto limit = country(); limit && *limit != request.country && check == CountryCheck::enforce) {
    // Refuse here too (verifiers would refuse the chain anyway): a CA that
    // signs what the PKI forbids is a bug to catch at the source.
    return make_error(ErrorCode::invalid_argument, "the " + limit->str() + " intermediate CA may only issue for " +
                                                       limit->str() + ", not " + request.country.str());
  }
  if (check == CountryCheck::enforce) {
    if (auto mismatch = id_country_mismatch(request.id.str(), request.country.str(), request.role);
        !mismatch.empty()) {
      return make_error(ErrorCode::invalid_argument, mismatch);
    }
  }
  if (request.officer && !valid_officer_name(*request.officer)) {
    return make_error(ErrorCode::invalid_argument, "officer name '" + *request.officer +
                                                       "' must be 1 to 64 of a-z, 0-9, '.' and '-', starting with a "
                                                       "letter or digit");
  }
  ossl::PkeyPtr subject_key(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                                        request.signing_public_key.data(),
                                                        request.signing_public_key.size()));
  if (!subject_key) return make_error(ErrorCode::bad_key, "signing public key: " + ossl::last_error_text());

  // C first, then CN: the intermediate's name constraint is a prefix match.
  ossl::X509NamePtr name(X509_NAME_new());
  if (!name) return openssl_error("X509_NAME_new");
  if (auto st = add_name_entry(name.get(), "C", request.country.str()); !st) return Error(st.error());
  if (auto st = add_name_entry(name.get(), "CN", request.id.str()); !st) return Error(st.error());

  X509* issuer = certificate_.get();
  auto cert = new_certificate(name.get(), X509_get_subject_name(issuer), subject_key.get(), request.validity);
  if (!cert) return Error(cert.error());
  X509* x = cert->get();
  // CA:FALSE (critical) stops a participant from using its key to sign
  // certificates; digitalSignature only, so the key signs messages and nothing else.
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:FALSE"},
                            std::pair{NID_key_usage, "critical,digitalSignature"},
                            std::pair{NID_subject_key_identifier, "hash"},
                            std::pair{NID_authority_key_identifier, "keyid:always"}}) {
    if (auto st = add_conf_extension(x, issuer, nid, value); !st) return Error(st.error());
  }
  if (auto st = add_role(x, request.role); !st) return Error(st.error());
  if (request.curve_public_key) {
    if (auto st = add_curve_key(x, *request.curve_public_key); !st) return Error(st.error());
  }
  if (request.officer) {
    if (auto st = add_officer(x, *request.officer); !st) return Error(st.error());
  }
  return sign_and_wrap(x, key_);
}

Result<std::string> Authority::make_crl_pem(const std::vector<RevokedEntry>& revoked, std::int64_t this_update_ms,
                                            std::int64_t next_update_ms, std::uint64_t crl_number) const {
  if (next_update_ms <= this_update_ms) {
    return make_error(ErrorCode::invalid_argument, "CRL nextUpdate must be after thisUpdate");
  }
  X509* issuer = certificate_.get();
  ossl::X509CrlPtr crl(X509_CRL_new());
  if (!crl) return openssl_error("X509_CRL_new");
  // v2 CRL: needed for the CRL number and AKI extensions.
  if (X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) != 1 ||
      X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(issuer)) != 1) {
    return openssl_error("CRL header");
  }
  auto this_update = asn1_time_from_ms(this_update_ms);
  auto next_update = asn1_time_from_ms(next_update_ms);
  // nextUpdate is what lets verifiers fail closed: a CRL an attacker keeps
  // from being refreshed stops being accepted instead of hiding revocations forever.
  if (!this_update || !next_update || X509_CRL_set1_lastUpdate(crl.get(), this_update.get()) != 1 ||
      X509_CRL_set1_nextUpdate(crl.get(), next_update.get()) != 1) {
    return openssl_error("CRL dates");
  }

  for (const auto& entry : revoked) {
    BIGNUM* raw_bn = nullptr;
    std::string hex;
    for (char c : entry.serial_hex) {
      if (c != ':') hex.push_back(c);
    }
    // Hex digits only: BN_hex2bn would also take a leading '-' (a negative serial).
    const bool all_hex = std::all_of(hex.begin(), hex.end(), [](char c) {
      return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    });
    if (hex.empty() || !all_hex || BN_hex2bn(&raw_bn, hex.c_str()) != static_cast<int>(hex.size())) {
      BN_free(raw_bn);
      return make_error(ErrorCode::invalid_argument, "revoked serial '" + entry.serial_hex + "' is not hex");
    }
    ossl::BignumPtr bn(raw_bn);
    ossl::Asn1IntegerPtr serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
    auto when = asn1_time_from_ms(entry.revoked_at_ms);
    X509RevokedPtr item(X509_REVOKED_new());
    if (!serial || !when || !item || X509_REVOKED_set_serialNumber(item.get(), serial.get()) != 1 ||
        X509_REVOKED_set_revocationDate(item.get(), when.get()) != 1) {
      return openssl_error("revoked entry");
    }
    if (X509_CRL_add0_revoked(crl.get(), item.get()) != 1) return openssl_error("X509_CRL_add0_revoked");
    item.release();  // owned by the CRL
  }
  if (X509_CRL_sort(crl.get()) != 1) return openssl_error("X509_CRL_sort");

  ossl::BignumPtr number_bn(BN_new());
  if (!number_bn || BN_set_word(number_bn.get(), crl_number) != 1) return openssl_error("CRL number");
  ossl::Asn1IntegerPtr number(BN_to_ASN1_INTEGER(number_bn.get(), nullptr));
  // The CRL number lets a verifier refuse an older CRL replayed in place of a newer one.
  if (!number || X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, number.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return openssl_error("CRL number extension");
  }
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, nullptr, nullptr, crl.get(), 0);
  ossl::X509ExtensionPtr aki(X509V3_EXT_conf_nid(nullptr, &ctx, NID_authority_key_identifier, "keyid:always"));
  if (!aki || X509_CRL_add_ext(crl.get(), aki.get(), -1) != 1) return openssl_error("CRL authorityKeyIdentifier");

  if (X509_CRL_sign(crl.get(), key_.get(), nullptr) <= 0) return openssl_error("X509_CRL_sign");

  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_CRL(bio.get(), crl.get()) != 1) return openssl_error("PEM_write_bio_X509_CRL");
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

}  // namespace fpx::pki
