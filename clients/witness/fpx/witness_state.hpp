// A witness's durable state: for each log origin, the latest checkpoint it
// cosigned (size, root, the note as received). One small SQLite file, 0600,
// WAL, synchronous=FULL: a cosignature goes out only after the commit that
// records its checkpoint is durable, so a witness that crashes and restarts
// can never cosign an older or forked checkpoint of a log it cosigned.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>

#include "fpx/result.hpp"
#include "fpx/witness_protocol.hpp"

namespace fpx::witness {

class WitnessState {
 public:
  // Creates the file (0600 whatever the umask) or opens it; io_error says
  // which file and what to do.
  static Result<std::unique_ptr<WitnessState>> open(const std::filesystem::path& path);
  ~WitnessState();
  WitnessState(const WitnessState&) = delete;
  WitnessState& operator=(const WitnessState&) = delete;

  Result<std::optional<WitnessedCheckpoint>> latest(const std::string& origin);

  // The atomic step of tlog-witness: reads the recorded checkpoint of the
  // request's origin, judges the request against it, and when the verdict
  // is cosign records the new checkpoint, all in one IMMEDIATE transaction
  // under one lock, so two concurrent requests can never roll the log back.
  // `recorded` is filled with the state the request was judged against
  // (split-view evidence needs it). io_error when the commit fails: then
  // nothing may be cosigned.
  Result<WitnessDecision> judge_and_record(const AddCheckpointRequest& request, std::span<const WitnessedLog> logs,
                                           std::optional<WitnessedCheckpoint>& recorded);

 private:
  struct Impl;
  explicit WitnessState(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fpx::witness
