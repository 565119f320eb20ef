// fpx keys new / install: a participant or officer makes its own keys on its
// own machine and hands over only a PKCS#10 request; the chain the CA sends
// back is installed beside the keys, which then form the identity directory
// that Identity::load reads (protocol/fpx/identity.hpp). No private key ever
// travels, so the exchange's operator cannot sign as a state or an agency.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli.hpp"
#include "fpx/certificate_request.hpp"
#include "fpx/identity.hpp"
#include "render.hpp"
#include "language.hpp"

namespace fpx::cli {

namespace {

// Marks an English text for the catalogue (xgettext --keyword=N_); translated
// where shown (clients/desk/po/fr.po; main.cpp translates the --help texts).
constexpr const char* N_(const char* english) { return english; }

namespace fs = std::filesystem;

constexpr mode_t kPrivateFileMode = 0600;  // keys: owner only
constexpr mode_t kPublicFileMode = 0644;   // request, public key, chain
constexpr mode_t kPrivateDirMode = 0700;   // the directory holds private keys
// What `fpx keys new` hands over: the request, and nothing else.
inline constexpr const char* kRequestFile = "request.csr";
// A chain.pem larger than this is not an FPX chain (leaf + national CA is
// about 1.5 KiB): the limit keeps a wrong file from being copied in.
constexpr std::uintmax_t kMaxChainFileBytes = 64 * 1024;

Error io_error(const std::string& what, const fs::path& path) {
  return make_error(ErrorCode::io_error, what + " " + path.string() + ": " + std::strerror(errno));
}

// Creates a file that must not exist, with its final mode from the first byte
// (O_CREAT|O_EXCL|O_NOFOLLOW, never chmod afterwards): no window in which
// another user can open a key, and a planted symlink cannot redirect it.
Status write_new_file(const fs::path& path, const std::string& content, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return io_error("cannot create", path);
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return io_error("cannot write", path);
    }
    done += static_cast<std::size_t>(n);
  }
  // fsync: a key reported as made must survive a power cut.
  if (::fsync(fd) != 0) {
    ::close(fd);
    return io_error("cannot sync", path);
  }
  if (::close(fd) != 0) return io_error("cannot close", path);
  return {};
}

Result<PassphraseSource> passphrase_of(const std::string& file, const std::string& env) {
  if (!file.empty()) {
    std::error_code ignored;
    return PassphraseSource::from_file(fs::absolute(file, ignored).string());
  }
  if (!env.empty()) return PassphraseSource::from_environment(env);
  return PassphraseSource{};
}

}  // namespace

int run_keys_new(const GlobalOptions& global, const KeysNewOptions& options) {
  const text::Catalogue words(language_for_errors(global));
  const auto role = parse_role(options.role);
  if (!role) {
    return report_failure(global, kExitUsage,
                          make_error(ErrorCode::invalid_argument,
                                     fill_values(words.tr(N_("unknown role '{1}'")), {options.role})),
                          N_("use one of focal-point, agency, observer, broker or cso"));
  }
  if (auto mismatch = id_country_mismatch(options.id, options.country, *role); !mismatch.empty()) {
    // Checked here too, so that the mistake shows on the owner's machine and
    // not as a refusal from the CA days later.
    return report_failure(global, kExitUsage, make_error(ErrorCode::invalid_argument, mismatch));
  }
  std::optional<std::string> officer;
  if (!options.officer.empty()) officer = options.officer;
  auto source = passphrase_of(options.passphrase_file, options.passphrase_env);
  if (!source) return report_failure(global, kExitUsage, source.error());
  auto passphrase = source->read();
  if (!passphrase) return report_failure(global, kExitUsage, passphrase.error());

  auto signing_key = SigningKey::generate();
  if (!signing_key) return report_failure(global, kExitRefused, signing_key.error());
  auto curve = CurveKeyPair::generate();
  if (!curve) return report_failure(global, kExitRefused, curve.error());
  // The request is made (and its fields checked) before anything is written,
  // so a refused id leaves no half-made key directory behind.
  auto request = make_participant_request(*signing_key, ParticipantId(options.id), CountryCode(options.country), *role,
                                          curve->public_key, officer);
  if (!request) return report_failure(global, kExitUsage, request.error());
  auto key_pem = signing_key->to_pem(*passphrase);
  if (!key_pem) return report_failure(global, kExitRefused, key_pem.error());

  const fs::path dir = options.out;
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec) || !fs::is_empty(dir, ec)) {
      return report_failure(global, kExitUsage,
                            make_error(ErrorCode::invalid_argument,
                                       fill_values(words.tr(N_("{1} exists and is not empty")), {dir.string()})),
                            N_("choose a new --out directory: keys are never overwritten"));
    }
  } else {
    if (dir.has_parent_path()) fs::create_directories(dir.parent_path(), ec);
    if (::mkdir(dir.c_str(), kPrivateDirMode) != 0) {
      return report_failure(global, kExitRefused, io_error("cannot create directory", dir));
    }
  }
  for (const auto& [file, content, mode] :
       {std::tuple{kSigningKeyFile, *key_pem, kPrivateFileMode},
        std::tuple{kCurveSecretFile, z85_encode(curve->secret_key) + "\n", kPrivateFileMode},
        std::tuple{kCurvePublicFile, z85_encode(curve->public_key) + "\n", kPublicFileMode},
        std::tuple{kRequestFile, *request, kPublicFileMode}}) {
    if (auto written = write_new_file(dir / file, content, mode); !written) {
      return report_failure(global, kExitRefused, written.error());
    }
  }
  const std::string who =
      officer ? fill_values(words.tr(N_("{1} officer {2}")), {options.id, *officer}) : options.id;
  if (global.json) {
    std::cout << JsonObject()
                     .boolean("ok", true)
                     .text("dir", fs::absolute(dir, ec).string())
                     .text("participant", options.id)
                     .text("country", options.country)
                     .text("role", role_name(*role))
                     .text("officer", officer.value_or(""))
                     .text("request", (fs::absolute(dir, ec) / kRequestFile).string())
                     .text("curvePublicKey", z85_encode(curve->public_key))
                     .str()
              << "\n";
  } else {
    std::cout << fill_values(words.tr(N_("made the keys of {1} ({2}, {3}) in {4}; the private keys stay there (0600)")),
                             {who, std::string(role_name(*role)), options.country, dir.string()})
              << "\n"
              << words.tr(N_("next:")) << " "
              << fill_values(words.tr(N_("hand {1} to your CA (your national CA, or the exchange's root for brokers and "
                                         "observers); install the chain it returns with `fpx keys install --dir {2} "
                                         "--chain FILE`")),
                             {(dir / kRequestFile).string(), dir.string()})
              << "\n";
  }
  return kExitOk;
}

