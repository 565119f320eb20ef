// PKCS#10 requests with the OpenSSL 3 C API (see certificate_request.hpp).
// Ed25519 is one-shot, so X509_REQ_sign takes a NULL digest (TOOLCHAIN.md trap 20).
#include "fpx/certificate_request.hpp"

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <vector>

#include "fpx/oids.hpp"
#include "fpx/openssl_handles.hpp"
#include "fpx/validate.hpp"

namespace fpx {
namespace {

using X509ReqPtr = std::unique_ptr<X509_REQ, ossl::Deleter<X509_REQ_free>>;
inline void free_extension_stack(STACK_OF(X509_EXTENSION) * stack) {
  sk_X509_EXTENSION_pop_free(stack, X509_EXTENSION_free);
}
using ExtensionStackPtr = std::unique_ptr<STACK_OF(X509_EXTENSION), ossl::Deleter<free_extension_stack>>;

// A request with more extensions than a participant's three is not one we
// made; refusing it early bounds the work spent on a hostile file.
constexpr int kMaxRequestExtensions = 3;

Error openssl_error(const std::string& what) {
  return make_error(ErrorCode::internal, what + ": " + ossl::last_error_text());
}

Error malformed(const std::string& what) {
  ERR_clear_error();
  return make_error(ErrorCode::malformed, "certificate request: " + what);
}

Status add_name_entry(X509_NAME* name, const char* field, const std::string& value) {
  if (X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(value.data()),
                                 static_cast<int>(value.size()), -1, 0) != 1) {
    return openssl_error(std::string("name entry ") + field);
  }
  return {};
}

// A custom extension whose value is the DER of `inner` (an OCTET STRING or a
// UTF8String), non-critical: OpenSSL refuses chains with critical extensions
// it does not know (TOOLCHAIN.md trap 15).
Result<ossl::X509ExtensionPtr> custom_extension(const char* dotted_oid, const unsigned char* der, int length) {
  ossl::Asn1OctetStringPtr value(ASN1_OCTET_STRING_new());
  if (!value || ASN1_OCTET_STRING_set(value.get(), der, length) != 1) return openssl_error("extension value");
  ossl::Asn1ObjectPtr oid(OBJ_txt2obj(dotted_oid, 1));
  if (!oid) return openssl_error("extension OID");
  ossl::X509ExtensionPtr ext(X509_EXTENSION_create_by_OBJ(nullptr, oid.get(), 0, value.get()));
  if (!ext) return openssl_error("X509_EXTENSION_create_by_OBJ");
  return ext;
}

Result<ossl::X509ExtensionPtr> curve_extension(const CurvePublicKey& key) {
  ossl::Asn1OctetStringPtr inner(ASN1_OCTET_STRING_new());
  if (!inner || ASN1_OCTET_STRING_set(inner.get(), key.data(), static_cast<int>(key.size())) != 1) {
    return openssl_error("CURVE key octets");
  }
  unsigned char* der = nullptr;
  const int length = i2d_ASN1_OCTET_STRING(inner.get(), &der);
  if (length <= 0) return openssl_error("CURVE key DER");
  auto ext = custom_extension(oid::kCurvePublicKey, der, length);
  OPENSSL_free(der);
  return ext;
}

Result<ossl::X509ExtensionPtr> officer_extension(const std::string& officer) {
  ossl::Asn1Utf8StringPtr inner(ASN1_UTF8STRING_new());
  if (!inner || ASN1_STRING_set(inner.get(), officer.data(), static_cast<int>(officer.size())) != 1) {
    return openssl_error("officer name");
  }
  unsigned char* der = nullptr;
  const int length = i2d_ASN1_UTF8STRING(inner.get(), &der);
  if (length <= 0) return openssl_error("officer DER");
  auto ext = custom_extension(oid::kOfficer, der, length);
  OPENSSL_free(der);
  return ext;
}

Result<ossl::X509ExtensionPtr> role_extension(Role role) {
  ossl::ExtKeyUsagePtr eku(sk_ASN1_OBJECT_new_null());
  if (!eku) return openssl_error("EKU stack");
  ossl::Asn1ObjectPtr oid(OBJ_txt2obj(oid::role_oid(role), 1));
  if (!oid || sk_ASN1_OBJECT_push(eku.get(), oid.get()) <= 0) return openssl_error("role OID");
  oid.release();  // owned by the stack
  ossl::X509ExtensionPtr ext(X509V3_EXT_i2d(NID_ext_key_usage, 0, eku.get()));
  if (!ext) return openssl_error("extendedKeyUsage");
  return ext;
}

// Subject (C first, then CN), public key, extensions, self-signature, PEM.
Result<std::string> signed_request(const SigningKey& key, const std::string& country, const std::string& common_name,
                                   STACK_OF(X509_EXTENSION) * extensions) {
  X509ReqPtr req(X509_REQ_new());
  if (!req) return openssl_error("X509_REQ_new");
  if (X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) != 1) return openssl_error("X509_REQ_set_version");
  ossl::X509NamePtr name(X509_NAME_new());
  if (!name) return openssl_error("X509_NAME_new");
  if (auto st = add_name_entry(name.get(), "C", country); !st) return st.error();
  if (auto st = add_name_entry(name.get(), "CN", common_name); !st) return st.error();
  if (X509_REQ_set_subject_name(req.get(), name.get()) != 1) return openssl_error("X509_REQ_set_subject_name");
  if (X509_REQ_set_pubkey(req.get(), key.get()) != 1) return openssl_error("X509_REQ_set_pubkey");
  if (extensions != nullptr && X509_REQ_add_extensions(req.get(), extensions) != 1) {
    return openssl_error("X509_REQ_add_extensions");
  }
  // The self-signature proves the requester holds the private key: nobody
  // can get a certificate for a public key they took from someone else.
  if (X509_REQ_sign(req.get(), key.get(), nullptr) <= 0) return openssl_error("X509_REQ_sign");
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_REQ(bio.get(), req.get()) != 1) return openssl_error("PEM_write_bio_X509_REQ");
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(length));
}

