// The tracing lifecycle rows and the stolen/lost watch lists.
#include "sqlite_store.hpp"

namespace fpx::broker {

namespace sqlite {

Status SqliteStore::insert_lifecycle(const LifecycleRow& row) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  Query query(insert_lifecycle_.get());
  query.bind(1, ByteView(row.request_id.bytes))
      .bind(2, std::string_view(row.requested_country.str()))
      .bind(3, std::string_view(row.requester.str()))
      .bind(4, std::string_view(row.requester_country.str()))
      .bind(5, std::string_view(row.priority))
      .bind(6, std::string_view(row.state))
      .bind(7, row.submitted_at_ms)
      .bind(8, row.ack_due_ms)
      .bind(9, row.response_due_ms)
      .bind(10, row.updated_at_ms);
  const int rc = query.step();
  if ((rc & 0xff) == SQLITE_CONSTRAINT) return {};  // already tracked (a forward to a state already asked)
  return done(rc, "storing a lifecycle row");
}

Status SqliteStore::update_lifecycle(const LifecycleRow& row) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  Query query(update_lifecycle_.get());
  query.bind(1, std::string_view(row.state))
      .bind(2, row.delivered_at_ms)
      .bind(3, row.acknowledged_at_ms)
      .bind(4, row.answered_at_ms)
      .bind(5, row.closed_at_ms)
      .bind(6, static_cast<std::int64_t>(row.ack_reminded))
      .bind(7, static_cast<std::int64_t>(row.response_reminded))
      .bind(8, std::string_view(row.outcome))
      .bind(9, std::string_view(row.refusal_grounds))
      .bind(10, row.updated_at_ms)
      .bind(11, ByteView(row.request_id.bytes))
      .bind(12, std::string_view(row.requested_country.str()))
      .bind(13, std::string_view(row.acknowledged_by))
      .bind(14, std::string_view(row.answered_by));
  return done(query.step(), "updating a lifecycle row");
}

Result<std::vector<LifecycleRow>> SqliteStore::lifecycle_of(const MessageId& request_id) {
  Query query(lifecycle_of_.get());
  query.bind(1, ByteView(request_id.bytes));
  return read_lifecycle(query);
}

Status SqliteStore::mark_lifecycle_delivered(std::uint64_t delivery_id, const ParticipantId& recipient,
                                const CountryCode& recipient_country, std::int64_t at_ms) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  Query query(mark_lifecycle_delivered_.get());
  query.bind(1, at_ms)
      .bind(2, std::string_view(recipient_country.str()))
      .bind(3, to_sql(delivery_id))
      .bind(4, std::string_view(recipient.str()));
  return done(query.step(), "dating a delivery in the lifecycle");
}

Result<std::vector<LifecycleRow>> SqliteStore::lifecycle_due(std::int64_t now_ms) {
  Query query(lifecycle_due_.get());
  query.bind(1, now_ms);
  return read_lifecycle(query);
}

Result<std::vector<LifecycleRow>> SqliteStore::read_lifecycle(Query& query) {
  std::vector<LifecycleRow> rows;
  for (;;) {
    const int rc = query.step();
    if (rc == SQLITE_DONE) return rows;
    if (rc != SQLITE_ROW) return fail(rc, "reading lifecycle rows");
    LifecycleRow row;
    auto id = message_id_from(query.blob(0));
    if (!id) return damaged("request id");
    row.request_id = *id;
    row.requested_country = CountryCode(query.text(1));
    row.requester = ParticipantId(query.text(2));
    row.requester_country = CountryCode(query.text(3));
    row.priority = query.text(4);
    row.state = query.text(5);
    row.submitted_at_ms = query.integer(6);
    row.delivered_at_ms = query.integer(7);
    row.acknowledged_at_ms = query.integer(8);
    row.answered_at_ms = query.integer(9);
    row.closed_at_ms = query.integer(10);
    row.ack_due_ms = query.integer(11);
    row.response_due_ms = query.integer(12);
    row.ack_reminded = query.integer(13) != 0;
    row.response_reminded = query.integer(14) != 0;
    row.outcome = query.text(15);
    row.refusal_grounds = query.text(16);
    row.updated_at_ms = query.integer(17);
    row.acknowledged_by = query.text(18);
    row.answered_by = query.text(19);
    rows.push_back(std::move(row));
  }
}

