#include "bench_support.hpp"

#include <fcntl.h>
#include <sched.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>  // mkdtemp
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

#include "tests/support/loopback_port.hpp"

namespace fpx::bench {

namespace fs = std::filesystem;

void fail(const std::string& what) {
  std::fprintf(stderr, "fpx-bench: %s\n", what.c_str());
  std::exit(1);
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out.good()) fail("cannot write " + path.string());
  // Key files must not be readable by others: Identity::load checks that.
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A free loopback port below the ephemeral range (see loopback_port.hpp):
// the broker's config names a fixed endpoint.
int free_port() {
  const int port = fpx::test::unused_loopback_port();
  if (port == 0) fail("no free loopback port below the ephemeral range");
  return port;
}

bool port_accepts(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool connected = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return connected;
}

double cpu_seconds_of(pid_t pid) {
  // Fields 14 and 15 of /proc/<pid>/stat (utime, stime) in clock ticks; the
  // command name (field 2) may hold spaces, so count from its closing ')'.
  const std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
  const auto close = stat.rfind(')');
  if (close == std::string::npos) fail("cannot read /proc/" + std::to_string(pid) + "/stat");
  std::istringstream fields(stat.substr(close + 2));
  std::string skip;
  for (int field = 3; field < 14; ++field) fields >> skip;
  unsigned long long utime = 0;
  unsigned long long stime = 0;
  fields >> utime >> stime;
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::int64_t write_bytes_of(pid_t pid) {
  std::istringstream lines(read_text("/proc/" + std::to_string(pid) + "/io"));
  std::string name;
  std::int64_t value = 0;
  while (lines >> name >> value) {
    if (name == "write_bytes:") return value;
  }
  fail("cannot read write_bytes from /proc/" + std::to_string(pid) + "/io (run as the broker's user or root)");
}

bool pin_to_core(int core) {
  if (core < 0 || core >= CPU_SETSIZE) return false;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(core, &set);
  return ::sched_setaffinity(0, sizeof set, &set) == 0;
}

namespace {

// Appended piecewise: g++ 12 -O2 gives a false -Wrestrict on "\"" + string&&.
std::string quoted(const fs::path& path) {
  std::string text(1, '"');
  text += path.string();
  text += '"';
  return text;
}

constexpr int kValidityDays = 30;
constexpr std::int64_t kCrlValidityMs = 7LL * 24 * 3600 * 1000;
const char* const kBrokerId = "exchange.broker";

}  // namespace

BenchPki::BenchPki(fs::path dir)
    : dir_(std::move(dir)),
      root_(must(pki::Authority::create_root("FPX Bench Root CA", must(SigningKey::generate(), "root key"),
                                             pki::Validity::days_from_now(kValidityDays)),
                 "root CA")) {
  fs::create_directories(crl_dir());
  fs::create_directories(dir_ / "participants");
  write_file(root_pem(), root_.certificate().pem());
  write_crls();
}

void BenchPki::write_crls() {
  const std::int64_t now = now_ms();
  std::uint64_t number = 1;
  write_file(crl_dir() / "root.crl.pem",
             must(root_.make_crl_pem({}, now - 60'000, now + kCrlValidityMs, number++), "root CRL"));
  for (const auto& [country, authority] : intermediates_) {
    write_file(crl_dir() / (country + ".crl.pem"),
               must(authority.make_crl_pem({}, now - 60'000, now + kCrlValidityMs, number++), "national CRL"));
  }
}

fs::path BenchPki::issue(const std::string& id, const std::string& country, Role role) {
  // Broker and observer certificates come from the root, as fpx-ca issues
  // them; a national CA issues only its own state's participants.
  const pki::Authority* issuer = &root_;
  if (national_ca_may_issue(role)) {
    auto found = intermediates_.find(country);
    if (found == intermediates_.end()) {
      auto national = must(root_.create_intermediate(CountryCode(country), must(SigningKey::generate(), "CA key"),
                                                     pki::Validity::days_from_now(kValidityDays)),
                           "national CA");
      found = intermediates_.emplace(country, std::move(national)).first;
      write_crls();
    }
    issuer = &found->second;
  }
  auto key = must(SigningKey::generate(), "signing key");
  auto curve = must(CurveKeyPair::generate(), "CURVE key");
  pki::ParticipantRequest request;
  request.id = ParticipantId(id);
  request.country = CountryCode(country);
  request.role = role;
  request.signing_public_key = key.public_key();
  request.curve_public_key = curve.public_key;
  request.validity = pki::Validity::days_from_now(kValidityDays);
  const Certificate certificate = must(issuer->issue(request), "participant certificate");

  const fs::path dir = participant_dir(id);
  fs::create_directories(dir);
  std::string chain = certificate.pem();
  if (issuer != &root_) chain += issuer->certificate().pem();
  write_file(dir / kChainFile, chain);
  write_file(dir / kSigningKeyFile, must(key.to_pem(""), "key PEM"));
  write_file(dir / kCurveSecretFile, z85_encode(curve.secret_key) + "\n");
  write_file(dir / kCurvePublicFile, z85_encode(curve.public_key) + "\n");
  return dir;
}

Identity BenchPki::identity(const std::string& id) const {
  return must(Identity::load(participant_dir(id), PassphraseSource{}), "identity");
}

BrokerProcess::BrokerProcess(BenchPki& pki, const std::vector<std::string>& participants, BrokerSettings settings)
    : pki_(pki), settings_(std::move(settings)) {
  dir_ = pki.dir() / "broker";
  fs::create_directories(dir_ / "enrolled");
  pki.issue(kBrokerId, "AT", Role::broker);
  for (const auto& id : participants) {
    fs::copy_file(pki.participant_dir(id) / kChainFile, dir_ / "enrolled" / (id + ".pem"),
                  fs::copy_options::overwrite_existing);
  }
  port_ = free_port();
  endpoint_ = "tcp://127.0.0.1:" + std::to_string(port_);
  observers_endpoint_ = "tcp://127.0.0.1:" + std::to_string(free_port());
  database_ = dir_ / "broker.sqlite";
  config_ = dir_ / "broker.toml";
  log_ = dir_ / "broker.log";
  std::ostringstream config;
  config << "[participants]\nendpoint = \"" << endpoint_ << "\"\n"
         << "[observers]\nendpoint = \"" << observers_endpoint_ << "\"\n"
         << "[pki]\nroot_ca = " << quoted(pki.root_pem()) << "\ncrl_dir = " << quoted(pki.crl_dir())
         << "\nenrolled_dir = " << quoted(dir_ / "enrolled") << "\n"
         << "[identity]\ndir = " << quoted(pki.participant_dir(kBrokerId)) << "\n"
         << "[storage]\ndatabase = " << quoted(database_) << "\n"
         << "[log]\nlevel = \"" << settings_.log_level << "\"\n"
         << "[limits]\nrate_per_second = " << static_cast<std::int64_t>(settings_.rate_per_second)
         << "\nburst = " << static_cast<std::int64_t>(settings_.burst) << "\n";
  if (settings_.batch_share > 0) config << "batch_share = " << settings_.batch_share << "\n";
  if (settings_.stored_bytes_per_minute > 0) {
    config << "stored_bytes_per_minute = " << static_cast<std::uint64_t>(settings_.stored_bytes_per_minute)
           << "\nstored_burst_bytes = " << static_cast<std::uint64_t>(settings_.stored_burst_bytes) << "\n";
  }
  if (settings_.verify_workers >= 0) config << "verify_workers = " << settings_.verify_workers << "\n";
  if (settings_.wal_checkpoint_every_ms > 0 || settings_.group_commit_wait_ms >= 0) config << "[timing]\n";
  if (settings_.wal_checkpoint_every_ms > 0) config << "checkpoint_every_ms = " << settings_.wal_checkpoint_every_ms << "\n";
  if (settings_.group_commit_wait_ms >= 0) config << "group_commit_wait_ms = " << settings_.group_commit_wait_ms << "\n";
  if (!settings_.store_dsn.empty()) {
    config << "[store]\nbackend = \"postgres\"\ndsn = \"" << settings_.store_dsn << "\"\n";
  }
  if (settings_.log_checkpoint_every_ms > 0) {
    config << "[oversight]\ncheckpoint_every_ms = " << settings_.log_checkpoint_every_ms << "\n";
  }
  if (!settings_.metrics_listen.empty()) config << "[metrics]\nlisten = \"" << settings_.metrics_listen << "\"\n";
  write_file(config_, config.str());
  start();
}

BrokerProcess::~BrokerProcess() {
  if (pid_ > 0) stop();
}

void BrokerProcess::start() {
  if (pid_ > 0) fail("fpx-broker is already running");
  if (!fs::exists(settings_.binary)) fail("no broker binary at " + settings_.binary.string() + " (--broker-bin)");
  pid_ = ::fork();
  if (pid_ < 0) fail("fork failed");
  if (pid_ == 0) {
    const int log_fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    // Before exec, so every thread the broker starts inherits the core.
    if (settings_.cpu_core >= 0 && !pin_to_core(settings_.cpu_core)) ::_exit(126);
    const std::string binary = settings_.binary.string();
    const std::string config = config_.string();
    ::execl(binary.c_str(), binary.c_str(), "--config", config.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Ready when the port accepts TCP connections (the broker binds last).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (;;) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      fail("fpx-broker exited at start:\n" + read_text(log_));
    }
    if (port_accepts(port_)) return;
    if (std::chrono::steady_clock::now() > deadline) fail("fpx-broker did not listen:\n" + read_text(log_));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void BrokerProcess::append_config(const std::string& toml) { write_file(config_, read_text(config_) + toml); }

int BrokerProcess::stop() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void BrokerProcess::kill_hard() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

fs::path BrokerProcess::chain_path() const { return pki_.participant_dir(kBrokerId) / kChainFile; }

CurvePublicKey BrokerProcess::curve_public_key() const {
  auto chain = must(Certificate::load_pem_file(chain_path()), "broker chain");
  return must(chain.front().participant(), "broker certificate").curve_public_key;
}

client::BrokerPins BrokerProcess::broker_pins() const {
  auto chain = must(Certificate::load_pem_file(chain_path()), "broker chain");
  return {must(client::BrokerKeyPin::of_certificate(chain.front()), "broker key pin")};
}

double BrokerProcess::cpu_seconds() const { return cpu_seconds_of(pid_); }

}  // namespace fpx::bench
