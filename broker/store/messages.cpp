// Messages and their deliveries: insert, find, the delivery queue, expiry,
// status, forwards' added recipients, and the daily quota's read.
#include "sqlite_store.hpp"

namespace fpx::broker {

std::string_view delivery_state_name(DeliveryState state) {
  switch (state) {
    case DeliveryState::stored: return "stored";
    case DeliveryState::delivered: return "delivered";
    case DeliveryState::confirmed: return "confirmed";
    case DeliveryState::dead_letter: return "dead_letter";
  }
  return "stored";
}

namespace sqlite {

std::optional<DeliveryState> parse_delivery_state(std::string_view name) {
  for (auto state : {DeliveryState::stored, DeliveryState::delivered, DeliveryState::confirmed,
                     DeliveryState::dead_letter}) {
    if (delivery_state_name(state) == name) return state;
  }
  return std::nullopt;
}

Result<std::optional<StoredMessage>> SqliteStore::find_message(const MessageId& id) {
  Query query(find_message_.get());
  query.bind(1, ByteView(id.bytes));
  const int rc = query.step();
  if (rc == SQLITE_DONE) return std::optional<StoredMessage>{};
  if (rc != SQLITE_ROW) return fail(rc, "reading a message");
  StoredMessage message;
  message.seq = query.integer(0);
  message.id = id;
  message.signed_sha256 = digest_from(query.blob(1));
  message.sender = ParticipantId(query.text(2));
  message.sender_country = CountryCode(query.text(3));
  message.type = query.text(4);
  message.created_at_ms = query.integer(5);
  message.stored_at_ms = query.integer(6);
  message.log_index = static_cast<std::uint64_t>(query.integer(7));
  return std::optional<StoredMessage>{std::move(message)};
}

Result<InsertedMessage> SqliteStore::insert_message(const NewMessage& message, std::int64_t stored_at_ms) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  // One message is all-or-nothing inside a group commit: a duplicate id (or
  // any failure) in message 7 of a batch undoes only message 7's rows and
  // leaves the batch's other messages committable. The broker already holds
  // a savepoint per message (open_savepoint) and undoes it on failure; a
  // second one nested inside it would only cost two more statements and a
  // statement journal, so the store opens its own only when called outside.
  if (unit_savepoint_open_) return insert_message_rows(message, stored_at_ms);
  {
    Query savepoint(savepoint_.get());
    if (auto status = done(savepoint.step(), "starting a message savepoint"); !status) return std::move(status).take_error();
  }
  auto inserted = insert_message_rows(message, stored_at_ms);
  if (!inserted) {
    Query undo(rollback_to_savepoint_.get());
    (void)undo.step();
  }
  Query release(release_savepoint_.get());
  if (auto status = done(release.step(), "releasing a message savepoint"); !status && inserted) {
    return std::move(status).take_error();
  }
  return inserted;
}

Result<InsertedMessage> SqliteStore::insert_message_rows(const NewMessage& message, std::int64_t stored_at_ms) {
  // Checked before any write, so that a refusal leaves nothing to undo.
  for (std::size_t i = 0; i < message.recipients.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (message.recipients[i] == message.recipients[j]) {
        return make_error(ErrorCode::invalid_argument, "recipient " + message.recipients[i].str() +
                                                           " is listed twice for message " + message.id.hex());
      }
    }
  }

