// Messages and their deliveries, receipt groups and the audit table, as in
// broker/store/messages.cpp, receipt_groups.cpp and audit.cpp.
#include <algorithm>
#include <cstring>

#include "fpx/crypto.hpp"
#include "postgres_statements.hpp"

namespace fpx::broker::pg {

namespace {

constexpr std::string_view kAccepted = "accepted";

std::int64_t limit_to_sql(std::size_t limit) {
  constexpr auto kMax = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  return static_cast<std::int64_t>(limit > kMax ? kMax : limit);
}

Sha256Digest digest_from(const Bytes& bytes) {
  Sha256Digest digest{};
  if (bytes.size() == digest.size()) std::copy(bytes.begin(), bytes.end(), digest.begin());
  return digest;
}

std::optional<DeliveryState> parse_delivery_state(std::string_view name) {
  for (auto state : {DeliveryState::stored, DeliveryState::delivered, DeliveryState::confirmed,
                     DeliveryState::dead_letter}) {
    if (delivery_state_name(state) == name) return state;
  }
  return std::nullopt;
}

std::string_view outcome_name(ErrorCode code) { return code == ErrorCode::none ? kAccepted : error_code_name(code); }

// An unknown name (a newer build's) reads back as `internal`, as in SQLite.
ErrorCode parse_outcome(std::string_view name) {
  if (name == kAccepted) return ErrorCode::none;
  for (auto ordinal = static_cast<std::uint16_t>(ErrorCode::none);
       ordinal <= static_cast<std::uint16_t>(kLastErrorCode); ++ordinal) {
    const auto code = static_cast<ErrorCode>(ordinal);
    if (error_code_name(code) == name) return code;
  }
  return ErrorCode::internal;
}

}  // namespace

Result<std::optional<StoredMessage>> PostgresStore::find_message(const MessageId& id) {
  auto rows = run(sql::kFindMessage, Params().add(ByteView(id.bytes)), "reading a message");
  if (!rows) return std::move(rows).take_error();
  if (rows->size() == 0) return std::optional<StoredMessage>{};
  StoredMessage message;
  message.seq = rows->integer(0, 0);
  message.id = id;
  message.signed_sha256 = digest_from(rows->blob(0, 1));
  message.sender = ParticipantId(rows->text(0, 2));
  message.sender_country = CountryCode(rows->text(0, 3));
  message.type = rows->text(0, 4);
  message.created_at_ms = rows->integer(0, 5);
  message.stored_at_ms = rows->integer(0, 6);
  message.log_index = static_cast<std::uint64_t>(rows->integer(0, 7));
  return std::optional<StoredMessage>{std::move(message)};
}

Result<InsertedMessage> PostgresStore::insert_message(const NewMessage& message, std::int64_t stored_at_ms) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  return insert_message_rows(message, stored_at_ms);
}

