// The SQLite store through its Store interface, on real files in a temp dir.
// Pragmas that only the store's own connection can see (synchronous) are
// checked by their effect: a counting VFS shows that every commit fsyncs the WAL.
#include <sqlite3.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <thread>

#include <catch2/catch.hpp>

#include "fpx/broker/store.hpp"
#include "fpx/process_statistics.hpp"
#include "fpx/crypto.hpp"
#include "fpx/transparency_log.hpp"
#include "support/test_pki.hpp"

namespace fs = std::filesystem;
using namespace fpx;
using namespace fpx::broker;

namespace {

constexpr std::int64_t kNowMs = 1'700'000'000'000;
constexpr std::int64_t kHoldMs = 7 * fpx::test::kDayMs;

void require_ok(const Status& status) {
  if (!status) FAIL(status.error().describe());
}

template <typename T>
T must(Result<T> result) {
  if (!result) FAIL(result.error().describe());
  return std::move(result).value();
}

std::unique_ptr<Store> open_store(const fs::path& path) { return must(open_sqlite_store(path)); }

MessageId message_id(std::uint8_t n) {
  MessageId id;
  id.bytes.fill(n);
  return id;
}

NewMessage make_message(std::uint8_t n, const std::vector<std::string>& recipients,
                        std::int64_t hold_until_ms = kNowMs + kHoldMs) {
  NewMessage message;
  message.id = message_id(n);
  message.signed_sha256 = sha256(as_bytes("signed " + std::to_string(n)));
  message.envelope = Bytes(100 + n, n);
  message.sender = ParticipantId("sn.focal-point");
  message.sender_country = CountryCode("SN");
  message.type = "tracingRequest";
  message.created_at_ms = kNowMs - 1000;
  for (const auto& recipient : recipients) message.recipients.emplace_back(recipient);
  message.hold_until_ms = hold_until_ms;
  message.log_leaf_data = Bytes(32, static_cast<std::uint8_t>(n + 1));
  return message;
}

InsertedMessage insert_committed(Store& store, const NewMessage& message) {
  require_ok(store.begin());
  auto inserted = must(store.insert_message(message, kNowMs));
  require_ok(store.commit());
  return inserted;
}

std::vector<std::uint64_t> pending_ids(Store& store, const std::string& recipient, std::uint64_t after = 0,
                                       std::size_t limit = 100) {
  std::vector<std::uint64_t> ids;
  for (const auto& row : must(store.pending_deliveries(ParticipantId(recipient), after, limit))) {
    ids.push_back(row.delivery_id);
  }
  return ids;
}

// A second, independent connection for looking at the file from outside.
class RawConnection {
 public:
  explicit RawConnection(const fs::path& path) {
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
    db_.reset(raw);
    REQUIRE(rc == SQLITE_OK);
  }
  void exec(const std::string& sql) {
    char* message = nullptr;
    const int rc = sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &message);
    const std::string text = message != nullptr ? message : "";
    sqlite3_free(message);
    INFO(sql << ": " << text);
    REQUIRE(rc == SQLITE_OK);
  }
  // SQLite's error message, or "" when the statement ran.
  std::string try_exec(const std::string& sql) {
    char* message = nullptr;
    const int rc = sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &message);
    std::string text = rc == SQLITE_OK ? "" : (message != nullptr ? message : "failed");
    sqlite3_free(message);
    return text;
  }
  std::string text(const std::string& sql, const std::string& parameter = {}) {
    sqlite3_stmt* raw = nullptr;
    REQUIRE(sqlite3_prepare_v2(db_.get(), sql.c_str(), -1, &raw, nullptr) == SQLITE_OK);
    std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> statement(raw, &sqlite3_finalize);
    if (sqlite3_bind_parameter_count(statement.get()) > 0) {
      sqlite3_bind_text(statement.get(), 1, parameter.c_str(), -1, SQLITE_TRANSIENT);
    }
    REQUIRE(sqlite3_step(statement.get()) == SQLITE_ROW);
    const auto* value = sqlite3_column_text(statement.get(), 0);
    return value != nullptr ? reinterpret_cast<const char*>(value) : "";
  }
  // EXPLAIN QUERY PLAN's details, one after another.
  std::string plan(const std::string& sql) {
    sqlite3_stmt* raw = nullptr;
    REQUIRE(sqlite3_prepare_v2(db_.get(), ("EXPLAIN QUERY PLAN " + sql).c_str(), -1, &raw, nullptr) == SQLITE_OK);
    std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> statement(raw, &sqlite3_finalize);
    std::string details;
    while (sqlite3_step(statement.get()) == SQLITE_ROW) {
      const auto* detail = sqlite3_column_text(statement.get(), 3);
      if (detail != nullptr) details.append(reinterpret_cast<const char*>(detail)).append("; ");
    }
    return details;
  }
  std::int64_t count(const std::string& table) { return std::stoll(text("SELECT COUNT(*) FROM " + table)); }

 private:
  struct Closer {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  std::unique_ptr<sqlite3, Closer> db_;
};

// What a file before schema 7 looks like: no receipt groups, a receipt column
// (and no early warnings, schema 8).
void undo_receipt_groups(RawConnection& raw) {
  raw.exec("DROP TABLE warnings");
  raw.exec("DROP TABLE receipt_members");
  raw.exec("DROP TABLE receipt_groups");
  raw.exec("ALTER TABLE messages ADD COLUMN receipt BLOB");
}

// log_nodes keyed (level, idx) again, as before schema 12.
void undo_log_nodes_by_completing_leaf(RawConnection& raw) {
  raw.exec("CREATE TABLE log_nodes_v11 (level INTEGER NOT NULL CHECK (level >= 1), idx INTEGER NOT NULL, "
           "hash BLOB NOT NULL, PRIMARY KEY (level, idx)) WITHOUT ROWID");
  raw.exec("INSERT INTO log_nodes_v11 SELECT level, ((completed_by + 1) >> level) - 1, hash FROM log_nodes");
  raw.exec("DROP TABLE log_nodes");
  raw.exec("ALTER TABLE log_nodes_v11 RENAME TO log_nodes");
}

// What schema 8 (serial ranges on the watch list, issue 14) added, taken
// away again so that a file looks as a broker before it wrote it.
void undo_serial_ranges(RawConnection& raw) {
  raw.exec("ALTER TABLE watched_serials DROP COLUMN range_low");
  raw.exec("ALTER TABLE watched_serials DROP COLUMN range_high");
  // Schema 10 came after 9: a store older than 9 has no duplicate-request keys either.
  raw.exec("DROP TABLE request_keys");
  raw.exec("DROP TABLE request_keys_backfill");
  // Nor schema 11's acceptance on the messages row and recent keys.
  raw.exec("DROP TABLE request_keys_recent");
  raw.exec("DROP VIEW audit_trail");
  raw.exec("ALTER TABLE messages DROP COLUMN officer");
  raw.exec("ALTER TABLE messages DROP COLUMN accepted_for");
  // Nor schema 12's key of log_nodes.
  undo_log_nodes_by_completing_leaf(raw);
}

// A VFS that forwards everything to the default one and counts fsyncs of
// WAL files. Registered as the default while it lives, so the store's own
// connection goes through it without the store exposing anything.
class WalSyncCounter {
 public:
  WalSyncCounter() {
    real_ = sqlite3_vfs_find(nullptr);
    counter_ = this;
    vfs_ = *real_;
    vfs_.pNext = nullptr;
    vfs_.zName = "fpx-test-count-wal-syncs";
    vfs_.szOsFile = static_cast<int>(sizeof(File)) + real_->szOsFile;
    vfs_.xOpen = &open;
    methods_ = {};
    methods_.iVersion = 3;
    methods_.xClose = [](sqlite3_file* f) {
      const int rc = inner(f)->pMethods->xClose(inner(f));
      f->pMethods = nullptr;
      return rc;
    };
    methods_.xRead = [](sqlite3_file* f, void* b, int n, sqlite3_int64 o) { return inner(f)->pMethods->xRead(inner(f), b, n, o); };
    methods_.xWrite = [](sqlite3_file* f, const void* b, int n, sqlite3_int64 o) { return inner(f)->pMethods->xWrite(inner(f), b, n, o); };
    methods_.xTruncate = [](sqlite3_file* f, sqlite3_int64 s) { return inner(f)->pMethods->xTruncate(inner(f), s); };
    methods_.xSync = [](sqlite3_file* f, int flags) {
      if (reinterpret_cast<File*>(f)->is_wal) ++counter_->wal_syncs_;
      return inner(f)->pMethods->xSync(inner(f), flags);
    };
    methods_.xFileSize = [](sqlite3_file* f, sqlite3_int64* s) { return inner(f)->pMethods->xFileSize(inner(f), s); };
    methods_.xLock = [](sqlite3_file* f, int l) { return inner(f)->pMethods->xLock(inner(f), l); };
    methods_.xUnlock = [](sqlite3_file* f, int l) { return inner(f)->pMethods->xUnlock(inner(f), l); };
    methods_.xCheckReservedLock = [](sqlite3_file* f, int* r) { return inner(f)->pMethods->xCheckReservedLock(inner(f), r); };
    methods_.xFileControl = [](sqlite3_file* f, int op, void* a) { return inner(f)->pMethods->xFileControl(inner(f), op, a); };
    methods_.xSectorSize = [](sqlite3_file* f) { return inner(f)->pMethods->xSectorSize(inner(f)); };
    methods_.xDeviceCharacteristics = [](sqlite3_file* f) { return inner(f)->pMethods->xDeviceCharacteristics(inner(f)); };
    methods_.xShmMap = [](sqlite3_file* f, int p, int s, int e, void volatile** m) { return inner(f)->pMethods->xShmMap(inner(f), p, s, e, m); };
    methods_.xShmLock = [](sqlite3_file* f, int o, int n, int fl) { return inner(f)->pMethods->xShmLock(inner(f), o, n, fl); };
    methods_.xShmBarrier = [](sqlite3_file* f) { inner(f)->pMethods->xShmBarrier(inner(f)); };
    methods_.xShmUnmap = [](sqlite3_file* f, int d) { return inner(f)->pMethods->xShmUnmap(inner(f), d); };
    methods_.xFetch = [](sqlite3_file* f, sqlite3_int64 o, int n, void** p) { return inner(f)->pMethods->xFetch(inner(f), o, n, p); };
    methods_.xUnfetch = [](sqlite3_file* f, sqlite3_int64 o, void* p) { return inner(f)->pMethods->xUnfetch(inner(f), o, p); };
    REQUIRE(sqlite3_vfs_register(&vfs_, 1) == SQLITE_OK);
  }
  ~WalSyncCounter() {
    sqlite3_vfs_register(real_, 1);
    sqlite3_vfs_unregister(&vfs_);
    counter_ = nullptr;
  }
  WalSyncCounter(const WalSyncCounter&) = delete;
  WalSyncCounter& operator=(const WalSyncCounter&) = delete;

