// fpx-crash-cycles: the real fpx-broker under load from several senders and
// recipients (fpx_client) and an observer, killed with SIGKILL at random
// moments and restarted on the same SQLite file, cycle after cycle. At the
// end: every message that got a receipt must have reached its recipient
// application exactly once, and the transparency log must be consistent
// with every signed checkpoint the observer saw on the way.
//
//   fpx-crash-cycles [--cycles 100] [--senders 4] [--recipients 4]
//                    [--min-up-ms 200] [--max-up-ms 1500] [--seed N]
//                    [--broker-bin PATH] [--keep-dir]
//                    [--store postgres --failover [--promote-every 10] [--lease-ms 5000]]
//
// With --store postgres --failover (issue 16): a primary PostgreSQL with a
// synchronous standby (postgres_pair.hpp) and two brokers on it, one
// leading and one standing by (broker_pair.hpp), every participant holding
// both brokers' endpoints. Each cycle SIGKILLs the leading broker; every
// --promote-every'th cycle also loses the primary PostgreSQL and promotes
// its standby. The same checks, plus the time from the old leader's last
// receipt to the new leader's first (failover_ms_p50, failover_ms_max).
//
// SIGKILL keeps the operating system's page cache, so this shows that the
// broker recovers from a crash at any moment (no receipt without a stored
// message, no message lost or handed over twice across restarts), not that
// an fsync happened: tests/unit/broker/power_cut_test.cpp shows that part.
//
// Prints one "name value" line per figure (see bench/README.md); exits 1
// when any check misses its target of 0 (lost, duplicated, the log checks,
// or a message the broker refused).
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <capnp/message.h>

#include "bench_support.hpp"
#include "broker_pair.hpp"
#include "postgres_pair.hpp"
#include "fpx/client.hpp"
#include "fpx/envelope.hpp"
#include "fpx/observer_client.hpp"
#include "fpx/transparency_log.hpp"
#include "fpx/verify_receipt.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using fpx::bench::fail;
using fpx::bench::must;

constexpr const char* kSenderCountries[] = {"SN", "ML", "NE", "BF", "GH", "CI", "TG", "BJ"};
constexpr const char* kRecipientCountries[] = {"BE", "NG", "FR", "DE", "IT", "ES", "RU", "CN"};
constexpr int kMaxParties = 8;
constexpr const char* kObserverId = "cso.observatory";

// Short, so that a client notices a dead broker quickly and reconnects
// (the library does not report a lost connection; a timeout does). A submit
// takes a few ms here; one that times out merely resends from the outbox.
constexpr auto kClientTimeout = std::chrono::milliseconds(500);
constexpr auto kPollWait = std::chrono::milliseconds(50);
constexpr auto kRetryPause = std::chrono::milliseconds(50);
constexpr int kMaxRefusedHandshakes = 100;  // in a row: about 5 s of a broker that will not let us in
constexpr auto kObservePause = std::chrono::milliseconds(30);
constexpr std::int64_t kLogCheckpointEveryMs = 100;  // the broker's minimum
// The end: how long to wait for the last deliveries and checkpoint once
// nothing is being sent any more.
constexpr auto kDrainTimeout = std::chrono::seconds(120);
// --failover: how long a cycle may wait for the standby broker to take the
// lead and give its first receipt (a promotion cycle includes rebuilding
// the standby PostgreSQL server, which commits wait for).
constexpr auto kTakeoverTimeout = std::chrono::seconds(180);
// After the SIGKILL, before the old leader's last receipt time is read: a
// client thread may still be recording a receipt it read just before the
// kill, which must count as the old leader's.
constexpr auto kReceiptSettle = std::chrono::milliseconds(20);

enum class StoreKind { sqlite, postgres };

struct Options {
  int cycles = 100;
  int senders = 4;
  int recipients = 4;
  int min_up_ms = 200;
  int max_up_ms = 1500;
  std::uint64_t seed = 0;  // 0: from the clock (printed, to replay a run)
  std::string broker_bin;
  bool keep_dir = false;
  StoreKind store = StoreKind::sqlite;
  bool failover = false;        // --store postgres only: two brokers, primary + synchronous standby server
  int promote_every = 10;       // every Nth cycle also loses the primary PostgreSQL and promotes the standby
  std::int64_t lease_ms = 5000;  // the brokers' [store] lease_ms
};

std::string lower(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}
std::string sender_id(int index) { return lower(kSenderCountries[index]) + ".police"; }
std::string recipient_id(int index) { return lower(kRecipientCountries[index]) + ".focal-point"; }

struct Sealed {
  fpx::MessageId id;
  fpx::Bytes envelope;
};

