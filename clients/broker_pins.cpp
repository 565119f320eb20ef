// Pinned broker signing keys: parsing, computing and checking pins, and the
// broker chain of a profile checked against the root CA and the pins.
#include "fpx/broker_pins.hpp"

#include <algorithm>

#include "fpx/trust_store.hpp"

namespace fpx::client {

namespace {

std::string pin_list(const BrokerPins& pins) {
  std::string text;
  for (const auto& pin : pins) {
    if (!text.empty()) text.append(", ");
    text.append(pin.text());
  }
  return text;
}

}  // namespace

Result<BrokerKeyPin> BrokerKeyPin::parse(std::string_view text) {
  const std::string_view hex = text.substr(std::min(text.size(), kBrokerPinPrefix.size()));
  std::optional<Bytes> digest;
  if (text.substr(0, kBrokerPinPrefix.size()) == kBrokerPinPrefix) digest = from_hex(hex);
  if (!digest || digest->size() != Sha256Digest{}.size()) {
    return make_error(ErrorCode::invalid_argument,
                      "\"" + std::string(text.substr(0, 80)) +
                          "\" is not a broker key pin: write it as sha256: followed by the 64 hex digits of the "
                          "SHA-256 of the broker's raw Ed25519 public key (as `fpx profile init` prints it)");
  }
  BrokerKeyPin pin;
  std::copy(digest->begin(), digest->end(), pin.digest_.begin());
  return pin;
}

BrokerKeyPin BrokerKeyPin::of_key(const Ed25519PublicKey& key) {
  BrokerKeyPin pin;
  pin.digest_ = sha256(key);
  return pin;
}

Result<BrokerKeyPin> BrokerKeyPin::of_certificate(const Certificate& certificate) {
  auto key = certificate.ed25519_public_key();
  if (!key) {
    return make_error(ErrorCode::bad_key, "the certificate " + certificate.subject_text() +
                                              " has no Ed25519 key: it cannot be a broker's signing certificate");
  }
  return of_key(*key);
}

std::string BrokerKeyPin::text() const {
  return std::string(kBrokerPinPrefix) + to_hex(digest_);
}

bool BrokerKeyPin::matches(const Ed25519PublicKey& key) const {
  return sha256(key) == digest_;
}

Status require_broker_pins(const BrokerPins& pins, std::string_view where) {
  if (pins.empty()) {
    return make_error(ErrorCode::invalid_argument,
                      "no broker signing key is pinned (" + std::string(where) +
                          "): a receipt, a broker notice or a checkpoint could then come from anyone holding a CA "
                          "key. Pin the exchange's key, e.g. BrokerKeyPin::of_certificate(broker chain's leaf), or "
                          "`fpx profile init --broker-cert broker-chain.pem`, after comparing its fingerprint with "
                          "the operator's");
  }
  if (pins.size() > kMaxBrokerPins) {
    return make_error(ErrorCode::invalid_argument,
                      std::to_string(pins.size()) + " broker keys are pinned (" + std::string(where) + "), more than " +
                          std::to_string(kMaxBrokerPins) + ": remove the keys the exchange no longer uses");
  }
  return {};
}

Status check_pinned_broker_key(const BrokerPins& pins, const Ed25519PublicKey& key, std::string_view artefact,
                               std::string_view signer) {
  if (std::any_of(pins.begin(), pins.end(), [&](const BrokerKeyPin& pin) { return pin.matches(key); })) return {};
  return make_error(ErrorCode::signer_mismatch,
                    std::string(artefact) + " is not signed by the pinned exchange: its signer " + std::string(signer) +
                        " has the key " + BrokerKeyPin::of_key(key).text() + ", and the profile pins " +
                        (pins.empty() ? std::string("no key") : pin_list(pins)) +
                        ". Do not rely on it. If the exchange announced a new broker key, compare its fingerprint "
                        "with the operator out of band, then `fpx profile pin --add broker-chain.pem`");
}

Status check_pinned_broker(const BrokerPins& pins, const Certificate& signer, std::string_view artefact) {
  auto key = signer.ed25519_public_key();
  if (!key) {
    return make_error(ErrorCode::bad_key, std::string(artefact) + " is signed by " + signer.subject_text() +
                                              ", whose key is not Ed25519: it cannot be the exchange's");
  }
  return check_pinned_broker_key(pins, *key, artefact, signer.subject_text());
}

Result<VerifiedBroker> verify_broker_chain(const std::vector<Certificate>& chain, const std::filesystem::path& root_ca,
                                           const BrokerPins& pins) {
  if (chain.empty())
    return make_error(ErrorCode::invalid_argument, "no broker certificate given: give the broker's chain.pem");
  if (auto required = require_broker_pins(pins, "broker chain check"); !required)
    return std::move(required).take_error();
  auto trust = TrustStore::load(root_ca, {});
  if (!trust) return std::move(trust).take_error();
  std::vector<Bytes> ders;
  for (const auto& certificate : chain) ders.push_back(certificate.der());
  std::vector<ByteView> views(ders.begin(), ders.end());
  auto resolved = trust->resolve_chain(views);
  if (!resolved) return std::move(resolved).take_error();
  const std::int64_t now = now_ms();
  // Revocation is the broker's own certificate's: the operator publishes no
  // CRL to observers. A revoked broker key is rotated, and its pin removed.
  auto signer = trust->check_chain_at(**resolved, now, now, RevocationCheck::skip);
  if (!signer) return std::move(signer).take_error();
  if (signer->participant.role != Role::broker) {
    return make_error(ErrorCode::wrong_role, "the broker certificate given is " + signer->participant.id.str() +
                                                 "'s, a " + std::string(role_name(signer->participant.role)) +
                                                 ": give the broker's chain.pem");
  }
  const Certificate& leaf = TrustStore::leaf_of(**resolved);
  if (auto pinned = check_pinned_broker(pins, leaf, "the broker certificate given"); !pinned) {
    return std::move(pinned).take_error();
  }
  VerifiedBroker broker;
  broker.participant = signer->participant;
  broker.signing_key = *leaf.ed25519_public_key();
  return broker;
}

}  // namespace fpx::client
