// fpx-bench --peer mosquitto: mosquitto 2.0 with TLS and client
// certificates, QoS 1 and persistence on, driven by one lean thread over
// libmosquitto (no library threads: our poll() runs every connection).
// mosquitto's own mosquitto_pub/sub tools are slower than the broker and
// would flatter FPX.
#include <poll.h>
#include <pwd.h>
#include <unistd.h>

#include <memory>
#include <sstream>

#include <mosquitto.h>
#include <openssl/ssl.h>

#include "bench_support.hpp"
#include "peer_bench.hpp"
#include "peer_support.hpp"

namespace fpx::bench {

namespace {

namespace fs = std::filesystem;

constexpr int kKeepaliveSeconds = 60;
constexpr int kQos = 1;
// mosquitto's default: beyond this many queued messages per client it drops
// QoS 1 messages it has already acknowledged to their publisher. The
// senders' window (unfinished messages) keeps every queue below it.
constexpr int kMaxQueuedMessages = 1000;

std::string current_user() {
  const passwd* entry = ::getpwuid(::getuid());
  return entry != nullptr ? entry->pw_name : "nobody";
}

std::string topic_of(int receiver) { return "fpx-bench/" + recipient_id(receiver); }

class MosquittoTransport final : public PeerTransport {
 public:
  MosquittoTransport(PeerLoad& load, const PeerTls& tls, int port, const BenchOptions& options)
      : load_(load) {
    mosquitto_lib_init();
    for (int s = 0; s < options.senders; ++s) add(Role::sender, s, tls, options);
    for (int r = 0; r < options.recipients; ++r) add(Role::receiver, r, tls, options);
    for (auto& connection : connections_) {
      // Blocking TCP connect and TLS handshake; CONNACK arrives through pump().
      if (const int rc = mosquitto_connect(connection->mosq, "127.0.0.1", port, kKeepaliveSeconds);
          rc != MOSQ_ERR_SUCCESS) {
        fail("mosquitto_connect: " + std::string(mosquitto_strerror(rc)));
      }
    }
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (!ready()) {
      if (Clock::now() > deadline) fail("mosquitto: clients did not connect and subscribe within 10 s");
      pump(std::chrono::microseconds(1000));
    }
  }

  ~MosquittoTransport() override {
    for (auto& connection : connections_) {
      mosquitto_disconnect(connection->mosq);
      mosquitto_destroy(connection->mosq);
    }
    mosquitto_lib_cleanup();
  }

  void publish(int sender, int receiver, const Bytes& message) override {
    const int rc = mosquitto_publish(connections_[static_cast<std::size_t>(sender)]->mosq, nullptr,
                                     topic_of(receiver).c_str(), static_cast<int>(message.size()), message.data(),
                                     kQos, false);
    if (rc != MOSQ_ERR_SUCCESS) fail("mosquitto_publish: " + std::string(mosquitto_strerror(rc)));
  }

  void pump(std::chrono::microseconds wait) override {
    fds_.resize(connections_.size());
    for (std::size_t i = 0; i < connections_.size(); ++i) {
      mosquitto* mosq = connections_[i]->mosq;
      fds_[i] = {mosquitto_socket(mosq), static_cast<short>(POLLIN | (mosquitto_want_write(mosq) ? POLLOUT : 0)), 0};
    }
    const timespec timeout{0, static_cast<long>(wait.count()) * 1000};
    if (::ppoll(fds_.data(), fds_.size(), &timeout, nullptr) < 0 && errno != EINTR) fail("ppoll failed");
    for (std::size_t i = 0; i < connections_.size(); ++i) {
      mosquitto* mosq = connections_[i]->mosq;
      if ((fds_[i].revents & (POLLIN | POLLERR | POLLHUP)) != 0) {
        // OpenSSL may hold a decrypted record the socket no longer signals.
        auto* ssl = static_cast<SSL*>(mosquitto_ssl_get(mosq));
        do {
          check(mosquitto_loop_read(mosq, 1), "read");
        } while (ssl != nullptr && SSL_pending(ssl) > 0);
      }
      if ((fds_[i].revents & POLLOUT) != 0) check(mosquitto_loop_write(mosq, 1), "write");
      check(mosquitto_loop_misc(mosq), "keepalive");
    }
  }

 private:
  enum class Role { sender, receiver };
  struct Connection {
    MosquittoTransport* self = nullptr;
    Role role = Role::sender;
    int index = 0;
    mosquitto* mosq = nullptr;
    bool connected = false;
    bool subscribed = false;
  };

