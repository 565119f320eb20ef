// "My requests are counted, correctly" (docs/PROTOCOL.md §11, "Each party's
// own facts"): a focal point asks the broker for the opened fact parts of
// its own state's tracings in a published statistics period (salt and
// metadata of each, with its leaf's part hashes and inclusion proof), and
// recounts from them the published cells its state can see in full. The
// broker encodes pages with encode_statistics_facts_reply; the client
// decodes (decode_statistics_facts), checks (verify_statistics_facts) and
// recounts (recount_own_cells).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fpx/crypto.hpp"
#include "fpx/ids.hpp"
#include "fpx/result.hpp"
#include "fpx/transparency_log.hpp"

namespace fpx {

// Facts per reply page: each carries its leaf's part hashes (8 to a few
// dozen) and a path of at most 64 hashes, so a page stays far below the
// client's 8 MiB frame limit; a state with more facts asks for more pages.
inline constexpr std::size_t kMaxFactsPerPage = 256;
// A fact's metadata is compact JSON of a handful of short fields; anything
// longer is not one of ours (a hostile broker making the client parse).
inline constexpr std::size_t kMaxFactMetadataBytes = 1024;
// A statistics record of kMaxAuditedCells (5,000) cells as JSON.
inline constexpr std::size_t kMaxStatisticsRecordBytes = 2 * 1024 * 1024;
// One page as the client takes it: the record, a checkpoint note (at most
// 128 KiB) and kMaxFactsPerPage facts of at most ~40 KiB of hashes each.
inline constexpr std::size_t kMaxStatisticsFactsBytes = 8 * 1024 * 1024;

struct StatisticsFactsQuery {
  std::int64_t period_start_ms = 0;
  std::optional<MessageId> request_id;  // one tracing request, or all of the asker's state
  std::uint32_t offset = 0;
};

struct OpenedFact {
  MessageId request_id;
  CountryCode requested_country;
  std::uint64_t leaf_index = 0;
  Bytes salt;
  std::string metadata;
  std::vector<Sha256Digest> part_hashes;
  std::vector<Sha256Digest> inclusion_path;
};

struct StatisticsFactsPage {
  std::string checkpoint_note;
  std::string record;  // the statistics record's signed JSON
  Bytes record_signature;
  std::vector<Sha256Digest> record_inclusion_path;
  std::vector<OpenedFact> facts;
  std::uint32_t next_offset = 0;  // 0: last page
};

Bytes encode_statistics_facts_reply(std::uint64_t request_id, const StatisticsFactsPage& page);
// A StatisticsFacts message (flat bytes, as BrokerReply::statistics_facts
// holds it), with every size above checked: malformed or too_large.
Result<StatisticsFactsPage> decode_statistics_facts(ByteView bytes);

// One fact, checked and read.
struct CheckedFact {
  MessageId request_id;
  std::string requester;
  std::string requested;
  std::uint64_t leaf_index = 0;
  std::string fact;  // stats::kFact*
  std::optional<std::int64_t> hours;
  std::string outcome;
  std::string ground;
};

struct CheckedFacts {
  Checkpoint checkpoint;
  std::string record;  // the statistics record, signed by the pinned key and in the log
  std::uint64_t record_log_index = 0;
  std::vector<CheckedFact> facts;
};

// In order, for every page (all answered against one checkpoint and one
// record): the checkpoint verifies with `broker_key` under `origin`; the
// record's signature verifies with the same key, and its leaf is included
// at its logIndex; each fact's SHA-256(salt || metadata) is a part of its
// leaf and the leaf is included at its index (bad_signature: the broker's
// answer is forged); each fact's metadata names `own_country` as requester
// or requested (signer_mismatch).
Result<CheckedFacts> verify_statistics_facts(const std::vector<StatisticsFactsPage>& pages,
                                             const CountryCode& own_country, std::string_view origin,
                                             const Ed25519PublicKey& broker_key);

// One published cell a state can recount in full: a pair it is party to,
// or its own row of byRequester or byRequested.
struct CellCheck {
  std::string table;  // "pairs", "byRequester", "byRequested"
  std::string requester;
  std::string requested;
  std::string measure;
  std::int64_t own_count = 0;
  std::optional<std::int64_t> published;  // nullopt: suppressed
  bool matches() const { return !published || *published == own_count; }
};

struct RecountResult {
  std::vector<CellCheck> cells;
  std::size_t shown = 0;       // compared with the recount
  std::size_t mismatched = 0;  // shown and different
  std::size_t suppressed = 0;  // hidden: nothing to compare
  std::size_t tracings = 0;    // tracings of the state in the period
};

// Recounts, from the facts logged before the record (leaf index below its
// logIndex), every cell of `own_country`'s pairs and rows, for every
// measure but answeredWithinClock (no fact states it), and compares with
// the record. malformed: the record is not a statistics record.
Result<RecountResult> recount_own_cells(const CheckedFacts& facts, const CountryCode& own_country);

}  // namespace fpx
