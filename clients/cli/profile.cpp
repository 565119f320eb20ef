#include "profile.hpp"

#include <algorithm>
#include <cstdlib>
#include <iostream>

#include <toml++/toml.h>

namespace fpx::cli {

namespace {

// Relative paths in fpx.toml are relative to the profile directory, so a
// profile can be moved or checked into a deployment repository as a whole.
std::filesystem::path resolve(const std::filesystem::path& base, const std::string& value) {
  std::filesystem::path path(value);
  return path.is_absolute() ? path : base / path;
}

std::string text_at(const toml::table& table, const char* key) {
  if (auto value = table.at_path(key).value<std::string>()) return *value;
  return {};
}

// [[witnesses]] (name, vkey) and witness_quorum: the checkpoints this
// profile believes must be cosigned by that many of them (issue 13).
void read_witnesses(const toml::table& table, Profile& profile, std::vector<FieldError>& problems) {
  const auto node = table.at_path("witnesses");
  if (node) {
    const toml::array* entries = node.as_array();
    if (entries == nullptr || entries->size() > kMaxProfileWitnesses) {
      problems.push_back({"witnesses", "must be at most " + std::to_string(kMaxProfileWitnesses) +
                                           " [[witnesses]] tables with name and vkey"});
      return;
    }
    for (std::size_t i = 0; i < entries->size(); ++i) {
      const std::string where = "witnesses[" + std::to_string(i) + "]";
      const toml::table* entry = entries->get(i)->as_table();
      auto name = entry ? entry->get_as<std::string>("name") : nullptr;
      auto vkey = entry ? entry->get_as<std::string>("vkey") : nullptr;
      if (name == nullptr || vkey == nullptr) {
        problems.push_back({where, "needs name and vkey (the vkey its operator printed with `fpx witness init`)"});
        continue;
      }
      auto key = parse_witness_key(vkey->get());
      if (!key) {
        problems.push_back({where + ".vkey", key.error().message});
      } else if (key->name != name->get()) {
        problems.push_back({where + ".name", "is not the vkey's name (" + key->name + ")"});
      } else {
        profile.witnesses.push_back(*key);
      }
    }
  }
  const auto quorum = table.at_path("witness_quorum");
  if (!quorum && profile.witnesses.empty()) return;
  const auto value = quorum.value<std::int64_t>();
  if (!value || *value < 1 || static_cast<std::size_t>(*value) > profile.witnesses.size()) {
    problems.push_back({"witness_quorum", "must be a number from 1 to the number of [[witnesses]] (" +
                                             std::to_string(profile.witnesses.size()) +
                                             "): how many of them must cosign a checkpoint"});
    return;
  }
  profile.witness_quorum = static_cast<std::size_t>(*value);
}

}  // namespace

client::ClientOptions Profile::client_options() const {
  client::ClientOptions options;
  options.endpoint = broker_endpoint;
  options.endpoints = broker_endpoints;
  options.broker_curve_key = broker_curve_key;
  options.state_db = state_db();
  options.root_ca = root_ca;
  options.crl_dir = crl_dir;
  options.revocation = revocation;
  options.broker_pins = broker_pins;
  return options;
}

Result<client::ObserverOptions> Profile::observer_options() const {
  if (observer_endpoint.empty()) {
    return make_error(ErrorCode::invalid_argument,
                      "this profile has no observer endpoint: rewrite it with `fpx profile init ... --observer-endpoint "
                      "tcp://broker.example:7401`");
  }
  // The CURVE key alone is not enough: feed records and checkpoints are
  // checked with the broker's signing key, which only its certificate holds.
  if (broker_cert.empty()) {
    return make_error(ErrorCode::invalid_argument,
                      "an observer profile needs the broker's certificate (broker.cert), not only its CURVE key: "
                      "rewrite it with `fpx profile init ... --broker-cert chain.pem`");
  }
  auto chain = Certificate::load_pem_file(broker_cert);
  if (!chain) return std::move(chain).take_error();
  client::ObserverOptions options;
  options.endpoint = observer_endpoint;
  options.endpoints = observer_endpoints;
  options.broker_chain = std::move(chain).value();
  options.root_ca = root_ca;
  options.broker_curve_key = broker_curve_key;
  options.log_origin = log_origin;
  options.broker_pins = broker_pins;
  options.witnesses = witnesses;
  options.witness_quorum = witness_quorum;
  return options;
}

Result<CurvePublicKey> broker_key_from_cert(const std::filesystem::path& pem) {
  auto certs = Certificate::load_pem_file(pem);
  if (!certs) return std::move(certs).take_error();
  if (certs->empty()) {
    return make_error(ErrorCode::invalid_argument, pem.string() + " holds no certificate: give the broker's chain.pem");
  }
  auto info = certs->front().participant();
  if (!info) return std::move(info).take_error();
  if (info->role != Role::broker) {
    return make_error(ErrorCode::wrong_role, pem.string() + " is the certificate of " + info->id.str() + " (" +
                                                 std::string(role_name(info->role)) +
                                                 "), not of a broker: give the broker's chain.pem");
  }
  return info->curve_public_key;
}

Result<Profile> load_profile(const std::string& flag, PinsNeeded pins) {
  std::string dir = flag;
  if (dir.empty()) {
    if (const char* env = std::getenv(kProfileEnv); env != nullptr) dir = env;
  }
  if (dir.empty()) {
    return make_error(ErrorCode::invalid_argument,
                      "no profile given: pass --profile DIR or set FPX_PROFILE; create one with "
                      "`fpx profile init --dir DIR --identity ... --broker-endpoint ... --broker-cert ... --root-ca ...`");
  }
  auto profile = load_profile_dir(dir, pins);
  // Every command that verifies loads its profile here: the choice made at
  // `fpx profile init` stays visible, on stderr so that --json stays clean.
  if (profile) {
    if (auto warning = revocation_warning(*profile); !warning.empty()) std::cerr << warning << "\n";
  }
  return profile;
}

std::string revocation_warning(const Profile& profile) {
  if (profile.revocation == RevocationCheck::required) return {};
  return "warning: this profile does not check revocation (made with --no-revocation-check): messages of a revoked "
         "signer are accepted. Rewrite it with `fpx profile init --force ... --crl-dir DIR` to check";
}

Result<Profile> load_profile_dir(const std::filesystem::path& dir, PinsNeeded pins_needed) {
  const auto file = dir / kProfileFile;
  std::error_code ignored;
  if (!std::filesystem::exists(file, ignored)) {
    return make_error(ErrorCode::invalid_argument, "no " + file.string() + ": create it with `fpx profile init --dir " +
                                                       dir.string() + " ...`");
  }
  toml::table table;
  try {
    table = toml::parse_file(file.string());
  } catch (const toml::parse_error& error) {
    return make_error(ErrorCode::invalid_argument, file.string() + ": " + std::string(error.description()) +
                                                       " (line " + std::to_string(error.source().begin.line) + ")");
  }
  Profile profile;
  profile.dir = std::filesystem::absolute(dir, ignored);
  Error problems{ErrorCode::invalid_argument, file.string() + " is incomplete: fix it or rewrite it with `fpx profile init`", {}};
  auto required = [&](const char* key) {
    std::string value = text_at(table, key);
    if (value.empty()) problems.field_errors.push_back({key, "is required"});
    return value;
  };

  if (auto identity = required("identity.dir"); !identity.empty()) profile.identity_dir = resolve(profile.dir, identity);
  if (auto path = text_at(table, "identity.passphrase_file"); !path.empty()) {
    profile.passphrase = PassphraseSource::from_file(resolve(profile.dir, path).string());
  } else if (auto name = text_at(table, "identity.passphrase_env"); !name.empty()) {
    profile.passphrase = PassphraseSource::from_environment(name);
  }
  profile.observer_endpoint = text_at(table, "observer.endpoint");
  if (auto origin = text_at(table, "observer.log_origin"); !origin.empty()) profile.log_origin = origin;
  // Failover: [broker] endpoints = ["tcp://a:7400", "tcp://b:7400"] (and
  // [observer] endpoints), beside or instead of the single endpoint.
  auto endpoint_list = [&](const char* key, std::vector<std::string>& out) {
    const auto* list = table.at_path(key).as_array();
    if (list == nullptr) return;
    for (const auto& item : *list) {
      if (auto text = item.value<std::string>(); text && !text->empty()) {
        out.push_back(*text);
      } else {
        problems.field_errors.push_back({key, "must list endpoints as strings (\"tcp://host:7400\")"});
        return;
      }
    }
    if (out.size() > kMaxProfileBrokerEndpoints) {
      problems.field_errors.push_back({key, "lists more than " + std::to_string(kMaxProfileBrokerEndpoints) +
                                                " brokers: keep those of the exchange (its active broker and its "
                                                "standby)"});
    }
  };
  endpoint_list("broker.endpoints", profile.broker_endpoints);
  endpoint_list("observer.endpoints", profile.observer_endpoints);
  if (profile.observer_endpoint.empty() && !profile.observer_endpoints.empty()) {
    profile.observer_endpoint = profile.observer_endpoints.front();
  }
  profile.broker_endpoint = text_at(table, "broker.endpoint");
  if (profile.broker_endpoint.empty() && !profile.broker_endpoints.empty()) {
    profile.broker_endpoint = profile.broker_endpoints.front();
  }
  // An observer-only profile talks to the observer endpoint alone.
  if (profile.broker_endpoint.empty() && profile.observer_endpoint.empty()) required("broker.endpoint");
  if (auto cert = text_at(table, "broker.cert"); !cert.empty()) profile.broker_cert = resolve(profile.dir, cert);
  if (auto key = text_at(table, "broker.curve_public_key"); !key.empty()) {
    // Pinned as written; an observer also checks it against broker.cert.
    auto decoded = z85_decode_key(key);
    if (!decoded) {
      problems.field_errors.push_back({"broker.curve_public_key", "is not a 40-character Z85 key (as `fpx-ca show` prints it)"});
    } else {
      profile.broker_curve_key = *decoded;
    }
  } else if (!profile.broker_cert.empty()) {
    auto key_from_cert = broker_key_from_cert(profile.broker_cert);
    if (!key_from_cert) {
      problems.field_errors.push_back({"broker.cert", key_from_cert.error().describe()});
    } else {
      profile.broker_curve_key = *key_from_cert;
    }
  } else {
    problems.field_errors.push_back({"broker", "needs curve_public_key (Z85) or cert (the broker's chain.pem)"});
  }
  if (auto root = required("pki.root_ca"); !root.empty()) profile.root_ca = resolve(profile.dir, root);
  if (auto crls = text_at(table, "pki.crl_dir"); !crls.empty()) profile.crl_dir = resolve(profile.dir, crls);
  // Revocation is checked unless the profile says, in so many words, that it is not.
  const auto revocation_check = table.at_path("pki.revocation_check").value<bool>();
  if (revocation_check.has_value() && !*revocation_check) {
    profile.revocation = RevocationCheck::skip;
  } else if (profile.crl_dir.empty() && !profile.broker_endpoint.empty()) {
    // A participant verifies deliveries of every participant; an
    // observer-only profile checks the pinned broker's records alone.
    problems.field_errors.push_back(
        {"pki.crl_dir", "is required: clients check revocation by default. Rewrite the profile with `fpx profile init "
                        "--force ... --crl-dir DIR`, or, knowingly, with --no-revocation-check"});
  }
  if (const auto* pins = table.at_path("broker.pins").as_array(); pins != nullptr) {
    for (const auto& element : *pins) {
      auto text = element.value<std::string>();
      auto pin = client::BrokerKeyPin::parse(text ? *text : std::string());
      if (!pin) {
        problems.field_errors.push_back({"broker.pins", pin.error().message});
      } else if (std::find(profile.broker_pins.begin(), profile.broker_pins.end(), *pin) == profile.broker_pins.end()) {
        profile.broker_pins.push_back(*pin);
      }
    }
  }
  if (profile.broker_pins.empty() && pins_needed == PinsNeeded::yes) {
    problems.field_errors.push_back(
        {"broker.pins", "pins no broker signing key: add the exchange's with `fpx profile pin --add broker-chain.pem` "
                        "after comparing its fingerprint with the operator's"});
  } else if (auto bounded = client::require_broker_pins(profile.broker_pins, "broker.pins");
             !profile.broker_pins.empty() && !bounded) {
    problems.field_errors.push_back({"broker.pins", bounded.error().message});
  }
  read_witnesses(table, profile, problems.field_errors);
  if (!problems.field_errors.empty()) return problems;
  return profile;
}

Result<Identity> load_identity(const Profile& profile) { return Identity::load(profile.identity_dir, profile.passphrase); }

}  // namespace fpx::cli
