// Power loss: the broker's store opened on a SQLite VFS shim that keeps only
// what was fsynced (tests/support/power_cut_vfs.hpp). SIGKILL keeps the page
// cache and cannot show this; the shim discards every write not yet synced.
//
// broker_core runs in this process (as in the workflow tests), clients and
// the observer talk to it over 127.0.0.1; only the broker's disk loses power.
//
// The first case fails when it should: a broker changed to commit submits
// without fsync loses receipted messages here, and one that also signs
// checkpoints in commits without fsync leaves a checkpoint bigger than the
// log it restarts with.
#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <catch2/catch.hpp>

#include "fpx/broker/broker.hpp"
#include "fpx/client.hpp"
#include "fpx/observer_client.hpp"
#include "fpx/transparency_log.hpp"
#include "support/power_cut_vfs.hpp"
#include "support/sample_messages.hpp"
#include "support/test_pki.hpp"

using namespace fpx;
using namespace std::chrono_literals;
using client::Client;
using client::ObserverClient;
using wire::MessageType;

namespace {

constexpr const char* kAgency = "sn.police-judiciaire";
constexpr const char* kObserver = "cso.sahel-watch";
// The sample tracing request goes to the focal points of NE and BF.
const std::vector<std::string> kRecipients = {"ne.focal-point", "bf.focal-point"};

template <typename T>
T must(Result<T> result) {
  if (!result) FAIL(result.error().describe());
  return std::move(result).value();
}

// An exchange whose broker runs in this process with its store on the shim.
class PowerCutExchange {
 public:
  // `resend_after_ms`: the broker's resend of unconfirmed deliveries within a session.
  explicit PowerCutExchange(test::PowerCutVfs& vfs, std::int64_t resend_after_ms = 30'000)
      : vfs_(vfs), pki_({"SN", "NE", "BF"}) {
    pki_.issue(kAgency, "SN", Role::agency);
    pki_.issue("ne.focal-point", "NE", Role::focal_point);
    pki_.issue("bf.focal-point", "BF", Role::focal_point);
    pki_.issue(kObserver, "SN", Role::observer, {.via_intermediate = false});
    pki_.issue("exchange.broker", "AT", Role::broker, {.via_intermediate = false});
    const auto enrolled = pki_.dir() / "enrolled";
    std::filesystem::create_directories(enrolled);
    for (const std::string id : {kAgency, kObserver, "ne.focal-point", "bf.focal-point"}) {
      std::filesystem::copy_file(pki_.dir() / "participants" / id / kChainFile, enrolled / (id + ".pem"));
    }
    config_.participants_endpoint = "tcp://127.0.0.1:0";
    config_.oversight.observers_endpoint = "tcp://127.0.0.1:0";
    config_.root_ca = pki_.root_pem();
    config_.crl_dir = pki_.crl_dir();
    config_.enrolled_dir = enrolled;
    config_.identity_dir = pki_.dir() / "participants" / "exchange.broker";
    config_.database = pki_.dir() / "broker.sqlite";
    config_.database_vfs = vfs_.name();
    config_.limits.rate_per_second = 10000;
    config_.limits.burst = 10000;
    // Many messages a second from one participant: far above the stored-bytes bound's default.
    config_.limits.stored_bytes_per_minute = 1e12;
    config_.limits.stored_burst_bytes = 1e12;
    // Checkpoints signed and WAL checkpoints taken often, so the cut lands
    // among both.
    config_.oversight.checkpoint_every_ms = 20;
    config_.timing.checkpoint_every_ms = 100;
    config_.timing.resend_after_ms = resend_after_ms;
    start_broker();
  }

  ~PowerCutExchange() { stop_broker(); }

  void start_broker() {
    auto created = broker::Broker::create(config_);
    if (!created) FAIL("broker: " << created.error().describe());
    broker_ = std::move(created).value();
    stop_ = false;
    loop_ = std::thread([this] {
      while (!stop_) (void)broker_->poll_once(5ms);
    });
  }

  // Closes the store as well: after a cut, nothing of that reaches the disk.
  void stop_broker() {
    if (!broker_) return;
    stop_ = true;
    loop_.join();
    broker_.reset();
  }

  // `state_vfs`: the SQLite VFS of the client's state file; empty: the
  // default one (another machine, whose disk keeps power).
  std::unique_ptr<Client> connect(const std::string& id, const std::string& state_vfs = {}) {
    client::ClientOptions options;
    options.endpoint = broker_->endpoint();
    options.broker_curve_key = broker_chain().front().participant()->curve_public_key;
    options.state_db = pki_.dir() / (id + ".client.sqlite");
    options.state_db_vfs = state_vfs;
    options.root_ca = pki_.root_pem();
    options.crl_dir = pki_.crl_dir();
    options.broker_pins = {*client::BrokerKeyPin::of_certificate(broker_chain().front())};
    options.request_timeout = 5s;
    return must(Client::connect(pki_.identity(id), options));
  }

  std::unique_ptr<ObserverClient> observer() {
    client::ObserverOptions options;
    options.endpoint = broker_->observers_endpoint();
    options.broker_chain = broker_chain();
    options.root_ca = pki_.root_pem();
    options.broker_pins = {*client::BrokerKeyPin::of_certificate(options.broker_chain.front())};
    return must(ObserverClient::connect(pki_.identity(kObserver), options));
  }

  Identity identity(const std::string& id) { return pki_.identity(id); }

 private:
  std::vector<Certificate> broker_chain() const {
    return *Certificate::load_pem_file(pki_.dir() / "participants" / "exchange.broker" / kChainFile);
  }

  test::PowerCutVfs& vfs_;
  test::TestPki pki_;
  broker::BrokerConfig config_;
  std::unique_ptr<broker::Broker> broker_;
  std::atomic<bool> stop_{false};
  std::thread loop_;
};

// What each recipient application was handed, message by message.
using Handed = std::map<std::string, std::map<MessageId, int>>;

void receive(std::map<std::string, std::unique_ptr<Client>>& recipients, Handed& handed) {
  for (auto& [id, client] : recipients) {
    auto deliveries = client->poll(20ms);
    REQUIRE(deliveries.ok());
    for (const auto& delivery : *deliveries) {
      ++handed[id][delivery.opened.message_id];
      REQUIRE(client->confirm(delivery).ok());
    }
  }
}

std::map<std::string, std::unique_ptr<Client>> connect_recipients(PowerCutExchange& exchange) {
  std::map<std::string, std::unique_ptr<Client>> recipients;
  for (const auto& id : kRecipients) recipients[id] = exchange.connect(id);
  return recipients;
}

int times_handed(const Handed& handed, const std::string& recipient, const MessageId& message) {
  auto to = handed.find(recipient);
  if (to == handed.end()) return 0;
  auto found = to->second.find(message);
  return found == to->second.end() ? 0 : found->second;
}

bool all_handed(const std::vector<MessageId>& receipted, const Handed& handed) {
  for (const auto& id : kRecipients) {
    for (const auto& message : receipted) {
      if (times_handed(handed, id, message) == 0) return false;
    }
  }
  return true;
}

broker::NewMessage stored_message(std::uint8_t n) {
  broker::NewMessage message;
  message.id.bytes.fill(n);
  message.signed_sha256 = sha256(as_bytes("signed " + std::to_string(n)));
  message.envelope = Bytes(100, n);
  message.sender = ParticipantId("sn.focal-point");
  message.sender_country = CountryCode("SN");
  message.type = "tracingRequest";
  message.created_at_ms = now_ms();
  message.recipients.emplace_back("ne.focal-point");
  message.hold_until_ms = now_ms() + test::kDayMs;
  message.log_leaf_data = Bytes(32, n);
  return message;
}

}  // namespace

TEST_CASE("after a power cut every receipted message is kept and delivered once, and the log extends the last "
          "signed checkpoint") {
  constexpr std::size_t kReceiptsBeforeCut = 30;
  test::PowerCutVfs vfs;
  PowerCutExchange exchange(vfs);
  auto recipients = connect_recipients(exchange);
  auto observer = exchange.observer();
  auto agency = exchange.connect(kAgency);
  std::vector<Bytes> envelopes;
  const Identity signer = exchange.identity(kAgency);
  for (int n = 0; n < 400; ++n) envelopes.push_back(test::seal_sample(signer, MessageType::TRACING_REQUEST));

  // The agency submits back to back from its own thread; the power goes
  // at the fsync of a later commit, after its WAL frames were written.
  // (A jthread: joined even if a check below throws.)
  std::mutex mutex;
  std::vector<MessageId> receipted;
  std::atomic<bool> sender_done{false};
  std::jthread sender([&](std::stop_token stop) {
    for (const auto& envelope : envelopes) {
      if (stop.stop_requested()) break;
      auto receipt = agency->submit(envelope);
      if (!receipt) break;  // the broker's disk is gone: this one waits in the outbox
      std::lock_guard lock(mutex);
      receipted.push_back(receipt->message_id);
    }
    sender_done = true;
  });

  Handed handed;
  // Every distinct checkpoint the observer saw up to the cut: one signed
  // in the commit that the cut breaks is never visible, so each one seen
  // must be durable.
  std::vector<client::SignedCheckpoint> seen;
  bool armed = false;
  while (!sender_done && vfs.powered()) {
    receive(recipients, handed);
    auto head = observer->latest_checkpoint();
    if (head && (seen.empty() || head->checkpoint.size != seen.back().checkpoint.size)) seen.push_back(*head);
    std::lock_guard lock(mutex);
    if (!armed && receipted.size() >= kReceiptsBeforeCut && !seen.empty()) {
      vfs.cut_at_next_sync();
      armed = true;
    }
  }
  sender.request_stop();
  sender.join();
  const std::vector<MessageId> receipted_before_cut = receipted;
  // Otherwise the sender stopped before the cut: a submit failed.
  REQUIRE_FALSE(vfs.powered());
  REQUIRE(receipted_before_cut.size() >= kReceiptsBeforeCut);
  REQUIRE_FALSE(seen.empty());

  recipients.clear();
  observer.reset();
  agency.reset();
  exchange.stop_broker();
  // The cut came between a commit's writes and its fsync: those are gone.
  CHECK(vfs.restore_disk() > 0);

  // Power back: a new broker on the same file; clients reconnect, and
  // the agency's outbox resends what never got a receipt.
  exchange.start_broker();
  agency = exchange.connect(kAgency);
  recipients = connect_recipients(exchange);
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!all_handed(receipted_before_cut, handed) && std::chrono::steady_clock::now() < deadline) {
    receive(recipients, handed);
  }
  // A little longer, so that a second copy of anything would show.
  for (int round = 0; round < 10; ++round) receive(recipients, handed);

