// fpx-bench --fairness: can one participant flooding starve the others?
//
// A victim agency sends paced tracing requests (under the rate limit)
// through fpx_client, first alone, then while a second agency floods the
// broker as fast as it can: a raw CURVE DEALER with its own enrolled key
// that keeps up to --flood-window submits unanswered at all times (a real
// client waits for each receipt; a flooder does not). The broker runs with
// the rate limit of deploy/broker.toml.
//
// Prints the victim's p99 (send slot -> delivery) unloaded and flooded and
// their ratio (target <= 2), and how the flood's submits were answered:
// receipted, refused with rateLimited (retry-after given), other errors,
// and never answered (silent loss: target 0).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <deque>
#include <unordered_map>

#include <zmq.hpp>

#include "bench_support.hpp"
#include "fpx/frames.hpp"
#include "fpx_load.hpp"
#include "modes.hpp"

namespace fpx::bench {

namespace {

constexpr int kWarmup = 25;
// deploy/broker.toml's per-participant limit, so the flood meets the
// limiter a deployment has.
constexpr double kRateLimit = 200;
constexpr double kBurst = 400;
// After the flood stops, how long its last answers may take.
constexpr auto kDrainTimeout = std::chrono::seconds(30);
constexpr auto kFloodLead = std::chrono::milliseconds(200);

struct FloodCounts {
  std::int64_t submitted = 0;
  std::int64_t receipted = 0;
  std::int64_t rate_limited = 0;
  std::int64_t retry_after_missing = 0;  // rateLimited without a retry time
  std::int64_t other_errors = 0;
  std::int64_t unanswered = 0;
  std::string first_other_error;
  std::vector<std::size_t> receipted_indices;  // into the flood's envelopes
  double seconds = 0;
};

// The flooding participant: pipelined submits over its own CURVE session.
class Flooder {
 public:
  Flooder(const Identity& identity, const std::string& endpoint, const CurvePublicKey& broker_key,
          const std::vector<Bytes>& envelopes, int window)
      : envelopes_(envelopes), window_(static_cast<std::size_t>(window)), socket_(context_, zmq::socket_type::dealer) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.set(zmq::sockopt::curve_serverkey, zmq::const_buffer(broker_key.data(), broker_key.size()));
    const auto& curve = identity.curve();
    socket_.set(zmq::sockopt::curve_publickey, zmq::const_buffer(curve.public_key.data(), curve.public_key.size()));
    socket_.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(curve.secret_key.data(), curve.secret_key.size()));
    socket_.connect(endpoint);
    for (std::size_t i = 0; i < envelopes_.size(); ++i) free_.push_back(i);
  }

  // Floods until `stop`, then waits for the answers still owed.
  FloodCounts run(const std::atomic<bool>& stop) {
    const auto start = Clock::now();
    while (!stop.load()) {
      // Refill the window; an envelope refused with rateLimited is sent again later.
      while (pending_.size() < window_ && !free_.empty()) {
        if (!send(free_.front())) break;
        free_.pop_front();
      }
      receive(std::chrono::milliseconds(1));
    }
    counts_.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const auto deadline = Clock::now() + kDrainTimeout;
    while (!pending_.empty() && Clock::now() < deadline) receive(std::chrono::milliseconds(10));
    counts_.unanswered = static_cast<std::int64_t>(pending_.size());
    return counts_;
  }

 private:
  bool send(std::size_t index) {
    const std::uint64_t request_id = next_request_id_++;
    const Bytes bytes = encode_submit(request_id, envelopes_[index]);
    if (!socket_.send(zmq::buffer(bytes.data(), bytes.size()), zmq::send_flags::dontwait)) return false;
    pending_.emplace(request_id, index);
    ++counts_.submitted;
    return true;
  }

