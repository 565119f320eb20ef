// What `fpx report` shows, read from the feed records an observer saved:
// plain values, one struct per record kind, with suppression kept explicit
// (std::nullopt is "suppressed", never 0). report_html.cpp draws them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "feed_store.hpp"
#include "fpx/result.hpp"

namespace fpx::cli::report {

// A published count: nullopt when the broker suppressed it (under the threshold).
using Count = std::optional<std::int64_t>;
// A published number of hours: nullopt when suppressed or when there is nothing to measure.
using Hours = std::optional<double>;

struct Percentiles {
  Hours median;
  Hours p90;
};

struct PairStatistics {
  std::string requester;
  std::string requested;
  bool suppressed = false;  // the whole pair: only its names are published
  Count requests;
  Count acknowledged;
  Count acknowledged_within_clock;
  Count answered;
  Percentiles acknowledgement_hours;
  Percentiles response_hours;
  std::vector<std::pair<std::string, Count>> outcomes;         // in the record's order
  std::vector<std::pair<std::string, Count>> refusal_grounds;  // in the record's order
};

struct Clocks {
  double urgent_acknowledge = 0;
  double urgent_respond = 0;
  double routine_acknowledge = 0;
  double routine_respond = 0;
};

struct StatisticsRecord {
  std::uint64_t sequence = 0;
  std::string period;        // "month", "day", "10s", ...
  std::string period_start;  // ISO 8601 UTC
  std::string period_end;
  bool final = false;
  std::string as_of;
  std::int64_t threshold = 0;
  std::string reveal_after;
  Clocks clocks;
  std::vector<PairStatistics> pairs;
};

struct CampaignReport {
  std::uint64_t sequence = 0;
  std::string country;
  std::string commission;
  std::vector<std::string> regions;
  std::string period_start;  // YYYY-MM-DD
  std::string period_end;
  std::int64_t weapons_collected = 0;
  std::int64_t weapons_destroyed = 0;
  std::vector<std::string> community_partners;
};

struct PublicAlert {
  std::uint64_t sequence = 0;
  std::string alert_kind;
  std::string issuing_country;
  std::string region;
  std::string month;  // YYYY-MM
};

struct CheckpointRecord {
  std::uint64_t sequence = 0;
  std::uint64_t tree_size = 0;
  std::string root_hash;  // hex
  std::string note;
};

// One period of statistics available in the feed (for the page's list of periods).
struct PeriodSeen {
  std::string period;
  std::string period_start;
  bool final = false;
};

struct ReportData {
  std::size_t records = 0;
  std::uint64_t first_sequence = 0;
  std::uint64_t last_sequence = 0;
  // The period shown: per period, the final record if there is one, else the latest.
  std::optional<StatisticsRecord> statistics;
  std::vector<PeriodSeen> periods;  // every period in the feed, oldest first, one entry each
  std::size_t reveal_records = 0;
  std::vector<CampaignReport> campaigns;
  std::vector<PublicAlert> alerts;
  std::optional<CheckpointRecord> checkpoint;  // the latest saved checkpoint record
};

// Reads every saved record (already verified by the caller). `period`
// chooses the kind of period shown ("month", "day", "10s"); empty: the
// longest kind in the feed. Within it, the latest period is shown.
// malformed (naming the record) when a record is not what its kind says.
Result<ReportData> read_report_data(const std::vector<FeedStore::SavedRecord>& records, const std::string& period);

}  // namespace fpx::cli::report