Status SqliteStore::watch_serials(const MessageId& alert_id, const CountryCode& alert_country,
                     const std::vector<CountryCode>& reached_countries, const std::vector<std::string>& serials,
                     std::int64_t valid_until_ms) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  std::string reached = ",";
  for (const auto& country : reached_countries) reached.append(country.str()).append(",");
  for (const auto& serial : serials) {
    Query query(watch_serial_.get());
    query.bind(1, std::string_view(serial))
        .bind(2, ByteView(alert_id.bytes))
        .bind(3, std::string_view(alert_country.str()))
        .bind(4, valid_until_ms)
        .bind(5, std::string_view(reached));
    if (auto status = done(query.step(), "registering a watched serial"); !status) return status;
  }
  return {};
}

Status SqliteStore::watch_serial_ranges(const MessageId& alert_id, const CountryCode& alert_country,
                                        const std::vector<CountryCode>& reached_countries,
                                        const std::vector<SerialSpan>& ranges, std::int64_t valid_until_ms) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  std::string reached = ",";
  for (const auto& country : reached_countries) reached.append(country.str()).append(",");
  for (const auto& range : ranges) {
    Query query(watch_serial_range_.get());
    query.bind(1, std::string_view(range.key))
        .bind(2, ByteView(alert_id.bytes))
        .bind(3, std::string_view(alert_country.str()))
        .bind(4, valid_until_ms)
        .bind(5, std::string_view(reached))
        .bind(6, static_cast<std::int64_t>(range.low))
        .bind(7, static_cast<std::int64_t>(range.high));
    if (auto status = done(query.step(), "registering a watched serial range"); !status) return status;
  }
  return {};
}

Status SqliteStore::unwatch_serials(const MessageId& alert_id, const CountryCode& alert_country) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  Query query(unwatch_serials_.get());
  query.bind(1, ByteView(alert_id.bytes)).bind(2, std::string_view(alert_country.str()));
  return done(query.step(), "withdrawing watched serials");
}

Result<std::vector<WatchedSerialHit>> SqliteStore::match_serial(const std::string& serial, const CountryCode& requester_country,
                                                   std::int64_t now_ms) {
  Query query(match_serial_.get());
  std::string country = ",";
  country.append(requester_country.str()).append(",");
  // A serial with no trailing digits is in no range: its key '#' matches no row.
  const auto place = serial_place_of(serial);
  const std::string key = place ? place->key : std::string("#");
  query.bind(1, std::string_view(serial))
      .bind(2, now_ms)
      .bind(3, std::string_view(country))
      .bind(4, std::string_view(key))
      .bind(5, static_cast<std::int64_t>(place ? place->number : 0));
  std::vector<WatchedSerialHit> hits;
  for (;;) {
    const int rc = query.step();
    if (rc == SQLITE_DONE) return hits;
    if (rc != SQLITE_ROW) return fail(rc, "matching a serial");
    auto id = message_id_from(query.blob(0));
    if (!id) return damaged("alert id");
    hits.push_back({*id, CountryCode(query.text(1)), serial});
  }
}

Result<std::uint64_t> SqliteStore::watched_serials_added_since(const ParticipantId& sender, std::int64_t since_ms) {
  Query query(watched_serials_added_since_.get());
  query.bind(1, std::string_view(sender.str())).bind(2, since_ms);
  const int rc = query.step();
  if (rc != SQLITE_ROW) return fail(rc, "reading the serials a participant put on watch");
  return static_cast<std::uint64_t>(query.integer(0));
}

Result<std::uint64_t> SqliteStore::active_watched_serials(const CountryCode& alert_country, std::int64_t now_ms) {
  Query query(active_watched_serials_.get());
  query.bind(1, std::string_view(alert_country.str())).bind(2, now_ms);
  const int rc = query.step();
  if (rc != SQLITE_ROW) return fail(rc, "counting a state's watched serials");
  return static_cast<std::uint64_t>(query.integer(0));
}

}  // namespace sqlite

}  // namespace fpx::broker