  for (const auto& id : kRecipients) {
    for (const auto& message : receipted_before_cut) {
      INFO(id << ", receipted message " << message.hex());
      CHECK(times_handed(handed, id, message) == 1);
    }
    for (const auto& [message, times] : handed[id]) {
      INFO(id << ", message " << message.hex());
      CHECK(times == 1);
    }
  }

  // Every checkpoint signed before the cut is a prefix of the log after it.
  observer = exchange.observer();
  auto after = must(observer->latest_checkpoint());
  for (const auto& before : seen) {
    INFO("checkpoint of size " << before.checkpoint.size << ", log now " << after.checkpoint.size);
    REQUIRE(before.checkpoint.size <= after.checkpoint.size);
    auto proof = must(observer->consistency_proof(before.checkpoint.size, after.checkpoint.size));
    CHECK(verify_consistency(before.checkpoint.size, after.checkpoint.size, before.checkpoint.root,
                             after.checkpoint.root, proof));
  }
}

// The other side of the proof above: the shim really does discard writes,
// so the test above would fail if the broker receipted a commit that was
// not fsynced. A transaction committed without durability (WAL with
// synchronous=NORMAL: no fsync) is gone after the cut; a durable one stays.
TEST_CASE("the power-cut shim loses a commit that was never synced and keeps one that was") {
  test::PowerCutVfs vfs;
  test::TempDir dir;
  const auto path = dir.path() / "store.db";
  const auto durable = stored_message(1);
  const auto not_synced = stored_message(2);
  {
    auto store = must(broker::open_sqlite_store(path, vfs.name()));
    for (const auto& [message, durability] : {std::pair{durable, broker::Durability::required},
                                              std::pair{not_synced, broker::Durability::deferred}}) {
      REQUIRE(store->begin(durability).ok());
      must(store->insert_message(message, now_ms()));
      REQUIRE(store->commit().ok());  // what the broker waits for before a receipt
    }
    CHECK(must(store->find_message(not_synced.id)).has_value());
    vfs.power_cut();
  }
  CHECK(vfs.restore_disk() > 0);

  auto store = must(broker::open_sqlite_store(path, vfs.name()));
  CHECK(must(store->find_message(durable.id)).has_value());
  CHECK_FALSE(must(store->find_message(not_synced.id)).has_value());
  CHECK(must(store->log_size()) == 1);
}

