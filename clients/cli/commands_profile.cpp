// fpx profile init / show: scripts and people never hand-write fpx.toml.
#include <fstream>
#include <iostream>

#include "local_store.hpp"
#include "outgoing.hpp"
#include "render.hpp"
#include "fpx/transparency_log.hpp"

namespace fpx::cli {

namespace {

// TOML basic string: the same escapes as JSON for what paths can hold.
std::string toml_string(const std::string& value) { return json_quote(value); }

std::string absolute(const std::string& path) {
  std::error_code ignored;
  return std::filesystem::absolute(path, ignored).lexically_normal().string();
}

}  // namespace

int run_profile_init(const GlobalOptions& global, const ProfileInitOptions& options) {
  const std::filesystem::path dir = options.dir;
  const auto file = dir / kProfileFile;
  std::error_code error;
  if (std::filesystem::exists(file, error) && !options.force) {
    return report_failure(global, kExitUsage,
                          make_error(ErrorCode::invalid_argument, file.string() + " exists already"),
                          "pass --force to overwrite it");
  }
  if (options.broker_cert.empty() == options.broker_key.empty()) {
    return report_failure(global, kExitUsage,
                          make_error(ErrorCode::invalid_argument,
                                     "give exactly one of --broker-cert (the broker's chain.pem) and --broker-key (Z85)"));
  }
  if (options.broker_endpoint.empty() && options.observer_endpoint.empty()) {
    return report_failure(global, kExitUsage,
                          make_error(ErrorCode::invalid_argument,
                                     "give --broker-endpoint (participants), --observer-endpoint (observers), or both"));
  }
  if (!options.observer_endpoint.empty() && options.broker_cert.empty()) {
    // Feed records and checkpoints are checked with the broker's signing
    // key, which only its certificate holds.
    return report_failure(global, kExitUsage,
                          make_error(ErrorCode::invalid_argument,
                                     "an observer profile needs --broker-cert (the broker's chain.pem), not --broker-key"));
  }
  if (!valid_note_key_name(options.log_origin)) {
    return report_failure(global, kExitUsage,
                          make_error(ErrorCode::invalid_argument,
                                     "--log-origin must be non-empty, without spaces or '+' (e.g. fpx.exchange/log)"));
  }
  // Checked now, so that a wrong path shows up here and not at the first send.
  PassphraseSource passphrase;
  if (!options.passphrase_file.empty()) passphrase = PassphraseSource::from_file(absolute(options.passphrase_file));
  if (!options.passphrase_env.empty()) passphrase = PassphraseSource::from_environment(options.passphrase_env);
  auto identity = Identity::load(options.identity, passphrase);
  if (!identity) return report_failure(global, kExitUsage, identity.error(), "--identity must be a key directory made with `fpx keys new` and completed with `fpx keys install`");
  if (!options.broker_cert.empty()) {
    if (auto key = broker_key_from_cert(options.broker_cert); !key) return report_failure(global, kExitUsage, key.error());
  } else if (!z85_decode_key(options.broker_key)) {
    return report_failure(global, kExitUsage,
                          make_error(ErrorCode::invalid_argument, "--broker-key is not a 40-character Z85 key"));
  }
  if (auto trust = TrustStore::load(options.root_ca, options.crl_dir); !trust) {
    return report_failure(global, kExitUsage, trust.error(), "check --root-ca and --crl-dir");
  }

  std::string text = "# FPX participant profile, written by `fpx profile init`.\n"
                     "# Relative paths are relative to this directory.\n\n[identity]\ndir = " +
                     toml_string(absolute(options.identity)) + "\n";
  if (!options.passphrase_file.empty()) text += "passphrase_file = " + toml_string(absolute(options.passphrase_file)) + "\n";
  if (!options.passphrase_env.empty()) text += "passphrase_env = " + toml_string(options.passphrase_env) + "\n";
  text += "\n[broker]\n";
  if (!options.broker_endpoint.empty()) text += "endpoint = " + toml_string(options.broker_endpoint) + "\n";
  if (!options.broker_cert.empty()) {
    text += "cert = " + toml_string(absolute(options.broker_cert)) + "\n";
  } else {
    text += "curve_public_key = " + toml_string(options.broker_key) + "\n";
  }
  text += "\n[pki]\nroot_ca = " + toml_string(absolute(options.root_ca)) + "\n";
  if (!options.crl_dir.empty()) text += "crl_dir = " + toml_string(absolute(options.crl_dir)) + "\n";
  if (!options.observer_endpoint.empty()) {
    text += "\n[observer]\nendpoint = " + toml_string(options.observer_endpoint) + "\n";
    text += "log_origin = " + toml_string(options.log_origin) + "\n";
  }
  if (auto written = write_file_atomically(file, as_bytes(text)); !written) {
    return report_failure(global, kExitRefused, written.error());
  }
  std::filesystem::create_directories(dir / "inbox", error);
  std::filesystem::create_directories(dir / "sent", error);
  if (!options.observer_endpoint.empty()) std::filesystem::create_directories(dir / "feed", error);

  const auto& me = identity->participant();
  if (global.json) {
    std::cout << JsonObject()
                     .boolean("ok", true)
                     .text("profile", absolute(dir.string()))
                     .text("participant", me.id.str())
                     .text("country", me.country.str())
                     .text("role", role_name(me.role))
                     .str()
              << "\n";
  } else {
    std::cout << "wrote " << file.string() << " for " << me.id.str() << " (" << role_name(me.role) << ", "
              << me.country.str() << ")\n"
              << "next: export FPX_PROFILE=" << absolute(dir.string()) << " and run "
              << (options.broker_endpoint.empty() ? "`fpx observe`" : "`fpx inbox`") << "\n";
  }
  return kExitOk;
}

int run_profile_show(const GlobalOptions& global) {
  auto profile = load_profile(global.profile);
  if (!profile) return report_failure(global, kExitUsage, profile.error());
  auto identity = load_identity(*profile);
  const std::string who = identity ? identity->participant().id.str() : "(cannot load: " + identity.error().message + ")";
  const std::string crls = profile->crl_dir.empty() ? "(none: revocation of deliveries is not checked)" : profile->crl_dir.string();
  if (global.json) {
    std::cout << JsonObject()
                     .boolean("ok", identity.ok())
                     .text("profile", profile->dir.string())
                     .text("participant", who)
                     .text("identityDir", profile->identity_dir.string())
                     .text("brokerEndpoint", profile->broker_endpoint)
                     .text("brokerCurveKey", z85_encode(profile->broker_curve_key))
                     .text("observerEndpoint", profile->observer_endpoint)
                     .text("logOrigin", profile->log_origin)
                     .text("rootCa", profile->root_ca.string())
                     .text("crlDir", profile->crl_dir.string())
                     .str()
              << "\n";
  } else {
    std::cout << key_values({{"profile", profile->dir.string()},
                             {"participant", who},
                             {"identity", profile->identity_dir.string()},
                             {"broker", profile->broker_endpoint},
                             {"broker key", z85_encode(profile->broker_curve_key)},
                             {"observer endpoint", profile->observer_endpoint.empty() ? "-" : profile->observer_endpoint},
                             {"log origin", profile->log_origin},
                             {"root CA", profile->root_ca.string()},
                             {"CRLs", crls},
                             {"inbox", profile->inbox_dir().string()}});
  }
  return identity ? kExitOk : kExitUsage;
}

}  // namespace fpx::cli
