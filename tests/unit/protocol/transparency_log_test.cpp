// The transparency log against the RFC's own definitions: a straightforward
// recursive MTH is the oracle for every tree size up to 1100, the published
// RFC 6962 reference tree pins the hashing to other implementations, and the
// Go sumdb/note example pins the signed-note format. Only published hashes
// and strings are taken from elsewhere, never code.
#include <bit>
#include <cstdint>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "fpx/crypto.hpp"
#include "fpx/transparency_log.hpp"

using namespace fpx;

namespace {

constexpr std::uint64_t kMaxSize = 1100;
constexpr std::uint64_t kAllPairsMaxSize = 300;

Sha256Digest digest_of_hex(const std::string& hex) {
  auto bytes = from_hex(hex);
  REQUIRE(bytes);
  REQUIRE(bytes->size() == 32);
  Sha256Digest digest{};
  std::copy(bytes->begin(), bytes->end(), digest.begin());
  return digest;
}

// RFC 9162 section 2.1.1, literally: MTH of D[begin:end].
Sha256Digest reference_mth(const std::vector<Sha256Digest>& leaves, std::uint64_t begin, std::uint64_t end) {
  const std::uint64_t n = end - begin;
  if (n == 0) return sha256(ByteView{});
  if (n == 1) return leaves[begin];
  std::uint64_t k = 1;
  while (k * 2 < n) k *= 2;
  return node_hash(reference_mth(leaves, begin, begin + k), reference_mth(leaves, begin + k, end));
}

// RFC 9162 section 2.1.3.1, literally.
void reference_path(const std::vector<Sha256Digest>& leaves, std::uint64_t m, std::uint64_t begin, std::uint64_t end,
                    std::vector<Sha256Digest>& out) {
  const std::uint64_t n = end - begin;
  if (n == 1) return;
  std::uint64_t k = 1;
  while (k * 2 < n) k *= 2;
  if (m < k) {
    reference_path(leaves, m, begin, begin + k, out);
    out.push_back(reference_mth(leaves, begin + k, end));
  } else {
    reference_path(leaves, m - k, begin + k, end, out);
    out.push_back(reference_mth(leaves, begin, begin + k));
  }
}

// RFC 9162 section 2.1.4.1 SUBPROOF, literally.
void reference_subproof(const std::vector<Sha256Digest>& leaves, std::uint64_t m, std::uint64_t begin,
                        std::uint64_t end, bool b, std::vector<Sha256Digest>& out) {
  const std::uint64_t n = end - begin;
  if (m == n) {
    if (!b) out.push_back(reference_mth(leaves, begin, end));
    return;
  }
  std::uint64_t k = 1;
  while (k * 2 < n) k *= 2;
  if (m <= k) {
    reference_subproof(leaves, m, begin, begin + k, b, out);
    out.push_back(reference_mth(leaves, begin + k, end));
  } else {
    reference_subproof(leaves, m - k, begin + k, end, false, out);
    out.push_back(reference_mth(leaves, begin, begin + k));
  }
}

std::vector<Sha256Digest> make_leaves(std::uint64_t count) {
  std::vector<Sha256Digest> leaves;
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::string data = "leaf " + std::to_string(i);
    leaves.push_back(leaf_hash(as_bytes(data)));
  }
  return leaves;
}

// One log serves every smaller size: proofs for size n read only subtrees
// inside the first n leaves. One leaf beyond kMaxSize, for "size + 1".
struct Fixture {
  std::vector<Sha256Digest> leaves = make_leaves(kMaxSize + 1);
  MemoryLog log;
  std::vector<Sha256Digest> roots;  // reference root of every size 0..kMaxSize + 1

  Fixture() {
    for (const auto& leaf : leaves) log.append(leaf);
    // Incremental oracle would reuse our own code; the literal MTH per size
    // is O(n) each and fast enough.
    for (std::uint64_t n = 0; n <= kMaxSize + 1; ++n) roots.push_back(reference_mth(leaves, 0, n));
  }
};

