// fpx witness init / serve / log-key, fpx log compare, fpx log evidence check.
#include "commands_witness.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "feed_store.hpp"
#include "fpx/broker_pins.hpp"
#include "fpx/certificate.hpp"
#include "fpx/cosignature.hpp"
#include "fpx/observer_client.hpp"
#include "fpx/split_view_evidence.hpp"
#include "fpx/witness_server.hpp"
#include "profile.hpp"
#include "render.hpp"
#include "language.hpp"

namespace fpx::cli {

namespace {

// Marks an English text for the catalogue (xgettext --keyword=N_); translated
// where shown (clients/desk/po/fr.po; main.cpp translates the --help texts).
constexpr const char* N_(const char* english) { return english; }

constexpr const char* kKeyFileName = "witness-key.pem";
constexpr const char* kConfigFileName = "witness.toml";
// "yours:  ", "shared: ": the checkpoints' labels line up (any language's label plus one space at least).
constexpr std::size_t kCheckpointLabelWidth = 8;
// A shared checkpoint file is one note: anything longer is not one, and we
// do not read it into memory.
constexpr std::uintmax_t kMaxSharedCheckpointBytes = kMaxSignedNoteBytes;

Status write_new_private_file(const std::filesystem::path& path, const std::string& text) {
  // O_EXCL: never overwrite a key; 0600: only the witness's user reads it.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return make_error(ErrorCode::io_error, "cannot create " + path.string() + ": " + std::strerror(errno) +
                                               (errno == EEXIST ? "; it exists already: choose a new directory" : ""));
  }
  std::size_t written = 0;
  while (written < text.size()) {
    const auto n = ::write(fd, text.data() + written, text.size() - written);
    if (n <= 0) {
      ::close(fd);
      return make_error(ErrorCode::io_error, "cannot write " + path.string() + ": " + std::strerror(errno));
    }
    written += static_cast<std::size_t>(n);
  }
  // fsync: a key whose vkey was printed (and handed to logs and clients)
  // must survive a power cut.
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) return make_error(ErrorCode::io_error, "cannot sync " + path.string());
  return {};
}

Result<std::string> read_small_file(const std::filesystem::path& path, std::uintmax_t limit, const std::string& what) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return make_error(ErrorCode::invalid_argument, "cannot read " + path.string() + ": " + ec.message());
  if (size > limit) {
    return make_error(ErrorCode::too_large,
                      path.string() + " is longer than " + std::to_string(limit) + " bytes: not " + what);
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

PassphraseSource passphrase_of(const std::string& file, const std::string& env) {
  if (!file.empty()) return PassphraseSource::from_file(file);
  if (!env.empty()) return PassphraseSource::from_environment(env);
  return {};
}

// `label` is marked N_ by the caller; padded to one width in either language.
void print_checkpoint(const text::Catalogue& text, const char* label, const Checkpoint& checkpoint) {
  std::string shown(text.tr(label));
  shown.append(shown.size() < kCheckpointLabelWidth ? kCheckpointLabelWidth - shown.size() : 1, ' ');
  std::cout << shown
            << fill_values(text.tr(N_("{1}, tree size {2}, root {3}")),
                           {checkpoint.origin, std::to_string(checkpoint.size), to_hex(checkpoint.root)})
            << "\n";
}

}  // namespace

