#include "fpx/crypto.hpp"

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "fpx/openssl_handles.hpp"

namespace fpx {

namespace ossl {
std::string last_error_text() {
  unsigned long code = ERR_get_error();
  std::string text;
  if (code != 0) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    text = buffer;
  }
  ERR_clear_error();
  return text.empty() ? "unknown OpenSSL error" : text;
}
}  // namespace ossl

// OpenSSL 3's one-shot SHA256() looks the algorithm up in the provider
// store on every call (locks and a hash-table walk: 0.33 us for a tree node
// here, a few percent of the broker's CPU per message); a digest fetched once
// with a context kept per thread takes 0.13 us.
Sha256Digest sha256(std::initializer_list<ByteView> parts) {
  static EVP_MD* const kSha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  thread_local const ossl::MdCtxPtr context(EVP_MD_CTX_new());
  Sha256Digest digest{};
  unsigned int length = 0;
  bool ok = kSha256 != nullptr && context && EVP_DigestInit_ex(context.get(), kSha256, nullptr) == 1;
  for (ByteView part : parts) ok = ok && EVP_DigestUpdate(context.get(), part.data(), part.size()) == 1;
  if (ok && EVP_DigestFinal_ex(context.get(), digest.data(), &length) == 1 && length == digest.size()) return digest;
  // The same hash the slow way (only if the fetch or a context failed).
  ERR_clear_error();
  Bytes joined;
  for (ByteView part : parts) joined.insert(joined.end(), part.begin(), part.end());
  SHA256(joined.data(), joined.size(), digest.data());
  return digest;
}

Sha256Digest sha256(ByteView data) { return sha256({data}); }

void random_bytes(std::span<std::uint8_t> out) {
  // RAND_bytes only fails when the OS entropy source is broken: nothing
  // sensible can continue then (message ids and keys would be predictable).
  int ok = RAND_bytes(out.data(), static_cast<int>(out.size()));
  assert(ok == 1);
  (void)ok;
}

bool ed25519_verify(EVP_PKEY* public_key, ByteView message, ByteView signature) {
  if (public_key == nullptr || signature.size() != kEd25519SignatureSize) return false;
  ossl::MdCtxPtr context(EVP_MD_CTX_new());
  if (!context) return false;
  // Ed25519 is one-shot: NULL digest at init, then a single EVP_DigestVerify.
  if (EVP_DigestVerifyInit(context.get(), nullptr, nullptr, nullptr, public_key) != 1) {
    ERR_clear_error();
    return false;
  }
  int result = EVP_DigestVerify(context.get(), signature.data(), signature.size(), message.data(), message.size());
  ERR_clear_error();
  return result == 1;
}

bool ed25519_verify(ByteView public_key, ByteView message, ByteView signature) {
  if (public_key.size() != kEd25519PublicKeySize) return false;
  ossl::PkeyPtr key(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, public_key.data(), public_key.size()));
  if (!key) {
    ERR_clear_error();
    return false;
  }
  return ed25519_verify(key.get(), message, signature);
}

Result<std::string> PassphraseSource::read() const {
  switch (kind) {
    case Kind::none:
      return std::string{};
    case Kind::environment: {
      const char* value = std::getenv(where.c_str());
      if (value == nullptr || *value == '\0') {
        return make_error(ErrorCode::invalid_argument,
                          "environment variable " + where + " holding the key passphrase is not set");
      }
      return std::string{value};
    }
    case Kind::file: {
      std::ifstream in(where, std::ios::binary);
      if (!in) return make_error(ErrorCode::io_error, "cannot read passphrase file " + where);
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
      if (text.empty()) return make_error(ErrorCode::invalid_argument, "passphrase file " + where + " is empty");
      return text;
    }
  }
  return make_error(ErrorCode::internal, "unknown passphrase source");
}

SigningKey::SigningKey(SigningKey&& other) noexcept : key_(other.key_) { other.key_ = nullptr; }
SigningKey& SigningKey::operator=(SigningKey&& other) noexcept {
  if (this != &other) {
    EVP_PKEY_free(key_);
    key_ = other.key_;
    other.key_ = nullptr;
  }
  return *this;
}
SigningKey::~SigningKey() { EVP_PKEY_free(key_); }

