// What an observer profile keeps of the public feed, under feed/:
//   records.jsonl   every verified record, one JSON object a line:
//                   {"sequence", "kind", "signedRecord" (the signed text), "signature" (hex),
//                    "fetchedAtMs" (Unix ms when this observer fetched it: how long a
//                    record has waited for a checkpoint; absent in lines saved before)}
//                   so that `fpx log verify` can check each one again, offline,
//                   and prove its inclusion later.
//   next-sequence   where the next `fpx observe` starts
//   checkpoint.note the last checkpoint `fpx log verify` accepted (C2SP signed note)
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fpx/observer_client.hpp"
#include "fpx/result.hpp"

namespace fpx::cli {

// One top-level field of a JSON object, read with Cap'n Proto's JsonCodec.
struct JsonField {
  std::string name;
  bool is_string = false;
  bool is_number = false;
  std::string text;    // a string's value
  double number = 0;   // a number's value
  std::string display;  // for people: the string, the number, or a compact marker for others
};

// The top-level fields of a JSON object, in order; malformed if not an object.
Result<std::vector<JsonField>> json_object_fields(std::string_view json);
const JsonField* find_field(const std::vector<JsonField>& fields, std::string_view name);

class FeedStore {
 public:
  explicit FeedStore(std::filesystem::path dir) : dir_(std::move(dir)) {}

  std::filesystem::path records_file() const { return dir_ / "records.jsonl"; }
  std::filesystem::path cursor_file() const { return dir_ / "next-sequence"; }
  std::filesystem::path checkpoint_file() const { return dir_ / "checkpoint.note"; }

  // 1 when nothing was fetched yet.
  Result<std::uint64_t> next_sequence() const;
  Status set_next_sequence(std::uint64_t next);

  // Appends records and flushes them to disk before returning, so the
  // position saved afterwards never runs ahead of what is kept.
  Status append(const std::vector<client::FeedRecord>& records, std::int64_t fetched_at_ms);

  // A saved line, not yet verified again.
  struct SavedRecord {
    std::size_t line = 0;
    std::uint64_t sequence = 0;
    std::string kind;
    std::string signed_record;
    Bytes signature;
    std::int64_t fetched_at_ms = 0;  // 0: saved before fetch times were kept
  };
  // Every saved record; a line that cannot be read is an error naming it.
  // Records saved twice (a run interrupted between append and position) appear once.
  Result<std::vector<SavedRecord>> saved_records() const;

  // The saved checkpoint note, nullopt if none yet.
  Result<std::optional<std::string>> saved_checkpoint() const;
  Status save_checkpoint(const std::string& note);

 private:
  std::filesystem::path dir_;
};

}  // namespace fpx::cli
