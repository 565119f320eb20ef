// The SQL of every prepared statement of the PostgreSQL store, the same
// queries as broker/store/statements.cpp in PostgreSQL's dialect. Every
// untrusted value is a bound, typed parameter ($n::type); none is ever
// spliced into the text.
#pragma once

#include "postgres_store.hpp"

namespace fpx::broker::pg::sql {

// The columns read_lifecycle() expects, in its order.
#define FPX_PG_LIFECYCLE_COLUMNS                                                                           \
  "m.message_id, l.requested_country, l.requester, l.requester_country, l.priority, l.state, "            \
  "l.submitted_at_ms, l.delivered_at_ms, l.acknowledged_at_ms, l.answered_at_ms, l.closed_at_ms, "        \
  "l.ack_due_ms, l.response_due_ms, l.ack_reminded, l.response_reminded, l.outcome, l.refusal_grounds, " \
  "l.updated_at_ms, l.acknowledged_by, l.answered_by"

inline constexpr Statement kFindMessage{
    "find_message",
    "SELECT seq, signed_sha256, sender, sender_country, type, created_at_ms, stored_at_ms, log_index "
    "FROM messages WHERE message_id = $1::bytea"};
inline constexpr Statement kLogSize{"log_size", "SELECT COALESCE(MAX(leaf_index) + 1, 0) FROM log_leaves"};
// A message with everything it writes, in one statement (one round trip):
// the row (seq: max + 1, messages_keep_newest keeps the max), its
// deliveries (ids max + 1 onwards, above id_floors, in the recipients'
// order), its leaf, the interior nodes the leaf completes (computed by the
// store from the log's edge) and one log_facts row per stored tracing
// request the leaf states facts about (the message itself among them: the
// sub-statements do not see each other's rows, hence the look in m first;
// each id is one index lookup, never a scan of messages).
// Every part selects FROM m, so when m writes nothing, nothing is written:
// a message id already stored (ON CONFLICT DO NOTHING, no error that would
// abort the batch) or a leaf index ($11) that is not the log's size (a
// stale edge: a bug, refused rather than forking the log). The result says
// which: the new seq (NULL when nothing was written) and the log's size as
// the statement found it.
inline constexpr Statement kInsertMessage{
    "insert_message",
    "WITH m AS (INSERT INTO messages (seq, message_id, signed_sha256, envelope, sender, sender_country, type, "
    "created_at_ms, stored_at_ms, in_reply_to, hold_until_ms, log_index) "
    "SELECT (SELECT COALESCE(MAX(seq), 0) + 1 FROM messages), $1::bytea, $2::bytea, $3::bytea, $4::text, $5::text, "
    "$6::text, $7::bigint, $8::bigint, $9::bytea, $10::bigint, $11::bigint "
    "WHERE (SELECT COALESCE(MAX(leaf_index) + 1, 0) FROM log_leaves) = $11::bigint "
    "ON CONFLICT (message_id) DO NOTHING RETURNING seq, message_id), "
    "d AS (INSERT INTO deliveries (delivery_id, message_seq, recipient, state, attempts, updated_at_ms) "
    "SELECT GREATEST((SELECT COALESCE(MAX(delivery_id), 0) FROM deliveries), "
    "(SELECT COALESCE(MAX(last_id), 0) FROM id_floors WHERE name = 'deliveries')) + r.n, m.seq, r.recipient, "
    "'stored', 0, $8::bigint FROM m CROSS JOIN unnest($12::text[]) WITH ORDINALITY AS r(recipient, n)), "
    "l AS (INSERT INTO log_leaves (leaf_index, leaf_data, leaf_hash, message_seq, created_at_ms, parts) "
    "SELECT $11::bigint, $13::bytea, $14::bytea, m.seq, $8::bigint, $15::bytea FROM m), "
    "n AS (INSERT INTO log_nodes (level, idx, hash) SELECT w.level, w.idx, w.hash FROM m "
    "CROSS JOIN unnest($16::bigint[], $17::bigint[], $18::bytea[]) AS w(level, idx, hash)), "
    "f AS (INSERT INTO log_facts (request_seq, leaf_index) SELECT DISTINCT s.seq, $11::bigint FROM m "
    "CROSS JOIN unnest($19::bytea[]) AS t(id) CROSS JOIN LATERAL (SELECT COALESCE("
    "(SELECT own.seq FROM m AS own WHERE own.message_id = t.id), "
    "(SELECT seq FROM messages WHERE message_id = t.id)) AS seq) AS s WHERE s.seq IS NOT NULL "
    "ON CONFLICT DO NOTHING) "
    "SELECT (SELECT seq FROM m), (SELECT COALESCE(MAX(leaf_index) + 1, 0) FROM log_leaves)"};
// A public record's leaf and the nodes it completes, on the same terms:
// nothing is written unless $1 is the log's size. Returns the leaf index
// written (NULL when none) and the log's size as the statement found it.
inline constexpr Statement kInsertRecordLeaf{
    "insert_record_leaf",
    "WITH l AS (INSERT INTO log_leaves (leaf_index, leaf_data, leaf_hash, feed_seq, created_at_ms) "
    "SELECT $1::bigint, $2::bytea, $3::bytea, $4::bigint, $5::bigint "
    "WHERE (SELECT COALESCE(MAX(leaf_index) + 1, 0) FROM log_leaves) = $1::bigint RETURNING leaf_index), "
    "n AS (INSERT INTO log_nodes (level, idx, hash) SELECT w.level, w.idx, w.hash FROM l "
    "CROSS JOIN unnest($6::bigint[], $7::bigint[], $8::bytea[]) AS w(level, idx, hash)) "
    "SELECT (SELECT leaf_index FROM l), (SELECT COALESCE(MAX(leaf_index) + 1, 0) FROM log_leaves)"};
// The log's edge (LogEdge) in one statement: a row (size, -1, NULL) with
// the size, then (size, level, hash) for each set bit `level` of the size:
// the leaf just before it for level 0, log_nodes above.
inline constexpr Statement kLogEdge{
    "log_edge",
    "WITH s AS (SELECT COALESCE(MAX(leaf_index) + 1, 0) AS n FROM log_leaves) "
    "SELECT s.n, -1::bigint, NULL::bytea FROM s "
    "UNION ALL SELECT s.n, 0::bigint, l.leaf_hash FROM s JOIN log_leaves AS l ON l.leaf_index = s.n - 1 "
    "WHERE s.n % 2 = 1 "
    "UNION ALL SELECT s.n, d.level, d.hash FROM s CROSS JOIN generate_series(1, 62) AS g(level) "
    "JOIN log_nodes AS d ON d.level = g.level AND d.idx = (s.n >> g.level) - 1 WHERE ((s.n >> g.level) & 1) = 1"};
inline constexpr Statement kLogLeafHash{"log_leaf_hash",
                                        "SELECT leaf_hash FROM log_leaves WHERE leaf_index = $1::bigint"};
inline constexpr Statement kLogNode{"log_node",
                                    "SELECT hash FROM log_nodes WHERE idx = $1::bigint AND level = $2::bigint"};
// The group and its members (message seqs $4 with their leaf positions $5)
// in one statement.
inline constexpr Statement kInsertReceiptGroup{
    "insert_receipt_group",
    "WITH g AS (INSERT INTO receipt_groups (group_id, head, head_signature, leaf_hashes) VALUES ("
    "(SELECT COALESCE(MAX(group_id), 0) + 1 FROM receipt_groups), $1::bytea, $2::bytea, $3::bytea) "
    "RETURNING group_id), "
    "m AS (INSERT INTO receipt_members (message_seq, group_id, leaf_index) SELECT w.seq, g.group_id, w.leaf FROM g "
    "CROSS JOIN unnest($4::bigint[], $5::bigint[]) AS w(seq, leaf)) "
    "SELECT group_id FROM g"};
inline constexpr Statement kReceiptGroupOf{
    "receipt_group_of",
    "SELECT g.head, g.head_signature, g.leaf_hashes, m.leaf_index "
    "FROM receipt_members AS m JOIN receipt_groups AS g ON g.group_id = m.group_id WHERE m.message_seq = $1::bigint"};
inline constexpr Statement kAppendAudit{
    "append_audit",
    "INSERT INTO audit (id, at_ms, principal, message_id, stage, outcome, detail) VALUES ("
    "GREATEST((SELECT COALESCE(MAX(id), 0) FROM audit), "
    "(SELECT COALESCE(MAX(last_id), 0) FROM id_floors WHERE name = 'audit')) + 1, $1::bigint, $2::text, $3::bytea, "
    "$4::text, $5::text, $6::text)"};
inline constexpr Statement kAuditRows{
    "audit_rows",
    "SELECT id, at_ms, principal, message_id, stage, outcome, detail FROM audit "
    "WHERE id > $1::bigint ORDER BY id LIMIT $2::bigint"};
inline constexpr Statement kPendingDeliveries{
    "pending_deliveries",
    "SELECT d.delivery_id, m.message_id, m.envelope, d.attempts "
    "FROM deliveries AS d JOIN messages AS m ON m.seq = d.message_seq "
    "WHERE d.recipient = $1::text AND d.state IN ('stored', 'delivered') AND d.delivery_id > $2::bigint "
    "ORDER BY d.delivery_id LIMIT $3::bigint"};
// The newest `limit`, returned oldest first.
inline constexpr Statement kConfirmedDeliveries{
    "confirmed_deliveries",
    "SELECT delivery_id, message_id, envelope, attempts FROM ("
    "SELECT d.delivery_id, m.message_id, m.envelope, d.attempts "
    "FROM deliveries AS d JOIN messages AS m ON m.seq = d.message_seq "
    "WHERE d.recipient = $1::text AND d.state = 'confirmed' AND d.delivery_id > $2::bigint "
    "AND m.hold_until_ms >= $3::bigint ORDER BY d.delivery_id DESC LIMIT $4::bigint) AS newest ORDER BY delivery_id"};
inline constexpr Statement kMarkDelivered{
    "mark_delivered",
    "UPDATE deliveries SET state = 'delivered', attempts = attempts + 1, updated_at_ms = $1::bigint "
    "WHERE delivery_id = $2::bigint AND state IN ('stored', 'delivered')"};
// The recipient term is what stops one participant confirming another's
// delivery. All of a confirmation frame's ids ($2) in one statement.
inline constexpr Statement kConfirmDeliveries{
    "confirm_deliveries",
    "UPDATE deliveries SET state = 'confirmed', updated_at_ms = $1::bigint "
    "WHERE delivery_id = ANY($2::bigint[]) AND recipient = $3::text AND state IN ('stored', 'delivered')"};
inline constexpr Statement kOverdueDeliveries{
    "overdue_deliveries",
    "SELECT d.delivery_id, m.message_id, m.sender, d.recipient "
    "FROM deliveries AS d JOIN messages AS m ON m.seq = d.message_seq "
    "WHERE d.state IN ('stored', 'delivered') AND m.hold_until_ms < $1::bigint ORDER BY d.delivery_id"};
inline constexpr Statement kDeadLetter{
    "dead_letter",
    "UPDATE deliveries SET state = 'dead_letter', updated_at_ms = $1::bigint, reason = $2::text "
    "WHERE delivery_id = $3::bigint AND state IN ('stored', 'delivered')"};
inline constexpr Statement kDeliveryStatus{
    "delivery_status",
    "SELECT d.recipient, d.state, d.updated_at_ms, d.reason "
    "FROM deliveries AS d JOIN messages AS m ON m.seq = d.message_seq "
    "WHERE m.message_id = $1::bytea ORDER BY d.delivery_id"};
inline constexpr Statement kAddDelivery{
    "add_delivery",
    "INSERT INTO deliveries (delivery_id, message_seq, recipient, state, attempts, updated_at_ms) "
    "SELECT GREATEST((SELECT COALESCE(MAX(delivery_id), 0) FROM deliveries), "
    "(SELECT COALESCE(MAX(last_id), 0) FROM id_floors WHERE name = 'deliveries')) + 1, seq, $2::text, 'stored', 0, "
    "$3::bigint FROM messages WHERE message_id = $1::bytea ON CONFLICT (message_seq, recipient) DO NOTHING"};
inline constexpr Statement kMessageEnvelope{"message_envelope",
                                            "SELECT envelope FROM messages WHERE message_id = $1::bytea"};
inline constexpr Statement kBytesStoredSince{
    "bytes_stored_since",
    "SELECT COALESCE(SUM(length(envelope)), 0)::bigint FROM messages "
    "WHERE sender = $1::text AND stored_at_ms >= $2::bigint"};
// A forward to a state already asked: the row is kept as it is.
inline constexpr Statement kInsertLifecycle{
    "insert_lifecycle",
    "INSERT INTO lifecycle (request_seq, requested_country, requester, requester_country, priority, state, "
    "submitted_at_ms, ack_due_ms, response_due_ms, updated_at_ms) "
    "SELECT seq, $2::text, $3::text, $4::text, $5::text, $6::text, $7::bigint, $8::bigint, $9::bigint, $10::bigint "
    "FROM messages WHERE message_id = $1::bytea ON CONFLICT DO NOTHING"};
inline constexpr Statement kUpdateLifecycle{
    "update_lifecycle",
    "UPDATE lifecycle SET state = $1::text, delivered_at_ms = $2::bigint, acknowledged_at_ms = $3::bigint, "
    "answered_at_ms = $4::bigint, closed_at_ms = $5::bigint, ack_reminded = $6::bigint, "
    "response_reminded = $7::bigint, outcome = $8::text, refusal_grounds = $9::text, updated_at_ms = $10::bigint, "
    "acknowledged_by = $13::text, answered_by = $14::text "
    "WHERE request_seq = (SELECT seq FROM messages WHERE message_id = $11::bytea) AND requested_country = $12::text"};
inline constexpr Statement kLifecycleOf{
    "lifecycle_of", "SELECT " FPX_PG_LIFECYCLE_COLUMNS
                    " FROM lifecycle AS l JOIN messages AS m ON m.seq = l.request_seq "
                    "WHERE m.message_id = $1::bytea ORDER BY l.requested_country"};
// Clocks run only while the state still owes an answer.
inline constexpr Statement kLifecycleDue{
    "lifecycle_due",
    "SELECT " FPX_PG_LIFECYCLE_COLUMNS " FROM lifecycle AS l JOIN messages AS m ON m.seq = l.request_seq "
    "WHERE l.state NOT IN ('final', 'restricted', 'refused', 'forwarded', 'withdrawn', 'closed') AND "
    "((l.ack_reminded = 0 AND l.acknowledged_at_ms = 0 AND l.ack_due_ms <= $1::bigint) OR "
    "(l.response_reminded = 0 AND l.response_due_ms <= $1::bigint)) ORDER BY l.request_seq"};
inline constexpr Statement kMarkLifecycleDelivered{
    "mark_lifecycle_delivered",
    "UPDATE lifecycle SET state = 'delivered', delivered_at_ms = $1::bigint, updated_at_ms = $1::bigint "
    "WHERE state = 'submitted' AND requested_country = $2::text AND request_seq = "
    "(SELECT message_seq FROM deliveries WHERE delivery_id = $3::bigint AND recipient = $4::text)"};
inline constexpr Statement kWatchSerial{
    "watch_serial",
    "INSERT INTO watched_serials (serial, alert_seq, alert_country, valid_until_ms, reached_countries) "
    "SELECT $1::text, seq, $3::text, $4::bigint, $5::text FROM messages WHERE message_id = $2::bytea"};
inline constexpr Statement kWatchSerialRange{
    "watch_serial_range",
    "INSERT INTO watched_serials (serial, alert_seq, alert_country, valid_until_ms, reached_countries, range_low, "
    "range_high) SELECT $1::text, seq, $3::text, $4::bigint, $5::text, $6::bigint, $7::bigint FROM messages "
    "WHERE message_id = $2::bytea"};
inline constexpr Statement kUnwatchSerials{
    "unwatch_serials",
    "DELETE FROM watched_serials WHERE alert_seq = (SELECT seq FROM messages WHERE message_id = $1::bytea) "
    "AND alert_country = $2::text"};
inline constexpr Statement kMatchSerial{
    "match_serial",
    "SELECT m.message_id, w.alert_country FROM watched_serials AS w JOIN messages AS m ON m.seq = w.alert_seq "
    "WHERE w.serial IN ($1::text, $4::text) AND w.valid_until_ms >= $2::bigint "
    "AND strpos(w.reached_countries, $3::text) > 0 AND ((w.range_low IS NULL AND w.serial = $1::text) OR "
    "(w.serial = $4::text AND w.range_low <= $5::bigint AND w.range_high >= $5::bigint))"};
inline constexpr Statement kActiveWatchedSerials{
    "active_watched_serials",
    "SELECT COALESCE(SUM(COALESCE(range_high - range_low + 1, 1)), 0)::bigint FROM watched_serials "
    "WHERE alert_country = $1::text AND valid_until_ms >= $2::bigint"};
inline constexpr Statement kWatchedSerialsAddedSince{
    "watched_serials_added_since",
    "SELECT COUNT(*) FROM messages AS m JOIN watched_serials AS w ON w.alert_seq = m.seq "
    "WHERE m.sender = $1::text AND m.stored_at_ms >= $2::bigint"};
inline constexpr Statement kLifecycleBetween{
    "lifecycle_between",
    "SELECT " FPX_PG_LIFECYCLE_COLUMNS " FROM lifecycle AS l JOIN messages AS m ON m.seq = l.request_seq "
    "WHERE l.submitted_at_ms >= $1::bigint AND l.submitted_at_ms < $2::bigint "
    "ORDER BY l.request_seq, l.requested_country"};
inline constexpr Statement kFirstSubmission{
    "first_submission", "SELECT MIN(submitted_at_ms), (SELECT MAX(since_ms) FROM statistics_since) FROM lifecycle"};
inline constexpr Statement kFactsOfTracing{
    "facts_of_tracing",
    "SELECT l.leaf_index, l.parts FROM log_facts AS f JOIN log_leaves AS l ON l.leaf_index = f.leaf_index "
    "WHERE f.request_seq = (SELECT seq FROM messages WHERE message_id = $1::bytea) ORDER BY f.leaf_index"};
inline constexpr Statement kLeafParts{"leaf_parts",
                                      "SELECT parts FROM log_leaves WHERE leaf_index = $1::bigint"};
inline constexpr Statement kLastStatisticsPeriod{
    "last_statistics_period",
    "SELECT MAX(start_ms) FROM statistics_runs WHERE period = $1::text AND revealed = 0"};
inline constexpr Statement kStatisticsAwaitingReveal{
    "statistics_awaiting_reveal",
    "SELECT start_ms, feed_sequence FROM statistics_runs AS r WHERE r.period = $1::text AND r.revealed = 0 "
    "AND r.feed_sequence != 0 AND r.start_ms < $2::bigint AND NOT EXISTS (SELECT 1 FROM statistics_runs AS d "
    "WHERE d.period = r.period AND d.start_ms = r.start_ms AND d.revealed = 1) ORDER BY r.start_ms"};
inline constexpr Statement kRecordStatisticsRun{
    "record_statistics_run",
    "INSERT INTO statistics_runs (period, start_ms, revealed, feed_sequence) "
    "VALUES ($1::text, $2::bigint, $3::bigint, $4::bigint)"};
inline constexpr Statement kPublishedStatisticsPeriod{
    "published_statistics_period",
    "SELECT period, feed_sequence FROM statistics_runs WHERE start_ms = $1::bigint AND revealed = 0 "
    "AND feed_sequence != 0 ORDER BY feed_sequence DESC LIMIT 1"};
inline constexpr Statement kNextFeedSequence{"next_feed_sequence", "SELECT COALESCE(MAX(seq), 0) + 1 FROM feed"};
inline constexpr Statement kAppendFeed{
    "append_feed",
    "INSERT INTO feed (seq, kind, record, signature, created_at_ms) "
    "VALUES ($1::bigint, $2::text, $3::bytea, $4::bytea, $5::bigint)"};
inline constexpr Statement kFeedPage{
    "feed_page",
    "SELECT seq, kind, record, signature FROM feed WHERE seq >= $1::bigint ORDER BY seq LIMIT $2::bigint"};
inline constexpr Statement kAppendCheckpoint{
    "append_checkpoint",
    "INSERT INTO checkpoints (tree_size, root_hash, note, created_at_ms) "
    "VALUES ($1::bigint, $2::bytea, $3::text, $4::bigint) ON CONFLICT DO NOTHING"};
inline constexpr Statement kLatestCheckpoint{
    "latest_checkpoint",
    "SELECT tree_size, root_hash, note, created_at_ms FROM checkpoints ORDER BY tree_size DESC LIMIT 1"};

// Civil society's early warnings (postgres_warnings.cpp, as broker/store/warnings.cpp).
#define FPX_PG_WARNING_COLUMNS                                                                           \
  "m.message_id, w.country, w.sender, w.submitted_at_ms, w.ack_due_ms, w.acknowledged_at_ms, "          \
  "w.acknowledged_by, w.reminded"
inline constexpr Statement kInsertWarning{
    "insert_warning",
    "INSERT INTO warnings (warning_seq, country, sender, submitted_at_ms, ack_due_ms) "
    "SELECT seq, $2::text, $3::text, $4::bigint, $5::bigint FROM messages WHERE message_id = $1::bytea "
    "ON CONFLICT DO NOTHING"};
inline constexpr Statement kAcknowledgeWarning{
    "acknowledge_warning",
    "UPDATE warnings SET acknowledged_at_ms = $2::bigint, acknowledged_by = $3::text "
    "WHERE acknowledged_at_ms = 0 AND warning_seq = (SELECT seq FROM messages WHERE message_id = $1::bytea)"};
inline constexpr Statement kWarningsDue{
    "warnings_due",
    "SELECT " FPX_PG_WARNING_COLUMNS " FROM warnings AS w JOIN messages AS m ON m.seq = w.warning_seq "
    "WHERE w.acknowledged_at_ms = 0 AND w.reminded = 0 AND w.ack_due_ms <= $1::bigint ORDER BY w.warning_seq"};
inline constexpr Statement kMarkWarningReminded{
    "mark_warning_reminded",
    "UPDATE warnings SET reminded = 1 WHERE warning_seq = (SELECT seq FROM messages WHERE message_id = $1::bytea)"};
inline constexpr Statement kWarningsBetween{
    "warnings_between",
    "SELECT " FPX_PG_WARNING_COLUMNS " FROM warnings AS w JOIN messages AS m ON m.seq = w.warning_seq "
    "WHERE w.submitted_at_ms >= $1::bigint AND w.submitted_at_ms < $2::bigint ORDER BY w.warning_seq"};

// Duplicate-request keys (schema 5): the keys come as one bytea of 16-byte
// keys, inserted in one round trip.
inline constexpr Statement kInsertRequestKeys{
    "insert_request_keys",
    "INSERT INTO request_keys (requester_country, key, submitted_at_ms, request_seq) "
    "SELECT $1::text, substring($2::bytea FROM i * 16 + 1 FOR 16), $3::bigint, m.seq FROM messages AS m, "
    "generate_series(0, length($2::bytea) / 16 - 1) AS i WHERE m.message_id = $4::bytea ON CONFLICT DO NOTHING"};
// Each key's newest `limit` open requests (an index range per key, as
// SQLite's loop), then each request once, newest first.
inline constexpr Statement kOpenRequestsWithKeys{
    "open_requests_with_keys",
    "SELECT DISTINCT c.message_id, c.submitted_at_ms, c.request_seq FROM "
    "(SELECT substring($2::bytea FROM i * 16 + 1 FOR 16) AS key "
    "FROM generate_series(0, length($2::bytea) / 16 - 1) AS i) AS q "
    "CROSS JOIN LATERAL (SELECT m.message_id, k.submitted_at_ms, k.request_seq FROM request_keys AS k "
    "JOIN messages AS m ON m.seq = k.request_seq WHERE k.requester_country = $1::text AND k.key = q.key "
    "AND k.submitted_at_ms BETWEEN $3::bigint AND $4::bigint AND m.message_id <> $5::bytea "
    "AND EXISTS (SELECT 1 FROM lifecycle AS l WHERE l.request_seq = k.request_seq "
    "AND l.state NOT IN ('closed', 'withdrawn')) "
    "ORDER BY k.submitted_at_ms DESC, k.request_seq DESC LIMIT $6::bigint) AS c "
    "ORDER BY c.submitted_at_ms DESC, c.request_seq DESC LIMIT $6::bigint"};
inline constexpr Statement kDeleteRequestKeys{
    "delete_request_keys",
    "DELETE FROM request_keys WHERE request_seq = (SELECT seq FROM messages WHERE message_id = $1::bytea)"};

inline constexpr const Statement* kAll[] = {
    &kFindMessage, &kLogSize, &kInsertMessage, &kInsertRecordLeaf, &kLogEdge, &kLogLeafHash, &kLogNode,
    &kInsertReceiptGroup, &kReceiptGroupOf, &kAppendAudit, &kAuditRows, &kPendingDeliveries,
    &kConfirmedDeliveries, &kMarkDelivered, &kConfirmDeliveries, &kOverdueDeliveries, &kDeadLetter, &kDeliveryStatus, &kAddDelivery, &kMessageEnvelope,
    &kBytesStoredSince, &kInsertLifecycle, &kUpdateLifecycle, &kLifecycleOf, &kLifecycleDue,
    &kMarkLifecycleDelivered, &kWatchSerial, &kWatchSerialRange, &kUnwatchSerials, &kMatchSerial, &kActiveWatchedSerials,
    &kWatchedSerialsAddedSince, &kLifecycleBetween, &kFirstSubmission, &kFactsOfTracing, &kLeafParts,
    &kLastStatisticsPeriod, &kStatisticsAwaitingReveal, &kRecordStatisticsRun, &kPublishedStatisticsPeriod, &kNextFeedSequence, &kAppendFeed,
    &kFeedPage, &kAppendCheckpoint, &kLatestCheckpoint,
    &kInsertWarning, &kAcknowledgeWarning, &kWarningsDue, &kMarkWarningReminded, &kWarningsBetween,
    &kInsertRequestKeys, &kOpenRequestsWithKeys, &kDeleteRequestKeys,
};

}  // namespace fpx::broker::pg::sql
