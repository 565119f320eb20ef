// One suite for every Store: each case runs against the SQLite store (a
// file in a temp dir) and the PostgreSQL store (a database of a throwaway
// cluster, tests/support/postgres_cluster.hpp) through the interface alone,
// so the broker can rely on the same behaviour from both. What only one
// engine has (WAL files, the SQLite migrations, PostgreSQL's DSN rules and
// writer lock) is tested in store_sqlite_test.cpp and at the end here.
#include <sqlite3.h>

#include <bit>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "fpx/broker/config.hpp"
#include "fpx/broker/store.hpp"
#include "fpx/crypto.hpp"
#include "fpx/process_statistics.hpp"
#include "fpx/transparency_log.hpp"
#include "support/postgres_cluster.hpp"
#include "fpx/broker/stage_duplicate.hpp"
#include "support/sample_messages.hpp"
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

// One cluster per test process, started on first use and stopped at exit
// (ctest runs this binary as one test for that reason): initdb and the
// server's start cost seconds on a loaded machine, a database per case
// (CREATE DATABASE, copied from template1) a fraction of one, and keeps each
// case apart from the others.
test::PostgresCluster& cluster() {
  static test::PostgresCluster instance;
  return instance;
}

// One store of the chosen backend, which a case can close and open again.
class StoreUnderTest {
 public:
  explicit StoreUnderTest(const std::string& backend) : backend_(backend) {
    if (backend_ == "postgres") {
      static int databases = 0;
      database_ = "conformance_" + std::to_string(++databases);
      dsn_ = cluster().create_database(database_);
    }
  }
  std::unique_ptr<Store> open() {
    return must(backend_ == "postgres" ? open_postgres_store(dsn_) : open_sqlite_store(dir_.path() / "store.db"));
  }
  // Runs SQL beside the store, as an operator's session would; the engine's
  // error message, or "" when it ran.
  std::string try_exec(const std::string& sql) {
    if (backend_ == "postgres") return cluster().try_exec(database_, sql);
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open((dir_.path() / "store.db").c_str(), &raw) == SQLITE_OK);
    std::unique_ptr<sqlite3, decltype(&sqlite3_close)> db(raw, &sqlite3_close);
    char* message = nullptr;
    const int rc = sqlite3_exec(db.get(), sql.c_str(), nullptr, nullptr, &message);
    std::string text = rc == SQLITE_OK ? "" : (message != nullptr ? message : "failed");
    sqlite3_free(message);
    return text;
  }
  std::int64_t count(const std::string& table) {
    if (backend_ == "postgres") return std::stoll(cluster().scalar(database_, "SELECT COUNT(*) FROM " + table));
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open((dir_.path() / "store.db").c_str(), &raw) == SQLITE_OK);
    std::unique_ptr<sqlite3, decltype(&sqlite3_close)> db(raw, &sqlite3_close);
    sqlite3_stmt* statement = nullptr;
    REQUIRE(sqlite3_prepare_v2(db.get(), ("SELECT COUNT(*) FROM " + table).c_str(), -1, &statement, nullptr) ==
            SQLITE_OK);
    std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> owned(statement, &sqlite3_finalize);
    REQUIRE(sqlite3_step(statement) == SQLITE_ROW);
    return sqlite3_column_int64(statement, 0);
  }

 private:
  std::string backend_;
  test::TempDir dir_;
  std::string database_;
  std::string dsn_;
};

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

ReceiptGroupRow group_row(std::uint8_t tag, std::size_t leaves) {
  ReceiptGroupRow row{Bytes(40, tag), Bytes(64, tag), {}};
  for (std::size_t i = 0; i < leaves; ++i) row.leaves.push_back(sha256(Bytes{tag, static_cast<std::uint8_t>(i)}));
  return row;
}

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
    CHECK(store.log_node(level, size >> level).error().code == ErrorCode::not_found);
  }
  for (std::uint64_t n = 1; n <= size; ++n) {
    const auto root_n = must(root(nodes, n));
    if (root_n != must(root(reference, n))) FAIL("root of size " << n << " differs");
    for (std::uint64_t i = 0; i < n; i += 7) {
      const auto proof = must(inclusion_proof(nodes, i, n));
      if (proof != must(inclusion_proof(reference, i, n))) FAIL("inclusion proof " << i << "/" << n << " differs");
    }
  }
}

#define FPX_EACH_STORE const std::string backend = GENERATE(as<std::string>{}, "sqlite", "postgres"); \
  INFO("store: " << backend);                                                                         \
  StoreUnderTest under_test(backend)

}  // namespace

TEST_CASE("Each store finds a stored message again with every field") {
  FPX_EACH_STORE;
  auto store = under_test.open();
  auto message = make_message(1, {"gh.focal-point"});
  message.in_reply_to = message_id(9);
  require_ok(store->begin());
  const auto inserted = must(store->insert_message(message, kNowMs));
  require_ok(store->commit());

  const auto found = must(store->find_message(message.id));
  REQUIRE(found.has_value());
  CHECK(found->seq == inserted.seq);
  CHECK(found->signed_sha256 == message.signed_sha256);
  CHECK(found->sender == message.sender);
  CHECK(found->sender_country == message.sender_country);
  CHECK(found->type == message.type);
  CHECK(found->created_at_ms == message.created_at_ms);
  CHECK(found->stored_at_ms == kNowMs);
  CHECK(found->log_index == inserted.log_index);
  CHECK(must(store->message_envelope(message.id)) == std::optional<Bytes>(message.envelope));
  const auto pending = must(store->pending_deliveries(ParticipantId("gh.focal-point"), 0, 10));
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].envelope == message.envelope);
  CHECK(pending[0].message_id == message.id);
  CHECK(pending[0].attempts == 0);
  CHECK_FALSE(must(store->find_message(message_id(2))).has_value());
  CHECK_FALSE(must(store->message_envelope(message_id(2))).has_value());
}

TEST_CASE("Each store reads a receipt group back for each of its messages with the message's leaf") {
  FPX_EACH_STORE;
  auto store = under_test.open();
  require_ok(store->begin());
  const auto first = must(store->insert_message(make_message(1, {"gh.focal-point"}), kNowMs));
  const auto second = must(store->insert_message(make_message(2, {"gh.focal-point"}), kNowMs));
  const auto third = must(store->insert_message(make_message(3, {"gh.focal-point"}), kNowMs));
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
  CHECK(must(store->receipt_group_of(third.seq))->group.head == Bytes(40, 0x22));
  CHECK_FALSE(must(store->receipt_group_of(third.seq + 1)).has_value());

  // A second group for the same message is refused and the first kept.
  require_ok(store->begin());
  CHECK_FALSE(store->insert_receipt_group(group_row(0x33, 1), std::vector<ReceiptMember>{{first.seq, 0}}).ok());
  store->rollback();
  CHECK(must(store->receipt_group_of(first.seq))->group.head == row.head);
}

