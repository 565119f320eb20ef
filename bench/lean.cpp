// fpx-bench --lean (lean.hpp): the broker's figures with a load that hides
// nothing. One thread on the load's core drives every socket with zmq::poll.
#include "lean.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <thread>
#include <unordered_set>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <httplib.h>
#include <sqlite3.h>
#include <zmq.hpp>

#include "bench_support.hpp"
#include "fpx/wire/transport.capnp.h"
#include "fpx_load.hpp"
#include "witnesses.hpp"
#include "lean_figures.hpp"
#include "tests/support/loopback_port.hpp"

namespace fpx::bench {

namespace {

namespace fs = std::filesystem;

constexpr int kLoadCore = 1;
constexpr int kWarmupPerSender = 25;  // sessions up, chains cached, SQLite pages warm
// Long enough for the broker's once-a-second WAL checkpoint to copy the
// phase's pages, so bytes written include them; the idle broker's CPU in it
// is a few milliseconds.
constexpr auto kSettle = std::chrono::milliseconds(1500);
constexpr auto kHandshakeTimeout = std::chrono::seconds(20);
constexpr auto kPhaseTimeout = std::chrono::seconds(300);
// The side thread's probe of the disk: 4 KiB written in place and
// fdatasync'd every kFsyncProbeEvery, as the WAL is rewritten in place.
constexpr std::size_t kFsyncProbeBytes = 4096;
constexpr std::size_t kFsyncProbeSlots = 256;
constexpr auto kFsyncProbeEvery = std::chrono::milliseconds(200);
// How many envelopes the peers get to carry (they carry the same bytes).
constexpr std::size_t kPeerSample = 4096;

// The broker's counters and stage CPU at one moment, from its /metrics
// (published by the loop every 250 ms tick; kSettle waits longer): the
// difference of two is one phase's, where the log's lines at stop hold the
// whole run (warm-up, both phases and the timers).
constexpr std::array<const char*, 10> kStages = {"decode",  "open",    "authorize", "validate", "dedupe",
                                                 "persist", "receipt", "account",   "commit",   "route"};
struct MetricsMoment {
  double accepted = 0;
  double durable_commits = 0;
  std::array<double, kStages.size()> stage_seconds{};
};

std::optional<MetricsMoment> scrape_metrics(int port) {
  httplib::Client http("127.0.0.1", port);
  http.set_connection_timeout(5, 0);
  http.set_read_timeout(5, 0);
  auto response = http.Get("/metrics");
  if (!response || response->status != 200) return std::nullopt;
  MetricsMoment moment;
  auto accepted = metric_sample(response->body, "fpx_messages_accepted_total");
  auto durable = metric_sample(response->body, "fpx_durable_commits_total");
  if (!accepted || !durable) return std::nullopt;
  moment.accepted = *accepted;
  moment.durable_commits = *durable;
  for (std::size_t i = 0; i < kStages.size(); ++i) {
    const std::string series = std::string("fpx_stage_cpu_seconds_total{stage=\"") + kStages[i] + "\"}";
    auto seconds = metric_sample(response->body, series);
    if (!seconds) return std::nullopt;
    moment.stage_seconds[i] = *seconds;
  }
  return moment;
}

// A broker frame copied into aligned words (ZeroMQ frames may not be).
struct BrokerReply {
  kj::Array<capnp::word> words;
  capnp::FlatArrayMessageReader reader;
  explicit BrokerReply(const zmq::message_t& frame)
      : words(copy(frame)), reader(words) {}
  static kj::Array<capnp::word> copy(const zmq::message_t& frame) {
    if (frame.size() == 0 || frame.size() % sizeof(capnp::word) != 0) fail("lean: an undecodable broker frame");
    auto words = kj::heapArray<capnp::word>(frame.size() / sizeof(capnp::word));
    std::memcpy(words.begin(), frame.data(), frame.size());
    return words;
  }
  wire::BrokerFrame::Reader root() { return reader.getRoot<wire::BrokerFrame>(); }
};

Bytes frame_bytes(capnp::MallocMessageBuilder& builder) {
  auto flat = capnp::messageToFlatArray(builder);
  auto bytes = flat.asBytes();
  return Bytes(bytes.begin(), bytes.end());
}

// A submit frame whose requestId is the message's index + 1 (0 is the
// broker's for unsolicited frames).
Bytes submit_frame(std::size_t index, const Bytes& envelope) {
  capnp::MallocMessageBuilder builder;
  auto frame = builder.initRoot<wire::ClientFrame>();
  frame.setRequestId(index + 1);
  frame.setSubmit(kj::arrayPtr(envelope.data(), envelope.size()));
  return frame_bytes(builder);
}

zmq::socket_t curve_dealer(zmq::context_t& context, const Identity& identity, const std::string& endpoint,
                           const CurvePublicKey& broker_key) {
  zmq::socket_t socket(context, zmq::socket_type::dealer);
  socket.set(zmq::sockopt::linger, 0);
  // The window bounds what is queued; the high-water marks must not drop
  // or block below it.
  socket.set(zmq::sockopt::sndhwm, 0);
  socket.set(zmq::sockopt::rcvhwm, 0);
  socket.set(zmq::sockopt::curve_serverkey, zmq::const_buffer(broker_key.data(), broker_key.size()));
  const auto& curve = identity.curve();
  socket.set(zmq::sockopt::curve_publickey, zmq::const_buffer(curve.public_key.data(), curve.public_key.size()));
  socket.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(curve.secret_key.data(), curve.secret_key.size()));
  socket.connect(endpoint);
  return socket;
}

// Submits (prepared frames) over one DEALER per sender, recipients that
// confirm every delivery, all pumped by the calling thread.
class LeanLoad {
 public:
  LeanLoad(zmq::context_t& context, const std::string& endpoint, const CurvePublicKey& broker_key,
           const std::vector<Identity>& senders, const std::vector<Identity>& recipients,
           const std::vector<Bytes>& frames, std::size_t window)
      : frames_(frames), window_(window), receipted_at_ns_(frames.size()) {
    for (const auto& identity : senders) senders_.push_back({curve_dealer(context, identity, endpoint, broker_key)});
    for (const auto& identity : recipients) recipients_.push_back(curve_dealer(context, identity, endpoint, broker_key));
  }