bool is_country_shape(const std::string& code) {
  return code.size() == 2 && std::all_of(code.begin(), code.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

std::string object_text(const ASN1_OBJECT* object) {
  char buffer[128];
  const int length = OBJ_obj2txt(buffer, sizeof buffer, object, 1);
  if (length <= 0 || static_cast<std::size_t>(length) >= sizeof buffer) return {};
  return std::string(buffer, static_cast<std::size_t>(length));
}

// The subject must be exactly C then CN, each once: anything else would let
// a request smuggle a second CN or an OU that some verifier reads instead.
Result<std::pair<std::string, std::string>> read_subject(const X509_NAME* name) {
  if (name == nullptr || X509_NAME_entry_count(name) != 2)
    return malformed("the subject must be exactly C=<cc>, CN=<name>");
  std::string values[2];
  const int nids[2] = {NID_countryName, NID_commonName};
  for (int i = 0; i < 2; ++i) {
    const X509_NAME_ENTRY* entry = X509_NAME_get_entry(name, i);
    if (OBJ_obj2nid(X509_NAME_ENTRY_get_object(entry)) != nids[i]) {
      return malformed("the subject must be exactly C=<cc>, CN=<name>, in that order");
    }
    unsigned char* utf8 = nullptr;
    const int length = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry));
    if (length < 0) return malformed("the subject is not UTF-8 text");
    values[i].assign(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(length));
    OPENSSL_free(utf8);
  }
  return std::pair{values[0], values[1]};
}

