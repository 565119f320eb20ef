// fpx-bench --peer nats: nats-server 2.9 with JetStream (file storage) and
// TLS with client certificates, driven by a lean client on libnats (the
// NATS C client): one thread of ours publishes asynchronously; libnats
// reads each connection on a thread of its own (it has no other mode) and
// calls us back with acknowledgements and messages.
#include <memory>
#include <sstream>
#include <thread>

#include <nats/nats.h>

#include "bench_support.hpp"
#include "peer_bench.hpp"
#include "peer_support.hpp"

namespace fpx::bench {

namespace {

namespace fs = std::filesystem;

constexpr const char* kStream = "FPXBENCH";
constexpr const char* kSubjects = "fpx-bench.>";

std::string subject_of(int receiver) { return "fpx-bench." + recipient_id(receiver); }

void check(natsStatus status, const std::string& what) {
  if (status != NATS_OK) {
    fail("nats " + what + ": " + natsStatus_GetText(status) + " (" + nats_GetLastError(nullptr) + ")");
  }
}

class NatsTransport final : public PeerTransport {
 public:
  NatsTransport(PeerLoad& load, const PeerTls& tls, int port, const BenchOptions& options) : load_(load) {
    const std::string url = "tls://127.0.0.1:" + std::to_string(port);
    natsOptions* nats_options = nullptr;
    check(natsOptions_Create(&nats_options), "options");
    check(natsOptions_SetURL(nats_options, url.c_str()), "url");
    check(natsOptions_SetSecure(nats_options, true), "secure");
    check(natsOptions_LoadCATrustedCertificates(nats_options, tls.ca.c_str()), "CA");
    check(natsOptions_LoadCertificatesChain(nats_options, tls.client_cert.c_str(), tls.client_key.c_str()),
          "client certificate");
    // The server certificate names localhost and 127.0.0.1: verification stays on.
    check(natsOptions_SetExpectedHostname(nats_options, "localhost"), "hostname");

    for (int s = 0; s < options.senders; ++s) {
      auto sender = std::make_unique<Sender>();
      sender->self = this;
      sender->index = s;
      check(natsConnection_Connect(&sender->connection, nats_options), "connect");
      jsOptions js_options;
      check(jsOptions_Init(&js_options), "js options");
      // The window bounds what is unfinished; the library's own limit must not bind first.
      js_options.PublishAsync.MaxPending = 4 * options.peer_window;  // acks may trail receipts
      js_options.PublishAsync.AckHandler = &NatsTransport::on_ack;
      js_options.PublishAsync.AckHandlerClosure = sender.get();
      check(natsConnection_JetStream(&sender->js, sender->connection, &js_options), "JetStream context");
      senders_.push_back(std::move(sender));
    }
    create_stream();
    for (int r = 0; r < options.recipients; ++r) {
      auto receiver = std::make_unique<Receiver>();
      receiver->self = this;
      check(natsConnection_Connect(&receiver->connection, nats_options), "connect");
      check(natsConnection_JetStream(&receiver->js, receiver->connection, nullptr), "JetStream context");
      // A durable push consumer per receiver with explicit acks: each
      // message is acknowledged as FPX recipients confirm deliveries.
      jsSubOptions sub_options;
      check(jsSubOptions_Init(&sub_options), "subscription options");
      std::string durable = "r";
      durable.append(std::to_string(r));  // appended: g++ 12 warns falsely on "r" + string
      sub_options.Stream = kStream;
      sub_options.Config.Durable = durable.c_str();
      sub_options.Config.AckPolicy = js_AckExplicit;
      sub_options.ManualAck = true;
      jsErrCode error_code{};
      check(js_Subscribe(&receiver->subscription, receiver->js, subject_of(r).c_str(), &NatsTransport::on_message,
                         receiver.get(), nullptr, &sub_options, &error_code),
            "subscribe (JetStream error " + std::to_string(static_cast<int>(error_code)) + ")");
      receivers_.push_back(std::move(receiver));
    }
    natsOptions_Destroy(nats_options);
  }

