#include "support/broker_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <catch2/catch.hpp>

#include "support/loopback_port.hpp"

namespace fpx::test {

namespace {

std::string quoted(const std::filesystem::path& path) {
  std::string text("\"");
  return text.append(path.string()).append("\"");  // appended: g++ 12 -O2 warns falsely on "a" + b
}

}  // namespace

BrokerProcess::BrokerProcess(TestPki& pki, const std::vector<std::string>& participants, BrokerOptions options)
    : pki_(pki), options_(std::move(options)) {
  static int brokers_in_this_process = 0;
  dir_ = pki.dir() / ("broker-" + std::to_string(::getpid()) + "-" + std::to_string(++brokers_in_this_process));
  std::filesystem::create_directories(dir_ / "enrolled");
  if (!options_.reuse_broker_identity) pki.issue("exchange.broker", "AT", Role::broker, {.via_intermediate = false});
  for (const auto& id : participants) enroll(id);
  database_ = dir_ / "broker.sqlite";
  config_ = dir_ / "broker.toml";
  log_ = dir_ / "broker.log";
  // Another program may bind a chosen port before the broker does: then
  // choose new ports. A restart later keeps the ports of the first start.
  for (int attempt = 1;; ++attempt) {
    choose_endpoints_and_write_config();
    if (launch() == Launch::listening) break;
    if (attempt == 5) FAIL("fpx-broker found its ports taken 5 times:\n" << read_file(log_));
  }
}

void BrokerProcess::choose_endpoints_and_write_config() {
  port_ = unused_loopback_port();
  int observers_port = unused_loopback_port();
  while (observers_port == port_) observers_port = unused_loopback_port();
  REQUIRE(port_ > 0);
  REQUIRE(observers_port > 0);
  endpoint_ = "tcp://127.0.0.1:" + std::to_string(port_);
  observers_endpoint_ = "tcp://127.0.0.1:" + std::to_string(observers_port);
  const BrokerOptions& options = options_;
  std::ofstream config(config_, std::ios::trunc);
  config << "[participants]\nendpoint = \"" << endpoint_ << "\"\n"
         << "[observers]\nendpoint = \"" << observers_endpoint_ << "\"\n"
         << "[oversight]\ncheckpoint_every_ms = " << options.checkpoint_every_ms << "\n";
  if (options.periods_per_year) config << "periods_per_year = " << *options.periods_per_year << "\n";
  if (!options.statistics_periods.empty()) {
    config << "statistics_periods = [";
    for (std::size_t i = 0; i < options.statistics_periods.size(); ++i) {
      config << (i == 0 ? "" : ", ") << "\"" << options.statistics_periods[i] << "\"";
    }
    config << "]\n";
  }
  if (options.reveal_after_ms) config << "reveal_after_ms = " << *options.reveal_after_ms << "\n";
  if (options.witness_timeout_ms) config << "witness_timeout_ms = " << *options.witness_timeout_ms << "\n";
  config << "[pki]\nroot_ca = " << quoted(pki_.root_pem()) << "\ncrl_dir = " << quoted(pki_.crl_dir())
         << "\nenrolled_dir = " << quoted(dir_ / "enrolled") << "\n"
         << "[identity]\ndir = " << quoted(pki_.dir() / "participants" / "exchange.broker") << "\n"
         << "[storage]\ndatabase = " << quoted(database_) << "\n";
  if (!options.postgres_dsn.empty()) {
    config << "[store]\nbackend = \"postgres\"\ndsn = \"" << options.postgres_dsn << "\"\n";
    if (options.lease_ms) config << "lease_ms = " << *options.lease_ms << "\n";
    if (!options.holder.empty()) config << "holder = \"" << options.holder << "\"\n";
  }
  config
         << "[log]\nlevel = \"debug\"\n"
         << "[regions]\nSahel = [\"BF\", \"ML\", \"NE\", \"SN\"]\n"
         << "[limits]\nrate_per_second = " << options.rate_per_second << "\nburst = " << options.burst
         << "\nmax_message_bytes = " << options.max_message_bytes << "\n";
  if (options.bytes_per_second) config << "bytes_per_second = " << *options.bytes_per_second << "\n";
  if (options.burst_bytes) config << "burst_bytes = " << *options.burst_bytes << "\n";
  if (options.quota_bytes_per_day) config << "quota_bytes_per_day = " << *options.quota_bytes_per_day << "\n";
  config << "stored_bytes_per_minute = " << static_cast<std::uint64_t>(options.stored_bytes_per_minute)
         << "\nstored_burst_bytes = " << static_cast<std::uint64_t>(options.stored_burst_bytes) << "\n";
  if (options.verify_workers) config << "verify_workers = " << *options.verify_workers << "\n";
  if (options.max_watched_serials_per_alert) {
    config << "max_watched_serials_per_alert = " << *options.max_watched_serials_per_alert << "\n";
  }
  if (options.max_watched_serials_per_state) {
    config << "max_watched_serials_per_state = " << *options.max_watched_serials_per_state << "\n";
  }
  config
         << "[timing]\nhold_ms = " << options.hold_ms << "\nresend_after_ms = " << options.resend_after_ms
         << "\nmax_message_age_ms = " << options.max_message_age_ms
         << "\nhandshake_ivl_ms = " << options.handshake_ivl_ms << "\n";
  // Metrics off unless a test asks (parallel brokers would share one default port).
  config << "[metrics]\nlisten = \"" << options.metrics_listen << "\"\n" << options.extra_toml;
  REQUIRE(config.good());
  config.close();
}

BrokerProcess::~BrokerProcess() {
  if (pid_ > 0) kill_hard();
}

void BrokerProcess::append_config(const std::string& toml) {
  std::ofstream config(config_, std::ios::app);
  config << toml;
  REQUIRE(config.good());
}

void BrokerProcess::enroll(const std::string& id) {
  std::filesystem::copy_file(pki_.dir() / "participants" / id / kChainFile, dir_ / "enrolled" / (id + ".pem"),
                             std::filesystem::copy_options::overwrite_existing);
}

void BrokerProcess::start() {
  if (launch() == Launch::port_taken) FAIL("fpx-broker could not bind its ports again:\n" << read_file(log_));
}

BrokerProcess::Launch BrokerProcess::launch() {
  REQUIRE(pid_ < 0);
  const std::size_t log_before = read_file(log_).size();
  pid_ = ::fork();
  REQUIRE(pid_ >= 0);
  if (pid_ == 0) {
    int log_fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    std::string binary = std::string(FPX_BIN_DIR) + "/fpx-broker";
    std::string config = config_.string();
    ::execl(binary.c_str(), binary.c_str(), "--config", config.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Ready when the broker says so: it prints "listening" after binding both
  // endpoints and starting its metrics server (the " ready: " log line comes
  // before the metrics port is bound). A port that merely accepts could be
  // another program's, or the participants endpoint of a broker about to fail
  // on the observers one.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (;;) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      const std::string log = read_file(log_);
      if (log.find("Address already in use", log_before) != std::string::npos) return Launch::port_taken;
      FAIL("fpx-broker exited at start:\n" << log);
    }
    const std::string log = read_file(log_);
    if (options_.standby && log.find("standby: waiting", log_before) != std::string::npos) {
      return Launch::listening;
    }
    if (log.find("fpx-broker listening on ", log_before) != std::string::npos) {
      if (!options_.metrics_listen.empty() && log.find("metrics on http://", log_before) == std::string::npos) {
        FAIL("fpx-broker serves without its metrics endpoint:\n" << log);
      }
      return Launch::listening;
    }
    if (std::chrono::steady_clock::now() > deadline) FAIL("fpx-broker did not get ready:\n" << read_file(log_));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

bool BrokerProcess::wait_listening(std::chrono::milliseconds within) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < deadline) {
    if (read_file(log_).find("fpx-broker listening on ") != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

void BrokerProcess::send_signal(int signal) {
  REQUIRE(pid_ > 0);
  REQUIRE(::kill(pid_, signal) == 0);
}

std::optional<int> BrokerProcess::wait_exit(std::chrono::milliseconds within) {
  REQUIRE(pid_ > 0);
  const auto deadline = std::chrono::steady_clock::now() + within;
  for (;;) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void BrokerProcess::kill_hard() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

int BrokerProcess::stop() {
  REQUIRE(pid_ > 0);
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void BrokerProcess::reload() {
  REQUIRE(pid_ > 0);
  auto before = read_file(log_);
  ::kill(pid_, SIGHUP);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (read_file(log_).find("reloaded CRLs", before.size()) == std::string::npos) {
    if (std::chrono::steady_clock::now() > deadline) FAIL("fpx-broker did not reload:\n" << read_file(log_));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string BrokerProcess::log_text() const { return read_file(log_); }

CurvePublicKey BrokerProcess::curve_public_key() const {
  auto chain = Certificate::load_pem_file(pki_.dir() / "participants" / "exchange.broker" / kChainFile);
  REQUIRE(chain.ok());
  auto info = chain->front().participant();
  REQUIRE(info.ok());
  return info->curve_public_key;
}

std::vector<AuditRecord> BrokerProcess::audit() const {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(database_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt* statement = nullptr;
  // audit_trail: the audit rows and, since schema 11, the acceptances kept
  // on their messages rows (what fpx-admin audit export reads).
  REQUIRE(sqlite3_prepare_v2(db,
                             "SELECT principal, hex(message_id), stage, outcome, detail FROM audit_trail "
                             "ORDER BY at_ms, id IS NULL, id, message_id",
                             -1, &statement, nullptr) == SQLITE_OK);
  std::vector<AuditRecord> rows;
  auto text = [&](int column) {
    const unsigned char* value = sqlite3_column_text(statement, column);
    return value ? std::string(reinterpret_cast<const char*>(value)) : std::string();
  };
  while (sqlite3_step(statement) == SQLITE_ROW) {
    std::string id = text(1);
    for (auto& c : id) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    rows.push_back({text(0), id, text(2), text(3), text(4)});
  }
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return rows;
}

int BrokerProcess::audit_count(const std::string& stage, const std::string& outcome) const {
  int count = 0;
  for (const auto& row : audit()) count += (row.stage == stage && row.outcome == outcome) ? 1 : 0;
  return count;
}

std::uint64_t BrokerProcess::rate_limited_audited(const std::string& stage, const std::string& principal,
                                                  std::uint64_t expected) const {
  return refusals_audited(stage, principal, "rate_limited", expected);
}

std::uint64_t BrokerProcess::refusals_audited(const std::string& stage, const std::string& principal,
                                              const std::string& outcome, std::uint64_t expected) const {
  const std::string summary_marker = " more " + outcome + " refusal(s)";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    std::uint64_t accounted = 0;
    for (const auto& row : audit()) {
      if (row.stage != stage || row.outcome != outcome || row.principal != principal) continue;
      const auto marker = row.detail.find(summary_marker);
      accounted += marker == std::string::npos ? 1 : std::stoull(row.detail.substr(0, marker));
    }
    if (accounted >= expected || std::chrono::steady_clock::now() > deadline) return accounted;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace fpx::test