TEST_CASE("Each store refuses a duplicate message id with id_reused and undoes only that message") {
  FPX_EACH_STORE;
  auto store = under_test.open();
  insert_committed(*store, make_message(1, {"gh.focal-point"}));
  require_ok(store->begin());
  const auto second = must(store->insert_message(make_message(2, {"gh.focal-point"}), kNowMs));
  const auto duplicate = store->insert_message(make_message(1, {"ng.focal-point", "ci.focal-point"}), kNowMs);
  REQUIRE_FALSE(duplicate.ok());
  CHECK(duplicate.error().code == ErrorCode::id_reused);
  CHECK_THAT(duplicate.error().message, Catch::Contains(message_id(1).hex()));
  const auto repeated = store->insert_message(make_message(4, {"ng.focal-point", "ng.focal-point"}), kNowMs);
  CHECK(repeated.error().code == ErrorCode::invalid_argument);
  const auto third = must(store->insert_message(make_message(3, {"gh.focal-point"}), kNowMs));
  require_ok(store->commit());

  CHECK(second.log_index == 1);
  CHECK(third.log_index == 2);  // no hole left by the failed ones
  CHECK(pending_ids(*store, "ng.focal-point").empty());
  CHECK(under_test.count("messages") == 3);
  CHECK(under_test.count("deliveries") == 3);
  CHECK(under_test.count("log_leaves") == 3);
}

TEST_CASE("Each store's rollback leaves no message delivery audit row receipt or log leaf") {
  FPX_EACH_STORE;
  auto store = under_test.open();
  require_ok(store->begin());
  const auto inserted = must(store->insert_message(make_message(1, {"gh.focal-point", "ng.focal-point"}), kNowMs));
  require_ok(store->insert_receipt_group(group_row(0x11, 1), std::vector<ReceiptMember>{{inserted.seq, 0}}));
  require_ok(store->append_audit({kNowMs, "sn.focal-point", message_id(1), "accept", ErrorCode::none, ""}));
  store->rollback();

  CHECK_FALSE(must(store->find_message(message_id(1))).has_value());
  CHECK(must(store->audit_rows(0, 10)).empty());
  CHECK(must(store->log_size()) == 0);
  for (const char* table : {"messages", "deliveries", "audit", "log_leaves", "log_nodes", "receipt_groups",
                            "receipt_members"}) {
    INFO(table);
    CHECK(under_test.count(table) == 0);
  }
  CHECK(insert_committed(*store, make_message(2, {"gh.focal-point"})).log_index == 0);
}

TEST_CASE("Each store undoes a refused message with the broker's savepoint and commits the rest") {
  FPX_EACH_STORE;
  auto store = under_test.open();
  require_ok(store->begin());
  require_ok(store->open_savepoint());
  must(store->insert_message(make_message(1, {"gh.focal-point"}), kNowMs));
  require_ok(store->release_savepoint());
  // A duplicate inside the savepoint: the store opens none of its own, the
  // broker rolls its savepoint back, and the batch goes on.
  require_ok(store->open_savepoint());
  must(store->insert_message(make_message(2, {"gh.focal-point"}), kNowMs));
  CHECK(store->insert_message(make_message(1, {"ng.focal-point"}), kNowMs).error().code == ErrorCode::id_reused);
  store->rollback_savepoint();
  require_ok(store->open_savepoint());
  must(store->insert_message(make_message(3, {"gh.focal-point"}), kNowMs));
  require_ok(store->release_savepoint());
  require_ok(store->commit());

  CHECK(pending_ids(*store, "gh.focal-point").size() == 2);
  CHECK_FALSE(must(store->find_message(message_id(2))).has_value());
  CHECK(must(store->find_message(message_id(3)))->log_index == 1);
  CHECK(must(store->log_size()) == 2);
}

TEST_CASE("Each store pages pending deliveries in arrival order and only the recipient's own") {
  FPX_EACH_STORE;
  auto store = under_test.open();
  require_ok(store->begin());
  must(store->insert_message(make_message(1, {"gh.focal-point", "ng.focal-point"}), kNowMs));
  must(store->insert_message(make_message(2, {"ng.focal-point"}), kNowMs));
  must(store->insert_message(make_message(3, {"gh.focal-point"}), kNowMs));
  require_ok(store->commit());
  insert_committed(*store, make_message(4, {"ng.focal-point", "gh.focal-point"}));

  auto ids_of = [&](const std::string& recipient) {
    std::vector<MessageId> ids;
    for (const auto& row : must(store->pending_deliveries(ParticipantId(recipient), 0, 100))) {
      ids.push_back(row.message_id);
    }
    return ids;
  };
  CHECK(ids_of("gh.focal-point") == std::vector{message_id(1), message_id(3), message_id(4)});
  CHECK(ids_of("ng.focal-point") == std::vector{message_id(1), message_id(2), message_id(4)});
  CHECK(ids_of("ci.focal-point").empty());
  const auto gh = pending_ids(*store, "gh.focal-point");
  REQUIRE(gh.size() == 3);
  CHECK(pending_ids(*store, "gh.focal-point", gh[0], 1) == std::vector{gh[1]});
  CHECK(pending_ids(*store, "gh.focal-point", gh[2]).empty());
}

TEST_CASE("Each store confirms only the recipient's own deliveries and keeps delivered ones pending") {
  FPX_EACH_STORE;
  auto store = under_test.open();
  insert_committed(*store, make_message(1, {"gh.focal-point", "ng.focal-point"}));
  insert_committed(*store, make_message(2, {"gh.focal-point"}));
  const auto gh = pending_ids(*store, "gh.focal-point");
  REQUIRE(gh.size() == 2);

  require_ok(store->begin());
  CHECK(must(store->confirm_deliveries(ParticipantId("ng.focal-point"), gh, kNowMs)) == 0);
  require_ok(store->mark_delivered(gh[0], kNowMs + 1));
  require_ok(store->mark_delivered(gh[1], kNowMs + 1));
  require_ok(store->mark_delivered(gh[1], kNowMs + 2));
  require_ok(store->commit());
  const auto pending = must(store->pending_deliveries(ParticipantId("gh.focal-point"), 0, 10));
  REQUIRE(pending.size() == 2);
  CHECK(pending[0].attempts == 1);
  CHECK(pending[1].attempts == 2);

  require_ok(store->begin(Durability::deferred));
  const std::vector<std::uint64_t> first{gh[0]};
  CHECK(must(store->confirm_deliveries(ParticipantId("gh.focal-point"), first, kNowMs + 3)) == 1);
  CHECK(must(store->confirm_deliveries(ParticipantId("gh.focal-point"), first, kNowMs + 4)) == 0);
  require_ok(store->mark_delivered(gh[0], kNowMs + 5));  // a late redelivery does not reopen it
  require_ok(store->commit());
  CHECK(pending_ids(*store, "gh.focal-point") == std::vector{gh[1]});
  const auto status = must(store->delivery_status(message_id(1)));
  REQUIRE(status.size() == 2);
  CHECK(status[0].recipient == ParticipantId("gh.focal-point"));
  CHECK(status[0].state == DeliveryState::confirmed);
  CHECK(status[0].updated_at_ms == kNowMs + 3);
  CHECK(status[1].state == DeliveryState::stored);

  // An officer's catch-up: the newest confirmed within their hold, oldest first.
  CHECK(must(store->confirmed_deliveries(ParticipantId("gh.focal-point"), 0, kNowMs, 10)).at(0).delivery_id == gh[0]);
  CHECK(must(store->confirmed_deliveries(ParticipantId("gh.focal-point"), 0, kNowMs + kHoldMs + 1, 10)).empty());
  CHECK(must(store->confirmed_deliveries(ParticipantId("ng.focal-point"), 0, kNowMs, 10)).empty());
}

