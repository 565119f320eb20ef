#include "fpx/identity.hpp"

#include <fstream>

#include <openssl/err.h>
#include <zmq.h>

#include "fpx/openssl_handles.hpp"

namespace fpx {

std::string z85_encode(ByteView bytes32) {
  char text[41] = {};
  zmq_z85_encode(text, bytes32.data(), bytes32.size());
  return std::string(text);
}

std::optional<std::array<std::uint8_t, 32>> z85_decode_key(std::string_view text) {
  if (text.size() != 40) return std::nullopt;
  std::string terminated(text);
  std::array<std::uint8_t, 32> key{};
  if (zmq_z85_decode(key.data(), terminated.c_str()) == nullptr) return std::nullopt;
  return key;
}

Result<CurveKeyPair> CurveKeyPair::from_secret(ByteView secret32) {
  // CURVE is X25519: the public key is the secret times the base point, the
  // same computation libzmq's zmq_curve_public does.
  ossl::PkeyPtr key(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, secret32.data(), secret32.size()));
  if (!key) return make_error(ErrorCode::bad_key, "not a CURVE secret key: " + ossl::last_error_text());
  CurveKeyPair pair;
  std::size_t length = pair.public_key.size();
  EVP_PKEY_get_raw_public_key(key.get(), pair.public_key.data(), &length);
  std::copy(secret32.begin(), secret32.end(), pair.secret_key.begin());
  return pair;
}

Result<CurveKeyPair> CurveKeyPair::generate() {
  std::array<std::uint8_t, 32> secret{};
  random_bytes(secret);
  return from_secret(secret);
}

namespace {
Result<std::string> read_first_line(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return make_error(ErrorCode::io_error, "cannot read " + path.string());
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}
}  // namespace

Result<Identity> Identity::load(const std::filesystem::path& dir, const PassphraseSource& passphrase) {
  auto chain = Certificate::load_pem_file(dir / kChainFile);
  if (!chain) return std::move(chain).take_error();
  auto participant = chain->front().participant();
  if (!participant) return std::move(participant).take_error();

  auto key = SigningKey::load_pem(dir / kSigningKeyFile, passphrase);
  if (!key) return std::move(key).take_error();
  Ed25519PublicKey cert_key{};
  std::size_t length = cert_key.size();
  EVP_PKEY* cert_public = X509_get0_pubkey(chain->front().get());
  if (cert_public == nullptr || EVP_PKEY_get_raw_public_key(cert_public, cert_key.data(), &length) != 1 ||
      cert_key != key->public_key()) {
    ERR_clear_error();
    return make_error(ErrorCode::bad_key, "signing key in " + (dir / kSigningKeyFile).string() +
                                              " does not belong to the certificate in " +
                                              (dir / kChainFile).string());
  }

  auto secret_text = read_first_line(dir / kCurveSecretFile);
  if (!secret_text) return std::move(secret_text).take_error();
  auto secret = z85_decode_key(*secret_text);
  if (!secret) {
    return make_error(ErrorCode::bad_key, (dir / kCurveSecretFile).string() + " is not a Z85 CURVE secret key");
  }
  auto curve = CurveKeyPair::from_secret(*secret);
  if (!curve) return std::move(curve).take_error();
  if (curve->public_key != participant->curve_public_key) {
    return make_error(ErrorCode::bad_key, "CURVE key in " + (dir / kCurveSecretFile).string() +
                                              " does not match the certificate's CURVE extension");
  }
  return Identity(std::move(chain).value(), std::move(participant).value(), std::move(key).value(), *curve);
}

}  // namespace fpx
