// The tracing lifecycle, the stolen/lost watch lists and the process
// statistics' reads, as in broker/store/lifecycle.cpp and statistics.cpp.
#include "fpx/process_statistics.hpp"
#include "postgres_statements.hpp"

namespace fpx::broker::pg {

namespace {

Status as_status(Result<Rows> rows) {
  if (!rows) return std::move(rows).take_error();
  return {};
}

}  // namespace

Status PostgresStore::insert_lifecycle(const LifecycleRow& row) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  Params params;
  params.add(ByteView(row.request_id.bytes))
      .add_text(row.requested_country.str())
      .add_text(row.requester.str())
      .add_text(row.requester_country.str())
      .add_text(row.priority)
      .add_text(row.state)
      .add(row.submitted_at_ms)
      .add(row.ack_due_ms)
      .add(row.response_due_ms)
      .add(row.updated_at_ms);
  // ON CONFLICT DO NOTHING: already tracked (a forward to a state already asked).
  return as_status(run(sql::kInsertLifecycle, params, "storing a lifecycle row"));
}

Status PostgresStore::update_lifecycle(const LifecycleRow& row) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  Params params;
  params.add_text(row.state)
      .add(row.delivered_at_ms)
      .add(row.acknowledged_at_ms)
      .add(row.answered_at_ms)
      .add(row.closed_at_ms)
      .add(std::int64_t{row.ack_reminded ? 1 : 0})
      .add(std::int64_t{row.response_reminded ? 1 : 0})
      .add_text(row.outcome)
      .add_text(row.refusal_grounds)
      .add(row.updated_at_ms)
      .add(ByteView(row.request_id.bytes))
      .add_text(row.requested_country.str())
      .add_text(row.acknowledged_by)
      .add_text(row.answered_by);
  return as_status(run(sql::kUpdateLifecycle, params, "updating a lifecycle row"));
}

Result<std::vector<LifecycleRow>> PostgresStore::lifecycle_of(const MessageId& request_id) {
  auto rows = run(sql::kLifecycleOf, Params().add(ByteView(request_id.bytes)), "reading lifecycle rows");
  if (!rows) return std::move(rows).take_error();
  return read_lifecycle(*rows);
}

Status PostgresStore::mark_lifecycle_delivered(std::uint64_t delivery_id, const ParticipantId& recipient,
                                               const CountryCode& recipient_country, std::int64_t at_ms) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  return as_status(run(sql::kMarkLifecycleDelivered,
                       Params().add(at_ms).add_text(recipient_country.str()).add(delivery_id).add_text(recipient.str()),
                       "dating a delivery in the lifecycle"));
}

Result<std::vector<LifecycleRow>> PostgresStore::lifecycle_due(std::int64_t now_ms) {
  auto rows = run(sql::kLifecycleDue, Params().add(now_ms), "reading lifecycle rows");
  if (!rows) return std::move(rows).take_error();
  return read_lifecycle(*rows);
}

Result<std::vector<LifecycleRow>> PostgresStore::read_lifecycle(const Rows& rows) {
  std::vector<LifecycleRow> out;
  for (int i = 0; i < rows.size(); ++i) {
    LifecycleRow row;
    auto id = MessageId::from_bytes(rows.blob(i, 0));
    if (!id) return damaged("request id");
    row.request_id = *id;
    row.requested_country = CountryCode(rows.text(i, 1));
    row.requester = ParticipantId(rows.text(i, 2));
    row.requester_country = CountryCode(rows.text(i, 3));
    row.priority = rows.text(i, 4);
    row.state = rows.text(i, 5);
    row.submitted_at_ms = rows.integer(i, 6);
    row.delivered_at_ms = rows.integer(i, 7);
    row.acknowledged_at_ms = rows.integer(i, 8);
    row.answered_at_ms = rows.integer(i, 9);
    row.closed_at_ms = rows.integer(i, 10);
    row.ack_due_ms = rows.integer(i, 11);
    row.response_due_ms = rows.integer(i, 12);
    row.ack_reminded = rows.integer(i, 13) != 0;
    row.response_reminded = rows.integer(i, 14) != 0;
    row.outcome = rows.text(i, 15);
    row.refusal_grounds = rows.text(i, 16);
    row.updated_at_ms = rows.integer(i, 17);
    row.acknowledged_by = rows.text(i, 18);
    row.answered_by = rows.text(i, 19);
    out.push_back(std::move(row));
  }
  return out;
}