Result<std::string> inner_der_value(X509_EXTENSION* ext, int expected_type) {
  const ASN1_OCTET_STRING* value = X509_EXTENSION_get_data(ext);
  const unsigned char* cursor = ASN1_STRING_get0_data(value);
  const long length = ASN1_STRING_length(value);
  long inner_length = 0;
  int tag = 0;
  int xclass = 0;
  const int info = ASN1_get_object(&cursor, &inner_length, &tag, &xclass, length);
  if ((info & 0x80) != 0 || tag != expected_type || xclass != V_ASN1_UNIVERSAL ||
      cursor + inner_length != ASN1_STRING_get0_data(value) + length) {
    return malformed("an FPX extension's value is not the expected DER");
  }
  return std::string(reinterpret_cast<const char*>(cursor), static_cast<std::size_t>(inner_length));
}

}  // namespace

std::string national_ca_common_name(const CountryCode& country) {
  return country.str() + " national CA";
}

Result<std::string> make_participant_request(const SigningKey& signing_key, const ParticipantId& id,
                                             const CountryCode& country, Role role, const CurvePublicKey& curve,
                                             const std::optional<std::string>& officer) {
  if (!is_valid_participant_id(id.str())) {
    return make_error(ErrorCode::invalid_argument,
                      "participant id '" + id.str() +
                          "' is not valid: use 1-64 lower-case letters, digits, '.' and '-' (e.g. sn.focal-point)");
  }
  if (!is_iso3166_alpha2(country.str())) {
    return make_error(ErrorCode::invalid_argument,
                      "'" + country.str() + "' is not an ISO 3166-1 alpha-2 country code; use e.g. SN");
  }
  if (officer && !valid_officer_name(*officer)) {
    return make_error(
        ErrorCode::invalid_argument,
        "officer name '" + *officer + "' must be 1 to 64 of a-z, 0-9, '.' and '-', starting with a letter or digit");
  }
  ExtensionStackPtr extensions(sk_X509_EXTENSION_new_null());
  if (!extensions) return openssl_error("extension stack");
  std::vector<Result<ossl::X509ExtensionPtr>> made;
  made.push_back(role_extension(role));
  made.push_back(curve_extension(curve));
  if (officer) made.push_back(officer_extension(*officer));
  for (auto& ext : made) {
    if (!ext) return std::move(ext).take_error();
    if (sk_X509_EXTENSION_push(extensions.get(), ext->get()) <= 0) return openssl_error("extension push");
    ext->release();  // owned by the stack
  }
  return signed_request(signing_key, country.str(), id.str(), extensions.get());
}

Result<std::string> make_national_ca_request(const SigningKey& ca_key, const CountryCode& country) {
  if (!is_iso3166_alpha2(country.str())) {
    return make_error(ErrorCode::invalid_argument,
                      "'" + country.str() + "' is not an ISO 3166-1 alpha-2 country code; use e.g. SN");
  }
  return signed_request(ca_key, country.str(), national_ca_common_name(country), nullptr);
}