int run_keys_install(const GlobalOptions& global, const KeysInstallOptions& options) {
  const text::Catalogue words(language_for_errors(global));
  const fs::path dir = options.dir;
  const fs::path target = dir / kChainFile;
  std::error_code ec;
  if (!fs::exists(dir / kSigningKeyFile, ec)) {
    return report_failure(global, kExitUsage,
                          make_error(ErrorCode::not_found,
                                     fill_values(words.tr(N_("{1} holds no {2}")), {dir.string(), kSigningKeyFile})),
                          N_("give the directory `fpx keys new --out` made"));
  }
  const auto size = fs::file_size(options.chain, ec);
  if (ec || size > kMaxChainFileBytes) {
    return report_failure(global, kExitUsage,
                          make_error(ErrorCode::invalid_argument,
                                     fill_values(words.tr(N_("{1} is missing or not a chain.pem")), {options.chain})),
                          N_("give the chain.pem file your CA sent back"));
  }
  std::ifstream in(options.chain, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (auto written = write_new_file(target, text.str(), kPublicFileMode); !written) {
    return report_failure(global, kExitUsage, written.error(),
                          N_("a renewal installs into a new directory made with `fpx keys new`"));
  }
  auto source = passphrase_of(options.passphrase_file, options.passphrase_env);
  if (!source) return report_failure(global, kExitUsage, source.error());
  // Identity::load checks that the certificate holds this directory's
  // signing and CURVE public keys: a chain for someone else's request is
  // taken out again, so the directory never holds a mismatched identity.
  auto identity = Identity::load(dir, *source);
  if (!identity) {
    fs::remove(target, ec);
    return report_failure(global, kExitUsage, identity.error(),
                          fill_values(words.tr(N_("this chain is not for the keys in {1}: ask the CA for the chain "
                                                  "it signed from this directory's request")),
                                      {dir.string()}));
  }
  const auto& me = identity->participant();
  if (global.json) {
    std::cout << JsonObject()
                     .boolean("ok", true)
                     .text("dir", fs::absolute(dir, ec).string())
                     .text("participant", me.id.str())
                     .text("officer", me.officer)
                     .text("serial", me.serial_hex)
                     .str()
              << "\n";
  } else {
    const std::string who =
        me.officer.empty() ? me.id.str() : fill_values(words.tr(N_("{1} officer {2}")), {me.id.str(), me.officer});
    std::cout << fill_values(words.tr(N_("installed the certificate of {1} (serial {2}); {3} is now an identity "
                                         "directory for `fpx profile init --identity`")),
                             {who, me.serial_hex, dir.string()})
              << "\n";
  }
  return kExitOk;
}

}  // namespace fpx::cli
