// The SQL of every cached statement, prepared once at open.
#include "sqlite_store.hpp"

namespace fpx::broker {

namespace sqlite {

// The columns read_lifecycle() expects, in its order.
#define FPX_LIFECYCLE_COLUMNS                                                                              \
  "m.message_id, l.requested_country, l.requester, l.requester_country, l.priority, l.state, "            \
  "l.submitted_at_ms, l.delivered_at_ms, l.acknowledged_at_ms, l.answered_at_ms, l.closed_at_ms, "        \
  "l.ack_due_ms, l.response_due_ms, l.ack_reminded, l.response_reminded, l.outcome, l.refusal_grounds, " \
  "l.updated_at_ms, l.acknowledged_by, l.answered_by"

Status SqliteStore::prepare_statements() {
  const std::pair<StatementPtr*, const char*> statements[] = {
      {&begin_, "BEGIN IMMEDIATE"},
      {&commit_, "COMMIT"},
      {&rollback_, "ROLLBACK"},
      {&insert_record_leaf_,
       "INSERT INTO log_leaves (leaf_index, leaf_data, leaf_hash, feed_seq, created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)"},
      {&unit_savepoint_, "SAVEPOINT submission"},
      {&unit_release_, "RELEASE submission"},
      {&unit_rollback_, "ROLLBACK TO submission"},
      {&savepoint_, "SAVEPOINT insert_message"},
      {&release_savepoint_, "RELEASE insert_message"},
      {&rollback_to_savepoint_, "ROLLBACK TO insert_message"},
      {&insert_receipt_group_, "INSERT INTO receipt_groups (head, head_signature, leaf_hashes) VALUES (?1, ?2, ?3)"},
      {&insert_receipt_member_, "INSERT INTO receipt_members (message_seq, group_id, leaf_index) VALUES (?1, ?2, ?3)"},
      {&receipt_group_of_,
       "SELECT g.head, g.head_signature, g.leaf_hashes, m.leaf_index "
       "FROM receipt_members AS m JOIN receipt_groups AS g ON g.group_id = m.group_id WHERE m.message_seq = ?1"},
      {&find_message_,
       "SELECT seq, signed_sha256, sender, sender_country, type, created_at_ms, stored_at_ms, log_index "
       "FROM messages WHERE message_id = ?1"},
      {&next_leaf_index_, "SELECT COALESCE(MAX(leaf_index) + 1, 0) FROM log_leaves"},
      // The log's next index read in the same statement (a seek to the last
      // leaf), and seq and log_index returned: one statement, not three.
      {&insert_message_,
       "INSERT INTO messages (message_id, signed_sha256, envelope, sender, sender_country, type, created_at_ms, "
       "stored_at_ms, in_reply_to, hold_until_ms, officer, accepted_for, log_index) VALUES (?1, ?2, ?3, ?4, ?5, "
       "?6, ?7, ?8, ?9, ?10, ?11, ?12, (SELECT COALESCE(MAX(leaf_index) + 1, 0) FROM log_leaves)) "
       "RETURNING seq, log_index"},
      {&insert_delivery_,
       "INSERT INTO deliveries (delivery_id, message_seq, recipient, state, attempts, updated_at_ms) "
       "VALUES (MAX((SELECT COALESCE(MAX(delivery_id), 0) FROM deliveries), "
       "(SELECT COALESCE(MAX(last_id), 0) FROM id_floors WHERE name = 'deliveries')) + 1, ?1, ?2, 'stored', 0, ?3)"},
      {&insert_leaf_,
       "INSERT INTO log_leaves (leaf_index, leaf_data, leaf_hash, message_seq, created_at_ms, parts) "
       "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"},
      // A tracing request that is not stored has no facts to reveal: no row.
      {&insert_leaf_fact_,
       "INSERT OR IGNORE INTO log_facts (request_seq, leaf_index) SELECT seq, ?2 FROM messages WHERE message_id = ?1"},
      {&lifecycle_between_,
       "SELECT " FPX_LIFECYCLE_COLUMNS " FROM lifecycle AS l JOIN messages AS m ON m.seq = l.request_seq "
       "WHERE l.submitted_at_ms >= ?1 AND l.submitted_at_ms < ?2 ORDER BY l.request_seq, l.requested_country"},
      {&first_submission_,
       "SELECT MIN(submitted_at_ms), (SELECT MAX(since_ms) FROM statistics_since) FROM lifecycle"},
      {&facts_of_tracing_,
       "SELECT l.leaf_index, l.parts FROM log_facts AS f JOIN log_leaves AS l ON l.leaf_index = f.leaf_index "
       "WHERE f.request_seq = (SELECT seq FROM messages WHERE message_id = ?1) ORDER BY f.leaf_index"},
      {&leaf_parts_, "SELECT parts FROM log_leaves WHERE leaf_index = ?1"},
      {&last_statistics_period_, "SELECT MAX(start_ms) FROM statistics_runs WHERE period = ?1 AND revealed = 0"},
      {&statistics_awaiting_reveal_,
       "SELECT start_ms, feed_sequence FROM statistics_runs AS r WHERE r.period = ?1 AND r.revealed = 0 "
       "AND r.feed_sequence != 0 AND r.start_ms < ?2 AND NOT EXISTS (SELECT 1 FROM statistics_runs AS d "
       "WHERE d.period = r.period AND d.start_ms = r.start_ms AND d.revealed = 1) ORDER BY r.start_ms"},
      {&record_statistics_run_,
       "INSERT INTO statistics_runs (period, start_ms, revealed, feed_sequence) VALUES (?1, ?2, ?3, ?4)"},
      {&published_statistics_period_,
       "SELECT period, feed_sequence FROM statistics_runs WHERE start_ms = ?1 AND revealed = 0 "
       "AND feed_sequence != 0 ORDER BY feed_sequence DESC LIMIT 1"},
      {&log_leaf_hash_, "SELECT leaf_hash FROM log_leaves WHERE leaf_index = ?1"},
      // Keyed by the leaf that completes the node (schema 12): (idx + 1) * 2^level - 1.
      // The last term refuses an idx whose shift would overflow into another node's key.
      {&log_node_,
       "SELECT hash FROM log_nodes WHERE completed_by = ((?1 + 1) << ?2) - 1 AND level = ?2 "
       "AND ((completed_by + 1) >> ?2) - 1 = ?1"},
      {&insert_log_node_, "INSERT INTO log_nodes (completed_by, level, hash) VALUES (((?2 + 1) << ?1) - 1, ?1, ?3)"},
      {&append_audit_,
       "INSERT INTO audit (id, at_ms, principal, message_id, stage, outcome, detail) VALUES ("
       "MAX((SELECT COALESCE(MAX(id), 0) FROM audit), "
       "(SELECT COALESCE(MAX(last_id), 0) FROM id_floors WHERE name = 'audit')) + 1, ?1, ?2, ?3, ?4, ?5, ?6)"},
      {&pending_deliveries_,
       "SELECT d.delivery_id, m.message_id, m.envelope, d.attempts "
       "FROM deliveries AS d JOIN messages AS m ON m.seq = d.message_seq "
       "WHERE d.recipient = ?1 AND d.state IN ('stored', 'delivered') AND d.delivery_id > ?2 "
       "ORDER BY d.delivery_id LIMIT ?3"},
      // The newest `limit` (through the partial index deliveries_confirmed),
      // returned oldest first.
      {&confirmed_deliveries_,
       "SELECT delivery_id, message_id, envelope, attempts FROM ("
       "SELECT d.delivery_id, m.message_id, m.envelope, d.attempts "
       "FROM deliveries AS d INDEXED BY deliveries_confirmed JOIN messages AS m ON m.seq = d.message_seq "
       "WHERE d.recipient = ?1 AND d.state = 'confirmed' AND d.delivery_id > ?2 AND m.hold_until_ms >= ?3 "
       "ORDER BY d.delivery_id DESC LIMIT ?4) ORDER BY delivery_id"},
      {&mark_delivered_,
       "UPDATE deliveries SET state = 'delivered', attempts = attempts + 1, updated_at_ms = ?1 "
       "WHERE delivery_id = ?2 AND state IN ('stored', 'delivered')"},
      // The recipient term is what stops one participant confirming another's delivery.
      {&confirm_delivery_,
       "UPDATE deliveries SET state = 'confirmed', updated_at_ms = ?1 "
       "WHERE delivery_id = ?2 AND recipient = ?3 AND state IN ('stored', 'delivered')"},
      // INDEXED BY: without statistics the planner scans every delivery ever
      // made; the partial index holds only the unconfirmed backlog.
      {&overdue_deliveries_,
       "SELECT d.delivery_id, m.message_id, m.sender, d.recipient "
       "FROM deliveries AS d INDEXED BY deliveries_pending JOIN messages AS m ON m.seq = d.message_seq "
       "WHERE d.state IN ('stored', 'delivered') AND m.hold_until_ms < ?1 ORDER BY d.delivery_id"},
      {&dead_letter_,
       "UPDATE deliveries SET state = 'dead_letter', updated_at_ms = ?1, reason = ?2 "
       "WHERE delivery_id = ?3 AND state IN ('stored', 'delivered')"},
      {&delivery_status_,
       "SELECT d.recipient, d.state, d.updated_at_ms, d.reason "
       "FROM deliveries AS d JOIN messages AS m ON m.seq = d.message_seq "
       "WHERE m.message_id = ?1 ORDER BY d.delivery_id"},
      {&audit_rows_,
       "SELECT id, at_ms, principal, message_id, stage, outcome, detail FROM audit "
       "WHERE id > ?1 ORDER BY id LIMIT ?2"},
      {&add_delivery_,
       "INSERT OR IGNORE INTO deliveries (message_seq, recipient, state, attempts, updated_at_ms) "
       "SELECT seq, ?2, 'stored', 0, ?3 FROM messages WHERE message_id = ?1"},
      {&message_envelope_, "SELECT envelope FROM messages WHERE message_id = ?1"},
      {&insert_lifecycle_,
       "INSERT INTO lifecycle (request_seq, requested_country, requester, requester_country, priority, state, "
       "submitted_at_ms, ack_due_ms, response_due_ms, updated_at_ms) "
       "SELECT seq, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10 FROM messages WHERE message_id = ?1"},
      {&update_lifecycle_,
       "UPDATE lifecycle SET state = ?1, delivered_at_ms = ?2, acknowledged_at_ms = ?3, answered_at_ms = ?4, "
       "closed_at_ms = ?5, ack_reminded = ?6, response_reminded = ?7, outcome = ?8, refusal_grounds = ?9, "
       "updated_at_ms = ?10, acknowledged_by = ?13, answered_by = ?14 "
       "WHERE request_seq = (SELECT seq FROM messages WHERE message_id = ?11) AND requested_country = ?12"},
      {&lifecycle_of_,
       "SELECT " FPX_LIFECYCLE_COLUMNS " FROM lifecycle AS l JOIN messages AS m ON m.seq = l.request_seq "
       "WHERE m.message_id = ?1 ORDER BY l.requested_country"},
      // Clocks run only while the state still owes an answer.
      {&lifecycle_due_,
       "SELECT " FPX_LIFECYCLE_COLUMNS " FROM lifecycle AS l JOIN messages AS m ON m.seq = l.request_seq "
       "WHERE l.state NOT IN ('final', 'restricted', 'refused', 'forwarded', 'withdrawn', 'closed') AND "
       "((l.ack_reminded = 0 AND l.acknowledged_at_ms = 0 AND l.ack_due_ms <= ?1) OR "
       "(l.response_reminded = 0 AND l.response_due_ms <= ?1)) ORDER BY l.request_seq"},
      {&next_feed_sequence_, "SELECT COALESCE(MAX(seq), 0) + 1 FROM feed"},
      {&active_watched_serials_,
       "SELECT COALESCE(SUM(COALESCE(range_high - range_low + 1, 1)), 0) FROM watched_serials "
       "WHERE alert_country = ?1 AND valid_until_ms >= ?2"},
      // A range of messages_by_sender, then each alert's serials by watched_serials_by_alert.
      {&watched_serials_added_since_,
       "SELECT COUNT(*) FROM messages AS m JOIN watched_serials AS w ON w.alert_seq = m.seq "
       "WHERE m.sender = ?1 AND m.stored_at_ms >= ?2"},
      {&bytes_stored_since_,
       "SELECT COALESCE(SUM(length(envelope)), 0) FROM messages WHERE sender = ?1 AND stored_at_ms >= ?2"},
      {&append_feed_,
       "INSERT INTO feed (seq, kind, record, signature, created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)"},
      {&feed_page_, "SELECT seq, kind, record, signature FROM feed WHERE seq >= ?1 ORDER BY seq LIMIT ?2"},
      {&append_checkpoint_,
       "INSERT OR IGNORE INTO checkpoints (tree_size, root_hash, note, created_at_ms) VALUES (?1, ?2, ?3, ?4)"},
      {&latest_checkpoint_,
       "SELECT tree_size, root_hash, note, created_at_ms FROM checkpoints ORDER BY tree_size DESC LIMIT 1"},
      {&mark_lifecycle_delivered_,
       "UPDATE lifecycle SET state = 'delivered', delivered_at_ms = ?1, updated_at_ms = ?1 "
       "WHERE state = 'submitted' AND requested_country = ?2 AND request_seq = "
       "(SELECT message_seq FROM deliveries WHERE delivery_id = ?3 AND recipient = ?4)"},
      {&watch_serial_,
       "INSERT INTO watched_serials (serial, alert_seq, alert_country, valid_until_ms, reached_countries) "
       "SELECT ?1, seq, ?3, ?4, ?5 FROM messages WHERE message_id = ?2"},
      {&watch_serial_range_,
       "INSERT INTO watched_serials (serial, alert_seq, alert_country, valid_until_ms, reached_countries, "
       "range_low, range_high) SELECT ?1, seq, ?3, ?4, ?5, ?6, ?7 FROM messages WHERE message_id = ?2"},
      {&unwatch_serials_,
       "DELETE FROM watched_serials WHERE alert_seq = (SELECT seq FROM messages WHERE message_id = ?1) "
       "AND alert_country = ?2"},
      // Schema 11: new keys go to the small request_keys_recent, folded
      // into request_keys in key order at a commit (request_keys.cpp).
      {&insert_request_key_,
       "INSERT OR IGNORE INTO request_keys_recent (requester_country, key, submitted_at_ms, request_seq) "
       "VALUES (?1, ?2, ?3, ?4)"},
      {&fold_recent_request_keys_,
       "INSERT OR IGNORE INTO request_keys (requester_country, key, submitted_at_ms, request_seq) "
       "SELECT requester_country, key, submitted_at_ms, request_seq FROM request_keys_recent "
       "ORDER BY requester_country, key, submitted_at_ms, request_seq"},
      {&clear_recent_request_keys_, "DELETE FROM request_keys_recent"},
      // Newest first; open while any requested state's row is neither closed nor withdrawn.
      {&open_requests_with_key_,
       "SELECT m.message_id, k.submitted_at_ms, k.request_seq FROM request_keys AS k "
       "JOIN messages AS m ON m.seq = k.request_seq "
       "WHERE k.requester_country = ?1 AND k.key = ?2 AND k.submitted_at_ms BETWEEN ?3 AND ?4 "
       "AND m.message_id <> ?5 AND EXISTS (SELECT 1 FROM lifecycle AS l WHERE l.request_seq = k.request_seq "
       "AND l.state NOT IN ('closed', 'withdrawn')) "
       "ORDER BY k.submitted_at_ms DESC, k.request_seq DESC LIMIT ?6"},
      {&open_recent_requests_with_key_,
       "SELECT m.message_id, k.submitted_at_ms, k.request_seq FROM request_keys_recent AS k "
       "JOIN messages AS m ON m.seq = k.request_seq "
       "WHERE k.requester_country = ?1 AND k.key = ?2 AND k.submitted_at_ms BETWEEN ?3 AND ?4 "
       "AND m.message_id <> ?5 AND EXISTS (SELECT 1 FROM lifecycle AS l WHERE l.request_seq = k.request_seq "
       "AND l.state NOT IN ('closed', 'withdrawn')) "
       "ORDER BY k.submitted_at_ms DESC, k.request_seq DESC LIMIT ?6"},
      {&delete_request_keys_,
       "DELETE FROM request_keys WHERE request_seq = (SELECT seq FROM messages WHERE message_id = ?1)"},
      {&delete_recent_request_keys_,
       "DELETE FROM request_keys_recent WHERE request_seq = (SELECT seq FROM messages WHERE message_id = ?1)"},
      {&match_serial_,
       "SELECT m.message_id, w.alert_country FROM watched_serials AS w JOIN messages AS m ON m.seq = w.alert_seq "
       // The serial itself (a single serial's row has no ends), or a range
       // under the serial's key (?4, fpx/serial_range.hpp) holding its number (?5).
       "WHERE w.serial IN (?1, ?4) AND w.valid_until_ms >= ?2 AND instr(w.reached_countries, ?3) > 0 "
       "AND ((w.range_low IS NULL AND w.serial = ?1) OR (w.serial = ?4 AND w.range_low <= ?5 AND w.range_high >= ?5))"},
  };
  for (const auto& [slot, sql] : statements) {
    sqlite3_stmt* raw = nullptr;
    const int rc = sqlite3_prepare_v3(db_.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    slot->reset(raw);
    if (rc != SQLITE_OK) return fail(rc, "preparing a statement");
  }
  return {};
}

}  // namespace sqlite

}  // namespace fpx::broker