  int wal_syncs() const { return wal_syncs_; }

 private:
  struct File {
    sqlite3_file base;
    bool is_wal;
  };
  static sqlite3_file* inner(sqlite3_file* file) {
    return reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + sizeof(File));
  }
  static int open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
    auto* wrapper = reinterpret_cast<File*>(file);
    wrapper->is_wal = (flags & SQLITE_OPEN_WAL) != 0;
    const int rc = counter_->real_->xOpen(counter_->real_, name, inner(file), flags, out_flags);
    file->pMethods = inner(file)->pMethods != nullptr ? &counter_->methods_ : nullptr;
    return rc;
  }

  static inline WalSyncCounter* counter_ = nullptr;
  sqlite3_vfs* real_ = nullptr;
  sqlite3_vfs vfs_{};
  sqlite3_io_methods methods_{};
  int wal_syncs_ = 0;
};

}  // namespace

TEST_CASE("A stored message is found again with every field") {
  test::TempDir dir;
  auto store = open_store(dir.path() / "store.db");
  auto message = make_message(1, {"gh.focal-point"});
  message.in_reply_to = message_id(9);

  require_ok(store->begin());
  const auto inserted = must(store->insert_message(message, kNowMs));
  require_ok(store->commit());

  const auto found = must(store->find_message(message.id));
  REQUIRE(found.has_value());
  CHECK(found->seq == inserted.seq);
  CHECK(found->id == message.id);
  CHECK(found->signed_sha256 == message.signed_sha256);
  CHECK(found->sender == message.sender);
  CHECK(found->sender_country == message.sender_country);
  CHECK(found->type == message.type);
  CHECK(found->created_at_ms == message.created_at_ms);
  CHECK(found->stored_at_ms == kNowMs);
  CHECK(found->log_index == inserted.log_index);

  const auto pending = must(store->pending_deliveries(ParticipantId("gh.focal-point"), 0, 10));
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].envelope == message.envelope);
  CHECK(pending[0].message_id == message.id);
  CHECK(pending[0].attempts == 0);

  CHECK_FALSE(must(store->find_message(message_id(2))).has_value());
}

namespace {
// A receipt group row as the broker writes it (its bytes are opaque to the store).
ReceiptGroupRow group_row(std::uint8_t tag, std::size_t leaves) {
  ReceiptGroupRow row{Bytes(40, tag), Bytes(64, tag), {}};
  for (std::size_t i = 0; i < leaves; ++i) row.leaves.push_back(sha256(Bytes{tag, static_cast<std::uint8_t>(i)}));
  return row;
}
}  // namespace

TEST_CASE("A receipt group is read back for each of its messages with the message's leaf") {
  test::TempDir dir;
  auto store = open_store(dir.path() / "store.db");
  require_ok(store->begin());
  const auto first = must(store->insert_message(make_message(1, {"gh.focal-point"}), kNowMs));
  const auto second = must(store->insert_message(make_message(2, {"gh.focal-point"}), kNowMs));
  const auto third = must(store->insert_message(make_message(3, {"gh.focal-point"}), kNowMs));
  // Leaf 1 is a resend's: a leaf with no member row.
  const ReceiptGroupRow row = group_row(0x11, 3);
  require_ok(store->insert_receipt_group(row, std::vector<ReceiptMember>{{first.seq, 0}, {second.seq, 2}}));
  require_ok(store->insert_receipt_group(group_row(0x22, 1), std::vector<ReceiptMember>{{third.seq, 0}}));
  require_ok(store->commit());

  const auto of_second = must(store->receipt_group_of(second.seq));
  REQUIRE(of_second.has_value());
  CHECK(of_second->leaf_index == 2);
  CHECK(of_second->group.head == row.head);
  CHECK(of_second->group.head_signature == row.head_signature);
  CHECK(of_second->group.leaves == row.leaves);
  CHECK(must(store->receipt_group_of(first.seq))->leaf_index == 0);
  CHECK(must(store->receipt_group_of(third.seq))->group.head == Bytes(40, 0x22));
  CHECK_FALSE(must(store->receipt_group_of(third.seq + 1)).has_value());
}

TEST_CASE("A message given a receipt group twice is refused and its first group kept") {
  test::TempDir dir;
  auto store = open_store(dir.path() / "store.db");
  const auto inserted = insert_committed(*store, make_message(1, {"gh.focal-point"}));
  require_ok(store->begin());
  require_ok(store->insert_receipt_group(group_row(0x11, 1), std::vector<ReceiptMember>{{inserted.seq, 0}}));
  require_ok(store->commit());
  require_ok(store->begin());
  CHECK_FALSE(store->insert_receipt_group(group_row(0x22, 1), std::vector<ReceiptMember>{{inserted.seq, 0}}).ok());
  store->rollback();
  CHECK(must(store->receipt_group_of(inserted.seq))->group.head == Bytes(40, 0x11));
}

TEST_CASE("A stored receipt group whose leaves are damaged is reported and not read") {
  test::TempDir dir;
  const auto path = dir.path() / "store.db";
  auto store = open_store(path);
  const auto inserted = insert_committed(*store, make_message(1, {"gh.focal-point"}));
  require_ok(store->begin());
  require_ok(store->insert_receipt_group(group_row(0x11, 2), std::vector<ReceiptMember>{{inserted.seq, 1}}));
  require_ok(store->commit());
  {
    RawConnection raw(path);
    raw.exec("UPDATE receipt_groups SET leaf_hashes = zeroblob(33)");
  }
  const auto damaged = store->receipt_group_of(inserted.seq);
  REQUIRE_FALSE(damaged.ok());
  CHECK(damaged.error().code == ErrorCode::io_error);
}

TEST_CASE("A duplicate message id fails with id_reused and rolling back leaves nothing") {
  test::TempDir dir;
  const auto path = dir.path() / "store.db";
  auto store = open_store(path);

  require_ok(store->begin());
  must(store->insert_message(make_message(1, {"gh.focal-point"}), kNowMs));
  const auto duplicate = store->insert_message(make_message(1, {"ng.focal-point"}), kNowMs);
  REQUIRE_FALSE(duplicate.ok());
  CHECK(duplicate.error().code == ErrorCode::id_reused);
  CHECK_THAT(duplicate.error().message, Catch::Contains(message_id(1).hex()));
  store->rollback();

  CHECK_FALSE(must(store->find_message(message_id(1))).has_value());
  CHECK(must(store->log_size()) == 0);
  RawConnection raw(path);
  CHECK(raw.count("messages") == 0);
  CHECK(raw.count("deliveries") == 0);
  CHECK(raw.count("log_leaves") == 0);
}

TEST_CASE("A failed insert inside a batch undoes only that message and the rest commits") {
  test::TempDir dir;
  const auto path = dir.path() / "store.db";
  auto store = open_store(path);
  insert_committed(*store, make_message(1, {"gh.focal-point"}));

  require_ok(store->begin());
  const auto second = must(store->insert_message(make_message(2, {"gh.focal-point"}), kNowMs));
  const auto duplicate = store->insert_message(make_message(1, {"ng.focal-point", "ci.focal-point"}), kNowMs);
  CHECK(duplicate.error().code == ErrorCode::id_reused);
  const auto repeated_recipient = store->insert_message(make_message(4, {"ng.focal-point", "ng.focal-point"}), kNowMs);
  CHECK(repeated_recipient.error().code == ErrorCode::invalid_argument);
  const auto third = must(store->insert_message(make_message(3, {"gh.focal-point"}), kNowMs));
  require_ok(store->commit());

  CHECK(second.log_index == 1);
  CHECK(third.log_index == 2);  // no hole left by the failed ones
  CHECK_FALSE(must(store->find_message(message_id(4))).has_value());
  CHECK(pending_ids(*store, "ng.focal-point").empty());
  CHECK(pending_ids(*store, "ci.focal-point").empty());
  RawConnection raw(path);
  CHECK(raw.count("messages") == 3);
  CHECK(raw.count("deliveries") == 3);
  CHECK(raw.count("log_leaves") == 3);
}

