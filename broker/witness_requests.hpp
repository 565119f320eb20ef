// Asking the broker's witnesses to cosign its checkpoints (issue 13,
// docs/PROTOCOL.md §13): one thread per witness, never the loop's. The loop
// hands each witness a job (the checkpoint note and the consistency proof
// from the size that witness last cosigned, read from the store on the loop
// thread) and, at each timer turn, takes the answers that came. It never
// waits: a witness down or slow costs its own thread the timeout and
// nothing else, so receipts and deliveries never wait on a witness.
//
// Bounds: at most one request per witness in flight and one job waiting
// (a newer checkpoint replaces an older one still waiting); at most one
// answer per witness waiting for the loop (a newer answer replaces it).
// Private to broker/.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fpx/broker/config.hpp"
#include "fpx/cosignature.hpp"
#include "fpx/result.hpp"
#include "fpx/transparency_log.hpp"

namespace fpx::broker {

// What one witness is asked: the checkpoint (the log-signed note), the size
// the broker believes the witness holds, and the proof from that size.
struct WitnessJob {
  std::uint64_t tree_size = 0;
  std::string note;
  std::uint64_t old_size = 0;
  std::vector<Sha256Digest> proof;  // consistency proof old_size -> tree_size
};

enum class WitnessOutcome {
  cosigned,          // cosignatures: verified lines of the witness's key
  needs_proof_from,  // the witness holds witness_size (its 409): ask again with a proof from it
  refused,           // error: down, slow, or a refusal (replay: another history)
};

struct WitnessAnswer {
  std::size_t witness = 0;  // index in the configured list
  std::uint64_t tree_size = 0;
  WitnessOutcome outcome = WitnessOutcome::refused;
  std::vector<NoteSignature> cosignatures;
  std::uint64_t witness_size = 0;  // cosigned: tree_size; needs_proof_from: the witness's size
  std::optional<Error> error;
};

class WitnessRequests {
 public:
  // Starts one thread per witness (none for an empty list).
  WitnessRequests(std::vector<WitnessConfig> witnesses, std::chrono::milliseconds timeout);
  ~WitnessRequests();  // stops the threads; a request in flight ends within its timeout
  WitnessRequests(const WitnessRequests&) = delete;
  WitnessRequests& operator=(const WitnessRequests&) = delete;

  std::size_t size() const { return workers_.size(); }
  const WitnessConfig& witness(std::size_t index) const { return workers_[index]->config; }
  // Hands `job` to witness `index`, replacing a job of it still waiting. Never blocks on the network.
  void ask(std::size_t index, WitnessJob job);
  // The answers that came since the last call, at most one per witness.
  std::vector<WitnessAnswer> take_answers();

 private:
  struct Worker {
    WitnessConfig config;
    std::optional<WitnessJob> waiting;  // guarded by mutex_
    std::thread thread;
  };
  void run(std::size_t index);

  std::chrono::milliseconds timeout_;
  std::vector<std::unique_ptr<Worker>> workers_;
  // One lock for jobs and answers: held only to move a value in or out.
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<std::optional<WitnessAnswer>> answers_;  // one slot per witness
  bool stopping_ = false;
};

}  // namespace fpx::broker