  ~NatsTransport() override {
    for (auto& receiver : receivers_) {
      natsSubscription_Destroy(receiver->subscription);
      jsCtx_Destroy(receiver->js);
      natsConnection_Destroy(receiver->connection);
    }
    for (auto& sender : senders_) {
      jsCtx_Destroy(sender->js);
      natsConnection_Destroy(sender->connection);
    }
    nats_Close();
  }

  void publish(int sender, int receiver, const Bytes& message) override {
    check(js_PublishAsync(senders_[static_cast<std::size_t>(sender)]->js, subject_of(receiver).c_str(),
                          message.data(), static_cast<int>(message.size()), nullptr),
          "publish");
  }

  // libnats does its I/O on its own threads: nothing to do but wait.
  void pump(std::chrono::microseconds wait) override {
    if (wait.count() > 0) std::this_thread::sleep_for(wait);
  }

 private:
  struct Sender {
    NatsTransport* self = nullptr;
    int index = 0;
    natsConnection* connection = nullptr;
    jsCtx* js = nullptr;
  };
  struct Receiver {
    NatsTransport* self = nullptr;
    natsConnection* connection = nullptr;
    jsCtx* js = nullptr;
    natsSubscription* subscription = nullptr;
  };

  void create_stream() {
    jsStreamConfig config;
    check(jsStreamConfig_Init(&config), "stream config");
    const char* subjects[] = {kSubjects};
    config.Name = kStream;
    config.Subjects = subjects;
    config.SubjectsLen = 1;
    config.Storage = js_FileStorage;
    jsStreamInfo* info = nullptr;
    jsErrCode error_code{};
    check(js_AddStream(&info, senders_.front()->js, &config, nullptr, &error_code),
          "add stream (JetStream error " + std::to_string(static_cast<int>(error_code)) + ")");
    jsStreamInfo_Destroy(info);
  }

  static void on_ack(jsCtx*, natsMsg* message, jsPubAck* ack, jsPubAckErr* error, void* closure) {
    auto* sender = static_cast<Sender*>(closure);
    if (ack != nullptr) {
      sender->self->load_.on_acked(sender->index);
    } else {
      sender->self->load_.on_error("publish refused: " +
                                   std::string(error != nullptr && error->ErrText ? error->ErrText : "?"));
    }
    natsMsg_Destroy(message);
  }

  static void on_message(natsConnection*, natsSubscription*, natsMsg* message, void* closure) {
    auto* receiver = static_cast<Receiver*>(closure);
    receiver->self->load_.on_received(natsMsg_GetData(message), static_cast<std::size_t>(natsMsg_GetDataLength(message)));
    if (natsMsg_Ack(message, nullptr) != NATS_OK) receiver->self->load_.on_error("ack failed");
    natsMsg_Destroy(message);
  }

  PeerLoad& load_;
  std::vector<std::unique_ptr<Sender>> senders_;
  std::vector<std::unique_ptr<Receiver>> receivers_;
};

}  // namespace

SystemFigures run_nats(const BenchOptions& options, const std::vector<Bytes>& envelopes) {
  TempDir dir(options.keep_dir ? KeepDir::keep : KeepDir::remove);
  const PeerTls tls = make_peer_tls(dir.path() / "tls");
  const int port = free_port();
  std::ostringstream config;
  config << "# written by fpx-bench: JetStream on files, TLS with client certificates\n"
         << "listen: \"127.0.0.1:" << port << "\"\n"
         << "tls {\n  cert_file: \"" << tls.server_cert.string() << "\"\n  key_file: \""
         << tls.server_key.string() << "\"\n  ca_file: \"" << tls.ca.string() << "\"\n  verify: true\n}\n"
         // File storage; nats-server 2.9 syncs it to disk on a timer, never
         // per message before the acknowledgement.
         << "jetstream {\n  store_dir: \"" << (dir.path() / "jetstream").string() << "\"\n}\n";
  const fs::path config_path = dir.path() / "nats-server.conf";
  write_file(config_path, config.str());

  PeerProcess broker({find_binary("nats-server", "nats-server"), "-c", config_path.string()}, dir.path() / "nats-server.log", port);
  PeerLoad load(options, envelopes);
  SystemFigures figures;
  {
    NatsTransport transport(load, tls, port, options);
    figures = load.run("nats", transport, broker);
  }
  broker.stop();
  return figures;
}

}  // namespace fpx::bench