TEST_CASE("Rollback leaves no message, delivery, audit row or log leaf") {
  test::TempDir dir;
  const auto path = dir.path() / "store.db";
  auto store = open_store(path);

  require_ok(store->begin());
  const auto inserted = must(store->insert_message(make_message(1, {"gh.focal-point", "ng.focal-point"}), kNowMs));
  require_ok(store->insert_receipt_group(group_row(0x11, 1), std::vector<ReceiptMember>{{inserted.seq, 0}}));
  require_ok(store->append_audit({kNowMs, "sn.focal-point", message_id(1), "accept", ErrorCode::none, ""}));
  store->rollback();

  CHECK_FALSE(must(store->find_message(message_id(1))).has_value());
  CHECK(pending_ids(*store, "gh.focal-point").empty());
  CHECK(must(store->audit_rows(0, 10)).empty());
  CHECK(must(store->log_size()) == 0);
  RawConnection raw(path);
  CHECK(raw.count("messages") == 0);
  CHECK(raw.count("deliveries") == 0);
  CHECK(raw.count("audit") == 0);
  CHECK(raw.count("log_leaves") == 0);
  CHECK(raw.count("receipt_groups") == 0);
  CHECK(raw.count("receipt_members") == 0);

  // And the store is usable afterwards: the next message takes index 0.
  CHECK(insert_committed(*store, make_message(2, {"gh.focal-point"})).log_index == 0);
}

TEST_CASE("Pending deliveries come back in arrival order and only the recipient's own") {
  test::TempDir dir;
  auto store = open_store(dir.path() / "store.db");
  require_ok(store->begin());
  must(store->insert_message(make_message(1, {"gh.focal-point", "ng.focal-point"}), kNowMs));
  must(store->insert_message(make_message(2, {"ng.focal-point"}), kNowMs));
  must(store->insert_message(make_message(3, {"gh.focal-point"}), kNowMs));
  require_ok(store->commit());
  insert_committed(*store, make_message(4, {"ng.focal-point", "gh.focal-point"}));

  auto ids_of = [&](const std::string& recipient) {
    std::vector<MessageId> ids;
    for (const auto& row : must(store->pending_deliveries(ParticipantId(recipient), 0, 100))) ids.push_back(row.message_id);
    return ids;
  };
  CHECK(ids_of("gh.focal-point") == std::vector{message_id(1), message_id(3), message_id(4)});
  CHECK(ids_of("ng.focal-point") == std::vector{message_id(1), message_id(2), message_id(4)});
  CHECK(ids_of("ci.focal-point").empty());

  const auto gh = pending_ids(*store, "gh.focal-point");
  REQUIRE(gh.size() == 3);
  CHECK(gh[0] < gh[1]);
  CHECK(gh[1] < gh[2]);
  // Paging: after a delivery id, with a limit.
  CHECK(pending_ids(*store, "gh.focal-point", gh[0], 1) == std::vector{gh[1]});
  CHECK(pending_ids(*store, "gh.focal-point", gh[2]).empty());
}

TEST_CASE("A participant cannot confirm someone else's delivery") {
  test::TempDir dir;
  auto store = open_store(dir.path() / "store.db");
  insert_committed(*store, make_message(1, {"gh.focal-point", "ng.focal-point"}));
  const auto gh = pending_ids(*store, "gh.focal-point");
  REQUIRE(gh.size() == 1);

  require_ok(store->begin());
  CHECK(must(store->confirm_deliveries(ParticipantId("ng.focal-point"), gh, kNowMs)) == 0);
  CHECK(must(store->confirm_deliveries(ParticipantId("ci.focal-point"), gh, kNowMs)) == 0);
  require_ok(store->commit());

  CHECK(pending_ids(*store, "gh.focal-point") == gh);
  for (const auto& row : must(store->delivery_status(message_id(1)))) {
    CHECK(row.state == DeliveryState::stored);
  }
}

TEST_CASE("An officer's catch-up reads the newest confirmed deliveries of its participant still within their hold") {
  test::TempDir dir;
  auto store = open_store(dir.path() / "store.db");
  insert_committed(*store, make_message(1, {"gh.focal-point"}));
  insert_committed(*store, make_message(2, {"gh.focal-point", "ng.focal-point"}));
  insert_committed(*store, make_message(3, {"gh.focal-point"}, kNowMs + 10));  // its hold ends soon
  insert_committed(*store, make_message(4, {"gh.focal-point"}));               // left unconfirmed
  const auto gh = pending_ids(*store, "gh.focal-point");
  REQUIRE(gh.size() == 4);
  require_ok(store->begin());
  const std::vector<std::uint64_t> confirmed{gh[0], gh[1], gh[2]};
  CHECK(must(store->confirm_deliveries(ParticipantId("gh.focal-point"), confirmed, kNowMs)) == 3);
  require_ok(store->commit());

  auto ids = [&](std::int64_t now, std::size_t limit) {
    std::vector<std::uint64_t> out;
    for (const auto& row : must(store->confirmed_deliveries(ParticipantId("gh.focal-point"), 0, now, limit))) {
      out.push_back(row.delivery_id);
    }
    return out;
  };
  CHECK(ids(kNowMs, 10) == confirmed);                         // oldest first, pending ones not among them
  CHECK(ids(kNowMs, 2) == std::vector{gh[1], gh[2]});          // the newest ones when limited
  CHECK(ids(kNowMs + 1000, 10) == std::vector{gh[0], gh[1]});  // past its hold: not sent again
  CHECK(must(store->confirmed_deliveries(ParticipantId("ng.focal-point"), 0, kNowMs, 10)).empty());
}

TEST_CASE("Confirmed deliveries are no longer pending, delivered ones still are") {
  test::TempDir dir;
  auto store = open_store(dir.path() / "store.db");
  insert_committed(*store, make_message(1, {"gh.focal-point"}));
  insert_committed(*store, make_message(2, {"gh.focal-point"}));
  const auto gh = pending_ids(*store, "gh.focal-point");
  REQUIRE(gh.size() == 2);

  require_ok(store->begin());
  require_ok(store->mark_delivered(gh[0], kNowMs + 1));
  require_ok(store->mark_delivered(gh[1], kNowMs + 1));
  require_ok(store->mark_delivered(gh[1], kNowMs + 2));
  require_ok(store->commit());
  const auto pending = must(store->pending_deliveries(ParticipantId("gh.focal-point"), 0, 10));
  REQUIRE(pending.size() == 2);
  CHECK(pending[0].attempts == 1);
  CHECK(pending[1].attempts == 2);

  require_ok(store->begin());
  const std::vector<std::uint64_t> first{gh[0]};
  CHECK(must(store->confirm_deliveries(ParticipantId("gh.focal-point"), first, kNowMs + 3)) == 1);
  CHECK(must(store->confirm_deliveries(ParticipantId("gh.focal-point"), first, kNowMs + 4)) == 0);  // already confirmed
  require_ok(store->mark_delivered(gh[0], kNowMs + 5));  // late redelivery does not reopen it
  require_ok(store->commit());

  CHECK(pending_ids(*store, "gh.focal-point") == std::vector{gh[1]});
  const auto status = must(store->delivery_status(message_id(1)));
  REQUIRE(status.size() == 1);
  CHECK(status[0].state == DeliveryState::confirmed);
  CHECK(status[0].updated_at_ms == kNowMs + 3);
}

TEST_CASE("Expiry turns only overdue unconfirmed deliveries into dead letters with the reason") {
  test::TempDir dir;
  auto store = open_store(dir.path() / "store.db");
  const std::int64_t soon = kNowMs + 1000;
  const std::int64_t later = kNowMs + kHoldMs;
  insert_committed(*store, make_message(1, {"gh.focal-point", "ng.focal-point"}, soon));  // overdue, one confirmed
  insert_committed(*store, make_message(2, {"gh.focal-point"}, soon));                    // overdue, delivered
  insert_committed(*store, make_message(3, {"gh.focal-point"}, later));                   // not yet due
  insert_committed(*store, make_message(4, {"ci.focal-point"}, soon + 1000));             // hold ends exactly at expiry time: not overdue

  const auto ng = pending_ids(*store, "ng.focal-point");
  const auto gh = pending_ids(*store, "gh.focal-point");
  require_ok(store->begin());
  CHECK(must(store->confirm_deliveries(ParticipantId("ng.focal-point"), ng, kNowMs)) == 1);
  require_ok(store->mark_delivered(gh[1], kNowMs));
  require_ok(store->commit());

  require_ok(store->begin());
  const auto dead = must(store->expire_deliveries(soon + 1000, "hold time ended"));
  require_ok(store->commit());

  REQUIRE(dead.size() == 2);
  CHECK(dead[0].message_id == message_id(1));
  CHECK(dead[0].recipient == ParticipantId("gh.focal-point"));
  CHECK(dead[0].sender == ParticipantId("sn.focal-point"));
  CHECK(dead[1].message_id == message_id(2));
  CHECK(dead[1].delivery_id == gh[1]);

  const auto status = must(store->delivery_status(message_id(1)));
  REQUIRE(status.size() == 2);
  CHECK(status[0].recipient == ParticipantId("gh.focal-point"));
  CHECK(status[0].state == DeliveryState::dead_letter);
  CHECK(status[0].reason == "hold time ended");
  CHECK(status[0].updated_at_ms == soon + 1000);
  CHECK(status[1].recipient == ParticipantId("ng.focal-point"));
  CHECK(status[1].state == DeliveryState::confirmed);
  CHECK(status[1].reason.empty());
  CHECK(must(store->delivery_status(message_id(3)))[0].state == DeliveryState::stored);
  CHECK(must(store->delivery_status(message_id(4)))[0].state == DeliveryState::stored);
  CHECK(pending_ids(*store, "gh.focal-point").size() == 1);

  // Dead letters stay dead: a second pass finds nothing new and confirming does nothing.
  require_ok(store->begin());
  CHECK(must(store->expire_deliveries(soon + 1000, "again")).empty());
  const std::vector<std::uint64_t> first{gh[0]};
  CHECK(must(store->confirm_deliveries(ParticipantId("gh.focal-point"), first, kNowMs)) == 0);
  require_ok(store->commit());
  CHECK(must(store->delivery_status(message_id(2)))[0].reason == "hold time ended");
  CHECK(must(store->delivery_status(message_id(9))).empty());
}

