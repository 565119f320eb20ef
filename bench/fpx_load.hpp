// The pieces of fpx-bench that drive FPX itself: realistic pre-signed
// tracing requests, the ledger of when each was sent and delivered, the
// receiving focal points, and the statistics every mode prints.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "fpx/client.hpp"
#include "fpx/envelope.hpp"
#include "fpx/identity.hpp"

namespace fpx::bench {

using Clock = std::chrono::steady_clock;

inline constexpr std::size_t kBodyTargetBytes = 1024;
// Up to eight of each; agencies in West Africa ask focal points elsewhere.
inline constexpr const char* kSenderCountries[] = {"SN", "ML", "NE", "BF", "GH", "CI", "TG", "BJ"};
inline constexpr const char* kRecipientCountries[] = {"BE", "NG", "FR", "DE", "IT", "ES", "RU", "CN"};
inline constexpr int kMaxParties = 8;

std::string sender_id(int index);     // "sn.police"
std::string recipient_id(int index);  // "be.focal-point"

class BenchPki;
// Issues the first `senders` agencies and `recipients` focal points; returns
// their ids, senders first (the participants a bench broker enrols).
std::vector<std::string> issue_senders_and_recipients(BenchPki& pki, int senders, int recipients);

std::int64_t now_ns();
std::int64_t to_ns(Clock::time_point at);
double process_cpu_seconds();
// The value at `fraction` (0.5, 0.99, 1.0) of the samples.
double percentile(std::vector<double> samples, double fraction);

struct Sealed {
  Bytes envelope;
  MessageId id;
};

// Seals tracing requests from one agency, each to one requested state, with
// a body padded to about kBodyTargetBytes.
class Sealer {
 public:
  Sealer(const Identity& signer, std::string country, std::string agency);
  Sealed seal(const std::string& to_country, int serial);
  std::size_t last_body_bytes() const { return last_body_bytes_; }

 private:
  const Identity& signer_;
  std::string country_;
  std::string agency_;
  std::size_t padding_ = 0;
  std::size_t last_body_bytes_ = 0;
};

// Every message of a run, sealed before any timing, and when each was
// submitted and delivered (steady clock, ns). Indices are fixed before the
// threads start, so the id -> index map is only read concurrently.
class Ledger {
 public:
  explicit Ledger(std::size_t capacity) : sent_ns_(capacity), delivered_ns_(capacity) {}

  std::size_t add(const MessageId& id);
  // Returns false for a message this run did not send (or a second delivery).
  bool mark_delivered(const MessageId& id, std::int64_t at_ns);
  void mark_sent(std::size_t index, std::int64_t at_ns) { sent_ns_[index].store(at_ns); }
  std::int64_t sent_ns(std::size_t index) const { return sent_ns_[index].load(); }
  std::int64_t delivered_ns(std::size_t index) const { return delivered_ns_[index].load(); }
  std::int64_t delivered() const { return delivered_.load(); }

 private:
  std::unordered_map<std::string, std::size_t> index_;
  std::vector<std::atomic<std::int64_t>> sent_ns_;
  std::vector<std::atomic<std::int64_t>> delivered_ns_;
  std::atomic<std::int64_t> delivered_{0};
};

struct Tally {
  std::atomic<std::int64_t> receipted{0};
  std::atomic<std::int64_t> refused{0};
  std::atomic<std::int64_t> late_sends{0};
  std::mutex first_error_mutex;
  std::string first_error;

  void refuse(const Error& error);
};

// Pacing: send i of the whole schedule goes at start + i / rate. Absolute
// slots, so a slow submit does not shift every later one (no sleep drift).
struct Pace {
  Clock::time_point start;
  double rate = 0;
  int senders = 1;
};

// Submits `work` (ledger indices into `envelopes`) one after another, each
// waiting for its receipt; paced when `pace` is given. With `receipt_ms`,
// also records how long each receipt took (from the slot when paced).
void run_sender(client::Client& client, const std::vector<Bytes>& envelopes, Ledger& ledger,
                const std::vector<std::size_t>& work, Tally& tally, const Pace* pace, int sender_index,
                std::vector<double>* receipt_ms = nullptr);

// Recipients poll, verify (inside Client), stamp and confirm until stopped.
struct Receivers {
  std::atomic<bool> stop{false};
  std::atomic<std::int64_t> unknown{0};
  std::atomic<std::int64_t> rejected{0};
  std::vector<std::thread> threads;

  void start(std::vector<std::unique_ptr<client::Client>>& clients, Ledger& ledger);
  void join();
};

// Fails (exits) if `target` deliveries have not arrived within the phase timeout.
void wait_for_deliveries(const Ledger& ledger, std::int64_t target, const Tally& tally);

// Raw Ed25519 verifications of distinct 1 KiB messages with a participant's
// parsed key, as open() verifies; microseconds per verification.
double raw_verify_us(const Identity& signer);

}  // namespace fpx::bench