  void receive(std::chrono::milliseconds wait) {
    zmq_pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, wait);
    zmq::message_t frame;
    while (socket_.recv(frame, zmq::recv_flags::dontwait)) settle(frame);
  }

  void settle(const zmq::message_t& frame) {
    auto decoded = decode_broker_frame(ByteView(static_cast<const std::uint8_t*>(frame.data()), frame.size()));
    if (!decoded) fail("flood: an undecodable broker frame");
    const BrokerReply& root = *decoded;
    auto found = pending_.find(root.request_id);
    if (found == pending_.end()) return;  // a delivery or notice: not an answer
    const std::size_t index = found->second;
    if (root.kind == BrokerReply::Kind::receipt) {
      ++counts_.receipted;
      counts_.receipted_indices.push_back(index);
    } else if (root.kind == BrokerReply::Kind::error && root.error.code == ErrorCode::rate_limited) {
      ++counts_.rate_limited;
      if (root.retry_after_ms == 0) ++counts_.retry_after_missing;
      free_.push_back(index);
    } else {
      ++counts_.other_errors;
      if (counts_.first_other_error.empty()) {
        counts_.first_other_error =
            root.kind == BrokerReply::Kind::error ? root.error.message : "neither receipt nor error";
      }
    }
    pending_.erase(found);
  }

  const std::vector<Bytes>& envelopes_;
  std::size_t window_;
  zmq::context_t context_{1};
  zmq::socket_t socket_;
  std::deque<std::size_t> free_;                           // envelopes not yet receipted
  std::unordered_map<std::uint64_t, std::size_t> pending_;  // request id -> envelope
  std::uint64_t next_request_id_ = 1;
  FloodCounts counts_;
};

struct VictimPhase {
  double p50_ms = 0;
  double p99_ms = 0;
  double receipt_p99_ms = 0;
  double max_ms = 0;
};

}  // namespace

