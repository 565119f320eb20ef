// fpx-ca: the exchange's certificate authority on the command line.
// Exit codes: 0 done, 1 failed (I/O, OpenSSL), 2 bad arguments or state the
// operator must fix (unknown role, bad country, id already issued, no CA, a
// refused request: tampered, not Ed25519, a role or country the CA may not issue).
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "fpx/ca_directory.hpp"
#include "fpx/certificate_request.hpp"
#include "fpx/identity.hpp"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

int fail(const fpx::Error& error) {
  std::fprintf(stderr, "fpx-ca: %s\n", error.message.c_str());
  switch (error.code) {
    // A refused request or certificate is a file the operator must fix or
    // send back, like a bad argument: exit 2, as scripts branch on it.
    case fpx::ErrorCode::invalid_argument:
    case fpx::ErrorCode::not_found:
    case fpx::ErrorCode::id_reused:
    case fpx::ErrorCode::malformed:
    case fpx::ErrorCode::bad_key:
    case fpx::ErrorCode::bad_signature:
    case fpx::ErrorCode::too_large:
    case fpx::ErrorCode::wrong_role:
    case fpx::ErrorCode::signer_mismatch:
    case fpx::ErrorCode::untrusted_chain: return kExitUsage;
    default:
      return kExitFailure;
  }
}

int usage(const std::string& message) {
  std::fprintf(stderr, "fpx-ca: %s\n", message.c_str());
  return kExitUsage;
}

// A certificate handed back to its requester: created, never overwritten
// (a renewal writes a new file; the old chain stays usable until switched).
int write_output(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::fprintf(stderr, "fpx-ca: cannot create %s: %s (choose another --out; existing files are never overwritten)\n",
                 path.c_str(), std::strerror(errno));
    return kExitFailure;
  }
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      std::fprintf(stderr, "fpx-ca: cannot write %s: %s\n", path.c_str(), std::strerror(errno));
      return kExitFailure;
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return kExitOk;
}

