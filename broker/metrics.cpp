#include "fpx/broker/metrics.hpp"

#include "fpx/broker/config.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <iterator>
#include <mutex>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <httplib.h>
#include <spdlog/spdlog.h>

#include "fpx/broker/broker.hpp"
#include "fpx/certificate.hpp"

namespace fpx::broker {

namespace {

struct CounterInfo {
  const char* name;
  const char* help;
};

// In BrokerCounters' order (publish copies them in this order).
constexpr std::array<CounterInfo, 14> kCounters = {{
    {"fpx_messages_accepted_total", "Submitted messages accepted and stored (receipted)."},
    {"fpx_duplicates_total", "Resent messages answered with their first receipt."},
    {"fpx_refused_total", "Requests refused with a typed error, every stage."},
    {"fpx_rate_limited_total", "Requests refused by the per-participant token bucket or byte budget."},
    {"fpx_deliveries_sent_total", "Deliveries sent to recipients' sessions, resends included."},
    {"fpx_deliveries_confirmed_total", "Deliveries confirmed by their recipients."},
    {"fpx_dead_letters_total", "Deliveries not confirmed before their message's hold time ended."},
    {"fpx_zap_refusals_total", "CURVE keys refused by the ZAP handler (not enrolled)."},
    {"fpx_handshake_failures_total", "Failed CURVE handshakes on either endpoint."},
    {"fpx_sessions_taken_over_total", "Sessions replaced by a newer connection of the same certificate."},
    {"fpx_internal_errors_total", "Internal errors (store failures, library exceptions) the broker survived."},
    {"fpx_commits_total", "Store transactions committed by the loop."},
    {"fpx_durable_commits_total", "Batches whose receipts waited for an fsync (messages per group commit: accepted over these)."},
    {"fpx_observer_replies_dropped_total", "Observer replies dropped because its send queue was full."},
}};

std::uint64_t load(const std::atomic<std::uint64_t>& value) { return value.load(std::memory_order_relaxed); }

void append_histogram(std::string& out, const char* name, const char* help, const LatencyHistogram& histogram) {
  const auto snapshot = histogram.snapshot();
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} histogram\n", name, escape_help(help), name);
  for (std::size_t i = 0; i < kLatencyBucketsSeconds.size(); ++i) {
    fmt::format_to(std::back_inserter(out), "{}_bucket{{le=\"{}\"}} {}\n", name,
                   escape_label_value(fmt::format("{}", kLatencyBucketsSeconds[i])), snapshot.cumulative[i]);
  }
  const std::uint64_t count = snapshot.cumulative.back();
  fmt::format_to(std::back_inserter(out), "{}_bucket{{le=\"+Inf\"}} {}\n{}_sum {}\n{}_count {}\n", name, count, name,
                 snapshot.sum_seconds, name, count);
}

void append_gauge(std::string& out, const char* name, const char* help, double value) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} gauge\n{} {}\n", name, escape_help(help), name,
                 name, value);
}

}  // namespace

void LatencyHistogram::observe(std::chrono::nanoseconds elapsed) {
  const std::int64_t ns = std::max<std::int64_t>(0, elapsed.count());
  const double seconds = static_cast<double>(ns) / 1e9;
  std::size_t bucket = 0;
  while (bucket < kLatencyBucketsSeconds.size() && seconds > kLatencyBucketsSeconds[bucket]) ++bucket;
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<std::uint64_t>(ns), std::memory_order_relaxed);
}

LatencyHistogram::Snapshot LatencyHistogram::snapshot() const {
  Snapshot snapshot;
  std::uint64_t running = 0;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    running += load(buckets_[i]);
    snapshot.cumulative[i] = running;
  }
  snapshot.sum_seconds = static_cast<double>(load(sum_ns_)) / 1e9;
  return snapshot;
}