TEST_CASE("Log indexes are dense from 0 and continue after reopening") {
  test::TempDir dir;
  const auto path = dir.path() / "store.db";
  {
    auto store = open_store(path);
    CHECK(must(store->log_size()) == 0);
    CHECK(insert_committed(*store, make_message(1, {"gh.focal-point"})).log_index == 0);
    require_ok(store->begin());
    CHECK(must(store->insert_message(make_message(2, {"gh.focal-point"}), kNowMs)).log_index == 1);
    CHECK(must(store->insert_message(make_message(3, {"gh.focal-point"}), kNowMs)).log_index == 2);
    require_ok(store->commit());
    CHECK(must(store->log_size()) == 3);
  }
  auto store = open_store(path);
  CHECK(must(store->log_size()) == 3);
  CHECK(insert_committed(*store, make_message(4, {"gh.focal-point"})).log_index == 3);
  CHECK(must(store->find_message(message_id(4)))->log_index == 3);

  RawConnection raw(path);
  CHECK(raw.text("SELECT group_concat(leaf_index) FROM (SELECT leaf_index FROM log_leaves ORDER BY leaf_index)") ==
        "0,1,2,3");
  // RFC 9162 leaf hash: SHA-256(0x00 || data).
  Bytes prefixed{0x00};
  const auto data = make_message(1, {}).log_leaf_data;
  prefixed.insert(prefixed.end(), data.begin(), data.end());
  CHECK(raw.text("SELECT lower(hex(leaf_hash)) FROM log_leaves WHERE leaf_index = 0") == to_hex(sha256(prefixed)));
}

TEST_CASE("Committed data survives closing the store and opening a new one") {
  test::TempDir dir;
  const auto path = dir.path() / "store.db";
  std::uint64_t delivery_id = 0;
  {
    auto store = open_store(path);
    const auto inserted = insert_committed(*store, make_message(1, {"gh.focal-point", "ng.focal-point"}));
    require_ok(store->begin());
    require_ok(store->insert_receipt_group(group_row(0x77, 1), std::vector<ReceiptMember>{{inserted.seq, 0}}));
    require_ok(store->append_audit({kNowMs, "sn.focal-point", message_id(1), "accept", ErrorCode::none, "ok"}));
    delivery_id = pending_ids(*store, "gh.focal-point").at(0);
    CHECK(must(store->confirm_deliveries(ParticipantId("gh.focal-point"), std::vector{delivery_id}, kNowMs)) == 1);
    require_ok(store->commit());
    // Left open and uncommitted when the store goes away: must not survive.
    require_ok(store->begin());
    must(store->insert_message(make_message(2, {"gh.focal-point"}), kNowMs));
  }
  auto store = open_store(path);
  const auto found = must(store->find_message(message_id(1)));
  REQUIRE(found.has_value());
  CHECK(must(store->receipt_group_of(found->seq))->group.head == Bytes(40, 0x77));
  CHECK_FALSE(must(store->find_message(message_id(2))).has_value());
  CHECK(pending_ids(*store, "gh.focal-point").empty());
  CHECK(pending_ids(*store, "ng.focal-point").size() == 1);
  CHECK(must(store->audit_rows(0, 10)).size() == 1);
  CHECK(must(store->log_size()) == 1);
}

TEST_CASE("A store file with a newer schema version is refused") {
  test::TempDir dir;
  const auto path = dir.path() / "store.db";
  { open_store(path); }
  {
    RawConnection raw(path);
    CHECK(raw.text("PRAGMA user_version") == "12");
    raw.exec("PRAGMA user_version = 13");
  }
  const auto opened = open_sqlite_store(path);
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.error().code == ErrorCode::io_error);
  CHECK_THAT(opened.error().message, Catch::Contains("schema version 13") && Catch::Contains("newer"));
}

namespace {

// The store's log against MemoryLog: every node, every root and every proof
// of every size up to the log's size.
void check_log_matches(Store& store, MemoryLog& reference) {
  const auto size = must(store.log_size());
  REQUIRE(size == reference.size());
  StoreNodeSource nodes(store);
  for (std::uint32_t level = 0; (std::uint64_t{1} << level) <= size; ++level) {
    for (std::uint64_t index = 0; index < (size >> level); ++index) {
      if (must(store.log_node(level, index)) != must(reference.node(level, index))) {
        FAIL("log node " << level << "/" << index << " differs");
      }
    }
    // The incomplete subtree at the right edge is never stored.
    CHECK(store.log_node(level, size >> level).error().code == ErrorCode::not_found);
  }
  for (std::uint64_t n = 1; n <= size; ++n) {
    const auto root_n = must(root(nodes, n));
    if (root_n != must(root(reference, n))) FAIL("root of size " << n << " differs");
    for (std::uint64_t i = 0; i < n; ++i) {
      const auto proof = must(inclusion_proof(nodes, i, n));
      if (proof != must(inclusion_proof(reference, i, n)) ||
          !verify_inclusion(must(reference.node(0, i)), i, n, proof, root_n)) {
        FAIL("inclusion proof " << i << "/" << n << " differs or does not verify");
      }
    }
    for (std::uint64_t m = 1; m <= n; ++m) {
      const auto proof = must(consistency_proof(nodes, m, n));
      if (proof != must(consistency_proof(reference, m, n)) ||
          !verify_consistency(m, n, must(root(reference, m)), root_n, proof)) {
        FAIL("consistency proof " << m << " -> " << n << " differs or does not verify");
      }
    }
  }
}

}  // namespace

TEST_CASE("The store's log nodes give MemoryLog's roots and proofs, also after reopening") {
  test::TempDir dir;
  const auto path = dir.path() / "store.db";
  constexpr std::uint8_t kFirstBatch = 45;
  constexpr std::uint8_t kTotal = 70;
  MemoryLog reference;
  {
    auto store = open_store(path);
    StoreNodeSource empty(*store);
    CHECK(must(root(empty, 0)) == empty_tree_root());
    // One message per commit, then a group commit of many.
    for (std::uint8_t n = 1; n <= 10; ++n) {
      const auto message = make_message(n, {"gh.focal-point"});
      insert_committed(*store, message);
      reference.append(leaf_hash(message.log_leaf_data));
    }
    require_ok(store->begin());
    for (std::uint8_t n = 11; n <= kFirstBatch; ++n) {
      const auto message = make_message(n, {"gh.focal-point"});
      must(store->insert_message(message, kNowMs));
      reference.append(leaf_hash(message.log_leaf_data));
    }
    require_ok(store->commit());
    check_log_matches(*store, reference);

    // A message that fails (a duplicate id) leaves no node behind, nor does a rollback.
    require_ok(store->begin());
    CHECK(store->insert_message(make_message(3, {"gh.focal-point"}), kNowMs).error().code == ErrorCode::id_reused);
    must(store->insert_message(make_message(200, {"gh.focal-point"}), kNowMs));
    must(store->insert_message(make_message(201, {"gh.focal-point"}), kNowMs));
    store->rollback();
    check_log_matches(*store, reference);
  }
  auto store = open_store(path);
  check_log_matches(*store, reference);
  for (std::uint8_t n = kFirstBatch + 1; n <= kTotal; ++n) {
    const auto message = make_message(n, {"gh.focal-point"});
    insert_committed(*store, message);
    reference.append(leaf_hash(message.log_leaf_data));
  }
  check_log_matches(*store, reference);
  RawConnection raw(path);
  // n - popcount(n) interior nodes for n leaves: exactly the complete subtrees.
  CHECK(raw.count("log_nodes") == kTotal - std::popcount(unsigned{kTotal}));
}

TEST_CASE("A version 11 store's log nodes are keyed by their completing leaf on opening, proofs unchanged") {
  test::TempDir dir;
  const auto path = dir.path() / "store.db";
  constexpr std::uint8_t kBefore = 45;
  constexpr std::uint8_t kTotal = 70;
  MemoryLog reference;
  {
    auto store = open_store(path);
    require_ok(store->begin());
    for (std::uint8_t n = 1; n <= kBefore; ++n) {
      const auto message = make_message(n, {"gh.focal-point"});
      must(store->insert_message(message, kNowMs));
      reference.append(leaf_hash(message.log_leaf_data));
    }
    require_ok(store->commit());
  }
  {
    RawConnection raw(path);
    undo_log_nodes_by_completing_leaf(raw);
    raw.exec("PRAGMA user_version = 11");
  }
  {
    auto store = open_store(path);
    check_log_matches(*store, reference);
    for (std::uint8_t n = kBefore + 1; n <= kTotal; ++n) {
      const auto message = make_message(n, {"gh.focal-point"});
      insert_committed(*store, message);
      reference.append(leaf_hash(message.log_leaf_data));
    }
    check_log_matches(*store, reference);
  }
  RawConnection raw(path);
  CHECK(raw.text("PRAGMA user_version") == "12");
  CHECK(raw.count("log_nodes") == kTotal - std::popcount(unsigned{kTotal}));
  // Each row's key is the leaf that completes it: the last leaf of its subtree.
  CHECK(raw.text("SELECT COUNT(*) FROM log_nodes WHERE ((completed_by + 1) % (1 << level)) != 0") == "0");
  CHECK(raw.text("SELECT completed_by FROM log_nodes WHERE level = 6") == "63");
}

