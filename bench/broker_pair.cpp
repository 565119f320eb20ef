#include "broker_pair.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sstream>
#include <thread>

namespace fpx::bench {

namespace {

namespace fs = std::filesystem;

const char* const kBrokerId = "exchange.broker";
// Start-up of a standby includes loading its identity and waiting for the
// store; beyond this the broker is stuck and the run stops.
constexpr auto kStartTimeout = std::chrono::seconds(60);
constexpr const char* kListening = "fpx-broker listening on ";
constexpr const char* kStandingBy = "standby: waiting";

std::string quoted(const fs::path& path) {
  std::string text(1, '"');
  text += path.string();
  text += '"';
  return text;
}

}  // namespace

BrokerPair::BrokerPair(BenchPki& pki, const std::vector<std::string>& participants, BrokerPairSettings settings)
    : pki_(pki), settings_(std::move(settings)) {
  dir_ = pki.dir() / "brokers";
  fs::create_directories(dir_ / "enrolled");
  pki.issue(kBrokerId, "AT", Role::broker);
  for (const auto& id : participants) {
    fs::copy_file(pki.participant_dir(id) / kChainFile, dir_ / "enrolled" / (id + ".pem"),
                  fs::copy_options::overwrite_existing);
  }
  for (int b = 0; b < kBrokers; ++b) {
    const std::string name = "broker-" + std::string(1, static_cast<char>('a' + b));
    endpoints_[b] = "tcp://127.0.0.1:" + std::to_string(free_port());
    observers_endpoints_[b] = "tcp://127.0.0.1:" + std::to_string(free_port());
    configs_[b] = dir_ / (name + ".toml");
    logs_[b] = dir_ / (name + ".log");
    std::ostringstream config;
    config << "[participants]\nendpoint = \"" << endpoints_[b] << "\"\n"
           << "[observers]\nendpoint = \"" << observers_endpoints_[b] << "\"\n"
           << "[oversight]\ncheckpoint_every_ms = " << settings_.log_checkpoint_every_ms << "\n"
           << "[pki]\nroot_ca = " << quoted(pki.root_pem()) << "\ncrl_dir = " << quoted(pki.crl_dir())
           << "\nenrolled_dir = " << quoted(dir_ / "enrolled") << "\n"
           << "[identity]\ndir = " << quoted(pki.participant_dir(kBrokerId)) << "\n"
           << "[storage]\ndatabase = " << quoted(dir_ / (name + ".sqlite")) << "\n"
           << "[store]\nbackend = \"postgres\"\ndsn = \"" << settings_.store_dsn << "\"\nlease_ms = "
           << settings_.lease_ms << "\nholder = \"" << name << "\"\n"
           << "[log]\nlevel = \"" << settings_.log_level << "\"\n"
           // The load is far above a focal point's real traffic: the
           // broker's per-participant bounds would be what is measured.
           << "[limits]\nrate_per_second = 1000000\nburst = 1000000\n"
           << "stored_bytes_per_minute = 1000000000000\nstored_burst_bytes = 1000000000000\n"
           // Two brokers on one host would share the default metrics port.
           << "[metrics]\nlisten = \"\"\n";
    write_file(configs_[b], config.str());
  }
  start(0);
  if (wait_leader(kStartTimeout) != 0) fail("the first broker did not take the lead:\n" + read_text(logs_[0]));
  start(1);
}

BrokerPair::~BrokerPair() {
  for (int b = 0; b < kBrokers; ++b) kill_hard(b);
}

void BrokerPair::start(int broker) {
  if (pids_[broker] > 0) fail("fpx-broker is already running");
  if (!fs::exists(settings_.binary)) fail("no broker binary at " + settings_.binary.string() + " (--broker-bin)");
  exited_[broker] = false;
  log_offsets_[broker] = fs::exists(logs_[broker]) ? fs::file_size(logs_[broker]) : 0;
  const pid_t pid = ::fork();
  if (pid < 0) fail("fork failed");
  if (pid == 0) {
    const int log_fd = ::open(logs_[broker].c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    const std::string binary = settings_.binary.string();
    const std::string config = configs_[broker].string();
    ::execl(binary.c_str(), binary.c_str(), "--config", config.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  pids_[broker] = pid;
  const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  for (;;) {
    if (!running(broker)) fail("fpx-broker exited at start:\n" + read_text(logs_[broker]));
    const std::string log = read_text(logs_[broker]);
    if (log.find(kListening, log_offsets_[broker]) != std::string::npos ||
        log.find(kStandingBy, log_offsets_[broker]) != std::string::npos) {
      return;
    }
    if (std::chrono::steady_clock::now() > deadline) fail("fpx-broker did not get ready:\n" + log);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

bool BrokerPair::running(int broker) {
  if (pids_[broker] <= 0) return false;
  int status = 0;
  if (::waitpid(pids_[broker], &status, WNOHANG) == pids_[broker]) {
    pids_[broker] = -1;
    exited_[broker] = true;
    return false;
  }
  return true;
}

int BrokerPair::leader() {
  for (int b = 0; b < kBrokers; ++b) {
    if (running(b) && read_text(logs_[b]).find(kListening, log_offsets_[b]) != std::string::npos) return b;
  }
  return -1;
}

int BrokerPair::wait_leader(std::chrono::milliseconds within) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  for (;;) {
    // A broker exits when its store fails in a way it does not retry (as
    // systemd's Restart= would, the harness starts it again): the other
    // may be the one that was killed, so nobody would lead otherwise.
    restart_exited();
    if (const int b = leader(); b >= 0) return b;
    if (std::chrono::steady_clock::now() > deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void BrokerPair::kill_hard(int broker) {
  if (pids_[broker] <= 0) return;
  ::kill(pids_[broker], SIGKILL);
  int status = 0;
  ::waitpid(pids_[broker], &status, 0);
  pids_[broker] = -1;
}

int BrokerPair::restart_exited() {
  int restarted = 0;
  for (int b = 0; b < kBrokers; ++b) {
    (void)running(b);  // reaps one that has just exited
    if (exited_[b]) {
      ++exits_on_their_own_;
      ++restarted;
      start(b);
    }
  }
  return restarted;
}

fs::path BrokerPair::chain_path() const { return pki_.participant_dir(kBrokerId) / kChainFile; }

CurvePublicKey BrokerPair::curve_public_key() const {
  auto chain = must(Certificate::load_pem_file(chain_path()), "broker chain");
  return must(chain.front().participant(), "broker certificate").curve_public_key;
}

client::BrokerPins BrokerPair::broker_pins() const {
  auto chain = must(Certificate::load_pem_file(chain_path()), "broker chain");
  return {must(client::BrokerKeyPin::of_certificate(chain.front()), "broker key pin")};
}

}  // namespace fpx::bench
