// Asking a witness to cosign a checkpoint (the log's side of tlog-witness).
// Made for the broker's publisher: call request_cosignature on a thread of
// its own, one per witness, with a timeout; a witness down or slow costs
// that thread the timeout and nothing else. The checkpoint then goes out
// with the cosignatures that came (add_note_signatures, fpx/cosignature.hpp).
//
//   auto lines = request_cosignature(endpoint, note, proofs, {.old_size = last_size, .timeout = 5s});
//   if (lines) note = *add_note_signatures(note, lines->cosignatures);
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "fpx/cosignature.hpp"
#include "fpx/result.hpp"
#include "fpx/transparency_log.hpp"

namespace fpx::witness {

// A witness as a log knows it: its key (name and public key) and where it
// listens ("http://host:port", optionally with a path prefix).
struct WitnessEndpoint {
  WitnessKey key;
  std::string url;
};

// Gives the RFC 9162 consistency proof between two tree sizes of the log
// (the broker's: fpx::consistency_proof over its store).
using ConsistencyProofSource =
    std::function<Result<std::vector<Sha256Digest>>(std::uint64_t old_size, std::uint64_t new_size)>;

struct CosignRequestOptions {
  // The size the log believes the witness holds (the last it cosigned); 0
  // at first. A wrong guess costs one more round trip (409, then a retry
  // from the witness's size).
  std::uint64_t old_size = 0;
  // Bounds connecting, sending and reading, each.
  std::chrono::milliseconds timeout{5000};
};

struct CosignResult {
  std::vector<NoteSignature> cosignatures;  // verified with the witness's key
  std::uint64_t witness_size = 0;           // what the witness now holds: the next old_size
};

// POSTs add-checkpoint and verifies the answer. Errors: unavailable
// (unreachable, timeout, 5xx), signer_mismatch/bad_signature (an answer
// without a valid cosignature of this witness), and the witness's refusals
// as typed errors: not_found (404: it does not follow this log),
// bad_signature (403), malformed (400, 413), replay (409 with a root
// conflict or a size above the checkpoint's: the witness holds another
// history), invalid_argument (422: our proof did not verify). A 409 with a
// smaller size is retried once with a proof from that size.
Result<CosignResult> request_cosignature(const WitnessEndpoint& witness, std::string_view checkpoint_note,
                                         const ConsistencyProofSource& proofs, const CosignRequestOptions& options);

}  // namespace fpx::witness
