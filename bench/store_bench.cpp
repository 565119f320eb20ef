// Cost of durable commits in the SQLite store, one message per commit and
// grouped, on a temp file (WAL, synchronous=FULL, as the broker runs it).
//
//   fpx-bench-store [--singles N] [--messages N]     (defaults 500, 4096)
//
// Prints one "name value" line per figure:
//   commit_single_ms_p50, commit_single_ms_p99   begin + insert + durable commit of one message
//   messages_per_s_batch_N                       N messages per commit, N in 1, 16, 64, 256
// Messages carry a 1 KiB envelope and 2 recipients. The WAL is checkpointed
// between phases, outside the timings, as the broker does off its hot path.
// These VMs are noisy: compare ratios from one run, not absolutes across runs.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include <stdlib.h>  // mkdtemp

#include "bench/temp_dir.hpp"
#include "fpx/broker/store.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using fpx::broker::NewMessage;
using fpx::broker::Store;

constexpr int kDefaultSingles = 500;
constexpr int kDefaultMessages = 4096;
constexpr std::size_t kEnvelopeBytes = 1024;
constexpr std::size_t kLeafBytes = 64;
constexpr int kBatchSizes[] = {1, 16, 64, 256};

template <typename T>
T must(fpx::Result<T> result, const char* what) {
  if (!result) {
    std::fprintf(stderr, "fpx-bench-store: %s: %s\n", what, result.error().describe().c_str());
    std::exit(1);
  }
  return std::move(result).value();
}

void must(const fpx::Status& status, const char* what) {
  if (!status) {
    std::fprintf(stderr, "fpx-bench-store: %s: %s\n", what, status.error().describe().c_str());
    std::exit(1);
  }
}


// Distinct ids from a counter; the content does not matter to SQLite's cost.
class MessageFactory {
 public:
  NewMessage next() {
    ++counter_;
    NewMessage message;
    std::memcpy(message.id.bytes.data(), &counter_, sizeof counter_);
    message.signed_sha256.fill(0x5a);
    message.envelope.assign(kEnvelopeBytes, static_cast<std::uint8_t>(counter_));
    message.sender = fpx::ParticipantId("sn.focal-point");
    message.sender_country = fpx::CountryCode("SN");
    message.type = "tracingRequest";
    message.created_at_ms = 1'700'000'000'000;
    message.recipients = {fpx::ParticipantId("gh.focal-point"), fpx::ParticipantId("sn.police.dakar")};
    message.hold_until_ms = message.created_at_ms + 7LL * 24 * 60 * 60 * 1000;
    message.log_leaf_data.assign(kLeafBytes, static_cast<std::uint8_t>(counter_ >> 8));
    return message;
  }

 private:
  std::uint64_t counter_ = 0;
};

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double percentile(std::vector<double> samples, double fraction) {
  std::sort(samples.begin(), samples.end());
  const auto index = static_cast<std::size_t>(fraction * static_cast<double>(samples.size() - 1) + 0.5);
  return samples[index];
}

// One transaction holding `count` messages; returns nothing, timing is the caller's.
void commit_batch(Store& store, MessageFactory& factory, int count) {
  must(store.begin(), "begin");
  for (int i = 0; i < count; ++i) {
    const auto message = factory.next();
    must(store.insert_message(message, message.created_at_ms), "insert_message");
  }
  must(store.commit(), "commit");
}

int parse_count(const char* text, const char* flag) {
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || value <= 0 || value > 10'000'000) {
    std::fprintf(stderr, "fpx-bench-store: %s wants a positive count, got '%s'\n", flag, text);
    std::exit(2);
  }
  return static_cast<int>(value);
}

}  // namespace

int main(int argc, char** argv) {
  int singles = kDefaultSingles;
  int messages = kDefaultMessages;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if ((arg == "--singles" || arg == "--messages") && i + 1 < argc) {
      (arg == "--singles" ? singles : messages) = parse_count(argv[++i], arg.c_str());
    } else {
      std::fprintf(stderr, "usage: fpx-bench-store [--singles N] [--messages N]\n");
      return 2;
    }
  }

  fpx::bench::TempDir dir;
  auto store = must(fpx::broker::open_sqlite_store(dir.path() / "store.db"), "open store");
  MessageFactory factory;

  // Warm the file and the page cache so the first samples are not outliers.
  for (int i = 0; i < 20; ++i) commit_batch(*store, factory, 1);
  must(store->checkpoint(), "checkpoint");

  std::vector<double> single_ms;
  single_ms.reserve(static_cast<std::size_t>(singles));
  for (int i = 0; i < singles; ++i) {
    const auto start = Clock::now();
    commit_batch(*store, factory, 1);
    single_ms.push_back(ms_since(start));
  }
  must(store->checkpoint(), "checkpoint");
  std::printf("commit_single_ms_p50 %.3f\n", percentile(single_ms, 0.50));
  std::printf("commit_single_ms_p99 %.3f\n", percentile(single_ms, 0.99));

  for (const int batch : kBatchSizes) {
    const int batches = std::max(1, messages / batch);
    const auto start = Clock::now();
    for (int i = 0; i < batches; ++i) commit_batch(*store, factory, batch);
    const double seconds = ms_since(start) / 1000.0;
    std::printf("messages_per_s_batch_%d %.0f\n", batch, static_cast<double>(batches * batch) / seconds);
    must(store->checkpoint(), "checkpoint");
  }
  return 0;
}