// A valid tracing request from an agency of `from` to the focal point of `to`.
Sealed seal_request(const fpx::Identity& signer, const std::string& from, const std::string& agency,
                    const std::string& to, std::uint64_t serial) {
  capnp::MallocMessageBuilder body_message;
  auto body = body_message.initRoot<fpx::wire::Body>();
  auto request = body.initTracingRequest();
  request.setRequestingCountry(from);
  request.setRequestingAgency(agency);
  const std::string case_reference = from + "-CRASH-" + std::to_string(serial);
  request.setNationalCaseReference(case_reference);
  auto state = request.initRequestedStates(1)[0];
  state.setCountry(to);
  state.setRole(fpx::wire::RequestedStateRole::COUNTRY_OF_MANUFACTURE);
  auto firearm = request.initFirearms(1)[0];
  firearm.setSerialNumber("CR" + std::to_string(serial));
  firearm.setManufacturer("FN Herstal");
  firearm.setCountryOfManufacture("BE");
  firearm.setPlaceOfManufacture("Herstal");
  firearm.setModel("FAL 50.00");
  firearm.setType(fpx::wire::FirearmType::RIFLE_CARBINE);
  firearm.setCalibre("7.62x51mm NATO");
  auto import_marking = firearm.initImportMarking();
  import_marking.setCountry("NG");
  import_marking.setYear(1998);
  firearm.setYearOfManufacture(1975);
  request.initIllicitBasis(1).set(0, fpx::wire::IllicitBasis::ILLICIT_UNDER_NATIONAL_LAW);
  request.setLegalJustification("seized in a criminal investigation (case " + case_reference + ")");
  auto recovery = request.initRecovery();
  auto date = recovery.initDate();
  date.setYear(2024);
  date.setMonth(3);
  date.setDay(14);
  recovery.setAdministrativeArea("Saint-Louis");
  recovery.setCircumstance(fpx::wire::RecoveryCircumstance::SEIZED);
  recovery.setCrimeCategory("trafficking");
  request.setIntendedUse("criminal investigation and prosecution");
  request.initInformationSought(1).set(0, fpx::wire::InformationSought::CHAIN_OF_CUSTODY);

  capnp::MallocMessageBuilder header_message;
  auto header = header_message.initRoot<fpx::wire::Header>();
  const fpx::MessageId id = fpx::MessageId::random();
  header.setMessageId(kj::arrayPtr(id.bytes.data(), id.bytes.size()));
  header.initRecipients(1)[0].setCountry(to);
  header.setClassification(fpx::wire::Classification::RESTRICTED);
  header.initHandlingCodes(1).set(0, fpx::wire::HandlingCode::H0_CRIME_FIGHTING_ONLY);
  header.setCaseReference(case_reference);
  return Sealed{id, must(fpx::seal_envelope(signer, header, body.asReader()), "seal")};
}

// Who each message was for and what each recipient application was
// handed. Shared by every thread, behind one mutex (the load is modest).
class Ledger {
 public:
  void sent(const fpx::MessageId& id, int recipient) {
    std::lock_guard lock(mutex_);
    recipient_of_[id] = recipient;
  }
  void receipted_live() {
    receipted_live_.fetch_add(1);
    std::lock_guard lock(mutex_);
    last_receipt_ = Clock::now();
    if (armed_) {
      first_after_arm_ = last_receipt_;
      armed_ = false;
    }
  }
  // --failover: the time of the last receipt so far; the time of the next
  // receipt will be kept for first_receipt_since_arm().
  Clock::time_point arm() {
    std::lock_guard lock(mutex_);
    armed_ = true;
    return last_receipt_;
  }
  std::optional<Clock::time_point> first_receipt_since_arm() const {
    std::lock_guard lock(mutex_);
    if (armed_) return std::nullopt;
    return first_after_arm_;
  }
  void handed(const fpx::MessageId& id, int recipient) {
    std::lock_guard lock(mutex_);
    ++handed_[id][recipient];
  }
  std::map<fpx::MessageId, int> recipients() const {
    std::lock_guard lock(mutex_);
    return recipient_of_;
  }
  std::map<fpx::MessageId, std::map<int, int>> handed() const {
    std::lock_guard lock(mutex_);
    return handed_;
  }
  std::int64_t live_receipts() const { return receipted_live_.load(); }

 private:
  mutable std::mutex mutex_;
  std::map<fpx::MessageId, int> recipient_of_;
  std::map<fpx::MessageId, std::map<int, int>> handed_;  // id -> recipient -> times
  std::atomic<std::int64_t> receipted_live_{0};
  Clock::time_point last_receipt_ = Clock::now();
  Clock::time_point first_after_arm_{};
  bool armed_ = false;
};