TEST_CASE("Each store turns only overdue unconfirmed deliveries into dead letters with the reason") {
  FPX_EACH_STORE;
  auto store = under_test.open();
  const std::int64_t soon = kNowMs + 1000;
  insert_committed(*store, make_message(1, {"gh.focal-point", "ng.focal-point"}, soon));
  insert_committed(*store, make_message(2, {"gh.focal-point"}, soon));
  insert_committed(*store, make_message(3, {"gh.focal-point"}, kNowMs + kHoldMs));
  insert_committed(*store, make_message(4, {"ci.focal-point"}, soon + 1000));
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
  CHECK(dead[1].delivery_id == gh[1]);
  const auto status = must(store->delivery_status(message_id(1)));
  REQUIRE(status.size() == 2);
  CHECK(status[0].state == DeliveryState::dead_letter);
  CHECK(status[0].reason == "hold time ended");
  CHECK(status[1].state == DeliveryState::confirmed);
  CHECK(must(store->delivery_status(message_id(4)))[0].state == DeliveryState::stored);
  require_ok(store->begin());
  CHECK(must(store->expire_deliveries(soon + 1000, "again")).empty());
  require_ok(store->commit());
}

TEST_CASE("Each store's log nodes give MemoryLog's roots and proofs also after reopening") {
  FPX_EACH_STORE;
  constexpr std::uint8_t kFirstBatch = 40;
  constexpr std::uint8_t kTotal = 60;
  MemoryLog reference;
  {
    auto store = under_test.open();
    StoreNodeSource empty(*store);
    CHECK(must(root(empty, 0)) == empty_tree_root());
    for (std::uint8_t n = 1; n <= 5; ++n) {
      const auto message = make_message(n, {"gh.focal-point"});
      insert_committed(*store, message);
      reference.append(leaf_hash(message.log_leaf_data));
    }
    // A public record's leaf between messages' leaves.
    require_ok(store->begin());
    const Bytes record_leaf(32, 0xee);
    CHECK(must(store->append_record_leaf(record_leaf, 1, kNowMs)) == 5);
    require_ok(store->append_feed({1, "statistics", Bytes{0x7b, 0x7d}, Bytes(64, 1)}, kNowMs));
    reference.append(leaf_hash(record_leaf));
    for (std::uint8_t n = 6; n <= kFirstBatch; ++n) {
      const auto message = make_message(n, {"gh.focal-point"});
      must(store->insert_message(message, kNowMs));
      reference.append(leaf_hash(message.log_leaf_data));
    }
    require_ok(store->commit());
    check_log_matches(*store, reference);
    require_ok(store->begin());
    CHECK(store->insert_message(make_message(3, {"gh.focal-point"}), kNowMs).error().code == ErrorCode::id_reused);
    must(store->insert_message(make_message(200, {"gh.focal-point"}), kNowMs));
    store->rollback();
    check_log_matches(*store, reference);
  }
  auto store = under_test.open();
  check_log_matches(*store, reference);
  for (std::uint8_t n = kFirstBatch + 1; n < kTotal; ++n) {
    const auto message = make_message(n, {"gh.focal-point"});
    insert_committed(*store, message);
    reference.append(leaf_hash(message.log_leaf_data));
  }
  check_log_matches(*store, reference);
  // n - popcount(n) interior nodes for n leaves: exactly the complete subtrees.
  CHECK(under_test.count("log_nodes") == kTotal - std::popcount(unsigned{kTotal}));
}

TEST_CASE("Each store's log stays MemoryLog's through savepoint rollbacks and record leaves in one batch") {
  FPX_EACH_STORE;
  auto store = under_test.open();
  MemoryLog reference;
  require_ok(store->begin());
  for (std::uint8_t n = 1; n <= 45; ++n) {
    require_ok(store->open_savepoint());
    const auto message = make_message(n, {"gh.focal-point", "ng.focal-point"});
    const auto inserted = must(store->insert_message(message, kNowMs));
    CHECK(inserted.log_index == reference.size());
    const Bytes record_leaf(24, static_cast<std::uint8_t>(0x80 + n));
    if (n % 4 == 0) must(store->append_record_leaf(record_leaf, n, kNowMs));
    if (n % 3 == 0) {
      store->rollback_savepoint();  // the message and its record leaf leave no node behind
      continue;
    }
    require_ok(store->release_savepoint());
    reference.append(leaf_hash(message.log_leaf_data));
    if (n % 4 == 0) reference.append(leaf_hash(record_leaf));
  }
  require_ok(store->commit());
  check_log_matches(*store, reference);
  const auto size = must(store->log_size());
  CHECK(under_test.count("log_nodes") == static_cast<std::int64_t>(size - std::popcount(size)));
  CHECK(under_test.count("deliveries") == 2 * 30);
}

TEST_CASE("Both stores give the same leaves and roots for the same inputs") {
  StoreUnderTest sqlite_side("sqlite");
  StoreUnderTest postgres_side("postgres");
  auto first = sqlite_side.open();
  auto second = postgres_side.open();
  for (Store* store : {first.get(), second.get()}) {
    for (std::uint8_t n = 1; n <= 37; ++n) {
      require_ok(store->begin());
      must(store->insert_message(make_message(n, {"gh.focal-point"}), kNowMs));
      if (n % 5 == 0) must(store->append_record_leaf(Bytes(20, n), n / 5, kNowMs));
      require_ok(store->commit());
    }
  }
  const auto size = must(first->log_size());
  REQUIRE(size == must(second->log_size()));
  StoreNodeSource a(*first);
  StoreNodeSource b(*second);
  for (std::uint64_t n = 1; n <= size; ++n) {
    if (must(root(a, n)) != must(root(b, n))) FAIL("the roots of size " << n << " differ");
  }
  for (std::uint64_t i = 0; i < size; ++i) CHECK(must(first->log_node(0, i)) == must(second->log_node(0, i)));
}

