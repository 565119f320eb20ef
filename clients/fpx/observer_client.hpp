// fpx_client for observers (civil-society oversight): a read-only session on
// the broker's observer endpoint (schemas/observer.capnp, docs/PROTOCOL.md).
//
//   auto observer = fpx::client::ObserverClient::connect(std::move(identity), options);
//   auto page = (*observer)->follow(next, 1000);          // verified feed records
//   auto head = (*observer)->latest_checkpoint();         // verified signed note
//   auto proof = (*observer)->consistency_proof(old_size, head->checkpoint.size);
//
// Guarantees:
//  - The broker's chain is verified against the root CA and must have the
//    broker role and a pinned key (ObserverOptions::broker_pins: otherwise
//    signer_mismatch, before connecting); that Ed25519 key is the one every
//    record and checkpoint is checked with, so a record or checkpoint signed
//    by any other key is refused. Its CURVE key must be the one pinned for
//    transport.
//  - follow() returns only records whose signature (over
//    fpx::feed_signing_input, fpx/envelope.hpp) verifies and whose signed
//    JSON says the same sequence and kind as the frame, in order and without
//    gaps; one bad record fails the whole page (nothing bad is returned).
//  - follow() also refuses a page holding a record that the next
//    checkpoint after it does not cover, or an unbound public record after
//    a bound one (FeedCover below), with the evidence.
//  - latest_checkpoint() returns only a note signed by the broker's key
//    under the expected origin.
//  - Proofs are returned as sent; check them with verify_inclusion /
//    verify_consistency (fpx/transparency_log.hpp) against a verified root.
//  - A refused CURVE handshake (a key without the observer role, a wrong
//    broker key) is ErrorCode::unauthorized, "handshake refused", never a hang.
//  - Not thread-safe: use an ObserverClient from one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fpx/broker_pins.hpp"
#include "fpx/certificate.hpp"
#include "fpx/cosignature.hpp"
#include "fpx/crypto.hpp"
#include "fpx/identity.hpp"
#include "fpx/transparency_log.hpp"

namespace fpx::client {

inline constexpr const char* kDefaultLogOrigin = "fpx.exchange/log";
// The broker answers at most this many records per follow request.
inline constexpr std::uint32_t kMaxFeedRecordsPerPage = 1000;

struct ObserverOptions {
  std::string endpoint;                  // e.g. "tcp://127.0.0.1:7401"
  // The observer endpoints of the exchange's other brokers (failover,
  // PROTOCOL §2.1), tried in turn after `endpoint`: at connect, and when the
  // broker in use is gone for handshake_timeout or a request got no answer.
  std::vector<std::string> endpoints;
  std::vector<Certificate> broker_chain;  // the broker's chain.pem, leaf first
  std::filesystem::path root_ca;         // broker_chain must lead to it
  // The exchange's broker signing keys (fpx/broker_pins.hpp), at least one;
  // broker_chain's key must be one of them.
  BrokerPins broker_pins;
  // Zero: taken from the broker certificate's CURVE extension. Otherwise it
  // must equal that key (a pinned key that disagrees with the certificate is
  // a misconfiguration, not something to pick a side on silently).
  CurvePublicKey broker_curve_key{};
  // The origin line (and note key name) the checkpoints must carry.
  std::string log_origin = kDefaultLogOrigin;
  // Witnesses this observer trusts ([[witnesses]] of its profile) and how
  // many of them must have cosigned a checkpoint before it is believed
  // (witness_quorum, 1..n; docs/PROTOCOL.md §13.4). Empty: checkpoints
  // are taken on the broker's signature alone.
  std::vector<WitnessKey> witnesses;
  std::size_t witness_quorum = 0;
  std::chrono::milliseconds handshake_timeout{5000};
  std::chrono::milliseconds request_timeout{15000};
};

// One verified record of the public feed.
struct FeedRecord {
  std::uint64_t sequence = 0;
  std::string kind;           // "checkpoint", "campaign-report", "public-alert", ...
  std::string signed_record;  // the JSON text, exactly as signed
  Bytes signature;            // Ed25519 over fpx::feed_signing_input(signed_record)
  // Where to prove the record's inclusion: the leaf of the accepted message
  // it shows, or (statistics, reveals) the record itself as a leaf.
  std::optional<std::uint64_t> log_index;
  std::optional<Sha256Digest> leaf_hash;
  // Bound: the leaf at log_index is computed from signed_record itself
  // (leaf data SHA-256("fpx/v1/public-record\0" || signed_record)), so its
  // inclusion proves the very bytes shown are logged. Public alerts and
  // campaign reports published before content binding name only the salted
  // leaf of their message (logIndex with leafHash): not bound.
  bool bound = false;
  // A bound public alert or campaign report also names its message's
  // (salted) leaf: "messageLogIndex" and "messageLeafHash", both or neither.
  std::optional<std::uint64_t> message_log_index;
  std::optional<Sha256Digest> message_leaf_hash;
  // A checkpoint record's "treeSize" and "note" (checked against each other
  // by FeedCover::add and by fpx log verify).
  std::optional<std::uint64_t> tree_size;
  std::optional<std::string> note;
};

struct FeedPage {
  std::vector<FeedRecord> records;
  std::uint64_t next_sequence = 1;  // where the next follow() starts
};

struct SignedCheckpoint {
  Checkpoint checkpoint;  // origin, tree size, root
  std::string note;       // the signed note text (with any cosignatures), to keep and re-verify later
  // Set when witnesses are trusted: who cosigned it, who did not.
  std::optional<CosignatureReport> cosignatures = {};
};

// A checkpoint note against the witnesses a client trusts: nullopt when it
// trusts none; bad_signature naming who signed and who did not when fewer
// than `quorum` cosigned it validly (require_cosignatures).
Result<std::optional<CosignatureReport>> require_witnessed(std::string_view note, std::span<const WitnessKey> witnesses,
                                                           std::size_t quorum);

// Checks one record on its own (also used on records saved earlier): the
// signature with the broker's key, then that the signed JSON is an object
// whose "sequence" and "kind" equal the ones given, and that "logIndex" and
// "leafHash", when present, are well formed. bad_signature or malformed.
Result<FeedRecord> verify_feed_record(const Ed25519PublicKey& broker_key, std::uint64_t sequence, std::string kind,
                                      std::string signed_record, Bytes signature);

// --- every record in the log (docs/PROTOCOL.md §11 "Every record is covered") --
// Every record that names a leaf must be covered by the next checkpoint the
// feed carries after it: each leaf index it names (logIndex, and
// messageLogIndex) is below that checkpoint's treeSize. A record without a
// checkpoint after it yet is pending only while it is in the feed's tail and
// was fetched less than the pending grace ago.

// Why a record failed the cover.
enum class CoverFailure {
  not_covered,          // the next checkpoint after it is smaller than its leaf index
  pending_too_long,     // in the tail, with no checkpoint after it, for longer than the grace
  unbound_after_bound,  // a public alert or campaign report not bound to its leaf, after one that was
};
std::string_view cover_failure_name(CoverFailure failure);

// The evidence an observer prints and keeps: the record, the index it
// names, and the checkpoint that should have covered it.
struct CoverEvidence {
  CoverFailure failure = CoverFailure::not_covered;
  std::uint64_t sequence = 0;
  std::string kind;
  std::uint64_t log_index = 0;  // the largest leaf index the record names
  std::string signed_record;
  std::optional<std::uint64_t> checkpoint_sequence;  // not_covered: the checkpoint record after it
  std::optional<std::uint64_t> checkpoint_size;
  std::int64_t waited_ms = 0;  // pending_too_long: since it was fetched
  // One paragraph for people, starting with what failed and ending with the record.
  std::string describe() const;
};

// The largest leaf index a record names (logIndex, messageLogIndex), if any.
std::optional<std::uint64_t> highest_leaf_index(const FeedRecord& record);

// Walks verified records in sequence order, in bounded memory (of the
// records waiting for a checkpoint it keeps only the one naming the highest
// index and the oldest fetch time, so a feed of a billion records costs no
// more than one).
class FeedCover {
 public:
  // Fails with the evidence of the first record the checkpoint `record`
  // should cover and does not, or of an unbound record after a bound one.
  // The error is bad_signature (the broker signed something it did not log),
  // its message the evidence; failure() keeps it typed.
  Status add(const FeedRecord& record, std::int64_t fetched_at_ms);
  // At the feed's end: records with no checkpoint after them that `latest`
  // (the log's latest checkpoint size, fetched now) covers are covered; the
  // rest are pending, or fail once older than `grace_ms`.
  std::optional<CoverEvidence> finish(std::uint64_t latest_size, std::int64_t now_ms, std::int64_t grace_ms);
  std::size_t pending() const { return waiting_count_; }
  std::size_t covered() const { return covered_count_; }
  std::size_t unbound() const { return unbound_count_; }
  const std::optional<CoverEvidence>& failure() const { return failure_; }

