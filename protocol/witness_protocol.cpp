// tlog-witness add-checkpoint: the request body and the witness's decision.
#include "fpx/witness_protocol.hpp"

#include <algorithm>
#include <charconv>

namespace fpx {

namespace {

Error malformed(std::string what) {
  return make_error(ErrorCode::malformed, "add-checkpoint: " + what);
}

std::optional<std::uint64_t> parse_decimal(std::string_view text) {
  // ASCII digits, no sign, no leading zero but for "0" itself.
  if (text.empty() || (text.size() > 1 && text[0] == '0')) return std::nullopt;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

WitnessDecision decided(WitnessVerdict verdict, std::string reason) {
  WitnessDecision decision;
  decision.verdict = verdict;
  decision.reason = std::move(reason);
  return decision;
}

}  // namespace

int http_status_of(WitnessVerdict verdict) {
  switch (verdict) {
    case WitnessVerdict::cosign: return 200;
    case WitnessVerdict::malformed: return 400;
    case WitnessVerdict::bad_log_signature: return 403;
    case WitnessVerdict::unknown_origin: return 404;
    case WitnessVerdict::old_size_conflict:
    case WitnessVerdict::root_conflict: return 409;
    case WitnessVerdict::bad_proof: return 422;
  }
  return 400;
}

std::string format_add_checkpoint(const AddCheckpointRequest& request) {
  std::string body = "old " + std::to_string(request.old_size) + "\n";
  for (const auto& hash : request.proof) body.append(note_base64_encode(hash)).append("\n");
  body.append("\n").append(request.checkpoint);
  return body;
}

Result<AddCheckpointRequest> parse_add_checkpoint(std::string_view body) {
  if (body.size() > kMaxAddCheckpointBytes) {
    return make_error(ErrorCode::too_large,
                      "add-checkpoint: the body is longer than " + std::to_string(kMaxAddCheckpointBytes) + " bytes");
  }
  AddCheckpointRequest request;
  const auto take_line = [&](std::string_view& line) {
    const auto end = body.find('\n');
    if (end == std::string_view::npos) return false;
    line = body.substr(0, end);
    body.remove_prefix(end + 1);
    return true;
  };
  std::string_view line;
  if (!take_line(line)) return malformed("no old size line");
  if (line.substr(0, 4) != "old ") return malformed("the first line is not \"old <size>\"");
  const auto old_size = parse_decimal(line.substr(4));
  if (!old_size) return malformed("the old size is not a decimal number without leading zeros");
  request.old_size = *old_size;
  for (;;) {
    if (!take_line(line)) return malformed("no empty line before the checkpoint");
    if (line.empty()) break;
    if (request.proof.size() == kMaxConsistencyProofLines) {
      return malformed("more than " + std::to_string(kMaxConsistencyProofLines) + " consistency proof lines");
    }
    const auto hash = note_base64_decode(line);
    if (!hash || hash->size() != Sha256Digest{}.size()) return malformed("a proof line is not a base64 SHA-256 hash");
    Sha256Digest digest;
    std::copy(hash->begin(), hash->end(), digest.begin());
    request.proof.push_back(digest);
  }
  if (body.empty()) return malformed("no checkpoint after the empty line");
  request.checkpoint = std::string(body);
  return request;
}

std::optional<std::string> witness_origin_of(std::string_view note) {
  const auto end = note.find('\n');
  if (end == std::string_view::npos || end == 0) return std::nullopt;
  return std::string(note.substr(0, end));
}

WitnessDecision judge_add_checkpoint(const AddCheckpointRequest& request, std::span<const WitnessedLog> logs,
                                     const std::optional<WitnessedCheckpoint>& recorded) {
  auto note = parse_signed_note(request.checkpoint);
  if (!note) return decided(WitnessVerdict::malformed, note.error().message);
  const auto origin = witness_origin_of(note->text);
  if (!origin) return decided(WitnessVerdict::malformed, "the checkpoint has no origin line");
  const auto log = std::find_if(logs.begin(), logs.end(), [&](const WitnessedLog& l) { return l.origin == *origin; });
  if (log == logs.end()) {
    return decided(WitnessVerdict::unknown_origin, "this witness does not follow the log \"" + *origin + "\"");
  }
  auto checkpoint = parse_and_verify_checkpoint(request.checkpoint, log->key.name, log->key.public_key);
  if (!checkpoint) {
    const auto verdict = checkpoint.error().code == ErrorCode::bad_signature ? WitnessVerdict::bad_log_signature
                                                                             : WitnessVerdict::malformed;
    auto decision = decided(verdict, checkpoint.error().message);
    decision.log = &*log;
    return decision;
  }
  WitnessDecision decision;
  decision.log = &*log;
  decision.checkpoint = *checkpoint;
  decision.checkpoint_text = note->text;
  decision.recorded_size = recorded ? recorded->size : 0;
  if (checkpoint->origin != log->origin) {
    decision.verdict = WitnessVerdict::malformed;
    decision.reason = "the checkpoint's origin is not the log's";
    return decision;
  }
  if (request.old_size > checkpoint->size) {
    decision.verdict = WitnessVerdict::malformed;
    decision.reason = "the old size " + std::to_string(request.old_size) + " is above the checkpoint's size " +
                      std::to_string(checkpoint->size);
    return decision;
  }
  // Another root at the size this witness cosigned is a split view whatever
  // old size the request claims: both are 409, but this one is evidence.
  if (recorded && checkpoint->size == recorded->size && checkpoint->root != recorded->root) {
    decision.verdict = WitnessVerdict::root_conflict;
    decision.reason = "the checkpoint has the size this witness cosigned (" + std::to_string(checkpoint->size) +
                      ") with another root: the log shows two histories";
    return decision;
  }
  if (request.old_size != decision.recorded_size) {
    decision.verdict = WitnessVerdict::old_size_conflict;
    decision.reason = "the old size " + std::to_string(request.old_size) + " is not this witness's latest size " +
                      std::to_string(decision.recorded_size) + "; send a proof from that size";
    return decision;
  }
  const Sha256Digest old_root = recorded ? recorded->root : empty_tree_root();
  if (request.old_size == checkpoint->size) {
    if (checkpoint->root != old_root) {
      decision.verdict = WitnessVerdict::root_conflict;
      decision.reason = "the checkpoint has the size this witness cosigned (" + std::to_string(checkpoint->size) +
                        ") with another root: the log shows two histories";
      return decision;
    }
    if (!request.proof.empty()) {
      decision.verdict = WitnessVerdict::bad_proof;
      decision.reason = "a proof between equal sizes must be empty";
      return decision;
    }
    decision.verdict = WitnessVerdict::cosign;
    return decision;
  }
  if (!verify_consistency(request.old_size, checkpoint->size, old_root, checkpoint->root, request.proof)) {
    decision.verdict = WitnessVerdict::bad_proof;
    decision.reason = "the consistency proof from size " + std::to_string(request.old_size) + " to " +
                      std::to_string(checkpoint->size) +
                      " does not verify against the checkpoint this witness "
                      "cosigned";
    return decision;
  }
  decision.verdict = WitnessVerdict::cosign;
  return decision;
}

}  // namespace fpx
