// Split-view evidence: two checkpoints of one log, both signed by the log's
// key, that cannot both be true. A witness writes it when a log-signed
// checkpoint conflicts with the one it cosigned; an observer writes it when
// a checkpoint another observer shared conflicts with its own. Anyone checks
// it offline with `fpx log evidence check FILE` (docs/PROTOCOL.md,
// "Split-view evidence").
//
// The file is one JSON object (nlohmann-json, the one codec of this boundary):
//   {"fpxSplitViewEvidence": 1, "kind": "same-size-different-roots" | "consistency-proof-failed",
//    "origin", "logKey" (the log's vkey), "first" (note), "second" (note),
//    "proof": [base64 hashes from first's size to second's], "seenBy", "seenAt" (RFC 3339 UTC), "detail"}
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "fpx/result.hpp"
#include "fpx/signed_note.hpp"
#include "fpx/transparency_log.hpp"

namespace fpx::witness {

// An evidence file is at most this long: two notes and a proof. It comes
// from anyone, so reading one is bounded.
inline constexpr std::size_t kMaxEvidenceFileBytes = 4 * kMaxSignedNoteBytes;

enum class SplitViewKind {
  // Two roots for one tree size: proven by the two signatures alone.
  same_size_different_roots,
  // The log's own consistency proof from the smaller to the larger
  // checkpoint does not verify.
  consistency_proof_failed,
};
std::string_view split_view_kind_name(SplitViewKind kind);

struct SplitViewEvidence {
  SplitViewKind kind = SplitViewKind::same_size_different_roots;
  std::string origin;
  VerifierKey log_key;
  std::string first;  // the smaller (or, at one size, the earlier seen) checkpoint note
  std::string second;
  std::vector<Sha256Digest> proof;
  std::string seen_by;  // the witness's name, or "observer <id>"
  std::string seen_at;  // RFC 3339 UTC
  std::string detail;
};

std::string evidence_to_json(const SplitViewEvidence& evidence);
Result<SplitViewEvidence> evidence_from_json(std::string_view json);

// Writes the evidence to `dir`/split-view-<origin>-<time>-<n>.json (0600,
// fsynced, never overwriting) and returns the path.
Result<std::filesystem::path> write_evidence_file(const std::filesystem::path& dir, const SplitViewEvidence& evidence);
Result<SplitViewEvidence> read_evidence_file(const std::filesystem::path& path);

// What a check of evidence found.
struct EvidenceFinding {
  Checkpoint first;
  Checkpoint second;
  // True when the file proves the log signed two inconsistent histories
  // (same size, different roots; or a proof that fails at sizes where the
  // log must be able to give one: the proof recorded was the log's own).
  bool proven = false;
  std::string explanation;
};

// Checks both notes against the log key named in the file (and, when
// `expected_log_key` is given, that it is that key), then whether they are
// inconsistent. bad_signature when a note is not signed by the log's key
// (the file proves nothing), malformed for a damaged file.
Result<EvidenceFinding> check_evidence(const SplitViewEvidence& evidence,
                                       const VerifierKey* expected_log_key = nullptr);

// Now as RFC 3339 UTC, for seen_at.
std::string utc_now_rfc3339();

}  // namespace fpx::witness
