// The witness's HTTP server and its configuration file.
#include "fpx/witness_server.hpp"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <toml++/toml.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <thread>

#include "fpx/cosignature.hpp"
#include "fpx/split_view_evidence.hpp"
#include "fpx/witness_state.hpp"

namespace fpx::witness {

namespace {

// Distinct conflicting checkpoints kept as evidence per run. Each needs a
// note the log signed, so only the log (or a replay of what it signed) can
// cause one; this bounds the disk a replay of every old checkpoint can fill.
constexpr std::size_t kMaxEvidenceFilesPerRun = 1024;
// Logs one witness follows: each is a row of state and a line of config.
constexpr std::size_t kMaxWitnessedLogs = 1024;

// httplib's ThreadPool queues without bound. This one makes the accept loop
// wait once `max_waiting` connections wait for a thread: then the kernel's
// listen backlog fills and further connections are refused, instead of the
// witness holding an unbounded number of open sockets.
class BoundedThreadPool final : public httplib::TaskQueue {
 public:
  BoundedThreadPool(std::size_t threads, std::size_t max_waiting) : max_waiting_(max_waiting) {
    for (std::size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
  }
  ~BoundedThreadPool() override { shutdown(); }

  void enqueue(std::function<void()> fn) override {
    std::unique_lock lock(mutex_);
    room_.wait(lock, [&] { return jobs_.size() < max_waiting_ || stopping_; });
    if (stopping_) {
      lock.unlock();
      fn();  // closes the socket; the process is stopping
      return;
    }
    jobs_.push_back(std::move(fn));
    ready_.notify_one();
  }

  void shutdown() override {
    {
      std::lock_guard lock(mutex_);
      if (stopping_ && workers_.empty()) return;
      stopping_ = true;
    }
    ready_.notify_all();
    room_.notify_all();
    for (auto& worker : workers_) {
      if (worker.joinable()) worker.join();
    }
    workers_.clear();
  }

 private:
  void work() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [&] { return !jobs_.empty() || stopping_; });
        if (jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
        room_.notify_one();
      }
      job();
    }
  }

  const std::size_t max_waiting_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::condition_variable room_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> workers_;
  bool stopping_ = false;
};

WitnessAnswer plain(int status, std::string text) {
  WitnessAnswer answer;
  answer.status = status;
  answer.body = std::move(text) + "\n";
  return answer;
}

std::uint64_t now_seconds() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

Error config_error(const std::filesystem::path& file, const std::string& key, const std::string& what) {
  return make_error(ErrorCode::invalid_argument,
                    file.string() + ": " + key + ": " + what + "; see README.md, \"Running a witness\"");
}

}  // namespace

