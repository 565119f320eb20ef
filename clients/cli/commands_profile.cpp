// fpx profile init / show: scripts and people never hand-write fpx.toml.
#include <algorithm>
#include <fstream>
#include <iostream>
#include <sstream>

#include <toml++/toml.h>

#include "local_store.hpp"
#include "outgoing.hpp"
#include "render.hpp"
#include "fpx/transparency_log.hpp"
#include "language.hpp"

namespace fpx::cli {

namespace {

// Marks an English text for the catalogue (xgettext --keyword=N_); translated
// where shown (clients/desk/po/fr.po; main.cpp translates the --help texts).
constexpr const char* N_(const char* english) { return english; }

// TOML basic string: the same escapes as JSON for what paths can hold.
std::string toml_string(const std::string& value) { return json_quote(value); }

std::string absolute(const std::string& path) {
  std::error_code ignored;
  return std::filesystem::absolute(path, ignored).lexically_normal().string();
}

// How the person compares a pin with the exchange's: out of band, and how
// anyone computes it from a certificate without FPX.
constexpr const char* kCompareHint =
    N_("compare each fingerprint with the one the exchange's operator gives you out of band (by phone, in a signed "
       "letter) before relying on this profile; from a certificate anyone computes it with\n"
       "  openssl x509 -in broker-chain.pem -noout -pubkey | openssl pkey -pubin -outform DER | tail -c 32 | sha256sum");

// The broker chain in `pem`, checked against the root CA with the broker
// role; returns the pin of its key and who it is.
Result<std::pair<client::BrokerKeyPin, std::string>> pin_of_broker_chain(const std::filesystem::path& pem,
                                                                          const std::filesystem::path& root_ca) {
  auto chain = Certificate::load_pem_file(pem);
  if (!chain) return std::move(chain).take_error();
  if (chain->empty()) {
    return make_error(ErrorCode::invalid_argument, pem.string() + " holds no certificate: give the broker's chain.pem");
  }
  auto pin = client::BrokerKeyPin::of_certificate(chain->front());
  if (!pin) return std::move(pin).take_error();
  auto broker = client::verify_broker_chain(*chain, root_ca, {*pin});
  if (!broker) {
    Error error = std::move(broker).take_error();
    error.message.insert(0, pem.string() + ": ");
    return error;
  }
  return std::pair{*pin, broker->participant.id.str()};
}

std::string pins_toml(const client::BrokerPins& pins) {
  std::string text = "[";
  for (std::size_t i = 0; i < pins.size(); ++i) text += (i == 0 ? "" : ", ") + toml_string(pins[i].text());
  return text + "]";
}

std::string pins_json(const client::BrokerPins& pins) {
  std::vector<std::string> values;
  for (const auto& pin : pins) values.push_back(json_quote(pin.text()));
  return json_array(values);
}

}  // namespace

int run_profile_init(const GlobalOptions& global, const ProfileInitOptions& options) {
  const text::Catalogue words(language_for_errors(global));
  const std::filesystem::path dir = options.dir;
  const auto file = dir / kProfileFile;
  std::error_code error;
  if (std::filesystem::exists(file, error) && !options.force) {
    return report_failure(global, kExitUsage,
                          make_error(ErrorCode::invalid_argument,
                                     fill_values(words.tr(N_("{1} exists already")), {file.string()})),
                          N_("pass --force to overwrite it"));
  }
  if (options.broker_cert.empty() == options.broker_key.empty()) {
    return report_failure(global, kExitUsage,
                          make_error(ErrorCode::invalid_argument,
                                     std::string(words.tr(N_("give exactly one of --broker-cert (the broker's chain.pem) and --broker-key (Z85)")))));
  }
  if (options.broker_endpoint.empty() && options.observer_endpoint.empty()) {
    return report_failure(global, kExitUsage,
                          make_error(ErrorCode::invalid_argument,
                                     std::string(words.tr(N_("give --broker-endpoint (participants), --observer-endpoint (observers), or both")))));
  }
  if (!options.observer_endpoint.empty() && options.broker_cert.empty()) {
    // Feed records and checkpoints are checked with the broker's signing
    // key, which only its certificate holds.
    return report_failure(global, kExitUsage,
                          make_error(ErrorCode::invalid_argument,
                                     std::string(words.tr(N_("an observer profile needs --broker-cert (the broker's chain.pem), not --broker-key")))));
  }
  if (!valid_note_key_name(options.log_origin)) {
    return report_failure(global, kExitUsage,
                          make_error(ErrorCode::invalid_argument,
                                     std::string(words.tr(N_("--log-origin must be non-empty, without spaces or '+' (e.g. fpx.exchange/log)")))));
  }
  // Checked now, so that a wrong path shows up here and not at the first send.
  PassphraseSource passphrase;
  if (!options.passphrase_file.empty()) passphrase = PassphraseSource::from_file(absolute(options.passphrase_file));
  if (!options.passphrase_env.empty()) passphrase = PassphraseSource::from_environment(options.passphrase_env);
  auto identity = Identity::load(options.identity, passphrase);
  if (!identity) {
    return report_failure(global, kExitUsage, identity.error(),
                          N_("--identity must be a key directory made with `fpx keys new` and completed with `fpx keys "
                             "install`"));
  }
  if (!options.broker_cert.empty()) {
    if (auto key = broker_key_from_cert(options.broker_cert); !key) return report_failure(global, kExitUsage, key.error());
  } else if (!z85_decode_key(options.broker_key)) {
    return report_failure(global, kExitUsage,
                          make_error(ErrorCode::invalid_argument, std::string(words.tr(N_("--broker-key is not a 40-character Z85 key")))));
  }
  // Observers check only the pinned broker's signed records; a participant
  // profile verifies every participant's messages, so it needs the CRLs.
  if (options.crl_dir.empty() && !options.no_revocation_check && !options.broker_endpoint.empty()) {
    return report_failure(global, kExitUsage,
                          make_error(ErrorCode::invalid_argument,
                                     std::string(words.tr(N_("no --crl-dir: clients check revocation by default, against the CAs' CRLs")))),
                          N_("give --crl-dir DIR (the exchange publishes its CRLs), or, knowingly, --no-revocation-check"));
  }
  if (auto trust = TrustStore::load(options.root_ca, options.crl_dir); !trust) {
    return report_failure(global, kExitUsage, trust.error(), N_("check --root-ca and --crl-dir"));
  }
  // The exchange's identity: the key of the broker certificate given, and
  // any given by fingerprint (the next key of a rotation announced already).
  client::BrokerPins pins;
  std::vector<std::string> pin_sources;
  if (!options.broker_cert.empty()) {
    auto pinned = pin_of_broker_chain(options.broker_cert, options.root_ca);
    if (!pinned) return report_failure(global, kExitUsage, pinned.error(), N_("--broker-cert must be the broker's chain.pem"));
    pins.push_back(pinned->first);
    pin_sources.push_back(fill_values(words.tr(N_("{1}, from {2}")), {pinned->second, options.broker_cert}));
  }
  for (const auto& text : options.broker_pins) {
    auto pin = client::BrokerKeyPin::parse(text);
    if (!pin) return report_failure(global, kExitUsage, pin.error());
    if (std::find(pins.begin(), pins.end(), *pin) != pins.end()) continue;
    pins.push_back(*pin);
    pin_sources.push_back(std::string(words.tr(N_("given with --broker-pin"))));
  }
  if (pins.empty()) {
    return report_failure(global, kExitUsage,
                          make_error(ErrorCode::invalid_argument, std::string(words.tr(N_("no broker signing key to pin")))),
                          N_("give --broker-cert (the broker's chain.pem; its key is pinned) or --broker-pin "
                             "sha256:<hex> as the exchange's operator publishes it"));
  }
  if (auto bounded = client::require_broker_pins(pins, "--broker-pin"); !bounded) {
    return report_failure(global, kExitUsage, bounded.error());
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
  text += "# The exchange's broker signing keys (sha256 of the raw Ed25519 key): receipts, broker notices,\n"
          "# checkpoints and feed records signed by any other key are refused. `fpx profile pin` changes them.\n";
  text += "pins = " + pins_toml(pins) + "\n";
  text += "\n[pki]\nroot_ca = " + toml_string(absolute(options.root_ca)) + "\n";
  if (!options.crl_dir.empty()) text += "crl_dir = " + toml_string(absolute(options.crl_dir)) + "\n";
  if (options.no_revocation_check) {
    text += "# Made with --no-revocation-check: a revoked signer's messages are accepted.\nrevocation_check = false\n";
  }
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
                     .raw("brokerPins", pins_json(pins))
                     .boolean("revocationChecked", !options.no_revocation_check)
                     .str()
              << "\n";
  } else {
    std::cout << fill_values(words.tr(N_("wrote {1} for {2} ({3}, {4})")),
                             {file.string(), me.id.str(), std::string(role_name(me.role)), me.country.str()})
              << "\n";
    for (std::size_t i = 0; i < pins.size(); ++i) {
      std::cout << fill_values(words.tr(N_("pinned broker signing key: {1} ({2})")), {pins[i].text(), pin_sources[i]})
                << "\n";
    }
    std::cout << words.tr(kCompareHint) << "\n"
              << words.tr(N_("next:")) << " "
              << fill_values(words.tr(N_("export FPX_PROFILE={1} and run {2}")),
                             {absolute(dir.string()), options.broker_endpoint.empty() ? "`fpx observe`" : "`fpx inbox`"})
              << "\n";
  }
  if (options.no_revocation_check) {
    std::cerr << words.tr(N_("warning: this profile does not check revocation (--no-revocation-check): messages of a "
                             "revoked signer are accepted, and every command will say so"))
              << "\n";
  }
  return kExitOk;
}

int run_profile_show(const GlobalOptions& global) {
  auto profile = load_profile(global.profile);
  if (!profile) return report_failure(global, kExitUsage, profile.error());
  const text::Catalogue words(language_for_errors(global));
  const auto tr = [&](const char* english) { return std::string(words.tr(english)); };
  auto identity = load_identity(*profile);
  const std::string who = identity ? identity->participant().id.str() : "(cannot load: " + identity.error().message + ")";
  const std::string crls = profile->revocation == RevocationCheck::skip
                               ? "(none: revocation is NOT checked, --no-revocation-check)"
                               : profile->crl_dir.string();
  std::string pins;
  for (const auto& pin : profile->broker_pins) pins += (pins.empty() ? "" : " ") + pin.text();
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
                     .boolean("revocationChecked", profile->revocation == RevocationCheck::required)
                     .raw("brokerPins", pins_json(profile->broker_pins))
                     .str()
              << "\n";
  } else {
    const std::string who_words =
        identity ? who : fill_values(words.tr(N_("(cannot load: {1})")), {identity.error().message});
    const std::string crls_words = profile->revocation == RevocationCheck::skip
                                       ? tr(N_("(none: revocation is NOT checked, --no-revocation-check)"))
                                       : crls;
    std::cout << key_values({{tr(N_("profile")), profile->dir.string()},
                             {tr(N_("participant")), who_words},
                             {tr(N_("identity")), profile->identity_dir.string()},
                             {tr(N_("broker")), profile->broker_endpoint},
                             {tr(N_("broker key")), z85_encode(profile->broker_curve_key)},
                             {tr(N_("broker pins")), pins},
                             {tr(N_("observer endpoint")),
                              profile->observer_endpoint.empty() ? "-" : profile->observer_endpoint},
                             {tr(N_("log origin")), profile->log_origin},
                             {tr(N_("root CA")), profile->root_ca.string()},
                             {tr(N_("CRLs")), crls_words},
                             {tr(N_("inbox")), profile->inbox_dir().string()}});
  }
  return identity ? kExitOk : kExitUsage;
}

}  // namespace fpx::cli

