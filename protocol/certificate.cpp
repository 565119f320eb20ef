#include "fpx/certificate.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <fstream>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "fpx/oids.hpp"
#include "fpx/openssl_handles.hpp"

namespace fpx {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {

std::int64_t asn1_time_ms(const ASN1_TIME* time) {
  std::tm parts{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &parts) != 1) return 0;
  return static_cast<std::int64_t>(timegm(&parts)) * 1000;
}

std::optional<std::string> name_entry(const X509_NAME* name, int nid) {
  if (name == nullptr) return std::nullopt;
  int index = X509_NAME_get_index_by_NID(name, nid, -1);
  if (index < 0) return std::nullopt;
  // A second entry of the same kind would make "the" id ambiguous.
  if (X509_NAME_get_index_by_NID(name, nid, index) >= 0) return std::nullopt;
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  int length = ASN1_STRING_to_UTF8(&utf8, data);
  if (length < 0) return std::nullopt;
  std::string text(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(length));
  OPENSSL_free(utf8);
  return text;
}

std::string name_text(const X509_NAME* name) {
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(length));
}

std::string object_text(const ASN1_OBJECT* object) {
  char buffer[128];
  int length = OBJ_obj2txt(buffer, sizeof buffer, object, 1);
  if (length <= 0 || static_cast<std::size_t>(length) >= sizeof buffer) return {};
  return std::string(buffer, static_cast<std::size_t>(length));
}

}  // namespace

Certificate::Certificate(const Certificate& other) : cert_(other.cert_) { X509_up_ref(cert_); }
Certificate& Certificate::operator=(const Certificate& other) {
  if (this != &other) {
    X509_up_ref(other.cert_);
    X509_free(cert_);
    cert_ = other.cert_;
  }
  return *this;
}
Certificate::Certificate(Certificate&& other) noexcept : cert_(other.cert_) { other.cert_ = nullptr; }
Certificate& Certificate::operator=(Certificate&& other) noexcept {
  if (this != &other) {
    X509_free(cert_);
    cert_ = other.cert_;
    other.cert_ = nullptr;
  }
  return *this;
}
Certificate::~Certificate() { X509_free(cert_); }

Certificate Certificate::share(X509* cert) {
  X509_up_ref(cert);
  return Certificate(cert);
}

Result<Certificate> Certificate::from_der(ByteView der) {
  const unsigned char* cursor = der.data();
  X509* cert = d2i_X509(nullptr, &cursor, static_cast<long>(der.size()));
  if (cert == nullptr) {
    return make_error(ErrorCode::malformed, "not a DER X.509 certificate: " + ossl::last_error_text());
  }
  if (cursor != der.data() + der.size()) {
    X509_free(cert);
    return make_error(ErrorCode::malformed, "trailing bytes after a DER certificate");
  }
  return Certificate(cert);
}

Result<std::vector<Certificate>> Certificate::load_pem_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::io_error, "cannot read certificate file " + path.string());
  std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ossl::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::vector<Certificate> certificates;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    certificates.push_back(Certificate(cert));
  }
  ERR_clear_error();  // the loop ends on "no start line"
  if (certificates.empty()) {
    return make_error(ErrorCode::malformed, "no PEM certificate in " + path.string());
  }
  return certificates;
}

Bytes Certificate::der() const {
  unsigned char* data = nullptr;
  int length = i2d_X509(cert_, &data);
  if (length <= 0) return {};
  Bytes bytes(data, data + length);
  OPENSSL_free(data);
  return bytes;
}

std::string Certificate::pem() const {
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert_);
  char* data = nullptr;
  long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(length));
}

std::string Certificate::subject_text() const { return name_text(X509_get_subject_name(cert_)); }
std::string Certificate::issuer_text() const { return name_text(X509_get_issuer_name(cert_)); }

std::string Certificate::serial_hex() const {
  ossl::BignumPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert_), nullptr));
  if (!serial) return {};
  char* hex = BN_bn2hex(serial.get());
  std::string text(hex);
  OPENSSL_free(hex);
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

bool Certificate::is_ca() const { return X509_check_ca(cert_) > 0; }
std::int64_t Certificate::not_before_ms() const { return asn1_time_ms(X509_get0_notBefore(cert_)); }
std::int64_t Certificate::not_after_ms() const { return asn1_time_ms(X509_get0_notAfter(cert_)); }

std::optional<CountryCode> Certificate::subject_country() const {
  auto country = name_entry(X509_get_subject_name(cert_), NID_countryName);
  if (!country) return std::nullopt;
  return CountryCode(*country);
}

std::optional<CountryCode> Certificate::permitted_country() const {
  auto* constraints = static_cast<NAME_CONSTRAINTS*>(X509_get_ext_d2i(cert_, NID_name_constraints, nullptr, nullptr));
  if (constraints == nullptr) return std::nullopt;
  std::optional<CountryCode> country;
  for (int i = 0; i < sk_GENERAL_SUBTREE_num(constraints->permittedSubtrees); ++i) {
    GENERAL_SUBTREE* subtree = sk_GENERAL_SUBTREE_value(constraints->permittedSubtrees, i);
    if (subtree->base->type != GEN_DIRNAME) continue;
    if (auto code = name_entry(subtree->base->d.directoryName, NID_countryName)) country = CountryCode(*code);
  }
  NAME_CONSTRAINTS_free(constraints);
  return country;
}