Result<WitnessConfig> load_witness_config(const std::filesystem::path& file) {
  toml::table table;
  try {
    table = toml::parse_file(file.string());
  } catch (const toml::parse_error& error) {
    return make_error(ErrorCode::invalid_argument, "cannot read the witness configuration " + file.string() + ": " +
                                                       std::string(error.description()) +
                                                       "; `fpx witness init DIR` writes one");
  }
  const auto base = file.parent_path();
  const auto relative = [&](const std::string& path) {
    const std::filesystem::path p(path);
    return p.is_absolute() ? p : base / p;
  };
  WitnessConfig config;
  const auto text = [&](const char* key) { return table.at_path(key).value_or(std::string()); };
  config.name = text("witness.name");
  if (!valid_note_key_name(config.name)) {
    return config_error(file, "witness.name", "must be a name without spaces or '+', e.g. witness.cso.example/w1");
  }
  if (text("witness.key").empty()) return config_error(file, "witness.key", "missing (the witness's key file)");
  config.key_file = relative(text("witness.key"));
  if (const auto passphrase_file = text("witness.passphrase_file"); !passphrase_file.empty()) {
    config.passphrase = PassphraseSource::from_file(relative(passphrase_file).string());
  } else if (const auto passphrase_env = text("witness.passphrase_env"); !passphrase_env.empty()) {
    config.passphrase = PassphraseSource::from_environment(passphrase_env);
  }
  const auto listen = text("witness.listen");
  if (!listen.empty()) {
    const auto colon = listen.rfind(':');
    if (colon == std::string::npos) return config_error(file, "witness.listen", "must be HOST:PORT");
    config.listen_host = listen.substr(0, colon);
    try {
      config.listen_port = std::stoi(listen.substr(colon + 1));
    } catch (const std::exception&) {
      return config_error(file, "witness.listen", "the port is not a number");
    }
    if (config.listen_port < 0 || config.listen_port > 65535) {
      return config_error(file, "witness.listen", "the port is not between 0 and 65535");
    }
  }
  config.state_file = relative(text("witness.state").empty() ? "witness.sqlite" : text("witness.state"));
  config.evidence_dir = relative(text("witness.evidence_dir").empty() ? "evidence" : text("witness.evidence_dir"));
  if (const auto threads = table.at_path("witness.threads").value<std::int64_t>()) {
    if (*threads < 1 || *threads > 64) return config_error(file, "witness.threads", "must be between 1 and 64");
    config.threads = static_cast<std::size_t>(*threads);
  }
  const auto* logs = table.at_path("log").as_array();
  if (logs == nullptr || logs->empty()) {
    return config_error(file, "[[log]]", "no log to follow: add [[log]] origin = \"...\" vkey = \"...\"");
  }
  if (logs->size() > kMaxWitnessedLogs) {
    return config_error(file, "[[log]]", "more than " + std::to_string(kMaxWitnessedLogs) + " logs");
  }
  std::set<std::string> origins;
  for (const auto& node : *logs) {
    const auto* entry = node.as_table();
    if (entry == nullptr) return config_error(file, "[[log]]", "must be tables");
    const auto origin = (*entry)["origin"].value_or(std::string());
    const auto vkey = (*entry)["vkey"].value_or(std::string());
    if (!valid_note_key_name(origin)) return config_error(file, "log.origin", "missing or not a valid origin");
    auto key = parse_verifier_key(vkey);
    if (!key) return config_error(file, "log.vkey of " + origin, key.error().message);
    if (key->type != NoteSignatureType::ed25519) {
      return config_error(file, "log.vkey of " + origin,
                          "not a log's key (type 1); `fpx witness log-key --broker-cert chain.pem` prints it");
    }
    if (!origins.insert(origin).second) return config_error(file, "log.origin", origin + " is listed twice");
    config.logs.push_back({origin, *key});
  }
  return config;
}

struct WitnessServer::Impl {
  WitnessConfig config;
  SigningKey key;
  std::unique_ptr<WitnessState> state;
  httplib::Server http;
  std::mutex evidence_mutex;
  std::set<std::string> evidence_written;  // SHA-256 hex of kind || second note

  Impl(WitnessConfig c, SigningKey k, std::unique_ptr<WitnessState> s)
      : config(std::move(c)), key(std::move(k)), state(std::move(s)) {}

  void keep_evidence(SplitViewKind kind, const WitnessDecision& decision,
                     const std::optional<WitnessedCheckpoint>& recorded, const AddCheckpointRequest& request) {
    if (!recorded || decision.log == nullptr) return;  // nothing cosigned to conflict with
    const auto id = to_hex(sha256(as_bytes(std::string(split_view_kind_name(kind)) + request.checkpoint)));
    {
      std::lock_guard lock(evidence_mutex);
      if (evidence_written.count(id) != 0) return;
      if (evidence_written.size() >= kMaxEvidenceFilesPerRun) {
        spdlog::error("witness: evidence not written for {}: {} files this run already; restart to write more",
                      decision.log->origin, kMaxEvidenceFilesPerRun);
        return;
      }
      evidence_written.insert(id);
    }
    SplitViewEvidence evidence;
    evidence.kind = kind;
    evidence.origin = decision.log->origin;
    evidence.log_key = decision.log->key;
    evidence.first = recorded->note;
    evidence.second = request.checkpoint;
    evidence.proof = request.proof;
    evidence.seen_by = "witness " + config.name;
    evidence.seen_at = utc_now_rfc3339();
    evidence.detail = decision.reason;
    auto path = write_evidence_file(config.evidence_dir, evidence);
    if (!path) {
      spdlog::critical("witness: SPLIT VIEW of {} seen but the evidence could not be written: {}", decision.log->origin,
                       path.error().message);
      return;
    }
    if (kind == SplitViewKind::same_size_different_roots) {
      spdlog::critical(
          "witness: SPLIT VIEW: the log {} signed two roots for tree size {}; evidence in {} "
          "(check it with `fpx log evidence check {}`)",
          decision.log->origin, decision.checkpoint.size, path->string(), path->string());
    } else {
      spdlog::critical(
          "witness: the log {} sent a checkpoint of size {} whose consistency proof from the size "
          "this witness cosigned ({}) does not verify: a possible split view; request kept in {}",
          decision.log->origin, decision.checkpoint.size, recorded->size, path->string());
    }
  }
};