TEST_CASE("Each store reads audit rows back in order with their outcomes") {
  FPX_EACH_STORE;
  auto store = under_test.open();
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
  CHECK(rows[0].outcome == ErrorCode::untrusted_chain);
  CHECK(rows[0].detail == "unknown CA");
  CHECK(rows[1].message_id == message_id(1));
  CHECK(rows[1].outcome == ErrorCode::none);
  CHECK(rows[2].at_ms == kNowMs + 2);
  const auto after_first = must(store->audit_rows(rows[0].id, 1));
  REQUIRE(after_first.size() == 1);
  CHECK(after_first[0].id == rows[1].id);
}

TEST_CASE("Each store keeps an audit detail holding bytes that are not text without failing the batch") {
  FPX_EACH_STORE;
  auto store = under_test.open();
  require_ok(store->begin());
  must(store->insert_message(make_message(1, {"gh.focal-point"}), kNowMs));
  const std::string hostile("bad \xff\xfe nul \0 end", 16);
  require_ok(store->append_audit({kNowMs, hostile, std::nullopt, "open", ErrorCode::malformed, hostile}));
  require_ok(store->commit());
  const auto rows = must(store->audit_rows(0, 10));
  REQUIRE(rows.size() == 1);
  CHECK_THAT(rows[0].detail, Catch::StartsWith("bad ") && Catch::EndsWith(" end"));
  CHECK(must(store->find_message(message_id(1))).has_value());
}

TEST_CASE("Each store keeps a leaf's sealed parts for a later reveal") {
  FPX_EACH_STORE;
  auto store = under_test.open();
  NewMessage message = make_message(1, {"gh.focal-point"});
  message.log_parts.push_back({Bytes(16, 0x5a), "tracing_request|SN|GH,|20419", std::nullopt, CountryCode{}, ""});
  message.log_parts.push_back({Bytes(16, 0x6b), R"({"fact":"request","requested":"GH"})", message.id,
                               CountryCode("GH"), "request"});
  std::vector<Sha256Digest> part_hashes;
  for (const auto& part : message.log_parts) part_hashes.push_back(stats::commitment_part_hash(part.salt, part.metadata));
  message.log_leaf_data = stats::leaf_data_of_parts(part_hashes);
  const auto inserted = insert_committed(*store, message);
  CHECK(under_test.count("log_facts") == 1);
  CHECK(must(store->log_node(0, inserted.log_index)) == leaf_hash(message.log_leaf_data));
  CHECK(must(store->commitment_part_hashes(inserted.log_index)) == part_hashes);
  CHECK(store->commitment_part_hashes(inserted.log_index + 1).error().code == ErrorCode::not_found);
  const auto facts = must(store->facts_of_tracing(message.id, CountryCode("GH")));
  REQUIRE(facts.size() == 1);
  CHECK(facts[0].part == 1);
  CHECK(facts[0].fact == "request");
  CHECK(facts[0].salt == Bytes(16, 0x6b));
  CHECK(facts[0].metadata == message.log_parts[1].metadata);
  CHECK(must(store->facts_of_tracing(message.id, CountryCode("NE"))).empty());
}

TEST_CASE("Each store keeps the tracing lifecycle and its clocks") {
  FPX_EACH_STORE;
  auto store = under_test.open();
  insert_committed(*store, make_message(1, {"gh.focal-point"}));
  LifecycleRow row;
  row.request_id = message_id(1);
  row.requested_country = CountryCode("GH");
  row.requester = ParticipantId("sn.focal-point");
  row.requester_country = CountryCode("SN");
  row.priority = "urgent";
  row.state = "submitted";
  row.submitted_at_ms = kNowMs;
  row.ack_due_ms = kNowMs + 1000;
  row.response_due_ms = kNowMs + 5000;
  row.updated_at_ms = kNowMs;
  require_ok(store->begin());
  require_ok(store->insert_lifecycle(row));
  require_ok(store->insert_lifecycle(row));  // a forward to a state already asked: kept as it is
  require_ok(store->commit());
  CHECK(must(store->lifecycle_due(kNowMs + 999)).empty());
  CHECK(must(store->lifecycle_due(kNowMs + 1000)).size() == 1);

  const auto delivery = pending_ids(*store, "gh.focal-point").at(0);
  require_ok(store->begin());
  require_ok(store->mark_lifecycle_delivered(delivery, ParticipantId("ng.focal-point"), CountryCode("GH"), kNowMs + 5));
  require_ok(store->mark_lifecycle_delivered(delivery, ParticipantId("gh.focal-point"), CountryCode("GH"), kNowMs + 10));
  require_ok(store->commit());
  auto rows = must(store->lifecycle_of(message_id(1)));
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].state == "delivered");
  CHECK(rows[0].delivered_at_ms == kNowMs + 10);

  row = rows[0];
  row.state = "acknowledged";
  row.acknowledged_at_ms = kNowMs + 20;
  row.ack_reminded = true;
  row.acknowledged_by = "gh.focal-point/officer-1";
  row.refusal_grounds = "a,b";
  require_ok(store->begin());
  require_ok(store->update_lifecycle(row));
  require_ok(store->commit());
  rows = must(store->lifecycle_of(message_id(1)));
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].state == "acknowledged");
  CHECK(rows[0].ack_reminded);
  CHECK_FALSE(rows[0].response_reminded);
  CHECK(rows[0].acknowledged_by == "gh.focal-point/officer-1");
  CHECK(rows[0].refusal_grounds == "a,b");
  CHECK(must(store->lifecycle_due(kNowMs + 4999)).empty());
  CHECK(must(store->lifecycle_due(kNowMs + 5000)).size() == 1);
  CHECK(must(store->lifecycle_submitted_between(kNowMs, kNowMs + 1)).size() == 1);
  CHECK(must(store->lifecycle_submitted_between(kNowMs + 1, kNowMs + 2)).empty());
  const auto start = must(store->statistics_start());
  REQUIRE(start.has_value());
  CHECK(start->first_submission_ms == kNowMs);
  CHECK(start->since_ms == 0);
}

namespace {

// A routine request's lifecycle row for one requested state, submitted at kNowMs.
LifecycleRow request_row(const MessageId& id, const char* requested_country, const std::string& requester,
                         const char* requester_country, const char* state) {
  LifecycleRow row;
  row.request_id = id;
  row.requested_country = CountryCode(requested_country);
  row.requester = ParticipantId(requester);
  row.requester_country = CountryCode(requester_country);
  row.priority = "routine";
  row.state = state;
  row.submitted_at_ms = kNowMs;
  row.ack_due_ms = kNowMs + 1000;
  row.response_due_ms = kNowMs + 5000;
  row.updated_at_ms = kNowMs;
  return row;
}

}  // namespace

