#include "report_data.hpp"
#include "fpx/public_records.hpp"
#include "fpx/warning_statistics.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <tuple>

namespace fpx::cli::report {

namespace {

using nlohmann::json;

// Reads typed fields of one record; the first field that is missing or of
// the wrong type is remembered, so a record is either read whole or refused.
class FieldReader {
 public:
  FieldReader(const json& object, std::string& problem) : object_(object), problem_(problem) {}

  std::string text(const char* key) {
    const json* value = field(key);
    if (value == nullptr) return {};
    if (!value->is_string()) {
      wrong(key, "a string");
      return std::string();
    }
    return value->get<std::string>();
  }

  std::int64_t integer(const char* key) {
    const json* value = field(key);
    if (value == nullptr) return 0;
    if (!value->is_number_integer()) {
      wrong(key, "a whole number");
      return 0;
    }
    return value->get<std::int64_t>();
  }

  double number(const char* key) {
    const json* value = field(key);
    if (value == nullptr) return 0;
    if (!value->is_number()) {
      wrong(key, "a number");
      return 0.0;
    }
    return value->get<double>();
  }

  bool boolean(const char* key) {
    const json* value = field(key);
    if (value == nullptr) return false;
    if (!value->is_boolean()) {
      wrong(key, "true or false");
      return false;
    }
    return value->get<bool>();
  }

  // null is "suppressed"; a count is a whole number of at least 0.
  Count count(const char* key) {
    const json* value = field(key);
    if (value == nullptr || value->is_null()) return std::nullopt;
    if (!value->is_number_integer() || value->get<std::int64_t>() < 0) {
      wrong(key, "a count or null");
      return Count();
    }
    return value->get<std::int64_t>();
  }

  std::vector<std::string> texts(const char* key) {
    std::vector<std::string> out;
    const json* value = field(key);
    if (value == nullptr) return out;
    if (!value->is_array()) {
      wrong(key, "a list of strings");
      return out;
    }
    for (const auto& item : *value) {
      if (!item.is_string()) {
        wrong(key, "a list of strings");
        return out;
      }
      out.push_back(item.get<std::string>());
    }
    return out;
  }

  // {"name": count-or-null, ...} in the record's order (nlohmann's
  // ordered_json is not used: the broker writes sorted keys anyway).
  std::vector<std::pair<std::string, Count>> counts(const char* key) {
    std::vector<std::pair<std::string, Count>> out;
    const json* value = field(key);
    if (value == nullptr) return out;
    if (!value->is_object()) {
      wrong(key, "an object of counts");
      return out;
    }
    for (const auto& [name, item] : value->items()) {
      if (item.is_null()) {
        out.emplace_back(name, std::nullopt);
      } else if (item.is_number_integer() && item.get<std::int64_t>() >= 0) {
        out.emplace_back(name, item.get<std::int64_t>());
      } else {
        wrong(key, "an object of counts");
        return out;
      }
    }
    return out;
  }

  const json* field(const char* key) {
    auto found = object_.find(key);
    if (found == object_.end()) {
      if (problem_.empty()) problem_ = std::string("has no \"").append(key).append("\"");
      return nullptr;
    }
    return &*found;
  }

 private:
  void wrong(const char* key, const char* expected) {
    if (problem_.empty()) problem_ = std::string("\"").append(key).append("\" is not ").append(expected);
  }