// Every distinct signed checkpoint the observer saw, by tree size. Two
// different roots for one size would be a fork of the log.
class CheckpointLog {
 public:
  void saw(const fpx::client::SignedCheckpoint& head) {
    std::lock_guard lock(mutex_);
    auto [found, inserted] = by_size_.emplace(head.checkpoint.size, head);
    if (!inserted && found->second.checkpoint.root != head.checkpoint.root) ++forks_;
  }
  std::map<std::uint64_t, fpx::client::SignedCheckpoint> all() const {
    std::lock_guard lock(mutex_);
    return by_size_;
  }
  int forks() const {
    std::lock_guard lock(mutex_);
    return forks_;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::uint64_t, fpx::client::SignedCheckpoint> by_size_;
  int forks_ = 0;
};

// What a participant knows of the exchange: its endpoints (one broker, or
// the leader's and the standby's with --failover, tried in turn by the
// client library), the broker's keys and pins.
struct Exchange {
  fpx::bench::BenchPki& pki;
  std::vector<std::string> endpoints;
  std::vector<std::string> observers_endpoints;
  fpx::CurvePublicKey curve_public_key;
  fpx::client::BrokerPins broker_pins;
  fs::path chain_path;
  fs::path dir;

  fpx::client::ClientOptions client_options(const std::string& id) const {
    fpx::client::ClientOptions options;
    options.endpoint = endpoints.front();
    options.endpoints.assign(endpoints.begin() + 1, endpoints.end());
    options.broker_curve_key = curve_public_key;
    options.state_db = state_db(id);
    options.root_ca = pki.root_pem();
    options.crl_dir = pki.crl_dir();
    options.broker_pins = broker_pins;
    options.handshake_timeout = kClientTimeout;
    options.request_timeout = kClientTimeout;
    return options;
  }
  fs::path state_db(const std::string& id) const { return dir / (id + ".client.sqlite"); }

  // Until it connects or `stop`: the broker may be down for a while. A
  // connect resends the outbox (every message still without a receipt).
  // A broker killed during the CURVE handshake looks to a new client like a
  // refused handshake, so a refusal is retried too, but not for ever.
  std::unique_ptr<fpx::client::Client> connect(const std::string& id, const std::atomic<bool>& stop) const {
    for (int refused = 0; !stop.load();) {
      auto client = fpx::client::Client::connect(pki.identity(id), client_options(id));
      if (client) return std::move(client).value();
      if (client.error().code == fpx::ErrorCode::unauthorized && ++refused > kMaxRefusedHandshakes) {
        fail(id + ": " + client.error().describe());
      }
      std::this_thread::sleep_for(kRetryPause);
    }
    return nullptr;
  }