// Duplicate requests (issue 17): a request's keys, the lookup of open
// requests sharing one, and their removal; the same answers on both stores.
TEST_CASE("Each store finds open requests sharing a duplicate key once each newest first and only its own state's") {
  FPX_EACH_STORE;
  auto store = under_test.open();
  for (std::uint8_t n = 1; n <= 4; ++n) insert_committed(*store, make_message(n, {"gh.focal-point"}));
  const auto lifecycle = [](std::uint8_t n, const char* requester_country, const char* state) {
    return request_row(message_id(n), "GH", std::string(requester_country) == "SN" ? "sn.focal-point" : "ne.focal-point",
                       requester_country, state);
  };
  RequestKey a{};
  a.fill(0xaa);
  RequestKey b{};
  b.fill(0xbb);
  const RequestKey unused{};
  require_ok(store->begin());
  require_ok(store->insert_lifecycle(lifecycle(1, "SN", "submitted")));
  require_ok(store->insert_lifecycle(lifecycle(2, "SN", "acknowledged")));
  require_ok(store->insert_lifecycle(lifecycle(3, "SN", "closed")));
  require_ok(store->insert_lifecycle(lifecycle(4, "NE", "submitted")));
  require_ok(store->insert_request_keys(message_id(1), CountryCode("SN"), kNowMs, std::vector<RequestKey>{a}));
  require_ok(store->insert_request_keys(message_id(2), CountryCode("SN"), kNowMs + 1, std::vector<RequestKey>{a, b}));
  require_ok(store->insert_request_keys(message_id(3), CountryCode("SN"), kNowMs + 2, std::vector<RequestKey>{a}));
  require_ok(store->insert_request_keys(message_id(4), CountryCode("NE"), kNowMs + 2, std::vector<RequestKey>{a, b}));
  require_ok(store->commit());
  const auto ids = [&](std::vector<RequestKey> keys, std::int64_t from_ms, std::uint8_t except, std::size_t limit) {
    std::vector<MessageId> out;
    for (const auto& found :
         must(store->open_requests_with_keys(CountryCode("SN"), keys, from_ms, kNowMs + 10, message_id(except), limit))) {
      out.push_back(found.request_id);
    }
    return out;
  };
  // Request 2 under both keys comes once; 3 is closed; 4 is Niger's.
  CHECK(ids({a, b}, kNowMs, 9, 10) == std::vector<MessageId>{message_id(2), message_id(1)});
  CHECK(ids({b}, kNowMs, 9, 10) == std::vector<MessageId>{message_id(2)});
  CHECK(ids({unused}, kNowMs, 9, 10).empty());
  CHECK(ids({a, b}, kNowMs, 2, 10) == std::vector<MessageId>{message_id(1)});  // the request itself, excepted
  CHECK(ids({a, b}, kNowMs + 1, 9, 10) == std::vector<MessageId>{message_id(2)});  // the window's start
  CHECK(ids({a, b}, kNowMs, 9, 1) == std::vector<MessageId>{message_id(2)});       // the limit
  require_ok(store->begin());
  require_ok(store->delete_request_keys(message_id(2)));
  require_ok(store->commit());
  CHECK(ids({a, b}, kNowMs, 9, 10) == std::vector<MessageId>{message_id(1)});
  // A new store is marked for the broker's one backfill (a no-op there), and then not again.
  CHECK(must(store->request_keys_backfill_pending()));
  require_ok(store->begin());
  require_ok(store->finish_request_keys_backfill());
  require_ok(store->commit());
  CHECK_FALSE(must(store->request_keys_backfill_pending()));
}

// A store migrated to the keys holds requests without them: the broker's
// backfill keys the open ones at their arrival, skips a closed one and an
// unreadable one (logged, never a refusal to start), and runs once.
TEST_CASE("Each store's backfill keys its open requests once and skips closed and unreadable ones") {
  FPX_EACH_STORE;
  auto store = under_test.open();
  test::TestPki pki({"SN", "NE"});
  pki.issue("sn.police-judiciaire", "SN", Role::agency);
  const Bytes sealed = test::seal_sample(pki.identity("sn.police-judiciaire"), wire::MessageType::TRACING_REQUEST);
  const Bytes closed = test::seal_sample(pki.identity("sn.police-judiciaire"), wire::MessageType::TRACING_REQUEST);
  const auto stored_request = [&](const Bytes& envelope, std::uint8_t n) {
    NewMessage message = make_message(n, {"ne.focal-point"});
    message.id = test::message_id_of(envelope);
    message.envelope = envelope;
    insert_committed(*store, message);
    return message.id;
  };
  const MessageId open_id = stored_request(sealed, 1);
  const MessageId closed_id = stored_request(closed, 2);
  const MessageId damaged_id = message_id(3);
  insert_committed(*store, make_message(3, {"ne.focal-point"}));  // its envelope is not Cap'n Proto
  const auto lifecycle = [](const MessageId& id, const char* state) {
    return request_row(id, "NE", "sn.police-judiciaire", "SN", state);
  };
  require_ok(store->begin());
  require_ok(store->insert_lifecycle(lifecycle(open_id, "acknowledged")));
  require_ok(store->insert_lifecycle(lifecycle(closed_id, "closed")));
  require_ok(store->insert_lifecycle(lifecycle(damaged_id, "submitted")));
  require_ok(store->commit());

  const auto keys = must(request_keys_of_envelope(sealed));
  REQUIRE_FALSE(keys.empty());
  const auto found = [&] {
    return must(store->open_requests_with_keys(CountryCode("SN"), keys, kNowMs - 1, kNowMs + 10, message_id(9), 10));
  };
  CHECK(found().empty());  // stored without keys, as before the migration
  require_ok(backfill_request_keys(*store, kNowMs + 5));
  auto after = found();
  REQUIRE(after.size() == 1);
  CHECK(after[0].request_id == open_id);
  CHECK(after[0].submitted_at_ms == kNowMs);  // its arrival
  CHECK_FALSE(must(store->request_keys_backfill_pending()));
  // The closed request (same firearm) was not keyed, even after it reopens by mistake.
  require_ok(store->begin());
  require_ok(store->update_lifecycle(lifecycle(closed_id, "acknowledged")));
  require_ok(store->commit());
  CHECK(found().size() == 1);
  require_ok(backfill_request_keys(*store, kNowMs + 5));  // done once: nothing more
  CHECK(found().size() == 1);
}