// SQLite rolls a whole transaction back on some failures (an I/O error
// while the page cache spills, disk full, out of memory), even inside a
// savepoint. A later write in that batch must then fail too: run on its own
// in autocommit, it would be stored outside the batch, without the receipt
// the batch's failed commit withholds.
TEST_CASE("after SQLite rolls back a whole transaction, the batch's later writes fail instead of running on their own") {
  test::PowerCutVfs vfs;
  test::TempDir dir;
  const auto path = dir.path() / "store.db";
  auto message_number = [](std::uint32_t n) {
    auto message = stored_message(static_cast<std::uint8_t>(n));
    std::memcpy(message.id.bytes.data(), &n, sizeof n);
    message.envelope = Bytes(16 * 1024, static_cast<std::uint8_t>(n));  // fills the page cache fast
    return message;
  };
  std::uint32_t failed_at = 0;
  {
    auto store = must(broker::open_sqlite_store(path, vfs.name()));
    REQUIRE(store->begin(broker::Durability::required).ok());
    // One write fails, and the disk works again after it: the next spill of
    // the page cache is that write.
    vfs.fail_next_write();
    std::optional<Error> failure;
    for (std::uint32_t n = 0; n < 5000 && !failure; ++n) {
      if (auto inserted = store->insert_message(message_number(n), now_ms()); !inserted) {
        failure = inserted.error();
        failed_at = n;
      }
    }
    REQUIRE(failure.has_value());
    INFO("the first failure, at message " << failed_at << ": " << failure->describe());
    // The disk works again: without the check, this would be stored on its own.
    auto later = store->insert_message(message_number(failed_at + 1), now_ms());
    REQUIRE_FALSE(later.ok());
    CHECK(later.error().code == ErrorCode::io_error);
    CHECK_THAT(later.error().message, Catch::Contains("rolled back"));
    CHECK_FALSE(store->open_savepoint().ok());
    CHECK_FALSE(store->commit().ok());
    store->rollback();
  }
  auto store = must(broker::open_sqlite_store(path, vfs.name()));
  CHECK_FALSE(must(store->find_message(message_number(failed_at + 1).id)).has_value());
  CHECK(must(store->log_size()) == 0);  // nothing of the batch was stored
}