int run_fairness(const BenchOptions& options) {
  TempDir dir(options.keep_dir ? KeepDir::keep : KeepDir::remove);
  BenchPki pki(dir.path());
  const std::string victim = sender_id(0);
  const std::string flooder = sender_id(1);
  const std::string victim_recipient = recipient_id(0);
  const std::string flood_recipient = recipient_id(1);
  pki.issue(victim, kSenderCountries[0], Role::agency);
  pki.issue(flooder, kSenderCountries[1], Role::agency);
  pki.issue(victim_recipient, kRecipientCountries[0], Role::focal_point);
  pki.issue(flood_recipient, kRecipientCountries[1], Role::focal_point);

  // Everything sealed before any timing.
  const auto per_phase = static_cast<std::size_t>(options.victim_rate * options.fairness_seconds);
  const std::size_t flood_pool =
      static_cast<std::size_t>((kRateLimit * (options.fairness_seconds + 5) + kBurst) * 1.5) +
      static_cast<std::size_t>(options.flood_window);
  const Identity victim_identity = pki.identity(victim);
  const Identity flooder_identity = pki.identity(flooder);
  Sealer victim_sealer(victim_identity, kSenderCountries[0], victim);
  Sealer flood_sealer(flooder_identity, kSenderCountries[1], flooder);
  Ledger ledger(kWarmup + 2 * per_phase + flood_pool);
  std::vector<Bytes> victim_envelopes;
  std::vector<std::size_t> warmup, unloaded, flooded;
  int serial = 0;
  for (std::size_t n = 0; n < kWarmup + 2 * per_phase; ++n) {
    Sealed sealed = victim_sealer.seal(kRecipientCountries[0], serial++);
    auto& phase = n < kWarmup ? warmup : n < kWarmup + per_phase ? unloaded : flooded;
    phase.push_back(ledger.add(sealed.id));
    victim_envelopes.push_back(std::move(sealed.envelope));
  }
  std::vector<Bytes> flood_envelopes;
  std::vector<std::size_t> flood_ledger;
  for (std::size_t n = 0; n < flood_pool; ++n) {
    Sealed sealed = flood_sealer.seal(kRecipientCountries[1], serial++);
    flood_ledger.push_back(ledger.add(sealed.id));
    flood_envelopes.push_back(std::move(sealed.envelope));
  }

  BrokerSettings settings;
  settings.binary = options.broker_bin;
  settings.rate_per_second = kRateLimit;
  settings.burst = kBurst;
  settings.group_commit_wait_ms = options.group_commit_wait_ms;
  settings.batch_share = static_cast<std::size_t>(options.batch_share);
  BrokerProcess broker(pki, {victim, flooder, victim_recipient, flood_recipient}, settings);

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
  auto victim_client = connect(victim);
  std::vector<std::unique_ptr<client::Client>> recipients;
  recipients.push_back(connect(victim_recipient));
  recipients.push_back(connect(flood_recipient));
  Receivers receivers;
  receivers.start(recipients, ledger);
  Tally tally;

  run_sender(*victim_client, victim_envelopes, ledger, warmup, tally, nullptr, 0);
  wait_for_deliveries(ledger, kWarmup, tally);

  auto victim_phase = [&](const std::vector<std::size_t>& work, std::int64_t expected) {
    std::vector<double> receipt_ms;
    Pace pace{Clock::now() + std::chrono::milliseconds(100), options.victim_rate, 1};
    run_sender(*victim_client, victim_envelopes, ledger, work, tally, &pace, 0, &receipt_ms);
    wait_for_deliveries(ledger, expected, tally);
    std::vector<double> delivery_ms;
    for (std::size_t index : work) {
      delivery_ms.push_back(static_cast<double>(ledger.delivered_ns(index) - ledger.sent_ns(index)) / 1e6);
    }
    return VictimPhase{percentile(delivery_ms, 0.5), percentile(delivery_ms, 0.99), percentile(receipt_ms, 0.99),
                       percentile(delivery_ms, 1.0)};
  };

  const auto expected_unloaded = static_cast<std::int64_t>(kWarmup + per_phase);
  const double cpu_unloaded_start = broker.cpu_seconds();
  const VictimPhase alone = victim_phase(unloaded, expected_unloaded);
  const double cpu_unloaded = broker.cpu_seconds() - cpu_unloaded_start;

  // The flood runs from just before the victim's second phase to its end.
  std::atomic<bool> stop_flood{false};
  FloodCounts flood;
  Flooder flood_source(flooder_identity, broker.endpoint(), broker.curve_public_key(), flood_envelopes,
                       options.flood_window);
  const double cpu_flooded_start = broker.cpu_seconds();
  const double bench_cpu_start = process_cpu_seconds();
  const auto flooded_start = Clock::now();
  std::thread flood_thread([&] { flood = flood_source.run(stop_flood); });
  std::this_thread::sleep_for(kFloodLead);
  const std::int64_t victim_refused_before = tally.refused.load();
  VictimPhase under_flood;
  {
    std::vector<double> receipt_ms;
    Pace pace{Clock::now() + std::chrono::milliseconds(100), options.victim_rate, 1};
    run_sender(*victim_client, victim_envelopes, ledger, flooded, tally, &pace, 0, &receipt_ms);
    stop_flood = true;
    flood_thread.join();
    // The victim's deliveries only: the ledger counts the flood's as well.
    const auto deadline = Clock::now() + kDrainTimeout;
    auto victim_delivered = [&] {
      return std::count_if(flooded.begin(), flooded.end(), [&](std::size_t i) { return ledger.delivered_ns(i) != 0; });
    };
    while (victim_delivered() < static_cast<std::ptrdiff_t>(flooded.size()) && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (victim_delivered() < static_cast<std::ptrdiff_t>(flooded.size())) {
      fail("only " + std::to_string(victim_delivered()) + " of the victim's " + std::to_string(flooded.size()) +
           " messages were delivered under the flood");
    }
    std::vector<double> delivery_ms;
    for (std::size_t index : flooded) {
      delivery_ms.push_back(static_cast<double>(ledger.delivered_ns(index) - ledger.sent_ns(index)) / 1e6);
    }
    under_flood = VictimPhase{percentile(delivery_ms, 0.5), percentile(delivery_ms, 0.99),
                              percentile(receipt_ms, 0.99), percentile(delivery_ms, 1.0)};
  }
  const double flooded_seconds = std::chrono::duration<double>(Clock::now() - flooded_start).count();
  const double cpu_flooded = broker.cpu_seconds() - cpu_flooded_start;
  const double bench_cpu_flooded = process_cpu_seconds() - bench_cpu_start;
  const std::int64_t victim_refused = tally.refused.load() - victim_refused_before;

  // Every flood message that got a receipt must reach its recipient.
  const auto deadline = Clock::now() + kDrainTimeout;
  auto flood_undelivered = [&] {
    return std::count_if(flood.receipted_indices.begin(), flood.receipted_indices.end(),
                         [&](std::size_t i) { return ledger.delivered_ns(flood_ledger[i]) == 0; });
  };
  while (flood_undelivered() > 0 && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const auto undelivered = static_cast<long long>(flood_undelivered());
  receivers.join();

  std::fprintf(stderr, "# victim %s at %.0f msg/s for %.0f s per phase; flooder %s with %d submits unanswered at most; "
                       "broker limit %.0f/s, burst %.0f per participant, batch_share %s\n",
               victim.c_str(), options.victim_rate, options.fairness_seconds, flooder.c_str(), options.flood_window,
               kRateLimit, kBurst, options.batch_share > 0 ? std::to_string(options.batch_share).c_str() : "default");
  std::fprintf(stderr, "# victim p50 unloaded %.2f ms, flooded %.2f ms; max %.2f / %.2f ms\n", alone.p50_ms,
               under_flood.p50_ms, alone.max_ms, under_flood.max_ms);
  std::fprintf(stderr, "# victim receipt p99 unloaded %.2f ms, flooded %.2f ms; late sends %lld; victim refused %lld\n",
               alone.receipt_p99_ms, under_flood.receipt_p99_ms, static_cast<long long>(tally.late_sends.load()),
               static_cast<long long>(victim_refused));
  std::fprintf(stderr, "# flood: %.0f submits/s offered, %.0f receipted/s; rateLimited without retry-after %lld\n",
               static_cast<double>(flood.submitted) / flood.seconds,
               static_cast<double>(flood.receipted) / flood.seconds, static_cast<long long>(flood.retry_after_missing));
  if (!flood.first_other_error.empty()) std::fprintf(stderr, "# flood: first other error: %s\n", flood.first_other_error.c_str());
  std::fprintf(stderr, "# broker CPU share of wall: unloaded %.2f, flooded %.2f; this process (flooder, victim, "
                       "recipients) while flooding %.2f, on %u cores\n",
               cpu_unloaded / (options.fairness_seconds + 0.1), cpu_flooded / flooded_seconds,
               bench_cpu_flooded / flooded_seconds, std::thread::hardware_concurrency());

  if (options.group_commit_wait_ms >= 0) {
    std::printf("group_commit_wait_ms %lld\n", static_cast<long long>(options.group_commit_wait_ms));
  }
  std::printf("victim_p99_ms_unloaded %.2f\n", alone.p99_ms);
  std::printf("victim_p99_ms_flooded %.2f\n", under_flood.p99_ms);
  std::printf("victim_p99_flooded_over_unloaded %.2f\n", under_flood.p99_ms / std::max(alone.p99_ms, 1e-3));
  std::printf("flood_submitted %lld\n", static_cast<long long>(flood.submitted));
  std::printf("flood_receipted %lld\n", static_cast<long long>(flood.receipted));
  std::printf("flood_rate_limited %lld\n", static_cast<long long>(flood.rate_limited));
  std::printf("flood_other_errors %lld\n", static_cast<long long>(flood.other_errors));
  std::printf("flood_unanswered %lld\n", static_cast<long long>(flood.unanswered));
  std::printf("flood_receipted_not_delivered %lld\n", undelivered);
  std::fflush(stdout);

  victim_client.reset();
  for (auto& client : recipients) client.reset();
  if (const int status = broker.stop(); status != 0) {
    std::fprintf(stderr, "# fpx-broker exited with status %d (log: %s)\n", status, broker.log_path().c_str());
  }
  const bool silent_loss = flood.unanswered > 0 || undelivered > 0 || victim_refused > 0;
  if (silent_loss) std::fprintf(stderr, "# FAILED: a submit was neither receipted nor refused, or not delivered\n");
  return silent_loss ? 1 : 0;
}

}  // namespace fpx::bench
