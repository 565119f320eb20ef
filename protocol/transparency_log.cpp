// RFC 9162 Merkle tree hashes, proofs and their verification. See
// fpx/transparency_log.hpp for why proofs read only aligned complete subtrees.

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <string>

#include "fpx/transparency_log.hpp"

namespace fpx {

namespace {

constexpr std::uint8_t kLeafPrefix = 0x00;
constexpr std::uint8_t kNodePrefix = 0x01;

// The RFC's split point: the largest power of two smaller than n (n >= 2).
std::uint64_t split_point(std::uint64_t n) { return std::bit_floor(n - 1); }

std::uint32_t log2_exact(std::uint64_t power_of_two) {
  return static_cast<std::uint32_t>(std::countr_zero(power_of_two));
}

// MTH(D[begin : begin + size]) for a range of the RFC's recursion: begin is
// a multiple of the smallest power of two >= size (true of the whole tree
// and, by induction, of both halves of every split). A complete range is one
// stored node; an incomplete one (only ever the right edge of the tree) is
// its complete left part and the rest, so O(log size) reads.
Result<Sha256Digest> range_hash(NodeSource& source, std::uint64_t begin, std::uint64_t size) {
  if (std::has_single_bit(size)) {
    const auto level = log2_exact(size);
    return source.node(level, begin >> level);
  }
  const std::uint64_t k = split_point(size);
  auto left = source.node(log2_exact(k), begin >> log2_exact(k));
  if (!left) return left;
  auto right = range_hash(source, begin + k, size - k);
  if (!right) return right;
  return node_hash(*left, *right);
}

// PATH(index, D[begin : begin + size]) appended leaf end first.
Status append_path(NodeSource& source, std::uint64_t index, std::uint64_t begin, std::uint64_t size,
                   std::vector<Sha256Digest>& out) {
  if (size <= 1) return {};
  const std::uint64_t k = split_point(size);
  Result<Sha256Digest> sibling = Sha256Digest{};
  if (index < k) {
    if (auto status = append_path(source, index, begin, k, out); !status) return status;
    sibling = range_hash(source, begin + k, size - k);
  } else {
    if (auto status = append_path(source, index - k, begin + k, size - k, out); !status) return status;
    sibling = range_hash(source, begin, k);
  }
  if (!sibling) return std::move(sibling).take_error();
  out.push_back(*sibling);
  return {};
}

// SUBPROOF(m, D[begin : begin + size], whole_old_tree) appended.
Status append_subproof(NodeSource& source, std::uint64_t m, std::uint64_t begin, std::uint64_t size,
                       bool whole_old_tree, std::vector<Sha256Digest>& out) {
  Result<Sha256Digest> hash = Sha256Digest{};
  if (m == size) {
    // The verifier already holds the old root when this is the whole old tree.
    if (whole_old_tree) return {};
    hash = range_hash(source, begin, size);
  } else {
    const std::uint64_t k = split_point(size);
    if (m <= k) {
      if (auto status = append_subproof(source, m, begin, k, whole_old_tree, out); !status) return status;
      hash = range_hash(source, begin + k, size - k);
    } else {
      if (auto status = append_subproof(source, m - k, begin + k, size - k, false, out); !status) return status;
      hash = range_hash(source, begin, k);
    }
  }
  if (!hash) return std::move(hash).take_error();
  out.push_back(*hash);
  return {};
}

// SHA-256(prefix || first || second).
Sha256Digest prefixed_hash(std::uint8_t prefix, ByteView first, ByteView second) {
  const std::uint8_t prefix_byte[1] = {prefix};
  return sha256({ByteView(prefix_byte), first, second});
}

}  // namespace

Sha256Digest leaf_hash(ByteView data) { return prefixed_hash(kLeafPrefix, data, {}); }

Sha256Digest node_hash(const Sha256Digest& left, const Sha256Digest& right) {
  return prefixed_hash(kNodePrefix, left, right);
}

Sha256Digest empty_tree_root() { return sha256(ByteView{}); }

Result<Sha256Digest> root(NodeSource& source, std::uint64_t tree_size) {
  if (tree_size == 0) return empty_tree_root();
  return range_hash(source, 0, tree_size);
}

Result<std::vector<Sha256Digest>> inclusion_proof(NodeSource& source, std::uint64_t leaf_index,
                                                  std::uint64_t tree_size) {
  if (leaf_index >= tree_size) {
    return make_error(ErrorCode::invalid_argument, "leaf " + std::to_string(leaf_index) +
                                                       " is not in a tree of size " + std::to_string(tree_size));
  }
  std::vector<Sha256Digest> proof;
  proof.reserve(64);
  if (auto status = append_path(source, leaf_index, 0, tree_size, proof); !status) {
    return std::move(status).take_error();
  }
  return proof;
}

Result<std::vector<Sha256Digest>> consistency_proof(NodeSource& source, std::uint64_t old_size,
                                                    std::uint64_t new_size) {
  if (old_size > new_size) {
    return make_error(ErrorCode::invalid_argument, "a tree of size " + std::to_string(old_size) +
                                                       " cannot be a prefix of one of size " +
                                                       std::to_string(new_size));
  }
  std::vector<Sha256Digest> proof;
  if (old_size == 0 || old_size == new_size) return proof;
  proof.reserve(64);
  if (auto status = append_subproof(source, old_size, 0, new_size, true, proof); !status) {
    return std::move(status).take_error();
  }
  return proof;
}

bool verify_inclusion(const Sha256Digest& leaf, std::uint64_t leaf_index, std::uint64_t tree_size,
                      std::span<const Sha256Digest> proof, const Sha256Digest& expected_root) {
  if (leaf_index >= tree_size) return false;
  std::uint64_t fn = leaf_index;
  std::uint64_t sn = tree_size - 1;
  Sha256Digest r = leaf;
  for (const auto& p : proof) {
    if (sn == 0) return false;  // an element too many
    if ((fn & 1) != 0 || fn == sn) {
      r = node_hash(p, r);
      // On the right edge a node without a right sibling moves up unchanged.
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = node_hash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == expected_root;  // sn != 0: an element too few
}

bool verify_consistency(std::uint64_t old_size, std::uint64_t new_size, const Sha256Digest& old_root,
                        const Sha256Digest& new_root, std::span<const Sha256Digest> proof) {
  if (old_size > new_size) return false;
  if (old_size == 0) return proof.empty() && old_root == empty_tree_root();
  if (old_size == new_size) return proof.empty() && old_root == new_root;
  if (proof.empty()) return false;

  // The proof omits the old root when the old tree is one complete subtree.
  std::vector<Sha256Digest> path;
  path.reserve(proof.size() + 1);
  if (std::has_single_bit(old_size)) path.push_back(old_root);
  for (const auto& hash : proof) path.push_back(hash);

  std::uint64_t fn = old_size - 1;
  std::uint64_t sn = new_size - 1;
  while ((fn & 1) != 0) {
    fn >>= 1;
    sn >>= 1;
  }
  Sha256Digest fr = path[0];
  Sha256Digest sr = path[0];
  for (std::size_t i = 1; i < path.size(); ++i) {
    const auto& c = path[i];
    if (sn == 0) return false;  // an element too many
    if ((fn & 1) != 0 || fn == sn) {
      fr = node_hash(c, fr);
      sr = node_hash(c, sr);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = node_hash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && fr == old_root && sr == new_root;
}

void MemoryLog::reserve(std::uint64_t leaves) {
  std::uint64_t count = leaves;
  std::size_t level = 0;
  while (count > 0) {
    if (levels_.size() <= level) levels_.emplace_back();
    levels_[level].reserve(count);
    count /= 2;
    ++level;
  }
}

void MemoryLog::append(const Sha256Digest& leaf) {
  if (levels_.empty()) levels_.emplace_back();
  levels_[0].push_back(leaf);
  // Each even count at a level closes a subtree one level up.
  for (std::size_t level = 0; levels_[level].size() % 2 == 0; ++level) {
    const auto& below = levels_[level];
    const Sha256Digest parent = node_hash(below[below.size() - 2], below.back());
    if (levels_.size() == level + 1) levels_.emplace_back();  // may move `below`: parent is computed first
    levels_[level + 1].push_back(parent);
  }
}

Result<Sha256Digest> MemoryLog::node(std::uint32_t level, std::uint64_t index) {
  ++nodes_read_;
  if (level >= levels_.size() || index >= levels_[level].size()) {
    return make_error(ErrorCode::not_found, "no complete subtree at level " + std::to_string(level) + " index " +
                                                std::to_string(index) + " in a log of size " +
                                                std::to_string(size()));
  }
  return levels_[level][index];
}

}  // namespace fpx
