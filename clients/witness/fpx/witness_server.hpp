// `fpx witness serve`: a C2SP tlog-witness over HTTP (cpp-httplib).
//
//   POST /add-checkpoint   body: old size, proof lines, blank line, checkpoint
//   200 text/plain          one cosignature/v1 line by this witness
//   400 malformed, 403 no valid log signature, 404 unknown origin,
//   409 text/x.tlog.size    "<recorded size>\n" (stale old size, or a root conflict)
//   413 body over kMaxAddCheckpointBytes, 422 consistency proof does not verify
//
// Every resource a peer can make the witness hold is bounded: the body
// (kMaxAddCheckpointBytes), the time to send it (read timeout), the number
// of connections served at once (threads) and waiting (queue; further ones
// wait in the kernel's listen backlog), keep-alive requests per connection.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "fpx/crypto.hpp"
#include "fpx/result.hpp"
#include "fpx/witness_protocol.hpp"

namespace fpx::witness {

struct WitnessConfig {
  std::string name;                // the witness's key name, e.g. "witness.cso.example/w1"
  std::filesystem::path key_file;  // PKCS#8 PEM Ed25519 key (fpx witness init)
  PassphraseSource passphrase;
  std::string listen_host = "127.0.0.1";
  int listen_port = 7480;  // 0: any free port (tests)
  std::filesystem::path state_file;
  std::filesystem::path evidence_dir;
  std::vector<WitnessedLog> logs;
  // Connections served at once: a slow or idle peer holds one for at most
  // the read timeout.
  std::size_t threads = 4;
  // Accepted connections waiting for a thread; past this the accept loop
  // waits, and new connections queue in the kernel's backlog, then are refused.
  std::size_t max_waiting_connections = 64;
  // A peer that trickles its request (slowloris) is cut off after this.
  std::chrono::seconds read_timeout{5};
  std::chrono::seconds write_timeout{5};
  std::chrono::seconds keep_alive_timeout{5};
  // Requests per keep-alive connection, so one peer cannot hold a thread forever.
  std::size_t keep_alive_max_requests = 100;
};

// Reads the TOML file `fpx witness init` writes (docs/PROTOCOL.md and
// README.md, "Running a witness"); relative paths are relative to the
// file's directory. invalid_argument naming the key at fault.
Result<WitnessConfig> load_witness_config(const std::filesystem::path& file);

// An HTTP answer, independent of the HTTP library (tests call handle()).
struct WitnessAnswer {
  int status = 500;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class WitnessServer {
 public:
  static Result<std::unique_ptr<WitnessServer>> create(WitnessConfig config);
  ~WitnessServer();
  WitnessServer(const WitnessServer&) = delete;
  WitnessServer& operator=(const WitnessServer&) = delete;

  // The whole add-checkpoint step for one request body: parse, judge and
  // record atomically, cosign, keep evidence of a split view.
  WitnessAnswer handle_add_checkpoint(std::string_view body);

  // Binds the listening socket; returns the port (the chosen one for port 0).
  Result<int> bind();
  // Serves until stop() (from another thread or a signal handler thread).
  Status serve();
  void stop();

  const WitnessConfig& config() const;
  Ed25519PublicKey public_key() const;

 private:
  struct Impl;
  explicit WitnessServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fpx::witness