Result<SigningKey> SigningKey::generate() {
  ossl::PkeyCtxPtr context(EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr));
  EVP_PKEY* key = nullptr;
  if (!context || EVP_PKEY_keygen_init(context.get()) != 1 || EVP_PKEY_keygen(context.get(), &key) != 1) {
    return make_error(ErrorCode::internal, "Ed25519 key generation failed: " + ossl::last_error_text());
  }
  return SigningKey(key);
}

Result<SigningKey> SigningKey::from_seed(ByteView seed32) {
  EVP_PKEY* key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed32.data(), seed32.size());
  if (key == nullptr) return make_error(ErrorCode::bad_key, "not an Ed25519 seed: " + ossl::last_error_text());
  return SigningKey(key);
}

namespace {
// Never let OpenSSL prompt on a terminal: a missing passphrase is an error.
int passphrase_callback(char* buffer, int size, int /*rwflag*/, void* user) {
  const auto* passphrase = static_cast<const std::string*>(user);
  if (passphrase == nullptr || passphrase->empty()) return -1;
  if (passphrase->size() > static_cast<std::size_t>(size)) return -1;
  std::memcpy(buffer, passphrase->data(), passphrase->size());
  return static_cast<int>(passphrase->size());
}
}  // namespace

Result<SigningKey> SigningKey::load_pem(const std::filesystem::path& path, const PassphraseSource& source) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::io_error, "cannot read signing key " + path.string());
  std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  bool encrypted = pem.find("ENCRYPTED PRIVATE KEY") != std::string::npos;
  auto passphrase = source.read();
  if (!passphrase) return std::move(passphrase).take_error();
  if (encrypted && passphrase->empty()) {
    return make_error(ErrorCode::bad_key, "signing key " + path.string() +
                                              " is encrypted: give its passphrase with a passphrase file or "
                                              "environment variable");
  }
  ossl::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, passphrase_callback, &passphrase.value());
  if (key == nullptr) {
    std::string reason = ossl::last_error_text();
    return make_error(ErrorCode::bad_key, "cannot load signing key " + path.string() +
                                              (encrypted ? " (wrong passphrase?): " : ": ") + reason);
  }
  if (EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
    EVP_PKEY_free(key);
    return make_error(ErrorCode::bad_key, "signing key " + path.string() + " is not an Ed25519 key");
  }
  return SigningKey(key);
}

Ed25519Signature SigningKey::sign(ByteView message) const {
  Ed25519Signature signature{};
  ossl::MdCtxPtr context(EVP_MD_CTX_new());
  std::size_t length = signature.size();
  // Signing with a valid Ed25519 key cannot fail short of memory exhaustion.
  int ok = context && EVP_DigestSignInit(context.get(), nullptr, nullptr, nullptr, key_) == 1 &&
           EVP_DigestSign(context.get(), signature.data(), &length, message.data(), message.size()) == 1;
  assert(ok && length == signature.size());
  (void)ok;
  return signature;
}

Ed25519PublicKey SigningKey::public_key() const {
  Ed25519PublicKey raw{};
  std::size_t length = raw.size();
  EVP_PKEY_get_raw_public_key(key_, raw.data(), &length);
  return raw;
}

Result<std::string> SigningKey::to_pem(const std::string& passphrase) const {
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  int ok = passphrase.empty()
               ? PEM_write_bio_PrivateKey(bio.get(), key_, nullptr, nullptr, 0, nullptr, nullptr)
               : PEM_write_bio_PKCS8PrivateKey(bio.get(), key_, EVP_aes_256_cbc(), passphrase.data(),
                                               static_cast<int>(passphrase.size()), nullptr, nullptr);
  if (ok != 1) return make_error(ErrorCode::internal, "cannot encode signing key: " + ossl::last_error_text());
  char* data = nullptr;
  long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(length));
}

}  // namespace fpx
