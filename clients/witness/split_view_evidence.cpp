// Split-view evidence files: write, read, check.
#include "fpx/split_view_evidence.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

namespace fpx::witness {

namespace {

constexpr int kEvidenceFormatVersion = 1;
// Files written within one second for one origin get a counter; past this
// many the directory is being flooded and the writer says so.
constexpr int kMaxEvidenceFilesPerSecond = 1000;

Error damaged(const std::string& what) {
  return make_error(ErrorCode::malformed, "evidence file: " + what + "; ask whoever sent it for the original file");
}

}  // namespace

std::string_view split_view_kind_name(SplitViewKind kind) {
  switch (kind) {
    case SplitViewKind::same_size_different_roots: return "same-size-different-roots";
    case SplitViewKind::consistency_proof_failed: return "consistency-proof-failed";
  }
  return "unknown";
}

std::string utc_now_rfc3339() {
  const auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  const auto day = std::chrono::floor<std::chrono::days>(now);
  const std::chrono::year_month_day date{day};
  const std::chrono::hh_mm_ss time{now - day};
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                static_cast<int>(time.hours().count()), static_cast<int>(time.minutes().count()),
                static_cast<int>(time.seconds().count()));
  return buffer;
}

std::string evidence_to_json(const SplitViewEvidence& evidence) {
  nlohmann::json proof = nlohmann::json::array();
  for (const auto& hash : evidence.proof) proof.push_back(note_base64_encode(hash));
  const nlohmann::json json = {
      {"fpxSplitViewEvidence", kEvidenceFormatVersion},
      {"kind", std::string(split_view_kind_name(evidence.kind))},
      {"origin", evidence.origin},
      {"logKey", format_verifier_key(evidence.log_key)},
      {"first", evidence.first},
      {"second", evidence.second},
      {"proof", proof},
      {"seenBy", evidence.seen_by},
      {"seenAt", evidence.seen_at},
      {"detail", evidence.detail},
  };
  return json.dump(2) + "\n";
}

Result<SplitViewEvidence> evidence_from_json(std::string_view text) {
  if (text.size() > kMaxEvidenceFileBytes) {
    return make_error(ErrorCode::too_large,
                      "evidence file: longer than " + std::to_string(kMaxEvidenceFileBytes) + " bytes");
  }
  const auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) return damaged("not a JSON object");
  const auto string_field = [&](const char* name) -> const std::string* {
    const auto it = json.find(name);
    if (it == json.end() || !it->is_string()) return nullptr;
    return it->get_ptr<const std::string*>();
  };
  const auto version = json.find("fpxSplitViewEvidence");
  if (version == json.end() || !version->is_number_integer() ||
      version->get<std::int64_t>() != kEvidenceFormatVersion) {
    return damaged("not an FPX split-view evidence file of version 1 (\"fpxSplitViewEvidence\": 1)");
  }
  SplitViewEvidence evidence;
  const auto* kind = string_field("kind");
  if (kind == nullptr) return damaged("no \"kind\"");
  if (*kind == split_view_kind_name(SplitViewKind::same_size_different_roots)) {
    evidence.kind = SplitViewKind::same_size_different_roots;
  } else if (*kind == split_view_kind_name(SplitViewKind::consistency_proof_failed)) {
    evidence.kind = SplitViewKind::consistency_proof_failed;
  } else {
    return damaged("unknown \"kind\": " + kind->substr(0, 64));
  }
  for (const char* name : {"origin", "logKey", "first", "second"}) {
    if (string_field(name) == nullptr) return damaged(std::string("no string \"") + name + "\"");
  }
  evidence.origin = *string_field("origin");
  auto key = parse_verifier_key(*string_field("logKey"));
  if (!key) return damaged("\"logKey\": " + key.error().message);
  if (key->type != NoteSignatureType::ed25519) return damaged("\"logKey\" is not a log's key (type 1)");
  evidence.log_key = *key;
  evidence.first = *string_field("first");
  evidence.second = *string_field("second");
  if (const auto* seen_by = string_field("seenBy")) evidence.seen_by = *seen_by;
  if (const auto* seen_at = string_field("seenAt")) evidence.seen_at = *seen_at;
  if (const auto* detail = string_field("detail")) evidence.detail = *detail;
  const auto proof = json.find("proof");
  if (proof != json.end()) {
    if (!proof->is_array() || proof->size() > 63) return damaged("\"proof\" is not an array of at most 63 hashes");
    for (const auto& item : *proof) {
      if (!item.is_string()) return damaged("a proof hash is not a string");
      const auto hash = note_base64_decode(item.get<std::string>());
      if (!hash || hash->size() != 32) return damaged("a proof hash is not base64 of 32 bytes");
      Sha256Digest digest;
      std::copy(hash->begin(), hash->end(), digest.begin());
      evidence.proof.push_back(digest);
    }
  }
  return evidence;
}

