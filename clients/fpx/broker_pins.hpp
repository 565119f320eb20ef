// The exchange's identity, pinned: the broker signing keys a client or an
// observer accepts broker-signed artefacts from (receipts, reminders,
// escalations, hit and dead-letter notices, checkpoints, feed records).
//
// A chain to the root CA with the broker role is not enough: whoever holds
// a CA key (the operator, or a national CA that issued a broker-role
// certificate by hand) could then sign as the exchange. A pin is
// "sha256:<hex of SHA-256 of the 32-byte raw Ed25519 public key>", written
// into the profile when it is made and compared by its owner, out of band,
// with the fingerprint the exchange's operator publishes. Anyone can compute
// it from a certificate:
//   openssl x509 -in broker-chain.pem -noout -pubkey | openssl pkey -pubin -outform DER | tail -c 32 | sha256sum
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "fpx/certificate.hpp"
#include "fpx/crypto.hpp"
#include "fpx/result.hpp"

namespace fpx::client {

inline constexpr std::string_view kBrokerPinPrefix = "sha256:";
// The current key and, while the exchange rotates, the next one; a few more
// for overlapping rotations. A longer list is a profile nobody reviews any
// more, where a stale or foreign pin would go unnoticed.
inline constexpr std::size_t kMaxBrokerPins = 8;

class BrokerKeyPin {
 public:
  // "sha256:" followed by 64 hex digits (either case; kept in lower case).
  static Result<BrokerKeyPin> parse(std::string_view text);
  static BrokerKeyPin of_key(const Ed25519PublicKey& key);
  // The pin of a certificate's subject key; bad_key when it is not Ed25519.
  static Result<BrokerKeyPin> of_certificate(const Certificate& certificate);

  std::string text() const;  // "sha256:<64 lower-case hex digits>"
  bool matches(const Ed25519PublicKey& key) const;
  friend bool operator==(const BrokerKeyPin&, const BrokerKeyPin&) = default;

 private:
  Sha256Digest digest_{};
};

using BrokerPins = std::vector<BrokerKeyPin>;

// invalid_argument when no key is pinned (there is no "trust any broker"
// mode) or more than kMaxBrokerPins are; `where` names the setting to fix.
Status require_broker_pins(const BrokerPins& pins, std::string_view where);

// signer_mismatch unless `key` is pinned. `artefact` names what was signed
// ("the receipt of message 3f0a...", "feed record 12") and `signer` who
// signed it, for the message.
Status check_pinned_broker_key(const BrokerPins& pins, const Ed25519PublicKey& key, std::string_view artefact,
                               std::string_view signer);
// The same for the certificate that signed the artefact (bad_key if it has no Ed25519 key).
Status check_pinned_broker(const BrokerPins& pins, const Certificate& signer, std::string_view artefact);

// A broker chain given in a profile or options (leaf first), checked without
// connecting: chain to the root CA, valid now, broker role, pinned key.
struct VerifiedBroker {
  ParticipantInfo participant;
  Ed25519PublicKey signing_key{};
};
Result<VerifiedBroker> verify_broker_chain(const std::vector<Certificate>& chain, const std::filesystem::path& root_ca,
                                           const BrokerPins& pins);

}  // namespace fpx::client
