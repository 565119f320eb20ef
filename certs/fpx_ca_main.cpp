// fpx-ca: the exchange's certificate authority on the command line.
// Exit codes: 0 done, 1 failed (I/O, OpenSSL), 2 bad arguments or state the
// operator must fix (unknown role, bad country, id already issued, no CA).
#include <cctype>
#include <cstdio>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "fpx/ca_directory.hpp"
#include "fpx/identity.hpp"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

int fail(const fpx::Error& error) {
  std::fprintf(stderr, "fpx-ca: %s\n", error.message.c_str());
  switch (error.code) {
    case fpx::ErrorCode::invalid_argument:
    case fpx::ErrorCode::not_found:
    case fpx::ErrorCode::id_reused:
      return kExitUsage;
    default:
      return kExitFailure;
  }
}

int usage(const std::string& message) {
  std::fprintf(stderr, "fpx-ca: %s\n", message.c_str());
  return kExitUsage;
}

std::string json_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buffer[8];
          std::snprintf(buffer, sizeof buffer, "\\u%04x", static_cast<unsigned>(c));
          out += buffer;
        } else {
          out += c;
        }
    }
  }
  return out;
}

struct PassphraseOptions {
  std::string file;
  std::string env;
  // The passphrase never comes from argv: /proc/<pid>/cmdline is world-readable.
  fpx::Result<std::string> read() const {
    if (!file.empty()) return fpx::PassphraseSource::from_file(file).read();
    if (!env.empty()) return fpx::PassphraseSource::from_environment(env).read();
    return std::string();
  }
};

void add_passphrase_options(CLI::App* command, PassphraseOptions& options) {
  auto* file = command->add_option("--passphrase-file", options.file,
                                   "encrypt signing-key.pem with the passphrase in this file");
  auto* env = command->add_option("--passphrase-env", options.env,
                                  "encrypt signing-key.pem with the passphrase in this environment variable");
  file->excludes(env);
}

void print_identity(const fpx::pki::IssuedIdentity& identity, const char* verb) {
  std::string issuer = identity.issuer;  // "root" or "sn"
  if (issuer != fpx::pki::kRootCaName) {
    for (auto& c : issuer) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    issuer += " intermediate";
  }
  std::printf("%s %s (serial %s, by the %s CA, valid until %s)\n", verb,
              identity.certificate.subject_text().c_str(), identity.certificate.serial_hex().c_str(),
              issuer.c_str(), fpx::pki::format_utc(identity.certificate.not_after_ms()).c_str());
  std::printf("identity written to %s\n", identity.dir.c_str());
  if (identity.previous_dir) std::printf("previous identity moved to %s\n", identity.previous_dir->c_str());
}

int show(const std::string& path, bool json) {
  auto certs = fpx::Certificate::load_pem_file(path);
  if (!certs) return usage(certs.error().message);
  if (certs->empty()) return usage(path + " holds no certificate");
  const fpx::Certificate& cert = certs->front();

  std::vector<std::pair<std::string, std::string>> fields = {
      {"subject", cert.subject_text()},
      {"issuer", cert.issuer_text()},
      {"serial", cert.serial_hex()},
      {"not_before", fpx::pki::format_utc(cert.not_before_ms())},
      {"not_after", fpx::pki::format_utc(cert.not_after_ms())},
  };
  if (cert.is_ca()) {
    fields.emplace_back("ca", "yes");
    if (auto country = cert.permitted_country()) fields.emplace_back("permitted_country", country->str());
  } else if (auto info = cert.participant(); info) {
    fields.emplace_back("participant", info->id.str());
    fields.emplace_back("country", info->country.str());
    fields.emplace_back("role", std::string(fpx::role_name(info->role)));
    fields.emplace_back("curve_public_key", fpx::z85_encode(info->curve_public_key));
  } else {
    fields.emplace_back("problem", info.error().message);
  }

  if (json) {
    std::string out = "{";
    for (std::size_t i = 0; i < fields.size(); ++i) {
      out += (i == 0 ? "" : ", ");
      out += "\"" + fields[i].first + "\": \"" + json_escape(fields[i].second) + "\"";
    }
    std::printf("%s}\n", out.c_str());
  } else {
    for (const auto& [name, value] : fields) {
      std::string label = name + ":";
      std::printf("%-18s%s\n", label.c_str(), value.c_str());
    }
  }
  return kExitOk;
}