void BrokerMetrics::publish(const BrokerCounters& c, const LoopGauges& gauges) {
  const std::array<std::uint64_t, kCounterCount> values = {
      c.accepted,         c.duplicates,          c.refused,   c.rate_limited, c.deliveries_sent,
      c.deliveries_confirmed, c.dead_letters,    c.zap_refused, c.handshake_failures, c.sessions_taken_over,
      c.internal_errors,  c.commits,             c.durable_commits, c.observer_replies_dropped};
  for (std::size_t i = 0; i < kCounterCount; ++i) counters_[i].store(values[i], std::memory_order_relaxed);
  pending_writes_.store(gauges.pending_writes, std::memory_order_relaxed);
  sessions_.store(gauges.sessions, std::memory_order_relaxed);
  in_flight_.store(gauges.in_flight, std::memory_order_relaxed);
  backlog_.store(gauges.backlog, std::memory_order_relaxed);
  broker_not_after_ms_.store(gauges.broker_certificate_not_after_ms, std::memory_order_relaxed);
  root_not_after_ms_.store(gauges.root_certificate_not_after_ms, std::memory_order_relaxed);
  crl_next_update_ms_.store(gauges.crl_next_update_ms, std::memory_order_relaxed);
  messages_decoded_.store(gauges.messages_decoded, std::memory_order_relaxed);
  for (std::size_t i = 0; i < kStageTimerCount; ++i) {
    stage_cpu_us_[i].store(gauges.stage_cpu_us[i], std::memory_order_relaxed);
  }
  published_.store(true, std::memory_order_release);
}

void BrokerMetrics::receipts_sent(std::size_t count) {
  const auto elapsed = std::chrono::steady_clock::now() - batch_received_;
  for (std::size_t i = 0; i < count; ++i) receipt_latency.observe(elapsed);
}

std::string BrokerMetrics::render(std::int64_t now_ms) const {
  std::string out;
  out.reserve(8192);
  for (std::size_t i = 0; i < kCounterCount; ++i) {
    fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} counter\n{} {}\n", kCounters[i].name,
                   escape_help(kCounters[i].help), kCounters[i].name, kCounters[i].name, load(counters_[i]));
  }
  fmt::format_to(std::back_inserter(out), "# HELP fpx_messages_decoded_total {}\n# TYPE fpx_messages_decoded_total "
                 "counter\nfpx_messages_decoded_total {}\n",
                 escape_help("Frames decoded from the participants endpoint (the stage cpu line's messages)."),
                 load(messages_decoded_));
  static constexpr std::array<const char*, kStageTimerCount> kStageNames = {
      "decode", "open", "authorize", "validate", "dedupe", "persist", "receipt", "account", "commit", "route"};
  out += "# HELP fpx_stage_cpu_seconds_total Thread CPU time per stage since start, verify workers' included, "
         "estimated from a random one pass in 16.\n"
         "# TYPE fpx_stage_cpu_seconds_total counter\n";
  for (std::size_t i = 0; i < kStageTimerCount; ++i) {
    fmt::format_to(std::back_inserter(out), "fpx_stage_cpu_seconds_total{{stage=\"{}\"}} {}\n",
                   escape_label_value(kStageNames[i]),
                   static_cast<double>(stage_cpu_us_[i].load(std::memory_order_relaxed)) / 1e6);
  }
  append_histogram(out, "fpx_receipt_latency_seconds",
                   "Submit frame read off the socket (its batch's turn) to its receipt sent after the durable commit.",
                   receipt_latency);
  append_histogram(out, "fpx_delivery_latency_seconds", "A delivery first sent to a session to its confirmation.",
                   delivery_latency);
  append_histogram(out, "fpx_store_commit_seconds", "Time in Store::commit(): the group commit and its fsync.",
                   commit_time);
  append_gauge(out, "fpx_pending_writes", "Audit rows and delivery marks waiting for the next transaction.",
               static_cast<double>(load(pending_writes_)));
  append_gauge(out, "fpx_sessions", "Live participant sessions (one per certificate).",
               static_cast<double>(load(sessions_)));
  append_gauge(out, "fpx_deliveries_in_flight", "Deliveries sent and not yet confirmed, over every session.",
               static_cast<double>(load(in_flight_)));
  append_gauge(out, "fpx_batch_backlog", "Messages read but held for the next batch (limits.batch_share).",
               static_cast<double>(load(backlog_)));
  auto seconds_until = [&](std::int64_t at_ms) { return static_cast<double>(at_ms - now_ms) / 1000.0; };
  const char* expiry = "fpx_certificate_expiry_seconds";
  fmt::format_to(std::back_inserter(out),
                 "# HELP {} {}\n# TYPE {} gauge\n{}{{certificate=\"{}\"}} {}\n{}{{certificate=\"{}\"}} {}\n", expiry,
                 escape_help("Seconds until the certificate's notAfter (negative: expired)."), expiry, expiry,
                 escape_label_value("broker"), seconds_until(broker_not_after_ms_.load(std::memory_order_relaxed)),
                 expiry, escape_label_value("root_ca"),
                 seconds_until(root_not_after_ms_.load(std::memory_order_relaxed)));
  const std::int64_t crl = crl_next_update_ms_.load(std::memory_order_relaxed);
  if (crl != 0) {
    append_gauge(out, "fpx_crl_next_update_seconds",
                 "Seconds until the earliest nextUpdate of the loaded CRLs; past it the broker refuses (fail-closed).",
                 seconds_until(crl));
  }
  append_gauge(out, "fpx_metrics_published", "1 once the loop has published its first values.",
               published_.load(std::memory_order_acquire) ? 1 : 0);
  return out;
}

