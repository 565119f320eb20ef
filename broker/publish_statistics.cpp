// Public process statistics (DOMAIN.md "Public oversight feed"), tallied
// from lifecycle rows, never from content, on one grid of periods that never
// overlap; each period is published once, final, after `publish_after_ms`,
// as linked tables (per pair, per requesting and requested state, per
// region, total) under primary and secondary suppression that an LP audit
// checks before anything leaves (docs/PROTOCOL.md "Statistics: disclosure
// control"). No fact behind a cell is ever revealed: the commitments stay
// sealed in the log.
#include <algorithm>
#include <ctime>
#include <limits>
#include <map>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "fpx/disclosure_control.hpp"
#include "fpx/process_statistics.hpp"
#include "fpx/warning_statistics.hpp"
#include "oversight_publisher.hpp"
#include "fpx/public_records.hpp"
#include "secondary_suppression.hpp"
#include "statistics_worker.hpp"

namespace fpx::broker {

namespace {

// Catching up after a long stop goes in steps, so one tick stays short.
constexpr int kMaxPeriodsPerTick = 24;

std::string iso_time(std::int64_t at_ms) {
  const std::time_t seconds = static_cast<std::time_t>(at_ms / 1000);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

// What one tracing had come to by `as_of_ms`: a period counts what had
// happened when its tracings were read (its record's countedAtMs), and its
// year counts each period as that period's record did.
stats::TracingFacts facts_of(const LifecycleRow& row, std::int64_t as_of_ms) {
  stats::TracingFacts facts;
  facts.requester = row.requester_country.str();
  facts.requested = row.requested_country.str();
  if (row.acknowledged_at_ms != 0 && row.acknowledged_at_ms <= as_of_ms) {
    facts.acknowledged_hours = (row.acknowledged_at_ms - row.submitted_at_ms) / stats::kHourMs;
    facts.acknowledged_within_clock = row.acknowledged_at_ms <= row.ack_due_ms;
  }
  if (row.answered_at_ms != 0 && row.answered_at_ms <= as_of_ms) {
    facts.answered_hours = (row.answered_at_ms - row.submitted_at_ms) / stats::kHourMs;
    facts.answered_within_clock = row.answered_at_ms <= row.response_due_ms;
    facts.outcome = row.outcome;
    for (std::size_t start = 0; start < row.refusal_grounds.size();) {
      std::size_t end = row.refusal_grounds.find(',', start);
      if (end == std::string::npos) end = row.refusal_grounds.size();
      if (end > start) facts.refusal_grounds.push_back(row.refusal_grounds.substr(start, end - start));
      start = end + 1;
    }
  }
  return facts;
}

double hours(std::int64_t ms) { return static_cast<double>(ms) / static_cast<double>(stats::kHourMs); }

// --- year tables (docs/PROTOCOL.md "Year tables") ---------------------------

// The year a period of the grid belongs to: the calendar year (UTC) for the
// calendar grids; `oversight.periods_per_year` periods, aligned on the Unix
// epoch, for a fixed length (only called when that is set).
struct YearSpan {
  std::int64_t start_ms = 0;
  std::int64_t end_ms = 0;
};
YearSpan year_of(const StatisticsPeriod& period, std::int64_t periods_per_year, std::int64_t at_ms) {
  if (period.fixed_ms != 0) {
    const std::int64_t length = period.fixed_ms * periods_per_year;
    const std::int64_t start = at_ms - (at_ms % length + length) % length;
    return {start, start + length};
  }
  const std::time_t seconds = static_cast<std::time_t>(at_ms / 1000);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  parts.tm_mon = 0;
  parts.tm_mday = 1;
  parts.tm_hour = parts.tm_min = parts.tm_sec = 0;
  const std::int64_t start = static_cast<std::int64_t>(timegm(&parts)) * 1000;
  parts.tm_year += 1;
  return {start, static_cast<std::int64_t>(timegm(&parts)) * 1000};
}

// The store's name of the year runs of a grid: a grid changed later starts its own years.
std::string year_runs_name(const StatisticsPeriod& period) { return "year/" + period.name; }

std::map<std::string, std::vector<std::string>> region_members(const BrokerConfig& config) {
  std::map<std::string, std::vector<std::string>> regions;
  for (const auto& [region, members] : config.regions) {
    for (const auto& member : members) regions[region].push_back(member.str());
  }
  return regions;
}

// The instant a published period's tracings were read: countedAtMs, or, in
// a record written before it was, the last millisecond of its asOf second.
Result<std::int64_t> counted_at_of(const nlohmann::json& record) {
  if (auto at = record.find("countedAtMs"); at != record.end() && at->is_number_integer()) {
    return at->get<std::int64_t>();
  }
  std::tm parts{};
  const std::string as_of = record.value("asOf", "");
  if (strptime(as_of.c_str(), "%Y-%m-%dT%H:%M:%SZ", &parts) == nullptr) {
    return make_error(ErrorCode::internal, "a published statistics record has no asOf time");
  }
  return static_cast<std::int64_t>(timegm(&parts)) * 1000 + 999;
}

// One published period as its record counted it: the true counts, read
// again from the store as of the record's countedAtMs, with the record's
// suppression. The counts shown must be the record's, or the year would not
// be the sum of what was published: then the year is not published (an
// answer replaced after the period's record, which the lifecycle no longer
// dates, is the one way to get here).
struct PublishedPeriod {
  disclosure::PeriodTables tables;
  std::vector<stats::TracingFacts> facts;
  std::string mismatch;  // not empty: the store no longer gives what the record counted
};
Result<PublishedPeriod> published_period(Store& store, const BrokerConfig& config, const StatisticsPeriod& period,
                                         const LinkedPeriod& linked) {
  auto page = store.feed_page(linked.feed_sequence, 1);
  if (!page) return std::move(page).take_error();
  if (page->empty() || page->front().sequence != linked.feed_sequence || page->front().kind != "statistics") {
    return make_error(ErrorCode::internal, "the statistics record " + std::to_string(linked.feed_sequence) +
                                               " of a published period is not on the feed");
  }
  const std::string text(page->front().record.begin(), page->front().record.end());
  auto published = disclosure::tables_of_record(text);
  if (!published) return std::move(published).take_error();
  const auto record = nlohmann::json::parse(text, nullptr, false);
  auto counted_at = counted_at_of(record);
  if (!counted_at) return std::move(counted_at).take_error();
  auto rows = store.lifecycle_submitted_between(linked.start_ms, period.end_of(linked.start_ms));
  if (!rows) return std::move(rows).take_error();
  PublishedPeriod out;
  for (const auto& row : *rows) out.facts.push_back(facts_of(row, *counted_at));
  out.tables = disclosure::build_tables(out.facts, region_members(config));
  auto& counted = out.tables;
  if (counted.states != published->states || counted.cells.size() != published->cells.size()) {
    out.mismatch = "the tracings of the period from " + iso_time(linked.start_ms) +
                   " are no longer those its record counted";
    return out;
  }
  for (std::size_t i = 0; i < counted.cells.size(); ++i) {
    const auto& shown = published->cells[i];
    if (!shown.suppressed && shown.value != counted.cells[i].value) {
      out.mismatch = "the period from " + iso_time(linked.start_ms) + " counts " +
                     disclosure::describe(counted.cells[i]) + " = " + std::to_string(counted.cells[i].value) +
                     " now but published " + std::to_string(shown.value);
      return out;
    }
    counted.cells[i].suppressed = shown.suppressed;
  }
  return out;
}

// The start of the oldest year not yet handled whose wait is over and whose
// every period is handled; none when nothing is due.
Result<std::optional<std::int64_t>> due_year(Store& store, const BrokerConfig& config, std::int64_t now_ms) {
  const auto& period = config.oversight.statistics_period;
  const std::int64_t per_year = config.oversight.periods_per_year;
  if (period.fixed_ms != 0 && per_year == 0) return std::optional<std::int64_t>{};  // no year tables
  auto last_year = store.last_statistics_period(year_runs_name(period));
  if (!last_year) return std::move(last_year).take_error();
  std::int64_t start = 0;
  if (*last_year) {
    start = year_of(period, per_year, **last_year).end_ms;
  } else {
    auto runs = store.statistics_awaiting_reveal(period.name, std::numeric_limits<std::int64_t>::max());
    if (!runs) return std::move(runs).take_error();
    if (runs->empty()) return std::optional<std::int64_t>{};  // no period published yet
    start = year_of(period, per_year, runs->front().start_ms).start_ms;
  }
  const YearSpan span = year_of(period, per_year, start);
  if (span.end_ms + config.oversight.publish_after_ms > now_ms) return std::optional<std::int64_t>{};
  auto last_period = store.last_statistics_period(period.name);
  if (!last_period) return std::move(last_period).take_error();
  if (!*last_period || period.end_of(**last_period) < span.end_ms) return std::optional<std::int64_t>{};
  return std::optional<std::int64_t>{span.start_ms};
}

// A due year's tables linked to its published periods, for the statistics
// thread; none when it has no published period, or when it cannot be
// published (`skipped` says why: the year is passed over, logged).
Result<std::optional<SuppressionJob>> prepare_year(Store& store, const BrokerConfig& config,
                                                   const StatisticsPeriod& period, std::int64_t start_ms,
                                                   std::string& skipped) {
  const YearSpan span = year_of(period, config.oversight.periods_per_year, start_ms);
  auto runs = store.statistics_awaiting_reveal(period.name, span.end_ms);
  if (!runs) return std::move(runs).take_error();
  SuppressionJob job;
  job.kind = JobKind::year;
  job.period = period.name;
  job.start_ms = span.start_ms;
  job.end_ms = span.end_ms;
  job.threshold = config.oversight.suppression_threshold;
  job.protection = config.oversight.protection_range;
  std::vector<disclosure::PeriodTables> periods;
  std::vector<stats::TracingFacts> facts;
  for (const auto& run : *runs) {
    if (run.start_ms < span.start_ms) continue;
    const LinkedPeriod linked{run.start_ms, run.feed_sequence};
    auto published = published_period(store, config, period, linked);
    if (!published) return std::move(published).take_error();
    if (!published->mismatch.empty()) {
      skipped = published->mismatch;
      return std::optional<SuppressionJob>{};
    }
    job.linked.push_back(linked);
    periods.push_back(std::move(published->tables));
    facts.insert(facts.end(), published->facts.begin(), published->facts.end());
  }
  if (periods.empty()) return std::optional<SuppressionJob>{};
  job.year_tables = disclosure::build_tables(facts, region_members(config));
  job.tables = disclosure::link_year(job.year_tables, periods);
  if (auto sized = check_audit_size(job.tables); !sized) {
    skipped = sized.error().describe();
    return std::optional<SuppressionJob>{};
  }
  return std::optional<SuppressionJob>{std::move(job)};
}

}  // namespace

Result<std::optional<SuppressionJob>> OversightPublisher::prepare_statistics(const StatisticsPeriod& period,
                                                                             std::int64_t start_ms) {
  auto rows = store_.lifecycle_submitted_between(start_ms, period.end_of(start_ms));
  if (!rows) return std::move(rows).take_error();
  // Civil society's early warnings: counted per warned state in a table of
  // their own (never their content), acknowledged within the clock when the
  // first acknowledgement came by the warning's due time.
  auto warnings = store_.warnings_submitted_between(start_ms, period.end_of(start_ms));
  if (!warnings) return std::move(warnings).take_error();
  if (rows->empty() && warnings->empty()) return std::optional<SuppressionJob>{};  // nothing happened

  const std::int64_t counted_at = now_ms();
  std::vector<stats::TracingFacts> facts;
  for (const auto& row : *rows) facts.push_back(facts_of(row, counted_at));
  SuppressionJob job;
  job.period = period.name;
  job.start_ms = start_ms;
  job.counted_at_ms = counted_at;
  job.tables = disclosure::build_tables(facts, region_members(config_));
  std::vector<stats::WarningFacts> warning_facts;
  for (const auto& warning : *warnings) {
    warning_facts.push_back({warning.country.str(),
                             warning.acknowledged_at_ms != 0 && warning.acknowledged_at_ms <= warning.ack_due_ms});
  }
  job.warnings = disclosure::build_warning_tables(warning_facts);
  job.threshold = config_.oversight.suppression_threshold;
  job.protection = config_.oversight.protection_range;
  return std::optional<SuppressionJob>{std::move(job)};
}

Result<std::uint64_t> OversightPublisher::write_statistics(const StatisticsPeriod& period,
                                                           const SuppressionResult& done) {
  const std::int64_t start_ms = done.job.start_ms;
  const bool year = done.job.kind == JobKind::year;
  // A year's record holds its own cells only: the linked periods' are on the feed already.
  disclosure::PeriodTables tables = year ? done.job.year_tables : done.job.tables;
  if (year) {
    for (std::size_t i = 0; i < tables.cells.size(); ++i) tables.cells[i].suppressed = done.job.tables.cells[i].suppressed;
  }
  const auto& clocks = config_.clocks;
  records::StatisticsRecord record;
  record.period = year ? std::string("year") : period.name;
  record.period_start = iso_time(start_ms);
  record.period_end = iso_time(year ? done.job.end_ms : period.end_of(start_ms));
  record.final = true;
  record.as_of = iso_time(now_ms());
  record.method = std::string(disclosure::kMethod);
  record.threshold = done.job.threshold;
  record.protection_range = done.job.protection;
  record.answered_band_hours = disclosure::kAnsweredBandHours;
  record.clocks_hours = {.urgent_acknowledge = hours(clocks.urgent_acknowledge_ms),
                         .urgent_respond = hours(clocks.urgent_respond_ms),
                         .routine_acknowledge = hours(clocks.routine_acknowledge_ms),
                         .routine_respond = hours(clocks.routine_respond_ms),
                         .warning_acknowledge = hours(clocks.warning_acknowledge_ms)};
  if (year) {
    // The period records the year sums, so a reader can check the sums and audit them together.
    record.grid = period.name;
    for (const auto& linked : done.job.linked) {
      record.periods.push_back({.period_start = iso_time(linked.start_ms), .sequence = linked.feed_sequence});
    }
  } else {
    record.counted_at_ms = done.job.counted_at_ms;
  }
  record.tables = std::move(tables);
  record.warnings = done.job.warnings;
  auto sequence = store_.next_feed_sequence();
  if (!sequence) return std::move(sequence).take_error();
  const std::size_t cell_count = record.tables.cells.size();
  if (auto published = publish_record(std::move(record)); !published) {
    return std::move(published).take_error();
  }
  spdlog::info("statistics: {} from {}: {} cells, {} suppressed beyond the primary ones to stop differencing",
               year ? "year" : period.name, iso_time(start_ms), cell_count, *done.secondary);
  return *sequence;
}

Result<std::optional<std::int64_t>> OversightPublisher::first_unpublished_period(const StatisticsPeriod& period) {
  auto last = store_.last_statistics_period(period.name);
  if (!last) return std::move(last).take_error();
  if (*last) return std::optional<std::int64_t>{period.end_of(**last)};
  auto begins = store_.statistics_start();
  if (!begins) return std::move(begins).take_error();
  if (!*begins) return std::optional<std::int64_t>{};  // no tracing yet
  const auto& [first_ms, since_ms] = **begins;
  std::int64_t start = period.start_of(std::max(first_ms, since_ms));
  if (since_ms > start) start = period.end_of(start);  // only whole periods with facts behind them
  return std::optional<std::int64_t>{start};
}

Result<bool> OversightPublisher::statistics_due() {
  // While a period is on the statistics thread, only its result is due:
  // polled at every check, written in the turn after it is ready.
  if (statistics_worker_.busy()) return statistics_worker_.result_ready();
  const auto& period = config_.oversight.statistics_period;
  auto start = first_unpublished_period(period);
  if (!start) return std::move(start).take_error();
  if (*start && period.end_of(**start) + config_.oversight.publish_after_ms <= now_ms()) return true;
  auto year = due_year(store_, config_, now_ms());
  if (!year) return std::move(year).take_error();
  return year->has_value();
}

Status OversightPublisher::record_statistics_run(const StatisticsPeriod& period, std::int64_t start_ms,
                                                 std::uint64_t sequence) {
  // Recorded as a run of the period (the store's "revealed" flag stays 0:
  // nothing is ever revealed now, and its last-period lookup reads those
  // rows). Only here, in the transaction that writes the record: a broker
  // stopped while the period was on the statistics thread recorded nothing
  // and does the period again at its next start, so nothing is lost and
  // nothing is published twice.
  if (auto recorded = store_.record_statistics_run({period.name, start_ms, sequence}, false); !recorded) {
    return recorded;
  }
  if (sequence != 0) {
    spdlog::info("statistics: {} from {} published, final (feed record {})", period.name, iso_time(start_ms),
                 sequence);
  }
  return {};
}

Status OversightPublisher::publish_due_statistics() {
  const auto& period = config_.oversight.statistics_period;
  auto first = first_unpublished_period(period);
  if (!first) return std::move(first).take_error();
  if (!*first) return {};  // no tracing yet
  std::int64_t start = **first;

  // A period the statistics thread has finished: its record, in this transaction.
  if (auto done = statistics_worker_.take_result(); done && done->job.kind == JobKind::year) {
    if (!done->secondary) {
      return make_error(done->secondary.error().code, "statistics: the year from " + iso_time(done->job.start_ms) +
                                                          ": " + done->secondary.error().describe());
    }
    // Only this function records years, one at a time: anything but the
    // next due year (a changed grid) is done again.
    auto due = due_year(store_, config_, now_ms());
    if (!due) return std::move(due).take_error();
    if (done->job.period != period.name || !*due || **due != done->job.start_ms) {
      spdlog::warn("statistics: the suppressed year from {} is no longer the next to publish; done again",
                   iso_time(done->job.start_ms));
    } else {
      auto sequence = write_statistics(period, *done);
      if (!sequence) return std::move(sequence).take_error();
      if (auto recorded = store_.record_statistics_run({year_runs_name(period), done->job.start_ms, *sequence}, false);
          !recorded) {
        return recorded;
      }
      spdlog::info("statistics: the year from {} published, final (feed record {}), linked to {} period(s)",
                   iso_time(done->job.start_ms), *sequence, done->job.linked.size());
    }
  } else if (done) {
    if (!done->secondary) {
      // Taken, so the next check reads the period again and hands it over anew.
      return make_error(done->secondary.error().code,
                        "statistics: " + done->job.period + " from " + iso_time(done->job.start_ms) + ": " +
                            done->secondary.error().describe());
    }
    // Only this function records runs, one period at a time, so the result is
    // the oldest unpublished period; anything else (a changed grid) is done again.
    if (done->job.period != period.name || done->job.start_ms != start) {
      spdlog::warn("statistics: suppressed {} from {} is no longer the next period to publish; done again",
                   done->job.period, iso_time(done->job.start_ms));
    } else {
      spdlog::info("statistics: {} from {} suppressed on the statistics thread in {:.2f} s", period.name,
                   iso_time(start), done->seconds);
      auto sequence = write_statistics(period, *done);
      if (!sequence) return std::move(sequence).take_error();
      if (auto recorded = record_statistics_run(period, start, *sequence); !recorded) return recorded;
      start = period.end_of(start);
    }
  }
  if (statistics_worker_.busy()) return {};  // a period is being suppressed: later ones wait

  // Periods whose wait is over, oldest first, each once: those without a
  // tracing are recorded at once, the first with tracings goes to the
  // statistics thread and the rest wait for it.
  for (int step = 0; step < kMaxPeriodsPerTick &&
                     period.end_of(start) + config_.oversight.publish_after_ms <= now_ms();
       ++step) {
    auto job = prepare_statistics(period, start);
    if (!job) return std::move(job).take_error();
    if (*job) {
      if (auto sized = check_audit_size((*job)->tables); !sized) return sized;
      const auto cells = (*job)->tables.cells.size();
      statistics_worker_.submit(std::move(**job));
      spdlog::info("statistics: {} from {}: {} cells handed to the statistics thread for suppression", period.name,
                   iso_time(start), cells);
      return {};
    }
    if (auto recorded = record_statistics_run(period, start, 0); !recorded) return recorded;
    start = period.end_of(start);
  }

  // Years whose every period is published and whose wait is over, oldest
  // first: linked to their periods on the statistics thread; a year with no
  // published period (or one that cannot be published) is recorded at once.
  for (int step = 0; step < kMaxPeriodsPerTick; ++step) {
    auto year = due_year(store_, config_, now_ms());
    if (!year) return std::move(year).take_error();
    if (!*year) break;
    std::string skipped;
    auto job = prepare_year(store_, config_, period, **year, skipped);
    if (!job) return std::move(job).take_error();
    if (*job) {
      const auto cells = (*job)->tables.cells.size();
      statistics_worker_.submit(std::move(**job));
      spdlog::info("statistics: the year from {}: {} cells (its own and its periods') handed to the statistics "
                   "thread for suppression", iso_time(**year), cells);
      return {};
    }
    if (!skipped.empty()) {
      spdlog::warn("statistics: the year from {} is not published: {}", iso_time(**year), skipped);
    }
    if (auto recorded = store_.record_statistics_run({year_runs_name(period), **year, 0}, false); !recorded) {
      return recorded;
    }
  }
  return {};
}

}  // namespace fpx::broker
