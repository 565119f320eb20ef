// The pipelined group commit (broker/commit_pipeline.hpp): the loop commits
// a batch without syncing, a thread syncs the WAL, and the batch's receipts
// leave only once that sync has returned. The store is on the power-cut
// shim (tests/support/power_cut_vfs.hpp), whose xSync a test can hold.
//
// broker_core runs in this process, the agency talks to it over 127.0.0.1.
#include <sqlite3.h>

#include <atomic>
#include <future>
#include <thread>

#include <catch2/catch.hpp>

#include "fpx/broker/broker.hpp"
#include "fpx/client.hpp"
#include "support/power_cut_vfs.hpp"
#include "support/sample_messages.hpp"
#include "support/test_pki.hpp"

using namespace fpx;
using namespace std::chrono_literals;
using client::Client;
using wire::MessageType;

namespace {

constexpr const char* kAgency = "sn.police-judiciaire";
// Long enough for a loaded machine to commit a batch; a correct broker never gets near it.
constexpr auto kWaitAtMost = 30s;

template <typename T>
T must(Result<T> result) {
  if (!result) FAIL(result.error().describe());
  return std::move(result).value();
}

// Messages stored, read through a connection of the test's own (SQLite's
// default VFS on the same files): it sees a transaction once its commit
// returned, whether or not the WAL was synced yet.
std::int64_t stored_messages(const std::filesystem::path& database) {
  sqlite3* db = nullptr;
  std::int64_t count = -1;
  if (sqlite3_open_v2(database.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM messages", -1, &statement, nullptr) == SQLITE_OK &&
        sqlite3_step(statement) == SQLITE_ROW) {
      count = sqlite3_column_int64(statement, 0);
    }
    sqlite3_finalize(statement);
  }
  sqlite3_close(db);
  return count;
}

template <typename Condition>
bool eventually(Condition condition) {
  const auto deadline = std::chrono::steady_clock::now() + kWaitAtMost;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// One agency, one recipient, the broker in this process with its store on the shim.
class PipelineExchange {
 public:
  explicit PipelineExchange(test::PowerCutVfs& vfs, std::int64_t group_commit_wait_ms = 0) : pki_({"SN", "NE", "BF"}) {
    pki_.issue(kAgency, "SN", Role::agency);
    pki_.issue("sn.douanes", "SN", Role::agency);
    pki_.issue("sn.gendarmerie", "SN", Role::agency);
    pki_.issue("ne.focal-point", "NE", Role::focal_point);
    pki_.issue("bf.focal-point", "BF", Role::focal_point);
    pki_.issue("exchange.broker", "AT", Role::broker, {.via_intermediate = false});
    const auto enrolled = pki_.dir() / "enrolled";
    std::filesystem::create_directories(enrolled);
    for (const std::string id : {kAgency, "sn.douanes", "sn.gendarmerie", "ne.focal-point", "bf.focal-point"}) {
      std::filesystem::copy_file(pki_.dir() / "participants" / id / kChainFile, enrolled / (id + ".pem"));
    }
    config_.participants_endpoint = "tcp://127.0.0.1:0";
    config_.oversight.observers_endpoint = "tcp://127.0.0.1:0";
    config_.root_ca = pki_.root_pem();
    config_.crl_dir = pki_.crl_dir();
    config_.enrolled_dir = enrolled;
    config_.identity_dir = pki_.dir() / "participants" / "exchange.broker";
    config_.database = pki_.dir() / "broker.sqlite";
    config_.database_vfs = vfs.name();
    // No WAL checkpoint and no signed checkpoint during a test: the only
    // syncs held are the commits' own.
    config_.timing.checkpoint_every_ms = 3600'000;
    config_.oversight.checkpoint_every_ms = 3600'000;
    config_.timing.group_commit_wait_ms = group_commit_wait_ms;
    auto created = broker::Broker::create(config_);
    if (!created) FAIL("broker: " << created.error().describe());
    broker_ = std::move(created).value();
    loop_ = std::thread([this] {
      while (!stop_) {
        if (!broker_->poll_once(5ms)) failed_ = true;
      }
    });
  }

  ~PipelineExchange() { stop_broker(); }

  // Closes the store as well (after a cut nothing of that reaches the disk).
  void stop_broker() {
    if (!broker_) return;
    stop_ = true;
    loop_.join();
    broker_.reset();
  }

  std::unique_ptr<Client> connect(const std::string& id) {
    const auto chain = *Certificate::load_pem_file(pki_.dir() / "participants" / "exchange.broker" / kChainFile);
    client::ClientOptions options;
    options.endpoint = broker_->endpoint();
    options.broker_curve_key = chain.front().participant()->curve_public_key;
    options.state_db = pki_.dir() / (id + ".client.sqlite");
    options.root_ca = pki_.root_pem();
    options.crl_dir = pki_.crl_dir();
    options.broker_pins = {*client::BrokerKeyPin::of_certificate(chain.front())};
    options.request_timeout = 5s;
    return must(Client::connect(pki_.identity(id), options));
  }

  Identity identity(const std::string& id) { return pki_.identity(id); }
  const std::filesystem::path& database() const { return config_.database; }
  // poll_once has failed: the broker stopped serving.
  bool failed() const { return failed_; }

 private:
  test::TestPki pki_;
  broker::BrokerConfig config_;
  std::unique_ptr<broker::Broker> broker_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> failed_{false};
  std::thread loop_;
};

// Both submits were receipted, from one commit group of the two of them.
template <typename Future>
void check_one_group_of_two(Future& one, Future& other) {
  auto first = one.get();
  auto second = other.get();
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(first->group_size == 2);
  CHECK(second->group_size == 2);
}

}  // namespace

TEST_CASE("a receipt is sent only after the sync that makes its batch durable has returned") {
  test::PowerCutVfs vfs;
  PipelineExchange exchange(vfs);
  auto agency = exchange.connect(kAgency);
  const Identity signer = exchange.identity(kAgency);
  REQUIRE(agency->submit(test::seal_sample(signer, MessageType::TRACING_REQUEST)).ok());
  REQUIRE(stored_messages(exchange.database()) == 1);

  vfs.hold_syncs();
  const Bytes envelope = test::seal_sample(signer, MessageType::TRACING_REQUEST);
  auto submitted = std::async(std::launch::async, [&] { return agency->submit(envelope); });
  // The batch is committed (another connection reads it) while its sync
  // waits: the commit did not wait for the disk ...
  REQUIRE(eventually([&] { return stored_messages(exchange.database()) == 2 && vfs.syncs_held() >= 1; }));
  // ... and its receipt waits for the sync. (Were it sent at the commit,
  // it would be here long before this.)
  CHECK(submitted.wait_for(500ms) == std::future_status::timeout);
  CHECK_FALSE(exchange.failed());

  vfs.release_syncs();
  auto receipt = submitted.get();
  REQUIRE(receipt.ok());
  CHECK_FALSE(exchange.failed());
}

TEST_CASE("a power cut while a pipelined commit waits for its sync loses only the message whose receipt was never "
          "sent") {
  constexpr int kReceipted = 3;
  test::PowerCutVfs vfs;
  PipelineExchange exchange(vfs);
  auto agency = exchange.connect(kAgency);
  const Identity signer = exchange.identity(kAgency);
  std::vector<MessageId> receipted;
  for (int n = 0; n < kReceipted; ++n) {
    auto receipt = agency->submit(test::seal_sample(signer, MessageType::TRACING_REQUEST));
    REQUIRE(receipt.ok());
    receipted.push_back(receipt->message_id);
  }

  vfs.hold_syncs();
  const Bytes envelope = test::seal_sample(signer, MessageType::TRACING_REQUEST);
  auto submitted = std::async(std::launch::async, [&] { return agency->submit(envelope); });
  REQUIRE(eventually([&] { return stored_messages(exchange.database()) == kReceipted + 1 && vfs.syncs_held() >= 1; }));
  // The disk goes before the sync it waits for can reach it.
  vfs.power_cut();
  vfs.release_syncs();
  // The failed sync is final: no receipt, and the broker stops serving.
  auto refused = submitted.get();
  CHECK_FALSE(refused.ok());
  REQUIRE(eventually([&] { return exchange.failed(); }));

  agency.reset();
  exchange.stop_broker();
  CHECK(vfs.restore_disk() > 0);

  // What the disk kept: every receipted message, not the one in the lost commit.
  auto store = must(broker::open_sqlite_store(exchange.database(), vfs.name()));
  for (const auto& id : receipted) {
    INFO("receipted message " << id.hex());
    CHECK(must(store->find_message(id)).has_value());
  }
  CHECK(stored_messages(exchange.database()) == kReceipted);
}

TEST_CASE("messages that arrive while a sync runs all join the next commit and share its receipt group") {
  test::PowerCutVfs vfs;
  PipelineExchange exchange(vfs);
  auto agency = exchange.connect(kAgency);
  auto customs = exchange.connect("sn.douanes");
  auto gendarmes = exchange.connect("sn.gendarmerie");
  // Each session attached first (a message of its own, receipted alone).
  REQUIRE(agency->submit(test::seal_sample(exchange.identity(kAgency), MessageType::TRACING_REQUEST)).ok());
  REQUIRE(customs->submit(test::seal_sample(exchange.identity("sn.douanes"), MessageType::TRACING_REQUEST)).ok());
  REQUIRE(gendarmes->submit(test::seal_sample(exchange.identity("sn.gendarmerie"), MessageType::TRACING_REQUEST)).ok());
  REQUIRE(stored_messages(exchange.database()) == 3);

  vfs.hold_syncs();
  const Bytes first = test::seal_sample(exchange.identity(kAgency), MessageType::TRACING_REQUEST);
  auto first_receipt = std::async(std::launch::async, [&] { return agency->submit(first); });
  REQUIRE(eventually([&] { return stored_messages(exchange.database()) == 4 && vfs.syncs_held() >= 1; }));
  // Two more while that sync waits, well apart: before, the loop took one
  // batch at the first arrival and left the second for the sync after.
  const Bytes second = test::seal_sample(exchange.identity("sn.douanes"), MessageType::TRACING_REQUEST);
  auto second_receipt = std::async(std::launch::async, [&] { return customs->submit(second); });
  std::this_thread::sleep_for(300ms);
  const Bytes third = test::seal_sample(exchange.identity("sn.gendarmerie"), MessageType::TRACING_REQUEST);
  auto third_receipt = std::async(std::launch::async, [&] { return gendarmes->submit(third); });
  std::this_thread::sleep_for(300ms);
  CHECK(stored_messages(exchange.database()) == 4);  // nothing begins while a sync runs
  vfs.release_syncs();

  REQUIRE(first_receipt.get().ok());
  check_one_group_of_two(second_receipt, third_receipt);
  CHECK_FALSE(exchange.failed());
}

TEST_CASE("with timing.group_commit_wait_ms a durable batch soon after another waits for company and a lone one does not") {
  test::PowerCutVfs vfs;
  PipelineExchange exchange(vfs, 1'000);
  auto agency = exchange.connect(kAgency);
  auto customs = exchange.connect("sn.douanes");
  // A quiet broker: the last durable commit is long past, nothing waits.
  REQUIRE(customs->submit(test::seal_sample(exchange.identity("sn.douanes"), MessageType::TRACING_REQUEST)).ok());
  std::this_thread::sleep_for(1'100ms);
  const auto quiet_start = std::chrono::steady_clock::now();
  auto alone = agency->submit(test::seal_sample(exchange.identity(kAgency), MessageType::TRACING_REQUEST));
  REQUIRE(alone.ok());
  CHECK(alone->group_size == 1);
  CHECK(std::chrono::steady_clock::now() - quiet_start < 900ms);
  // Right after it, two more, 100 ms apart: the first waits for the
  // second and they are committed together.
  const Bytes second = test::seal_sample(exchange.identity(kAgency), MessageType::TRACING_REQUEST);
  auto second_receipt = std::async(std::launch::async, [&] { return agency->submit(second); });
  std::this_thread::sleep_for(100ms);
  const Bytes third = test::seal_sample(exchange.identity("sn.douanes"), MessageType::TRACING_REQUEST);
  auto third_receipt = std::async(std::launch::async, [&] { return customs->submit(third); });
  check_one_group_of_two(second_receipt, third_receipt);
  CHECK_FALSE(exchange.failed());
}