Fixture& fixture() {
  static Fixture instance;
  return instance;
}

template <typename T>
T must(Result<T> result) {
  if (!result) FAIL(result.error().describe());
  return std::move(result).value();
}

// Bounded node reads: the point of storing interior hashes.
std::uint64_t read_bound(std::uint64_t n) { return 3 * static_cast<std::uint64_t>(std::bit_width(n)) + 2; }

// ---- the RFC 6962 reference tree (transparency-dev/merkle testonly, published hashes) ----

const std::vector<Bytes> kReferenceLeafData = {
    {}, {0x00}, {0x10}, {0x20, 0x21}, {0x30, 0x31}, {0x40, 0x41, 0x42, 0x43},
    {0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57},
    {0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f},
};

const std::vector<std::string> kReferenceRoots = {
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

// Every complete subtree of the 8-leaf tree, by level then index.
const std::vector<std::vector<std::string>> kReferenceNodes = {
    {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
     "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
     "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
     "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
     "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
     "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
     "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
     "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"},
    {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
     "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
     "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
     "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"},
    {"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
     "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"},
    {"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"},
};

std::vector<Sha256Digest> digests(const std::vector<std::string>& hexes) {
  std::vector<Sha256Digest> out;
  for (const auto& hex : hexes) out.push_back(digest_of_hex(hex));
  return out;
}

MemoryLog reference_log() {
  MemoryLog log;
  for (const auto& data : kReferenceLeafData) log.append(leaf_hash(data));
  return log;
}

}  // namespace

TEST_CASE("The RFC 6962 reference tree: roots of every size and every complete subtree") {
  auto log = reference_log();
  for (std::uint64_t n = 0; n <= 8; ++n) {
    INFO("size " << n);
    CHECK(to_hex(must(root(log, n))) == kReferenceRoots[n]);
  }
  CHECK(to_hex(empty_tree_root()) == kReferenceRoots[0]);
  for (std::uint32_t level = 0; level < kReferenceNodes.size(); ++level) {
    for (std::uint64_t index = 0; index < kReferenceNodes[level].size(); ++index) {
      INFO("level " << level << " index " << index);
      CHECK(to_hex(must(log.node(level, index))) == kReferenceNodes[level][index]);
    }
  }
  CHECK_FALSE(log.node(3, 1).ok());
  CHECK_FALSE(log.node(4, 0).ok());
}

