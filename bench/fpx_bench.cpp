// End to end: a real fpx-broker on loopback, several senders submitting
// pre-signed tracing requests through fpx_client, several focal points
// receiving (and verifying, as the library does) and confirming them.
//
//   fpx-bench [--messages N] [--rate R] [--latency-seconds S] [--senders N]
//             [--recipients N] [--broker-bin PATH] [--keep-dir]
//   fpx-bench --fairness [--victim-rate R] [--fairness-seconds S] [--flood-window N] [--batch-share N]
//   fpx-bench --peer mosquitto|nats [--peer ...] [--peer-window N]
//   fpx-bench --observers N
//   fpx-bench --abuse [--abuse-seconds S] [--abuse-kinds a,b] [--victim-rate R]
//   fpx-bench --lean [--messages N] [--lean-window N] [--latency-seconds S --rate R]
//   fpx-bench --peer rabbitmq [--rabbitmq-windows 100,1]
//   fpx-bench --store postgres [the default options]   (SQLite, then the broker on PostgreSQL)
//
// Prints one "name value" line per figure:
//   throughput_msgs_per_s            messages receipted and delivered per second, senders flat out
//   verify_per_s_one_core            raw Ed25519 verifications per second on one core, this run
//   broker_cpu_per_msg_over_verify   broker process CPU (user+system, all threads) per receipted
//                                    message in the throughput phase, over one raw verify
//   p50_ms, p99_ms                   submit -> delivery at a fixed total rate (--rate)
// --observers N runs the throughput phase a second time while N CSO
// observers follow the public feed (observers.hpp) and adds
//   throughput_with_observers_msgs_per_s, observer_throughput_drop_percent
// --peer adds the same figures for each peer broker, measured the same way
// in the same run (peer_bench.cpp); --fairness measures instead a victim's
// latency while another participant floods (fairness.cpp); --abuse what
// each single-participant flood costs the broker (abuse.cpp); --lean the
// broker's own figures with raw sockets and pinned cores (lean.cpp), and
// --peer rabbitmq RabbitMQ's quorum queues beside them (peer_rabbitmq.cpp).
// Extra figures go to stderr as "# name value" lines.
//
// Broker and clients share the machine (2 cores here), so throughput is the
// whole system's, while the broker CPU ratio is the broker's own cost. These
// VMs are noisy: compare ratios from one run, not absolutes across runs.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "abuse.hpp"
#include "bench_support.hpp"
#include "fpx_load.hpp"
#include "lean.hpp"
#include "modes.hpp"
#include "observers.hpp"
#include "peer_bench.hpp"
#include "postgres_support.hpp"