// One message is all-or-nothing inside a group commit, and costs one round
// trip: its rows are one statement (kInsertMessage). In PostgreSQL a failed
// statement aborts the whole transaction unless a savepoint catches it: the
// broker's per-message savepoint does; outside one, the store sends its own
// SAVEPOINT and RELEASE around the statement in the same pipeline. A
// message id already stored is no failure to the server (ON CONFLICT DO
// NOTHING writes nothing), so it never needs the savepoint.
Result<InsertedMessage> PostgresStore::insert_message_rows(const NewMessage& message, std::int64_t stored_at_ms) {
  // Checked before any write, so that a refusal leaves nothing to undo.
  for (std::size_t i = 0; i < message.recipients.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (message.recipients[i] == message.recipients[j]) {
        return make_error(ErrorCode::invalid_argument, "recipient " + message.recipients[i].str() +
                                                           " is listed twice for message " + message.id.hex());
      }
    }
  }
  auto edge = log_edge();
  if (!edge) return std::move(edge).take_error();
  const auto hash = leaf_hash(message.log_leaf_data);
  const LeafAppend append = plan_leaf(*edge, hash);

  std::vector<std::string> recipients;
  recipients.reserve(message.recipients.size());
  for (const auto& recipient : message.recipients) recipients.push_back(recipient.str());
  std::vector<ByteView> node_hashes;
  node_hashes.reserve(append.node_hashes.size());
  for (const auto& node : append.node_hashes) node_hashes.emplace_back(node);
  // One log_facts row per tracing request the leaf states facts about.
  std::vector<ByteView> tracings;
  for (const auto& part : message.log_parts) {
    if (!part.tracing_request) continue;
    const ByteView id(part.tracing_request->bytes);
    const bool seen = std::any_of(tracings.begin(), tracings.end(), [&](ByteView other) {
      return std::equal(other.begin(), other.end(), id.begin(), id.end());
    });
    if (!seen) tracings.push_back(id);
  }
  const Bytes parts = message.log_parts.empty() ? Bytes{} : sqlite::encode_commitment_parts(message.log_parts);

  Params params;
  params.add(ByteView(message.id.bytes))
      .add(ByteView(message.signed_sha256))
      .add(ByteView(message.envelope))
      .add_text(message.sender.str())
      .add_text(message.sender_country.str())
      .add_text(message.type)
      .add(message.created_at_ms)
      .add(stored_at_ms);
  if (message.in_reply_to) {
    params.add(ByteView(message.in_reply_to->bytes));
  } else {
    params.add_null();
  }
  params.add(message.hold_until_ms).add(append.index).add_text_array(recipients);
  params.add(ByteView(message.log_leaf_data)).add(ByteView(hash));
  if (parts.empty()) {
    params.add_null();
  } else {
    params.add(ByteView(parts));
  }
  params.add_array(std::span<const std::int64_t>(append.node_levels))
      .add_array(std::span<const std::int64_t>(append.node_indexes))
      .add_array(std::span<const ByteView>(node_hashes))
      .add_array(std::span<const ByteView>(tracings));

  // The statement's generic plan: left to choose, the server plans it
  // afresh for every message (about 0.4 ms, twice its execution, measured
  // with EXPLAIN ANALYZE), while its plan never depends on the values. Set
  // for this statement alone; a failure's rollback undoes the SET too.
  const PipelineStep generic{nullptr, nullptr, "SET plan_cache_mode = force_generic_plan", "choosing a plan"};
  const PipelineStep insert{&sql::kInsertMessage, &params, nullptr, "storing a message"};
  const PipelineStep reset{nullptr, nullptr, "RESET plan_cache_mode", "choosing a plan"};
  const bool own_savepoint = !unit_savepoint_open_;
  std::vector<PipelineStep> steps;
  if (own_savepoint) steps.push_back({nullptr, nullptr, "SAVEPOINT insert_message", "starting a message savepoint"});
  steps.insert(steps.end(), {generic, insert, reset});
  if (own_savepoint) steps.push_back({nullptr, nullptr, "RELEASE insert_message", "releasing a message savepoint"});
  auto results = run_pipelined(steps);
  if (!results) {
    forget_log_edge();
    // The steps after the failure were skipped: undo the message's own
    // savepoint when it was opened, so the batch goes on without it.
    if (own_savepoint && PQtransactionStatus(conn_.get()) == PQTRANS_INERROR) {
      (void)exec("ROLLBACK TO insert_message; RELEASE insert_message", "undoing a message");
    }
    return std::move(results).take_error();
  }
  const Rows& written = (*results)[own_savepoint ? 2 : 1];
  if (written.is_null(0, 0)) {
    const auto found_size = static_cast<std::uint64_t>(written.integer(0, 1));
    if (found_size != append.index) {
      forget_log_edge();
      return make_error(ErrorCode::internal, "storing message " + message.id.hex() + " on " + where_ +
                                                 ": the store expected the log to hold " +
                                                 std::to_string(append.index) + " leaves and it holds " +
                                                 std::to_string(found_size) +
                                                 "; nothing was written. Report this bug with the broker's log");
    }
    return make_error(ErrorCode::id_reused, "message id " + message.id.hex() + " is already stored");
  }
  remember_log_edge(append.after);
  return InsertedMessage{written.integer(0, 0), append.index};
}

Status PostgresStore::insert_receipt_group(const ReceiptGroupRow& group, std::span<const ReceiptMember> members) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  Bytes leaf_hashes;
  leaf_hashes.reserve(group.leaves.size() * sizeof(Sha256Digest));
  for (const auto& leaf : group.leaves) leaf_hashes.insert(leaf_hashes.end(), leaf.begin(), leaf.end());
  std::vector<std::int64_t> seqs;
  std::vector<std::int64_t> positions;
  for (const auto& member : members) {
    seqs.push_back(member.message_seq);
    positions.push_back(static_cast<std::int64_t>(member.leaf_index));
  }
  Params params;
  params.add(ByteView(group.head)).add(ByteView(group.head_signature)).add(ByteView(leaf_hashes));
  params.add_array(std::span<const std::int64_t>(seqs)).add_array(std::span<const std::int64_t>(positions));
  auto inserted = run(sql::kInsertReceiptGroup, params, "storing a receipt group and its members");
  if (!inserted) return std::move(inserted).take_error();
  return {};
}