std::string escape_help(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string escape_label_value(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '"') out += "\\\"";
    else out += c;
  }
  return out;
}

namespace {

// One scrape thread; past kMaxQueuedScrapes waiting connections the
// listening thread serves the next itself (cpp-httplib 0.11's TaskQueue
// cannot refuse a job: a dropped one would leak its socket), so accepting
// pauses and the kernel's listen backlog holds the rest.
class BoundedScrapeQueue final : public httplib::TaskQueue {
 public:
  BoundedScrapeQueue() : worker_([this] { run(); }) {}
  ~BoundedScrapeQueue() override { shutdown(); }

  void enqueue(std::function<void()> job) override {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      if (!stopping_ && jobs_.size() < kMaxQueuedScrapes) {
        jobs_.push_back(std::move(job));
        ready_.notify_one();
        return;
      }
    }
    job();
  }

  void shutdown() override {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      if (stopping_) return;
      stopping_ = true;
    }
    ready_.notify_all();
    if (worker_.joinable()) worker_.join();
  }

 private:
  void run() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        ready_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty()) return;  // stopping, and every accepted connection served
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }

  std::mutex mutex_;  // the scrape threads' own: the broker's loop never takes it
  std::condition_variable ready_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::thread worker_;
};

// cpp-httplib 0.11 bounds each header line (8 KiB) and the request line,
// but not how many header lines a request has: a peer sending header lines
// without end makes the scrape thread read (and keep, in Request::headers)
// all of them. These bound the whole request instead.
//
// Every byte read from one connection: the request line (at most 8 KiB, a
// longer one gets 414) and a scraper's handful of headers fit with room to
// spare; past it the read fails, cpp-httplib answers 400 and the connection
// is closed. There is no body to read (kMaxMetricsRequestBodyBytes = 0).
constexpr std::size_t kMaxMetricsRequestBytes = 16 * 1024;
// The whole request must arrive within this: kMetricsReadTimeout bounds
// each wait, not their sum, so a peer dripping one byte per 1.9 s would
// otherwise hold the one scrape thread for hours within the byte budget.
constexpr std::chrono::seconds kMaxMetricsRequestTime{10};

// A connection's socket as cpp-httplib's Stream, reading at most
// kMaxMetricsRequestBytes before kMaxMetricsRequestTime has passed.
class BudgetedSocketStream final : public httplib::Stream {
 public:
  BudgetedSocketStream(int socket, std::chrono::milliseconds read_timeout, std::chrono::milliseconds write_timeout)
      : socket_(socket),
        read_timeout_(read_timeout),
        write_timeout_(write_timeout),
        deadline_(std::chrono::steady_clock::now() + kMaxMetricsRequestTime) {}

  bool is_readable() const override { return remaining_ > 0 && wait_for(POLLIN, read_wait()); }
  bool is_writable() const override { return wait_for(POLLOUT, write_timeout_); }

  ssize_t read(char* ptr, std::size_t size) override {
    if (remaining_ == 0 || !wait_for(POLLIN, read_wait())) return -1;
    const std::size_t wanted = std::min(size, remaining_);
    ssize_t got = -1;
    do {
      got = ::recv(socket_, ptr, wanted, 0);
    } while (got < 0 && errno == EINTR);
    if (got > 0) remaining_ -= static_cast<std::size_t>(got);
    return got;
  }