  const json& object_;
  std::string& problem_;
};

// One row: its names, then its counts by measure (docs/PROTOCOL.md).
RowStatistics read_row(const std::string& table, const json& object, std::string& problem) {
  FieldReader read(object, problem);
  RowStatistics row;
  row.table = table;
  if (table == "pairs" || table == "byRequester") row.requester = read.text("requester");
  if (table == "pairs" || table == "byRequested") row.requested = read.text("requested");
  if (table == "byRegion") row.region = read.text("region");
  const json* counts = read.field("counts");
  if (counts == nullptr || !counts->is_object()) {
    if (problem.empty()) problem = "a row of " + table + " has no counts";
    return row;
  }
  FieldReader count(*counts, problem);
  row.requests = count.count("requests");
  row.acknowledged = count.count("acknowledged");
  row.acknowledged_within_clock = count.count("acknowledgedWithinClock");
  row.answered = count.count("answered");
  row.answered_within_clock = count.count("answeredWithinClock");
  row.answered_within_30_days = count.count("answeredWithin30Days");
  row.origin_established = count.count("originEstablished");
  for (const auto& [name, value] : counts->items()) {
    const bool outcome = name.rfind("outcome.", 0) == 0;
    const bool ground = name.rfind("refusalGround.", 0) == 0;
    if (!outcome && !ground) continue;
    Count shown;
    if (value.is_number_integer() && value.get<std::int64_t>() >= 0) {
      shown = value.get<std::int64_t>();
    } else if (!value.is_null()) {
      if (problem.empty()) problem = "\"" + name + "\" is not a count or null";
      return row;
    }
    auto& family = outcome ? row.outcomes : row.refusal_grounds;
    family.emplace_back(name.substr(name.find('.') + 1), shown);
  }
  return row;
}

StatisticsRecord read_statistics(std::uint64_t sequence, const json& object, std::string& problem) {
  FieldReader read(object, problem);
  StatisticsRecord record;
  record.sequence = sequence;
  record.period = read.text("period");
  record.period_start = read.text("periodStart");
  record.period_end = read.text("periodEnd");
  record.final = read.boolean("final");
  record.as_of = read.text("asOf");
  record.threshold = read.integer("threshold");
  record.protection_range = read.integer("protectionRange");
  if (const json* clocks = read.field("clocksHours"); clocks != nullptr && clocks->is_object()) {
    FieldReader clock(*clocks, problem);
    record.clocks = {clock.number("urgentAcknowledge"), clock.number("urgentRespond"),
                     clock.number("routineAcknowledge"), clock.number("routineRespond")};
  }
  for (const char* table : {"pairs", "byRequester", "byRequested", "byRegion"}) {
    const json* rows = read.field(table);
    if (rows == nullptr) break;
    if (!rows->is_array()) {
      if (problem.empty()) problem = std::string("\"") + table + "\" is not a list";
      break;
    }
    for (const auto& row : *rows) record.rows.push_back(read_row(table, row, problem));
  }
  if (const json* total = read.field("total")) record.rows.push_back(read_row("total", *total, problem));
  // Civil society's early warnings: a table of their own (fpx/warning_statistics.hpp).
  if (const json* clocks = read.field("clocksHours"); clocks != nullptr && clocks->is_object() &&
                                                      clocks->contains("warningAcknowledge") &&
                                                      (*clocks)["warningAcknowledge"].is_number()) {
    record.warning_acknowledge_hours = (*clocks)["warningAcknowledge"].get<double>();
  }
  auto warnings = disclosure::warning_tables_of_record(object.dump());
  if (!warnings) {
    if (problem.empty()) problem = warnings.error().message;
  } else {
    auto shown = [](const disclosure::Cell& cell) -> Count {
      return cell.suppressed ? Count{} : Count{cell.value};
    };
    for (std::size_t first = 0; first + 1 < warnings->cells.size(); first += 2) {
      record.warnings.push_back(
          {warnings->cells[first].requested, shown(warnings->cells[first]), shown(warnings->cells[first + 1])});
    }
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
    CampaignReport report;
    report.sequence = campaign->sequence;
    report.country = campaign->country;
    report.commission = campaign->commission;
    report.regions = campaign->regions;
    report.period_start = campaign->period_start;
    report.period_end = campaign->period_end;
    report.weapons_collected = static_cast<std::int64_t>(campaign->weapons_collected);
    report.weapons_destroyed = static_cast<std::int64_t>(campaign->weapons_destroyed);
    report.community_partners = campaign->community_partners;
    data.campaigns.push_back(std::move(report));
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
    FiguresStatement statement;
    statement.sequence = figures->sequence;
    statement.country = figures->country;
    statement.period = figures->period;
    statement.period_start = figures->period_start;
    statement.statistics_sequence = figures->statistics_sequence;
    statement.text = figures->text;
    data.statements.push_back(std::move(statement));
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
    const json object = json::parse(saved.signed_record, nullptr, false);
    const std::string name = "feed record " + std::to_string(saved.sequence) + " (" + saved.kind + ")";
    if (object.is_discarded() || !object.is_object()) {
      return make_error(ErrorCode::malformed, name + " is not a JSON object");
    }
    std::string problem;
    std::string refusal;  // the codec's, a whole sentence naming the record and field
    FieldReader read(object, problem);
    if (saved.kind == "statistics" && object.value("method", "") != "cell-suppression/v1") {
      ++data.older_format_records;
    } else if (saved.kind == "statistics") {
      auto record = read_statistics(saved.sequence, object, problem);
      if (problem.empty()) {
        auto key = std::make_pair(record.period, record.period_start);
        auto shown = by_period.find(key);
        if (shown == by_period.end()) {
          by_period.emplace(key, std::move(record));
        } else if (replaces(record, shown->second)) {
          shown->second = std::move(record);
        }
      }
    } else if (saved.kind != "statistics") {
      // Every other kind through the one codec of the feed's records
      // (protocol/fpx/public_records.hpp); kinds newer than this client decode
      // to nothing and are passed over.
      auto decoded = records::decode_record(saved.signed_record);
      if (!decoded) refusal = decoded.error().message;
      if (decoded && decoded->record) read_typed_record(*decoded->record, data, statuses);
    }
    // Other kinds are newer than this client: the page shows what it knows.
    if (!problem.empty() || !refusal.empty()) {
      return make_error(ErrorCode::malformed, (refusal.empty() ? name + " " + problem : refusal) +
                                                  ": run `fpx log verify`, and report it to the "
                                                  "exchange if it passes");
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
