// fpx-bench --peer rabbitmq: a durable peer beside FPX's lean figures.
//
// RabbitMQ's quorum queues with publisher confirms confirm a message only
// once a quorum (here: the one node) has it fsynced in its Raft log, which
// is what FPX's receipt promises. Debian's rabbitmq-server is started as the
// current user in a temp directory (its own node name, Erlang cookie and
// loopback ports, no plugins), pinned to the broker's core; the lean client
// on rabbitmq-c runs on the load's core: one connection per publisher
// (persistent messages, confirms, at most `window` unconfirmed) and one
// consumer per queue (manual acks, as FPX's recipients confirm). No TLS:
// the lean FPX load's CURVE is the broker's only transport cost beside it.
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

#include "bench_support.hpp"
#include "fpx_load.hpp"
#include "lean.hpp"
#include "peer_bench.hpp"

namespace fpx::bench {

namespace {

namespace fs = std::filesystem;

// Debian's script that runs the node in the foreground (the one in
// /usr/sbin switches to the rabbitmq user and its system-wide node).
constexpr const char* kServerScript = "/usr/lib/rabbitmq/bin/rabbitmq-server";
constexpr int kBrokerCore = 0;  // as fpx-bench --lean's broker
constexpr auto kStartTimeout = std::chrono::seconds(90);
constexpr auto kStopTimeout = std::chrono::seconds(30);
constexpr auto kPhaseTimeout = std::chrono::seconds(300);
constexpr int kWarmupPerPublisher = 100;
constexpr std::uint16_t kConsumerPrefetch = 256;
constexpr std::uint64_t kAckEvery = 64;  // consumers ack with multiple=true, as FPX recipients confirm in batches
constexpr amqp_channel_t kChannel = 1;
constexpr int kFrameMax = 131072;
// The settle after a phase, as fpx-bench --lean's (the node's idle CPU in it is small).
constexpr auto kSettle = std::chrono::milliseconds(1500);

void check_reply(amqp_rpc_reply_t reply, const std::string& what) {
  if (reply.reply_type == AMQP_RESPONSE_NORMAL) return;
  if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
    fail("rabbitmq: " + what + ": " + amqp_error_string2(reply.library_error));
  }
  if (reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
      (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD || reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD)) {
    const auto* close = static_cast<amqp_channel_close_t*>(reply.reply.decoded);
    fail("rabbitmq: " + what + ": " +
         std::string(static_cast<const char*>(close->reply_text.bytes), close->reply_text.len));
  }
  fail("rabbitmq: " + what + " failed");
}

// One AMQP connection with channel 1 open.
class Connection {
 public:
  Connection(int port, const std::string& what) : state_(amqp_new_connection()) {
    amqp_socket_t* socket = amqp_tcp_socket_new(state_);
    if (socket == nullptr || amqp_socket_open(socket, "127.0.0.1", port) != AMQP_STATUS_OK) {
      ok_ = false;
      return;
    }
    const auto login = amqp_login(state_, "/", 0, kFrameMax, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest");
    if (login.reply_type != AMQP_RESPONSE_NORMAL) {
      ok_ = false;
      return;
    }
    amqp_channel_open(state_, kChannel);
    check_reply(amqp_get_rpc_reply(state_), what + ": channel.open");
  }
  ~Connection() {
    if (ok_) {
      amqp_channel_close(state_, kChannel, AMQP_REPLY_SUCCESS);
      amqp_connection_close(state_, AMQP_REPLY_SUCCESS);
    }
    amqp_destroy_connection(state_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  bool ok() const { return ok_; }
  amqp_connection_state_t get() const { return state_; }

 private:
  amqp_connection_state_t state_;
  bool ok_ = true;
};

amqp_bytes_t bytes_of(const std::string& text) { return amqp_bytes_t{text.size(), const_cast<char*>(text.data())}; }

// The process name, without its newline.
std::string comm(pid_t pid) {
  std::string name = read_text("/proc/" + std::to_string(pid) + "/comm");
  while (!name.empty() && (name.back() == '\n' || name.back() == ' ')) name.pop_back();
  return name;
}

// The node as a child process: its own directory, ports, node name and cookie.
class RabbitNode {
 public:
  explicit RabbitNode(const fs::path& dir) {
    fs::create_directories(dir / "mnesia");
    fs::create_directories(dir / "log");
    port_ = free_port();
    const int dist_port = free_port();
    // The Erlang cookie is read from $HOME; a fresh random one, so no other
    // node on this machine can join or control ours.
    std::random_device random;
    std::string cookie;
    for (int i = 0; i < 32; ++i) cookie += static_cast<char>('A' + random() % 26);
    write_file(dir / ".erlang.cookie", cookie);
    fs::permissions(dir / ".erlang.cookie", fs::perms::owner_read);
    write_file(dir / "enabled_plugins", "[].\n");  // no management plugin: its CPU is not the queue's
    write_file(dir / "rabbitmq.conf", "log.file.level = warning\nloopback_users.guest = true\n");
    log_ = dir / "server.log";
    const std::string node = "fpxbench" + std::to_string(::getpid()) + "@localhost";
    pid_ = ::fork();
    if (pid_ < 0) fail("fork failed");
    if (pid_ == 0) {
      const int log_fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      ::dup2(log_fd, STDOUT_FILENO);
      ::dup2(log_fd, STDERR_FILENO);
      const std::string home = dir.string();
      ::setenv("HOME", home.c_str(), 1);
      ::setenv("RABBITMQ_MNESIA_BASE", (dir / "mnesia").c_str(), 1);
      ::setenv("RABBITMQ_LOG_BASE", (dir / "log").c_str(), 1);
      ::setenv("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1", 1);
      ::setenv("RABBITMQ_NODE_PORT", std::to_string(port_).c_str(), 1);
      ::setenv("RABBITMQ_DIST_PORT", std::to_string(dist_port).c_str(), 1);
      ::setenv("RABBITMQ_NODENAME", node.c_str(), 1);
      ::setenv("RABBITMQ_ENABLED_PLUGINS_FILE", (dir / "enabled_plugins").c_str(), 1);
      ::setenv("RABBITMQ_CONFIG_FILE", (dir / "rabbitmq.conf").c_str(), 1);
      ::setenv("RABBITMQ_PID_FILE", (dir / "rabbitmq.pid").c_str(), 1);
      // Exec the Erlang VM in place of the script: our child is beam.smp
      // itself, so its CPU is read from its own /proc entry, and SIGTERM
      // stops the node cleanly.
      ::setenv("RUNNING_UNDER_SYSTEMD", "1", 1);
      // fail() exits without destructors: the node must not outlive the bench.
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (!pin_to_core(kBrokerCore)) ::_exit(126);
      ::execl(kServerScript, kServerScript, static_cast<char*>(nullptr));
      ::_exit(127);
    }
    const auto deadline = Clock::now() + kStartTimeout;
    for (;;) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        fail("rabbitmq-server exited at start:\n" + read_text(log_));
      }
      if (port_accepts(port_)) {
        Connection probe(port_, "start");
        if (probe.ok()) break;
      }
      if (Clock::now() > deadline) fail("rabbitmq-server did not accept AMQP logins in time:\n" + read_text(log_));
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    std::fprintf(stderr, "# rabbitmq node %s on 127.0.0.1:%d, process %s (pid %d) on core %d\n", node.c_str(), port_,
                 comm(pid_).c_str(), static_cast<int>(pid_), kBrokerCore);
  }
  ~RabbitNode() { stop(); }
  RabbitNode(const RabbitNode&) = delete;
  RabbitNode& operator=(const RabbitNode&) = delete;

  int port() const { return port_; }
  double cpu_seconds() const { return cpu_seconds_of(pid_); }

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    const auto deadline = Clock::now() + kStopTimeout;
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (Clock::now() > deadline) {
        std::fprintf(stderr, "# rabbitmq-server did not stop in time: killed\n");
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    pid_ = -1;
  }

 private:
  fs::path log_;
  int port_ = 0;
  pid_t pid_ = -1;
};

std::string queue_name(int receiver) { return "fpx-bench-" + recipient_id(receiver); }

void declare_quorum_queue(Connection& connection, const std::string& name) {
  amqp_table_entry_t type;
  type.key = amqp_cstring_bytes("x-queue-type");
  type.value.kind = AMQP_FIELD_KIND_UTF8;
  type.value.value.bytes = amqp_cstring_bytes("quorum");
  const amqp_table_t arguments{1, &type};
  // Quorum queues are durable, never exclusive or auto-deleted.
  amqp_queue_declare(connection.get(), kChannel, bytes_of(name), 0, 1, 0, 0, arguments);
  check_reply(amqp_get_rpc_reply(connection.get()), "declare quorum queue " + name);
}

// Which publishes of one run are confirmed: a confirm may cover one tag or
// every tag up to it (multiple).
class Confirms {
 public:
  explicit Confirms(std::size_t count) : acked_(count + 1, false) {}
  void ack(std::uint64_t tag, bool multiple) {
    if (tag >= acked_.size()) fail("rabbitmq: a confirm for a message never published");
    if (multiple) {
      for (; lowest_ <= tag; ++lowest_) mark(lowest_);
    } else {
      mark(tag);
      while (lowest_ < acked_.size() && acked_[lowest_]) ++lowest_;
    }
  }
  std::size_t confirmed() const { return confirmed_; }

 private:
  void mark(std::uint64_t tag) {
    if (!acked_[tag]) {
      acked_[tag] = true;
      ++confirmed_;
    }
  }
  std::vector<bool> acked_;
  std::uint64_t lowest_ = 1;
  std::size_t confirmed_ = 0;
};

// One publisher: its messages in order, at most `window` unconfirmed.
void publish(int port, int sender, int receivers, const std::vector<const Bytes*>& messages, std::size_t window,
             std::atomic<std::int64_t>& confirmed_total) {
  Connection connection(port, "publisher");
  if (!connection.ok()) fail("rabbitmq: a publisher could not connect");
  amqp_confirm_select(connection.get(), kChannel);
  check_reply(amqp_get_rpc_reply(connection.get()), "confirm.select");
  amqp_basic_properties_t properties{};
  properties._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
  properties.delivery_mode = AMQP_DELIVERY_PERSISTENT;
  std::vector<std::string> queues;
  for (int r = 0; r < receivers; ++r) queues.push_back(queue_name(r));
  Confirms confirms(messages.size());
  std::size_t published = 0;
  const auto deadline = Clock::now() + kPhaseTimeout;
  while (confirms.confirmed() < messages.size()) {
    while (published < messages.size() && published - confirms.confirmed() < window) {
      // Spread over the receivers as FPX's senders spread over recipients.
      const auto& queue = queues[(published + static_cast<std::size_t>(sender)) % queues.size()];
      const Bytes& body = *messages[published];
      const int status = amqp_basic_publish(connection.get(), kChannel, amqp_empty_bytes, bytes_of(queue), 0, 0,
                                            &properties, amqp_bytes_t{body.size(), const_cast<std::uint8_t*>(body.data())});
      if (status != AMQP_STATUS_OK) fail(std::string("rabbitmq: publish: ") + amqp_error_string2(status));
      ++published;
    }
    amqp_frame_t frame;
    timeval timeout{1, 0};
    const int status = amqp_simple_wait_frame_noblock(connection.get(), &frame, &timeout);
    if (status == AMQP_STATUS_TIMEOUT) {
      if (Clock::now() > deadline) fail("rabbitmq: publishes unconfirmed after the phase timeout");
      continue;
    }
    if (status != AMQP_STATUS_OK) fail(std::string("rabbitmq: waiting for confirms: ") + amqp_error_string2(status));
    if (frame.frame_type != AMQP_FRAME_METHOD) continue;
    const auto before = confirms.confirmed();
    if (frame.payload.method.id == AMQP_BASIC_ACK_METHOD) {
      const auto* ack = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
      confirms.ack(ack->delivery_tag, ack->multiple != 0);
    } else if (frame.payload.method.id == AMQP_BASIC_NACK_METHOD) {
      fail("rabbitmq: the broker refused (nack) a publish");
    } else if (frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD) {
      const auto* close = static_cast<amqp_channel_close_t*>(frame.payload.method.decoded);
      fail("rabbitmq: channel closed: " +
           std::string(static_cast<const char*>(close->reply_text.bytes), close->reply_text.len));
    }
    confirmed_total += static_cast<std::int64_t>(confirms.confirmed() - before);
    amqp_maybe_release_buffers(connection.get());
  }
}

// One consumer per queue: manual acks in batches, until stopped.
void consume(int port, int receiver, std::pair<std::size_t, std::size_t> message_bytes, const std::atomic<bool>& stop,
             std::atomic<std::int64_t>& received_total, std::atomic<std::int64_t>& wrong_size) {
  Connection connection(port, "consumer");
  if (!connection.ok()) fail("rabbitmq: a consumer could not connect");
  amqp_basic_qos(connection.get(), kChannel, 0, kConsumerPrefetch, 0);
  check_reply(amqp_get_rpc_reply(connection.get()), "basic.qos");
  amqp_basic_consume(connection.get(), kChannel, bytes_of(queue_name(receiver)), amqp_empty_bytes, 0, 0, 0,
                     amqp_empty_table);
  check_reply(amqp_get_rpc_reply(connection.get()), "basic.consume");
  std::uint64_t last_tag = 0;
  std::uint64_t unacked = 0;
  auto ack = [&] {
    if (unacked == 0) return;
    if (amqp_basic_ack(connection.get(), kChannel, last_tag, 1) != AMQP_STATUS_OK) fail("rabbitmq: basic.ack failed");
    unacked = 0;
  };
  while (!stop.load()) {
    amqp_maybe_release_buffers(connection.get());
    amqp_envelope_t envelope;
    timeval timeout{0, 100'000};
    const auto reply = amqp_consume_message(connection.get(), &envelope, &timeout, 0);
    if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && reply.library_error == AMQP_STATUS_TIMEOUT) {
      ack();
      continue;
    }
    check_reply(reply, "consume");
    // Envelopes differ by a few bytes (serial numbers): any of theirs is right.
    const std::size_t size = envelope.message.body.len;
    if (size < message_bytes.first || size > message_bytes.second) wrong_size.fetch_add(1);
    last_tag = envelope.delivery_tag;
    ++unacked;
    amqp_destroy_envelope(&envelope);
    received_total.fetch_add(1);
    // Ack a batch, or whatever is in hand when nothing more is buffered.
    if (unacked >= kAckEvery || (amqp_data_in_buffer(connection.get()) == 0 && !amqp_frames_enqueued(connection.get()))) {
      ack();
    }
  }
  ack();
}

struct RabbitFigures {
  double confirmed_per_s = 0;
  double broker_cpu_us_per_msg = 0;
};

// One run: fresh connections, `per_publisher` messages from each publisher.
RabbitFigures run_window(RabbitNode& node, const BenchOptions& options, const std::vector<Bytes>& envelopes,
                         std::size_t window, std::size_t per_publisher) {
  const auto [shortest, longest] = std::minmax_element(
      envelopes.begin(), envelopes.end(), [](const Bytes& a, const Bytes& b) { return a.size() < b.size(); });
  const std::pair<std::size_t, std::size_t> message_bytes{shortest->size(), longest->size()};
  std::atomic<bool> stop{false};
  std::atomic<std::int64_t> confirmed{0};
  std::atomic<std::int64_t> received{0};
  std::atomic<std::int64_t> wrong_size{0};
  std::vector<std::thread> consumers;
  for (int r = 0; r < options.recipients; ++r) {
    consumers.emplace_back([&, r] { consume(node.port(), r, message_bytes, stop, received, wrong_size); });
  }
  auto phase = [&](std::size_t count, std::size_t first) {
    std::vector<std::thread> publishers;
    for (int s = 0; s < options.senders; ++s) {
      std::vector<const Bytes*> messages;
      for (std::size_t n = 0; n < count; ++n) {
        messages.push_back(&envelopes[(first + n * static_cast<std::size_t>(options.senders) +
                                       static_cast<std::size_t>(s)) % envelopes.size()]);
      }
      publishers.emplace_back([&, s, messages = std::move(messages)] {
        publish(node.port(), s, options.recipients, messages, window, confirmed);
      });
    }
    for (auto& publisher : publishers) publisher.join();
  };
  auto wait_received = [&](std::int64_t target) {
    const auto deadline = Clock::now() + kPhaseTimeout;
    while (received.load() < target) {
      if (Clock::now() > deadline) fail("rabbitmq: confirmed messages were not all consumed");
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  };
  const auto senders = static_cast<std::int64_t>(options.senders);
  phase(kWarmupPerPublisher, 0);
  wait_received(senders * kWarmupPerPublisher);

  const double cpu_start = node.cpu_seconds();
  const std::int64_t confirmed_start = confirmed.load();
  const auto start = Clock::now();
  phase(per_publisher, static_cast<std::size_t>(senders * kWarmupPerPublisher));
  const double confirm_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const std::int64_t phase_confirmed = confirmed.load() - confirmed_start;
  wait_received(senders * (kWarmupPerPublisher + static_cast<std::int64_t>(per_publisher)));
  std::this_thread::sleep_for(kSettle);
  const double cpu = node.cpu_seconds() - cpu_start;
  stop = true;
  for (auto& consumer : consumers) consumer.join();
  if (wrong_size.load() > 0) fail("rabbitmq: messages arrived with the wrong size");
  if (received.load() != confirmed.load()) {
    std::fprintf(stderr, "# rabbitmq window %zu: %lld confirmed, %lld received\n", window,
                 static_cast<long long>(confirmed.load()), static_cast<long long>(received.load()));
  }
  return {static_cast<double>(phase_confirmed) / confirm_seconds,
          cpu * 1e6 / static_cast<double>(std::max<std::int64_t>(phase_confirmed, 1))};
}

}  // namespace

bool rabbitmq_server_installed() { return fs::exists(kServerScript); }

void run_rabbitmq(const BenchOptions& options, const LeanRun& fpx) {
  TempDir dir(options.keep_dir ? KeepDir::keep : KeepDir::remove);
  RabbitNode node(dir.path());
  {
    Connection setup(node.port(), "setup");
    if (!setup.ok()) fail("rabbitmq: cannot connect to declare the queues");
    for (int r = 0; r < options.recipients; ++r) declare_quorum_queue(setup, queue_name(r));
  }
  const double verify_us = fpx.raw_verify_us;
  const double fpx_beyond = fpx.broker_cpu_us_per_msg - verify_us;
  std::printf("fpx_lean_broker_cpu_us_per_msg %.1f\n", fpx.broker_cpu_us_per_msg);
  std::printf("fpx_lean_broker_cpu_beyond_verify_over_verify %.2f\n", fpx_beyond / verify_us);
  std::printf("rabbitmq_message_bytes %zu\n", fpx.envelopes.front().size());
  for (const int window : options.rabbitmq_windows) {
    // A window of one runs at a round trip per message: fewer messages, the
    // same length of run.
    const std::size_t per_publisher =
        std::max<std::size_t>(static_cast<std::size_t>(options.messages / options.senders) / (window == 1 ? 4 : 1),
                              kWarmupPerPublisher);
    const auto figures = run_window(node, options, fpx.envelopes, static_cast<std::size_t>(window), per_publisher);
    const std::string name = "rabbitmq_w" + std::to_string(window);
    std::printf("%s_confirmed_msgs_per_s %.0f\n", name.c_str(), figures.confirmed_per_s);
    std::printf("%s_broker_cpu_us_per_msg %.1f\n", name.c_str(), figures.broker_cpu_us_per_msg);
    std::printf("%s_broker_cpu_per_msg_over_verify %.2f\n", name.c_str(), figures.broker_cpu_us_per_msg / verify_us);
    std::fflush(stdout);
  }
  std::fprintf(stderr,
               "# one raw Ed25519 verify: %.1f us. FPX's lean broker CPU per message: %.1f us, %.1f beyond its one\n"
               "# verify. RabbitMQ: quorum queues (one node), persistent messages of the FPX envelope's size,\n"
               "# publisher confirms (a confirm means fsynced in the Raft log), consumers with manual acks, no TLS,\n"
               "# no signature checks.\n",
               verify_us, fpx.broker_cpu_us_per_msg, fpx_beyond);
  node.stop();
}

}  // namespace fpx::bench