namespace fpx::bench {

namespace {

namespace fs = std::filesystem;

constexpr int kWarmupPerSender = 25;  // sessions up, chains cached, SQLite pages warm
// Confirms still in flight when the last delivery arrives are part of the
// per-message cost: let the broker take them before reading its CPU time.
constexpr auto kSettle = std::chrono::milliseconds(50);

// One sender's pre-signed envelopes per phase, as ledger indices.
struct SenderWork {
  std::vector<std::size_t> warmup;
  std::vector<std::size_t> throughput;
  std::vector<std::size_t> observed;  // the throughput phase again, observers following
  std::vector<std::size_t> latency;
};

void run_senders(std::vector<std::unique_ptr<client::Client>>& clients, const std::vector<Bytes>& envelopes,
                 Ledger& ledger, const std::vector<SenderWork>& work, std::vector<std::size_t> SenderWork::*phase,
                 Tally& tally, const Pace* pace) {
  std::vector<std::thread> threads;
  for (std::size_t s = 0; s < clients.size(); ++s) {
    threads.emplace_back([&, s] {
      run_sender(*clients[s], envelopes, ledger, work[s].*phase, tally, pace, static_cast<int>(s));
    });
  }
  for (auto& thread : threads) thread.join();
}

std::string default_broker_bin() {
  std::error_code error;
  const fs::path self = fs::read_symlink("/proc/self/exe", error);
  return error ? std::string("fpx-broker") : (self.parent_path() / "fpx-broker").string();
}

}  // namespace

// `store_dsn` non-empty: the broker on that PostgreSQL database; every
// figure line then begins with `prefix` (fpx-bench --store postgres).
FpxRun run_fpx_on(const BenchOptions& options, const std::string& store_dsn, const std::string& prefix) {
  TempDir dir(options.keep_dir ? KeepDir::keep : KeepDir::remove);
  BenchPki pki(dir.path());
  std::vector<std::string> participants = issue_senders_and_recipients(pki, options.senders, options.recipients);
  auto observer_id = [](int n) { return "cso-" + std::to_string(n) + ".observer"; };
  for (int n = 0; n < options.observers; ++n) {
    pki.issue(observer_id(n), "SN", Role::observer);
    participants.push_back(observer_id(n));  // observers are enrolled like participants
  }

  // Seal everything first: the senders' signing is not what is measured.
  const auto senders = static_cast<std::size_t>(options.senders);
  const auto latency_messages = static_cast<std::size_t>(options.rate * options.latency_seconds);
  const std::size_t observed_messages = options.observers > 0 ? static_cast<std::size_t>(options.messages) : 0;
  const std::size_t total = senders * kWarmupPerSender + static_cast<std::size_t>(options.messages) +
                            observed_messages + latency_messages;
  FpxRun run;
  std::vector<Bytes>& envelopes = run.envelopes;
  envelopes.reserve(total);
  Ledger ledger(total);
  std::vector<SenderWork> work(senders);
  std::vector<Identity> sender_identities;
  for (std::size_t s = 0; s < senders; ++s) sender_identities.push_back(pki.identity(sender_id(static_cast<int>(s))));
  std::vector<Sealer> sealers;
  for (std::size_t s = 0; s < senders; ++s) {
    sealers.emplace_back(sender_identities[s], kSenderCountries[s], sender_id(static_cast<int>(s)));
  }
  int serial = 0;
  auto seal_into = [&](std::vector<std::size_t> SenderWork::*phase, std::size_t count) {
    for (std::size_t n = 0; n < count; ++n, ++serial) {
      const std::size_t s = n % senders;
      // Each sender spreads its messages over every recipient.
      const auto to = (n / senders + s) % static_cast<std::size_t>(options.recipients);
      Sealed sealed = sealers[s].seal(kRecipientCountries[to], serial);
      (work[s].*phase).push_back(ledger.add(sealed.id));
      envelopes.push_back(std::move(sealed.envelope));
    }
  };
  const auto seal_start = Clock::now();
  seal_into(&SenderWork::warmup, senders * kWarmupPerSender);
  seal_into(&SenderWork::throughput, static_cast<std::size_t>(options.messages));
  seal_into(&SenderWork::observed, observed_messages);
  seal_into(&SenderWork::latency, latency_messages);
  std::fprintf(stderr, "# sealed %zu envelopes of %zu bytes (body %zu bytes) in %.1f s\n", total,
               envelopes.front().size(), sealers.front().last_body_bytes(),
               std::chrono::duration<double>(Clock::now() - seal_start).count());

  BrokerSettings settings;
  settings.binary = options.broker_bin;
  settings.store_dsn = store_dsn;
  // Followed feeds see the log grow each second (in both throughput phases, so they compare).
  if (options.observers > 0) settings.log_checkpoint_every_ms = 1000;
  BrokerProcess broker(pki, participants, settings);

  auto connect = [&](const std::string& id) {
    client::ClientOptions client_options;
    client_options.endpoint = broker.endpoint();
    client_options.broker_curve_key = broker.curve_public_key();
    client_options.state_db = dir.path() / (id + ".client.sqlite");
    client_options.root_ca = pki.root_pem();
    client_options.crl_dir = pki.crl_dir();
    client_options.broker_pins = broker.broker_pins();
    return must(client::Client::connect(pki.identity(id), client_options), "connect");
  };
  std::vector<std::unique_ptr<client::Client>> sender_clients;
  std::vector<std::unique_ptr<client::Client>> recipient_clients;
  for (int s = 0; s < options.senders; ++s) sender_clients.push_back(connect(sender_id(s)));
  for (int r = 0; r < options.recipients; ++r) recipient_clients.push_back(connect(recipient_id(r)));

  Receivers receivers;
  receivers.start(recipient_clients, ledger);
  Tally tally;

  // Warm-up: sessions, the broker's chain cache, SQLite's pages.
  run_senders(sender_clients, envelopes, ledger, work, &SenderWork::warmup, tally, nullptr);
  if (tally.refused.load() > 0) fail("the broker refused a warm-up message: " + tally.first_error);
  std::int64_t expected = static_cast<std::int64_t>(senders) * kWarmupPerSender;
  wait_for_deliveries(ledger, expected, tally);

  run.raw_verify_us = raw_verify_us(sender_identities.front());
  const double verify_us = run.raw_verify_us;

  // Throughput: every sender flat out; done when the last delivery arrives.
  tally.receipted = 0;
  const double broker_cpu_start = broker.cpu_seconds();
  const double bench_cpu_start = process_cpu_seconds();
  const auto throughput_start = Clock::now();
  run_senders(sender_clients, envelopes, ledger, work, &SenderWork::throughput, tally, nullptr);
  const double submit_seconds = std::chrono::duration<double>(Clock::now() - throughput_start).count();
  const std::int64_t receipted = tally.receipted.load();
  expected += options.messages;
  wait_for_deliveries(ledger, expected, tally);
  const double throughput_seconds = std::chrono::duration<double>(Clock::now() - throughput_start).count();
  std::this_thread::sleep_for(kSettle);
  const double broker_cpu = broker.cpu_seconds() - broker_cpu_start;
  const double bench_cpu = process_cpu_seconds() - bench_cpu_start;
  if (tally.refused.load() > 0) fail("the broker refused messages: " + tally.first_error);

  // The same throughput phase while observers follow the feed.
  double observed_seconds = 0;
  std::int64_t observer_requests = 0;
  if (options.observers > 0) {
    Observers observers;
    const auto broker_chain = must(Certificate::load_pem_file(broker.chain_path()), "broker chain");
    const auto connect_started = Clock::now();
    observers.start(options.observers, [&](int n) {
      client::ObserverOptions observer_options;
      observer_options.endpoint = broker.observers_endpoint();
      observer_options.broker_chain = broker_chain;
      observer_options.root_ca = pki.root_pem();
      observer_options.broker_pins = broker.broker_pins();
      return must(client::ObserverClient::connect(pki.identity(observer_id(n)), observer_options), "observer connect");
    });
    std::fprintf(stderr, "# %d observers connected and following in %.1f s\n", options.observers,
                 std::chrono::duration<double>(Clock::now() - connect_started).count());
    const std::int64_t requests_before = observers.requests();
    const auto observed_start = Clock::now();
    run_senders(sender_clients, envelopes, ledger, work, &SenderWork::observed, tally, nullptr);
    expected += static_cast<std::int64_t>(observed_messages);
    wait_for_deliveries(ledger, expected, tally);
    observed_seconds = std::chrono::duration<double>(Clock::now() - observed_start).count();
    observer_requests = observers.requests() - requests_before;
    observers.stop();
    if (observers.failures() > 0) fail("an observer failed: " + observers.first_error());
    if (tally.refused.load() > 0) fail("the broker refused messages: " + tally.first_error);
  }

  // Latency: a fixed total rate, the slots spread over the senders.
  tally.receipted = 0;
  const double broker_cpu_latency_start = broker.cpu_seconds();
  Pace pace{Clock::now() + std::chrono::milliseconds(100), options.rate, options.senders};
  run_senders(sender_clients, envelopes, ledger, work, &SenderWork::latency, tally, &pace);
  expected += static_cast<std::int64_t>(latency_messages);
  wait_for_deliveries(ledger, expected, tally);
  std::this_thread::sleep_for(kSettle);
  const double broker_cpu_latency = broker.cpu_seconds() - broker_cpu_latency_start;
  const std::int64_t latency_receipted = tally.receipted.load();
  receivers.join();
  if (tally.refused.load() > 0) fail("the broker refused messages: " + tally.first_error);

  std::vector<double> latencies_ms;
  for (const auto& sender : work) {
    for (std::size_t index : sender.latency) {
      latencies_ms.push_back(static_cast<double>(ledger.delivered_ns(index) - ledger.sent_ns(index)) / 1e6);
    }
  }

  const double broker_us_per_msg = broker_cpu * 1e6 / static_cast<double>(std::max<std::int64_t>(receipted, 1));
  std::fprintf(stderr, "# store %s\n", store_dsn.empty() ? "sqlite" : "postgres");
  std::fprintf(stderr, "# %d senders, %d recipients, %d messages, %zu paced at %.0f/s\n", options.senders,
               options.recipients, options.messages, latency_messages, options.rate);
  std::fprintf(stderr, "# raw_verify_us %.2f\n", verify_us);
  std::fprintf(stderr, "# broker_cpu_us_per_msg %.1f\n", broker_us_per_msg);
  std::fprintf(stderr, "# broker_cpu_share_of_wall %.2f\n", broker_cpu / throughput_seconds);
  std::fprintf(stderr, "# bench_clients_cpu_us_per_msg %.1f\n",
               bench_cpu * 1e6 / static_cast<double>(std::max<std::int64_t>(receipted, 1)));
  if (latency_receipted > 0) {
    std::fprintf(stderr, "# broker_cpu_us_per_msg_paced %.1f\n",
                 broker_cpu_latency * 1e6 / static_cast<double>(latency_receipted));
  }
  std::fprintf(stderr, "# latency_max_ms %.2f\n", percentile(latencies_ms, 1.0));
  std::fprintf(stderr, "# late_sends %lld\n", static_cast<long long>(tally.late_sends.load()));
  std::fprintf(stderr, "# unexpected_deliveries %lld, rejected_deliveries %lld\n",
               static_cast<long long>(receivers.unknown.load()), static_cast<long long>(receivers.rejected.load()));

  std::printf("%sthroughput_msgs_per_s %.0f\n", prefix.c_str(), static_cast<double>(options.messages) / throughput_seconds);
  std::printf("%sverify_per_s_one_core %.0f\n", prefix.c_str(), 1e6 / verify_us);
  std::printf("%sbroker_cpu_per_msg_over_verify %.2f\n", prefix.c_str(), broker_us_per_msg / verify_us);
  std::printf("%sp50_ms %.2f\n", prefix.c_str(), percentile(latencies_ms, 0.50));
  std::printf("%sp99_ms %.2f\n", prefix.c_str(), percentile(latencies_ms, 0.99));
  if (options.observers > 0) {
    const double alone = static_cast<double>(options.messages) / throughput_seconds;
    const double observed = static_cast<double>(observed_messages) / observed_seconds;
    std::fprintf(stderr, "# observer_requests_per_s %.0f\n", static_cast<double>(observer_requests) / observed_seconds);
    std::printf("%sobservers %d\n", prefix.c_str(), options.observers);
    std::printf("%sthroughput_with_observers_msgs_per_s %.0f\n", prefix.c_str(), observed);
    std::printf("%sobserver_throughput_drop_percent %.1f\n", prefix.c_str(), 100.0 * (alone - observed) / alone);
  }
  std::fflush(stdout);

  run.figures.system = store_dsn.empty() ? "fpx" : "fpx-postgres";
  run.figures.acked_per_s = static_cast<double>(receipted) / submit_seconds;
  run.figures.received_per_s = static_cast<double>(options.messages) / throughput_seconds;
  run.figures.broker_cpu_us_per_msg = broker_us_per_msg;
  run.figures.p50_ms = percentile(latencies_ms, 0.50);
  run.figures.p99_ms = percentile(latencies_ms, 0.99);
  run.figures.lost = 0;  // every receipted message was delivered, or wait_for_deliveries failed

  for (auto& client : sender_clients) client.reset();
  for (auto& client : recipient_clients) client.reset();
  if (const int status = broker.stop(); status != 0) {
    std::fprintf(stderr, "# fpx-broker exited with status %d (log: %s)\n", status, broker.log_path().c_str());
  }
  return run;
}

FpxRun run_fpx(const BenchOptions& options) { return run_fpx_on(options, {}, {}); }

}  // namespace fpx::bench