WitnessCommands::WitnessCommands(CLI::App& app, CLI::App& log, const GlobalOptions& global) : global_(global) {
  auto* witness = app.add_subcommand(
      "witness", N_("run a C2SP witness: cosign the exchange's checkpoints only when consistent with what it cosigned"));
  witness->require_subcommand(1);
  init_ = witness->add_subcommand("init",
                                  N_("make a witness directory: its Ed25519 key (0600) and witness.toml; "
                                  "prints the witness's vkey to give the exchange and its clients"));
  init_->add_option("DIR", init_options_.dir, N_("the new witness directory (0700)"))->required();
  init_->add_option("--name", init_options_.name, N_("the witness's key name, e.g. witness.cso.example/w1"))->required();
  init_->add_option("--listen", init_options_.listen, N_("HOST:PORT to serve add-checkpoint on"))->capture_default_str();
  init_->add_option("--log", init_options_.logs,
                    N_("a log to follow, ORIGIN=VKEY (the log's vkey: `fpx witness log-key`); repeatable"));
  auto* pass_file = init_->add_option("--passphrase-file", init_options_.passphrase_file,
                                      N_("encrypt the key with the passphrase in this file"));
  init_
      ->add_option("--passphrase-env", init_options_.passphrase_env,
                   N_("encrypt the key with the passphrase in this environment variable"))
      ->excludes(pass_file);
  serve_ = witness->add_subcommand("serve", N_("serve POST /add-checkpoint (C2SP tlog-witness) until SIGTERM"));
  serve_->add_option("--config", serve_options_.config, N_("the witness.toml `fpx witness init` wrote"))->required();
  log_key_ = witness->add_subcommand("log-key",
                                     N_("print the vkey of the exchange's log, from the broker's certificate, "
                                     "for a witness's [[log]] entry"));
  log_key_->add_option("--broker-cert", log_key_options_.broker_cert, N_("the broker's chain.pem"))->required();
  log_key_->add_option("--origin", log_key_options_.origin, N_("the log's origin line (broker.toml oversight.origin)"))
      ->capture_default_str();

  compare_ = log.add_subcommand("compare",
                                N_("observers: compare a checkpoint another observer shared with your saved "
                                "one; prints CONSISTENT, or writes split-view evidence and exits 1"));
  compare_->add_option("FILE", compare_options_.file, N_("the shared checkpoint (a signed note)"))->required();
  compare_->add_option("--evidence-dir", compare_options_.evidence_dir,
                       N_("where evidence goes (default: the profile's evidence/)"));
  auto* evidence = log.add_subcommand("evidence", N_("split-view evidence files"));
  evidence->require_subcommand(1);
  evidence_check_ = evidence->add_subcommand(
      "check",
      N_("check an evidence file: both checkpoints signed by the log's key and provably inconsistent (exit 0), "
      "or not a proof (exit 1)"));
  evidence_check_->add_option("FILE", evidence_options_.file, N_("the evidence file (JSON)"))->required();
  evidence_check_->add_option("--log-key", evidence_options_.log_key,
                              N_("require this log vkey (default: the one the file names: compare it with the "
                              "exchange's published one)"));
}

std::optional<int> WitnessCommands::run_parsed() const {
  if (init_->parsed()) return run_witness_init(global_, init_options_);
  if (serve_->parsed()) return run_witness_serve(global_, serve_options_);
  if (log_key_->parsed()) return run_witness_log_key(global_, log_key_options_);
  if (compare_->parsed()) return run_log_compare(global_, compare_options_);
  if (evidence_check_->parsed()) return run_evidence_check(global_, evidence_options_);
  return std::nullopt;
}

