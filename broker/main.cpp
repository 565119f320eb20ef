// fpx-broker: argument parsing, logging and signals; everything else is
// broker_core (fpx/broker/broker.hpp), which the tests drive directly.
#include <malloc.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <iostream>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "fpx/broker/broker.hpp"

namespace {

// glibc gives freed heap back to the kernel once 128 KiB sit free at its
// top, and SQLite frees and reallocates its page buffers on every
// transaction: the broker's profile spent about 12 % of its CPU in that
// trim (brk, munmap, page faults again). A broker keeps a steady working
// set, so it keeps up to this much free heap instead of returning it.
constexpr int kMallocTrimThresholdBytes = 64 << 20;
// Fixed rather than glibc's sliding threshold (which setting the trim
// threshold turns off): blocks below this come from the heap, not from an
// mmap and munmap each; a batch's buffers stay well below it.
constexpr int kMallocMmapThresholdBytes = 4 << 20;
// The exit status of a leader another broker replaced (sysexits' EX_TEMPFAIL):
// restart it, and it stands by.
constexpr int kExitDeposed = 75;

}  // namespace

int main(int argc, char** argv) {
  mallopt(M_TRIM_THRESHOLD, kMallocTrimThresholdBytes);
  mallopt(M_MMAP_THRESHOLD, kMallocMmapThresholdBytes);
  CLI::App app{"fpx-broker: routes signed, validated firearm tracing messages between FPX participants"};
  std::string config_path;
  bool check_only = false;
  app.add_option("--config", config_path, "the broker's TOML configuration (see deploy/broker.toml)")->required();
  app.add_flag("--check-config", check_only, "report every problem in the configuration and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : 2;
  }

  auto config = fpx::broker::load_broker_config(config_path);
  if (!config) {
    std::cerr << "fpx-broker: " << config.error().describe() << "\n";
    return 2;
  }
  if (check_only) {
    std::cout << config_path << ": OK\n";
    return 0;
  }
  spdlog::set_level(spdlog::level::from_str(config->log_level));

  // Signals are read from a signalfd in the poll loop, so they are blocked
  // before any thread (ZeroMQ's I/O threads) exists.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  int signal_fd = signalfd(-1, &signals, SFD_CLOEXEC);
  if (signal_fd < 0) {
    std::cerr << "fpx-broker: signalfd failed\n";
    return 1;
  }

  // A standby (PostgreSQL store, another broker leads) waits inside
  // create(): SIGTERM and SIGINT, read from the signalfd, end that wait.
  bool stopped_standing_by = false;
  config->standby_stop_waiting = [signal_fd, &stopped_standing_by] {
    pollfd ready{signal_fd, POLLIN, 0};
    while (::poll(&ready, 1, 0) == 1) {
      signalfd_siginfo info{};
      if (::read(signal_fd, &info, sizeof info) != sizeof info) break;
      if (info.ssi_signo == SIGTERM || info.ssi_signo == SIGINT) stopped_standing_by = true;
    }
    return stopped_standing_by;
  };
  // Deposed (another broker took the lead): every receipt this broker gave
  // followed a commit, and its store refuses every later transaction, so
  // nothing is lost by ending at once; its clients move to the new leader.
  // kExitDeposed lets a service manager restart it as the standby.
  config->on_deposed = [](const std::string& why) {
    spdlog::error("stepping down: {}", why);
    spdlog::default_logger()->flush();  // not shutdown(): the loop thread may still be logging
    std::_Exit(kExitDeposed);
  };
  auto broker = fpx::broker::Broker::create(*config);
  if (stopped_standing_by) return 0;
  if (!broker) {
    std::cerr << "fpx-broker: " << broker.error().describe() << "\n";
    return 1;
  }
  // After the broker, so it stops (and joins its thread) before the counters it reads go.
  std::unique_ptr<fpx::broker::MetricsServer> metrics;
  if (!config->metrics.listen.empty()) {
    auto started = fpx::broker::MetricsServer::start(config->metrics.listen, (*broker)->metrics());
    // Metrics observe; they must not stop tracing: the broker serves on without them.
    if (!started) {
      spdlog::error("metrics: {}", started.error().describe());
    } else {
      metrics = std::move(started).value();
      spdlog::info("metrics on http://{}/metrics", config->metrics.listen);
    }
  }
  std::cout << "fpx-broker listening on " << (*broker)->endpoint() << std::endl;
  auto stopped = (*broker)->run(signal_fd);
  if (!stopped) {
    std::cerr << "fpx-broker: " << stopped.error().describe() << "\n";
    return 1;
  }
  return 0;
}
