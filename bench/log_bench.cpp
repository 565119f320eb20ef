// Cost of transparency-log proofs at 1M and 10M leaves: proofs are built
// from stored complete subtrees, so their cost grows with log n, not n.
//
//   fpx-bench-log [--proofs N] [--store-leaves N]     (defaults 20000, 1000000; 0 skips the store)
//
// Prints one "name value" line per figure:
//   inclusion_proof_us_1m, consistency_proof_us_1m     MemoryLog of 1,000,000 leaves
//   inclusion_proof_us_10m, consistency_proof_us_10m   the same log grown to 10,000,000 leaves
//   verify_inclusion_us                                 verifying one inclusion proof at 10M
//   nodes_read_per_proof_1m, nodes_read_per_proof_10m   node reads per proof (inclusion and
//                                                        consistency alike): ~2 log2 n, not n
//   store_inclusion_proof_us, store_consistency_proof_us  the broker's SQLite store (log_nodes),
//                                                        --store-leaves leaves, warm page cache
// Leaf indexes and old sizes are uniformly random; tree sizes are not powers
// of two, so every proof also rebuilds the incomplete right edge. Building
// 10M leaves in memory takes a few seconds and 650 MB; 1M messages in the
// store about 20 s (group commits of 1000, synchronous=NORMAL, a WAL
// checkpoint every 100,000 as the broker's timer would make).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <system_error>
#include <vector>

#include <stdlib.h>  // mkdtemp

#include "bench/temp_dir.hpp"
#include "fpx/broker/store.hpp"
#include "fpx/transparency_log.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kOneMillion = 1'000'000;
constexpr std::uint64_t kTenMillion = 10'000'000;
constexpr int kDefaultProofs = 20000;
constexpr std::uint64_t kDefaultStoreLeaves = 1'000'000;
constexpr std::uint64_t kStoreBatch = 1000;
constexpr std::uint64_t kStoreCheckpointEvery = 100 * kStoreBatch;  // about what the broker writes in a minute

template <typename T>
T must(fpx::Result<T> result, const char* what) {
  if (!result) {
    std::fprintf(stderr, "fpx-bench-log: %s: %s\n", what, result.error().describe().c_str());
    std::exit(1);
  }
  return std::move(result).value();
}

void must(const fpx::Status& status, const char* what) {
  if (!status) {
    std::fprintf(stderr, "fpx-bench-log: %s: %s\n", what, status.error().describe().c_str());
    std::exit(1);
  }
}

double micros_since(Clock::time_point start) {
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

// Counts the node reads of any source.
class CountingSource final : public fpx::NodeSource {
 public:
  explicit CountingSource(fpx::NodeSource& inner) : inner_(inner) {}
  fpx::Result<fpx::Sha256Digest> node(std::uint32_t level, std::uint64_t index) override {
    ++reads_;
    return inner_.node(level, index);
  }
  std::uint64_t reads() const { return reads_; }

 private:
  fpx::NodeSource& inner_;
  std::uint64_t reads_ = 0;
};

struct ProofFigures {
  double inclusion_us = 0;
  double consistency_us = 0;
  double nodes_per_proof = 0;
};

// Random inclusion and consistency proofs at `size`; each proof is verified
// (outside the timing) so that a wrong one cannot make a fast figure.
ProofFigures measure(fpx::NodeSource& source, std::uint64_t size, int proofs, std::mt19937_64& random) {
  CountingSource counted(source);
  const auto root = must(fpx::root(counted, size), "root");
  std::uniform_int_distribution<std::uint64_t> index(0, size - 1);
  std::uniform_int_distribution<std::uint64_t> old_size(1, size - 1);
  std::vector<std::uint64_t> indexes(static_cast<std::size_t>(proofs));
  std::vector<std::uint64_t> olds(static_cast<std::size_t>(proofs));
  for (auto& i : indexes) i = index(random);
  for (auto& m : olds) m = old_size(random);

  ProofFigures figures;
  std::vector<std::vector<fpx::Sha256Digest>> results(static_cast<std::size_t>(proofs));
  const auto reads_before = counted.reads();
  auto start = Clock::now();
  for (std::size_t k = 0; k < indexes.size(); ++k) results[k] = must(fpx::inclusion_proof(counted, indexes[k], size), "inclusion proof");
  figures.inclusion_us = micros_since(start) / proofs;
  for (std::size_t k = 0; k < indexes.size(); ++k) {
    const auto leaf = must(source.node(0, indexes[k]), "leaf");
    if (!fpx::verify_inclusion(leaf, indexes[k], size, results[k], root)) {
      std::fprintf(stderr, "fpx-bench-log: an inclusion proof did not verify\n");
      std::exit(1);
    }
  }

  start = Clock::now();
  for (std::size_t k = 0; k < olds.size(); ++k) results[k] = must(fpx::consistency_proof(counted, olds[k], size), "consistency proof");
  figures.consistency_us = micros_since(start) / proofs;
  for (std::size_t k = 0; k < olds.size(); k += 97) {  // a sample: each needs the old root
    if (!fpx::verify_consistency(olds[k], size, must(fpx::root(source, olds[k]), "old root"), root, results[k])) {
      std::fprintf(stderr, "fpx-bench-log: a consistency proof did not verify\n");
      std::exit(1);
    }
  }
  figures.nodes_per_proof = static_cast<double>(counted.reads() - reads_before) / (2.0 * proofs);
  return figures;
}

fpx::Sha256Digest synthetic_leaf(std::uint64_t i) {
  std::uint8_t data[8];
  for (int b = 0; b < 8; ++b) data[b] = static_cast<std::uint8_t>(i >> (8 * b));
  return fpx::leaf_hash(data);
}

void grow(fpx::MemoryLog& log, std::uint64_t to) {
  for (std::uint64_t i = log.size(); i < to; ++i) log.append(synthetic_leaf(i));
}


ProofFigures measure_store(std::uint64_t leaves, int proofs, std::mt19937_64& random) {
  fpx::bench::TempDir dir;
  auto store = must(fpx::broker::open_sqlite_store(dir.path() / "store.db"), "opening the store");
  const auto start = Clock::now();
  for (std::uint64_t i = 0; i < leaves;) {
    must(store->begin(fpx::broker::Durability::deferred), "begin");
    for (std::uint64_t end = std::min(leaves, i + kStoreBatch); i < end; ++i) {
      fpx::broker::NewMessage message;
      for (std::size_t b = 0; b < 8; ++b) message.id.bytes[b] = static_cast<std::uint8_t>(i >> (8 * b));
      message.envelope = fpx::Bytes(64, 1);
      message.sender = fpx::ParticipantId("sn.focal-point");
      message.sender_country = fpx::CountryCode("SN");
      message.type = "tracingRequest";
      message.log_leaf_data = fpx::Bytes(message.id.bytes.begin(), message.id.bytes.end());
      must(store->insert_message(message, 0), "insert");
    }
    must(store->commit(), "commit");
    // As the broker does (timing.checkpoint_every_ms): a WAL never copied
    // back grows without end, and every page read then searches its index.
    if (i % kStoreCheckpointEvery == 0 || i == leaves) must(store->checkpoint(), "checkpoint");
  }
  std::fprintf(stderr, "# store_build_s %.1f\n", micros_since(start) / 1e6);
  fpx::broker::StoreNodeSource nodes(*store);
  return measure(nodes, leaves, proofs, random);
}

std::uint64_t parse_count(const char* text, const char* flag) {
  char* end = nullptr;
  const auto value = std::strtoull(text, &end, 10);
  if (end == text || *end != '\0') {
    std::fprintf(stderr, "fpx-bench-log: %s needs a number\n", flag);
    std::exit(2);
  }
  return value;
}

}  // namespace