  // A ping on every socket, answered: handshakes and ZAP done, every
  // recipient attached as a session (so deliveries flow).
  void handshake() {
    std::size_t waiting = 0;
    auto ping = [&](zmq::socket_t& socket) {
      capnp::MallocMessageBuilder builder;
      auto frame = builder.initRoot<wire::ClientFrame>();
      frame.setRequestId(kPingRequestId);
      frame.setPing();
      const Bytes bytes = frame_bytes(builder);
      socket.send(zmq::buffer(bytes.data(), bytes.size()));
      ++waiting;
    };
    for (auto& sender : senders_) ping(sender.socket);
    for (auto& recipient : recipients_) ping(recipient);
    pongs_ = 0;
    const auto deadline = Clock::now() + kHandshakeTimeout;
    while (pongs_ < waiting) {
      if (Clock::now() > deadline) fail("lean: the broker did not answer every ping (CURVE or ZAP refused?)");
      pump(std::chrono::milliseconds(10));
    }
  }

  // Sends `work[s]` (frame indices) from sender s with at most the window
  // unanswered each; paced by `rate` (total, slot i at start + i / rate,
  // round robin over senders) when rate > 0. Returns when every submit is
  // answered; slot_ns gets each message's slot (or send time).
  void submit(const std::vector<std::vector<std::size_t>>& work, double rate, std::vector<std::int64_t>& slot_ns) {
    std::size_t total = 0;
    for (const auto& list : work) total += list.size();
    std::vector<std::size_t> next(work.size(), 0);
    const auto start = Clock::now() + std::chrono::milliseconds(10);
    const std::int64_t start_ns = to_ns(start);
    std::size_t slot = 0;  // paced: the next slot to send
    const std::int64_t answered_before = answered_;
    const auto deadline = Clock::now() + kPhaseTimeout + std::chrono::duration<double>(rate > 0 ? total / rate : 0);
    while (answered_ - answered_before < static_cast<std::int64_t>(total)) {
      if (Clock::now() > deadline) fail("lean: submits unanswered after the phase timeout");
      if (rate > 0) {
        const std::int64_t now = now_ns();
        while (slot < total) {
          const std::size_t s = slot % work.size();
          const std::size_t n = slot / work.size();
          if (n >= work[s].size()) {  // uneven split: this sender is done
            ++slot;
            continue;
          }
          const std::int64_t at = start_ns + static_cast<std::int64_t>(static_cast<double>(slot) * 1e9 / rate);
          if (at > now || senders_[s].pending >= window_) break;
          if (now - at > kLateNs) ++late_sends_;
          slot_ns[work[s][n]] = at;  // from the slot: a send held back by the window shows as latency
          send(s, work[s][n]);
          ++next[s];
          ++slot;
        }
        std::int64_t wait_ns = 1'000'000;
        if (slot < total) {
          const std::int64_t at = start_ns + static_cast<std::int64_t>(static_cast<double>(slot) * 1e9 / rate);
          wait_ns = std::clamp<std::int64_t>(at - now_ns(), 0, 1'000'000);
        }
        pump(std::chrono::milliseconds(wait_ns >= 1'000'000 ? 1 : 0));
      } else {
        for (std::size_t s = 0; s < work.size(); ++s) {
          while (next[s] < work[s].size() && senders_[s].pending < window_) {
            const std::size_t index = work[s][next[s]++];
            slot_ns[index] = now_ns();
            send(s, index);
          }
        }
        pump(std::chrono::milliseconds(1));
      }
    }
  }