  ssize_t write(const char* ptr, std::size_t size) override {
    if (!wait_for(POLLOUT, write_timeout_)) return -1;
    ssize_t sent = -1;
    do {
      sent = ::send(socket_, ptr, size, MSG_NOSIGNAL);
    } while (sent < 0 && errno == EINTR);
    return sent;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override { address_of(::getpeername, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { address_of(::getsockname, ip, port); }
  ::socket_t socket() const override { return socket_; }

 private:
  // The read timeout, cut short by what is left of the request's deadline.
  std::chrono::milliseconds read_wait() const {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ -
                                                                            std::chrono::steady_clock::now());
    return std::max(std::chrono::milliseconds(0), std::min(read_timeout_, left));
  }

  bool wait_for(short events, std::chrono::milliseconds timeout) const {
    pollfd watched{socket_, events, 0};
    int ready = 0;
    do {
      ready = ::poll(&watched, 1, static_cast<int>(timeout.count()));
    } while (ready < 0 && errno == EINTR);
    return ready > 0 && (watched.revents & (events | POLLHUP | POLLERR)) != 0;
  }

  template <typename Lookup>
  void address_of(Lookup lookup, std::string& ip, int& port) const {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    ip.clear();
    port = 0;
    if (lookup(socket_, reinterpret_cast<sockaddr*>(&address), &length) != 0) return;
    char text[INET6_ADDRSTRLEN] = {};
    if (address.ss_family == AF_INET) {
      const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address);
      ::inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
      port = ntohs(v4->sin_port);
    } else if (address.ss_family == AF_INET6) {
      const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address);
      ::inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
      port = ntohs(v6->sin6_port);
    }
    ip = text;
  }

  int socket_;
  std::chrono::milliseconds read_timeout_;
  std::chrono::milliseconds write_timeout_;
  std::chrono::steady_clock::time_point deadline_;
  std::size_t remaining_ = kMaxMetricsRequestBytes;
};

// cpp-httplib's server with each connection read through a
// BudgetedSocketStream: one request per connection (as
// set_keep_alive_max_count(1) asked), then the socket is closed.
class BoundedRequestServer final : public httplib::Server {
 private:
  bool process_and_close_socket(::socket_t socket) override {
    BudgetedSocketStream stream(socket, kMetricsReadTimeout, kMetricsReadTimeout);
    bool connection_closed = false;
    const bool served = process_request(stream, /*close_connection=*/true, connection_closed, nullptr);
    ::shutdown(socket, SHUT_RDWR);
    ::close(socket);
    return served;
  }
};

}  // namespace

struct MetricsServer::State {
  BoundedRequestServer server;
  std::thread listener;
  int port = 0;
};

MetricsServer::MetricsServer(std::unique_ptr<State> state) : state_(std::move(state)) {}

MetricsServer::~MetricsServer() {
  state_->server.stop();
  if (state_->listener.joinable()) state_->listener.join();
}

int MetricsServer::port() const { return state_->port; }

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const std::string& listen, const BrokerMetrics& metrics) {
  auto address = parse_listen_address(listen);
  if (!address) return std::move(address).take_error();
  auto state = std::make_unique<State>();
  auto& server = state->server;
  // cpp-httplib owns (and deletes) the queue it asks for: its API, not ours.
  server.new_task_queue = [] { return new BoundedScrapeQueue(); };
  server.set_payload_max_length(kMaxMetricsRequestBodyBytes);
  server.set_read_timeout(kMetricsReadTimeout);
  server.set_write_timeout(kMetricsReadTimeout);
  // One request per connection: a scraper holding a connection open would
  // otherwise keep the one scrape thread for its keep-alive time.
  // The number of header lines is bounded by BoundedRequestServer (the
  // bytes and time of the whole request), which cpp-httplib 0.11 does not do.
  server.set_keep_alive_max_count(1);
  server.Get("/metrics", [&metrics](const httplib::Request&, httplib::Response& response) {
    response.set_content(metrics.render(fpx::now_ms()), "text/plain; version=0.0.4; charset=utf-8");
  });
  // Every other method on /metrics: 405 with the one allowed.
  auto not_allowed = [](const httplib::Request&, httplib::Response& response) {
    response.status = 405;
    response.set_header("Allow", "GET");
  };
  server.Post("/metrics", not_allowed);
  server.Put("/metrics", not_allowed);
  server.Delete("/metrics", not_allowed);
  server.Patch("/metrics", not_allowed);
  server.Options("/metrics", not_allowed);
  if (address->port == 0) {
    state->port = server.bind_to_any_port(address->host);
  } else if (server.bind_to_port(address->host, address->port)) {
    state->port = address->port;
  }
  if (state->port <= 0) {
    return make_error(ErrorCode::unavailable, "cannot listen for metrics on " + listen +
                                                  ": is the port taken? Set [metrics] listen to a free HOST:PORT, "
                                                  "or \"\" to disable metrics");
  }
  State* raw = state.get();
  state->listener = std::thread([raw] { raw->server.listen_after_bind(); });
  // stop() before the listener runs would be lost and the join would hang:
  // hand the server out only once it accepts.
  for (int waited_ms = 0; !state->server.is_running() && waited_ms < 5000; ++waited_ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(state)));
}

}  // namespace fpx::broker
