// cosignature/v1: sign and verify a witness's cosignature on a checkpoint.
#include "fpx/cosignature.hpp"

#include <algorithm>
#include <set>

namespace fpx {

namespace {

Bytes timestamp_bytes(std::uint64_t timestamp) {
  Bytes out(8);
  for (int i = 7; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(timestamp & 0xFF);
    timestamp >>= 8;
  }
  return out;
}

std::uint64_t read_timestamp(ByteView eight) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < 8; ++i) value = (value << 8) | eight[i];
  return value;
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) out.append(out.empty() ? "" : ", ").append(name);
  return out;
}

}  // namespace

Result<WitnessKey> parse_witness_key(std::string_view vkey) {
  auto key = parse_verifier_key(vkey);
  if (!key) return std::move(key).take_error();
  if (key->type != NoteSignatureType::cosignature_v1) {
    return make_error(ErrorCode::bad_key, "verifier key " + key->name +
                                              ": not a witness key (type 4, cosignature/v1); this looks like a "
                                              "log's key: use the vkey `fpx witness init` printed");
  }
  return WitnessKey{key->name, key->public_key};
}

std::string cosignature_v1_message(std::string_view checkpoint_text, std::uint64_t timestamp) {
  std::string message = "cosignature/v1\ntime ";
  message.append(std::to_string(timestamp)).append("\n").append(checkpoint_text);
  return message;
}

NoteSignature cosign_checkpoint(std::string_view checkpoint_text, std::string_view witness_name,
                                const SigningKey& witness_key, std::uint64_t timestamp) {
  const auto signature = witness_key.sign(as_bytes(cosignature_v1_message(checkpoint_text, timestamp)));
  NoteSignature line;
  line.key_name = std::string(witness_name);
  line.key_id = signed_note_key_id(witness_name, NoteSignatureType::cosignature_v1, witness_key.public_key());
  line.signature = concat({timestamp_bytes(timestamp), signature});
  return line;
}

Result<std::uint64_t> verify_cosignature(std::string_view checkpoint_text, const NoteSignature& signature,
                                         const WitnessKey& witness) {
  if (signature.key_name != witness.name || signature.key_id != witness.key_id()) {
    return make_error(ErrorCode::not_found, "cosignature: the line is not by witness " + witness.name);
  }
  if (signature.signature.size() != kCosignatureV1Size) {
    return make_error(ErrorCode::malformed, "cosignature of " + witness.name + ": " +
                                                std::to_string(signature.signature.size()) +
                                                " bytes, a cosignature/v1 has 72 (timestamp and Ed25519 signature)");
  }
  const ByteView bytes(signature.signature);
  const std::uint64_t timestamp = read_timestamp(bytes.first(8));
  if (timestamp > kMaxCosignatureTimestamp) {
    return make_error(ErrorCode::malformed, "cosignature of " + witness.name + ": timestamp above 2^63-1");
  }
  if (!ed25519_verify(witness.public_key, as_bytes(cosignature_v1_message(checkpoint_text, timestamp)),
                      bytes.subspan(8))) {
    return make_error(ErrorCode::bad_signature, "cosignature of " + witness.name +
                                                    " does not verify: the checkpoint or the cosignature was altered");
  }
  return timestamp;
}

std::string CosignatureReport::describe() const {
  std::vector<std::string> signed_names;
  for (const auto& entry : valid) signed_names.push_back(entry.witness);
  std::string out = std::to_string(valid.size()) + " of " + std::to_string(required) + " required witnesses signed";
  if (!signed_names.empty()) out += " (" + join(signed_names) + ")";
  if (!invalid.empty()) out += "; invalid cosignature: " + join(invalid);
  if (!missing.empty()) out += "; no cosignature: " + join(missing);
  return out;
}

Result<CosignatureReport> verify_cosignatures(std::string_view note, std::span<const WitnessKey> witnesses,
                                              std::size_t required) {
  if (required == 0 || required > witnesses.size()) {
    return make_error(ErrorCode::invalid_argument, "witness policy: " + std::to_string(required) + " of " +
                                                       std::to_string(witnesses.size()) +
                                                       " witnesses cannot be met; require between 1 and the "
                                                       "number of witnesses listed");
  }
  std::set<std::string> names;
  for (const auto& witness : witnesses) {
    if (!names.insert(witness.name).second) {
      return make_error(ErrorCode::invalid_argument,
                        "witness policy: witness " + witness.name + " is listed twice; list each witness once");
    }
  }
  auto parsed = parse_signed_note(note);
  if (!parsed) return std::move(parsed).take_error();
  CosignatureReport report;
  report.required = required;
  for (const auto& witness : witnesses) {
    std::optional<std::uint64_t> timestamp;
    bool bad = false;
    for (const auto& line : parsed->signatures) {
      auto checked = verify_cosignature(parsed->text, line, witness);
      if (!checked && checked.error().code == ErrorCode::not_found) continue;
      if (!checked) {
        // A line under the witness's name and key ID that does not verify:
        // the note was altered after cosigning, so that witness does not count.
        bad = true;
      } else if (!timestamp) {
        timestamp = *checked;
      }
    }
    if (bad) {
      report.invalid.push_back(witness.name);
    } else if (timestamp) {
      report.valid.push_back({witness.name, *timestamp});
    } else {
      report.missing.push_back(witness.name);
    }
  }
  return report;
}

Result<CosignatureReport> require_cosignatures(std::string_view note, std::span<const WitnessKey> witnesses,
                                               std::size_t required) {
  auto report = verify_cosignatures(note, witnesses, required);
  if (!report) return report;
  if (!report->quorum()) {
    return make_error(ErrorCode::bad_signature,
                      "checkpoint refused: " + report->describe() +
                          "; wait for the log to gather cosignatures, or ask the witnesses' operators why they "
                          "did not sign");
  }
  return report;
}

Result<std::string> add_note_signatures(std::string_view note, std::span<const NoteSignature> added) {
  auto parsed = parse_signed_note(note);
  if (!parsed) return std::move(parsed).take_error();
  for (const auto& signature : added) {
    if (std::find(parsed->signatures.begin(), parsed->signatures.end(), signature) != parsed->signatures.end()) {
      continue;
    }
    if (parsed->signatures.size() == kMaxNoteSignatures) {
      return make_error(ErrorCode::too_large,
                        "signed note: more than " + std::to_string(kMaxNoteSignatures) + " signature lines");
    }
    parsed->signatures.push_back(signature);
  }
  return format_signed_note(*parsed);
}

}  // namespace fpx
