// A participant profile: a directory holding fpx.toml (who I am, which broker,
// which trust anchors) and the state the command line keeps between runs:
//   fpx.toml        written by `fpx profile init`
//   client.sqlite   fpx_client's outbox and delivered ids
//   inbox/          every delivered envelope, <message-id-hex>.fpx and .json
//   sent/           every submitted envelope with its signed receipt
//   feed/           an observer's verified public feed (feed_store.hpp)
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "fpx/broker_pins.hpp"
#include "fpx/certificate.hpp"
#include "fpx/client.hpp"
#include "fpx/crypto.hpp"
#include "fpx/identity.hpp"
#include "fpx/observer_client.hpp"

namespace fpx::cli {

inline constexpr const char* kProfileFile = "fpx.toml";
inline constexpr const char* kProfileEnv = "FPX_PROFILE";

// Witnesses a profile may list: a client checks a cosignature per witness
// per checkpoint; more than this is a typo'd file, not a policy.
inline constexpr std::size_t kMaxProfileWitnesses = 32;
// Broker endpoints a profile may list: a client tries each in turn when the
// broker in use is gone; an exchange runs two or three, more is a typo'd file.
inline constexpr std::size_t kMaxProfileBrokerEndpoints = 8;

struct Profile {
  std::filesystem::path dir;
  std::filesystem::path identity_dir;
  PassphraseSource passphrase;
  std::string broker_endpoint;  // empty for an observer-only profile
  // [broker] endpoints = [...]: every broker of an exchange with failover
  // (an active and a standby; PROTOCOL §2.1). The first is broker_endpoint
  // when endpoint is not given; the client moves between them by itself.
  std::vector<std::string> broker_endpoints;
  CurvePublicKey broker_curve_key{};
  std::filesystem::path broker_cert;  // empty when only the Z85 key was given
  std::string observer_endpoint;      // empty: not an observer profile
  std::vector<std::string> observer_endpoints;  // [observer] endpoints = [...]: failover, as broker_endpoints
  std::string log_origin = client::kDefaultLogOrigin;
  std::filesystem::path root_ca;
  std::filesystem::path crl_dir;  // empty only with revocation skip
  // skip only when the profile was made with --no-revocation-check
  // (pki.revocation_check = false): then every command warns.
  RevocationCheck revocation = RevocationCheck::required;
  // [broker] pins: the exchange's signing keys, at least one.
  client::BrokerPins broker_pins;
  // [[witnesses]] (name, vkey) and witness_quorum: a checkpoint this profile
  // anchors on (fpx log verify, fpx log prove) needs that many
  // valid cosignatures of them. Empty: the broker's signature alone.
  std::vector<WitnessKey> witnesses;
  std::size_t witness_quorum = 0;

  std::filesystem::path state_db() const { return dir / "client.sqlite"; }
  std::filesystem::path inbox_dir() const { return dir / "inbox"; }
  std::filesystem::path sent_dir() const { return dir / "sent"; }
  std::filesystem::path feed_dir() const { return dir / "feed"; }
  client::ClientOptions client_options() const;
  // Reads the broker's chain (its signing key checks the feed and checkpoints).
  Result<client::ObserverOptions> observer_options() const;
};

// Whether a profile that pins no broker key loads: only `fpx profile pin`,
// which is how such a profile is mended, takes one.
enum class PinsNeeded { yes, no };

// The profile named by --profile, else $FPX_PROFILE; errors say how to make one.
Result<Profile> load_profile(const std::string& flag, PinsNeeded pins = PinsNeeded::yes);
Result<Profile> load_profile_dir(const std::filesystem::path& dir, PinsNeeded pins = PinsNeeded::yes);

// The broker's CURVE key from its certificate (the first one in a PEM file).
Result<CurvePublicKey> broker_key_from_cert(const std::filesystem::path& pem);

Result<Identity> load_identity(const Profile& profile);

// The warning every command that verifies prints (stderr) when the profile
// does not check revocation; empty when it does.
std::string revocation_warning(const Profile& profile);

}  // namespace fpx::cli