  // Pumps until `target` distinct deliveries have arrived in all.
  void wait_for_deliveries(std::size_t target) {
    const auto deadline = Clock::now() + kPhaseTimeout;
    while (delivered_.size() < target) {
      if (Clock::now() > deadline) {
        fail("lean: only " + std::to_string(delivered_.size()) + " of " + std::to_string(target) +
             " deliveries arrived");
      }
      pump(std::chrono::milliseconds(1));
    }
  }

  // Keeps confirming (resends, late deliveries) for `how_long`.
  void idle(std::chrono::milliseconds how_long) {
    const auto until = Clock::now() + how_long;
    while (Clock::now() < until) pump(std::chrono::milliseconds(5));
  }

  std::int64_t receipted_at_ns(std::size_t index) const { return receipted_at_ns_[index]; }
  std::int64_t late_sends() const { return late_sends_; }
  std::int64_t last_receipt_ns() const { return last_receipt_ns_; }

 private:
  static constexpr std::uint64_t kPingRequestId = ~std::uint64_t{0};
  static constexpr std::int64_t kLateNs = 1'000'000;

  struct Sender {
    zmq::socket_t socket;
    std::size_t pending = 0;
  };

  void send(std::size_t sender, std::size_t index) {
    const Bytes& frame = frames_[index];
    senders_[sender].socket.send(zmq::buffer(frame.data(), frame.size()));
    ++senders_[sender].pending;
  }

  void pump(std::chrono::milliseconds wait) {
    std::vector<zmq_pollitem_t> items;
    for (auto& sender : senders_) items.push_back({sender.socket.handle(), 0, ZMQ_POLLIN, 0});
    for (auto& recipient : recipients_) items.push_back({recipient.handle(), 0, ZMQ_POLLIN, 0});
    zmq::poll(items.data(), items.size(), wait);
    zmq::message_t frame;
    for (auto& sender : senders_) {
      while (sender.socket.recv(frame, zmq::recv_flags::dontwait)) on_sender_frame(sender, frame);
    }
    for (auto& recipient : recipients_) {
      std::vector<std::uint64_t> ids;
      while (recipient.recv(frame, zmq::recv_flags::dontwait)) on_recipient_frame(frame, ids);
      if (!ids.empty()) confirm(recipient, ids);
    }
  }

