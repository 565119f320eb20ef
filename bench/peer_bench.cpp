#include "peer_bench.hpp"

#include <cstdio>

#include <openssl/crypto.h>

#include "bench_support.hpp"
#include "lean.hpp"
#if defined(FPX_BENCH_MOSQUITTO) || defined(FPX_BENCH_NATS)
#include "peer_support.hpp"
#endif

namespace fpx::bench {

namespace {

bool built(const std::string& name) {
#ifdef FPX_BENCH_MOSQUITTO
  if (name == "mosquitto") return true;
#endif
#ifdef FPX_BENCH_NATS
  if (name == "nats") return true;
#endif
#ifdef FPX_BENCH_RABBITMQ
  if (name == "rabbitmq") return true;
#endif
  (void)name;
  return false;
}

}  // namespace

std::vector<std::string> all_peer_names() { return {"mosquitto", "nats", "rabbitmq"}; }

std::string peer_names() {
  std::string text = "mosquitto, nats, rabbitmq (this build:";
  bool any = false;
  for (const auto& name : all_peer_names()) {
    if (!built(name)) continue;
    text.append(" ").append(name);
    any = true;
  }
  text.append(any ? ")" : " none)");
  return text;
}

void require_peer(const std::string& name) {
  if (built(name) && name == "rabbitmq") {
#ifdef FPX_BENCH_RABBITMQ
    if (!rabbitmq_server_installed()) {
      fail("rabbitmq-server is not installed: FPX_WITH_PEERS=1 deploy/install-packages.sh installs it");
    }
#endif
    return;
  }
  if (built(name)) {
    if (name == "nats") {
      // libnats 3.4 frees OpenSSL's list of compression methods in its own
      // exit handler, and OpenSSL 3 frees it again in its own: a double free
      // at exit. Without OpenSSL's handler the process exits cleanly (the
      // operating system reclaims the memory either way).
      OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, nullptr);
    }
#if defined(FPX_BENCH_MOSQUITTO) || defined(FPX_BENCH_NATS)
    // The broker binary too, before the long FPX run rather than after it.
    (void)find_binary(name == "nats" ? "nats-server" : name, name == "nats" ? "nats-server" : name);
#endif
    return;
  }
  fail("this fpx-bench was built without the " + name + " peer: install the peer packages " +
       "(FPX_WITH_PEERS=1 deploy/install-packages.sh) and configure the build again");
}

SystemFigures run_peer(const std::string& name, const BenchOptions& options, const std::vector<Bytes>& envelopes) {
  require_peer(name);
#ifdef FPX_BENCH_MOSQUITTO
  if (name == "mosquitto") return run_mosquitto(options, envelopes);
#endif
#ifdef FPX_BENCH_NATS
  if (name == "nats") return run_nats(options, envelopes);
#endif
  (void)options;
  (void)envelopes;
  fail("unknown peer " + name);
}

void print_comparison(const std::vector<SystemFigures>& systems, double raw_verify_us) {
  for (const auto& figures : systems) {
    const char* name = figures.system.c_str();
    std::printf("%s_acked_msgs_per_s %.0f\n", name, figures.acked_per_s);
    std::printf("%s_received_msgs_per_s %.0f\n", name, figures.received_per_s);
    std::printf("%s_broker_cpu_us_per_msg %.1f\n", name, figures.broker_cpu_us_per_msg);
    if (figures.system == "fpx") {
      // What FPX spends besides the one signature check no peer makes.
      std::printf("fpx_broker_cpu_us_per_msg_minus_verify %.1f\n", figures.broker_cpu_us_per_msg - raw_verify_us);
    }
    std::printf("%s_p50_ms %.2f\n", name, figures.p50_ms);
    std::printf("%s_p99_ms %.2f\n", name, figures.p99_ms);
    std::printf("%s_lost %lld\n", name, static_cast<long long>(figures.lost));
  }
  std::fflush(stdout);

  std::fprintf(stderr, "#\n# %-10s %12s %12s %22s %9s %9s %6s\n", "system", "acked/s", "received/s",
               "broker CPU us/msg", "p50 ms", "p99 ms", "lost");
  for (const auto& figures : systems) {
    std::string cpu = std::to_string(static_cast<int>(figures.broker_cpu_us_per_msg + 0.5));
    if (figures.system == "fpx") {
      cpu.append(" (").append(std::to_string(static_cast<int>(figures.broker_cpu_us_per_msg - raw_verify_us + 0.5)));
      cpu.append(" w/o verify)");
    }
    std::fprintf(stderr, "# %-10s %12.0f %12.0f %22s %9.2f %9.2f %6lld\n", figures.system.c_str(), figures.acked_per_s,
                 figures.received_per_s, cpu.c_str(), figures.p50_ms, figures.p99_ms,
                 static_cast<long long>(figures.lost));
  }
  std::fprintf(stderr,
               "# one raw Ed25519 verify: %.1f us\n"
               "# Neither peer forces each message to disk before acknowledging it (mosquitto saves its state every\n"
               "# autosave_interval and at exit; JetStream fsyncs its files on a timer, every 2 min by default),\n"
               "# and neither verifies signatures. FPX acknowledges only after an fsynced commit and verifies\n"
               "# every message's Ed25519 signature and certificate chain.\n",
               raw_verify_us);
}

}  // namespace fpx::bench