 private:
  std::optional<FeedRecord> highest_waiting_;  // the waiting record naming the highest leaf index
  std::int64_t oldest_waiting_at_ms_ = 0;
  std::size_t waiting_count_ = 0;
  std::size_t covered_count_ = 0;
  std::size_t unbound_count_ = 0;
  bool seen_bound_public_ = false;
  std::optional<CoverEvidence> failure_;
};

// Parses and verifies a checkpoint note: its first line must be `origin`,
// which is also the key name of the broker's signature.
Result<SignedCheckpoint> verify_checkpoint_note(std::string note, std::string_view origin,
                                                const Ed25519PublicKey& broker_key);

// The Ed25519 key of a certificate (the subject public key).
Result<Ed25519PublicKey> ed25519_key_of(const Certificate& certificate);

class ObserverClient {
 public:
  static Result<std::unique_ptr<ObserverClient>> connect(Identity identity, const ObserverOptions& options);
  ~ObserverClient();

  // Up to `max_records` records from `from_sequence` on (1 is the first;
  // 0 reads as 1). An empty page means the feed has nothing newer yet.
  // A checkpoint record's note must verify and say its treeSize; a record
  // the next checkpoint does not cover (FeedCover, carried on from one
  // follow() to the one that continues it) fails the page with bad_signature
  // and the evidence.
  Result<FeedPage> follow(std::uint64_t from_sequence, std::uint32_t max_records = kMaxFeedRecordsPerPage);
  Result<SignedCheckpoint> latest_checkpoint();
  // RFC 9162 inclusion proof of leaf `leaf_index` in the tree of `tree_size`.
  Result<std::vector<Sha256Digest>> inclusion_proof(std::uint64_t leaf_index, std::uint64_t tree_size);
  // RFC 9162 consistency proof between the trees of the two sizes.
  Result<std::vector<Sha256Digest>> consistency_proof(std::uint64_t first_tree_size, std::uint64_t second_tree_size);

  // The broker's signing key (from its verified certificate).
  const Ed25519PublicKey& broker_key() const;
  const Identity& identity() const;

 private:
  struct Impl;
  explicit ObserverClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fpx::client