// --- The client's machine loses power (issue 14, item 1) -------------------
//
// The recipient's state file on the shim; the broker's store on a shim of
// its own that keeps power. "Delivered" must mean "stored by the
// application": a cut anywhere between the hand-over and the confirm must
// leave the message either unconfirmed at the broker (so it is handed over
// again) or recorded by the library (so its resend is confirmed silently),
// never confirmed and missing. A library that records the id at hand-over
// fails the first cut point below.

namespace {

constexpr const char* kRecipient = "ne.focal-point";

enum class CutAt {
  after_hand_over,           // the application has not stored the message yet
  after_application_stored,  // stored, confirm() not called yet
  in_confirm_record,         // confirm()'s commit written to the WAL, its fsync cut
  after_confirm,             // recorded and confirmed; the confirm frame may still be in flight
};

const char* name_of(CutAt cut) {
  switch (cut) {
    case CutAt::after_hand_over: return "after the hand-over";
    case CutAt::after_application_stored: return "after the application stored it";
    case CutAt::in_confirm_record: return "at the fsync of confirm()'s record";
    case CutAt::after_confirm: return "after confirm() returned";
  }
  return "?";
}

// The receiving application: what it stored durably and how often each
// message was handed to it.
struct Application {
  std::set<MessageId> stored;
  std::map<MessageId, int> handed;
};

// One poll; every delivery is stored (idempotent by id), then confirmed.
void store_and_confirm(Client& client, Application& application) {
  auto deliveries = client.poll(50ms);
  REQUIRE(deliveries.ok());
  for (const auto& delivery : *deliveries) {
    ++application.handed[delivery.opened.message_id];
    application.stored.insert(delivery.opened.message_id);
    REQUIRE(client.confirm(delivery).ok());
  }
}

std::string broker_state(Client& sender, const MessageId& message) {
  auto status = sender.status(message);
  if (!status) return "status failed: " + status.error().describe();
  for (const auto& row : *status) {
    if (row.recipient.str() == kRecipient) return row.state;
  }
  return "no row";
}

}  // namespace