std::optional<std::array<std::uint8_t, 32>> Certificate::ed25519_public_key() const {
  EVP_PKEY* key = X509_get0_pubkey(cert_);
  if (key == nullptr || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
    ERR_clear_error();
    return std::nullopt;
  }
  std::array<std::uint8_t, 32> raw{};
  std::size_t length = raw.size();
  if (EVP_PKEY_get_raw_public_key(key, raw.data(), &length) != 1 || length != raw.size()) {
    ERR_clear_error();
    return std::nullopt;
  }
  return raw;
}

Result<ParticipantInfo> Certificate::participant() const {
  ParticipantInfo info;
  const X509_NAME* subject = X509_get_subject_name(cert_);
  auto id = name_entry(subject, NID_commonName);
  auto country = name_entry(subject, NID_countryName);
  if (!id || id->empty()) {
    return make_error(ErrorCode::missing_extension, "certificate subject has no single CN (participant id)");
  }
  if (!country || country->size() != 2) {
    return make_error(ErrorCode::missing_extension, "certificate subject has no single two-letter C (country)");
  }
  info.id = ParticipantId(*id);
  info.country = CountryCode(*country);

  // Role: exactly one FPX role purpose in extendedKeyUsage.
  ossl::ExtKeyUsagePtr usages(
      static_cast<EXTENDED_KEY_USAGE*>(X509_get_ext_d2i(cert_, NID_ext_key_usage, nullptr, nullptr)));
  std::optional<Role> role;
  int roles_found = 0;
  for (int i = 0; usages && i < sk_ASN1_OBJECT_num(usages.get()); ++i) {
    if (auto found = oid::role_from_oid(object_text(sk_ASN1_OBJECT_value(usages.get(), i)))) {
      role = found;
      ++roles_found;
    }
  }
  if (roles_found == 0) {
    return make_error(ErrorCode::missing_extension, "certificate of " + *id + " carries no FPX role");
  }
  if (roles_found > 1) {
    return make_error(ErrorCode::wrong_role, "certificate of " + *id + " carries more than one FPX role");
  }
  info.role = *role;

  // CURVE public key: OCTET STRING of 32 bytes inside the extension value.
  ossl::Asn1ObjectPtr curve_oid(OBJ_txt2obj(oid::kCurvePublicKey, 1));
  int index = curve_oid ? X509_get_ext_by_OBJ(cert_, curve_oid.get(), -1) : -1;
  if (index < 0) {
    return make_error(ErrorCode::missing_extension, "certificate of " + *id + " carries no CURVE public key");
  }
  const ASN1_OCTET_STRING* value = X509_EXTENSION_get_data(X509_get_ext(cert_, index));
  const unsigned char* cursor = ASN1_STRING_get0_data(value);
  ossl::Asn1OctetStringPtr inner(d2i_ASN1_OCTET_STRING(nullptr, &cursor, ASN1_STRING_length(value)));
  if (!inner || ASN1_STRING_length(inner.get()) != 32) {
    ERR_clear_error();
    return make_error(ErrorCode::missing_extension, "certificate of " + *id + " has a malformed CURVE public key");
  }
  std::copy_n(ASN1_STRING_get0_data(inner.get()), 32, info.curve_public_key.begin());

  // Officer: an optional UTF8String naming the officer under this participant.
  ossl::Asn1ObjectPtr officer_oid(OBJ_txt2obj(oid::kOfficer, 1));
  const int officer_index = officer_oid ? X509_get_ext_by_OBJ(cert_, officer_oid.get(), -1) : -1;
  if (officer_index >= 0) {
    if (X509_get_ext_by_OBJ(cert_, officer_oid.get(), officer_index) >= 0) {
      return make_error(ErrorCode::missing_extension, "certificate of " + *id + " names more than one officer");
    }
    const ASN1_OCTET_STRING* officer_value = X509_EXTENSION_get_data(X509_get_ext(cert_, officer_index));
    const unsigned char* officer_cursor = ASN1_STRING_get0_data(officer_value);
    ossl::Asn1Utf8StringPtr name(
        d2i_ASN1_UTF8STRING(nullptr, &officer_cursor, ASN1_STRING_length(officer_value)));
    std::string officer = name ? std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(name.get())),
                                             static_cast<std::size_t>(ASN1_STRING_length(name.get())))
                               : std::string();
    if (!name || !valid_officer_name(officer)) {
      ERR_clear_error();
      return make_error(ErrorCode::missing_extension, "certificate of " + *id + " has a malformed officer name");
    }
    info.officer = std::move(officer);
  }

  info.not_before_ms = not_before_ms();
  info.not_after_ms = not_after_ms();
  info.serial_hex = serial_hex();
  return info;
}

}  // namespace fpx