int run_witness_init(const GlobalOptions& global, const WitnessInitOptions& options) {
  const text::Catalogue words(language_for_errors(global));
  if (!valid_note_key_name(options.name)) {
    return report_failure(global, kExitUsage,
                          make_error(ErrorCode::invalid_argument,
                                     fill_values(words.tr(N_("--name: \"{1}\" is not a key name (no spaces, no '+')")),
                                                 {options.name})),
                          N_("give --name a name such as witness.cso.example/w1"));
  }
  toml::array logs;
  for (const auto& entry : options.logs) {
    const auto equals = entry.find('=');
    if (equals == std::string::npos) {
      return report_failure(global, kExitUsage,
                            make_error(ErrorCode::invalid_argument,
                                       fill_values(words.tr(N_("--log {1}: expected ORIGIN=VKEY")), {entry})),
                            N_("print the log's vkey with `fpx witness log-key`"));
    }
    const auto origin = entry.substr(0, equals);
    auto key = parse_verifier_key(entry.substr(equals + 1));
    if (!key) return report_failure(global, kExitUsage, key.error(), N_("print the log's vkey with `fpx witness log-key`"));
    if (!valid_note_key_name(origin) || key->type != NoteSignatureType::ed25519) {
      return report_failure(global, kExitUsage,
                            make_error(ErrorCode::invalid_argument,
                                       fill_values(words.tr(N_("--log {1}: the origin must be a key name and the vkey "
                                                               "a log's (type 1)")),
                                                   {entry})),
                            N_("print the log's vkey with `fpx witness log-key`"));
    }
    logs.push_back(toml::table{{"origin", origin}, {"vkey", entry.substr(equals + 1)}});
  }
  const std::filesystem::path dir(options.dir);
  std::error_code ec;
  if (std::filesystem::exists(dir / kKeyFileName, ec)) {
    return report_failure(global, kExitUsage,
                          make_error(ErrorCode::invalid_argument,
                                     fill_values(words.tr(N_("{1} exists: a witness keeps its key; choose a new "
                                                             "directory")),
                                                 {(dir / kKeyFileName).string()})));
  }
  std::filesystem::create_directories(dir, ec);
  if (ec || ::chmod(dir.c_str(), 0700) != 0) {
    return report_failure(global, kExitUsage,
                          make_error(ErrorCode::io_error, "cannot create " + dir.string() + ": " + ec.message()));
  }
  auto key = SigningKey::generate();
  if (!key) return report_failure(global, kExitRefused, key.error());
  std::string passphrase;
  const auto source = passphrase_of(options.passphrase_file, options.passphrase_env);
  if (source.kind != PassphraseSource::Kind::none) {
    auto read = source.read();
    if (!read) return report_failure(global, kExitUsage, read.error());
    passphrase = *read;
  }
  auto pem = key->to_pem(passphrase);
  if (!pem) return report_failure(global, kExitRefused, pem.error());
  if (auto written = write_new_private_file(dir / kKeyFileName, *pem); !written) {
    return report_failure(global, kExitUsage, written.error());
  }
  toml::table witness{{"name", options.name},
                      {"key", kKeyFileName},
                      {"listen", options.listen},
                      {"state", "witness.sqlite"},
                      {"evidence_dir", "evidence"}};
  if (!options.passphrase_file.empty()) witness.insert("passphrase_file", options.passphrase_file);
  if (!options.passphrase_env.empty()) witness.insert("passphrase_env", options.passphrase_env);
  toml::table config{{"witness", witness}};
  if (!logs.empty()) config.insert("log", logs);
  std::ostringstream text;
  text << "# FPX witness (fpx witness serve --config " << kConfigFileName << "); README.md, \"Running a witness\".\n"
       << "# Add one [[log]] per log to follow: origin and the log's vkey (`fpx witness log-key`).\n"
       << config << "\n";
  if (auto written = write_new_private_file(dir / kConfigFileName, text.str()); !written) {
    return report_failure(global, kExitUsage, written.error());
  }
  const WitnessKey witness_key{options.name, key->public_key()};
  const auto vkey = format_verifier_key(witness_key.verifier_key());
  if (global.json) {
    std::cout
        << JsonObject().boolean("ok", true).text("vkey", vkey).text("config", (dir / kConfigFileName).string()).str()
        << "\n";
  } else {
    std::cout << fill_values(words.tr(N_("witness {1} made in {2} (key 0600, stays there)")), {options.name, dir.string()})
              << "\n"
              << "vkey: " << vkey << "\n"
              << fill_values(words.tr(N_("give this vkey to the exchange's operator and to the clients that require "
                                         "this witness; then run `fpx witness serve --config {1}`")),
                             {(dir / kConfigFileName).string()})
              << "\n";
  }
  return kExitOk;
}

int run_witness_serve(const GlobalOptions& global, const WitnessServeOptions& options) {
  auto config = witness::load_witness_config(options.config);
  if (!config) return report_failure(global, kExitUsage, config.error());
  // Signals are taken by a thread of ours (sigwait), not by a handler: the
  // server stops cleanly, after answering the requests in flight.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  auto server = witness::WitnessServer::create(std::move(*config));
  if (!server) return report_failure(global, kExitUsage, server.error());
  auto port = (*server)->bind();
  if (!port) return report_failure(global, kExitRefused, port.error());
  const auto& bound = (*server)->config();
  const WitnessKey key{bound.name, (*server)->public_key()};
  std::cout << fill_values(text::Catalogue(language_for_errors(global))
                               .tr(N_("witness {1} listening on http://{2}:{3} following {4} log(s); vkey {5}")),
                           {bound.name, bound.listen_host, std::to_string(*port), std::to_string(bound.logs.size()),
                            format_verifier_key(key.verifier_key())})
            << std::endl;
  std::thread stopper([&] {
    int signal = 0;
    sigwait(&signals, &signal);
    (*server)->stop();
  });
  auto served = (*server)->serve();
  // Wake the stopper if the server ended by itself.
  pthread_kill(stopper.native_handle(), SIGTERM);
  stopper.join();
  if (!served) return report_failure(global, kExitRefused, served.error());
  return kExitOk;
}