  // One statement: the row, its leaf index (the log's next) and its seq back.
  std::int64_t seq = 0;
  std::uint64_t log_index = 0;
  {
    Query query(insert_message_.get());
    query.bind(1, ByteView(message.id.bytes))
        .bind(2, ByteView(message.signed_sha256))
        .bind(3, ByteView(message.envelope))
        .bind(4, std::string_view(message.sender.str()))
        .bind(5, std::string_view(message.sender_country.str()))
        .bind(6, std::string_view(message.type))
        .bind(7, message.created_at_ms)
        .bind(8, stored_at_ms);
    if (message.in_reply_to) {
      query.bind(9, ByteView(message.in_reply_to->bytes));
    } else {
      query.bind_null(9);
    }
    query.bind(10, message.hold_until_ms);
    if (message.officer.empty()) {
      query.bind_null(11);
    } else {
      query.bind(11, std::string_view(message.officer));
    }
    // Set only on a submission: its row is its acceptance's audit record
    // (schema 11); a broker notice has its own audit row.
    if (message.origin == MessageOrigin::submission) {
      query.bind(12, static_cast<std::int64_t>(message.recipients.size()));
    } else {
      query.bind_null(12);
    }
    const int rc = query.step();
    if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
      return make_error(ErrorCode::id_reused, "message id " + message.id.hex() + " is already stored");
    }
    if (rc != SQLITE_ROW) return fail(rc, "storing a message");
    seq = query.integer(0);
    log_index = static_cast<std::uint64_t>(query.integer(1));
  }

  for (const auto& recipient : message.recipients) {
    Query query(insert_delivery_.get());
    query.bind(1, seq).bind(2, std::string_view(recipient.str())).bind(3, stored_at_ms);
    if (auto status = done(query.step(), "storing a delivery"); !status) return std::move(status).take_error();
  }

  {
    const auto hash = leaf_hash(message.log_leaf_data);
    // The sealed parts as one value beside the leaf (schema 6), not a row each.
    const Bytes parts = message.log_parts.empty() ? Bytes{} : encode_commitment_parts(message.log_parts);
    Query query(insert_leaf_.get());
    query.bind(1, to_sql(log_index))
        .bind(2, ByteView(message.log_leaf_data))
        .bind(3, ByteView(hash))
        .bind(4, seq)
        .bind(5, stored_at_ms);
    if (parts.empty()) {
      query.bind_null(6);
    } else {
      query.bind(6, ByteView(parts));
    }
    if (auto status = done(query.step(), "appending a log leaf"); !status) return std::move(status).take_error();
    if (auto status = append_log_nodes(log_index, hash); !status) return std::move(status).take_error();
  }
  // The reveal finds a tracing's facts through log_facts: one row per
  // tracing request the leaf states facts about (usually one), not per part.
  std::vector<const MessageId*> tracings;
  for (const auto& part : message.log_parts) {
    if (!part.tracing_request) continue;
    const bool seen = std::any_of(tracings.begin(), tracings.end(),
                                  [&](const MessageId* id) { return id->bytes == part.tracing_request->bytes; });
    if (!seen) tracings.push_back(&*part.tracing_request);
  }
  for (const MessageId* tracing : tracings) {
    Query query(insert_leaf_fact_.get());
    query.bind(1, ByteView(tracing->bytes)).bind(2, to_sql(log_index));
    if (auto status = done(query.step(), "indexing a leaf's facts"); !status) return std::move(status).take_error();
  }
  return InsertedMessage{seq, log_index};
}

Result<std::vector<PendingDelivery>> SqliteStore::pending_deliveries(const ParticipantId& recipient, std::uint64_t after,
                                                        std::size_t limit) {
  Query query(pending_deliveries_.get());
  query.bind(1, std::string_view(recipient.str())).bind(2, to_sql(after)).bind(3, limit_to_sql(limit));
  return delivery_rows(query, "reading pending deliveries");
}

Result<std::vector<PendingDelivery>> SqliteStore::confirmed_deliveries(const ParticipantId& recipient, std::uint64_t after,
                                                          std::int64_t now_ms, std::size_t limit) {
  Query query(confirmed_deliveries_.get());
  query.bind(1, std::string_view(recipient.str()))
      .bind(2, to_sql(after))
      .bind(3, now_ms)
      .bind(4, limit_to_sql(limit));
  return delivery_rows(query, "reading confirmed deliveries");
}

// Rows of (delivery id, message id, envelope, attempts), as both delivery queries select them.
Result<std::vector<PendingDelivery>> SqliteStore::delivery_rows(Query& query, const char* what) {
  std::vector<PendingDelivery> rows;
  for (;;) {
    const int rc = query.step();
    if (rc == SQLITE_DONE) return rows;
    if (rc != SQLITE_ROW) return fail(rc, what);
    PendingDelivery row;
    row.delivery_id = static_cast<std::uint64_t>(query.integer(0));
    auto id = message_id_from(query.blob(1));
    if (!id) return damaged("a message id in deliveries");
    row.message_id = *id;
    row.envelope = query.blob(2);
    row.attempts = static_cast<int>(query.integer(3));
    rows.push_back(std::move(row));
  }
}

Status SqliteStore::mark_delivered(std::uint64_t delivery_id, std::int64_t at_ms) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  Query query(mark_delivered_.get());
  query.bind(1, at_ms).bind(2, to_sql(delivery_id));
  // Zero rows changed is fine: the delivery was confirmed or expired meanwhile.
  return done(query.step(), "marking a delivery delivered");
}