int main(int argc, char** argv) {
  using namespace fpx::bench;
  BenchOptions options;
  options.broker_bin = default_broker_bin();
  bool fairness = false;
  std::vector<std::string> peers;
  CLI::App app{"fpx-bench: a real broker on loopback, senders and recipients through fpx_client"};
  app.add_option("--messages", options.messages, "messages in the throughput phase")->check(CLI::PositiveNumber);
  app.add_option("--rate", options.rate, "total messages per second in the latency phase")->check(CLI::PositiveNumber);
  app.add_option("--latency-seconds", options.latency_seconds, "length of the latency phase")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--senders", options.senders, "sending agencies, one thread each")->check(CLI::Range(1, kMaxParties));
  app.add_option("--recipients", options.recipients, "receiving focal points, one thread each")
      ->check(CLI::Range(1, kMaxParties));
  app.add_option("--observers", options.observers,
                 "run the throughput phase again while this many observers follow the feed (e.g. 200)")
      ->check(CLI::Range(0, 1000));
  app.add_option("--broker-bin", options.broker_bin, "the fpx-broker binary (default: next to fpx-bench)");
  app.add_flag("--keep-dir", options.keep_dir, "keep the PKI, broker config, log and database");
  app.add_option("--peer", peers, "also run a peer broker the same way: " + peer_names())
      ->check(CLI::IsMember(all_peer_names()));
  app.add_option("--peer-window", options.peer_window, "peer senders: published and not yet received, at most")
      ->check(CLI::Range(1, 1000));
  auto* fairness_flag =
      app.add_flag("--fairness", fairness, "a victim's latency unloaded and while another participant floods");
  app.add_option("--victim-rate", options.victim_rate, "fairness: the victim's messages per second")
      ->check(CLI::PositiveNumber);
  app.add_option("--fairness-seconds", options.fairness_seconds, "fairness: length of each victim phase")
      ->check(CLI::PositiveNumber);
  app.add_option("--flood-window", options.flood_window, "fairness: the flooder's unanswered submits at most")
      ->check(CLI::Range(1, 100000));
  app.add_option("--batch-share", options.batch_share,
                 "fairness: the broker's limits.batch_share (default: the broker's; 256 turns fair draining off)")
      ->check(CLI::Range(0, 100000));
  fairness_flag->excludes(app.get_option("--peer"));
  bool abuse = false;
  auto* abuse_flag = app.add_flag("--abuse", abuse,
                                  "what each single-participant flood costs the broker (RSS, store, audit rows) and "
                                  "a victim's latency");
  app.add_option("--abuse-seconds", options.abuse_seconds, "abuse: how long each flood runs")
      ->check(CLI::Range(1.0, 600.0));
  app.add_option("--abuse-kinds", options.abuse_kinds, "abuse: the floods to run (default: all)")
      ->delimiter(',')
      ->check(CLI::IsMember(abuse_kind_names()));
  abuse_flag->excludes(app.get_option("--peer"));
  abuse_flag->excludes(fairness_flag);
  app.add_option("--verify-workers", options.verify_workers,
                 "lean: the broker's limits.verify_workers (default: the broker's; 0 verifies on its loop thread)")
      ->check(CLI::Range(-1, 64));
  app.add_option("--wal-checkpoint-every-ms", options.wal_checkpoint_every_ms,
                 "lean: the broker's timing.checkpoint_every_ms, how often WAL checkpoints run (default: the broker's)")
      ->check(CLI::Range(10, 3600000));
  app.add_option("--group-commit-wait-ms", options.group_commit_wait_ms,
                 "lean, fairness and abuse: the broker's timing.group_commit_wait_ms, how long a durable batch waits "
                 "for company under load (default: the broker's)")
      ->check(CLI::Range(0, 1000));
  app.add_option("--broker-core", options.broker_core,
                 "lean: the core the broker is pinned to (default 0; -1 leaves it unpinned, sharing the load's core)")
      ->check(CLI::Range(-1, 1));
  bool lean = false;
  auto* lean_flag = app.add_flag("--lean",
                                 lean,
                                 "the broker's own figures: envelopes sealed before the run, raw CURVE DEALER "
                                 "sockets with --lean-window submits in flight, broker on core 0 and load on core 1; "
                                 "with --latency-seconds also paced receipt latency against the disk's fsync p99");
  app.add_option("--lean-window", options.lean_window, "lean: submits in flight per sender at most")
      ->check(CLI::Range(1, 10000));
  app.add_option("--rabbitmq-windows", options.rabbitmq_windows,
                 "rabbitmq: unconfirmed publishes per publisher, one run each (default 100,1)")
      ->delimiter(',')
      ->check(CLI::Range(1, 10000));
  app.add_option("--witnesses", options.witnesses,
                 "lean: run twice, without witnesses and then with N `fpx witness serve` processes on loopback "
                 "(checkpoints every second in both): receipt latency with and without, and checkpoint -> "
                 "served with N cosignatures")
      ->check(CLI::Range(1, 16))
      ->needs(lean_flag);
  lean_flag->excludes(fairness_flag);
  lean_flag->excludes(abuse_flag);
  std::string store = "sqlite";
  app.add_option("--store", store,
                 "postgres: the default figures on SQLite, then again with the broker on PostgreSQL (a cluster "
                 "started for the run on loopback), prefixed postgres_, and their ratios")
      ->check(CLI::IsMember({"sqlite", "postgres"}));
  CLI11_PARSE(app, argc, argv);

  if (store == "postgres") {
    if (abuse || fairness || lean || !peers.empty() || options.observers > 0) {
      std::fprintf(stderr, "fpx-bench: --store postgres runs the default figures only: drop --lean, --fairness, "
                           "--abuse, --peer and --observers\n");
      return 2;
    }
    // Both stores in one invocation, one after the other on the same
    // machine state, so their ratios mean something on a loaded machine.
    const FpxRun sqlite_run = run_fpx(options);
    FpxRun postgres_run;
    {
      BenchPostgres cluster;
      postgres_run = run_fpx_on(options, cluster.dsn(), "postgres_");
    }
    const SystemFigures& a = sqlite_run.figures;
    const SystemFigures& b = postgres_run.figures;
    std::printf("postgres_over_sqlite_throughput %.2f\n", b.received_per_s / a.received_per_s);
    std::printf("postgres_over_sqlite_p50 %.2f\n", b.p50_ms / a.p50_ms);
    std::printf("postgres_over_sqlite_p99 %.2f\n", b.p99_ms / a.p99_ms);
    std::printf("postgres_over_sqlite_broker_cpu_per_msg %.2f\n", b.broker_cpu_us_per_msg / a.broker_cpu_us_per_msg);
    return 0;
  }

  if (abuse) return run_abuse(options);
  if (fairness) return run_fairness(options);
  for (const auto& peer : peers) require_peer(peer);  // before the long FPX run, not after it
  // RabbitMQ is compared with the lean figures (both measure the broker
  // alone, pinned to its core); the other peers with the fpx_client run.
  const bool rabbitmq = std::find(peers.begin(), peers.end(), "rabbitmq") != peers.end();
  peers.erase(std::remove(peers.begin(), peers.end(), "rabbitmq"), peers.end());
  if (lean || rabbitmq) {
    // The paced phase runs when asked for (--latency-seconds), not for a comparison.
    options.lean_latency = lean && app.count("--latency-seconds") > 0;
    if (options.witnesses > 0) {
      // One invocation, two runs on the same machine state: witnesses off, then on.
      BenchOptions off = options;
      off.witnesses = 0;
      off.checkpoint_every_second = true;
      options.checkpoint_every_second = true;
      (void)run_lean(off);
    }
    const LeanRun lean_run = run_lean(options);
#ifdef FPX_BENCH_RABBITMQ
    if (rabbitmq) run_rabbitmq(options, lean_run);
#else
    (void)lean_run;
#endif
    if (peers.empty()) return 0;
  }
  FpxRun fpx_run = run_fpx(options);
  if (peers.empty()) return 0;
  std::vector<SystemFigures> figures{fpx_run.figures};
  for (const auto& peer : peers) figures.push_back(run_peer(peer, options, fpx_run.envelopes));
  print_comparison(figures, fpx_run.raw_verify_us);
  return 0;
}