Status PostgresStore::watch_serials(const MessageId& alert_id, const CountryCode& alert_country,
                                    const std::vector<CountryCode>& reached_countries,
                                    const std::vector<std::string>& serials, std::int64_t valid_until_ms) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  std::string reached = ",";
  for (const auto& country : reached_countries) reached.append(country.str()).append(",");
  for (const auto& serial : serials) {
    Params params;
    params.add_text(serial)
        .add(ByteView(alert_id.bytes))
        .add_text(alert_country.str())
        .add(valid_until_ms)
        .add_text(reached);
    if (auto status = as_status(run(sql::kWatchSerial, params, "registering a watched serial")); !status) {
      return status;
    }
  }
  return {};
}

Status PostgresStore::watch_serial_ranges(const MessageId& alert_id, const CountryCode& alert_country,
                                          const std::vector<CountryCode>& reached_countries,
                                          const std::vector<SerialSpan>& ranges, std::int64_t valid_until_ms) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  std::string reached = ",";
  for (const auto& country : reached_countries) reached.append(country.str()).append(",");
  for (const auto& range : ranges) {
    Params params;
    params.add_text(range.key)
        .add(ByteView(alert_id.bytes))
        .add_text(alert_country.str())
        .add(valid_until_ms)
        .add_text(reached)
        .add(static_cast<std::int64_t>(range.low))
        .add(static_cast<std::int64_t>(range.high));
    if (auto status = as_status(run(sql::kWatchSerialRange, params, "registering a watched serial range")); !status) {
      return status;
    }
  }
  return {};
}

Status PostgresStore::unwatch_serials(const MessageId& alert_id, const CountryCode& alert_country) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  return as_status(run(sql::kUnwatchSerials, Params().add(ByteView(alert_id.bytes)).add_text(alert_country.str()),
                       "withdrawing watched serials"));
}

Result<std::vector<WatchedSerialHit>> PostgresStore::match_serial(const std::string& serial,
                                                                  const CountryCode& requester_country,
                                                                  std::int64_t now_ms) {
  const std::string country = "," + requester_country.str() + ",";
  // A serial with no trailing digits is in no range: its key '#' matches no row.
  const auto place = serial_place_of(serial);
  auto rows = run(sql::kMatchSerial,
                  Params()
                      .add_text(serial)
                      .add(now_ms)
                      .add_text(country)
                      .add_text(place ? place->key : std::string("#"))
                      .add(static_cast<std::int64_t>(place ? place->number : 0)),
                  "matching a serial");
  if (!rows) return std::move(rows).take_error();
  std::vector<WatchedSerialHit> hits;
  for (int i = 0; i < rows->size(); ++i) {
    auto id = MessageId::from_bytes(rows->blob(i, 0));
    if (!id) return damaged("alert id");
    hits.push_back({*id, CountryCode(rows->text(i, 1)), serial});
  }
  return hits;
}

Result<std::uint64_t> PostgresStore::watched_serials_added_since(const ParticipantId& sender, std::int64_t since_ms) {
  auto rows = run(sql::kWatchedSerialsAddedSince, Params().add_text(sender.str()).add(since_ms),
                  "reading the serials a participant put on watch");
  if (!rows) return std::move(rows).take_error();
  return static_cast<std::uint64_t>(rows->integer(0, 0));
}

Result<std::uint64_t> PostgresStore::active_watched_serials(const CountryCode& alert_country, std::int64_t now_ms) {
  auto rows = run(sql::kActiveWatchedSerials, Params().add_text(alert_country.str()).add(now_ms),
                  "counting a state's watched serials");
  if (!rows) return std::move(rows).take_error();
  return static_cast<std::uint64_t>(rows->integer(0, 0));
}

Result<std::vector<LifecycleRow>> PostgresStore::lifecycle_submitted_between(std::int64_t from_ms,
                                                                             std::int64_t to_ms) {
  auto rows = run(sql::kLifecycleBetween, Params().add(from_ms).add(to_ms), "reading lifecycle rows");
  if (!rows) return std::move(rows).take_error();
  return read_lifecycle(*rows);
}

Result<std::optional<StatisticsStart>> PostgresStore::statistics_start() {
  auto rows = run(sql::kFirstSubmission, "reading the first submission");
  if (!rows) return std::move(rows).take_error();
  if (rows->is_null(0, 0)) return std::optional<StatisticsStart>{};
  return std::optional<StatisticsStart>{StatisticsStart{rows->integer(0, 0), rows->integer(0, 1)}};
}