TEST_CASE("A version 1 store gets its log nodes on opening") {
  test::TempDir dir;
  const auto path = dir.path() / "store.db";
  MemoryLog reference;
  {
    auto store = open_store(path);
    require_ok(store->begin());
    for (std::uint8_t n = 1; n <= 37; ++n) {
      const auto message = make_message(n, {"gh.focal-point"});
      must(store->insert_message(message, kNowMs));
      reference.append(leaf_hash(message.log_leaf_data));
    }
    require_ok(store->commit());
  }
  {
    // What a version 1 file looks like: no log_nodes table.
    RawConnection raw(path);
    raw.exec("DROP TABLE feed");
    raw.exec("DROP TABLE checkpoints");
    raw.exec("DROP TABLE log_facts");
    raw.exec("DROP TABLE id_floors");
    raw.exec("DROP TABLE statistics_runs");
    raw.exec("DROP TABLE statistics_since");
    raw.exec("DROP INDEX lifecycle_by_submission");
    raw.exec("ALTER TABLE lifecycle DROP COLUMN acknowledged_by");
    raw.exec("ALTER TABLE lifecycle DROP COLUMN answered_by");
    raw.exec("DROP INDEX deliveries_confirmed");
    raw.exec("ALTER TABLE watched_serials DROP COLUMN reached_countries");
    undo_receipt_groups(raw);
    undo_serial_ranges(raw);
    raw.exec("DROP TABLE log_nodes");
    raw.exec("PRAGMA user_version = 1");
  }
  {
    auto store = open_store(path);
    check_log_matches(*store, reference);
    const auto message = make_message(38, {"gh.focal-point"});
    insert_committed(*store, message);
    reference.append(leaf_hash(message.log_leaf_data));
    check_log_matches(*store, reference);
  }
  RawConnection raw(path);
  CHECK(raw.text("PRAGMA user_version") == "12");
}

TEST_CASE("An SQLite file that is not an FPX store is refused") {
  test::TempDir dir;
  const auto path = dir.path() / "other.db";
  {
    RawConnection raw(path);
    raw.exec("CREATE TABLE something (x)");
  }
  // Private to its owner, as a store must be: what is refused is its content.
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
  const auto opened = open_sqlite_store(path);
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.error().code == ErrorCode::io_error);
  CHECK_THAT(opened.error().message, Catch::Contains("not an FPX store"));
}

TEST_CASE("A store in a missing directory fails with io_error") {
  test::TempDir dir;
  const auto opened = open_sqlite_store(dir.path() / "missing" / "store.db");
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.error().code == ErrorCode::io_error);
}

TEST_CASE("Audit rows read back in order with their outcomes") {
  test::TempDir dir;
  auto store = open_store(dir.path() / "store.db");
  require_ok(store->begin());
  require_ok(store->append_audit({kNowMs, "", std::nullopt, "zap", ErrorCode::untrusted_chain, "unknown CA"}));
  require_ok(store->append_audit({kNowMs + 1, "sn.focal-point", message_id(1), "accept", ErrorCode::none, ""}));
  require_ok(store->append_audit({kNowMs + 2, "sn.focal-point", message_id(2), "authorize", ErrorCode::unauthorized,
                                  "agencies cannot send to observers"}));
  require_ok(store->commit());

  const auto rows = must(store->audit_rows(0, 10));
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].id < rows[1].id);
  CHECK(rows[1].id < rows[2].id);
  CHECK(rows[0].principal.empty());
  CHECK_FALSE(rows[0].message_id.has_value());
  CHECK(rows[0].stage == "zap");
  CHECK(rows[0].outcome == ErrorCode::untrusted_chain);
  CHECK(rows[0].detail == "unknown CA");
  CHECK(rows[1].message_id == message_id(1));
  CHECK(rows[1].outcome == ErrorCode::none);
  CHECK(rows[2].outcome == ErrorCode::unauthorized);
  CHECK(rows[2].at_ms == kNowMs + 2);

  const auto after_first = must(store->audit_rows(rows[0].id, 1));
  REQUIRE(after_first.size() == 1);
  CHECK(after_first[0].id == rows[1].id);
}

TEST_CASE("Audit outcomes are stored as readable names") {
  test::TempDir dir;
  const auto path = dir.path() / "store.db";
  auto store = open_store(path);
  require_ok(store->begin());
  require_ok(store->append_audit({kNowMs, "", std::nullopt, "accept", ErrorCode::none, ""}));
  require_ok(store->append_audit({kNowMs, "", std::nullopt, "open", ErrorCode::bad_signature, ""}));
  require_ok(store->commit());
  RawConnection raw(path);
  CHECK(raw.text("SELECT group_concat(outcome) FROM (SELECT outcome FROM audit ORDER BY id)") ==
        "accepted,bad_signature");
}

TEST_CASE("The store runs in WAL mode and every commit syncs the WAL") {
  test::TempDir dir;
  const auto path = dir.path() / "store.db";
  WalSyncCounter counter;
  auto store = open_store(path);

  RawConnection raw(path);
  CHECK(raw.text("PRAGMA journal_mode") == "wal");

  require_ok(store->begin());
  must(store->insert_message(make_message(1, {"gh.focal-point"}), kNowMs));
  const int before_commit = counter.wal_syncs();
  require_ok(store->commit());
  CHECK(counter.wal_syncs() > before_commit);  // synchronous=FULL: the commit is on disk

  // The counter can tell: a synchronous=NORMAL connection commits without syncing the WAL.
  raw.exec("PRAGMA synchronous = NORMAL");
  const int before_normal = counter.wal_syncs();
  raw.exec("INSERT INTO audit (at_ms, principal, stage, outcome, detail) VALUES (0, '', 'test', 'accepted', '')");
  CHECK(counter.wal_syncs() == before_normal);
}

TEST_CASE("A deferred transaction commits without syncing the WAL, and the next required one syncs again") {
  test::TempDir dir;
  const auto path = dir.path() / "store.db";
  WalSyncCounter counter;
  auto store = open_store(path);

  require_ok(store->begin(Durability::deferred));
  require_ok(store->append_audit(AuditEntry{kNowMs, "gh.focal-point", std::nullopt, "confirm", ErrorCode::none, ""}));
  const int before_deferred = counter.wal_syncs();
  require_ok(store->commit());
  CHECK(counter.wal_syncs() == before_deferred);

  require_ok(store->begin(Durability::required));
  must(store->insert_message(make_message(1, {"gh.focal-point"}), kNowMs));
  const int before_required = counter.wal_syncs();
  require_ok(store->commit());
  CHECK(counter.wal_syncs() > before_required);
}

TEST_CASE("A leaf's parts, salts and metadata are kept sealed beside it, for a later reveal") {
  test::TempDir dir;
  const auto path = dir.path() / "store.db";
  auto store = open_store(path);
  NewMessage message = make_message(1, {"gh.focal-point"});
  message.log_parts.push_back({Bytes(16, 0x5a), "tracing_request|SN|GH,|20419", std::nullopt, CountryCode{}, ""});
  message.log_parts.push_back({Bytes(16, 0x6b), R"({"fact":"request","requested":"GH"})", message.id,
                               CountryCode("GH"), "request"});
  std::vector<Sha256Digest> part_hashes;
  for (const auto& part : message.log_parts) part_hashes.push_back(stats::commitment_part_hash(part.salt, part.metadata));
  message.log_leaf_data = stats::leaf_data_of_parts(part_hashes);
  auto inserted = insert_committed(*store, message);
  RawConnection raw(path);
  const std::string index = std::to_string(inserted.log_index);
  // One value on the leaf's row (schema 6), not a row per part; one
  // log_facts row for the one tracing its facts are about.
  CHECK(raw.text("SELECT instr(parts, CAST(? AS BLOB)) > 0 FROM log_leaves WHERE leaf_index = " + index,
                 message.log_parts[0].metadata) == "1");
  CHECK(raw.text("SELECT instr(hex(parts), '6B6B6B6B6B6B6B6B6B6B6B6B6B6B6B6B') > 0 FROM log_leaves WHERE leaf_index = " +
                 index) == "1");
  CHECK(raw.count("log_facts") == 1);
  // The public leaf is the commitment to the parts, not the metadata.
  CHECK(to_hex(must(store->log_node(0, inserted.log_index))) == to_hex(leaf_hash(message.log_leaf_data)));
  CHECK(must(store->commitment_part_hashes(inserted.log_index)) == part_hashes);
  // The fact part is found by its tracing; the event part is not a fact.
  auto facts = must(store->facts_of_tracing(message.id, CountryCode("GH")));
  REQUIRE(facts.size() == 1);
  CHECK(facts[0].part == 1);
  CHECK(facts[0].fact == "request");
  CHECK(facts[0].metadata == message.log_parts[1].metadata);
}

TEST_CASE("The WAL is checkpointed only by checkpoint(), after which it is written again from its start") {
  test::TempDir dir;
  const auto path = dir.path() / "store.db";
  const fs::path wal = path.string() + "-wal";
  auto store = open_store(path);
  const auto db_size_before = fs::file_size(path);

  // Well past SQLite's default auto-checkpoint threshold (1000 pages, 4 MiB).
  require_ok(store->begin());
  for (std::uint8_t n = 1; n <= 60; ++n) {
    auto message = make_message(n, {"gh.focal-point"});
    message.envelope = Bytes(100 * 1024, n);
    must(store->insert_message(message, kNowMs));
  }
  require_ok(store->commit());
  insert_committed(*store, make_message(100, {"gh.focal-point"}));

  CHECK(fs::file_size(wal) > 5 * 1024 * 1024);
  CHECK(fs::file_size(path) == db_size_before);  // nothing copied back behind our back

  require_ok(store->checkpoint());
  CHECK(fs::file_size(path) > 5 * 1024 * 1024);
  // The file is kept (under journal_size_limit) and overwritten from its
  // start: a commit after the checkpoint does not grow it.
  const auto wal_after_checkpoint = fs::file_size(wal);
  insert_committed(*store, make_message(101, {"gh.focal-point"}));
  CHECK(fs::file_size(wal) == wal_after_checkpoint);
  CHECK(must(store->find_message(message_id(60))).has_value());
  CHECK(must(store->log_size()) == 62);
}