  void on_sender_frame(Sender& sender, const zmq::message_t& frame) {
    BrokerReply reply(frame);
    auto root = reply.root();
    const std::uint64_t request_id = root.getRequestId();
    if (request_id == kPingRequestId && root.isPong()) {
      ++pongs_;
      return;
    }
    if (root.isReceipt() && request_id >= 1 && request_id <= frames_.size()) {
      const std::int64_t at = now_ns();
      receipted_at_ns_[request_id - 1] = at;
      last_receipt_ns_ = at;
      --sender.pending;
      ++answered_;
      return;
    }
    if (root.isError()) {
      fail("lean: the broker refused a submit (request " + std::to_string(request_id) +
           "): " + root.getError().getMessage().cStr());
    }
    if (root.isSessionClosed()) fail(std::string("lean: session closed: ") + root.getSessionClosed().cStr());
  }

  void on_recipient_frame(const zmq::message_t& frame, std::vector<std::uint64_t>& ids) {
    BrokerReply reply(frame);
    auto root = reply.root();
    if (root.isPong()) {
      ++pongs_;
    } else if (root.isDelivery()) {
      const std::uint64_t id = root.getDelivery().getDeliveryId();
      delivered_.insert(id);
      ids.push_back(id);  // resends are confirmed again; the broker ignores repeats
    } else if (root.isError()) {
      fail(std::string("lean: a recipient was refused: ") + root.getError().getMessage().cStr());
    }
  }

  void confirm(zmq::socket_t& socket, const std::vector<std::uint64_t>& ids) {
    capnp::MallocMessageBuilder builder;
    auto frame = builder.initRoot<wire::ClientFrame>();
    frame.setRequestId(++confirm_request_id_);
    auto list = frame.initConfirm().initDeliveryIds(static_cast<unsigned>(ids.size()));
    for (unsigned i = 0; i < ids.size(); ++i) list.set(i, ids[i]);
    const Bytes bytes = frame_bytes(builder);
    socket.send(zmq::buffer(bytes.data(), bytes.size()));
  }

  const std::vector<Bytes>& frames_;
  std::size_t window_;
  std::vector<Sender> senders_;
  std::vector<zmq::socket_t> recipients_;
  std::vector<std::int64_t> receipted_at_ns_;
  std::unordered_set<std::uint64_t> delivered_;
  std::int64_t answered_ = 0;
  std::size_t pongs_ = 0;
  std::int64_t late_sends_ = 0;
  std::int64_t last_receipt_ns_ = 0;
  std::uint64_t confirm_request_id_ = 1'000'000'000'000;  // apart from the submits' ids
};

// The disk's own fsync latency in the same run, beside the broker's store.
class FsyncProbe {
 public:
  explicit FsyncProbe(const fs::path& file) {
    fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd_ < 0) fail("cannot create the fsync probe file " + file.string());
    // Allocated once, then rewritten in place, as the broker's WAL is.
    const std::vector<char> block(kFsyncProbeBytes, 'f');
    for (std::size_t slot = 0; slot < kFsyncProbeSlots; ++slot) {
      if (::pwrite(fd_, block.data(), block.size(), static_cast<off_t>(slot * kFsyncProbeBytes)) < 0) {
        fail("cannot write the fsync probe file " + file.string());
      }
    }
    ::fsync(fd_);
    thread_ = std::thread([this] { run(); });
  }
  ~FsyncProbe() {
    stop();
    ::close(fd_);
  }
  FsyncProbe(const FsyncProbe&) = delete;
  FsyncProbe& operator=(const FsyncProbe&) = delete;

  // Stops the thread; the samples (ms) stay readable.
  const std::vector<double>& stop() {
    if (thread_.joinable()) {
      stop_ = true;
      thread_.join();
    }
    return samples_ms_;
  }