Result<CertificateRequestInfo> parse_certificate_request(std::string_view pem) {
  if (pem.size() > kMaxCertificateRequestPem) {
    return make_error(ErrorCode::too_large, "certificate request is larger than " +
                                                std::to_string(kMaxCertificateRequestPem) +
                                                " bytes: it is not an FPX request");
  }
  ossl::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return openssl_error("BIO_new_mem_buf");
  X509ReqPtr req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (!req) return malformed("not a PEM certificate request (-----BEGIN CERTIFICATE REQUEST-----)");

  EVP_PKEY* key = X509_REQ_get0_pubkey(req.get());
  if (key == nullptr || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
    ERR_clear_error();
    // FPX signs with Ed25519 only: one algorithm means no downgrade to a
    // weaker one and one verification path for every party.
    return make_error(ErrorCode::bad_key,
                      "certificate request: the key is not Ed25519; make the request with `fpx keys new` (or "
                      "`openssl genpkey -algorithm ed25519`)");
  }
  if (X509_REQ_verify(req.get(), key) != 1) {
    ERR_clear_error();
    return make_error(ErrorCode::bad_signature,
                      "certificate request: its self-signature does not verify (altered after it was made); ask "
                      "its owner for the request again");
  }
  CertificateRequestInfo info;
  std::size_t raw_length = info.signing_public_key.size();
  if (EVP_PKEY_get_raw_public_key(key, info.signing_public_key.data(), &raw_length) != 1 ||
      raw_length != info.signing_public_key.size()) {
    return openssl_error("raw Ed25519 key");
  }

  auto subject = read_subject(X509_REQ_get_subject_name(req.get()));
  if (!subject) return std::move(subject).take_error();
  const auto& [country, common_name] = *subject;
  if (!is_country_shape(country)) return malformed("C='" + country + "' is not two upper-case letters");
  info.country = CountryCode(country);

  ExtensionStackPtr extensions(X509_REQ_get_extensions(req.get()));
  ERR_clear_error();  // no extensionRequest attribute is not an error here
  const int count = extensions ? sk_X509_EXTENSION_num(extensions.get()) : 0;

  if (common_name == national_ca_common_name(info.country)) {
    // A national CA's request carries nothing else: its profile (name
    // constraint, pathlen, the roles it may issue) is the root's to decide.
    if (count != 0) return malformed("a national CA's request carries no extension");
    info.kind = RequestKind::national_ca;
    return info;
  }
  if (!is_valid_participant_id(common_name)) {
    return malformed("CN='" + common_name + "' is neither a participant id nor '" + country + " national CA'");
  }
  info.id = ParticipantId(common_name);
  if (count > kMaxRequestExtensions) return malformed("too many extensions");

  const auto curve_oid = std::string(oid::kCurvePublicKey);
  const auto officer_oid = std::string(oid::kOfficer);
  bool have_role = false;
  for (int i = 0; i < count; ++i) {
    X509_EXTENSION* ext = sk_X509_EXTENSION_value(extensions.get(), i);
    const ASN1_OBJECT* object = X509_EXTENSION_get_object(ext);
    const std::string dotted = object_text(object);
    if (OBJ_obj2nid(object) == NID_ext_key_usage) {
      if (have_role) return malformed("more than one extendedKeyUsage");
      ossl::ExtKeyUsagePtr usages(static_cast<EXTENDED_KEY_USAGE*>(X509V3_EXT_d2i(ext)));
      if (!usages || sk_ASN1_OBJECT_num(usages.get()) != 1) {
        return malformed("extendedKeyUsage must name exactly one FPX role");
      }
      const auto role = oid::role_from_oid(object_text(sk_ASN1_OBJECT_value(usages.get(), 0)));
      if (!role) return malformed("extendedKeyUsage names no FPX role");
      info.role = *role;
      have_role = true;
    } else if (dotted == curve_oid) {
      if (info.curve_public_key) return malformed("more than one CURVE public key");
      auto value = inner_der_value(ext, V_ASN1_OCTET_STRING);
      if (!value) return std::move(value).take_error();
      if (value->size() != 32) return malformed("the CURVE public key is not 32 bytes");
      CurvePublicKey curve{};
      std::copy(value->begin(), value->end(), curve.begin());
      info.curve_public_key = curve;
    } else if (dotted == officer_oid) {
      if (info.officer) return malformed("more than one officer");
      auto value = inner_der_value(ext, V_ASN1_UTF8STRING);
      if (!value) return std::move(value).take_error();
      if (!valid_officer_name(*value)) return malformed("officer name '" + *value + "' is not valid");
      info.officer = *value;
    } else {
      // Only FPX's own extensions: a requested basicConstraints CA:TRUE or a
      // second purpose is refused rather than silently dropped.
      return malformed("unexpected extension " + dotted + "; make the request with `fpx keys new`");
    }
  }
  if (!have_role) return malformed("no requested role (extendedKeyUsage)");
  if (!info.curve_public_key) return malformed("no CURVE public key extension");
  return info;
}

}  // namespace fpx