Result<std::filesystem::path> write_evidence_file(const std::filesystem::path& dir, const SplitViewEvidence& evidence) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return make_error(ErrorCode::io_error, "cannot create the evidence directory " + dir.string() + ": " +
                                               ec.message() + "; create it, writable by the witness");
  }
  std::string safe_origin;
  for (char c : evidence.origin.substr(0, 64)) {
    safe_origin.push_back((std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-') ? c : '_');
  }
  std::string stamp = utc_now_rfc3339();
  for (auto& c : stamp) {
    if (c == ':') c = '-';
  }
  const std::string text = evidence_to_json(evidence);
  for (int n = 0; n < kMaxEvidenceFilesPerSecond; ++n) {
    const auto path = dir / ("split-view-" + safe_origin + "-" + stamp + "-" + std::to_string(n) + ".json");
    // O_EXCL: never overwrite earlier evidence; 0600: the file names the
    // witness's view, and its operator decides whom to give it to.
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
      if (errno == EEXIST) continue;
      return make_error(ErrorCode::io_error, "cannot write evidence " + path.string() + ": " + std::strerror(errno));
    }
    std::size_t written = 0;
    while (written < text.size()) {
      const auto n_written = ::write(fd, text.data() + written, text.size() - written);
      if (n_written <= 0) {
        ::close(fd);
        return make_error(ErrorCode::io_error, "cannot write evidence " + path.string() + ": " + std::strerror(errno));
      }
      written += static_cast<std::size_t>(n_written);
    }
    const bool synced = ::fsync(fd) == 0;
    ::close(fd);
    if (!synced) return make_error(ErrorCode::io_error, "cannot sync evidence " + path.string());
    if (const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dir_fd >= 0) {
      ::fsync(dir_fd);
      ::close(dir_fd);
    }
    return path;
  }
  return make_error(ErrorCode::too_large, "more than " + std::to_string(kMaxEvidenceFilesPerSecond) +
                                              " evidence files in one second for " + evidence.origin);
}

Result<SplitViewEvidence> read_evidence_file(const std::filesystem::path& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return make_error(ErrorCode::invalid_argument, "cannot read " + path.string() + ": " + ec.message());
  if (size > kMaxEvidenceFileBytes) {
    return make_error(ErrorCode::too_large, "evidence file " + path.string() + " is longer than " +
                                                std::to_string(kMaxEvidenceFileBytes) +
                                                " bytes: not an FPX evidence file");
  }
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in && !in.eof()) return make_error(ErrorCode::invalid_argument, "cannot read " + path.string());
  return evidence_from_json(text);
}

Result<EvidenceFinding> check_evidence(const SplitViewEvidence& evidence, const VerifierKey* expected_log_key) {
  if (expected_log_key != nullptr && !(evidence.log_key == *expected_log_key)) {
    return make_error(ErrorCode::signer_mismatch, "the evidence names the log key " +
                                                      format_verifier_key(evidence.log_key) + ", not " +
                                                      format_verifier_key(*expected_log_key));
  }
  EvidenceFinding finding;
  const auto open = [&](const std::string& note, const char* which) -> Result<Checkpoint> {
    auto checkpoint = parse_and_verify_checkpoint(note, evidence.log_key.name, evidence.log_key.public_key);
    if (!checkpoint) {
      Error error = std::move(checkpoint).take_error();
      error.message = std::string("the ") + which + " checkpoint of the evidence: " + error.message +
                      "; the file proves nothing against this log";
      return error;
    }
    if (checkpoint->origin != evidence.origin) {
      return make_error(ErrorCode::malformed,
                        std::string("the ") + which + " checkpoint is of another log (" + checkpoint->origin + ")");
    }
    return checkpoint;
  };
  auto first = open(evidence.first, "first");
  if (!first) return std::move(first).take_error();
  auto second = open(evidence.second, "second");
  if (!second) return std::move(second).take_error();
  finding.first = *first;
  finding.second = *second;
  if (first->size == second->size) {
    finding.proven = first->root != second->root;
    finding.explanation = finding.proven
                              ? "both checkpoints are signed by the log's key and give tree size " +
                                    std::to_string(first->size) + " two different roots: the log showed two histories"
                              : "the two checkpoints are the same tree (same size, same root): no split view";
    return finding;
  }
  const Checkpoint& small = first->size < second->size ? *first : *second;
  const Checkpoint& large = first->size < second->size ? *second : *first;
  if (verify_consistency(small.size, large.size, small.root, large.root, evidence.proof)) {
    finding.proven = false;
    finding.explanation = "the proof in the file shows the checkpoint of size " + std::to_string(large.size) +
                          " extends the one of size " + std::to_string(small.size) + ": no split view";
    return finding;
  }
  // A failed proof between different sizes is not, by itself, proof of a
  // fork: whoever wrote the file chose the proof. The log must be able to
  // give one that verifies; if it cannot, it forked.
  finding.proven = false;
  finding.explanation =
      "both checkpoints are signed by the log's key, and the proof in the file from size " +
      std::to_string(small.size) + " to " + std::to_string(large.size) +
      " does not verify. That alone does not prove a split view: ask the log for a consistency proof between "
      "these sizes (`fpx log compare` does); if it cannot give one that verifies, the log forked";
  return finding;
}

}  // namespace fpx::witness