TEST_CASE("The RFC 6962 reference tree: published inclusion and consistency proofs") {
  auto log = reference_log();
  const auto roots = digests(kReferenceRoots);
  struct InclusionVector {
    std::uint64_t index;
    std::uint64_t size;
    std::vector<std::string> proof;
  };
  const std::vector<InclusionVector> inclusions = {
      {0, 8,
       {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
      {5, 8,
       {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
      {0, 1, {}},
  };
  for (const auto& vector : inclusions) {
    INFO("leaf " << vector.index << " of " << vector.size);
    const auto expected = digests(vector.proof);
    CHECK(must(inclusion_proof(log, vector.index, vector.size)) == expected);
    CHECK(verify_inclusion(must(log.node(0, vector.index)), vector.index, vector.size, expected, roots[vector.size]));
  }
  struct ConsistencyVector {
    std::uint64_t old_size;
    std::uint64_t new_size;
    std::vector<std::string> proof;
  };
  const std::vector<ConsistencyVector> consistencies = {
      {2, 8,
       {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
      {6, 8,
       {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
      {2, 5,
       {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
  };
  for (const auto& vector : consistencies) {
    INFO(vector.old_size << " -> " << vector.new_size);
    const auto expected = digests(vector.proof);
    CHECK(must(consistency_proof(log, vector.old_size, vector.new_size)) == expected);
    CHECK(verify_consistency(vector.old_size, vector.new_size, roots[vector.old_size], roots[vector.new_size],
                             expected));
    CHECK_FALSE(verify_consistency(vector.old_size, vector.new_size, roots[vector.old_size - 1],
                                   roots[vector.new_size], expected));
  }
}

TEST_CASE("Roots of every size up to 1100 equal the RFC's recursive MTH") {
  auto& f = fixture();
  for (std::uint64_t n = 0; n <= kMaxSize; ++n) {
    if (must(root(f.log, n)) != f.roots[n]) FAIL("root of size " << n << " differs from the RFC's MTH");
  }
}

TEST_CASE("Inclusion proofs for every leaf of every size up to 1100 verify, and altered ones do not") {
  auto& f = fixture();
  std::uint64_t checked = 0;
  for (std::uint64_t n = 1; n <= kMaxSize; ++n) {
    // Every alteration below for sizes up to 300 and every 50th size; the
    // flipped byte, a wrong index and a wrong size for every leaf of every size.
    const bool every_alteration = n <= kAllPairsMaxSize || n % 50 == 0;
    for (std::uint64_t i = 0; i < n; ++i) {
      f.log.reset_nodes_read();
      auto proof = must(inclusion_proof(f.log, i, n));
      const auto reads = f.log.nodes_read();
      const auto& leaf = f.leaves[i];
      const auto& r = f.roots[n];
      if (reads > read_bound(n)) FAIL("leaf " << i << " of " << n << " read " << reads << " nodes");
      if (!verify_inclusion(leaf, i, n, proof, r)) FAIL("leaf " << i << " of " << n << " does not verify");
      if (!proof.empty()) {
        auto flipped = proof;
        flipped[i % flipped.size()][i % 32] ^= 0x01;  // each element and byte position in turn
        if (verify_inclusion(leaf, i, n, flipped, r)) FAIL("a flipped byte verified " << i << "/" << n);
      }
      const std::uint64_t wrong_index = (i % 2 == 0 && i + 1 < n) || i == 0 ? i + 1 : i - 1;
      if (n > 1 && verify_inclusion(leaf, wrong_index, n, proof, r)) FAIL("index " << wrong_index << " verified " << i << "/" << n);
      // A proof binds the size only through its shape, and sizes 3 and 4
      // give leaf 0 the same shape (the checkpoint binds size to root), so
      // a wrong size is tried with that size's true root.
      if (verify_inclusion(leaf, i, n + 1, proof, f.roots[n + 1])) FAIL("size + 1 verified " << i << "/" << n);
      ++checked;
      if (!every_alteration) continue;

      if (n > 1 && verify_inclusion(f.leaves[(i + 1) % n], i, n, proof, r)) FAIL("wrong leaf verified");
      if (i + 1 < n && verify_inclusion(leaf, i + 1, n, proof, r)) FAIL("index + 1 verified " << i << "/" << n);
      if (i > 0 && verify_inclusion(leaf, i - 1, n, proof, r)) FAIL("index - 1 verified " << i << "/" << n);
      if (verify_inclusion(leaf, n, n, proof, r)) FAIL("index == size verified");
      if (i + 1 < n && verify_inclusion(leaf, i, n - 1, proof, f.roots[n - 1])) {
        FAIL("size - 1 verified " << i << "/" << n);
      }
      if (verify_inclusion(leaf, i, n, proof, f.roots[n - 1])) FAIL("another root verified " << i << "/" << n);
      auto longer = proof;
      longer.push_back(leaf);
      if (verify_inclusion(leaf, i, n, longer, r)) FAIL("an extra element verified " << i << "/" << n);
      if (!proof.empty()) {
        auto shorter = proof;
        shorter.pop_back();
        if (verify_inclusion(leaf, i, n, shorter, r)) FAIL("a missing element verified " << i << "/" << n);
        for (std::size_t k = 0; k < proof.size(); ++k) {
          auto flipped = proof;
          flipped[k][(i + k) % 32] ^= 0x80;
          if (verify_inclusion(leaf, i, n, flipped, r)) FAIL("flipped element " << k << " verified " << i << "/" << n);
        }
      }
    }
  }
  CHECK(checked == kMaxSize * (kMaxSize + 1) / 2);
}

TEST_CASE("Inclusion proofs equal the RFC's PATH for every leaf of every size up to 64") {
  auto& f = fixture();
  for (std::uint64_t n = 1; n <= 64; ++n) {
    for (std::uint64_t i = 0; i < n; ++i) {
      std::vector<Sha256Digest> expected;
      reference_path(f.leaves, i, 0, n, expected);
      if (must(inclusion_proof(f.log, i, n)) != expected) FAIL("PATH(" << i << ", " << n << ") differs");
    }
  }
}

TEST_CASE("Consistency proofs equal the RFC's PROOF for every pair of sizes up to 64") {
  auto& f = fixture();
  for (std::uint64_t n = 1; n <= 64; ++n) {
    for (std::uint64_t m = 1; m < n; ++m) {
      std::vector<Sha256Digest> expected;
      reference_subproof(f.leaves, m, 0, n, true, expected);
      if (must(consistency_proof(f.log, m, n)) != expected) FAIL("PROOF(" << m << ", " << n << ") differs");
    }
  }
}

namespace {

// Verifies the proof from m to n, then that every alteration fails.
void check_consistency_pair(Fixture& f, std::uint64_t m, std::uint64_t n) {
  f.log.reset_nodes_read();
  auto proof = must(consistency_proof(f.log, m, n));
  const auto reads = f.log.nodes_read();
  const auto& old_root = f.roots[m];
  const auto& new_root = f.roots[n];
  if (reads > read_bound(n)) FAIL(m << " -> " << n << " read " << reads << " nodes");
  if (!verify_consistency(m, n, old_root, new_root, proof)) FAIL(m << " -> " << n << " does not verify");
  if (m == n) {
    if (!proof.empty()) FAIL("a proof between equal sizes is not empty");
    if (verify_consistency(m, n, old_root, f.roots[n - 1], proof)) FAIL("equal sizes, different roots verified");
    return;
  }
  if (verify_consistency(m, n, f.roots[m - 1], new_root, proof)) FAIL(m << " -> " << n << ": old root swapped");
  if (verify_consistency(m, n, old_root, f.roots[n - 1], proof)) FAIL(m << " -> " << n << ": new root swapped");
  if (verify_consistency(n, m, new_root, old_root, proof)) FAIL(m << " -> " << n << ": sizes reversed");
  // Wrong sizes with those sizes' true roots (sizes alone are bound only
  // through the proof's shape; see the inclusion test).
  if (m > 1 && verify_consistency(m - 1, n, f.roots[m - 1], new_root, proof)) FAIL(m << " -> " << n << ": old size - 1");
  if (m + 1 < n && verify_consistency(m + 1, n, f.roots[m + 1], new_root, proof)) {
    FAIL(m << " -> " << n << ": old size + 1");
  }
  if (verify_consistency(m, n + 1, old_root, f.roots[n + 1], proof)) FAIL(m << " -> " << n << ": new size + 1");
  if (m < n - 1 && verify_consistency(m, n - 1, old_root, f.roots[n - 1], proof)) {
    FAIL(m << " -> " << n << ": new size - 1");
  }
  auto longer = proof;
  longer.push_back(old_root);
  if (verify_consistency(m, n, old_root, new_root, longer)) FAIL(m << " -> " << n << ": an extra element");
  auto shorter = proof;
  shorter.pop_back();
  if (verify_consistency(m, n, old_root, new_root, shorter)) FAIL(m << " -> " << n << ": a missing element");
  for (std::size_t k = 0; k < proof.size(); ++k) {
    auto flipped = proof;
    flipped[k][(m + k) % 32] ^= 0x80;
    if (verify_consistency(m, n, old_root, new_root, flipped)) FAIL(m << " -> " << n << ": flipped element " << k);
  }
}

}  // namespace

TEST_CASE("Consistency proofs for every pair of sizes up to 300 verify, and altered ones do not") {
  auto& f = fixture();
  std::uint64_t checked = 0;
  for (std::uint64_t n = 1; n <= kAllPairsMaxSize; ++n) {
    for (std::uint64_t m = 1; m <= n; ++m) {
      check_consistency_pair(f, m, n);
      ++checked;
    }
  }
  CHECK(checked == kAllPairsMaxSize * (kAllPairsMaxSize + 1) / 2);
}

TEST_CASE("Consistency proofs for a sample of pairs up to 1100 verify, and altered ones do not") {
  auto& f = fixture();
  std::uint64_t checked = 0;
  for (std::uint64_t n = kAllPairsMaxSize + 1; n <= kMaxSize; n += 7) {
    // Powers of two and their neighbours (the edges of the recursion), the
    // ends, and a spread of others.
    std::vector<std::uint64_t> olds = {1, 2, 3, n / 2, n - 1, n};
    for (std::uint64_t p = 4; p < n; p *= 2) {
      olds.push_back(p - 1);
      olds.push_back(p);
      olds.push_back(p + 1);
    }
    for (std::uint64_t m = 5; m < n; m += 37) olds.push_back(m);
    for (auto m : olds) {
      if (m >= 1 && m <= n) {
        check_consistency_pair(f, m, n);
        ++checked;
      }
    }
  }
  CHECK(checked > 5000);
}

TEST_CASE("Degenerate proof requests and verifications") {
  auto& f = fixture();
  CHECK(must(root(f.log, 0)) == empty_tree_root());
  CHECK(inclusion_proof(f.log, 0, 0).error().code == ErrorCode::invalid_argument);
  CHECK(inclusion_proof(f.log, 5, 5).error().code == ErrorCode::invalid_argument);
  CHECK(consistency_proof(f.log, 6, 5).error().code == ErrorCode::invalid_argument);
  CHECK(must(consistency_proof(f.log, 0, 5)).empty());
  // A size beyond the log: the missing node is reported, not invented.
  CHECK(root(f.log, kMaxSize + 2).error().code == ErrorCode::not_found);
  CHECK(inclusion_proof(f.log, 0, kMaxSize + 2).error().code == ErrorCode::not_found);

  const std::vector<Sha256Digest> none;
  CHECK_FALSE(verify_inclusion(f.leaves[0], 0, 0, none, empty_tree_root()));
  CHECK(verify_inclusion(f.leaves[0], 0, 1, none, f.roots[1]));
  CHECK_FALSE(verify_inclusion(f.leaves[0], 1, 1, none, f.roots[1]));
  // The empty tree is a prefix of every tree; nothing else has size 0.
  CHECK(verify_consistency(0, 5, empty_tree_root(), f.roots[5], none));
  CHECK_FALSE(verify_consistency(0, 5, f.roots[1], f.roots[5], none));
  CHECK_FALSE(verify_consistency(0, 5, empty_tree_root(), f.roots[5], std::vector<Sha256Digest>{f.roots[1]}));
  CHECK(verify_consistency(0, 0, empty_tree_root(), empty_tree_root(), none));
  // A non-empty proof between equal sizes, or none between different ones.
  CHECK_FALSE(verify_consistency(5, 5, f.roots[5], f.roots[5], std::vector<Sha256Digest>{f.roots[5]}));
  CHECK_FALSE(verify_consistency(4, 8, f.roots[4], f.roots[8], none));
  CHECK_FALSE(verify_consistency(5, 8, f.roots[5], f.roots[8], none));
}

TEST_CASE("Proofs in a large log read O(log n) nodes") {
  MemoryLog log;
  constexpr std::uint64_t kLeaves = (1u << 17) + 12345;
  for (std::uint64_t i = 0; i < kLeaves; ++i) log.append(leaf_hash(as_bytes(std::to_string(i))));
  const auto r = must(root(log, kLeaves));
  for (std::uint64_t i : {std::uint64_t{0}, std::uint64_t{1}, kLeaves / 3, kLeaves - 2, kLeaves - 1}) {
    log.reset_nodes_read();
    auto proof = must(inclusion_proof(log, i, kLeaves));
    CHECK(log.nodes_read() <= read_bound(kLeaves));
    CHECK(verify_inclusion(must(log.node(0, i)), i, kLeaves, proof, r));
  }
  for (std::uint64_t m : {std::uint64_t{1}, std::uint64_t{1000}, std::uint64_t{1} << 16, kLeaves - 1}) {
    log.reset_nodes_read();
    auto proof = must(consistency_proof(log, m, kLeaves));
    CHECK(log.nodes_read() <= read_bound(kLeaves));
    CHECK(verify_consistency(m, kLeaves, must(root(log, m)), r, proof));
  }
}

// ---- checkpoints ----

namespace {

SigningKey test_key(std::uint8_t fill) {
  std::array<std::uint8_t, 32> seed{};
  seed.fill(fill);
  return must(SigningKey::from_seed(seed));
}

constexpr const char* kOrigin = "fpx.example/log";
constexpr const char* kKeyName = "fpx.example/log";

}  // namespace

TEST_CASE("The signed-note format reproduces Go's sumdb/note example byte for byte") {
  // golang.org/x/mod/sumdb/note's documented example: signer key
  // "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
  // whose base64 is 0x01 || the Ed25519 seed.
  const auto seed_bytes = from_hex("810a1402d5146c8d84f2443330f54080ebf98ee17d9c74f6252fc5d5c7283173");
  REQUIRE(seed_bytes);
  const auto key = must(SigningKey::from_seed(*seed_bytes));
  CHECK(note_verifier_key("PeterNeumann", key.public_key()) ==
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW");
  CHECK(note_key_id("PeterNeumann", key.public_key()) == 0xc74f20a3u);
  const std::string text =
      "If you think cryptography is the answer to your problem,\n"
      "then you don't know what your problem is.\n";
  CHECK(sign_note(text, "PeterNeumann", key) ==
        text + "\n\xE2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n");
}

TEST_CASE("A signed checkpoint parses back to its origin, size and root") {
  const auto key = test_key(7);
  auto log = reference_log();
  const auto r = must(root(log, 8));
  const auto text = sign_checkpoint(kOrigin, 8, r, kKeyName, key);
  // The body is exactly the spec's three lines.
  CHECK(text.rfind("fpx.example/log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n\n\xE2\x80\x94 fpx.example/log ", 0) == 0);
  const auto parsed = must(parse_and_verify_checkpoint(text, kKeyName, key.public_key()));
  CHECK(parsed == Checkpoint{kOrigin, 8, r});

  const auto empty = must(parse_and_verify_checkpoint(sign_checkpoint(kOrigin, 0, empty_tree_root(), kKeyName, key),
                                                      kKeyName, key.public_key()));
  CHECK(empty.size == 0);
  CHECK(empty.root == empty_tree_root());
  const auto big = must(parse_and_verify_checkpoint(
      sign_checkpoint(kOrigin, 18446744073709551615u, r, kKeyName, key), kKeyName, key.public_key()));
  CHECK(big.size == 18446744073709551615u);
}

TEST_CASE("Checkpoints with another key's signature besides ours verify; ours must be there") {
  const auto key = test_key(7);
  const auto witness = test_key(9);
  const auto r = must(root(fixture().log, 10));
  const auto text = sign_checkpoint(kOrigin, 10, r, kKeyName, key);
  // A witness cosignature appended after ours: ignored, ours still verifies.
  const auto witness_line = sign_note(text.substr(0, text.find("\n\n") + 1), "witness.example", witness);
  const auto cosigned = text + witness_line.substr(witness_line.find("\n\n") + 2);
  CHECK(must(parse_and_verify_checkpoint(cosigned, kKeyName, key.public_key())).size == 10);
  // Only the witness signed: no signature of ours.
  CHECK(parse_and_verify_checkpoint(witness_line, kKeyName, key.public_key()).error().code ==
        ErrorCode::bad_signature);
}

TEST_CASE("Altered checkpoints, wrong keys and wrong key names are refused as bad signatures") {
  const auto key = test_key(7);
  const auto r = must(root(fixture().log, 10));
  const auto text = sign_checkpoint(kOrigin, 10, r, kKeyName, key);
  const auto pub = key.public_key();
  const auto code = [&](const std::string& note, std::string_view name, const Ed25519PublicKey& public_key) {
    auto result = parse_and_verify_checkpoint(note, name, public_key);
    return result ? ErrorCode::none : result.error().code;
  };

  SECTION("a different tree size") {
    auto altered = text;
    altered.replace(altered.find("\n10\n"), 4, "\n11\n");
    CHECK(code(altered, kKeyName, pub) == ErrorCode::bad_signature);
  }
  SECTION("a different root") {
    const auto other = sign_checkpoint(kOrigin, 10, must(root(fixture().log, 9)), kKeyName, key);
    auto altered = other.substr(0, other.find("\n\n") + 1) + text.substr(text.find("\n\n") + 1);
    CHECK(code(altered, kKeyName, pub) == ErrorCode::bad_signature);
  }
  SECTION("a different origin") {
    auto altered = text;
    altered.replace(0, 3, "fpy");
    CHECK(code(altered, kKeyName, pub) == ErrorCode::bad_signature);
  }
  SECTION("a flipped bit in the signature") {
    auto altered = text;
    auto& c = altered[altered.size() - 10];
    c = (c == 'A') ? 'B' : 'A';
    CHECK(code(altered, kKeyName, pub) == ErrorCode::bad_signature);
  }
  SECTION("another public key under the same name") {
    CHECK(code(text, kKeyName, test_key(8).public_key()) == ErrorCode::bad_signature);
  }
  SECTION("another key name") {
    CHECK(code(text, "fpx.example/other", pub) == ErrorCode::bad_signature);
  }
  SECTION("the right text signed by another key that claims our name") {
    const auto forged = sign_checkpoint(kOrigin, 10, r, kKeyName, test_key(8));
    CHECK(code(forged, kKeyName, pub) == ErrorCode::bad_signature);
  }
  SECTION("our name and key ID on a signature that does not verify, next to a good one") {
    const auto line = text.substr(text.find("\n\n") + 2);
    auto bad_line = line;
    auto& c = bad_line[bad_line.size() - 10];
    c = (c == 'A') ? 'B' : 'A';
    CHECK(code(text + bad_line, kKeyName, pub) == ErrorCode::bad_signature);
  }
  SECTION("unaltered") { CHECK(code(text, kKeyName, pub) == ErrorCode::none); }
}

TEST_CASE("Malformed checkpoint text is refused as malformed") {
  const auto key = test_key(7);
  const auto pub = key.public_key();
  const auto r = must(root(fixture().log, 10));
  const auto good = sign_checkpoint(kOrigin, 10, r, kKeyName, key);
  const auto body_end = good.find("\n\n") + 1;
  const auto body = good.substr(0, body_end);
  const auto signatures = good.substr(body_end + 1);
  const auto root_b64 = body.substr(body.find("\n10\n") + 4, 44);
  const auto code = [&](const std::string& note) {
    auto result = parse_and_verify_checkpoint(note, kKeyName, pub);
    return result ? ErrorCode::none : result.error().code;
  };
  // Re-signed so that only the format is wrong.
  const auto signed_body = [&](const std::string& text) { return sign_note(text, kKeyName, key); };

  CHECK(code(good) == ErrorCode::none);
  CHECK(code("") == ErrorCode::malformed);
  CHECK(code(body) == ErrorCode::malformed);                                   // no signatures
  CHECK(code(body + "\n") == ErrorCode::malformed);                            // blank line, no signature line
  CHECK(code(good.substr(0, good.size() - 1)) == ErrorCode::malformed);        // no final newline
  CHECK(code(body + signatures) == ErrorCode::malformed);                      // no blank line
  CHECK(code(body + "\n- " + signatures.substr(4)) == ErrorCode::malformed);   // hyphen for em dash
  CHECK(code(body + "\n\xE2\x80\x94 fpx.example/log\n") == ErrorCode::malformed);  // no signature
  CHECK(code(body + "\n\xE2\x80\x94 fpx.example/log !!!!\n") == ErrorCode::malformed);  // not base64
  CHECK(code(body + "\n\xE2\x80\x94 fpx.example/log AAAA\n") == ErrorCode::malformed);  // only a key ID's worth
  CHECK(code(body + "\n\xE2\x80\x94 fpx+log AAAAAAAA\n") == ErrorCode::malformed);     // '+' in a key name
  CHECK(code(good + "trailing\n") == ErrorCode::malformed);
  CHECK(code(signed_body("fpx.example/log\n10\n")) == ErrorCode::malformed);              // no root
  CHECK(code(signed_body(body + "extension line\n")) == ErrorCode::malformed);            // FPX writes none
  CHECK(code(signed_body("\n10\n" + root_b64 + "\n")) == ErrorCode::malformed);             // empty origin
  CHECK(code(signed_body("fpx.example/log\n010\n" + root_b64 + "\n")) == ErrorCode::malformed);  // leading zero
  CHECK(code(signed_body("fpx.example/log\n-1\n" + root_b64 + "\n")) == ErrorCode::malformed);
  CHECK(code(signed_body("fpx.example/log\n1 0\n" + root_b64 + "\n")) == ErrorCode::malformed);
  CHECK(code(signed_body("fpx.example/log\n18446744073709551616\n" + root_b64 + "\n")) == ErrorCode::malformed);
  CHECK(code(signed_body("fpx.example/log\n10\n" + root_b64.substr(0, 40) + "\n")) == ErrorCode::malformed);
  CHECK(code(signed_body("fpx.example/log\n10\n" + root_b64 + "AAAA\n")) == ErrorCode::malformed);  // 35 bytes
  CHECK(code(signed_body("fpx.example/log\n10\n " + root_b64 + "\n")) == ErrorCode::malformed);
  // Non-canonical base64: the same 32 bytes to a lenient decoder, but with
  // the last character's two unused bits set.
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  auto noncanonical = root_b64;
  noncanonical[42] = alphabet[alphabet.find(root_b64[42]) | 1];
  REQUIRE(noncanonical != root_b64);
  CHECK(code(signed_body("fpx.example/log\n10\n" + noncanonical + "\n")) == ErrorCode::malformed);
  // Control characters and invalid UTF-8 anywhere.
  CHECK(code("fpx.example/log\r\n10\n" + root_b64 + "\n\n" + signatures) == ErrorCode::malformed);
  CHECK(code(std::string("fpx.example/\xC0\xAF\n10\n") + root_b64 + "\n\n" + signatures) == ErrorCode::malformed);
  CHECK(code(std::string("fpx.example/log\n10\n") + root_b64 + "\n\n" + signatures + '\0') == ErrorCode::malformed);
  CHECK(code(std::string(200 * 1024, 'a')) == ErrorCode::malformed);
}

TEST_CASE("Key names with spaces or plus signs are not note key names") {
  CHECK(valid_note_key_name("fpx.example/log"));
  CHECK(valid_note_key_name("PeterNeumann"));
  CHECK_FALSE(valid_note_key_name(""));
  CHECK_FALSE(valid_note_key_name("a b"));
  CHECK_FALSE(valid_note_key_name("a+b"));
  CHECK_FALSE(valid_note_key_name("a\xC2\xA0" "b"));  // no-break space
  CHECK_FALSE(valid_note_key_name("a\tb"));
  CHECK_FALSE(valid_note_key_name("a\xFF"));
}