// A request is small; a bigger file is refused by the parser anyway, but the
// read stops at the limit so a hostile file cannot exhaust memory first.
fpx::Result<std::string> read_request(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fpx::make_error(fpx::ErrorCode::invalid_argument, "cannot read request " + path);
  std::string text(fpx::kMaxCertificateRequestPem + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return text;
}

// "2d", "36h", "90m" or a plain number of days.
std::optional<std::int64_t> parse_duration_ms(const std::string& text) {
  if (text.empty()) return std::nullopt;
  std::size_t used = 0;
  long long value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (value < 0) return std::nullopt;
  const std::string unit = text.substr(used);
  std::int64_t per = 0;
  if (unit.empty() || unit == "d") {
    per = 24LL * 3600 * 1000;
  } else if (unit == "h") {
    per = 3600LL * 1000;
  } else if (unit == "m") {
    per = 60LL * 1000;
  } else {
    return std::nullopt;
  }
  return static_cast<std::int64_t>(value) * per;
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
    if (!info->officer.empty()) fields.emplace_back("officer", info->officer);
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
  std::string request_path;
  std::string out_file;
  bool generate_for_testing = false;
  int intermediate_days = fpx::pki::kDefaultIntermediateDays;
  auto* intermediate = app.add_subcommand(
      "intermediate", "the root signs a national CA's request (made by that state with 'fpx-ca national init')");
  auto* intermediate_request = intermediate->add_option("--request", request_path, "the national CA's request.csr");
  intermediate->add_option("--out", out_file, "where to write its certificate (default: printed path under issued/)");
  auto* intermediate_country =
      intermediate->add_option("--country", country, "testing only, with --generate-key-for-testing");
  auto* intermediate_generate = intermediate->add_flag(
      "--generate-key-for-testing", generate_for_testing,
      "testing only: make the national CA's key here, in the root's directory (never in a real exchange)");
  intermediate_request->excludes(intermediate_generate);
  intermediate_country->needs(intermediate_generate);
  intermediate->add_option("--days", intermediate_days, "validity in days")->capture_default_str();

  auto* national = app.add_subcommand("national", "a national CA's own directory, on that state's machine");
  national->require_subcommand(1);
  auto* national_init = national->add_subcommand(
      "init", "make the national CA's key (ca/<cc>/key.pem) and request.csr for the root; the key stays here");
  national_init->add_option("--country", country, "ISO 3166-1 alpha-2 code, e.g. SN")->required();
  std::string cert_path;
  std::string root_ca_path;
  auto* national_install = national->add_subcommand(
      "install", "install the certificate the root signed and the root certificate; publish the first CRL");
  national_install->add_option("--cert", cert_path, "the national CA's certificate from the root")->required();
  national_install->add_option("--root-ca", root_ca_path, "the exchange's root-ca.pem")->required();

  int sign_days = fpx::pki::kDefaultParticipantDays;
  bool renew_flag = false;
  std::string sign_issuer;
  auto* sign = app.add_subcommand(
      "sign", "sign a participant's or officer's request (made with 'fpx keys new'); write the chain it installs");
  sign->add_option("--request", request_path, "the request.csr its owner handed over")->required();
  sign->add_option("--out", out_file, "where to write chain.pem (leaf, then the national CA)")->required();
  sign->add_option("--ca", sign_issuer, "issuing CA: root or a country (default: chosen by role and country)");
  sign->add_option("--days", sign_days, "validity in days")->capture_default_str();
  sign->add_flag("--renew", renew_flag,
                 "the id (and officer) already has a live certificate: issue a new one beside it (renewal)");

  std::string role_text;
  std::string id;
  std::string out_dir;
  std::string issuer;
  int days = fpx::pki::kDefaultParticipantDays;
  PassphraseOptions passphrase;
  auto* issue = app.add_subcommand(
      "issue", "testing only (--generate-keys-for-testing): make a participant's keys here; use 'sign' otherwise");
  issue->add_flag("--generate-keys-for-testing", generate_for_testing,
                  "make the participant's private keys on the CA's machine (tests only)");
  issue->add_option("--role", role_text, "focal-point, agency, observer or broker")->required();
  issue->add_option("--country", country, "ISO 3166-1 alpha-2 code, e.g. SN")->required();
  issue->add_option("--id", id, "participant id, e.g. sn.focal-point")->required();
  issue->add_option("--days", days, "validity in days")->capture_default_str();
  issue->add_option("--out", out_dir, "identity directory (default <dir>/participants/<id>)");
  issue->add_option("--ca", issuer, "issuing CA: root or a country (default: chosen by role and country)");
  add_passphrase_options(issue, passphrase);

  auto* renew = app.add_subcommand(
      "renew", "testing only (--generate-keys-for-testing): new keys made here; renew with 'sign --renew' otherwise");
  renew->add_flag("--generate-keys-for-testing", generate_for_testing,
                  "make the participant's new private keys on the CA's machine (tests only)");
  renew->add_option("--id", id, "participant id")->required();
  renew->add_option("--days", days, "validity in days")->capture_default_str();
  renew->add_option("--out", out_dir, "identity directory (default <dir>/participants/<id>)");
  add_passphrase_options(renew, passphrase);

  std::string serial;
  std::string revoke_cert;
  std::string revoke_ca;
  int crl_days = fpx::pki::kDefaultCrlDays;
  auto* revoke = app.add_subcommand(
      "revoke", "revoke as of now: --cert FILE, --serial S, or --id X (all of its certificates, or one --serial)");
  auto* revoke_id = revoke->add_option("--id", id, "participant id (every certificate of it, or one --serial)");
  revoke->add_option("--serial", serial, "this certificate (hex)");
  auto* revoke_file = revoke->add_option("--cert", revoke_cert,
                                         "the certificate itself (PEM), also one this directory has no record of");
  revoke->add_option("--ca", revoke_ca, "with --serial: the CA here that issued a serial recorded elsewhere");
  revoke_file->excludes(revoke_id);
  revoke->add_option("--days", crl_days, "days until the new CRL's nextUpdate")->capture_default_str();

  std::string renew_before;
  auto* crl = app.add_subcommand("crl", "re-issue the CRLs of the CAs in this directory into <dir>/crls/");
  crl->add_option("--days", crl_days, "days until nextUpdate")->capture_default_str();
  crl->add_option("--renew-before", renew_before,
                  "only re-issue CRLs whose nextUpdate is within this window, e.g. 2d or 36h (what the timer runs)");

  bool json = false;
  auto* show_command = app.add_subcommand("show", "print what a certificate says");
  show_command->add_option("CERT", cert_path, "PEM file (first certificate is shown)")->required();
  show_command->add_flag("--json", json, "one JSON object");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    if (error.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(error);  // --help
    if (std::string(error.what()).find("subcommand") != std::string::npos) {
      return usage(
          "missing or unknown command; use one of init, national, intermediate, sign, revoke, crl, show, issue, renew "
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

  if (national_init->parsed()) {
    auto request = fpx::pki::CaDirectory::init_national(dir, fpx::CountryCode(country));
    if (!request) return fail(request.error());
    std::printf(
        "national CA key made in %s/ca/ (it stays here); hand %s/request.csr to the exchange's root operator, "
        "then run 'fpx-ca --dir %s national install --cert <certificate> --root-ca <root-ca.pem>'\n",
        dir.c_str(), dir.c_str(), dir.c_str());
    return kExitOk;
  }

  auto ca = fpx::pki::CaDirectory::open(dir);
  if (!ca) return fail(ca.error());

  if (national_install->parsed()) {
    auto cert = ca->install_national(cert_path, root_ca_path);
    if (!cert) return fail(cert.error());
    std::printf(
        "installed %s (serial %s); its CRL is %s/crls/; sign your participants' requests with 'fpx-ca --dir "
        "%s sign --request FILE --out chain.pem'\n",
        cert->subject_text().c_str(), cert->serial_hex().c_str(), dir.c_str(), dir.c_str());
    return kExitOk;
  }

  // Checked before signing: a certificate is recorded as issued the moment
  // it is signed, so a refused --out must not come after that.
  if ((sign->parsed() || intermediate->parsed()) && !out_file.empty()) {
    std::error_code ec;
    if (std::filesystem::exists(std::filesystem::symlink_status(out_file, ec))) {
      return usage(out_file + " exists already; choose another --out (existing files are never overwritten)");
    }
  }

  if (intermediate->parsed()) {
    if (generate_for_testing) {
      if (country.empty()) return usage("--generate-key-for-testing needs --country");
      auto cert = ca->add_intermediate(fpx::CountryCode(country), intermediate_days);
      if (!cert) return fail(cert.error());
      std::printf("TESTING ONLY: intermediate CA %s created with its key in %s/ca/ (serial %s)\n",
                  cert->subject_text().c_str(), dir.c_str(), cert->serial_hex().c_str());
      return kExitOk;
    }
    if (request_path.empty()) {
      return usage(
          "give --request FILE: the national CA's request.csr, made by that state with 'fpx-ca --dir DIR "
          "national init --country XX'");
    }
    auto text = read_request(request_path);
    if (!text) return fail(text.error());
    auto cert = ca->sign_intermediate_request(*text, intermediate_days);
    if (!cert) return fail(cert.error());
    const std::string out = out_file.empty() ? (dir + "/issued/" + cert->serial_hex() + ".pem") : out_file;
    if (!out_file.empty()) {
      if (int code = write_output(out_file, cert->pem()); code != kExitOk) return code;
    }
    std::printf("signed national CA %s (serial %s, valid until %s): send %s and %s/root-ca.pem to that state\n",
                cert->subject_text().c_str(), cert->serial_hex().c_str(),
                fpx::pki::format_utc(cert->not_after_ms()).c_str(), out.c_str(), dir.c_str());
    return kExitOk;
  }

  if (sign->parsed()) {
    auto text = read_request(request_path);
    if (!text) return fail(text.error());
    fpx::pki::SignRequest request;
    request.request_pem = *text;
    request.issuer = sign_issuer;
    request.days = sign_days;
    request.existing = renew_flag ? fpx::pki::ExistingId::renew : fpx::pki::ExistingId::refuse;
    auto signed_cert = ca->sign(request);
    if (!signed_cert) return fail(signed_cert.error());
    if (int code = write_output(out_file, signed_cert->chain_pem); code != kExitOk) return code;
    std::string issuer_label = signed_cert->issuer;
    if (issuer_label != fpx::pki::kRootCaName) {
      for (auto& c : issuer_label) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      issuer_label += " national";
    }
    std::printf(
        "signed %s (serial %s, by the %s CA, valid until %s); chain written to %s: copy it into the "
        "requester's key directory as chain.pem\n",
        signed_cert->certificate.subject_text().c_str(), signed_cert->certificate.serial_hex().c_str(),
        issuer_label.c_str(), fpx::pki::format_utc(signed_cert->certificate.not_after_ms()).c_str(), out_file.c_str());
    return kExitOk;
  }

  if ((issue->parsed() || renew->parsed()) && !generate_for_testing) {
    return usage(
        "participants make their own keys: the participant runs 'fpx keys new ...' and hands over "
        "request.csr, which you sign with 'fpx-ca sign --request FILE --out chain.pem' (add "
        "--generate-keys-for-testing only in tests)");
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
    if (!revoke_cert.empty()) {
      auto certs = fpx::Certificate::load_pem_file(revoke_cert);
      if (!certs) return fail(certs.error());
      if (certs->empty()) return usage(revoke_cert + " holds no certificate");
      auto revoked = ca->revoke_certificate(certs->front(), crl_days);
      if (!revoked) return fail(revoked.error());
      std::printf("revoked %s serial %s\n", certs->front().subject_text().c_str(), revoked->c_str());
    } else if (!id.empty()) {
      std::optional<std::string> only;
      if (!serial.empty()) only = serial;
      auto serials = ca->revoke(fpx::ParticipantId(id), only, crl_days);
      if (!serials) return fail(serials.error());
      for (const auto& s : *serials) std::printf("revoked %s serial %s\n", id.c_str(), s.c_str());
    } else if (!serial.empty()) {
      auto revoked = ca->revoke_serial(serial, revoke_ca, crl_days);
      if (!revoked) return fail(revoked.error());
      std::printf("revoked serial %s\n", revoked->c_str());
    } else {
      return usage("say what to revoke: --cert FILE, --serial HEX or --id ID");
    }
    std::printf("CRLs updated in %s/crls/; copy them to the brokers' CRL directory and reload them (SIGHUP)\n",
                dir.c_str());
    return kExitOk;
  }

  if (crl->parsed()) {
    fpx::pki::CrlRenewal renewal;
    if (!renew_before.empty()) {
      renewal.renew_before_ms = parse_duration_ms(renew_before);
      if (!renewal.renew_before_ms) return usage("--renew-before '" + renew_before + "' is not like 2d, 36h or 90m");
    }
    auto written = ca->publish_crls(crl_days, renewal);
    if (!written) return fail(written.error());
    for (const auto& path : *written) std::printf("wrote %s\n", path.c_str());
    if (written->empty()) std::printf("no CRL expires within %s: nothing to do\n", renew_before.c_str());
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
