// Process statistics: lifecycle reads by period, sealed facts, statistics runs.
#include "sqlite_store.hpp"

namespace fpx::broker {

namespace sqlite {

Result<std::vector<LifecycleRow>> SqliteStore::lifecycle_submitted_between(std::int64_t from_ms, std::int64_t to_ms) {
  Query query(lifecycle_between_.get());
  query.bind(1, from_ms).bind(2, to_ms);
  return read_lifecycle(query);
}

Result<std::optional<StatisticsStart>> SqliteStore::statistics_start() {
  Query query(first_submission_.get());
  const int rc = query.step();
  if (rc != SQLITE_ROW) return fail(rc, "reading the first submission");
  if (query.is_null(0)) return std::optional<StatisticsStart>{};
  return std::optional<StatisticsStart>{StatisticsStart{query.integer(0), query.integer(1)}};
}

Result<std::vector<SealedFact>> SqliteStore::facts_of_tracing(const MessageId& request_id,
                                                 const CountryCode& requested_country) {
  // log_facts names the leaves that state facts about the request; their
  // parts say which requested state each fact is about.
  Query query(facts_of_tracing_.get());
  query.bind(1, ByteView(request_id.bytes));
  std::vector<SealedFact> facts;
  for (;;) {
    const int rc = query.step();
    if (rc == SQLITE_DONE) return facts;
    if (rc != SQLITE_ROW) return fail(rc, "reading the facts of a tracing");
    const auto leaf_index = static_cast<std::uint64_t>(query.integer(0));
    auto parts = decode_commitment_parts(query.blob(1));
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
}

Result<std::vector<Sha256Digest>> SqliteStore::commitment_part_hashes(std::uint64_t leaf_index) {
  auto parts = commitment_parts(leaf_index);
  if (!parts) return std::move(parts).take_error();
  std::vector<Sha256Digest> hashes;
  for (const auto& part : *parts) hashes.push_back(stats::commitment_part_hash(part.salt, part.metadata));
  return hashes;
}

Result<std::vector<CommitmentPart>> SqliteStore::commitment_parts(std::uint64_t leaf_index) {
  Query query(leaf_parts_.get());
  query.bind(1, to_sql(leaf_index));
  const int rc = query.step();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return fail(rc, "reading a leaf's commitment");
  if (rc == SQLITE_DONE || query.is_null(0)) {
    return make_error(ErrorCode::not_found, "leaf " + std::to_string(leaf_index) + " has no kept commitment");
  }
  auto parts = decode_commitment_parts(query.blob(0));
  if (!parts) return damaged("leaf's sealed parts");
  if (parts->empty()) return make_error(ErrorCode::not_found, "leaf " + std::to_string(leaf_index) + " has no kept commitment");
  return std::move(parts).value();
}

Result<std::optional<std::int64_t>> SqliteStore::last_statistics_period(const std::string& period) {
  Query query(last_statistics_period_.get());
  query.bind(1, std::string_view(period));
  const int rc = query.step();
  if (rc != SQLITE_ROW) return fail(rc, "reading the statistics runs");
  if (query.is_null(0)) return std::optional<std::int64_t>{};
  return std::optional<std::int64_t>{query.integer(0)};
}

Result<std::vector<StatisticsRun>> SqliteStore::statistics_awaiting_reveal(const std::string& period,
                                                              std::int64_t started_before) {
  Query query(statistics_awaiting_reveal_.get());
  query.bind(1, std::string_view(period)).bind(2, started_before);
  std::vector<StatisticsRun> runs;
  for (;;) {
    const int rc = query.step();
    if (rc == SQLITE_DONE) return runs;
    if (rc != SQLITE_ROW) return fail(rc, "reading the statistics runs");
    runs.push_back({period, query.integer(0), static_cast<std::uint64_t>(query.integer(1))});
  }
}

Status SqliteStore::record_statistics_run(const StatisticsRun& run, bool revealed) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  Query query(record_statistics_run_.get());
  query.bind(1, std::string_view(run.period))
      .bind(2, run.start_ms)
      .bind(3, std::int64_t{revealed ? 1 : 0})
      .bind(4, to_sql(run.feed_sequence));
  return done(query.step(), "recording a statistics run");
}

Result<std::optional<StatisticsRun>> SqliteStore::published_statistics_period(std::int64_t start_ms) {
  Query query(published_statistics_period_.get());
  query.bind(1, start_ms);
  const int rc = query.step();
  if (rc == SQLITE_DONE) return std::optional<StatisticsRun>{};
  if (rc != SQLITE_ROW) return fail(rc, "reading the statistics runs");
  return std::optional<StatisticsRun>{
      StatisticsRun{query.text(0), start_ms, static_cast<std::uint64_t>(query.integer(1))}};
}

}  // namespace sqlite

}  // namespace fpx::broker