// Issue 12 item 5: civil society's early warnings and their clock.
TEST_CASE("Each store keeps an early warning's clock dates its first acknowledgement and reminds once") {
  FPX_EACH_STORE;
  auto store = under_test.open();
  insert_committed(*store, make_message(1, {"sn.focal-point"}));
  insert_committed(*store, make_message(2, {"sn.focal-point"}));
  WarningRow row;
  row.warning_id = message_id(1);
  row.country = CountryCode("SN");
  row.sender = ParticipantId("cso.sahel-watch.sn");
  row.submitted_at_ms = kNowMs;
  row.ack_due_ms = kNowMs + 1000;
  require_ok(store->begin());
  require_ok(store->insert_warning(row));
  require_ok(store->insert_warning(row));  // the same warning again: kept as it is
  row.warning_id = message_id(2);
  row.submitted_at_ms = kNowMs + 1;
  row.ack_due_ms = kNowMs + 1001;
  require_ok(store->insert_warning(row));
  require_ok(store->commit());
  CHECK(must(store->warnings_due(kNowMs + 999)).empty());
  CHECK(must(store->warnings_due(kNowMs + 1001)).size() == 2);

  require_ok(store->begin());
  require_ok(store->acknowledge_warning(message_id(1), kNowMs + 500, "sn.focal-point/awa.diop"));
  require_ok(store->acknowledge_warning(message_id(1), kNowMs + 700, "sn.focal-point"));  // later: changes nothing
  require_ok(store->commit());
  auto due = must(store->warnings_due(kNowMs + 2000));
  REQUIRE(due.size() == 1);
  CHECK(due[0].warning_id == message_id(2));
  require_ok(store->begin());
  require_ok(store->mark_warning_reminded(message_id(2)));
  require_ok(store->commit());
  CHECK(must(store->warnings_due(kNowMs + 2000)).empty());

  auto period = must(store->warnings_submitted_between(kNowMs, kNowMs + 2));
  REQUIRE(period.size() == 2);
  CHECK(period[0].warning_id == message_id(1));
  CHECK(period[0].country == CountryCode("SN"));
  CHECK(period[0].sender == ParticipantId("cso.sahel-watch.sn"));
  CHECK(period[0].ack_due_ms == kNowMs + 1000);
  CHECK(period[0].acknowledged_at_ms == kNowMs + 500);
  CHECK(period[0].acknowledged_by == "sn.focal-point/awa.diop");
  CHECK_FALSE(period[0].reminded);
  CHECK(period[1].acknowledged_at_ms == 0);
  CHECK(period[1].reminded);
  CHECK(must(store->warnings_submitted_between(kNowMs + 1, kNowMs + 2)).size() == 1);
  CHECK(must(store->warnings_submitted_between(kNowMs + 2, kNowMs + 3)).empty());
}

TEST_CASE("Each store matches watched serials only for the states an alert reached") {
  FPX_EACH_STORE;
  auto store = under_test.open();
  insert_committed(*store, make_message(1, {"gh.focal-point"}));
  require_ok(store->begin());
  require_ok(store->watch_serials(message_id(1), CountryCode("SN"), {CountryCode("SN"), CountryCode("GH")},
                                  {"ABC123", "XYZ9"}, kNowMs + 1000));
  require_ok(store->commit());
  const auto hits = must(store->match_serial("ABC123", CountryCode("GH"), kNowMs));
  REQUIRE(hits.size() == 1);
  CHECK(hits[0].alert_id == message_id(1));
  CHECK(hits[0].alert_country == CountryCode("SN"));
  CHECK(must(store->match_serial("ABC123", CountryCode("NE"), kNowMs)).empty());
  CHECK(must(store->match_serial("ABC123", CountryCode("GH"), kNowMs + 1001)).empty());
  CHECK(must(store->active_watched_serials(CountryCode("SN"), kNowMs)) == 2);
  CHECK(must(store->watched_serials_added_since(ParticipantId("sn.focal-point"), kNowMs)) == 2);
  CHECK(must(store->bytes_stored_since(ParticipantId("sn.focal-point"), kNowMs)) == 101);
  CHECK(must(store->bytes_stored_since(ParticipantId("sn.focal-point"), kNowMs + 1)) == 0);
  require_ok(store->begin());
  require_ok(store->unwatch_serials(message_id(1), CountryCode("GH")));  // not the state that raised it
  require_ok(store->commit());
  CHECK(must(store->active_watched_serials(CountryCode("SN"), kNowMs)) == 2);
  require_ok(store->begin());
  require_ok(store->unwatch_serials(message_id(1), CountryCode("SN")));
  require_ok(store->commit());
  CHECK(must(store->active_watched_serials(CountryCode("SN"), kNowMs)) == 0);
}

TEST_CASE("Each store matches a serial inside a watched range of the same prefix and digit count") {
  FPX_EACH_STORE;
  auto store = under_test.open();
  insert_committed(*store, make_message(1, {"gh.focal-point"}));
  const auto range = must(parse_serial_range("AK-1000", "AK-1999"));
  const auto other = must(parse_serial_range("AK-00100", "AK-00199"));  // five digits: another key
  require_ok(store->begin());
  require_ok(store->watch_serials(message_id(1), CountryCode("SN"), {CountryCode("SN"), CountryCode("GH")},
                                  {"ZZ777"}, kNowMs + 1000));
  require_ok(store->watch_serial_ranges(message_id(1), CountryCode("SN"), {CountryCode("SN"), CountryCode("GH")},
                                        {range, other}, kNowMs + 1000));
  require_ok(store->commit());
  for (const char* serial : {"AK1000", "AK1500", "AK1999", "AK00150"}) {
    INFO(serial);
    const auto hits = must(store->match_serial(serial, CountryCode("GH"), kNowMs));
    REQUIRE(hits.size() == 1);
    CHECK(hits[0].alert_id == message_id(1));
  }
  for (const char* serial : {"AK999", "AK0999", "AK2000", "AK01500", "AKX1500", "AK", "AK#4"}) {
    INFO(serial);
    CHECK(must(store->match_serial(serial, CountryCode("GH"), kNowMs)).empty());
  }
  CHECK(must(store->match_serial("AK1500", CountryCode("NE"), kNowMs)).empty());  // not reached
  CHECK(must(store->match_serial("AK1500", CountryCode("GH"), kNowMs + 1001)).empty());  // expired
  CHECK(must(store->match_serial("ZZ777", CountryCode("GH"), kNowMs)).size() == 1);
  // The bound counts a range by its width; the quota by its rows.
  CHECK(must(store->active_watched_serials(CountryCode("SN"), kNowMs)) == 1 + 1000 + 100);
  CHECK(must(store->watched_serials_added_since(ParticipantId("sn.focal-point"), kNowMs)) == 3);
  require_ok(store->begin());
  require_ok(store->unwatch_serials(message_id(1), CountryCode("SN")));
  require_ok(store->commit());
  CHECK(must(store->match_serial("AK1500", CountryCode("GH"), kNowMs)).empty());
  CHECK(must(store->active_watched_serials(CountryCode("SN"), kNowMs)) == 0);
}