  void add(Role role, int index, const PeerTls& tls, const BenchOptions& options) {
    auto connection = std::make_unique<Connection>();
    connection->self = this;
    connection->role = role;
    connection->index = index;
    // Receivers keep their session (clean_session false): queued QoS 1
    // messages wait for them, as FPX keeps deliveries for its recipients.
    const std::string id = (role == Role::sender ? sender_id(index) : recipient_id(index));
    connection->mosq = mosquitto_new(id.c_str(), role == Role::sender, connection.get());
    if (connection->mosq == nullptr) fail("mosquitto_new failed");
    mosquitto* mosq = connection->mosq;
    check(mosquitto_tls_set(mosq, tls.ca.c_str(), nullptr, tls.client_cert.c_str(), tls.client_key.c_str(), nullptr),
          "tls_set");
    // The window bounds what is unfinished; the library's own limit must not bind first.
    check(mosquitto_max_inflight_messages_set(mosq, static_cast<unsigned>(options.peer_window)), "inflight");
    mosquitto_connect_callback_set(mosq, [](mosquitto* m, void* data, int rc) {
      auto* self = static_cast<Connection*>(data);
      if (rc != 0) fail("mosquitto refused the connection: " + std::string(mosquitto_connack_string(rc)));
      self->connected = true;
      if (self->role == Role::receiver) {
        self->self->check(mosquitto_subscribe(m, nullptr, topic_of(self->index).c_str(), kQos), "subscribe");
      }
    });
    mosquitto_subscribe_callback_set(mosq, [](mosquitto*, void* data, int, int, const int*) {
      static_cast<Connection*>(data)->subscribed = true;
    });
    // PUBACK from the broker: the message is acknowledged.
    mosquitto_publish_callback_set(mosq, [](mosquitto*, void* data, int) {
      auto* self = static_cast<Connection*>(data);
      self->self->load_.on_acked(self->index);
    });
    mosquitto_message_callback_set(mosq, [](mosquitto*, void* data, const mosquitto_message* message) {
      static_cast<Connection*>(data)->self->load_.on_received(message->payload,
                                                              static_cast<std::size_t>(message->payloadlen));
    });
    connections_.push_back(std::move(connection));
  }

  bool ready() const {
    for (const auto& connection : connections_) {
      if (!connection->connected || (connection->role == Role::receiver && !connection->subscribed)) return false;
    }
    return true;
  }

  void check(int rc, const char* what) {
    if (rc != MOSQ_ERR_SUCCESS) fail(std::string("mosquitto ") + what + ": " + mosquitto_strerror(rc));
  }

  PeerLoad& load_;
  std::vector<std::unique_ptr<Connection>> connections_;
  std::vector<pollfd> fds_;
};

}  // namespace

SystemFigures run_mosquitto(const BenchOptions& options, const std::vector<Bytes>& envelopes) {
  TempDir dir(options.keep_dir ? KeepDir::keep : KeepDir::remove);
  const PeerTls tls = make_peer_tls(dir.path() / "tls");
  const int port = free_port();
  const fs::path store = dir.path() / "store";
  fs::create_directories(store);
  std::ostringstream config;
  config << "# written by fpx-bench: TLS with client certificates, QoS 1 persistence\n"
         << "per_listener_settings false\n"
         << "listener " << port << " 127.0.0.1\n"
         << "cafile " << tls.ca.string() << "\ncertfile " << tls.server_cert.string() << "\nkeyfile "
         << tls.server_key.string() << "\n"
         << "require_certificate true\nuse_identity_as_username true\nallow_anonymous false\n"
         // Persistence on: the in-memory state is saved to disk every
         // autosave_interval seconds (the default, written out) and at exit,
         // never per message before its PUBACK.
         << "persistence true\npersistence_location " << store.string() << "/\nautosave_interval 1800\n"
         << "max_queued_messages " << kMaxQueuedMessages << "\n"
         << "log_dest stderr\nlog_type error\nlog_type warning\n"
         // As root mosquitto would switch to the `mosquitto` user, which cannot read our keys.
         << "user " << current_user() << "\n";
  const fs::path config_path = dir.path() / "mosquitto.conf";
  write_file(config_path, config.str());

  PeerProcess broker({find_binary("mosquitto", "mosquitto"), "-c", config_path.string()}, dir.path() / "mosquitto.log", port);
  PeerLoad load(options, envelopes);
  SystemFigures figures;
  {
    MosquittoTransport transport(load, tls, port, options);
    figures = load.run("mosquitto", transport, broker);
  }
  broker.stop();
  return figures;
}

}  // namespace fpx::bench