int run_witness_log_key(const GlobalOptions& global, const WitnessLogKeyOptions& options) {
  auto chain = Certificate::load_pem_file(options.broker_cert);
  if (!chain) return report_failure(global, kExitUsage, chain.error());
  if (chain->empty()) {
    return report_failure(global, kExitUsage,
                          make_error(ErrorCode::invalid_argument, options.broker_cert + " holds no certificate"),
                          N_("give the broker's chain.pem"));
  }
  auto key = client::ed25519_key_of(chain->front());
  if (!key) return report_failure(global, kExitUsage, key.error());
  if (!valid_note_key_name(options.origin)) {
    return report_failure(global, kExitUsage,
                          make_error(ErrorCode::invalid_argument, "--origin: not a valid origin (no spaces, no '+')"),
                          N_("give the origin line of broker.toml (oversight.origin), e.g. fpx.exchange/log"));
  }
  const auto vkey = note_verifier_key(options.origin, *key);
  if (global.json) {
    std::cout << JsonObject().boolean("ok", true).text("vkey", vkey).str() << "\n";
  } else {
    std::cout << vkey << "\n";
  }
  return kExitOk;
}

int run_log_compare(const GlobalOptions& global, const LogCompareOptions& options) {
  const text::Catalogue text(language_for_errors(global));
  auto profile = load_profile(global.profile);
  if (!profile) return report_failure(global, kExitUsage, profile.error());
  auto observer_options = profile->observer_options();
  if (!observer_options) return report_failure(global, kExitUsage, observer_options.error());
  auto broker = client::verify_broker_chain(observer_options->broker_chain, observer_options->root_ca,
                                            observer_options->broker_pins);
  if (!broker) return report_failure(global, kExitRefused, broker.error());
  const auto& log_key = broker->signing_key;

  auto shared_text = read_small_file(options.file, kMaxSharedCheckpointBytes, "a checkpoint");
  if (!shared_text) return report_failure(global, kExitUsage, shared_text.error());
  auto shared = client::verify_checkpoint_note(*shared_text, profile->log_origin, log_key);
  if (!shared) {
    return report_failure(global, kExitRefused, shared.error(),
                          N_("the shared file is not a checkpoint the exchange signed: it proves nothing either way"));
  }
  FeedStore store(profile->feed_dir());
  auto saved_note = store.saved_checkpoint();
  if (!saved_note) return report_failure(global, kExitUsage, saved_note.error());
  if (!*saved_note) {
    return report_failure(global, kExitUsage, make_error(ErrorCode::not_found, "no saved checkpoint to compare with"),
                          N_("run `fpx log verify` first"));
  }
  auto saved = client::verify_checkpoint_note(**saved_note, profile->log_origin, log_key);
  if (!saved) return report_failure(global, kExitRefused, saved.error(),
                                    N_("the saved checkpoint does not verify: run `fpx log verify` to see why"));

  const Checkpoint& mine = saved->checkpoint;
  const Checkpoint& theirs = shared->checkpoint;
  witness::SplitViewEvidence evidence;
  evidence.origin = profile->log_origin;
  evidence.log_key = {profile->log_origin, NoteSignatureType::ed25519, log_key};
  evidence.seen_at = witness::utc_now_rfc3339();
  evidence.seen_by = "observer (fpx log compare)";
  bool consistent = false;
  std::string how;
  if (mine.size == theirs.size) {
    consistent = mine.root == theirs.root;
    evidence.kind = witness::SplitViewKind::same_size_different_roots;
    evidence.first = saved->note;
    evidence.second = shared->note;
    how = consistent ? text.tr(N_("same tree size and root")) : text.tr(N_("same tree size, different roots"));
  } else {
    const bool mine_smaller = mine.size < theirs.size;
    const auto& small = mine_smaller ? *saved : *shared;
    const auto& large = mine_smaller ? *shared : *saved;
    auto identity = load_identity(*profile);
    if (!identity) return report_failure(global, kExitUsage, identity.error());
    auto observer = client::ObserverClient::connect(std::move(identity).value(), *observer_options);
    if (!observer) return report_failure(global, kExitRefused, observer.error(), N_("nothing was compared"));
    auto proof = (*observer)->consistency_proof(small.checkpoint.size, large.checkpoint.size);
    if (!proof && proof.error().code != ErrorCode::invalid_argument && proof.error().code != ErrorCode::not_found) {
      return report_failure(global, kExitRefused, proof.error(), N_("nothing was compared; try again"));
    }
    std::vector<Sha256Digest> hashes = proof ? *proof : std::vector<Sha256Digest>{};
    consistent = proof && verify_consistency(small.checkpoint.size, large.checkpoint.size, small.checkpoint.root,
                                             large.checkpoint.root, hashes);
    evidence.kind = witness::SplitViewKind::consistency_proof_failed;
    evidence.first = small.note;
    evidence.second = large.note;
    evidence.proof = hashes;
    const std::vector<std::string> sizes = {std::to_string(small.checkpoint.size), std::to_string(large.checkpoint.size)};
    how = consistent ? fill_values(text.tr(N_("the exchange's consistency proof from {1} to {2} verifies")), sizes)
                     : fill_values(text.tr(N_("the exchange gave no consistency proof from {1} to {2} that verifies")),
                                   sizes);
  }
  if (consistent) {
    if (global.json) {
      std::cout << JsonObject().boolean("ok", true).text("result", "CONSISTENT").text("how", how).str() << "\n";
    } else {
      print_checkpoint(text, N_("yours:"), mine);
      print_checkpoint(text, N_("shared:"), theirs);
      std::cout << "CONSISTENT: " << how << "\n";
    }
    return kExitOk;
  }
  evidence.detail = how;
  const std::filesystem::path dir =
      options.evidence_dir.empty() ? profile->dir / "evidence" : std::filesystem::path(options.evidence_dir);
  auto path = witness::write_evidence_file(dir, evidence);
  std::cerr << "fpx: SPLIT VIEW of " << profile->log_origin << ": " << how << "\n";
  if (!path) {
    return report_failure(global, kExitRefused, path.error(),
                          N_("the evidence could not be written: give --evidence-dir a folder you may write to"));
  }
  if (global.json) {
    std::cout << JsonObject()
                     .boolean("ok", false)
                     .text("result", "INCONSISTENT")
                     .text("how", how)
                     .text("evidence", path->string())
                     .str()
              << "\n";
  } else {
    print_checkpoint(text, N_("yours:"), mine);
    print_checkpoint(text, N_("shared:"), theirs);
    std::cout << "INCONSISTENT: " << how << "\n"
              << fill_values(text.tr(N_("evidence: {1} (anyone checks it: fpx log evidence check {1})")),
                             {path->string()})
              << "\n";
  }
  return kExitRefused;
}