 private:
  void run() {
    std::vector<char> block(kFsyncProbeBytes, 'p');
    for (std::size_t n = 0; !stop_.load(); ++n) {
      block[0] = static_cast<char>(n);
      const auto start = Clock::now();
      const auto written =
          ::pwrite(fd_, block.data(), block.size(), static_cast<off_t>((n % kFsyncProbeSlots) * kFsyncProbeBytes));
      if (written < 0 || ::fdatasync(fd_) != 0) fail("the fsync probe's write failed");
      samples_ms_.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
      std::this_thread::sleep_for(kFsyncProbeEvery);
    }
  }

  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::vector<double> samples_ms_;
  std::thread thread_;
};

std::int64_t size_or_zero(const fs::path& path) {
  std::error_code error;
  const auto size = fs::file_size(path, error);
  return error ? 0 : static_cast<std::int64_t>(size);
}

// The store's committed content (page_count x page_size, pages still in the
// WAL included), read beside the running broker: the baseline of "stored
// bytes" without the WAL file's reused, stale frames.
std::int64_t store_logical_bytes(const fs::path& database) {
  sqlite3* db = nullptr;
  std::int64_t bytes = 0;
  if (sqlite3_open_v2(database.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()", -1,
                           &statement, nullptr) == SQLITE_OK &&
        sqlite3_step(statement) == SQLITE_ROW) {
      bytes = sqlite3_column_int64(statement, 0);
    }
    sqlite3_finalize(statement);
  }
  sqlite3_close(db);
  if (bytes == 0) fail("cannot read the store's size from " + database.string());
  return bytes;
}

std::string cores_note(bool pinned, int broker_core) {
  if (!pinned) return "not pinned (fewer than 2 cores)";
  return (broker_core >= 0 ? "broker on core " + std::to_string(broker_core) : std::string("broker not pinned")) +
         ", load on core " + std::to_string(kLoadCore);
}

}  // namespace

