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
#include <map>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "fpx/disclosure_control.hpp"
#include "fpx/process_statistics.hpp"
#include "fpx/warning_statistics.hpp"
#include "oversight_publisher.hpp"
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

stats::TracingFacts facts_of(const LifecycleRow& row) {
  stats::TracingFacts facts;
  facts.requester = row.requester_country.str();
  facts.requested = row.requested_country.str();
  if (row.acknowledged_at_ms != 0) {
    facts.acknowledged_hours = (row.acknowledged_at_ms - row.submitted_at_ms) / stats::kHourMs;
    facts.acknowledged_within_clock = row.acknowledged_at_ms <= row.ack_due_ms;
  }
  if (row.answered_at_ms != 0) {
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

  std::vector<stats::TracingFacts> facts;
  for (const auto& row : *rows) facts.push_back(facts_of(row));
  std::map<std::string, std::vector<std::string>> regions;
  for (const auto& [region, members] : config_.regions) {
    for (const auto& member : members) regions[region].push_back(member.str());
  }
  SuppressionJob job;
  job.period = period.name;
  job.start_ms = start_ms;
  job.tables = disclosure::build_tables(facts, regions);
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
  const auto& tables = done.job.tables;
  const auto& clocks = config_.clocks;
  nlohmann::json record{
      {"period", period.name},
      {"periodStart", iso_time(start_ms)},
      {"periodEnd", iso_time(period.end_of(start_ms))},
      {"final", true},
      {"asOf", iso_time(now_ms())},
      {"method", disclosure::kMethod},
      {"threshold", done.job.threshold},
      {"protectionRange", done.job.protection},
      {"bandHours", {{"answeredWithin30Days", disclosure::kAnsweredBandHours}}},
      {"clocksHours",
       {{"urgentAcknowledge", hours(clocks.urgent_acknowledge_ms)},
        {"urgentRespond", hours(clocks.urgent_respond_ms)},
        {"routineAcknowledge", hours(clocks.routine_acknowledge_ms)},
        {"routineRespond", hours(clocks.routine_respond_ms)},
        {"warningAcknowledge", hours(clocks.warning_acknowledge_ms)}}},
  };
  disclosure::write_tables(record, tables);
  disclosure::write_warning_tables(record, done.job.warnings);
  auto sequence = store_.next_feed_sequence();
  if (!sequence) return std::move(sequence).take_error();
  if (auto published = publish_record("statistics", std::move(record), AsLeaf::yes); !published) {
    return std::move(published).take_error();
  }
  spdlog::info("statistics: {} from {}: {} cells, {} suppressed beyond the primary ones to stop differencing",
               period.name, iso_time(start_ms), tables.cells.size(), *done.secondary);
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
  return *start && period.end_of(**start) + config_.oversight.publish_after_ms <= now_ms();
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
  if (auto done = statistics_worker_.take_result()) {
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
  return {};
}

}  // namespace fpx::broker
