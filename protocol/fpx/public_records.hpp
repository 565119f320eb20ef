// The oversight feed's public records (docs/PROTOCOL.md §11 "The feed") as
// typed values, and their one JSON codec: the broker encodes with it, the
// observers decode with it, and nowhere else is a record's field name
// written. A record of a known kind with a field missing or of the wrong
// type is refused (`malformed`, naming the field); fields this version does
// not know are skipped and reported (a newer broker may add some); a kind
// this version does not know decodes as "unknown kind", reported, never an
// error, so an older observer keeps following a newer feed.
//
// Encoding is byte-stable: nlohmann-json writes an object's keys sorted, so
// the same fields give the same bytes, which are what the broker signs and
// logs (`signedRecord`). A field that is absent from a record (an optional
// below that is empty) is not written.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "fpx/disclosure_control.hpp"
#include "fpx/ids.hpp"
#include "fpx/result.hpp"

namespace fpx::records {

// The largest signed record a reader parses: a statistics record of 512
// states is well below it (as kMaxStatisticsRecordBytes); beyond, a hostile
// or broken broker could make every observer hold any amount of JSON.
inline constexpr std::size_t kMaxPublicRecordBytes = 2 * 1024 * 1024;
// Nesting of a record's JSON: the deepest record the broker writes (the
// statistics tables) is 4 levels; deeper input is refused before it is
// walked, so no reader recurses without bound.
inline constexpr std::size_t kMaxRecordNesting = 16;
// A text field of a record, in bytes: the broker publishes only texts its
// validation bounded in characters (kMaxFreeText 4096, a public summary 280,
// a statement 2000), and a character is up to 4 bytes of UTF-8 (a statement
// in Chinese is 3 a character); a longer one is not the broker's and would
// only cost the reader memory.
inline constexpr std::size_t kMaxRecordTextBytes = 4 * 4096;
// A checkpoint's note with its cosignature lines (as kMaxSignedNoteBytes).
inline constexpr std::size_t kMaxRecordNoteBytes = 64 * 1024;
// Entries of a list field (regions, community partners, witnesses, a
// year's periods): the broker's own limit on lists (kMaxListEntries).
inline constexpr std::size_t kMaxRecordListEntries = 1000;
// Unknown fields named in a decoded record's report: a record made of
// thousands of unknown keys must not make a report of all of them.
inline constexpr std::size_t kMaxReportedUnknownFields = 32;

enum class RecordKind {
  checkpoint,
  cosigned_checkpoint,
  campaign_report,
  public_alert,
  public_alert_status,
  figures_statement,
  statistics,
};

// The kind's name on the wire ("public-alert", ...).
std::string_view kind_name(RecordKind kind);
std::optional<RecordKind> kind_from_name(std::string_view name);
// Whether a record of this kind is a leaf of the log itself (bound to its
// own bytes, `logIndex`): every kind but the two checkpoint kinds.
bool is_leaf_kind(RecordKind kind);

// The accepted message a record shows: `messageLogIndex`, `messageLeafHash`.
struct MessageLeaf {
  std::uint64_t log_index = 0;
  Sha256Digest leaf_hash{};
};

struct CheckpointRecord {
  std::uint64_t sequence = 0;
  std::uint64_t tree_size = 0;
  Sha256Digest root_hash{};
  std::string note;  // the C2SP signed note
};

struct CosignedCheckpointRecord {
  std::uint64_t sequence = 0;
  std::uint64_t tree_size = 0;
  Sha256Digest root_hash{};
  std::string note;                    // with the cosignature lines that came back
  std::vector<std::string> witnesses;  // names of those who cosigned
};

// A record of brokers before content binding (issue 13) names its message's
// salted leaf as `logIndex` and `leafHash` instead of being a leaf itself.
// Only campaign reports and public alerts were ever published this way.
struct UnboundLeaf {
  std::uint64_t log_index = 0;
  Sha256Digest leaf_hash{};
};

struct CampaignReportRecord {
  std::uint64_t sequence = 0;
  std::uint64_t log_index = 0;  // its own leaf (bound records)
  std::optional<MessageLeaf> message;
  std::optional<UnboundLeaf> unbound;  // instead of the two above, before issue 13
  std::string country;
  std::string commission;
  std::vector<std::string> regions;
  std::string period_start;  // YYYY-MM-DD
  std::string period_end;    // YYYY-MM-DD
  std::uint64_t weapons_collected = 0;
  std::uint64_t weapons_destroyed = 0;
  std::vector<std::string> community_partners;
};

struct PublicAlertRecord {
  std::uint64_t sequence = 0;
  std::uint64_t log_index = 0;
  std::optional<MessageLeaf> message;
  std::optional<UnboundLeaf> unbound;
  std::string alert_kind;  // "lost", "stolen", ...
  std::string issuing_country;
  std::string region;  // a configured region, else the issuing country
  std::string month;   // YYYY-MM
  // Both absent from records of brokers before issue 12.
  std::optional<std::string> valid_until;  // YYYY-MM-DD
  std::optional<std::string> public_summary;
};

struct PublicAlertStatusRecord {
  std::uint64_t sequence = 0;
  std::uint64_t log_index = 0;
  MessageLeaf message;  // the cancel's own leaf
  std::string status;   // "cancelled"
  std::uint64_t alert_message_log_index = 0;
  std::string issuing_country;
  std::string day;  // YYYY-MM-DD, UTC
  std::string public_summary;
};

struct FiguresStatementRecord {
  std::uint64_t sequence = 0;
  std::uint64_t log_index = 0;
  MessageLeaf message;
  std::string country;
  std::string period;
  std::string period_start;  // as the statistics record writes it
  std::uint64_t statistics_sequence = 0;
  std::string text;
};

// `clocksHours`: the tracing clocks and the early-warning clock, in hours.
struct ClocksHours {
  double urgent_acknowledge = 0;
  double urgent_respond = 0;
  double routine_acknowledge = 0;
  double routine_respond = 0;
  std::optional<double> warning_acknowledge;  // absent before early warnings (§8.5)
};

// A year's link to one of its periods (`periods`).
struct LinkedPeriod {
  std::string period_start;
  std::uint64_t sequence = 0;
};

struct StatisticsRecord {
  std::uint64_t sequence = 0;
  std::uint64_t log_index = 0;
  std::string period;  // the grid's period kind, or "year"
  std::string period_start;
  std::string period_end;
  std::string as_of;
  bool final = true;
  std::string method;
  std::int64_t threshold = 0;
  std::int64_t protection_range = 0;
  std::int64_t answered_band_hours = 0;  // bandHours.answeredWithin30Days
  ClocksHours clocks_hours;
  std::optional<std::int64_t> counted_at_ms;  // a period of the grid
  std::optional<std::string> grid;            // a year: its grid's period kind
  std::vector<LinkedPeriod> periods;          // a year: the periods it sums
  // "states", "regions", "measures" and the tables (disclosure_control's
  // layout), and "earlyWarnings" (warning_statistics'): no cell of them is
  // written or read anywhere but in those two files, called from here.
  disclosure::PeriodTables tables;
  disclosure::PeriodTables warnings;
};

using PublicRecord = std::variant<CheckpointRecord, CosignedCheckpointRecord, CampaignReportRecord, PublicAlertRecord,
                                  PublicAlertStatusRecord, FiguresStatementRecord, StatisticsRecord>;

RecordKind kind_of(const PublicRecord& record);
std::uint64_t sequence_of(const PublicRecord& record);

// The signed JSON of a record (`signedRecord`), "kind" included.
std::string encode_record(const PublicRecord& record);

struct DecodedRecord {
  std::uint64_t sequence = 0;
  std::string kind;                   // as the record says
  std::optional<PublicRecord> record;  // empty: a kind this version does not know
  std::vector<std::string> unknown_fields;  // at most kMaxReportedUnknownFields
  bool more_unknown_fields = false;         // more than that were skipped
};

// Decodes a record's signed JSON: `malformed` naming the field for a known
// kind's missing or mistyped field; `unsupported_version` naming "method"
// for a statistics record of a method other than disclosure::kMethod (or of
// the scheme before issue 12, which named none: a reader counts those, it
// cannot draw them); for a key that appears twice (readers
// disagree on which one counts), for nesting beyond kMaxRecordNesting, for
// text that is not one JSON object; `too_large` beyond kMaxPublicRecordBytes
// or a field's limit. Says nothing about the signature: check it first.
Result<DecodedRecord> decode_record(std::string_view signed_json);

// A record that must be a statistics record (a focal point's recount, an
// observer's consistency check): decode_record's refusals as they are, and
// `malformed` naming the record's kind when it is of another kind (or one
// this version does not know).
Result<StatisticsRecord> decode_statistics_record(std::string_view signed_json);

// One top-level field of a record, for a person's one-line summary of a
// record shown by its fields (a kind this version does not know, a
// statistics record of another scheme): its name and its value as shown.
struct RecordField {
  std::string name;
  // A string as it is, a number or true/false/null as JSON writes it, a
  // list as "[N items]", an object as "{...}".
  std::string display;
};

// The top-level fields of a record's signed JSON, by name, with the same
// parse and refusals as decode_record (one object, no key twice, bounded
// nesting and size) and its bound on a text (`too_large` naming the field
// beyond kMaxRecordTextBytes). Says nothing of the kind's own fields: a
// record this version can read is read with decode_record.
Result<std::vector<RecordField>> record_fields(std::string_view signed_json);

// What every record may carry about its place in the feed and the log,
// read before its kind's fields (the observer library checks these on every
// record, of any kind, even one this version does not know).
// Whole numbers above this are refused: a reader that holds JSON numbers as
// doubles (JavaScript, Cap'n Proto's JsonCodec) cannot compare them exactly.
inline constexpr std::uint64_t kMaxExactWholeNumber = 9007199254740992;  // 2^53

struct RecordHead {
  std::uint64_t sequence = 0;
  std::string kind;
  std::optional<std::uint64_t> log_index;          // "logIndex"
  std::optional<Sha256Digest> leaf_hash;           // "leafHash" (unbound records)
  std::optional<std::uint64_t> message_log_index;  // "messageLogIndex"
  std::optional<Sha256Digest> message_leaf_hash;   // "messageLeafHash"
  std::optional<std::uint64_t> tree_size;          // "treeSize" (checkpoints)
  std::optional<std::string> note;                 // "note" (checkpoints)
};

// The head of a record's signed JSON, with the same parse as decode_record
// (one object, no key twice, bounded nesting and size); each of these fields
// may be absent but is refused (`malformed`, naming it) when of another type,
// a whole number above kMaxExactWholeNumber included. "sequence" and "kind"
// are required.
Result<RecordHead> decode_record_head(std::string_view signed_json);

}  // namespace fpx::records