int main(int argc, char** argv) {
  int proofs = kDefaultProofs;
  std::uint64_t store_leaves = kDefaultStoreLeaves;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--proofs" && i + 1 < argc) {
      proofs = static_cast<int>(parse_count(argv[++i], "--proofs"));
    } else if (arg == "--store-leaves" && i + 1 < argc) {
      store_leaves = parse_count(argv[++i], "--store-leaves");
    } else {
      std::fprintf(stderr, "usage: fpx-bench-log [--proofs N] [--store-leaves N]\n");
      return 2;
    }
  }
  if (proofs < 1 || store_leaves == 1) {
    std::fprintf(stderr, "fpx-bench-log: --proofs must be >= 1 and --store-leaves 0 (skip) or >= 2\n");
    return 2;
  }
  std::mt19937_64 random(20240601);

  fpx::MemoryLog log;
  log.reserve(kTenMillion);
  auto start = Clock::now();
  grow(log, kOneMillion);
  std::fprintf(stderr, "# build_1m_s %.1f\n", micros_since(start) / 1e6);
  const auto at_1m = measure(log, kOneMillion, proofs, random);

  start = Clock::now();
  grow(log, kTenMillion);
  std::fprintf(stderr, "# build_10m_s %.1f\n", micros_since(start) / 1e6);
  const auto at_10m = measure(log, kTenMillion, proofs, random);

  // Verification alone, on proofs made beforehand.
  const auto root = must(fpx::root(log, kTenMillion), "root");
  std::uniform_int_distribution<std::uint64_t> index(0, kTenMillion - 1);
  std::vector<std::uint64_t> indexes(static_cast<std::size_t>(proofs));
  std::vector<std::vector<fpx::Sha256Digest>> paths;
  for (auto& i : indexes) {
    i = index(random);
    paths.push_back(must(fpx::inclusion_proof(log, i, kTenMillion), "inclusion proof"));
  }
  std::vector<fpx::Sha256Digest> leaves;
  for (auto i : indexes) leaves.push_back(must(log.node(0, i), "leaf"));
  int verified = 0;
  start = Clock::now();
  for (std::size_t k = 0; k < indexes.size(); ++k) {
    verified += fpx::verify_inclusion(leaves[k], indexes[k], kTenMillion, paths[k], root) ? 1 : 0;
  }
  const double verify_us = micros_since(start) / proofs;
  if (verified != proofs) {
    std::fprintf(stderr, "fpx-bench-log: %d of %d proofs did not verify\n", proofs - verified, proofs);
    return 1;
  }

  std::printf("inclusion_proof_us_1m %.2f\n", at_1m.inclusion_us);
  std::printf("consistency_proof_us_1m %.2f\n", at_1m.consistency_us);
  std::printf("inclusion_proof_us_10m %.2f\n", at_10m.inclusion_us);
  std::printf("consistency_proof_us_10m %.2f\n", at_10m.consistency_us);
  std::printf("verify_inclusion_us %.2f\n", verify_us);
  std::printf("nodes_read_per_proof_1m %.1f\n", at_1m.nodes_per_proof);
  std::printf("nodes_read_per_proof_10m %.1f\n", at_10m.nodes_per_proof);
  std::fflush(stdout);

  if (store_leaves >= 2) {
    const auto store = measure_store(store_leaves, proofs, random);
    std::printf("store_inclusion_proof_us %.2f\n", store.inclusion_us);
    std::printf("store_consistency_proof_us %.2f\n", store.consistency_us);
    std::fprintf(stderr, "# store_leaves %llu\n# store_nodes_read_per_proof %.1f\n",
                 static_cast<unsigned long long>(store_leaves), store.nodes_per_proof);
  }
  return 0;
}