LeanRun run_lean(const BenchOptions& options) {
  TempDir dir(options.keep_dir ? KeepDir::keep : KeepDir::remove);
  BenchPki pki(dir.path());
  std::vector<std::string> participants = issue_senders_and_recipients(pki, options.senders, options.recipients);
  std::vector<Identity> sender_identities;
  std::vector<Identity> recipient_identities;
  for (int s = 0; s < options.senders; ++s) sender_identities.push_back(pki.identity(sender_id(s)));
  for (int r = 0; r < options.recipients; ++r) recipient_identities.push_back(pki.identity(recipient_id(r)));

  // Everything sealed and framed before any timing (both cores still free).
  const auto senders = static_cast<std::size_t>(options.senders);
  const std::size_t warmup = senders * kWarmupPerSender;
  const auto messages = static_cast<std::size_t>(options.messages);
  const std::size_t paced =
      options.lean_latency ? static_cast<std::size_t>(options.rate * options.latency_seconds) : 0;
  std::vector<Sealer> sealers;
  for (std::size_t s = 0; s < senders; ++s) {
    sealers.emplace_back(sender_identities[s], kSenderCountries[s], sender_id(static_cast<int>(s)));
  }
  LeanRun run;
  std::vector<Bytes> frames;
  frames.reserve(warmup + messages + paced);
  std::size_t envelope_bytes = 0;
  auto seal_phase = [&](std::size_t count) {
    std::vector<std::vector<std::size_t>> work(senders);
    for (std::size_t n = 0; n < count; ++n) {
      const std::size_t s = n % senders;
      const auto to = (n / senders + s) % static_cast<std::size_t>(options.recipients);
      Sealed sealed = sealers[s].seal(kRecipientCountries[to], static_cast<int>(frames.size()));
      envelope_bytes = sealed.envelope.size();
      work[s].push_back(frames.size());
      frames.push_back(submit_frame(frames.size(), sealed.envelope));
      if (run.envelopes.size() < kPeerSample) run.envelopes.push_back(std::move(sealed.envelope));
    }
    return work;
  };
  const auto seal_start = Clock::now();
  const auto warmup_work = seal_phase(warmup);
  const auto throughput_work = seal_phase(messages);
  const auto paced_work = seal_phase(paced);
  std::fprintf(stderr, "# sealed %zu envelopes of %zu bytes (body %zu bytes) in %.1f s\n", frames.size(),
               envelope_bytes, sealers.front().last_body_bytes(),
               std::chrono::duration<double>(Clock::now() - seal_start).count());

  const bool pinned = std::thread::hardware_concurrency() >= 2;
  BrokerSettings settings;
  settings.binary = options.broker_bin;
  settings.log_level = "info";  // the counters line at stop; nothing is logged per message at info
  // --broker-core -1 leaves the broker unpinned: a verify worker then has
  // a second core, shared with the load.
  const int broker_core = pinned && options.broker_core >= 0 ? options.broker_core : -1;
  settings.cpu_core = broker_core;
  settings.verify_workers = options.verify_workers;
  settings.wal_checkpoint_every_ms = options.wal_checkpoint_every_ms;
  settings.group_commit_wait_ms = options.group_commit_wait_ms;
  const int metrics_port = test::unused_loopback_port();
  settings.metrics_listen = "127.0.0.1:" + std::to_string(metrics_port);
  if (options.checkpoint_every_second) settings.log_checkpoint_every_ms = 1000;
  BrokerProcess broker(pki, participants, settings);
  // The witnesses need the log's key, the broker's: it is started again with them.
  std::unique_ptr<BenchWitnesses> witnesses;
  if (options.witnesses > 0) {
    const auto fpx_bin = std::filesystem::path(options.broker_bin).parent_path() / "fpx";
    witnesses = std::make_unique<BenchWitnesses>(fpx_bin, dir.path(), broker.chain_path(), options.witnesses);
    broker.stop();
    broker.append_config(witnesses->broker_toml());
    broker.start();
  }
  std::printf("witnesses %d\n", options.witnesses);
  // The load (this thread, and the ZeroMQ threads started below) on the other core.
  if (pinned && !pin_to_core(kLoadCore)) fail("cannot pin the load to core " + std::to_string(kLoadCore));
  std::fprintf(stderr, "# cores: %s\n", cores_note(pinned, broker_core).c_str());
  std::printf("broker_core %d\nload_core %d\n", broker_core, pinned ? kLoadCore : -1);
  if (options.verify_workers >= 0) std::printf("verify_workers %d\n", options.verify_workers);
  if (options.group_commit_wait_ms >= 0) {
    std::printf("group_commit_wait_ms %lld\n", static_cast<long long>(options.group_commit_wait_ms));
  }
  if (options.wal_checkpoint_every_ms > 0) {
    std::printf("wal_checkpoint_every_ms %lld\n", static_cast<long long>(options.wal_checkpoint_every_ms));
  }

  zmq::context_t context(1);
  std::vector<std::int64_t> slot_ns(frames.size(), 0);
  std::size_t delivered_target = 0;
  double throughput_seconds = 0;
  double broker_cpu = 0;
  std::int64_t written = 0;
  std::int64_t store_before = 0;
  std::vector<double> receipt_ms;
  std::vector<double> fsync_ms;
  double paced_broker_cpu = 0;
  std::int64_t paced_written = 0;
  std::optional<MetricsMoment> throughput_start, throughput_end, paced_end;
  std::int64_t late_sends = 0;
  {
    LeanLoad load(context, broker.endpoint(), broker.curve_public_key(), sender_identities, recipient_identities,
                  frames, static_cast<std::size_t>(options.lean_window));
    load.handshake();
    load.submit(warmup_work, 0, slot_ns);
    delivered_target += warmup;
    load.wait_for_deliveries(delivered_target);
    load.idle(std::chrono::milliseconds(200));

    // The floor, measured on the load's core while the broker is idle.
    run.raw_verify_us = raw_verify_us(sender_identities.front());

    store_before = store_logical_bytes(broker.database());
    throughput_start = scrape_metrics(metrics_port);
    const double cpu_start = broker.cpu_seconds();
    const std::int64_t written_start = write_bytes_of(broker.pid());
    const auto start = Clock::now();
    load.submit(throughput_work, 0, slot_ns);
    throughput_seconds = static_cast<double>(load.last_receipt_ns() - to_ns(start)) / 1e9;
    delivered_target += messages;
    load.wait_for_deliveries(delivered_target);
    load.idle(kSettle);
    broker_cpu = broker.cpu_seconds() - cpu_start;
    written = write_bytes_of(broker.pid()) - written_start;
    throughput_end = scrape_metrics(metrics_port);

    if (paced > 0) {
      FsyncProbe probe(broker.database().parent_path() / "fsync-probe");
      const double paced_cpu_start = broker.cpu_seconds();
      const std::int64_t paced_written_start = write_bytes_of(broker.pid());
      load.submit(paced_work, options.rate, slot_ns);
      fsync_ms = probe.stop();
      delivered_target += paced;
      load.wait_for_deliveries(delivered_target);
      load.idle(kSettle);
      paced_broker_cpu = broker.cpu_seconds() - paced_cpu_start;
      paced_written = write_bytes_of(broker.pid()) - paced_written_start;
      paced_end = scrape_metrics(metrics_port);
      for (const auto& list : paced_work) {
        for (std::size_t index : list) {
          receipt_ms.push_back(static_cast<double>(load.receipted_at_ns(index) - slot_ns[index]) / 1e6);
        }
      }
      late_sends = load.late_sends();
    }
  }
  if (const int status = broker.stop(); status != 0) {
    std::fprintf(stderr, "# fpx-broker exited with status %d (log: %s)\n", status, broker.log_path().c_str());
  }
  // After a clean stop SQLite has checkpointed the WAL into the database.
  const std::int64_t store_after =
      size_or_zero(broker.database()) + size_or_zero(fs::path(broker.database().string() + "-wal"));
  const std::string log = read_text(broker.log_path());

  const double per_msg = 1.0 / static_cast<double>(std::max<std::size_t>(messages, 1));
  run.throughput_msgs_per_s = static_cast<double>(messages) / throughput_seconds;
  run.broker_cpu_us_per_msg = broker_cpu * 1e6 * per_msg;
  std::fprintf(stderr, "# %d senders (window %d), %d recipients, %zu messages flat out, %zu paced at %.0f/s\n",
               options.senders, options.lean_window, options.recipients, messages, paced, options.rate);
  std::fprintf(stderr, "# raw_verify_us %.2f\n", run.raw_verify_us);
  std::fprintf(stderr, "# broker_cpu_us_per_msg %.1f\n", run.broker_cpu_us_per_msg);
  std::fprintf(stderr, "# broker_cpu_share_of_wall %.2f\n", broker_cpu / throughput_seconds);
  std::fprintf(stderr, "# store_bytes before %lld, after stop %lld (database + WAL)\n",
               static_cast<long long>(store_before), static_cast<long long>(store_after));

  std::printf("envelope_bytes %zu\n", envelope_bytes);
  std::printf("verify_per_s_one_core %.0f\n", 1e6 / run.raw_verify_us);
  std::printf("throughput_msgs_per_s %.0f\n", run.throughput_msgs_per_s);
  std::printf("broker_cpu_per_msg_over_verify %.2f\n", run.broker_cpu_us_per_msg / run.raw_verify_us);
  std::printf("bytes_written_per_msg %.0f\n", static_cast<double>(written) * per_msg);
  std::printf("stored_bytes_per_msg %.0f\n",
              static_cast<double>(store_after - store_before) / static_cast<double>(messages + paced));
  // Per phase, from the broker's metrics; the log's lines at stop (whole run) on stderr.
  auto print_phase = [&](const char* prefix, const MetricsMoment& from, const MetricsMoment& to, FILE* out) {
    const double accepted = to.accepted - from.accepted;
    const double commits = to.durable_commits - from.durable_commits;
    if (accepted <= 0) return;
    std::fprintf(out, "%smessages_per_commit %.2f\n", prefix, commits > 0 ? accepted / commits : 0.0);
    for (std::size_t i = 0; i < kStages.size(); ++i) {
      std::fprintf(out, "%sstage_%s_over_verify %.3f\n", prefix, kStages[i],
                   (to.stage_seconds[i] - from.stage_seconds[i]) * 1e6 / accepted / run.raw_verify_us);
    }
  };
  if (throughput_start && throughput_end) {
    print_phase("", *throughput_start, *throughput_end, stdout);
  } else {
    std::printf("messages_per_commit unavailable\nstage_breakdown unavailable\n");
    std::fprintf(stderr, "# the broker's /metrics on port %d could not be read\n", metrics_port);
  }
  if (throughput_end && paced_end) print_phase("# paced: ", *throughput_end, *paced_end, stderr);
  if (const auto counters = parse_counters(log); counters && counters->commits > 0) {
    std::fprintf(stderr, "# broker counters (whole run, warm-up and timers included): accepted %lld, commits %lld\n",
                 static_cast<long long>(counters->accepted), static_cast<long long>(counters->commits));
  }
  if (const auto stages = parse_stage_cpu(log); stages && stages->messages > 0) {
    for (const auto& [name, us] : stages->stage_us) {
      std::fprintf(stderr, "# whole run: stage_%s_over_verify %.3f (per frame decoded)\n", name.c_str(),
                   static_cast<double>(us) / static_cast<double>(stages->messages) / run.raw_verify_us);
    }
  }
  if (paced > 0) {
    const double fsync_p99 = percentile(fsync_ms, 0.99);
    const double receipt_p99 = percentile(receipt_ms, 0.99);
    const double receipt_max = percentile(receipt_ms, 1.0);
    std::fprintf(stderr, "# paced: %zu receipts, %zu fsync probes (p50 %.2f ms), late sends %lld\n",
                 receipt_ms.size(), fsync_ms.size(), percentile(fsync_ms, 0.5), static_cast<long long>(late_sends));
    std::fprintf(stderr, "# paced: broker_cpu_us_per_msg %.1f, bytes_written_per_msg %.0f\n",
                 paced_broker_cpu * 1e6 / static_cast<double>(paced),
                 static_cast<double>(paced_written) / static_cast<double>(paced));
    std::printf("receipt_p50_ms %.2f\n", percentile(receipt_ms, 0.5));
    std::printf("receipt_p99_ms %.2f\n", receipt_p99);
    std::printf("fsync_p99_ms %.2f\n", fsync_p99);
    std::printf("p99_over_fsync_p99 %.2f\n", receipt_p99 / fsync_p99);
    std::printf("receipt_max_ms %.2f\n", receipt_max);
    std::printf("receipt_max_over_fsync_p99 %.2f\n", receipt_max / fsync_p99);
  }
  if (options.witnesses > 0) {
    // Handed to the witnesses -> served with all their cosignatures, read at
    // the loop's timer tick (250 ms): a figure of the witnesses' round trip
    // and the tick, not of the broker's hot path.
    const WitnessRounds rounds = parse_witness_rounds(log, static_cast<std::size_t>(options.witnesses));
    std::printf("witness_checkpoints_cosigned_by_all %zu\n", rounds.complete_ms.size());
    std::printf("witness_checkpoints_missing_some %zu\n", rounds.incomplete);
    if (!rounds.complete_ms.empty()) {
      std::printf("witness_checkpoint_p50_ms %.0f\n", percentile(rounds.complete_ms, 0.5));
      std::printf("witness_checkpoint_max_ms %.0f\n", percentile(rounds.complete_ms, 1.0));
    }
  }
  std::fflush(stdout);
  return run;
}

}  // namespace fpx::bench