TEST_CASE("Each store keeps the feed checkpoints and statistics runs in order") {
  FPX_EACH_STORE;
  auto store = under_test.open();
  CHECK(must(store->next_feed_sequence()) == 1);
  CHECK_FALSE(must(store->latest_checkpoint()).has_value());
  require_ok(store->begin());
  require_ok(store->append_feed({1, "statistics", Bytes{0x7b, 0x7d}, Bytes(64, 1)}, kNowMs));
  require_ok(store->append_feed({2, "reveal", Bytes{0x5b, 0x5d}, Bytes(64, 2)}, kNowMs));
  require_ok(store->append_checkpoint({5, sha256(Bytes{1}), "note 5", kNowMs}));
  require_ok(store->append_checkpoint({9, sha256(Bytes{2}), "note 9", kNowMs + 1}));
  require_ok(store->append_checkpoint({5, sha256(Bytes{3}), "again", kNowMs + 2}));  // already signed: kept
  require_ok(store->record_statistics_run({"day", kNowMs, 1}, false));
  require_ok(store->record_statistics_run({"day", kNowMs + 10, 0}, false));
  require_ok(store->commit());
  CHECK(must(store->next_feed_sequence()) == 3);
  const auto page = must(store->feed_page(2, 10));
  REQUIRE(page.size() == 1);
  CHECK(page[0].kind == "reveal");
  CHECK(page[0].record == Bytes{0x5b, 0x5d});
  CHECK(page[0].signature == Bytes(64, 2));
  const auto latest = must(store->latest_checkpoint());
  REQUIRE(latest.has_value());
  CHECK(latest->tree_size == 9);
  CHECK(latest->note == "note 9");
  CHECK(must(store->last_statistics_period("day")) == std::optional<std::int64_t>(kNowMs + 10));
  CHECK_FALSE(must(store->last_statistics_period("month")).has_value());
  const auto awaiting = must(store->statistics_awaiting_reveal("day", kNowMs + 100));
  REQUIRE(awaiting.size() == 1);  // the empty period (feed sequence 0) has nothing to reveal
  CHECK(awaiting[0].feed_sequence == 1);
  require_ok(store->begin());
  require_ok(store->record_statistics_run({"day", kNowMs, 1}, true));
  require_ok(store->commit());
  CHECK(must(store->statistics_awaiting_reveal("day", kNowMs + 100)).empty());
}

TEST_CASE("Each store refuses to delete the newest message delivery audit row and feed record") {
  FPX_EACH_STORE;
  auto store = under_test.open();
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
  CHECK_THAT(under_test.try_exec("DELETE FROM deliveries WHERE delivery_id = " + std::to_string(before[1])),
             Catch::Contains("never deleted"));
  CHECK_THAT(under_test.try_exec("DELETE FROM messages WHERE seq = (SELECT MAX(seq) FROM messages)"),
             Catch::Contains("never deleted"));
  CHECK_THAT(under_test.try_exec("DELETE FROM audit WHERE id = (SELECT MAX(id) FROM audit)"),
             Catch::Contains("never deleted"));
  CHECK_THAT(under_test.try_exec("DELETE FROM feed WHERE seq = 2"), Catch::Contains("never deleted"));
  CHECK(under_test.try_exec("DELETE FROM deliveries WHERE delivery_id = " + std::to_string(before[0])).empty());
  CHECK(under_test.try_exec("DELETE FROM feed WHERE seq = 1").empty());
  insert_committed(*store, make_message(3, {"gh.focal-point"}));
  const auto after = pending_ids(*store, "gh.focal-point");
  REQUIRE(after.size() == 2);
  CHECK(after[1] > before[1]);
  CHECK(must(store->next_feed_sequence()) == 3);
}

TEST_CASE("Each store keeps committed data and drops an uncommitted transaction when closed") {
  FPX_EACH_STORE;
  {
    auto store = under_test.open();
    insert_committed(*store, make_message(1, {"gh.focal-point", "ng.focal-point"}));
    require_ok(store->begin());
    const auto delivery = pending_ids(*store, "gh.focal-point").at(0);
    CHECK(must(store->confirm_deliveries(ParticipantId("gh.focal-point"), std::vector{delivery}, kNowMs)) == 1);
    require_ok(store->commit());
    require_ok(store->begin());
    must(store->insert_message(make_message(2, {"gh.focal-point"}), kNowMs));
  }
  auto store = under_test.open();
  CHECK(must(store->find_message(message_id(1))).has_value());
  CHECK_FALSE(must(store->find_message(message_id(2))).has_value());
  CHECK(pending_ids(*store, "gh.focal-point").empty());
  CHECK(pending_ids(*store, "ng.focal-point").size() == 1);
  CHECK(must(store->log_size()) == 1);
}

// ---- what only the PostgreSQL store has ----

TEST_CASE("The PostgreSQL store refuses a DSN that holds a password") {
  const auto store = open_postgres_store(cluster().dsn("postgres") + " password=secret");
  REQUIRE_FALSE(store.ok());
  CHECK(store.error().code == ErrorCode::invalid_argument);
  CHECK_THAT(store.error().message, Catch::Contains("passfile"));
  CHECK_THAT(store.error().message, !Catch::Contains("secret"));
  CHECK(open_postgres_store("host=").error().code != ErrorCode::none);
}

TEST_CASE("A second PostgreSQL store on the same database is refused while the first writes") {
  const std::string dsn = cluster().create_database("writer_lock");
  {
    auto first = must(open_postgres_store(dsn));
    const auto second = open_postgres_store(dsn);
    REQUIRE_FALSE(second.ok());
    CHECK(second.error().code == ErrorCode::unavailable);
    CHECK_THAT(second.error().message, Catch::Contains("another broker leads"));
  }
  CHECK(open_postgres_store(dsn).ok());  // the lock went with the first connection
}

TEST_CASE("A PostgreSQL database with a newer schema version or foreign tables is refused") {
  const std::string dsn = cluster().create_database("newer");
  { must(open_postgres_store(dsn)); }
  cluster().exec("newer", "UPDATE schema_version SET version = 99");
  const auto newer = open_postgres_store(dsn);
  REQUIRE_FALSE(newer.ok());
  CHECK_THAT(newer.error().message, Catch::Contains("newer than this broker"));

  const std::string other = cluster().create_database("not_fpx");
  cluster().exec("not_fpx", "CREATE TABLE payroll (id int)");
  const auto foreign = open_postgres_store(other);
  REQUIRE_FALSE(foreign.ok());
  CHECK_THAT(foreign.error().message, Catch::Contains("not an FPX store"));
}

TEST_CASE("A version 3 PostgreSQL database gains the watch list's serial ranges on opening") {
  const std::string dsn = cluster().create_database("version_one");
  { must(open_postgres_store(dsn)); }
  // What a version 3 database looks like: no range columns (version 4, issue 14, added them).
  cluster().exec("version_one",
                 "ALTER TABLE watched_serials DROP COLUMN range_low, DROP COLUMN range_high; "
                 "DROP TABLE request_keys; DROP TABLE request_keys_backfill; "
                 "UPDATE schema_version SET version = 3");
  auto store = must(open_postgres_store(dsn));
  CHECK(cluster().scalar("version_one", "SELECT MAX(version) FROM schema_version") == "5");
  CHECK(cluster().scalar("version_one", "SELECT COUNT(*) FROM information_schema.columns WHERE table_name = "
                                        "'watched_serials' AND column_name IN ('range_low', 'range_high')") == "2");
  insert_committed(*store, make_message(1, {"gh.focal-point"}));
  require_ok(store->begin());
  require_ok(store->watch_serial_ranges(message_id(1), CountryCode("SN"), {CountryCode("GH")},
                                        {must(parse_serial_range("AK-1000", "AK-1999"))}, kNowMs + 1000));
  require_ok(store->commit());
  CHECK(must(store->match_serial("AK1500", CountryCode("GH"), kNowMs)).size() == 1);
}

