// Public process statistics (DOMAIN.md "Public oversight feed"): tallied
// from lifecycle rows, never from content; published per period and pair of
// states once the period ends; published again, final, after the embargo,
// together with the sealed facts behind every published cell, so observers
// can recompute those cells and check each fact against the log.
#include <algorithm>
#include <ctime>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "oversight_publisher.hpp"
#include "fpx/process_statistics.hpp"

namespace fpx::broker {

namespace {

// Catching up after a long stop goes in steps, so one tick stays short.
constexpr int kMaxPeriodsPerTick = 24;
// A revealed cell spans several feed records of at most about this size.
constexpr std::size_t kRevealRecordBytes = 512 * 1024;

std::string iso_time(std::int64_t at_ms) {
  const std::time_t seconds = static_cast<std::time_t>(at_ms / 1000);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

nlohmann::json count_json(const std::optional<std::int64_t>& count) {
  return count ? nlohmann::json(*count) : nlohmann::json(nullptr);
}

nlohmann::json percentiles_json(const stats::Percentiles& values) {
  return {{"median", count_json(values.median)}, {"p90", count_json(values.p90)}};
}

nlohmann::json pair_json(const stats::PublishedPair& pair) {
  nlohmann::json json{{"requester", pair.requester}, {"requested", pair.requested}, {"suppressed", pair.suppressed}};
  if (pair.suppressed) return json;
  json["requests"] = count_json(pair.requests);
  json["acknowledged"] = count_json(pair.acknowledged);
  json["acknowledgedWithinClock"] = count_json(pair.acknowledged_within_clock);
  json["answered"] = count_json(pair.answered);
  json["acknowledgementHours"] = percentiles_json(pair.acknowledged_hours);
  json["responseHours"] = percentiles_json(pair.answered_hours);
  json["outcomes"] = nlohmann::json::object();
  for (const auto& [outcome, count] : pair.outcomes) json["outcomes"][outcome] = count_json(count);
  json["refusalGrounds"] = nlohmann::json::object();
  for (const auto& [ground, count] : pair.refusal_grounds) json["refusalGrounds"][ground] = count_json(count);
  return json;
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

// Whether a sealed fact counts in a cell the statistics record shows.
bool in_published_cell(const SealedFact& fact, const stats::PublishedPair& pair) {
  if (fact.fact == stats::kFactRequest) return pair.requests.has_value();
  if (fact.fact == stats::kFactAcknowledged) return pair.acknowledged.has_value();
  if (fact.fact == stats::kFactAcknowledgedWithinClock) return pair.acknowledged_within_clock.has_value();
  if (fact.fact == stats::kFactAnswered) return pair.answered.has_value();
  const bool outcome = fact.fact == stats::kFactOutcome;
  if (!outcome && fact.fact != stats::kFactRefusalGround) return false;
  auto metadata = nlohmann::json::parse(fact.metadata, nullptr, false);
  const char* key = outcome ? "outcome" : "ground";
  if (metadata.is_discarded() || !metadata.contains(key) || !metadata[key].is_string()) return false;
  const auto& cells = outcome ? pair.outcomes : pair.refusal_grounds;
  auto cell = cells.find(metadata[key].get<std::string>());
  return cell != cells.end() && cell->second.has_value();
}

}  // namespace

Result<OversightPublisher::PeriodStatistics> OversightPublisher::publish_statistics(const StatisticsPeriod& period,
                                                                        std::int64_t start_ms, bool final) {
  PeriodStatistics statistics;
  statistics.start_ms = start_ms;
  auto rows = store_.lifecycle_submitted_between(start_ms, period.end_of(start_ms));
  if (!rows) return std::move(rows).take_error();
  statistics.rows = std::move(rows).value();
  if (statistics.rows.empty()) return statistics;  // nothing happened: nothing to publish

  std::vector<stats::TracingFacts> facts;
  for (const auto& row : statistics.rows) facts.push_back(facts_of(row));
  nlohmann::json pairs = nlohmann::json::array();
  for (const auto& [key, counts] : stats::tally(facts)) {
    statistics.pairs.push_back(stats::publishable(key, counts, config_.oversight.suppression_threshold));
    pairs.push_back(pair_json(statistics.pairs.back()));
  }
  const auto& clocks = config_.clocks;
  nlohmann::json record{
      {"period", period.name},
      {"periodStart", iso_time(start_ms)},
      {"periodEnd", iso_time(period.end_of(start_ms))},
      {"final", final},
      {"asOf", iso_time(now_ms())},
      {"threshold", config_.oversight.suppression_threshold},
      {"revealAfter", iso_time(period.end_of(start_ms) + config_.oversight.reveal_after_ms)},
      {"clocksHours",
       {{"urgentAcknowledge", hours(clocks.urgent_acknowledge_ms)},
        {"urgentRespond", hours(clocks.urgent_respond_ms)},
        {"routineAcknowledge", hours(clocks.routine_acknowledge_ms)},
        {"routineRespond", hours(clocks.routine_respond_ms)}}},
      {"pairs", std::move(pairs)},
  };
  auto sequence = store_.next_feed_sequence();
  if (!sequence) return std::move(sequence).take_error();
  if (auto published = publish_record("statistics", std::move(record), AsLeaf::yes); !published) {
    return std::move(published).take_error();
  }
  statistics.feed_sequence = *sequence;
  return statistics;
}

Status OversightPublisher::reveal_statistics(const StatisticsPeriod& period, const PeriodStatistics& statistics) {
  for (const auto& pair : statistics.pairs) {
    if (pair.suppressed) continue;  // suppressed cells stay sealed
    nlohmann::json revealed = nlohmann::json::array();
    for (const auto& row : statistics.rows) {
      if (row.requester_country.str() != pair.requester || row.requested_country.str() != pair.requested) continue;
      auto sealed = store_.facts_of_tracing(row.request_id, row.requested_country);
      if (!sealed) return std::move(sealed).take_error();
      // Only the answer in force counts (a later final answer replaces an
      // earlier one in the lifecycle); the replaced one stays sealed.
      std::optional<std::uint64_t> answer_leaf;
      for (const auto& fact : *sealed) {
        if (fact.fact == stats::kFactAnswered) answer_leaf = fact.leaf_index;
      }
      for (const auto& fact : *sealed) {
        const bool answer_fact = fact.fact == stats::kFactAnswered || fact.fact == stats::kFactOutcome ||
                                 fact.fact == stats::kFactRefusalGround;
        if (answer_fact && fact.leaf_index != answer_leaf) continue;
        if (!in_published_cell(fact, pair)) continue;
        auto part_hashes = store_.commitment_part_hashes(fact.leaf_index);
        if (!part_hashes) return std::move(part_hashes).take_error();
        nlohmann::json hashes = nlohmann::json::array();
        for (const auto& hash : *part_hashes) hashes.push_back(to_hex(hash));
        revealed.push_back({{"leafIndex", fact.leaf_index},
                            {"part", fact.part},
                            {"salt", to_hex(fact.salt)},
                            {"metadata", fact.metadata},
                            {"partHashes", std::move(hashes)}});
      }
    }
    // Split by size (a fact of a request to many states carries many part hashes).
    std::vector<nlohmann::json> pieces(1, nlohmann::json::array());
    std::size_t piece_bytes = 0;
    for (auto& fact : revealed) {
      const std::size_t bytes = fact.dump().size();
      if (!pieces.back().empty() && piece_bytes + bytes > kRevealRecordBytes) {
        pieces.emplace_back(nlohmann::json::array());
        piece_bytes = 0;
      }
      piece_bytes += bytes;
      pieces.back().push_back(std::move(fact));
    }
    const std::size_t chunks = pieces.size();
    for (std::size_t chunk = 0; chunk < chunks; ++chunk) {
      nlohmann::json facts = std::move(pieces[chunk]);
      nlohmann::json record{{"period", period.name},
                            {"periodStart", iso_time(statistics.start_ms)},
                            {"periodEnd", iso_time(period.end_of(statistics.start_ms))},
                            {"statisticsSequence", statistics.feed_sequence},
                            {"requester", pair.requester},
                            {"requested", pair.requested},
                            {"chunk", chunk + 1},
                            {"chunks", chunks},
                            {"facts", std::move(facts)}};
      if (auto published = publish_record("reveal", std::move(record), AsLeaf::yes); !published) return published;
    }
  }
  return {};
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
  const std::int64_t embargo_ms = config_.oversight.reveal_after_ms;
  for (const auto& period : config_.oversight.statistics_periods) {
    auto start = first_unpublished_period(period);
    if (!start) return std::move(start).take_error();
    if (*start && period.end_of(**start) <= now_ms()) return true;
    auto awaiting = store_.statistics_awaiting_reveal(period.name, now_ms() - embargo_ms);
    if (!awaiting) return std::move(awaiting).take_error();
    if (!awaiting->empty() && period.end_of(awaiting->front().start_ms) + embargo_ms <= now_ms()) return true;
  }
  return false;
}

Status OversightPublisher::publish_due_statistics() {
  const std::int64_t embargo_ms = config_.oversight.reveal_after_ms;
  for (const auto& period : config_.oversight.statistics_periods) {
    // Periods that ended since the last one handled, oldest first.
    auto first = first_unpublished_period(period);
    if (!first) return std::move(first).take_error();
    if (!*first) continue;  // no tracing yet
    std::int64_t start = **first;
    for (int step = 0; step < kMaxPeriodsPerTick && period.end_of(start) <= now_ms(); ++step) {
      auto published = publish_statistics(period, start, false);
      if (!published) return std::move(published).take_error();
      if (auto recorded = store_.record_statistics_run({period.name, start, published->feed_sequence}, false);
          !recorded) {
        return recorded;
      }
      if (published->feed_sequence != 0) {
        spdlog::info("statistics: {} from {} published (feed record {})", period.name, iso_time(start),
                     published->feed_sequence);
      }
      start = period.end_of(start);
    }

    // Published periods whose embargo is over: final figures and the reveal.
    auto awaiting = store_.statistics_awaiting_reveal(period.name, now_ms() - embargo_ms);
    if (!awaiting) return std::move(awaiting).take_error();
    int revealed = 0;
    for (const auto& run : *awaiting) {
      if (period.end_of(run.start_ms) + embargo_ms > now_ms() || revealed++ == kMaxPeriodsPerTick) break;
      auto final_statistics = publish_statistics(period, run.start_ms, true);
      if (!final_statistics) return std::move(final_statistics).take_error();
      if (auto shown = reveal_statistics(period, *final_statistics); !shown) return shown;
      if (auto recorded = store_.record_statistics_run({period.name, run.start_ms, final_statistics->feed_sequence},
                                                       true);
          !recorded) {
        return recorded;
      }
      spdlog::info("statistics: {} from {} final and revealed (feed record {})", period.name,
                   iso_time(run.start_ms), final_statistics->feed_sequence);
    }
  }
  return {};
}

}  // namespace fpx::broker
