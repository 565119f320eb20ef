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
#include <string>
#include <string_view>
#include <vector>

#include "fpx/broker_pins.hpp"
#include "fpx/certificate.hpp"
#include "fpx/crypto.hpp"
#include "fpx/identity.hpp"
#include "fpx/transparency_log.hpp"

namespace fpx::client {

inline constexpr const char* kDefaultLogOrigin = "fpx.exchange/log";
// The broker answers at most this many records per follow request.
inline constexpr std::uint32_t kMaxFeedRecordsPerPage = 1000;

struct ObserverOptions {
  std::string endpoint;                  // e.g. "tcp://127.0.0.1:7401"
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
};

struct FeedPage {
  std::vector<FeedRecord> records;
  std::uint64_t next_sequence = 1;  // where the next follow() starts
};

struct SignedCheckpoint {
  Checkpoint checkpoint;  // origin, tree size, root
  std::string note;       // the signed note text, to keep and re-verify later
};

// Checks one record on its own (also used on records saved earlier): the
// signature with the broker's key, then that the signed JSON is an object
// whose "sequence" and "kind" equal the ones given, and that "logIndex" and
// "leafHash", when present, are well formed. bad_signature or malformed.
Result<FeedRecord> verify_feed_record(const Ed25519PublicKey& broker_key, std::uint64_t sequence, std::string kind,
                                      std::string signed_record, Bytes signature);

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