Result<std::optional<StoredReceiptGroup>> PostgresStore::receipt_group_of(std::int64_t message_seq) {
  auto rows = run(sql::kReceiptGroupOf, Params().add(message_seq), "reading a message's receipt group");
  if (!rows) return std::move(rows).take_error();
  if (rows->size() == 0) return std::optional<StoredReceiptGroup>{};
  StoredReceiptGroup stored;
  stored.group.head = rows->blob(0, 0);
  stored.group.head_signature = rows->blob(0, 1);
  const Bytes hashes = rows->blob(0, 2);
  if (hashes.empty() || hashes.size() % sizeof(Sha256Digest) != 0 || rows->integer(0, 3) < 0) {
    return damaged("receipt group");
  }
  stored.group.leaves.resize(hashes.size() / sizeof(Sha256Digest));
  std::memcpy(stored.group.leaves.data(), hashes.data(), hashes.size());
  stored.leaf_index = static_cast<std::uint64_t>(rows->integer(0, 3));
  if (stored.leaf_index >= stored.group.leaves.size()) return damaged("receipt group member");
  return std::optional<StoredReceiptGroup>{std::move(stored)};
}

Status PostgresStore::append_audit(const AuditEntry& entry) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  Params params;
  params.add(entry.at_ms).add_text(entry.principal);
  if (entry.message_id) {
    params.add(ByteView(entry.message_id->bytes));
  } else {
    params.add_null();
  }
  params.add_text(entry.stage).add_text(outcome_name(entry.outcome)).add_text(entry.detail);
  auto row = run(sql::kAppendAudit, params, "appending an audit row");
  if (!row) return std::move(row).take_error();
  return {};
}

Result<std::vector<AuditRow>> PostgresStore::audit_rows(std::int64_t after_id, std::size_t limit) {
  auto rows = run(sql::kAuditRows, Params().add(after_id).add(limit_to_sql(limit)), "reading audit rows");
  if (!rows) return std::move(rows).take_error();
  std::vector<AuditRow> out;
  for (int i = 0; i < rows->size(); ++i) {
    AuditRow row;
    row.id = rows->integer(i, 0);
    row.at_ms = rows->integer(i, 1);
    row.principal = rows->text(i, 2);
    if (!rows->is_null(i, 3)) {
      row.message_id = MessageId::from_bytes(rows->blob(i, 3));
      if (!row.message_id) return damaged("a message id in audit");
    }
    row.stage = rows->text(i, 4);
    row.outcome = parse_outcome(rows->text(i, 5));
    row.detail = rows->text(i, 6);
    out.push_back(std::move(row));
  }
  return out;
}

Result<std::vector<PendingDelivery>> PostgresStore::pending_deliveries(const ParticipantId& recipient,
                                                                       std::uint64_t after, std::size_t limit) {
  auto rows = run(sql::kPendingDeliveries, Params().add_text(recipient.str()).add(after).add(limit_to_sql(limit)),
                  "reading pending deliveries");
  if (!rows) return std::move(rows).take_error();
  return delivery_rows(*rows);
}

Result<std::vector<PendingDelivery>> PostgresStore::confirmed_deliveries(const ParticipantId& recipient,
                                                                         std::uint64_t after, std::int64_t now_ms,
                                                                         std::size_t limit) {
  auto rows = run(sql::kConfirmedDeliveries,
                  Params().add_text(recipient.str()).add(after).add(now_ms).add(limit_to_sql(limit)),
                  "reading confirmed deliveries");
  if (!rows) return std::move(rows).take_error();
  return delivery_rows(*rows);
}

Result<std::vector<PendingDelivery>> PostgresStore::delivery_rows(const Rows& rows) {
  std::vector<PendingDelivery> out;
  for (int i = 0; i < rows.size(); ++i) {
    PendingDelivery row;
    row.delivery_id = static_cast<std::uint64_t>(rows.integer(i, 0));
    auto id = MessageId::from_bytes(rows.blob(i, 1));
    if (!id) return damaged("a message id in deliveries");
    row.message_id = *id;
    row.envelope = rows.blob(i, 2);
    row.attempts = static_cast<int>(rows.integer(i, 3));
    out.push_back(std::move(row));
  }
  return out;
}

