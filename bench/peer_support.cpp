#include "peer_support.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <thread>

#include "bench_support.hpp"

namespace fpx::bench {

namespace fs = std::filesystem;

namespace {

constexpr int kWarmupPerSender = 25;  // as FPX's run: connections and broker caches warm
// A phase that makes no progress for this long has lost messages.
constexpr auto kStallTimeout = std::chrono::seconds(20);
constexpr auto kSettle = std::chrono::milliseconds(50);
constexpr auto kLateSend = std::chrono::milliseconds(1);
constexpr auto kIdlePump = std::chrono::microseconds(1000);

// Runs a command (no shell) and fails with its output if it does not succeed.
void run_command(const std::vector<std::string>& argv, const fs::path& log) {
  const pid_t pid = ::fork();
  if (pid < 0) fail("fork failed");
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    std::vector<char*> args;
    for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fail("`" + argv.front() + " " + argv.at(1) + "` failed (is the openssl command installed?):\n" + read_text(log));
  }
}

std::int64_t load(const std::atomic<std::int64_t>& value) { return value.load(std::memory_order_relaxed); }

}  // namespace

PeerTls make_peer_tls(const fs::path& dir) {
  fs::create_directories(dir);
  PeerTls tls{dir / "ca.pem", dir / "server.pem", dir / "server.key", dir / "client.pem", dir / "client.key"};
  const fs::path log = dir / "openssl.log";
  const fs::path ca_key = dir / "ca.key";
  const std::string days = "2";
  run_command({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
               "-keyout", ca_key.string(), "-out", tls.ca.string(), "-days", days, "-subj", "/CN=fpx-bench peer CA",
               "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"},
              log);
  // Server and client leaves, signed by the CA; the server's names match
  // what the clients dial, so hostname verification stays on.
  auto leaf = [&](const std::string& name, const fs::path& cert, const fs::path& key, const std::string& extensions) {
    const fs::path csr = dir / (name + ".csr");
    const fs::path ext = dir / (name + ".ext");
    write_file(ext, extensions);
    run_command({"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                 key.string(), "-out", csr.string(), "-subj", "/CN=" + name},
                log);
    run_command({"openssl", "x509", "-req", "-in", csr.string(), "-CA", tls.ca.string(), "-CAkey", ca_key.string(),
                 "-CAcreateserial", "-out", cert.string(), "-days", days, "-extfile", ext.string()},
                log);
  };
  leaf("localhost", tls.server_cert, tls.server_key,
       "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  leaf("fpx-bench-client", tls.client_cert, tls.client_key, "extendedKeyUsage=clientAuth\n");
  return tls;
}

std::string find_binary(const std::string& name, const std::string& package) {
  std::vector<fs::path> dirs;
  if (const char* path = std::getenv("PATH"); path != nullptr) {
    std::string rest = path;
    for (std::size_t colon; (colon = rest.find(':')) != std::string::npos; rest.erase(0, colon + 1)) {
      dirs.emplace_back(rest.substr(0, colon));
    }
    dirs.emplace_back(rest);
  }
  for (const char* dir : {"/usr/sbin", "/usr/local/sbin", "/sbin"}) dirs.emplace_back(dir);
  for (const auto& dir : dirs) {
    const fs::path candidate = dir / name;
    if (!dir.empty() && ::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  fail(name + " not found: install the Debian package " + package +
       " (FPX_WITH_PEERS=1 deploy/install-packages.sh installs every peer)");
}

PeerProcess::PeerProcess(std::vector<std::string> argv, fs::path log, int port) : log_(std::move(log)) {
  pid_ = ::fork();
  if (pid_ < 0) fail("fork failed");
  if (pid_ == 0) {
    const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    std::vector<char*> args;
    for (auto& arg : argv) args.push_back(arg.data());
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  for (;;) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      fail(argv.front() + " exited at start (exit status " +
           std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ", 127: not installed):\n" +
           read_text(log_));
    }
    if (port_accepts(port)) return;
    if (Clock::now() > deadline) fail(argv.front() + " did not listen on port " + std::to_string(port) + ":\n" +
                                      read_text(log_));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

PeerProcess::~PeerProcess() { stop(); }

void PeerProcess::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

PeerLoad::PeerLoad(const BenchOptions& options, const std::vector<Bytes>& envelopes)
    : options_(options), envelopes_(envelopes) {
  const auto senders = static_cast<std::size_t>(options.senders);
  warmup_ = {0, senders * kWarmupPerSender};
  throughput_ = {warmup_.count, static_cast<std::size_t>(options.messages)};
  latency_ = {throughput_.first + throughput_.count, static_cast<std::size_t>(options.rate * options.latency_seconds)};
  const std::size_t total = latency_.first + latency_.count;
  sent_ns_ = std::vector<std::atomic<std::int64_t>>(total);
  received_ns_ = std::vector<std::atomic<std::int64_t>>(total);
  published_by_sender_ = std::vector<std::atomic<std::int64_t>>(senders);
  received_by_sender_ = std::vector<std::atomic<std::int64_t>>(senders);
  if (envelopes_.empty()) fail("no envelopes to send");
}

Bytes PeerLoad::message(std::size_t number) const {
  const Bytes& envelope = envelopes_[number % envelopes_.size()];
  Bytes out(kPeerHeaderBytes + envelope.size(), 0);
  const std::uint64_t wire_number = number;
  const auto sender = static_cast<std::uint32_t>(number % static_cast<std::size_t>(options_.senders));
  std::memcpy(out.data(), &wire_number, sizeof wire_number);
  std::memcpy(out.data() + sizeof wire_number, &sender, sizeof sender);
  std::memcpy(out.data() + kPeerHeaderBytes, envelope.data(), envelope.size());
  return out;
}

void PeerLoad::on_acked(int sender) {
  (void)sender;
  acked_.fetch_add(1, std::memory_order_relaxed);
}

void PeerLoad::on_received(const void* data, std::size_t size) {
  const std::int64_t at = now_ns();
  std::uint64_t number = 0;
  std::uint32_t sender = 0;
  if (size < kPeerHeaderBytes) return on_error("a received message of " + std::to_string(size) + " bytes");
  std::memcpy(&number, data, sizeof number);
  std::memcpy(&sender, static_cast<const std::uint8_t*>(data) + sizeof number, sizeof sender);
  if (number >= received_ns_.size() || sender >= received_by_sender_.size()) return on_error("a foreign message");
  std::int64_t expected = 0;
  if (!received_ns_[number].compare_exchange_strong(expected, at)) {
    duplicates_.fetch_add(1);
    return;
  }
  received_by_sender_[sender].fetch_add(1, std::memory_order_relaxed);
  received_.fetch_add(1, std::memory_order_relaxed);
}

void PeerLoad::on_error(const std::string& what) {
  if (errors_.fetch_add(1) < 5) std::fprintf(stderr, "# peer error: %s\n", what.c_str());
}

void PeerLoad::drive(PeerTransport& transport, const Phase& phase, double rate) {
  const int senders = options_.senders;
  const auto window = static_cast<std::int64_t>(options_.peer_window);
  const auto target = static_cast<std::int64_t>(phase.first + phase.count);
  // Per sender, the next of its messages (numbers n with n % senders == s).
  std::vector<std::size_t> next(static_cast<std::size_t>(senders));
  for (int s = 0; s < senders; ++s) next[static_cast<std::size_t>(s)] = phase.first + static_cast<std::size_t>(s);
  std::size_t paced_next = phase.first;
  const auto start = Clock::now() + std::chrono::milliseconds(rate > 0 ? 100 : 0);
  auto slot = [&](std::size_t number) {
    return start + std::chrono::duration_cast<Clock::duration>(
                       std::chrono::duration<double>(static_cast<double>(number - phase.first) / rate));
  };
  auto unfinished = [&](std::size_t s) { return load(published_by_sender_[s]) - load(received_by_sender_[s]); };
  auto publish = [&](std::size_t number, std::int64_t at) {
    const std::size_t s = number % static_cast<std::size_t>(senders);
    const auto r = static_cast<int>((number / static_cast<std::size_t>(senders) + s) %
                                    static_cast<std::size_t>(options_.recipients));
    sent_ns_[number].store(at);
    published_by_sender_[s].fetch_add(1, std::memory_order_relaxed);
    transport.publish(static_cast<int>(s), r, message(number));
  };

  auto last_progress = Clock::now();
  std::int64_t last_seen = -1;
  bool all_acked = false;
  const std::size_t end = phase.first + phase.count;
  for (;;) {
    bool published = false;
    if (rate > 0) {
      while (paced_next < end && Clock::now() >= slot(paced_next) &&
             unfinished(paced_next % static_cast<std::size_t>(senders)) < window) {
        const auto at = slot(paced_next);
        if (Clock::now() - at > kLateSend) ++late_sends_;
        publish(paced_next++, to_ns(at));  // from the slot: falling behind shows as latency
        published = true;
      }
    } else {
      for (std::size_t s = 0; s < next.size(); ++s) {
        while (next[s] < end && unfinished(s) < window) {
          publish(next[s], now_ns());
          next[s] += static_cast<std::size_t>(senders);
          published = true;
        }
      }
    }
    const bool all_sent = rate > 0 ? paced_next >= end : std::all_of(next.begin(), next.end(), [&](std::size_t n) {
      return n >= end;
    });
    if (all_sent && !all_acked && load(acked_) >= target) {
      all_acked = true;
      all_acked_at_ = Clock::now();
    }
    if (all_acked && load(received_) >= target) return;

    auto wait = published ? std::chrono::microseconds(0) : kIdlePump;
    if (rate > 0 && paced_next < end) {
      const auto until = std::chrono::duration_cast<std::chrono::microseconds>(slot(paced_next) - Clock::now());
      wait = std::clamp(until, std::chrono::microseconds(0), kIdlePump);
    }
    transport.pump(wait);

    const std::int64_t seen = load(acked_) + load(received_) + (rate > 0 ? static_cast<std::int64_t>(paced_next) : 0);
    if (seen != last_seen) {
      last_seen = seen;
      last_progress = Clock::now();
    } else if (Clock::now() - last_progress > kStallTimeout) {
      std::fprintf(stderr, "# peer stalled: %lld of %lld acknowledged, %lld received\n",
                   static_cast<long long>(load(acked_)), static_cast<long long>(target),
                   static_cast<long long>(load(received_)));
      return;  // what is missing is reported as lost
    }
  }
}

SystemFigures PeerLoad::run(const std::string& system, PeerTransport& transport, const PeerProcess& broker) {
  drive(transport, warmup_, 0);

  const std::int64_t acked_before = load(acked_);
  const double cpu_start = broker.cpu_seconds();
  const auto start = Clock::now();
  drive(transport, throughput_, 0);
  // drive() returns when everything is both acknowledged and received.
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const double acked_seconds = std::chrono::duration<double>(all_acked_at_ - start).count();
  std::this_thread::sleep_for(kSettle);
  const double cpu = broker.cpu_seconds() - cpu_start;
  const std::int64_t acked = load(acked_) - acked_before;

  drive(transport, latency_, options_.rate);
  std::vector<double> latencies_ms;
  std::int64_t lost = 0;
  for (std::size_t n = 0; n < received_ns_.size(); ++n) {
    const std::int64_t received = received_ns_[n].load();
    if (received == 0) {
      ++lost;
    } else if (n >= latency_.first) {
      latencies_ms.push_back(static_cast<double>(received - sent_ns_[n].load()) / 1e6);
    }
  }

  SystemFigures figures;
  figures.system = system;
  figures.acked_per_s = static_cast<double>(acked) / std::max(acked_seconds, 1e-3);
  figures.received_per_s = static_cast<double>(throughput_.count) / seconds;
  figures.broker_cpu_us_per_msg = cpu * 1e6 / static_cast<double>(std::max<std::int64_t>(acked, 1));
  figures.p50_ms = percentile(latencies_ms, 0.50);
  figures.p99_ms = percentile(latencies_ms, 0.99);
  figures.lost = lost;
  std::fprintf(stderr, "# %s: window %d per sender, broker CPU share of wall %.2f, latency max %.2f ms, "
                       "late sends %lld, duplicates %lld, errors %lld, lost %lld\n",
               system.c_str(), options_.peer_window, cpu / seconds, percentile(latencies_ms, 1.0),
               static_cast<long long>(late_sends_), static_cast<long long>(load(duplicates_)),
               static_cast<long long>(load(errors_)), static_cast<long long>(lost));
  return figures;
}

}  // namespace fpx::bench