TEST_CASE("a power cut of the recipient's machine at any point between hand-over and confirm never loses a "
          "delivery, and one confirmed is not handed over again") {
  test::PowerCutVfs broker_disk("fpx-test-broker-disk");
  test::PowerCutVfs client_disk("fpx-test-client-disk");
  PowerCutExchange exchange(broker_disk, 500);
  auto agency = exchange.connect(kAgency);
  const Identity signer = exchange.identity(kAgency);
  Application application;

  for (const CutAt cut : {CutAt::after_hand_over, CutAt::after_application_stored, CutAt::in_confirm_record,
                          CutAt::after_confirm}) {
    INFO("power cut " << name_of(cut));
    const Bytes request = test::seal_sample(signer, MessageType::TRACING_REQUEST);
    REQUIRE(agency->submit(request).ok());
    const MessageId id = test::message_id_of(request);
    {
      auto recipient = exchange.connect(kRecipient, client_disk.name());
      std::optional<client::Delivery> handed_over;
      const auto deadline = std::chrono::steady_clock::now() + 15s;
      while (!handed_over && std::chrono::steady_clock::now() < deadline) {
        auto deliveries = recipient->poll(50ms);
        REQUIRE(deliveries.ok());
        for (auto& delivery : *deliveries) {
          if (delivery.opened.message_id == id) handed_over = std::move(delivery);
        }
      }
      REQUIRE(handed_over.has_value());
      ++application.handed[id];
      switch (cut) {
        case CutAt::after_hand_over:
          client_disk.power_cut();
          break;
        case CutAt::after_application_stored:
          application.stored.insert(id);
          client_disk.power_cut();
          break;
        case CutAt::in_confirm_record: {
          application.stored.insert(id);
          client_disk.cut_at_next_sync();
          auto confirmed = recipient->confirm(*handed_over);
          REQUIRE_FALSE(confirmed.ok());  // nothing recorded: nothing confirmed to the broker either
          CHECK_THAT(confirmed.error().message, Catch::StartsWith("not confirmed"));
          REQUIRE_FALSE(client_disk.powered());  // the record did reach an fsync
          break;
        }
        case CutAt::after_confirm:
          application.stored.insert(id);
          REQUIRE(recipient->confirm(*handed_over).ok());
          client_disk.power_cut();
          break;
      }
    }  // the machine is off: the client process is gone with it
    client_disk.restore_disk();

    auto recipient = exchange.connect(kRecipient, client_disk.name());
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    while ((application.stored.count(id) == 0 || broker_state(*agency, id) != "confirmed") &&
           std::chrono::steady_clock::now() < deadline) {
      store_and_confirm(*recipient, application);
    }
    // A little longer than a resend time, so that another copy would show.
    for (int round = 0; round < 15; ++round) store_and_confirm(*recipient, application);

    CHECK(application.stored.count(id) == 1);
    CHECK(broker_state(*agency, id) == "confirmed");
    // Confirmed before the cut: exactly once. Otherwise at least once, and
    // once more only, by the new session's resend.
    CHECK(application.handed[id] == (cut == CutAt::after_confirm ? 1 : 2));
  }
}

TEST_CASE("a write fault in the client's state file at confirm leaves the delivery unconfirmed, and the broker's "
          "resend hands it over again") {
  test::PowerCutVfs broker_disk("fpx-test-broker-disk");
  test::PowerCutVfs client_disk("fpx-test-client-disk");
  PowerCutExchange exchange(broker_disk, 500);
  auto agency = exchange.connect(kAgency);
  auto recipient = exchange.connect(kRecipient, client_disk.name());
  const Bytes request = test::seal_sample(exchange.identity(kAgency), MessageType::TRACING_REQUEST);
  REQUIRE(agency->submit(request).ok());
  const MessageId id = test::message_id_of(request);

  Application application;
  std::optional<client::Delivery> handed_over;
  auto deadline = std::chrono::steady_clock::now() + 15s;
  while (!handed_over && std::chrono::steady_clock::now() < deadline) {
    auto deliveries = recipient->poll(50ms);
    REQUIRE(deliveries.ok());
    for (auto& delivery : *deliveries) handed_over = std::move(delivery);
  }
  REQUIRE(handed_over.has_value());
  ++application.handed[id];
  application.stored.insert(id);
  client_disk.fail_next_write();  // the disk fails once, then works again
  auto confirmed = recipient->confirm(*handed_over);
  REQUIRE_FALSE(confirmed.ok());
  CHECK(confirmed.error().code == ErrorCode::io_error);
  CHECK_THAT(confirmed.error().message, Catch::Contains("handed over again"));
  CHECK(broker_state(*agency, id) != "confirmed");

  // Same session: the broker's resend (500 ms) is handed over again.
  deadline = std::chrono::steady_clock::now() + 15s;
  while ((application.handed[id] < 2 || broker_state(*agency, id) != "confirmed") &&
         std::chrono::steady_clock::now() < deadline) {
    store_and_confirm(*recipient, application);
  }
  CHECK(application.handed[id] == 2);
  CHECK(broker_state(*agency, id) == "confirmed");
}