TEST_CASE("A PostgreSQL statement that fails mid-batch undoes only its own message with or without the broker's savepoint") {
  // A failure the server reports (here a rule an operator added) aborts a
  // PostgreSQL transaction unless a savepoint catches it: the store's own,
  // sent in the same pipeline as the message, or the broker's.
  const std::string dsn = cluster().create_database("failing_statement");
  auto store = must(open_postgres_store(dsn));
  cluster().exec("failing_statement",
                 "ALTER TABLE deliveries ADD CONSTRAINT no_blocked CHECK (recipient <> 'blocked.focal-point')");
  require_ok(store->begin());
  must(store->insert_message(make_message(1, {"gh.focal-point"}), kNowMs));
  const auto refused = store->insert_message(make_message(2, {"ng.focal-point", "blocked.focal-point"}), kNowMs);
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.error().message, Catch::Contains("no_blocked"));
  CHECK(must(store->insert_message(make_message(3, {"gh.focal-point"}), kNowMs)).log_index == 1);
  require_ok(store->open_savepoint());
  CHECK_FALSE(store->insert_message(make_message(4, {"blocked.focal-point"}), kNowMs).ok());
  store->rollback_savepoint();
  require_ok(store->open_savepoint());
  CHECK(must(store->insert_message(make_message(5, {"gh.focal-point"}), kNowMs)).log_index == 2);
  require_ok(store->release_savepoint());
  require_ok(store->commit());
  CHECK(cluster().scalar("failing_statement", "SELECT COUNT(*) FROM messages") == "3");
  CHECK(cluster().scalar("failing_statement", "SELECT COUNT(*) FROM deliveries") == "3");
  CHECK(cluster().scalar("failing_statement", "SELECT COUNT(*) FROM log_leaves") == "3");
  CHECK(cluster().scalar("failing_statement", "SELECT COUNT(*) FROM log_nodes") == "1");
  CHECK(pending_ids(*store, "ng.focal-point").empty());
}

TEST_CASE("The PostgreSQL store writes nothing when the log grew behind its back") {
  // The store computes a leaf's nodes from the log's edge it read; each
  // append checks the log's size on the server, so a leaf written by anyone
  // else (a second writer the lock failed to stop, an operator) is refused
  // rather than forked.
  const std::string dsn = cluster().create_database("moved_log");
  auto store = must(open_postgres_store(dsn));
  require_ok(store->begin());
  must(store->insert_message(make_message(1, {"gh.focal-point"}), kNowMs));
  cluster().exec("moved_log",
                 "INSERT INTO log_leaves (leaf_index, leaf_data, leaf_hash, feed_seq, created_at_ms) "
                 "VALUES (1, '\\x00', '\\x00', 1, 0)");
  const auto refused = store->insert_message(make_message(2, {"gh.focal-point"}), kNowMs);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::internal);
  CHECK_THAT(refused.error().message, Catch::Contains("holds 2"));
  // Read again, the edge lacks the subtree the foreign leaf should have
  // completed: refused as a damaged log, and nothing written either.
  const auto record = store->append_record_leaf(Bytes(20, 1), 1, kNowMs);
  REQUIRE_FALSE(record.ok());
  CHECK_THAT(record.error().message, Catch::Contains("log node"));
  require_ok(store->commit());
  CHECK(cluster().scalar("moved_log", "SELECT COUNT(*) FROM messages") == "1");
  CHECK(cluster().scalar("moved_log", "SELECT COUNT(*) FROM log_leaves") == "2");
  CHECK(cluster().scalar("moved_log", "SELECT COUNT(*) FROM log_nodes") == "0");
}

TEST_CASE("The PostgreSQL store reconnects after the server restarts and keeps its data") {
  // A cluster of its own: stopping the shared one would flush every other
  // case's database in its shutdown checkpoint (over 30 s on a loaded
  // disk), and a server restart is no business of the other cases.
  test::PostgresCluster own;
  const std::string dsn = own.create_database("restart");
  auto store = must(open_postgres_store(dsn));
  insert_committed(*store, make_message(1, {"gh.focal-point"}));
  own.stop();
  CHECK(store->begin().error().code == ErrorCode::unavailable);
  own.start();
  insert_committed(*store, make_message(2, {"gh.focal-point"}));
  CHECK(pending_ids(*store, "gh.focal-point").size() == 2);
  CHECK(must(store->log_size()) == 2);
}

TEST_CASE("The broker's configuration chooses the store and wants a dsn for PostgreSQL") {
  test::TempDir dir;
  const auto path = dir.path() / "broker.toml";
  auto problems = [&](const std::string& store) {
    const auto config = parse_broker_config("[storage]\ndatabase = \"x.sqlite\"\n" + store, path);
    return config.ok() ? std::string() : config.error().describe();
  };
  CHECK_THAT(problems("[store]\nbackend = \"postgres\"\n"), Catch::Contains("store.dsn"));
  CHECK_THAT(problems("[store]\nbackend = \"mysql\"\n"), Catch::Contains("store.backend"));
  CHECK_THAT(problems("[store]\nbackend = \"postgres\"\ndsn = \"dbname=fpx\"\n"), !Catch::Contains("store."));
  CHECK_THAT(problems("[store]\nbackend = \"sqlite\"\n"), !Catch::Contains("store."));
}

// Issue 12: a figures statement is accepted only for a period whose
// statistics record is on the feed.
TEST_CASE("Each store finds the published statistics period starting at a time and never an empty or revealed one") {
  FPX_EACH_STORE;
  auto store = under_test.open();
  CHECK_FALSE(must(store->published_statistics_period(kNowMs)).has_value());
  require_ok(store->begin());
  require_ok(store->record_statistics_run({"day", kNowMs, 3}, false));
  require_ok(store->record_statistics_run({"month", kNowMs, 7}, false));   // a longer period starting then too
  require_ok(store->record_statistics_run({"day", kNowMs + 10, 0}, false));  // ended empty: nothing published
  require_ok(store->record_statistics_run({"day", kNowMs + 20, 9}, true));  // a reveal row only
  require_ok(store->commit());
  const auto found = must(store->published_statistics_period(kNowMs));
  REQUIRE(found.has_value());
  CHECK(found->period == "month");  // the latest record when two kinds start then
  CHECK(found->start_ms == kNowMs);
  CHECK(found->feed_sequence == 7);
  CHECK_FALSE(must(store->published_statistics_period(kNowMs + 10)).has_value());
  CHECK_FALSE(must(store->published_statistics_period(kNowMs + 20)).has_value());
  CHECK_FALSE(must(store->published_statistics_period(kNowMs + 1)).has_value());
}
