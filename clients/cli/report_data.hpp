// What `fpx report` shows, read from the feed records an observer saved:
// plain values, one struct per record kind, with suppression kept explicit
// (std::nullopt is "suppressed", never 0). report_html.cpp draws them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "feed_store.hpp"
#include "fpx/public_records.hpp"
#include "fpx/result.hpp"

namespace fpx::cli::report {

// A published count: nullopt when the broker suppressed it (under the threshold).
using Count = std::optional<std::int64_t>;

// One row of one published table: a pair of states, a requesting state
// (all it asked), a requested state (all it was asked), a region of
// requested states, or the total. Durations come as counts in bands.
struct RowStatistics {
  std::string table;  // "pairs", "byRequester", "byRequested", "byRegion", "total"
  std::string requester;
  std::string requested;
  std::string region;
  Count requests;
  Count acknowledged;
  Count acknowledged_within_clock;
  Count answered;
  Count answered_within_clock;
  Count answered_within_30_days;
  // The indicator's numerator (docs/PROTOCOL.md "The indicator"); its
  // denominator is `requests`. Absent from records older than the measure.
  Count origin_established;
  std::vector<std::pair<std::string, Count>> outcomes;         // in the record's order
  std::vector<std::pair<std::string, Count>> refusal_grounds;  // in the record's order
  std::string label() const;  // "SN → NE", "from SN", "to NE", "Sahel", "all states"
};

struct Clocks {
  double urgent_acknowledge = 0;
  double urgent_respond = 0;
  double routine_acknowledge = 0;
  double routine_respond = 0;
};

// Civil society's early warnings to one state in a period (PROTOCOL.md §11
// "Early warnings"); state "" is the total.
struct WarningCounts {
  std::string state;
  Count warnings;
  Count acknowledged_within_clock;
};

struct StatisticsRecord {
  std::uint64_t sequence = 0;
  std::string period;        // "month", "day", "10s", ...
  std::string period_start;  // ISO 8601 UTC
  std::string period_end;
  bool final = false;
  std::string as_of;
  std::int64_t threshold = 0;
  std::int64_t protection_range = 0;
  Clocks clocks;
  std::vector<RowStatistics> rows;  // every table, in the record's order
  // Early warnings per warned state, then the total; empty: none that period.
  std::vector<WarningCounts> warnings;
  double warning_acknowledge_hours = 0;  // the warning clock the counts were measured against
  // The rows of one table.
  std::vector<const RowStatistics*> table(std::string_view name) const;
};

// A campaign report and a state's statement on its figures (issue 12) are
// shown as the codec decodes them: the report adds nothing to either.
using CampaignReport = records::CampaignReportRecord;
using FiguresStatement = records::FiguresStatementRecord;

struct PublicAlert {
  std::uint64_t sequence = 0;
  std::string alert_kind;
  std::string issuing_country;
  std::string region;
  std::string month;  // YYYY-MM
  // Issue 12 (empty in records of brokers before it):
  std::string valid_until;     // YYYY-MM-DD: past it, the reader shows the alert as expired
  std::string public_summary;  // the text its issuing state wrote for the public
  std::optional<std::int64_t> message_log_index;  // its message's leaf, which a public-alert-status names
  // From the alert's public-alert-status record, once its state cancelled it.
  std::optional<std::string> cancelled_on;  // YYYY-MM-DD
  std::string cancel_summary;               // the cancel's public text, if any
};

// What a reader shows for an alert on `today` (YYYY-MM-DD, UTC): "cancelled"
// (a public-alert-status record says so), "expired" (past its validUntil,
// computed by the reader: the feed never publishes it), else "active".
std::string alert_status(const PublicAlert& alert, const std::string& today);


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
  // The period shown: the one asked for, else the latest of its kind.
  std::optional<StatisticsRecord> statistics;
  // Every period of the shown kind, oldest first (the trends).
  std::vector<StatisticsRecord> history;
  // Every period of every kind, oldest first (`fpx report --csv`).
  std::vector<StatisticsRecord> all_statistics;
  std::vector<PeriodSeen> periods;  // every period in the feed, oldest first, one entry each
  // Statistics records of the scheme before issue 12 (overlapping periods,
  // reveals): not drawn, their suppression did not hold.
  std::size_t older_format_records = 0;
  std::vector<CampaignReport> campaigns;
  std::vector<PublicAlert> alerts;
  std::vector<FiguresStatement> statements;  // issue 12, in feed order
  // The statements on one period's figures (kind and start), in feed order.
  std::vector<const FiguresStatement*> statements_on(const StatisticsRecord& record) const;
  std::optional<CheckpointRecord> checkpoint;  // the latest saved checkpoint record
};

// Reads every saved record (already verified by the caller). `period`
// chooses what is shown: a kind of period ("quarter", "10s": its latest
// period) or one period's start ("2026-10-01T00:00:00Z"); empty: the latest
// period of the longest kind in the feed.
// malformed (naming the record) when a record is not what its kind says.
Result<ReportData> read_report_data(const std::vector<FeedStore::SavedRecord>& records, const std::string& period);

}  // namespace fpx::cli::report
