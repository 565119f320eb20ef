// What both peer benchmarks share: TLS certificates made at run time, the
// peer broker as a child process, and the load itself (phases, pacing, the
// bound on unfinished messages, latency samples), so that mosquitto and
// NATS are driven exactly alike and only their transport code differs.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "fpx/ids.hpp"
#include "fpx_load.hpp"
#include "modes.hpp"

namespace fpx::bench {

// A CA, a server certificate for localhost / 127.0.0.1 and one client
// certificate, all P-256, made with the `openssl` command in `dir`.
struct PeerTls {
  std::filesystem::path ca;
  std::filesystem::path server_cert;
  std::filesystem::path server_key;
  std::filesystem::path client_cert;
  std::filesystem::path client_key;
};
PeerTls make_peer_tls(const std::filesystem::path& dir);

// The path of a broker binary, from PATH or the sbin directories (Debian
// installs mosquitto in /usr/sbin, outside a normal user's PATH); fails
// (exits) with the package to install when it is nowhere.
std::string find_binary(const std::string& name, const std::string& package);

// A peer broker started with its own config on a loopback port; stopped
// with SIGTERM when destroyed.
class PeerProcess {
 public:
  // Fails (exits) when the binary is missing or the port is not listening in time.
  PeerProcess(std::vector<std::string> argv, std::filesystem::path log, int port);
  ~PeerProcess();
  PeerProcess(const PeerProcess&) = delete;
  PeerProcess& operator=(const PeerProcess&) = delete;
  double cpu_seconds() const { return cpu_seconds_of(pid_); }
  pid_t pid() const { return pid_; }
  void stop();

 private:
  std::filesystem::path log_;
  pid_t pid_ = -1;
};

// Every message a peer carries: a 16-byte bench header (its number and its
// sender) followed by one FPX envelope, so peers carry the same bytes.
inline constexpr std::size_t kPeerHeaderBytes = 16;

// The transport a peer benchmark plugs in. The harness calls everything
// from one thread; callbacks into PeerLoad may come from any thread.
class PeerTransport {
 public:
  virtual ~PeerTransport() = default;
  // Queues one message for the broker (QoS 1 / JetStream publish); does not
  // wait for its acknowledgement.
  virtual void publish(int sender, int receiver, const Bytes& message) = 0;
  // Does the client's I/O for up to `wait` (or just waits, if the library
  // does its I/O on threads of its own).
  virtual void pump(std::chrono::microseconds wait) = 0;
};

// The load: warm-up, throughput (flat out, at most `peer_window` unfinished
// messages per sender), latency (a fixed total rate), with the same message
// spread over senders and receivers as FPX's run.
class PeerLoad {
 public:
  PeerLoad(const BenchOptions& options, const std::vector<Bytes>& envelopes);

  // Called by the transport: the broker acknowledged a message of `sender`;
  // a receiver got `data` (the whole message).
  void on_acked(int sender);
  void on_received(const void* data, std::size_t size);
  // Failures the transport reports (refused publish, bad payload): printed, counted.
  void on_error(const std::string& what);

  // Runs all three phases through `transport`, measuring `broker`.
  SystemFigures run(const std::string& system, PeerTransport& transport, const PeerProcess& broker);

 private:
  struct Phase {
    std::size_t first = 0;  // message numbers [first, first + count)
    std::size_t count = 0;
  };
  // Sends the phase's messages; paced when rate > 0. Returns when all are
  // acknowledged and received, or fails at the timeout.
  void drive(PeerTransport& transport, const Phase& phase, double rate);
  Bytes message(std::size_t number) const;

  BenchOptions options_;
  const std::vector<Bytes>& envelopes_;
  Phase warmup_;
  Phase throughput_;
  Phase latency_;
  std::vector<std::atomic<std::int64_t>> sent_ns_;
  std::vector<std::atomic<std::int64_t>> received_ns_;
  std::vector<std::atomic<std::int64_t>> published_by_sender_;
  std::vector<std::atomic<std::int64_t>> received_by_sender_;
  std::atomic<std::int64_t> acked_{0};
  std::atomic<std::int64_t> received_{0};
  std::atomic<std::int64_t> duplicates_{0};
  std::atomic<std::int64_t> errors_{0};
  std::int64_t late_sends_ = 0;
  Clock::time_point all_acked_at_{};  // when the last phase's acknowledgements were all in
};

}  // namespace fpx::bench