int run_evidence_check(const GlobalOptions& global, const EvidenceCheckOptions& options) {
  const text::Catalogue text(language_for_errors(global));
  auto evidence = witness::read_evidence_file(options.file);
  if (!evidence) return report_failure(global, kExitUsage, evidence.error());
  std::optional<VerifierKey> expected;
  if (!options.log_key.empty()) {
    auto key = parse_verifier_key(options.log_key);
    if (!key) return report_failure(global, kExitUsage, key.error());
    expected = *key;
  }
  auto finding = witness::check_evidence(*evidence, expected ? &*expected : nullptr);
  if (!finding) return report_failure(global, kExitRefused, finding.error());
  if (global.json) {
    std::cout << JsonObject()
                     .boolean("ok", finding->proven)
                     .text("result", finding->proven ? "SPLIT VIEW PROVEN" : "NOT PROVEN")
                     .text("kind", witness::split_view_kind_name(evidence->kind))
                     .text("origin", evidence->origin)
                     .text("logKey", format_verifier_key(evidence->log_key))
                     .text("explanation", finding->explanation)
                     .str()
              << "\n";
  } else {
    std::cout << fill_values(text.tr(N_("log: {1} (key {2})")),
                             {evidence->origin, format_verifier_key(evidence->log_key)})
              << "\n";
    print_checkpoint(text, N_("first:"), finding->first);
    print_checkpoint(text, N_("second:"), finding->second);
    std::cout << (finding->proven ? "SPLIT VIEW PROVEN: " : "NOT PROVEN: ") << finding->explanation << "\n";
    if (options.log_key.empty()) {
      std::cout << text.tr(N_("compare the log key above with the one the exchange publishes (or pass --log-key)"))
                << "\n";
    }
  }
  return finding->proven ? kExitOk : kExitRefused;
}

}  // namespace fpx::cli