WitnessServer::WitnessServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
WitnessServer::~WitnessServer() = default;

Result<std::unique_ptr<WitnessServer>> WitnessServer::create(WitnessConfig config) {
  auto key = SigningKey::load_pem(config.key_file, config.passphrase);
  if (!key) {
    Error error = std::move(key).take_error();
    error.message = "witness key " + config.key_file.string() + ": " + error.message;
    return error;
  }
  auto state = WitnessState::open(config.state_file);
  if (!state) return std::move(state).take_error();
  auto impl = std::make_unique<Impl>(std::move(config), std::move(*key), std::move(*state));
  return std::unique_ptr<WitnessServer>(new WitnessServer(std::move(impl)));
}

const WitnessConfig& WitnessServer::config() const {
  return impl_->config;
}
Ed25519PublicKey WitnessServer::public_key() const {
  return impl_->key.public_key();
}

WitnessAnswer WitnessServer::handle_add_checkpoint(std::string_view body) {
  auto request = parse_add_checkpoint(body);
  if (!request) return plain(request.error().code == ErrorCode::too_large ? 413 : 400, request.error().message);
  std::optional<WitnessedCheckpoint> recorded;
  auto decision = impl_->state->judge_and_record(*request, impl_->config.logs, recorded);
  if (!decision) {
    spdlog::error("witness: {}", decision.error().message);
    return plain(500, "the witness could not record the checkpoint; try again later");
  }
  const int status = http_status_of(decision->verdict);
  switch (decision->verdict) {
    case WitnessVerdict::cosign: {
      const auto line = cosign_checkpoint(decision->checkpoint_text, impl_->config.name, impl_->key, now_seconds());
      spdlog::info("witness: cosigned {} at tree size {}", decision->checkpoint.origin, decision->checkpoint.size);
      WitnessAnswer answer;
      answer.status = status;
      answer.body = format_note_signature_line(line);
      return answer;
    }
    case WitnessVerdict::old_size_conflict: {
      WitnessAnswer answer;
      answer.status = status;
      answer.content_type = "text/x.tlog.size";
      answer.body = std::to_string(decision->recorded_size) + "\n";
      return answer;
    }
    case WitnessVerdict::root_conflict: {
      impl_->keep_evidence(SplitViewKind::same_size_different_roots, *decision, recorded, *request);
      WitnessAnswer answer;
      answer.status = status;
      answer.content_type = "text/x.tlog.size";
      answer.body = std::to_string(decision->recorded_size) + "\n";
      return answer;
    }
    case WitnessVerdict::bad_proof:
      impl_->keep_evidence(SplitViewKind::consistency_proof_failed, *decision, recorded, *request);
      return plain(status, decision->reason);
    case WitnessVerdict::malformed:
    case WitnessVerdict::bad_log_signature:
    case WitnessVerdict::unknown_origin: return plain(status, decision->reason);
  }
  return plain(500, "internal error");
}

Result<int> WitnessServer::bind() {
  auto& http = impl_->http;
  const auto& config = impl_->config;
  http.new_task_queue = [&config] { return new BoundedThreadPool(config.threads, config.max_waiting_connections); };
  http.set_payload_max_length(kMaxAddCheckpointBytes);
  http.set_read_timeout(config.read_timeout);
  http.set_write_timeout(config.write_timeout);
  http.set_keep_alive_timeout(config.keep_alive_timeout.count());
  http.set_keep_alive_max_count(config.keep_alive_max_requests);
  http.Post("/add-checkpoint", [this](const httplib::Request& request, httplib::Response& response) {
    const auto answer = handle_add_checkpoint(request.body);
    response.status = answer.status;
    response.set_content(answer.body, answer.content_type.c_str());
  });
  int port = config.listen_port;
  if (port == 0) {
    port = http.bind_to_any_port(config.listen_host);
    if (port < 0) port = -1;
  } else if (!http.bind_to_port(config.listen_host, port)) {
    port = -1;
  }
  if (port < 0) {
    return make_error(ErrorCode::unavailable, "witness: cannot listen on " + config.listen_host + ":" +
                                                  std::to_string(config.listen_port) +
                                                  "; is another process using the port?");
  }
  return port;
}

Status WitnessServer::serve() {
  if (!impl_->http.listen_after_bind()) {
    return make_error(ErrorCode::unavailable, "witness: the HTTP server stopped with an error");
  }
  return {};
}

void WitnessServer::stop() {
  impl_->http.stop();
}

}  // namespace fpx::witness
