#include "report_data.hpp"
#include "fpx/disclosure_control.hpp"
#include "fpx/public_records.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <limits>
#include <map>
#include <tuple>

namespace fpx::cli::report {

namespace {

// A published count as the report keeps it: suppressed is "no count", never 0.
Count shown(const disclosure::Cell& cell) { return cell.suppressed ? Count{} : Count{cell.value}; }

// The report's rows of one statistics record, from the tables the codec
// decoded (protocol/fpx/public_records.hpp, disclosure_control's layout):
// every row of measures().size() cells, in the tables' order (pairs, by
// requester, by requested, by region, total), as the broker writes them.
StatisticsRecord read_statistics(const records::StatisticsRecord& decoded) {
  StatisticsRecord record;
  record.sequence = decoded.sequence;
  record.period = decoded.period;
  record.period_start = decoded.period_start;
  record.period_end = decoded.period_end;
  record.final = decoded.final;
  record.as_of = decoded.as_of;
  record.threshold = decoded.threshold;
  record.protection_range = decoded.protection_range;
  record.clocks = {decoded.clocks_hours.urgent_acknowledge, decoded.clocks_hours.urgent_respond,
                   decoded.clocks_hours.routine_acknowledge, decoded.clocks_hours.routine_respond};
  record.warning_acknowledge_hours = decoded.clocks_hours.warning_acknowledge.value_or(0);
  const std::size_t measures = disclosure::measures().size();
  const auto& cells = decoded.tables.cells;
  for (std::size_t first = 0; first + measures <= cells.size(); first += measures) {
    RowStatistics row;
    row.table = std::string(disclosure::table_name(cells[first].table));
    row.requester = cells[first].requester;
    row.requested = cells[first].requested;
    row.region = cells[first].region;
    for (std::size_t at = first; at < first + measures; ++at) {
      const auto& cell = cells[at];
      const std::string_view measure = cell.measure;
      if (measure == "requests") row.requests = shown(cell);
      if (measure == "acknowledged") row.acknowledged = shown(cell);
      if (measure == "acknowledgedWithinClock") row.acknowledged_within_clock = shown(cell);
      if (measure == "answered") row.answered = shown(cell);
      if (measure == "answeredWithinClock") row.answered_within_clock = shown(cell);
      if (measure == "answeredWithin30Days") row.answered_within_30_days = shown(cell);
      if (measure == disclosure::kOriginEstablished) row.origin_established = shown(cell);
      const bool outcome = measure.rfind("outcome.", 0) == 0;
      const bool ground = measure.rfind("refusalGround.", 0) == 0;
      if (outcome || ground) {
        auto& family = outcome ? row.outcomes : row.refusal_grounds;
        family.emplace_back(std::string(measure.substr(measure.find('.') + 1)), shown(cell));
      }
    }
    // By name, as the record's sorted keys gave them before the codec read
    // them (the CSV's columns and the page's lists keep their order).
    std::sort(row.outcomes.begin(), row.outcomes.end());
    std::sort(row.refusal_grounds.begin(), row.refusal_grounds.end());
    record.rows.push_back(std::move(row));
  }
  // Civil society's early warnings: each warned state, then the total, two
  // cells a row (fpx/warning_statistics.hpp).
  const auto& warnings = decoded.warnings.cells;
  for (std::size_t first = 0; first + 1 < warnings.size(); first += 2) {
    record.warnings.push_back({warnings[first].requested, shown(warnings[first]), shown(warnings[first + 1])});
  }
  return record;
}

// Seconds since the epoch of "YYYY-MM-DDTHH:MM:SSZ"; 0 if it is not that.
std::int64_t epoch_seconds(const std::string& iso) {
  std::tm parts{};
  char zone = 0;
  if (std::sscanf(iso.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &parts.tm_year, &parts.tm_mon, &parts.tm_mday,
                  &parts.tm_hour, &parts.tm_min, &parts.tm_sec, &zone) != 7 ||
      zone != 'Z') {
    return 0;
  }
  parts.tm_year -= 1900;
  parts.tm_mon -= 1;
  return static_cast<std::int64_t>(timegm(&parts));
}

// Subtracted from a year record's span when the report picks the kind it
// shows by default, so any kind of the grid comes first (a span is at most
// about a year in seconds).
constexpr std::int64_t kYearDemotion = 1'000'000'000;

// Per period (kind and start): the record shown. Each period is published
// once; should a feed hold two, the later record wins.
bool replaces(const StatisticsRecord& candidate, const StatisticsRecord& current) {
  if (candidate.final != current.final) return candidate.final;
  return candidate.sequence > current.sequence;
}

}  // namespace

std::string RowStatistics::label() const {
  if (table == "pairs") return requester + " \u2192 " + requested;
  if (table == "byRequester") return "from " + requester;
  if (table == "byRequested") return "to " + requested;
  if (table == "byRegion") return region;
  return "all states";
}

std::string alert_status(const PublicAlert& alert, const std::string& today) {
  if (alert.cancelled_on) return "cancelled";
  // YYYY-MM-DD compares as text; valid through its last day.
  if (!alert.valid_until.empty() && alert.valid_until < today) return "expired";
  return "active";
}

std::vector<const FiguresStatement*> ReportData::statements_on(const StatisticsRecord& record) const {
  std::vector<const FiguresStatement*> found;
  for (const auto& statement : statements) {
    if (statement.period == record.period && statement.period_start == record.period_start) found.push_back(&statement);
  }
  return found;
}

std::vector<const RowStatistics*> StatisticsRecord::table(std::string_view name) const {
  std::vector<const RowStatistics*> found;
  for (const auto& row : rows) {
    if (row.table == name) found.push_back(&row);
  }
  return found;
}

namespace {

// A cancel's status (issue 12), applied to the alerts once all are read.
struct AlertStatus {
  std::int64_t alert_message_log_index;
  std::string status;
  std::string day;
  std::string public_summary;
};

// Where a typed record of the feed goes in the report's data.
void read_typed_record(const records::PublicRecord& record, ReportData& data, std::vector<AlertStatus>& statuses) {
  if (const auto* campaign = std::get_if<records::CampaignReportRecord>(&record)) {
    data.campaigns.push_back(*campaign);
  } else if (const auto* published = std::get_if<records::PublicAlertRecord>(&record)) {
    PublicAlert alert;
    alert.sequence = published->sequence;
    alert.alert_kind = published->alert_kind;
    alert.issuing_country = published->issuing_country;
    alert.region = published->region;
    alert.month = published->month;
    // Issue 12's fields: absent from records of brokers before it.
    alert.valid_until = published->valid_until.value_or("");
    alert.public_summary = published->public_summary.value_or("");
    if (published->message) alert.message_log_index = static_cast<std::int64_t>(published->message->log_index);
    data.alerts.push_back(std::move(alert));
  } else if (const auto* status = std::get_if<records::PublicAlertStatusRecord>(&record)) {
    statuses.push_back({static_cast<std::int64_t>(status->alert_message_log_index), status->status, status->day,
                        status->public_summary});
  } else if (const auto* figures = std::get_if<records::FiguresStatementRecord>(&record)) {
    data.statements.push_back(*figures);
  } else if (const auto* signed_checkpoint = std::get_if<records::CheckpointRecord>(&record)) {
    CheckpointRecord checkpoint{signed_checkpoint->sequence, signed_checkpoint->tree_size,
                                to_hex(signed_checkpoint->root_hash), signed_checkpoint->note};
    if (!data.checkpoint || checkpoint.sequence > data.checkpoint->sequence) data.checkpoint = std::move(checkpoint);
  }
}

}  // namespace

Result<ReportData> read_report_data(const std::vector<FeedStore::SavedRecord>& records, const std::string& period) {
  ReportData data;
  data.records = records.size();
  std::map<std::pair<std::string, std::string>, StatisticsRecord> by_period;  // (kind, start) -> shown record
  std::vector<AlertStatus> statuses;  // issue 12: applied to the alerts once all are read
  for (const auto& saved : records) {
    if (data.first_sequence == 0 || saved.sequence < data.first_sequence) data.first_sequence = saved.sequence;
    data.last_sequence = std::max(data.last_sequence, saved.sequence);
    // Every record through the one codec of the feed's records
    // (protocol/fpx/public_records.hpp); kinds newer than this client decode
    // to nothing and are passed over: the page shows what it knows.
    auto decoded = records::decode_record(saved.signed_record);
    if (!decoded && decoded.error().code == ErrorCode::unsupported_version && saved.kind == "statistics") {
      // The scheme before issue 12 (overlapping periods, reveals): counted, not drawn.
      ++data.older_format_records;
      continue;
    }
    if (!decoded) {
      // The codec names the record once it has read its sequence; a text
      // that is not even that is named here.
      std::string refusal = decoded.error().message;
      if (refusal.rfind("feed record ", 0) != 0) {
        refusal = "feed record " + std::to_string(saved.sequence) + " (" + saved.kind + "): " + refusal;
      }
      return make_error(decoded.error().code,
                        refusal + ": run `fpx log verify`, and report it to the exchange if it passes");
    }
    if (!decoded->record) continue;
    if (const auto* statistics = std::get_if<records::StatisticsRecord>(&*decoded->record)) {
      auto record = read_statistics(*statistics);
      auto key = std::make_pair(record.period, record.period_start);
      auto kept = by_period.find(key);
      if (kept == by_period.end()) {
        by_period.emplace(key, std::move(record));
      } else if (replaces(record, kept->second)) {
        kept->second = std::move(record);
      }
    } else {
      read_typed_record(*decoded->record, data, statuses);
    }
  }

  // A cancel's status names its alert by the alert message's leaf; the
  // first cancel of an alert counts (a later one changes nothing).
  for (const auto& status : statuses) {
    if (status.status != "cancelled" || status.alert_message_log_index < 0) continue;
    for (auto& alert : data.alerts) {
      if (alert.message_log_index == status.alert_message_log_index && !alert.cancelled_on) {
        alert.cancelled_on = status.day;
        alert.cancel_summary = status.public_summary;
      }
    }
  }

  // The kind of period shown: the one asked for (or the kind of the period
  // whose start was asked for), else the longest of the grid: year tables
  // (period "year") only when they are all there is, since a trend across
  // the grid's periods says more than one or two years (`--period year`).
  std::string shown_kind = period;
  std::string shown_start;
  if (epoch_seconds(period) != 0) {
    shown_start = period;
    shown_kind.clear();
    for (const auto& [key, record] : by_period) {
      if (key.second == period && (shown_kind.empty() || epoch_seconds(record.period_end) >
                                                             epoch_seconds(by_period.at({shown_kind, period}).period_end))) {
        shown_kind = key.first;
      }
    }
  }
  std::int64_t longest = std::numeric_limits<std::int64_t>::min();
  for (const auto& [key, record] : by_period) {
    data.periods.push_back({record.period, record.period_start, record.final});
    const std::int64_t span = epoch_seconds(record.period_end) - epoch_seconds(record.period_start) -
                              (record.period == "year" ? kYearDemotion : 0);
    if (period.empty() && span > longest) {
      longest = span;
      shown_kind = record.period;
    }
  }
  std::sort(data.periods.begin(), data.periods.end(), [](const PeriodSeen& a, const PeriodSeen& b) {
    return std::tie(a.period_start, a.period) < std::tie(b.period_start, b.period);
  });
  for (const auto& [key, record] : by_period) data.all_statistics.push_back(record);
  std::stable_sort(data.all_statistics.begin(), data.all_statistics.end(),
                   [](const StatisticsRecord& a, const StatisticsRecord& b) { return a.period_start < b.period_start; });
  // Keys sort by start within a kind (ISO 8601 sorts as text): the last match is the latest period.
  for (const auto& [key, record] : by_period) {
    if (key.first != shown_kind) continue;
    data.history.push_back(record);
    if (shown_start.empty() || key.second == shown_start) data.statistics = record;
  }
  if (!period.empty() && !data.statistics) {
    std::string kinds;
    for (const auto& [key, record] : by_period) {
      if (kinds.find("\"" + key.first + "\"") != std::string::npos) continue;
      kinds.append(kinds.empty() ? "" : ", ").append("\"").append(key.first).append("\"");
    }
    return make_error(ErrorCode::invalid_argument,
                      "no statistics of period \"" + period + "\" were saved; " +
                          (kinds.empty() ? std::string("none at all yet: run `fpx observe` after a period has ended")
                                         : "the feed has " + kinds + " (give a kind, or a period's start such as " +
                                               by_period.rbegin()->first.second + ")"));
  }
  return data;
}

}  // namespace fpx::cli::report
