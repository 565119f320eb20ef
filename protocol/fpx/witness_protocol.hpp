// The witness protocol of c2sp.org/tlog-witness as FPX speaks it
// (docs/PROTOCOL.md, "Witnesses"): the add-checkpoint request body, and the
// witness's decision on it as a pure function, so the HTTP server, the
// broker's side and the tests share one reading of the spec.
//
//   POST <prefix>/add-checkpoint
//   body = "old <size>\n" (base64 proof hash "\n"){0,63} "\n" signed checkpoint note
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fpx/crypto.hpp"
#include "fpx/result.hpp"
#include "fpx/signed_note.hpp"
#include "fpx/transparency_log.hpp"

namespace fpx {

// The spec's bound on proof lines (a proof of a tree below 2^63 leaves).
inline constexpr std::size_t kMaxConsistencyProofLines = 63;
// An add-checkpoint body is at most this long: the old size line, 63 proof
// lines of 45 bytes, and a note. It bounds what an unauthenticated network
// peer can make the witness read and hold per request.
inline constexpr std::size_t kMaxAddCheckpointBytes = 32 + kMaxConsistencyProofLines * 45 + kMaxSignedNoteBytes;

struct AddCheckpointRequest {
  std::uint64_t old_size = 0;
  std::vector<Sha256Digest> proof;
  std::string checkpoint;  // the signed note, as received
  friend bool operator==(const AddCheckpointRequest&, const AddCheckpointRequest&) = default;
};

std::string format_add_checkpoint(const AddCheckpointRequest& request);
// malformed (with the reason) or too_large; the note is only split, not verified.
Result<AddCheckpointRequest> parse_add_checkpoint(std::string_view body);

// A log a witness follows: its origin and its key (the log signs its
// checkpoints as a note signer named `key.name`, of type Ed25519).
struct WitnessedLog {
  std::string origin;
  VerifierKey key;
};

// What the witness recorded for a log: the latest checkpoint it cosigned.
struct WitnessedCheckpoint {
  std::uint64_t size = 0;
  Sha256Digest root{};
  std::string note;  // as received, kept as evidence
};

// The witness's answer, one per HTTP status of the spec.
enum class WitnessVerdict {
  cosign,             // 200: cosign and record
  malformed,          // 400
  bad_log_signature,  // 403: no signature of the log's key verifies
  unknown_origin,     // 404
  old_size_conflict,  // 409: old size is not the recorded size (body: the recorded size)
  root_conflict,      // 409: same size as recorded, another root: a split view
  bad_proof,          // 422: the consistency proof does not verify: maybe a split view
};
int http_status_of(WitnessVerdict verdict);

struct WitnessDecision {
  WitnessVerdict verdict = WitnessVerdict::malformed;
  std::string reason;                 // for the response body and the witness's log
  const WitnessedLog* log = nullptr;  // set from bad_log_signature on
  Checkpoint checkpoint;              // set from old_size_conflict on
  std::string checkpoint_text;        // the note's text (what a cosignature signs), from old_size_conflict on
  std::uint64_t recorded_size = 0;    // the witness's size for the log (409's body)
};

// Finds the log by the checkpoint's origin, verifies the log's signature,
// and checks the request against `recorded` (nullopt: never cosigned, size
// 0) exactly as tlog-witness says. `recorded` must be the state of the
// log named by the checkpoint's origin: call with a lookup by origin
// (witness_origin_of).
WitnessDecision judge_add_checkpoint(const AddCheckpointRequest& request, std::span<const WitnessedLog> logs,
                                     const std::optional<WitnessedCheckpoint>& recorded);

// The origin (first line) of a note, for looking up its state first;
// nullopt when the text has no first line.
std::optional<std::string> witness_origin_of(std::string_view note);

}  // namespace fpx