Result<std::vector<SealedFact>> PostgresStore::facts_of_tracing(const MessageId& request_id,
                                                                const CountryCode& requested_country) {
  auto rows = run(sql::kFactsOfTracing, Params().add(ByteView(request_id.bytes)), "reading the facts of a tracing");
  if (!rows) return std::move(rows).take_error();
  std::vector<SealedFact> facts;
  for (int i = 0; i < rows->size(); ++i) {
    const auto leaf_index = static_cast<std::uint64_t>(rows->integer(i, 0));
    auto parts = sqlite::decode_commitment_parts(rows->blob(i, 1));
    if (!parts) return damaged("leaf's sealed parts");
    for (std::size_t part = 0; part < parts->size(); ++part) {
      CommitmentPart& sealed = (*parts)[part];
      if (!sealed.tracing_request || *sealed.tracing_request != request_id ||
          sealed.requested_country != requested_country) {
        continue;
      }
      SealedFact fact;
      fact.leaf_index = leaf_index;
      fact.part = static_cast<std::uint32_t>(part);
      fact.fact = std::move(sealed.fact);
      fact.salt = std::move(sealed.salt);
      fact.metadata = std::move(sealed.metadata);
      facts.push_back(std::move(fact));
    }
  }
  return facts;
}

Result<std::vector<CommitmentPart>> PostgresStore::commitment_parts(std::uint64_t leaf_index) {
  auto rows = run(sql::kLeafParts, Params().add(leaf_index), "reading a leaf's commitment");
  if (!rows) return std::move(rows).take_error();
  auto none = [&] {
    return make_error(ErrorCode::not_found, "leaf " + std::to_string(leaf_index) + " has no kept commitment");
  };
  if (rows->size() == 0 || rows->is_null(0, 0)) return none();
  auto parts = sqlite::decode_commitment_parts(rows->blob(0, 0));
  if (!parts) return damaged("leaf's sealed parts");
  if (parts->empty()) return none();
  return std::move(parts).value();
}

Result<std::vector<Sha256Digest>> PostgresStore::commitment_part_hashes(std::uint64_t leaf_index) {
  auto parts = commitment_parts(leaf_index);
  if (!parts) return std::move(parts).take_error();
  std::vector<Sha256Digest> hashes;
  for (const auto& part : *parts) hashes.push_back(stats::commitment_part_hash(part.salt, part.metadata));
  return hashes;
}

Result<std::optional<std::int64_t>> PostgresStore::last_statistics_period(const std::string& period) {
  auto rows = run(sql::kLastStatisticsPeriod, Params().add_text(period), "reading the statistics runs");
  if (!rows) return std::move(rows).take_error();
  if (rows->is_null(0, 0)) return std::optional<std::int64_t>{};
  return std::optional<std::int64_t>{rows->integer(0, 0)};
}

Result<std::vector<StatisticsRun>> PostgresStore::statistics_awaiting_reveal(const std::string& period,
                                                                             std::int64_t started_before) {
  auto rows = run(sql::kStatisticsAwaitingReveal, Params().add_text(period).add(started_before),
                  "reading the statistics runs");
  if (!rows) return std::move(rows).take_error();
  std::vector<StatisticsRun> runs;
  for (int i = 0; i < rows->size(); ++i) {
    runs.push_back({period, rows->integer(i, 0), static_cast<std::uint64_t>(rows->integer(i, 1))});
  }
  return runs;
}

Status PostgresStore::record_statistics_run(const StatisticsRun& run_row, bool revealed) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  return as_status(run(sql::kRecordStatisticsRun,
                       Params()
                           .add_text(run_row.period)
                           .add(run_row.start_ms)
                           .add(std::int64_t{revealed ? 1 : 0})
                           .add(run_row.feed_sequence),
                       "recording a statistics run"));
}

Result<std::optional<StatisticsRun>> PostgresStore::published_statistics_period(std::int64_t start_ms) {
  auto rows = run(sql::kPublishedStatisticsPeriod, Params().add(start_ms), "reading the statistics runs");
  if (!rows) return std::move(rows).take_error();
  if (rows->size() == 0) return std::optional<StatisticsRun>{};
  return std::optional<StatisticsRun>{
      StatisticsRun{rows->text(0, 0), start_ms, static_cast<std::uint64_t>(rows->integer(0, 1))}};
}

}  // namespace fpx::broker::pg
