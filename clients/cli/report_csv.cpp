#include "report_csv.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "local_store.hpp"

namespace fpx::cli::report {

namespace {

// RFC 4180: a field holding a comma, a quote or a line break is quoted, its
// quotes doubled. Record text (a region's name) may hold any of them.
std::string field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

// A text a state wrote (an alert's public summary, a statement): a cell
// starting with = + - @ would be run as a formula by a spreadsheet (CSV
// injection), so it is written after an apostrophe, which spreadsheets show
// as text (OWASP's advice); every other text is written as signed.
std::string text_field(const std::string& text) {
  if (!text.empty() && std::string_view("=+-@").find(text.front()) != std::string_view::npos) return field("'" + text);
  return field(text);
}

std::string count(const Count& value) { return value ? std::to_string(*value) : std::string(); }

struct CsvTable {
  const char* file;
  const char* table;
  std::vector<const char*> keys;
};

}  // namespace

Result<std::vector<std::filesystem::path>> write_csv_tables(const ReportData& data, const std::filesystem::path& dir) {
  const CsvTable tables[] = {{"pairs.csv", "pairs", {"requester", "requested"}},
                             {"by_requester.csv", "byRequester", {"requester"}},
                             {"by_requested.csv", "byRequested", {"requested"}},
                             {"by_region.csv", "byRegion", {"region"}},
                             {"total.csv", "total", {}}};
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return make_error(ErrorCode::invalid_argument,
                      dir.string() + " cannot be made (" + error.message() + "): give a folder you can write to");
  }
  std::vector<std::filesystem::path> written;
  for (const auto& table : tables) {
    // The outcome and ground columns: every name any row carries, in first-seen order.
    std::vector<std::string> outcomes;
    std::vector<std::string> grounds;
    for (const auto& record : data.all_statistics) {
      for (const auto* row : record.table(table.table)) {
        for (const auto& [name, value] : row->outcomes) {
          if (std::find(outcomes.begin(), outcomes.end(), name) == outcomes.end()) outcomes.push_back(name);
        }
        for (const auto& [name, value] : row->refusal_grounds) {
          if (std::find(grounds.begin(), grounds.end(), name) == grounds.end()) grounds.push_back(name);
        }
      }
    }
    std::string text = "period,periodStart,periodEnd";
    for (const char* key : table.keys) text.append(",").append(key);
    text.append(",requests,acknowledged,acknowledgedWithinClock,answered,answeredWithinClock,answeredWithin30Days,"
                "originEstablished");
    for (const auto& name : outcomes) text.append(",outcome.").append(name);
    for (const auto& name : grounds) text.append(",refusalGround.").append(name);
    text.append("\r\n");
    for (const auto& record : data.all_statistics) {
      for (const auto* row : record.table(table.table)) {
        text.append(field(record.period)).append(",").append(field(record.period_start)).append(",");
        text.append(field(record.period_end));
        for (const std::string key : table.keys) {
          text.append(",").append(field(key == "requester" ? row->requester
                                        : key == "requested" ? row->requested
                                                             : row->region));
        }
        for (const Count* value : {&row->requests, &row->acknowledged, &row->acknowledged_within_clock, &row->answered,
                                   &row->answered_within_clock, &row->answered_within_30_days,
                                   &row->origin_established}) {
          text.append(",").append(count(*value));
        }
        auto family = [&](const std::vector<std::string>& names, const std::vector<std::pair<std::string, Count>>& of) {
          for (const auto& name : names) {
            auto found = std::find_if(of.begin(), of.end(), [&](const auto& entry) { return entry.first == name; });
            // A name the row lacks was not published for it: empty, like a suppressed count.
            text.append(",").append(found == of.end() ? std::string() : count(found->second));
          }
        };
        family(outcomes, row->outcomes);
        family(grounds, row->refusal_grounds);
        text.append("\r\n");
      }
    }
    const auto path = dir / table.file;
    if (auto saved = write_file_atomically(path, ByteView(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
        !saved) {
      return std::move(saved).take_error();
    }
    written.push_back(path);
  }
  // Issue 12: the public alerts with their status, and the states' statements.
  auto save = [&](const char* file, const std::string& text) -> Status {
    const auto path = dir / file;
    if (auto saved = write_file_atomically(path, ByteView(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
        !saved) {
      return saved;
    }
    written.push_back(path);
    return {};
  };
  // "expired" is as of the day the file is written (UTC), like the page's.
  const auto today_days = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
  const std::chrono::year_month_day today_date(today_days);
  char today[16];
  std::snprintf(today, sizeof today, "%04d-%02u-%02u", static_cast<int>(today_date.year()),
                static_cast<unsigned>(today_date.month()), static_cast<unsigned>(today_date.day()));
  std::string alerts = "feedRecord,month,alertKind,issuingCountry,region,validUntil,status,cancelledOn,publicSummary,"
                       "cancelSummary\r\n";
  for (const auto& alert : data.alerts) {
    alerts.append(std::to_string(alert.sequence)).append(",").append(field(alert.month)).append(",");
    alerts.append(field(alert.alert_kind)).append(",").append(field(alert.issuing_country)).append(",");
    alerts.append(field(alert.region)).append(",").append(field(alert.valid_until)).append(",");
    alerts.append(alert_status(alert, today)).append(",").append(field(alert.cancelled_on.value_or(""))).append(",");
    alerts.append(text_field(alert.public_summary)).append(",").append(text_field(alert.cancel_summary)).append("\r\n");
  }
  if (auto saved = save("alerts.csv", alerts); !saved) return std::move(saved).take_error();
  std::string statements = "feedRecord,country,period,periodStart,statisticsRecord,text\r\n";
  for (const auto& statement : data.statements) {
    statements.append(std::to_string(statement.sequence)).append(",").append(field(statement.country)).append(",");
    statements.append(field(statement.period)).append(",").append(field(statement.period_start)).append(",");
    statements.append(std::to_string(statement.statistics_sequence)).append(",").append(text_field(statement.text));
    statements.append("\r\n");
  }
  if (auto saved = save("statements.csv", statements); !saved) return std::move(saved).take_error();
  // Civil society's early warnings, a table of their own: one row per
  // warned state and period, and the period's total (state empty).
  std::string text = "period,periodStart,periodEnd,state,warnings,acknowledgedWithinClock\r\n";
  for (const auto& record : data.all_statistics) {
    for (const auto& row : record.warnings) {
      text.append(field(record.period)).append(",").append(field(record.period_start)).append(",");
      text.append(field(record.period_end)).append(",").append(field(row.state)).append(",");
      text.append(count(row.warnings)).append(",").append(count(row.acknowledged_within_clock)).append("\r\n");
    }
  }
  const auto path = dir / "early_warnings.csv";
  if (auto saved = write_file_atomically(path, ByteView(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
      !saved) {
    return std::move(saved).take_error();
  }
  written.push_back(path);
  return written;
}

}  // namespace fpx::cli::report