  std::unique_ptr<fpx::client::ObserverClient> observe(const std::atomic<bool>& stop) const {
    fpx::client::ObserverOptions options;
    options.endpoint = observers_endpoints.front();
    options.endpoints.assign(observers_endpoints.begin() + 1, observers_endpoints.end());
    options.broker_chain = must(fpx::Certificate::load_pem_file(chain_path), "broker chain");
    options.root_ca = pki.root_pem();
    options.broker_pins = broker_pins;
    options.handshake_timeout = kClientTimeout;
    options.request_timeout = kClientTimeout;
    for (int refused = 0; !stop.load();) {
      auto observer = fpx::client::ObserverClient::connect(pki.identity(kObserverId), options);
      if (observer) return std::move(observer).value();
      if (observer.error().code == fpx::ErrorCode::unauthorized && ++refused > kMaxRefusedHandshakes) {
        fail("observer: " + observer.error().describe());
      }
      std::this_thread::sleep_for(kRetryPause);
    }
    return nullptr;
  }
};

bool is_transient(fpx::ErrorCode code) {
  return code == fpx::ErrorCode::unavailable || code == fpx::ErrorCode::rate_limited ||
         code == fpx::ErrorCode::internal || code == fpx::ErrorCode::io_error;
}

struct Refusals {
  std::atomic<std::int64_t> count{0};
  std::mutex mutex;
  std::string first;
  void add(const std::string& what) {
    if (count.fetch_add(1) == 0) {
      std::lock_guard lock(mutex);
      first = what;
    }
  }
};

// One agency: seals and submits back to back; on any transient failure it
// drops the session and connects again, which resends its outbox.
void run_sender(const Exchange& exchange, int index, int recipients, Ledger& ledger, Refusals& refusals,
                const std::atomic<bool>& stop) {
  const std::string id = sender_id(index);
  const fpx::Identity signer = exchange.pki.identity(id);
  auto client = exchange.connect(id, stop);
  for (std::uint64_t n = 0; client && !stop.load(); ++n) {
    const int to = static_cast<int>((n + static_cast<std::uint64_t>(index)) % static_cast<std::uint64_t>(recipients));
    const std::uint64_t serial = static_cast<std::uint64_t>(index) * 1'000'000'000ULL + n;
    const Sealed sealed = seal_request(signer, kSenderCountries[index], id, kRecipientCountries[to], serial);
    ledger.sent(sealed.id, to);
    auto receipt = client->submit(sealed.envelope);
    if (receipt) {
      ledger.receipted_live();
      continue;
    }
    if (!is_transient(receipt.error().code)) {
      refusals.add(id + ": " + receipt.error().describe());
      continue;
    }
    client.reset();  // the broker died (or is restarting): a new session resends the outbox
    client = exchange.connect(id, stop);
  }
  for (auto& error : client ? client->take_outbox_refusals() : std::vector<fpx::Error>{}) {
    refusals.add(id + ": " + error.describe());
  }
}

// One focal point: polls, counts what its application is handed, confirms.
// The library re-pings after a broker restart, so the session follows.
void run_recipient(const Exchange& exchange, int index, Ledger& ledger, const std::atomic<bool>& stop) {
  const std::string id = recipient_id(index);
  auto client = exchange.connect(id, stop);
  while (client && !stop.load()) {
    auto deliveries = client->poll(kPollWait);
    if (!deliveries) {
      client.reset();
      client = exchange.connect(id, stop);
      continue;
    }
    for (const auto& delivery : *deliveries) {
      ledger.handed(delivery.opened.message_id, index);
      (void)client->confirm(delivery);  // a lost confirm only means a resend, which the library drops
    }
  }
}

// The observer: the latest signed checkpoint, over and over.
void run_observer(const Exchange& exchange, CheckpointLog& checkpoints, const std::atomic<bool>& stop) {
  auto observer = exchange.observe(stop);
  while (observer && !stop.load()) {
    auto head = observer->latest_checkpoint();
    if (head) {
      checkpoints.saw(*head);
    } else if (head.error().code == fpx::ErrorCode::bad_signature || head.error().code == fpx::ErrorCode::malformed) {
      fail("observer: a checkpoint did not verify: " + head.error().describe());
    } else if (head.error().code == fpx::ErrorCode::unavailable) {
      observer.reset();  // the broker died: connect again once it is back
      observer = exchange.observe(stop);
      continue;
    }
    std::this_thread::sleep_for(kObservePause);
  }
}

struct StoredLeaf {
  fpx::Sha256Digest hash{};
  std::optional<fpx::MessageId> message;  // none for a leaf of a feed record
};

// The final store, read directly after the broker stopped: every leaf with
// the message it logs, if any. Exits if a leaf's hash is not the hash of its
// data or the indices are not dense.
std::vector<StoredLeaf> read_leaves(const fs::path& database) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(database.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    fail("cannot open " + database.string());
  }
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(db,
                         "SELECT l.leaf_index, l.leaf_data, l.leaf_hash, m.message_id FROM log_leaves AS l "
                         "LEFT JOIN messages AS m ON m.seq = l.message_seq ORDER BY l.leaf_index",
                         -1, &statement, nullptr) != SQLITE_OK) {
    fail(std::string("reading the log: ") + sqlite3_errmsg(db));
  }
  auto blob = [&](int column) {
    const auto* data = static_cast<const std::uint8_t*>(sqlite3_column_blob(statement, column));
    return fpx::Bytes(data, data + sqlite3_column_bytes(statement, column));
  };
  std::vector<StoredLeaf> leaves;
  while (sqlite3_step(statement) == SQLITE_ROW) {
    if (sqlite3_column_int64(statement, 0) != static_cast<std::int64_t>(leaves.size())) fail("log leaves are not dense");
    const fpx::Bytes stored_hash = blob(2);
    const fpx::Sha256Digest hash = fpx::leaf_hash(blob(1));
    if (stored_hash != fpx::Bytes(hash.begin(), hash.end())) fail("a stored leaf hash is not the hash of its data");
    std::optional<fpx::MessageId> id;
    if (sqlite3_column_type(statement, 3) != SQLITE_NULL) {
      id = fpx::MessageId::from_bytes(blob(3));
      if (!id) fail("a malformed message id in the store");
    }
    leaves.push_back({hash, id});
  }
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return leaves;
}

// The same from the PostgreSQL store (--store postgres), on the primary
// that served last, after the brokers stopped.
std::vector<StoredLeaf> read_leaves(const fpx::bench::PostgresPair& servers) {
  const auto rows = servers.query(
      "SELECT l.leaf_index, encode(l.leaf_data, 'hex'), encode(l.leaf_hash, 'hex'), "
      "COALESCE(encode(m.message_id, 'hex'), '') FROM log_leaves AS l "
      "LEFT JOIN messages AS m ON m.seq = l.message_seq ORDER BY l.leaf_index");
  std::vector<StoredLeaf> leaves;
  for (const auto& row : rows) {
    if (row[0] != std::to_string(leaves.size())) fail("log leaves are not dense");
    const auto data = fpx::from_hex(row[1]);
    const auto stored_hash = fpx::from_hex(row[2]);
    if (!data || !stored_hash) fail("a malformed leaf in the store");
    const fpx::Sha256Digest hash = fpx::leaf_hash(*data);
    if (*stored_hash != fpx::Bytes(hash.begin(), hash.end())) fail("a stored leaf hash is not the hash of its data");
    std::optional<fpx::MessageId> id;
    if (!row[3].empty()) {
      const auto bytes = fpx::from_hex(row[3]);
      if (bytes) id = fpx::MessageId::from_bytes(*bytes);
      if (!id) fail("a malformed message id in the store");
    }
    leaves.push_back({hash, id});
  }
  return leaves;
}