Status PostgresStore::mark_delivered(std::uint64_t delivery_id, std::int64_t at_ms) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  // Zero rows changed is fine: the delivery was confirmed or expired meanwhile.
  auto row = run(sql::kMarkDelivered, Params().add(at_ms).add(delivery_id), "marking a delivery delivered");
  if (!row) return std::move(row).take_error();
  return {};
}

Result<int> PostgresStore::confirm_deliveries(const ParticipantId& recipient,
                                              std::span<const std::uint64_t> delivery_ids, std::int64_t at_ms) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  if (delivery_ids.empty()) return 0;
  std::vector<std::int64_t> ids(delivery_ids.begin(), delivery_ids.end());
  auto row = run(sql::kConfirmDeliveries,
                 Params().add(at_ms).add_array(std::span<const std::int64_t>(ids)).add_text(recipient.str()),
                 "confirming deliveries");
  if (!row) return std::move(row).take_error();
  return static_cast<int>(row->changed());
}

Result<std::vector<DeadLetter>> PostgresStore::expire_deliveries(std::int64_t now_ms, const std::string& reason) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  auto rows = run(sql::kOverdueDeliveries, Params().add(now_ms), "finding overdue deliveries");
  if (!rows) return std::move(rows).take_error();
  std::vector<DeadLetter> expired;
  for (int i = 0; i < rows->size(); ++i) {
    DeadLetter row;
    row.delivery_id = static_cast<std::uint64_t>(rows->integer(i, 0));
    auto id = MessageId::from_bytes(rows->blob(i, 1));
    if (!id) return damaged("a message id in messages");
    row.message_id = *id;
    row.sender = ParticipantId(rows->text(i, 2));
    row.recipient = ParticipantId(rows->text(i, 3));
    expired.push_back(std::move(row));
  }
  for (const auto& row : expired) {
    auto done = run(sql::kDeadLetter, Params().add(now_ms).add_text(reason).add(row.delivery_id),
                    "dead-lettering a delivery");
    if (!done) return std::move(done).take_error();
  }
  return expired;
}

Result<std::vector<DeliveryStatusRow>> PostgresStore::delivery_status(const MessageId& id) {
  auto rows = run(sql::kDeliveryStatus, Params().add(ByteView(id.bytes)), "reading delivery status");
  if (!rows) return std::move(rows).take_error();
  std::vector<DeliveryStatusRow> out;
  for (int i = 0; i < rows->size(); ++i) {
    DeliveryStatusRow row;
    row.recipient = ParticipantId(rows->text(i, 0));
    auto state = parse_delivery_state(rows->text(i, 1));
    if (!state) return damaged("a delivery state");
    row.state = *state;
    row.updated_at_ms = rows->integer(i, 2);
    row.reason = rows->text(i, 3);
    out.push_back(std::move(row));
  }
  return out;
}

Status PostgresStore::add_deliveries(const MessageId& id, const std::vector<ParticipantId>& recipients,
                                     std::int64_t at_ms) {
  if (auto lost = transaction_lost()) return *std::move(lost);
  for (const auto& recipient : recipients) {
    auto row = run(sql::kAddDelivery, Params().add(ByteView(id.bytes)).add_text(recipient.str()).add(at_ms),
                   "adding a delivery");
    if (!row) return std::move(row).take_error();
  }
  return {};
}

Result<std::optional<Bytes>> PostgresStore::message_envelope(const MessageId& id) {
  auto rows = run(sql::kMessageEnvelope, Params().add(ByteView(id.bytes)), "reading an envelope");
  if (!rows) return std::move(rows).take_error();
  if (rows->size() == 0) return std::optional<Bytes>{};
  return std::optional<Bytes>{rows->blob(0, 0)};
}

Result<std::uint64_t> PostgresStore::bytes_stored_since(const ParticipantId& sender, std::int64_t since_ms) {
  auto rows = run(sql::kBytesStoredSince, Params().add_text(sender.str()).add(since_ms),
                  "reading a participant's stored bytes of the day");
  if (!rows) return std::move(rows).take_error();
  return static_cast<std::uint64_t>(rows->integer(0, 0));
}

}  // namespace fpx::broker::pg