int run(int argc, char** argv) {
  CLI::App app{"fpx-ca: the FPX exchange's certificate authority (root, national intermediates, participants, CRLs)"};
  app.require_subcommand(1);
  // Options of the parent may follow the subcommand ("fpx-ca issue ... --dir x").
  app.fallthrough();
  std::string dir = "./pki";
  app.add_option("--dir", dir, "the CA directory")->capture_default_str();

  std::string root_name = "FPX Root CA";
  int root_days = fpx::pki::kDefaultRootDays;
  auto* init = app.add_subcommand("init", "create the root CA (key, certificate, empty CRL)");
  init->add_option("--name", root_name, "the root's common name")->capture_default_str();
  init->add_option("--days", root_days, "validity in days")->capture_default_str();

  std::string country;
  int intermediate_days = fpx::pki::kDefaultIntermediateDays;
  auto* intermediate = app.add_subcommand("intermediate", "create a national intermediate CA limited to one country");
  intermediate->add_option("--country", country, "ISO 3166-1 alpha-2 code, e.g. SN")->required();
  intermediate->add_option("--days", intermediate_days, "validity in days")->capture_default_str();

  std::string role_text;
  std::string id;
  std::string out_dir;
  std::string issuer;
  int days = fpx::pki::kDefaultParticipantDays;
  PassphraseOptions passphrase;
  auto* issue = app.add_subcommand("issue", "new keys and certificate for a participant");
  issue->add_option("--role", role_text, "focal-point, agency, observer or broker")->required();
  issue->add_option("--country", country, "ISO 3166-1 alpha-2 code, e.g. SN")->required();
  issue->add_option("--id", id, "participant id, e.g. sn.focal-point")->required();
  issue->add_option("--days", days, "validity in days")->capture_default_str();
  issue->add_option("--out", out_dir, "identity directory (default <dir>/participants/<id>)");
  issue->add_option("--ca", issuer, "issuing CA: root or a country (default: chosen by role and country)");
  add_passphrase_options(issue, passphrase);

  auto* renew = app.add_subcommand("renew", "new keys and certificate for an id; the old one stays valid");
  renew->add_option("--id", id, "participant id")->required();
  renew->add_option("--days", days, "validity in days")->capture_default_str();
  renew->add_option("--out", out_dir, "identity directory (default <dir>/participants/<id>)");
  add_passphrase_options(renew, passphrase);

  std::string serial;
  int crl_days = fpx::pki::kDefaultCrlDays;
  auto* revoke = app.add_subcommand("revoke", "revoke a participant's certificates (all, or one --serial) as of now");
  revoke->add_option("--id", id, "participant id")->required();
  revoke->add_option("--serial", serial, "only this certificate (hex)");
  revoke->add_option("--days", crl_days, "days until the new CRL's nextUpdate")->capture_default_str();

  auto* crl = app.add_subcommand("crl", "re-issue every CA's CRL into <dir>/crls/");
  crl->add_option("--days", crl_days, "days until nextUpdate")->capture_default_str();

  std::string cert_path;
  bool json = false;
  auto* show_command = app.add_subcommand("show", "print what a certificate says");
  show_command->add_option("CERT", cert_path, "PEM file (first certificate is shown)")->required();
  show_command->add_flag("--json", json, "one JSON object");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    if (error.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(error);  // --help
    if (std::string(error.what()).find("subcommand") != std::string::npos) {
      return usage("missing or unknown command; use one of init, intermediate, issue, renew, revoke, crl, show "
                   "(see 'fpx-ca --help')");
    }
    return usage(std::string(error.what()) + " (see 'fpx-ca --help')");
  }

  if (show_command->parsed()) return show(cert_path, json);

  if (init->parsed()) {
    auto ca = fpx::pki::CaDirectory::init(dir, root_name, root_days);
    if (!ca) return fail(ca.error());
    std::printf("root CA created in %s; give %s/root-ca.pem to verifiers and %s/crls/ to brokers\n", dir.c_str(),
                dir.c_str(), dir.c_str());
    return kExitOk;
  }

  auto ca = fpx::pki::CaDirectory::open(dir);
  if (!ca) return fail(ca.error());

  if (intermediate->parsed()) {
    auto cert = ca->add_intermediate(fpx::CountryCode(country), intermediate_days);
    if (!cert) return fail(cert.error());
    std::string name = country;
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::printf("intermediate CA %s created (serial %s); its key, for %s's focal point, is %s/ca/%s/key.pem\n",
                cert->subject_text().c_str(), cert->serial_hex().c_str(), country.c_str(), dir.c_str(), name.c_str());
    return kExitOk;
  }

  if (issue->parsed()) {
    const auto role = fpx::parse_role(role_text);
    if (!role) return usage("unknown role '" + role_text + "'; use one of focal-point, agency, observer, broker");
    auto secret = passphrase.read();
    if (!secret) return usage(secret.error().message);
    fpx::pki::IssueRequest request;
    request.id = fpx::ParticipantId(id);
    request.country = fpx::CountryCode(country);
    request.role = *role;
    request.days = days;
    request.issuer = issuer;
    request.out_dir = out_dir;
    request.key_passphrase = *secret;
    auto identity = ca->issue(request);
    if (!identity) return fail(identity.error());
    print_identity(*identity, "issued");
    return kExitOk;
  }

  if (renew->parsed()) {
    auto secret = passphrase.read();
    if (!secret) return usage(secret.error().message);
    auto identity = ca->renew(fpx::ParticipantId(id), days, out_dir, *secret);
    if (!identity) return fail(identity.error());
    print_identity(*identity, "renewed");
    return kExitOk;
  }

  if (revoke->parsed()) {
    std::optional<std::string> only;
    if (!serial.empty()) only = serial;
    auto serials = ca->revoke(fpx::ParticipantId(id), only, crl_days);
    if (!serials) return fail(serials.error());
    for (const auto& s : *serials) std::printf("revoked %s serial %s\n", id.c_str(), s.c_str());
    std::printf("CRLs updated in %s/crls/; reload brokers (SIGHUP) to apply\n", dir.c_str());
    return kExitOk;
  }

  if (crl->parsed()) {
    auto written = ca->publish_crls(crl_days);
    if (!written) return fail(written.error());
    for (const auto& path : *written) std::printf("wrote %s\n", path.c_str());
    return kExitOk;
  }
  return usage("no command given (see 'fpx-ca --help')");
}

}  // namespace

int main(int argc, char** argv) {
  // Nothing may escape as an exception trace: a last net for std::filesystem
  // and allocation failures, which report here as a one-line error.
  try {
    return run(argc, argv);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "fpx-ca: internal error: %s\n", error.what());
    return kExitFailure;
  }
}