struct OutboxReceipt {
  fpx::MessageId id;
  fpx::Bytes signed_receipt;
};

// The receipts a sender's library holds (it verified each before keeping
// it); they are read back and verified again here.
std::vector<OutboxReceipt> read_receipts(const fs::path& state_db) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(state_db.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    fail("cannot open " + state_db.string());
  }
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT message_id, receipt FROM outbox WHERE state = 'receipted'", -1, &statement,
                         nullptr) != SQLITE_OK) {
    fail(std::string("reading the outbox: ") + sqlite3_errmsg(db));
  }
  std::vector<OutboxReceipt> receipts;
  while (sqlite3_step(statement) == SQLITE_ROW) {
    const auto* id = static_cast<const std::uint8_t*>(sqlite3_column_blob(statement, 0));
    const auto* receipt = static_cast<const std::uint8_t*>(sqlite3_column_blob(statement, 1));
    auto message = fpx::MessageId::from_bytes(fpx::ByteView(id, static_cast<std::size_t>(sqlite3_column_bytes(statement, 0))));
    if (!message) fail("a malformed message id in an outbox");
    receipts.push_back({*message, fpx::Bytes(receipt, receipt + sqlite3_column_bytes(statement, 1))});
  }
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return receipts;
}

std::string default_broker_bin() {
  std::error_code error;
  const fs::path self = fs::read_symlink("/proc/self/exe", error);
  return error ? std::string("fpx-broker") : (self.parent_path() / "fpx-broker").string();
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  options.broker_bin = default_broker_bin();
  CLI::App app{"fpx-crash-cycles: SIGKILL the broker under load, restart it, check receipts, deliveries and the log"};
  app.add_option("--cycles", options.cycles, "kill and restart this many times")->check(CLI::PositiveNumber);
  app.add_option("--senders", options.senders, "sending agencies, one thread each")->check(CLI::Range(1, kMaxParties));
  app.add_option("--recipients", options.recipients, "receiving focal points, one thread each")
      ->check(CLI::Range(1, kMaxParties));
  app.add_option("--min-up-ms", options.min_up_ms, "shortest run of the broker before a kill")->check(CLI::PositiveNumber);
  app.add_option("--max-up-ms", options.max_up_ms, "longest run of the broker before a kill")->check(CLI::PositiveNumber);
  app.add_option("--seed", options.seed, "random seed for the kill moments (0: from the clock)");
  app.add_option("--broker-bin", options.broker_bin, "the fpx-broker binary (default: next to this program)");
  app.add_flag("--keep-dir", options.keep_dir, "keep the PKI, broker config, log, database and client files");
  std::string store_name = "sqlite";
  app.add_option("--store", store_name, "the broker's store: sqlite (one broker on one file) or postgres")
      ->check(CLI::IsMember({"sqlite", "postgres"}));
  app.add_flag("--failover", options.failover,
               "with --store postgres: two brokers (one leads, one stands by) on a primary PostgreSQL with a "
               "synchronous standby; each cycle kills the leading broker");
  app.add_option("--promote-every", options.promote_every,
                 "with --failover: every Nth cycle also loses the primary PostgreSQL and promotes its standby")
      ->check(CLI::PositiveNumber);
  app.add_option("--lease-ms", options.lease_ms, "with --failover: the brokers' [store] lease_ms")
      ->check(CLI::Range(500, 60'000));
  CLI11_PARSE(app, argc, argv);
  options.store = store_name == "postgres" ? StoreKind::postgres : StoreKind::sqlite;
  if (options.max_up_ms < options.min_up_ms) fail("--max-up-ms is below --min-up-ms");
  if (options.failover && options.store != StoreKind::postgres) {
    fail("--failover needs --store postgres: failover is two brokers on one PostgreSQL store");
  }
  if (options.store == StoreKind::postgres && !options.failover) {
    fail("--store postgres runs only with --failover so far; without it, use the SQLite mode");
  }
  if (options.seed == 0) options.seed = static_cast<std::uint64_t>(Clock::now().time_since_epoch().count());
  std::fprintf(stderr, "# seed %llu\n", static_cast<unsigned long long>(options.seed));

  fpx::bench::TempDir dir(options.keep_dir ? fpx::bench::KeepDir::keep : fpx::bench::KeepDir::remove);
  fpx::bench::BenchPki pki(dir.path());
  std::vector<std::string> participants;
  for (int s = 0; s < options.senders; ++s) {
    pki.issue(sender_id(s), kSenderCountries[s], fpx::Role::agency);
    participants.push_back(sender_id(s));
  }
  for (int r = 0; r < options.recipients; ++r) {
    pki.issue(recipient_id(r), kRecipientCountries[r], fpx::Role::focal_point);
    participants.push_back(recipient_id(r));
  }
  pki.issue(kObserverId, "SN", fpx::Role::observer);
  participants.push_back(kObserverId);

  // SQLite: one broker on one file. --failover: two PostgreSQL servers and
  // two brokers, the participants holding both brokers' endpoints.
  std::unique_ptr<fpx::bench::BrokerProcess> broker;
  std::unique_ptr<fpx::bench::PostgresPair> servers;
  std::unique_ptr<fpx::bench::BrokerPair> pair;
  std::optional<Exchange> exchange_storage;
  if (options.failover) {
    servers = std::make_unique<fpx::bench::PostgresPair>();
    fpx::bench::BrokerPairSettings settings;
    settings.binary = options.broker_bin;
    settings.store_dsn = servers->dsn();
    settings.lease_ms = options.lease_ms;
    settings.log_checkpoint_every_ms = kLogCheckpointEveryMs;
    pair = std::make_unique<fpx::bench::BrokerPair>(pki, participants, settings);
    exchange_storage.emplace(Exchange{pki,
                                      {pair->endpoint(0), pair->endpoint(1)},
                                      {pair->observers_endpoint(0), pair->observers_endpoint(1)},
                                      pair->curve_public_key(),
                                      pair->broker_pins(),
                                      pair->chain_path(),
                                      dir.path()});
  } else {
    fpx::bench::BrokerSettings settings;
    settings.binary = options.broker_bin;
    settings.log_level = "info";  // the log shows each start's recovery, for --keep-dir
    settings.log_checkpoint_every_ms = kLogCheckpointEveryMs;
    broker = std::make_unique<fpx::bench::BrokerProcess>(pki, participants, settings);
    exchange_storage.emplace(Exchange{pki,
                                      {broker->endpoint()},
                                      {broker->observers_endpoint()},
                                      broker->curve_public_key(),
                                      broker->broker_pins(),
                                      broker->chain_path(),
                                      dir.path()});
  }
  const Exchange& exchange = *exchange_storage;

  Ledger ledger;
  CheckpointLog checkpoints;
  Refusals refusals;
  std::atomic<bool> stop_sending{false};
  std::atomic<bool> stop_receiving{false};
  std::vector<std::thread> senders;
  std::vector<std::thread> recipients;
  for (int r = 0; r < options.recipients; ++r) {
    recipients.emplace_back([&, r] { run_recipient(exchange, r, ledger, stop_receiving); });
  }
  recipients.emplace_back([&] { run_observer(exchange, checkpoints, stop_receiving); });
  for (int s = 0; s < options.senders; ++s) {
    senders.emplace_back([&, s] { run_sender(exchange, s, options.recipients, ledger, refusals, stop_sending); });
  }

  std::mt19937_64 random(options.seed);
  std::uniform_int_distribution<int> up_ms(options.min_up_ms, options.max_up_ms);
  int kills_under_load = 0;  // cycles in which receipts were given before the kill
  std::vector<double> failover_ms;  // per cycle: old leader's last receipt -> new leader's first
  const auto run_start = Clock::now();
  if (!options.failover) {
    // The cycles: run for a random while, SIGKILL, start again on the same file.
    for (int cycle = 0; cycle < options.cycles; ++cycle) {
      const std::int64_t receipts_before = ledger.live_receipts();
      std::this_thread::sleep_for(std::chrono::milliseconds(up_ms(random)));
      broker->kill_hard();
      if (ledger.live_receipts() > receipts_before) ++kills_under_load;
      broker->start();
    }
  } else {
    // The cycles: the leader serves for a random while after its first
    // receipt; then it is SIGKILLed (and, every --promote-every cycles, the
    // primary PostgreSQL is lost first and its standby promoted, then a new
    // standby server is built from it); the other broker takes the lead and
    // the killed one comes back as the standby.
    for (int cycle = 0; cycle < options.cycles; ++cycle) {
      const std::int64_t receipts_before = ledger.live_receipts();
      std::this_thread::sleep_for(std::chrono::milliseconds(up_ms(random)));
      pair->restart_exited();
      const int old_leader = pair->leader();
      if (old_leader < 0) fail("no broker leads at the start of cycle " + std::to_string(cycle));
      const bool promote = (cycle + 1) % options.promote_every == 0;
      if (promote) servers->lose_primary_and_promote();
      pair->kill_hard(old_leader);
      if (ledger.live_receipts() > receipts_before) ++kills_under_load;
      std::this_thread::sleep_for(kReceiptSettle);
      const Clock::time_point last_before = ledger.arm();
      if (promote) servers->attach_new_standby();
      const int new_leader = pair->wait_leader(
          std::chrono::duration_cast<std::chrono::milliseconds>(kTakeoverTimeout));
      if (new_leader < 0) {
        fail("no broker took the lead within " + std::to_string(kTakeoverTimeout.count()) + " s in cycle " +
             std::to_string(cycle) + " (logs: " + pair->log_path(0).string() + ", " + pair->log_path(1).string() +
             "; run with --keep-dir)");
      }
      pair->start(old_leader);  // the new standby
      const auto deadline = Clock::now() + kTakeoverTimeout;
      std::optional<Clock::time_point> first_after;
      while (!(first_after = ledger.first_receipt_since_arm()) && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      if (!first_after) fail("no receipt from the new leader within " + std::to_string(kTakeoverTimeout.count()) +
                             " s in cycle " + std::to_string(cycle));
      failover_ms.push_back(std::chrono::duration<double, std::milli>(*first_after - last_before).count());
      std::fprintf(stderr, "# cycle %d: broker %d -> %d%s, %.0f ms\n", cycle, old_leader, new_leader,
                   promote ? " (primary PostgreSQL lost, standby promoted)" : "", failover_ms.back());
    }
  }

  // The end: stop sending, let every sender's outbox drain (a connect resends
  // what has no receipt yet), then wait for the deliveries and a checkpoint
  // of the whole log.
  stop_sending = true;
  for (auto& thread : senders) thread.join();
  const std::atomic<bool> never{false};
  for (int s = 0; s < options.senders; ++s) {
    const std::string id = sender_id(s);
    for (;;) {
      auto client = exchange.connect(id, never);
      for (auto& error : client->take_outbox_refusals()) refusals.add(id + ": " + error.describe());
      if (must(client->unreceipted_count(), "outbox") == 0) break;
    }
  }
  std::map<fpx::MessageId, fpx::Bytes> receipts;  // every verified receipt the senders hold
  int bad_receipts = 0;
  auto trust = must(fpx::TrustStore::load(pki.root_pem(), pki.crl_dir()), "trust store");
  for (int s = 0; s < options.senders; ++s) {
    for (auto& held : read_receipts(exchange.state_db(sender_id(s)))) {
      fpx::client::ReceiptExpectation expected;
      expected.message_id = held.id;
      expected.broker_pins = exchange.broker_pins;
      if (fpx::client::verify_receipt(trust, held.signed_receipt, expected)) {
        receipts.emplace(held.id, std::move(held.signed_receipt));
      } else {
        ++bad_receipts;
      }
    }
  }
  const auto sent_to = ledger.recipients();
  auto all_handed = [&] {
    const auto handed = ledger.handed();
    return std::all_of(receipts.begin(), receipts.end(), [&](const auto& entry) { return handed.count(entry.first) != 0; });
  };
  const auto drain_deadline = Clock::now() + kDrainTimeout;
  while (!all_handed() && Clock::now() < drain_deadline) std::this_thread::sleep_for(std::chrono::milliseconds(50));

  // The final checkpoint covers every leaf once the broker has signed one
  // after the last message: the log only grows with messages here.
  auto observer = exchange.observe(never);
  fpx::client::SignedCheckpoint final_head;
  for (std::uint64_t last_size = 0;;) {
    final_head = must(observer->latest_checkpoint(), "final checkpoint");
    if (final_head.checkpoint.size == last_size && last_size != 0) break;  // unchanged over a renewal period
    last_size = final_head.checkpoint.size;
    std::this_thread::sleep_for(std::chrono::milliseconds(3 * kLogCheckpointEveryMs));
    if (Clock::now() > drain_deadline) break;
  }
  checkpoints.saw(final_head);
  // A little longer, so that a second copy of anything would show.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  stop_receiving = true;
  for (auto& thread : recipients) thread.join();

  // Consistency proofs, from the broker, from every checkpoint seen to the last.
  int proofs_verified = 0;
  int proof_failures = 0;
  const auto seen = checkpoints.all();
  for (const auto& [size, head] : seen) {
    auto proof = observer->consistency_proof(size, final_head.checkpoint.size);
    if (proof && fpx::verify_consistency(size, final_head.checkpoint.size, head.checkpoint.root,
                                         final_head.checkpoint.root, *proof)) {
      ++proofs_verified;
    } else {
      ++proof_failures;
      std::fprintf(stderr, "# checkpoint of size %llu is not consistent with the final one\n",
                    static_cast<unsigned long long>(size));
    }
  }
  observer.reset();
  int broker_exits_on_their_own = 0;
  if (broker) {
    if (const int status = broker->stop(); status != 0) {
      std::fprintf(stderr, "# fpx-broker exited with status %d (log: %s)\n", status, broker->log_path().c_str());
    }
  } else {
    broker_exits_on_their_own = pair->exits_on_their_own();
    pair.reset();  // both killed: the store is read as the last leader left it
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - run_start).count();

  // The same, without trusting the broker's proofs: every root recomputed
  // from the final store's leaves; every receipt's log index holds its message.
  const std::vector<StoredLeaf> leaves = servers ? read_leaves(*servers) : read_leaves(broker->database());
  fpx::MemoryLog log;
  for (const auto& leaf : leaves) log.append(leaf.hash);
  int root_mismatches = 0;
  for (const auto& [size, head] : seen) {
    if (size > log.size()) {
      ++root_mismatches;  // a checkpoint of leaves the store no longer has
      continue;
    }
    auto root = fpx::root(log, size);
    if (!root || *root != head.checkpoint.root) ++root_mismatches;
  }
  int receipts_not_in_log = 0;
  for (const auto& [id, signed_receipt] : receipts) {
    fpx::client::ReceiptExpectation expected;
    expected.message_id = id;
    expected.broker_pins = exchange.broker_pins;
    auto receipt = fpx::client::verify_receipt(trust, signed_receipt, expected);
    if (!receipt || receipt->log_index >= leaves.size() || leaves[receipt->log_index].message != id) {
      ++receipts_not_in_log;
    }
  }

  // Receipted messages against what the applications were handed.
  const auto handed = ledger.handed();
  std::int64_t lost = 0;
  std::int64_t duplicated = 0;
  std::int64_t misrouted = 0;
  std::int64_t handed_without_receipt = 0;
  for (const auto& [id, signed_receipt] : receipts) {
    auto to = sent_to.find(id);
    auto got = handed.find(id);
    if (to == sent_to.end()) fail("a receipt for a message this run did not send");
    if (got == handed.end() || got->second.count(to->second) == 0) ++lost;
  }
  for (const auto& [id, by_recipient] : handed) {
    auto to = sent_to.find(id);
    for (const auto& [recipient, times] : by_recipient) {
      if (times > 1) ++duplicated;
      if (to == sent_to.end() || to->second != recipient) ++misrouted;
    }
    if (receipts.count(id) == 0) ++handed_without_receipt;
  }

  std::fprintf(stderr, "# %d senders, %d recipients, up %d-%d ms per cycle, %.0f s in all\n", options.senders,
               options.recipients, options.min_up_ms, options.max_up_ms, seconds);
  std::fprintf(stderr, "# messages sealed and submitted %zu, receipts returned by submit() %lld\n", sent_to.size(),
               static_cast<long long>(ledger.live_receipts()));
  std::fprintf(stderr, "# final log size %zu, final checkpoint size %llu\n", leaves.size(),
               static_cast<unsigned long long>(final_head.checkpoint.size));
  if (refusals.count.load() > 0) {
    std::fprintf(stderr, "# refused %lld, first: %s\n", static_cast<long long>(refusals.count.load()),
                 refusals.first.c_str());
  }

  std::printf("cycles %d\n", options.cycles);
  std::printf("kills_under_load %d\n", kills_under_load);
  std::printf("receipted %zu\n", receipts.size());
  std::printf("lost %lld\n", static_cast<long long>(lost));
  std::printf("duplicated %lld\n", static_cast<long long>(duplicated));
  std::printf("misrouted %lld\n", static_cast<long long>(misrouted));
  std::printf("handed_without_receipt %lld\n", static_cast<long long>(handed_without_receipt));
  std::printf("bad_receipts %d\n", bad_receipts);
  std::printf("log_checkpoints_seen %zu\n", seen.size());
  std::printf("log_forks %d\n", checkpoints.forks());
  std::printf("log_consistency_proofs_verified %d\n", proofs_verified);
  std::printf("log_consistency_failures %d\n", proof_failures);
  std::printf("log_root_mismatches %d\n", root_mismatches);
  std::printf("receipts_not_in_log %d\n", receipts_not_in_log);
  if (options.failover) {
    std::sort(failover_ms.begin(), failover_ms.end());
    const double p50 = failover_ms.empty() ? 0.0 : failover_ms[failover_ms.size() / 2];
    const double max = failover_ms.empty() ? 0.0 : failover_ms.back();
    std::printf("postgres_promotions %d\n", servers->promotions());
    std::printf("broker_exits_on_their_own %d\n", broker_exits_on_their_own);
    std::printf("failover_ms_p50 %.0f\n", p50);
    std::printf("failover_ms_max %.0f\n", max);
  }
  std::fflush(stdout);

  const bool clean = lost == 0 && duplicated == 0 && misrouted == 0 && handed_without_receipt == 0 &&
                     bad_receipts == 0 && checkpoints.forks() == 0 && proof_failures == 0 && root_mismatches == 0 &&
                     receipts_not_in_log == 0 && refusals.count.load() == 0;
  return clean ? 0 : 1;
}
