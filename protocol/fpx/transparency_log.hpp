// The transparency log's math: an RFC 9162 Merkle tree over SHA-256 with
// inclusion and consistency proofs, and C2SP checkpoints (signed notes) of
// its tree heads. Pure functions: the broker keeps the hashes in SQLite,
// tests and benches in MemoryLog, both behind NodeSource.
//
// Every proof is assembled from aligned complete subtrees only (the nodes a
// store can keep once and never rewrite). The RFC's recursion splits a range
// at the largest power of two below its size, so every left part is such a
// subtree; only the right edge of the tree is incomplete, and its hash is
// rebuilt from its O(log n) aligned pieces. So a proof reads O(log n) nodes
// whatever the tree size.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fpx/crypto.hpp"
#include "fpx/ids.hpp"
#include "fpx/result.hpp"

namespace fpx {

// RFC 9162 section 2.1.1: SHA-256(0x00 || data) and SHA-256(0x01 || left || right).
// The prefixes keep a leaf from ever passing for an interior node.
Sha256Digest leaf_hash(ByteView data);
Sha256Digest node_hash(const Sha256Digest& left, const Sha256Digest& right);

// The root of the empty tree: SHA-256 of nothing (RFC 9162 section 2.1.1).
Sha256Digest empty_tree_root();

// Where the hashes of complete aligned subtrees come from.
class NodeSource {
 public:
  virtual ~NodeSource() = default;
  // The hash of the complete subtree over leaves [index * 2^level,
  // (index + 1) * 2^level); level 0 is the leaf hashes. Asked only for
  // subtrees that are complete in the log as it stands.
  virtual Result<Sha256Digest> node(std::uint32_t level, std::uint64_t index) = 0;
};

// MTH(D[0:tree_size]); the empty tree's root for size 0.
Result<Sha256Digest> root(NodeSource& source, std::uint64_t tree_size);

// RFC 9162 section 2.1.3.1 PATH(leaf_index, D[0:tree_size]), leaf end first.
// invalid_argument when leaf_index >= tree_size.
Result<std::vector<Sha256Digest>> inclusion_proof(NodeSource& source, std::uint64_t leaf_index,
                                                  std::uint64_t tree_size);

// RFC 9162 section 2.1.4.1 PROOF(old_size, D[0:new_size]). Empty when
// old_size is 0 or equals new_size (nothing to prove); invalid_argument when
// old_size > new_size.
Result<std::vector<Sha256Digest>> consistency_proof(NodeSource& source, std::uint64_t old_size,
                                                    std::uint64_t new_size);

// RFC 9162 section 2.1.3.2. False for leaf_index >= tree_size and for a proof
// with an element too many or too few.
bool verify_inclusion(const Sha256Digest& leaf_hash, std::uint64_t leaf_index, std::uint64_t tree_size,
                      std::span<const Sha256Digest> proof, const Sha256Digest& root);

// RFC 9162 section 2.1.4.2, plus the two cases it leaves out: equal sizes
// need an empty proof and equal roots; old size 0 needs an empty proof and
// the empty tree's root as old_root. False when old_size > new_size.
bool verify_consistency(std::uint64_t old_size, std::uint64_t new_size, const Sha256Digest& old_root,
                        const Sha256Digest& new_root, std::span<const Sha256Digest> proof);

// Every level of a tree in memory, for tests and benches: about 64 bytes per
// leaf (leaf hashes plus the interior nodes above them).
class MemoryLog final : public NodeSource {
 public:
  // Appends one leaf hash and the complete subtrees it closes.
  void append(const Sha256Digest& leaf_hash);
  std::uint64_t size() const { return levels_.empty() ? 0 : levels_[0].size(); }
  Result<Sha256Digest> node(std::uint32_t level, std::uint64_t index) override;
  // How many node() calls succeeded or failed since construction or the last reset.
  std::uint64_t nodes_read() const { return nodes_read_; }
  void reset_nodes_read() { nodes_read_ = 0; }
  void reserve(std::uint64_t leaves);

 private:
  std::vector<std::vector<Sha256Digest>> levels_;
  std::uint64_t nodes_read_ = 0;
};

// ---- C2SP checkpoints (c2sp.org/tlog-checkpoint, c2sp.org/signed-note) ----

struct Checkpoint {
  std::string origin;
  std::uint64_t size = 0;
  Sha256Digest root{};
  friend bool operator==(const Checkpoint&, const Checkpoint&) = default;
};

// Signed notes forbid spaces and '+' in key names: the name is a field of
// the signature line and of the verifier key string.
bool valid_note_key_name(std::string_view key_name);

// First 4 bytes of SHA-256(key name || 0x0A || 0x01 || public key), big-endian:
// the signed-note key ID of an Ed25519 key.
std::uint32_t note_key_id(std::string_view key_name, const Ed25519PublicKey& public_key);

// "<name>+<key id, 8 hex digits>+<base64(0x01 || public key)>": the verifier
// key string that observers configure (the format Go's note package reads).
std::string note_verifier_key(std::string_view key_name, const Ed25519PublicKey& public_key);

// A signed note with one Ed25519 signature: text (ending in a newline), a
// blank line, "— <key name> <base64(key id || signature over text)>\n".
std::string sign_note(std::string_view text, std::string_view key_name, const SigningKey& key);

// sign_note of "<origin>\n<size>\n<base64 root>\n".
// The origin and key name must be valid (checked by assert: they come from
// the broker's own configuration, which is checked when it is loaded).
std::string sign_checkpoint(std::string_view origin, std::uint64_t size, const Sha256Digest& root,
                            std::string_view key_name, const SigningKey& key);

// Parses a signed checkpoint and requires a valid signature by (key_name,
// public_key). Signatures of other keys are ignored, as the spec requires;
// a signature line that claims our name and key ID but does not verify
// refuses the note. `malformed` for any text not in the format (including
// extension lines, which FPX never writes), `bad_signature` when no
// signature of the key verifies.
Result<Checkpoint> parse_and_verify_checkpoint(std::string_view text, std::string_view key_name,
                                               const Ed25519PublicKey& public_key);

}  // namespace fpx