TEST_CASE("Background checkpoints copy committed transactions back while the writer goes on") {
  test::TempDir dir;
  const auto path = dir.path() / "store.db";
  auto store = open_store(path);
  const auto db_size_before = fs::file_size(path);
  require_ok(store->start_background_checkpoints(std::chrono::milliseconds(20)));
  // The writer keeps committing; it never waits for the checkpoints.
  for (std::uint8_t n = 1; n <= 60; ++n) {
    auto message = make_message(n, {"gh.focal-point"});
    message.envelope = Bytes(100 * 1024, n);
    insert_committed(*store, message);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (fs::file_size(path) < db_size_before + 5 * 1024 * 1024 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(fs::file_size(path) > db_size_before + 5 * 1024 * 1024);  // copied back by the checkpoint thread
  CHECK_FALSE(store->take_background_checkpoint_error().has_value());
  CHECK(must(store->log_size()) == 60);
}

TEST_CASE("Under a writer that never stops for long the WAL still restarts and does not grow with every commit") {
  // Found with fpx-bench --lean: checkpoints that only copied (PASSIVE)
  // never let the WAL restart while the loop committed several times a
  // fsync, and it grew by every commit's pages (3 GB in 30 s at 1000
  // messages/s). The writer here pauses between commits about as long as
  // the broker's loop does while its sync runs; 128 MB of frames go through.
  test::TempDir dir;
  const auto path = dir.path() / "store.db";
  const fs::path wal = path.string() + "-wal";
  auto store = open_store(path);
  require_ok(store->start_background_checkpoints(std::chrono::milliseconds(10)));
  std::uintmax_t largest_wal = 0;
  constexpr int kCommits = 1200;  // each about 13 pages of 8 KiB
  for (int n = 0; n < kCommits; ++n) {
    auto message = make_message(static_cast<std::uint8_t>(n % 200 + 1), {"gh.focal-point"});
    std::memcpy(message.id.bytes.data(), &n, sizeof n);
    message.signed_sha256 = sha256(as_bytes("signed " + std::to_string(n)));
    message.envelope = Bytes(100 * 1024, static_cast<std::uint8_t>(n));
    require_ok(store->begin(Durability::deferred));
    must(store->insert_message(message, kNowMs));
    require_ok(store->commit());
    largest_wal = std::max(largest_wal, fs::file_size(wal));
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  CHECK_FALSE(store->take_background_checkpoint_error().has_value());
  // Without restarts the WAL held every frame: 217 MB here (7-24 MB with them).
  CHECK(largest_wal < 80 * 1024 * 1024);
  CHECK(must(store->log_size()) == kCommits);
}

TEST_CASE("Delivery states have their stored names") {
  CHECK(delivery_state_name(DeliveryState::stored) == "stored");
  CHECK(delivery_state_name(DeliveryState::delivered) == "delivered");
  CHECK(delivery_state_name(DeliveryState::confirmed) == "confirmed");
  CHECK(delivery_state_name(DeliveryState::dead_letter) == "dead_letter");
}

TEST_CASE("A version 3 store keeps its single commitments as part 0 of each leaf") {
  test::TempDir dir;
  const auto path = dir.path() / "store.db";
  NewMessage message = make_message(1, {"gh.focal-point"});
  message.log_parts.push_back({Bytes(16, 0x5a), "tracing_request|SN|GH,|20419", std::nullopt, CountryCode{}, ""});
  const auto part_hash = stats::commitment_part_hash(message.log_parts[0].salt, message.log_parts[0].metadata);
  message.log_leaf_data = stats::leaf_data_of_parts(std::vector<Sha256Digest>{part_hash});
  std::uint64_t leaf_index = 0;
  {
    auto store = open_store(path);
    leaf_index = insert_committed(*store, message).log_index;
  }
  {
    // What a version 3 file looks like: one commitment per leaf, no statistics runs.
    RawConnection raw(path);
    raw.exec("CREATE TABLE log_commitments (leaf_index INTEGER PRIMARY KEY, salt BLOB NOT NULL, metadata TEXT NOT NULL)");
    raw.exec("INSERT INTO log_commitments VALUES (" + std::to_string(leaf_index) + ", x'" +
             to_hex(message.log_parts[0].salt) + "', '" + message.log_parts[0].metadata + "')");
    raw.exec("DROP TABLE log_facts");
    raw.exec("DROP TABLE id_floors");
    raw.exec("DROP TRIGGER feed_keep_newest");
    raw.exec("DROP TABLE statistics_runs");
    raw.exec("DROP TABLE statistics_since");
    raw.exec("DROP INDEX lifecycle_by_submission");
    raw.exec("ALTER TABLE lifecycle DROP COLUMN acknowledged_by");
    raw.exec("ALTER TABLE lifecycle DROP COLUMN answered_by");
    raw.exec("DROP INDEX deliveries_confirmed");
    raw.exec("ALTER TABLE watched_serials DROP COLUMN reached_countries");
    undo_receipt_groups(raw);
    undo_serial_ranges(raw);
    raw.exec("PRAGMA user_version = 3");
  }
  auto store = open_store(path);
  CHECK(must(store->commitment_part_hashes(leaf_index)) == std::vector<Sha256Digest>{part_hash});
  CHECK(must(store->last_statistics_period("day")) == std::nullopt);
  RawConnection raw(path);
  CHECK(raw.text("PRAGMA user_version") == "12");
  // Statistics start at the upgrade: earlier leaves have no facts to reveal.
  CHECK(std::stoll(raw.text("SELECT since_ms FROM statistics_since")) > 1'700'000'000'000LL);
}

namespace {

// Every statement SQLite runs on connections opened while it lives: the
// store keeps its handle private, so an auto-extension traces each
// connection as it opens. SQLite's callbacks carry no state of their own.
std::vector<std::string> traced_statements;

int record_statement(unsigned /*type*/, void* /*context*/, void* /*statement*/, void* sql) {
  const auto* text = static_cast<const char*>(sql);
  if (text != nullptr && std::strncmp(text, "--", 2) != 0) traced_statements.emplace_back(text);
  return 0;
}

int trace_connection(sqlite3* db, char** /*error*/, const sqlite3_api_routines* /*api*/) {
  sqlite3_trace_v2(db, SQLITE_TRACE_STMT, record_statement, nullptr);
  return SQLITE_OK;
}

class StatementTrace {
 public:
  StatementTrace() {
    traced_statements.clear();
    sqlite3_auto_extension(reinterpret_cast<void (*)()>(trace_connection));
  }
  ~StatementTrace() { sqlite3_cancel_auto_extension(reinterpret_cast<void (*)()>(trace_connection)); }
  StatementTrace(const StatementTrace&) = delete;
  StatementTrace& operator=(const StatementTrace&) = delete;

  std::size_t count_containing(std::string_view text) const {
    return static_cast<std::size_t>(std::count_if(traced_statements.begin(), traced_statements.end(),
                                                  [&](const std::string& sql) { return sql.find(text) != std::string::npos; }));
  }
  void clear() { traced_statements.clear(); }
};

}  // namespace

TEST_CASE("Inside the broker's savepoint a message opens no savepoint of its own and a failure is undone with it") {
  test::TempDir dir;
  StatementTrace trace;
  auto store = open_store(dir.path() / "store.db");
  require_ok(store->begin());

  // Outside the broker's savepoint (tests, tools): the store keeps a message all-or-nothing itself.
  trace.clear();
  must(store->insert_message(make_message(1, {"gh.focal-point"}), kNowMs));
  CHECK(trace.count_containing("SAVEPOINT insert_message") == 1);

  // Inside it: one savepoint per message, the broker's.
  trace.clear();
  require_ok(store->open_savepoint());
  must(store->insert_message(make_message(2, {"gh.focal-point"}), kNowMs));
  require_ok(store->release_savepoint());
  CHECK(trace.count_containing("SAVEPOINT") == 1);
  CHECK(trace.count_containing("SAVEPOINT insert_message") == 0);

  // A refused message inside it writes nothing, and rolling the savepoint back undoes the rest.
  require_ok(store->open_savepoint());
  auto listed_twice = store->insert_message(make_message(3, {"ng.focal-point", "ng.focal-point"}), kNowMs);
  REQUIRE_FALSE(listed_twice.ok());
  CHECK(listed_twice.error().code == ErrorCode::invalid_argument);
  store->rollback_savepoint();
  require_ok(store->commit());

  CHECK(pending_ids(*store, "gh.focal-point").size() == 2);
  CHECK(pending_ids(*store, "ng.focal-point").empty());
  CHECK(must(store->find_message(message_id(3))) == std::nullopt);
  CHECK(must(store->log_size()) == 2);
}

TEST_CASE("The newest message delivery audit row and feed record cannot be deleted so their ids are never reused") {
  test::TempDir dir;
  const auto path = dir.path() / "store.db";
  auto store = open_store(path);
  insert_committed(*store, make_message(1, {"gh.focal-point"}));
  insert_committed(*store, make_message(2, {"gh.focal-point"}));
  require_ok(store->begin());
  for (std::uint64_t sequence = 1; sequence <= 2; ++sequence) {
    require_ok(store->append_audit({kNowMs, "sn.focal-point", std::nullopt, "accept", ErrorCode::malformed, "x"}));
    require_ok(store->append_feed({sequence, "statistics", Bytes{0x7b, 0x7d}, Bytes(64, 1)}, kNowMs));
  }
  require_ok(store->commit());
  const auto before = pending_ids(*store, "gh.focal-point");
  REQUIRE(before.size() == 2);

  RawConnection raw(path);
  CHECK_THAT(raw.try_exec("DELETE FROM deliveries WHERE delivery_id = " + std::to_string(before[1])),
             Catch::Contains("never deleted"));
  CHECK_THAT(raw.try_exec("DELETE FROM messages WHERE seq = (SELECT MAX(seq) FROM messages)"),
             Catch::Contains("never deleted"));
  CHECK_THAT(raw.try_exec("DELETE FROM audit WHERE id = (SELECT MAX(id) FROM audit)"), Catch::Contains("never deleted"));
  CHECK_THAT(raw.try_exec("DELETE FROM feed WHERE seq = 2"), Catch::Contains("never deleted"));
  // Older rows may go (a retention job), and ids still only grow.
  CHECK(raw.try_exec("DELETE FROM deliveries WHERE delivery_id = " + std::to_string(before[0])).empty());
  CHECK(raw.try_exec("DELETE FROM feed WHERE seq = 1").empty());
  insert_committed(*store, make_message(3, {"gh.focal-point"}));
  const auto after = pending_ids(*store, "gh.focal-point");
  REQUIRE(after.size() == 2);
  CHECK(after[1] > before[1]);
  CHECK(must(store->next_feed_sequence()) == 3);
}

TEST_CASE("The daily quota's read of a sender's bytes is a range of an index and not a scan of the messages") {
  test::TempDir dir;
  const auto path = dir.path() / "store.db";
  auto store = open_store(path);
  insert_committed(*store, make_message(1, {"gh.focal-point"}));
  NewMessage other = make_message(2, {"sn.focal-point"});
  other.sender = ParticipantId("gh.focal-point");
  insert_committed(*store, other);
  insert_committed(*store, make_message(3, {"gh.focal-point"}));
  // make_message(n) has an envelope of 100 + n bytes.
  CHECK(must(store->bytes_stored_since(ParticipantId("sn.focal-point"), kNowMs)) == 101 + 103);
  CHECK(must(store->bytes_stored_since(ParticipantId("sn.focal-point"), kNowMs + 1)) == 0);

  RawConnection raw(path);
  // The store's own statement (statements.cpp, bytes_stored_since_), planned from outside.
  const std::string plan = raw.plan(
      "SELECT COALESCE(SUM(length(envelope)), 0) FROM messages WHERE sender = 'sn.focal-point' AND stored_at_ms >= 0");
  INFO(plan);
  CHECK_THAT(plan, Catch::Contains("USING INDEX messages_by_sender"));
  CHECK_THAT(plan, !Catch::Contains("SCAN"));
}

TEST_CASE("A version 5 store written by the previous broker migrates in place to version 6 and goes on") {
  // Written by fpx-bench-store (--tracing 2 --keep-dir) built from the
  // code of schema 5: 20 tracing requests of 2,500 bytes to gh and ne focal
  // points, each with a leaf of 8 sealed parts (two facts about itself, GH
  // and NE), its receipt, a GH lifecycle row and an audit row.
  constexpr std::int64_t kFixtureMessages = 20;
  test::TempDir dir;
  const auto path = dir.path() / "store.db";
  fs::copy_file(fs::path(FPX_SOURCE_DIR) / "tests/unit/broker/store_v5_fixture.db", path);
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
  {
    RawConnection raw(path);
    REQUIRE(raw.text("PRAGMA user_version") == "5");
    REQUIRE(raw.count("messages") == kFixtureMessages);
    REQUIRE(raw.count("log_commitment_parts") == 8 * kFixtureMessages);
  }

  auto store = open_store(path);
  {
    RawConnection raw(path);
    CHECK(raw.text("PRAGMA user_version") == "12");
    CHECK(raw.text("SELECT COUNT(*) FROM sqlite_schema WHERE sql LIKE '%AUTOINCREMENT%'") == "0");
    CHECK(raw.text("SELECT COUNT(*) FROM sqlite_schema WHERE name = 'log_commitment_parts'") == "0");
    CHECK(raw.count("messages") == kFixtureMessages);
    CHECK(raw.count("deliveries") == 2 * kFixtureMessages);
    CHECK(raw.count("log_facts") == kFixtureMessages);
    CHECK(raw.count("audit") == kFixtureMessages);
  }

  const auto pending = must(store->pending_deliveries(ParticipantId("gh.focal-point"), 0, 100));
  REQUIRE(static_cast<std::int64_t>(pending.size()) == kFixtureMessages);
  std::int64_t last_seq = 0;
  for (const auto& delivery : pending) {
    const auto message = must(store->find_message(delivery.message_id));
    REQUIRE(message.has_value());
    CHECK(message->seq > last_seq);
    last_seq = message->seq;
    // Its receipt, signed alone by the version 5 broker, is its holder's now:
    // a resend would be receipted again, in a group.
    CHECK_FALSE(must(store->receipt_group_of(message->seq)).has_value());
    CHECK(delivery.envelope.size() == 2500);
    // The parts came through bit for bit: they still hash to the public leaf.
    const auto hashes = must(store->commitment_part_hashes(message->log_index));
    REQUIRE(hashes.size() == 8);
    CHECK(leaf_hash(stats::leaf_data_of_parts(hashes)) == must(store->log_node(0, message->log_index)));
    for (const char* country : {"GH", "NE"}) {
      const auto facts = must(store->facts_of_tracing(delivery.message_id, CountryCode(country)));
      REQUIRE(facts.size() == 1);
      CHECK(facts[0].leaf_index == message->log_index);
      CHECK(facts[0].fact == "submitted");
      CHECK(stats::commitment_part_hash(facts[0].salt, facts[0].metadata) == hashes[facts[0].part]);
    }
    CHECK(must(store->lifecycle_of(delivery.message_id)).size() == 1);
  }
  CHECK(must(store->bytes_stored_since(ParticipantId("sn.focal-point"), 0)) == 2500 * kFixtureMessages);

  // It goes on: the log stays dense, seqs and delivery ids keep growing.
  const auto inserted = insert_committed(*store, make_message(1, {"gh.focal-point", "ne.focal-point"}));
  CHECK(inserted.seq == kFixtureMessages + 1);
  CHECK(inserted.log_index == static_cast<std::uint64_t>(kFixtureMessages));
  const auto now_pending = must(store->pending_deliveries(ParticipantId("gh.focal-point"), 0, 100));
  REQUIRE(now_pending.size() == pending.size() + 1);
  CHECK(now_pending.back().delivery_id > pending.back().delivery_id);
  require_ok(store->begin());
  require_ok(store->append_audit({kNowMs, "sn.focal-point", std::nullopt, "accept", ErrorCode::malformed, "x"}));
  require_ok(store->commit());
  const auto audit = must(store->audit_rows(0, 100));
  REQUIRE(static_cast<std::int64_t>(audit.size()) == kFixtureMessages + 1);
  CHECK(audit.back().id == kFixtureMessages + 1);
}

TEST_CASE("A version 5 store whose newest delivery and audit row were deleted does not reuse their ids after "
          "the migration") {
  // Review finding: version 5 ids were AUTOINCREMENT, so deleting the newest
  // row (a retention job or an operator's clean-up, which version 5 allowed)
  // never made its id come back: sqlite_sequence remembered it. Schema 6
  // drops AUTOINCREMENT and gives max + 1, without reading sqlite_sequence,
  // so the id of a row deleted under version 5 is handed out again: a
  // delivery id a recipient already saw (and may confirm) names another
  // message, and an audit id names another decision.
  test::TempDir dir;
  const auto path = dir.path() / "store.db";
  fs::copy_file(fs::path(FPX_SOURCE_DIR) / "tests/unit/broker/store_v5_fixture.db", path);
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
  std::int64_t deleted_delivery = 0;
  std::int64_t deleted_audit = 0;
  {
    RawConnection raw(path);
    REQUIRE(raw.text("PRAGMA user_version") == "5");
    deleted_delivery = std::stoll(raw.text("SELECT MAX(delivery_id) FROM deliveries"));
    deleted_audit = std::stoll(raw.text("SELECT MAX(id) FROM audit"));
    REQUIRE(raw.try_exec("DELETE FROM deliveries WHERE delivery_id = " + std::to_string(deleted_delivery)).empty());
    REQUIRE(raw.try_exec("DELETE FROM audit WHERE id = " + std::to_string(deleted_audit)).empty());
    // Version 5 itself would not reuse them.
    REQUIRE(std::stoll(raw.text("SELECT seq FROM sqlite_sequence WHERE name = 'deliveries'")) == deleted_delivery);
  }

  auto store = open_store(path);
  insert_committed(*store, make_message(1, {"gh.focal-point"}));
  require_ok(store->begin());
  require_ok(store->append_audit({kNowMs, "sn.focal-point", std::nullopt, "accept", ErrorCode::malformed, "x"}));
  require_ok(store->commit());

  RawConnection raw(path);
  CHECK(std::stoll(raw.text("SELECT MAX(delivery_id) FROM deliveries")) > deleted_delivery);
  CHECK(std::stoll(raw.text("SELECT MAX(id) FROM audit")) > deleted_audit);
}

TEST_CASE("A version 6 store gains receipt groups and drops the receipt column of its messages") {
  test::TempDir dir;
  const auto path = dir.path() / "store.db";
  std::int64_t seq = 0;
  {
    auto store = open_store(path);
    seq = insert_committed(*store, make_message(1, {"gh.focal-point"})).seq;
  }
  {
    RawConnection raw(path);
    undo_receipt_groups(raw);
    undo_serial_ranges(raw);
    raw.exec("UPDATE messages SET receipt = x'00'");  // a version 1 receipt, signed alone
    raw.exec("PRAGMA user_version = 6");
  }
  {
    auto store = open_store(path);
    // Its old receipt is gone: a resend is receipted again, in a new group.
    CHECK_FALSE(must(store->receipt_group_of(seq)).has_value());
    require_ok(store->begin());
    require_ok(store->insert_receipt_group(group_row(0x11, 1), std::vector<ReceiptMember>{{seq, 0}}));
    require_ok(store->commit());
    CHECK(must(store->receipt_group_of(seq)).has_value());
    CHECK(must(store->find_message(message_id(1))).has_value());
  }
  RawConnection raw(path);
  CHECK(raw.text("PRAGMA user_version") == "12");
  CHECK(raw.text("SELECT COUNT(*) FROM pragma_table_info('messages') WHERE name = 'receipt'") == "0");
  // Schema 8 (issue 12 item 5): the early warnings' table, empty.
  CHECK(raw.count("warnings") == 0);
  // Schema 9 (issue 14): the watch list's serial ranges.
  CHECK(raw.text("SELECT COUNT(*) FROM pragma_table_info('watched_serials') WHERE name IN ('range_low', "
                 "'range_high')") == "2");
  // Schema 10: duplicate-request keys, marked for the broker's one backfill.
  CHECK(raw.count("request_keys") == 0);
  CHECK(raw.text("SELECT pending FROM request_keys_backfill") == "1");
  // Schema 11: a row stored before it is not its own acceptance record (its
  // audit row, written then, is), so audit_trail does not count it twice.
  CHECK(raw.text("SELECT COUNT(*) FROM messages WHERE accepted_for IS NULL AND officer IS NULL") == "1");
  CHECK(raw.text("SELECT COUNT(*) FROM audit_trail WHERE outcome = 'accepted'") == "0");
}

TEST_CASE("A submission's message row is its acceptance's audit record and a broker notice's is not") {
  test::TempDir dir;
  auto store = open_store(dir.path() / "store.db");
  CHECK(store->acceptance_record() == AcceptanceRecord::message_row);
  auto by_officer = make_message(1, {"gh.focal-point", "ng.focal-point"});
  by_officer.officer = "amadou";
  auto notice = make_message(2, {"gh.focal-point"});
  notice.origin = MessageOrigin::broker_notice;
  auto plain = make_message(3, {"ng.focal-point"});
  insert_committed(*store, by_officer);
  insert_committed(*store, notice);
  insert_committed(*store, plain);
  require_ok(store->begin());
  require_ok(store->append_audit({kNowMs + 1, "gh.focal-point", message_id(1), "open", ErrorCode::bad_signature, "x"}));
  require_ok(store->commit());
  // No audit row of its own: the audit table holds only the refusal.
  const auto rows = must(store->audit_rows(0, 10));
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].outcome == ErrorCode::bad_signature);

  RawConnection raw(dir.path() / "store.db");
  CHECK(raw.text("SELECT group_concat(principal || ' ' || hex(message_id) || ' ' || stage || ' ' || outcome || ' ' || "
                 "detail || ' ' || (at_ms = " + std::to_string(kNowMs) + "), '|') FROM (SELECT * FROM audit_trail "
                 "WHERE outcome = 'accepted' ORDER BY message_id)") ==
        by_officer.sender.str() + "/amadou " + message_id(1).hex() + " persist accepted " + by_officer.type +
            " accepted for 2 recipient(s); signed by officer amadou 1|" + plain.sender.str() + " " +
            message_id(3).hex() + " persist accepted " + plain.type + " accepted for 1 recipient(s) 1");
  CHECK(raw.text("SELECT COUNT(*) FROM audit_trail") == "3");
}

TEST_CASE("A new store uses 8 KiB pages and an existing file keeps its own") {
  test::TempDir dir;
  { open_store(dir.path() / "new.db"); }
  CHECK(RawConnection(dir.path() / "new.db").text("PRAGMA page_size") == "8192");
  {
    // A file already in WAL mode with 4 KiB pages (as every store before schema 11).
    RawConnection raw(dir.path() / "old.db");
    raw.exec("PRAGMA page_size = 4096");
    raw.exec("PRAGMA journal_mode = WAL");
    raw.exec("CREATE TABLE t (x); DROP TABLE t");
  }
  for (const char* name : {"old.db", "old.db-wal", "old.db-shm"}) {
    if (fs::exists(dir.path() / name)) fs::permissions(dir.path() / name, fs::perms::owner_read | fs::perms::owner_write);
  }
  { open_store(dir.path() / "old.db"); }
  CHECK(RawConnection(dir.path() / "old.db").text("PRAGMA page_size") == "4096");
}

TEST_CASE("Duplicate-request keys are found the same before and after a commit folds them into request_keys") {
  test::TempDir dir;
  auto store = open_store(dir.path() / "store.db");
  insert_committed(*store, make_message(1, {"gh.focal-point"}));
  insert_committed(*store, make_message(2, {"gh.focal-point"}));
  const auto lifecycle = [](std::uint8_t n) {
    LifecycleRow row;
    row.request_id = message_id(n);
    row.requested_country = CountryCode("GH");
    row.requester = ParticipantId("sn.focal-point");
    row.requester_country = CountryCode("SN");
    row.priority = "routine";
    row.state = "submitted";
    row.submitted_at_ms = kNowMs;
    row.ack_due_ms = kNowMs + 1000;
    row.response_due_ms = kNowMs + 5000;
    row.updated_at_ms = kNowMs;
    return row;
  };
  RequestKey shared{};
  shared.fill(0xaa);
  const auto found = [&] {
    std::vector<MessageId> out;
    for (const auto& row : must(store->open_requests_with_keys(CountryCode("SN"), std::vector<RequestKey>{shared},
                                                               kNowMs - 1, kNowMs + 10, message_id(9), 10))) {
      out.push_back(row.request_id);
    }
    return out;
  };
  RawConnection raw(dir.path() / "store.db");
  require_ok(store->begin());
  require_ok(store->insert_lifecycle(lifecycle(1)));
  require_ok(store->insert_lifecycle(lifecycle(2)));
  require_ok(store->insert_request_keys(message_id(1), CountryCode("SN"), kNowMs, std::vector<RequestKey>{shared}));
  require_ok(store->commit());
  // Below the fold's threshold: the key waits in the small table.
  CHECK(raw.count("request_keys_recent") == 1);
  CHECK(raw.count("request_keys") == 0);
  CHECK(found() == std::vector<MessageId>{message_id(1)});

  // Request 2 brings enough other keys for the commit to fold them all.
  std::vector<RequestKey> many(1100);
  for (std::size_t i = 0; i < many.size(); ++i) {
    many[i].fill(0);
    many[i][0] = static_cast<std::uint8_t>(i >> 8);
    many[i][1] = static_cast<std::uint8_t>(i);
  }
  many.push_back(shared);
  require_ok(store->begin());
  require_ok(store->insert_request_keys(message_id(2), CountryCode("SN"), kNowMs + 1, many));
  require_ok(store->commit());
  CHECK(raw.count("request_keys_recent") == 0);
  CHECK(raw.count("request_keys") == 1102);
  CHECK(found() == std::vector<MessageId>{message_id(2), message_id(1)});

  // The same key registered again (as a backfill would) is in both tables
  // for a while: found once, and deleted from both.
  require_ok(store->begin());
  require_ok(store->insert_request_keys(message_id(1), CountryCode("SN"), kNowMs, std::vector<RequestKey>{shared}));
  require_ok(store->commit());
  CHECK(raw.count("request_keys_recent") == 1);
  CHECK(found() == std::vector<MessageId>{message_id(2), message_id(1)});
  require_ok(store->begin());
  require_ok(store->delete_request_keys(message_id(1)));
  require_ok(store->commit());
  CHECK(raw.count("request_keys_recent") == 0);
  CHECK(found() == std::vector<MessageId>{message_id(2)});
}

TEST_CASE("A store reopened with recent duplicate-request keys counts them toward the next fold") {
  test::TempDir dir;
  {
    auto store = open_store(dir.path() / "store.db");
    insert_committed(*store, make_message(1, {"gh.focal-point"}));
    std::vector<RequestKey> keys(1000);
    for (std::size_t i = 0; i < keys.size(); ++i) {
      keys[i].fill(1);
      keys[i][0] = static_cast<std::uint8_t>(i >> 8);
      keys[i][1] = static_cast<std::uint8_t>(i);
    }
    require_ok(store->begin());
    require_ok(store->insert_request_keys(message_id(1), CountryCode("SN"), kNowMs, keys));
    require_ok(store->commit());
  }
  auto store = open_store(dir.path() / "store.db");
  RawConnection raw(dir.path() / "store.db");
  CHECK(raw.count("request_keys_recent") == 1000);
  std::vector<RequestKey> more(30);
  for (std::size_t i = 0; i < more.size(); ++i) {
    more[i].fill(2);
    more[i][0] = static_cast<std::uint8_t>(i);
  }
  require_ok(store->begin());
  require_ok(store->insert_request_keys(message_id(1), CountryCode("SN"), kNowMs, more));
  require_ok(store->commit());
  CHECK(raw.count("request_keys_recent") == 0);
  CHECK(raw.count("request_keys") == 1030);
}