Result<int> SqliteStore::confirm_deliveries(const ParticipantId& recipient, std::span<const std::uint64_t> delivery_ids,
                               std::int64_t at_ms) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  int changed = 0;
  for (const auto delivery_id : delivery_ids) {
    Query query(confirm_delivery_.get());
    query.bind(1, at_ms).bind(2, to_sql(delivery_id)).bind(3, std::string_view(recipient.str()));
    if (auto status = done(query.step(), "confirming a delivery"); !status) return std::move(status).take_error();
    changed += sqlite3_changes(db_.get());
  }
  return changed;
}

Result<std::vector<DeadLetter>> SqliteStore::expire_deliveries(std::int64_t now_ms, const std::string& reason) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  std::vector<DeadLetter> expired;
  {
    Query query(overdue_deliveries_.get());
    query.bind(1, now_ms);
    for (;;) {
      const int rc = query.step();
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return fail(rc, "finding overdue deliveries");
      DeadLetter row;
      row.delivery_id = static_cast<std::uint64_t>(query.integer(0));
      auto id = message_id_from(query.blob(1));
      if (!id) return damaged("a message id in messages");
      row.message_id = *id;
      row.sender = ParticipantId(query.text(2));
      row.recipient = ParticipantId(query.text(3));
      expired.push_back(std::move(row));
    }
  }
  for (const auto& row : expired) {
    Query query(dead_letter_.get());
    query.bind(1, now_ms).bind(2, std::string_view(reason)).bind(3, to_sql(row.delivery_id));
    if (auto status = done(query.step(), "dead-lettering a delivery"); !status) return std::move(status).take_error();
  }
  return expired;
}

Result<std::vector<DeliveryStatusRow>> SqliteStore::delivery_status(const MessageId& id) {
  Query query(delivery_status_.get());
  query.bind(1, ByteView(id.bytes));
  std::vector<DeliveryStatusRow> rows;
  for (;;) {
    const int rc = query.step();
    if (rc == SQLITE_DONE) return rows;
    if (rc != SQLITE_ROW) return fail(rc, "reading delivery status");
    DeliveryStatusRow row;
    row.recipient = ParticipantId(query.text(0));
    auto state = parse_delivery_state(query.text(1));
    if (!state) return damaged("a delivery state");
    row.state = *state;
    row.updated_at_ms = query.integer(2);
    row.reason = query.text(3);
    rows.push_back(std::move(row));
  }
}

Status SqliteStore::add_deliveries(const MessageId& id, const std::vector<ParticipantId>& recipients,
                      std::int64_t at_ms) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  for (const auto& recipient : recipients) {
    Query query(add_delivery_.get());
    query.bind(1, ByteView(id.bytes)).bind(2, std::string_view(recipient.str())).bind(3, at_ms);
    if (auto status = done(query.step(), "adding a delivery"); !status) return status;
  }
  return {};
}

Result<std::optional<Bytes>> SqliteStore::message_envelope(const MessageId& id) {
  Query query(message_envelope_.get());
  query.bind(1, ByteView(id.bytes));
  const int rc = query.step();
  if (rc == SQLITE_DONE) return std::optional<Bytes>{};
  if (rc != SQLITE_ROW) return fail(rc, "reading an envelope");
  // Emptied by retention (retention.cpp): no signed header left to read.
  if (sqlite3_column_bytes(message_envelope_.get(), 0) == 0) {
    return make_error(ErrorCode::not_found, "message " + id.hex() +
                                                " is past its retention: its body was purged (its hash and log leaf "
                                                "remain); refer to it no more, or send a new message");
  }
  return std::optional<Bytes>{query.blob(0)};
}

Result<std::uint64_t> SqliteStore::bytes_stored_since(const ParticipantId& sender, std::int64_t since_ms) {
  // Once per participant and UTC day (DailyQuota keeps the count in
  // memory): a range read of messages_by_sender (schema 6), not a scan.
  Query query(bytes_stored_since_.get());
  query.bind(1, std::string_view(sender.str())).bind(2, since_ms);
  const int rc = query.step();
  if (rc != SQLITE_ROW) return fail(rc, "reading a participant's stored bytes of the day");
  return static_cast<std::uint64_t>(query.integer(0));
}

}  // namespace sqlite

}  // namespace fpx::broker