namespace fpx::cli {

// fpx profile pin: the explicit step of a broker key rotation. The operator
// announces the new key's fingerprint; each participant and observer
// compares it out of band and pins it beside the old one (--add); once the
// exchange signs with the new key, the old pin is removed (--remove).
int run_profile_pin(const GlobalOptions& global, const ProfilePinOptions& options) {
  const text::Catalogue words(language_for_errors(global));
  // A profile without pins (made before pinning existed) is mended here.
  auto profile = load_profile(global.profile, PinsNeeded::no);
  if (!profile) return report_failure(global, kExitUsage, profile.error());
  const auto file = profile->dir / kProfileFile;
  client::BrokerPins pins = profile->broker_pins;
  std::vector<std::pair<std::string, std::string>> added;  // pin, where from

  auto add = [&](const client::BrokerKeyPin& pin, std::string from) {
    if (std::find(pins.begin(), pins.end(), pin) == pins.end()) pins.push_back(pin);
    added.emplace_back(pin.text(), std::move(from));
  };
  std::vector<std::string> sources = options.add;
  if (!options.broker_cert.empty()) sources.push_back(options.broker_cert);
  for (const auto& source : sources) {
    if (source.rfind(client::kBrokerPinPrefix, 0) == 0) {
      auto pin = client::BrokerKeyPin::parse(source);
      if (!pin) return report_failure(global, kExitUsage, pin.error(), N_("nothing was changed"));
      add(*pin, std::string(words.tr(N_("given by fingerprint"))));
      continue;
    }
    auto pinned = pin_of_broker_chain(source, profile->root_ca);
    if (!pinned) return report_failure(global, kExitUsage, pinned.error(), N_("nothing was changed"));
    add(pinned->first, fill_values(words.tr(N_("{1}, from {2}")), {pinned->second, source}));
  }
  for (const auto& text : options.remove) {
    auto pin = client::BrokerKeyPin::parse(text);
    if (!pin) return report_failure(global, kExitUsage, pin.error(), N_("nothing was changed"));
    auto found = std::find(pins.begin(), pins.end(), *pin);
    if (found == pins.end()) {
      return report_failure(global, kExitUsage,
                            make_error(ErrorCode::not_found,
                                       fill_values(words.tr(N_("{1} is not pinned in {2}")), {text, file.string()})),
                            N_("`fpx profile pin` lists the pins; nothing was changed"));
    }
    pins.erase(found);
  }
  if (pins.empty()) {
    return report_failure(global, kExitUsage,
                          make_error(ErrorCode::invalid_argument,
                                     std::string(words.tr(N_("that would leave no broker key pinned, and the profile could verify nothing")))),
                          N_("pin the new key first (--add broker-chain.pem), then remove the old one; nothing was "
                             "changed"));
  }
  if (auto bounded = client::require_broker_pins(pins, file.string()); !bounded) {
    return report_failure(global, kExitUsage, bounded.error(), N_("nothing was changed"));
  }

  const bool changed = pins != profile->broker_pins || !options.broker_cert.empty();
  if (changed) {
    toml::table table;
    try {
      table = toml::parse_file(file.string());
    } catch (const toml::parse_error& error) {
      return report_failure(global, kExitUsage,
                            make_error(ErrorCode::invalid_argument, file.string() + ": " + std::string(error.description())));
    }
    auto* broker = table["broker"].as_table();
    if (broker == nullptr) broker = table.insert_or_assign("broker", toml::table{}).first->second.as_table();
    toml::array array;
    for (const auto& pin : pins) array.push_back(pin.text());
    broker->insert_or_assign("pins", std::move(array));
    if (!options.broker_cert.empty()) {
      broker->insert_or_assign("cert", absolute(options.broker_cert));
      // The CURVE key now comes from the new certificate.
      broker->erase("curve_public_key");
    }
    std::ostringstream text;
    text << "# FPX participant profile, written by `fpx profile init`, pins changed by `fpx profile pin`.\n"
            "# Relative paths are relative to this directory.\n\n"
         << toml::toml_formatter(table) << "\n";
    if (auto written = write_file_atomically(file, as_bytes(text.str())); !written) {
      return report_failure(global, kExitRefused, written.error());
    }
  }

  if (global.json) {
    std::cout << JsonObject().boolean("ok", true).boolean("changed", changed).raw("brokerPins", pins_json(pins)).str()
              << "\n";
    return kExitOk;
  }
  for (const auto& [pin, from] : added) {
    std::cout << fill_values(words.tr(N_("pinned broker signing key: {1} ({2})")), {pin, from}) << "\n";
  }
  for (const auto& text : options.remove) std::cout << fill_values(words.tr(N_("unpinned: {1}")), {text}) << "\n";
  std::cout << fill_values(words.tr(N_("broker signing keys pinned in {1}:")), {file.string()}) << "\n";
  for (const auto& pin : pins) std::cout << "  " << pin.text() << "\n";
  if (!added.empty()) std::cout << words.tr(kCompareHint) << "\n";
  return kExitOk;
}

}  // namespace fpx::cli
