// A real broker that asks three real `fpx witness serve` processes to
// cosign its checkpoints (issue 13): observers requiring 2 of 3 follow it;
// with one witness stopped checkpoints still go out with 2 cosignatures
// and receipts do not wait; a store rewritten behind the witnesses' back
// gets no cosignature, and observers requiring 2 of 3 refuse its checkpoint.
#include <signal.h>
#include <sqlite3.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "fpx/cosignature.hpp"
#include "fpx/observer_client.hpp"
#include "fpx/transparency_log.hpp"
#include "support/broker_clients.hpp"
#include "support/broker_process.hpp"
#include "support/command_run.hpp"
#include "support/loopback_port.hpp"
#include "support/sample_messages.hpp"
#include "support/test_pki.hpp"

using namespace fpx;
using namespace std::chrono_literals;

namespace {

constexpr const char* kOrigin = "fpx.exchange/log";

// `fpx witness serve` as a child process on a fixed port.
class WitnessProcess {
 public:
  WitnessProcess(std::filesystem::path dir, int port) : dir_(std::move(dir)), port_(port) {}
  ~WitnessProcess() { stop(); }

  void start() {
    const auto out = dir_ / "serve.out";
    std::filesystem::remove(out);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      const std::string binary = std::string(FPX_BIN_DIR) + "/fpx";
      const std::string config = (dir_ / "witness.toml").string();
      std::freopen(out.c_str(), "w", stdout);
      std::freopen((dir_ / "serve.err").c_str(), "a", stderr);
      ::execl(binary.c_str(), "fpx", "witness", "serve", "--config", config.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (test::read_file(out).find("listening on") != std::string::npos) return;
      std::this_thread::sleep_for(20ms);
    }
    FAIL("fpx witness serve did not start: " << test::read_file(dir_ / "serve.err"));
  }

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  const std::filesystem::path& dir() const { return dir_; }
  std::string log_text() const { return test::read_file(dir_ / "serve.out") + test::read_file(dir_ / "serve.err"); }
  std::size_t evidence_files() const {
    std::error_code error;
    std::size_t count = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir_ / "evidence", error)) {
      if (entry.is_regular_file()) ++count;
    }
    return count;
  }

 private:
  std::filesystem::path dir_;
  int port_;
  pid_t pid_ = -1;
};

// A broker configured with three witnesses, each a real process.
struct WitnessedExchange {
  WitnessedExchange() : pki({"SN", "NE", "BF"}) {
    pki.issue("sn.focal-point", "SN", Role::focal_point);
    pki.issue("ne.focal-point", "NE", Role::focal_point);
    pki.issue("bf.focal-point", "BF", Role::focal_point);
    pki.issue("sn.police-judiciaire", "SN", Role::agency);
    pki.issue("cso.sahel-watch", "SN", Role::observer, {.via_intermediate = false});
    broker = std::make_unique<test::BrokerProcess>(
        pki,
        std::vector<std::string>{"sn.focal-point", "ne.focal-point", "bf.focal-point", "sn.police-judiciaire",
                                 "cso.sahel-watch"},
        test::BrokerOptions{.checkpoint_every_ms = 200, .witness_timeout_ms = 2000});
    // The witnesses need the log's key, which is the broker's: the broker
    // is then restarted with them in its config, as an operator would.
    for (const char* name : {"w1", "w2", "w3"}) witnesses.push_back(make_witness(name));
    broker->stop();
    std::string toml;
    for (std::size_t i = 0; i < witnesses.size(); ++i) {
      toml += "[[witnesses]]\nname = \"" + witness_keys[i].name + "\"\nvkey = \"" + witness_vkeys[i] +
              "\"\nurl = \"" + witnesses[i]->url() + "\"\n";
    }
    broker->append_config(toml);
    broker->start();
    observer = connect_observer(2);
  }

  std::unique_ptr<WitnessProcess> make_witness(const std::string& name) {
    const auto out = pki.dir() / ("cmd-" + name);
    std::filesystem::create_directories(out);
    auto log_key = test::run_fpx(out, {"witness", "log-key", "--broker-cert", test::broker_chain_path(pki).string()});
    REQUIRE(log_key.exit_code == 0);
    const auto vkey = log_key.out.substr(0, log_key.out.find('\n'));
    const int port = test::unused_loopback_port();
    REQUIRE(port != 0);
    const auto dir = pki.dir() / ("witness-" + name);
    auto init = test::run_fpx(out, {"witness", "init", dir.string(), "--name", name + ".example/w", "--listen",
                                    "127.0.0.1:" + std::to_string(port), "--log", std::string(kOrigin) + "=" + vkey});
    REQUIRE(init.exit_code == 0);
    const auto at = init.out.find("vkey: ");
    REQUIRE(at != std::string::npos);
    const auto witness_vkey = init.out.substr(at + 6, init.out.find('\n', at) - at - 6);
    auto key = parse_witness_key(witness_vkey);
    if (!key) FAIL(key.error().describe());
    witness_keys.push_back(*key);
    witness_vkeys.push_back(witness_vkey);
    auto process = std::make_unique<WitnessProcess>(dir, port);
    process->start();
    return process;
  }

  // An observer that trusts the three witnesses and requires `quorum` of them.
  std::unique_ptr<client::ObserverClient> connect_observer(std::size_t quorum) {
    auto options = test::observer_options(*broker, pki);
    options.witnesses = witness_keys;
    options.witness_quorum = quorum;
    auto connected = client::ObserverClient::connect(pki.identity("cso.sahel-watch"), options);
    if (!connected) FAIL(connected.error().describe());
    return std::move(connected).value();
  }

  // `fpx log verify` as cso.sahel-watch, with a profile that requires 2 of the 3 witnesses.
  test::CommandRun log_verify() {
    const auto dir = pki.dir() / "observer-profile";
    if (!std::filesystem::exists(dir / "fpx.toml")) {
      auto init = test::run_fpx(pki.dir(), {"profile", "init", "--dir", dir.string(), "--identity",
                                            (pki.dir() / "participants" / "cso.sahel-watch").string(),
                                            "--observer-endpoint", broker->observers_endpoint(), "--broker-cert",
                                            test::broker_chain_path(pki).string(), "--root-ca", pki.root_pem().string()});
      INFO(init.out << init.err);
      REQUIRE(init.exit_code == 0);
      // witness_quorum is a top-level key: before the file's first table.
      std::string toml = "witness_quorum = 2\n" + test::read_file(dir / "fpx.toml");
      for (std::size_t i = 0; i < witness_keys.size(); ++i) {
        toml += "[[witnesses]]\nname = \"" + witness_keys[i].name + "\"\nvkey = \"" + witness_vkeys[i] + "\"\n";
      }
      std::ofstream(dir / "fpx.toml", std::ios::trunc) << toml;
    }
    return test::run_fpx(pki.dir(), {"--profile", dir.string(), "log", "verify"});
  }

  client::Receipt submit_one() {
    auto sender = test::connect_client(*broker, pki, "sn.police-judiciaire");
    auto submitted =
        sender->submit(test::seal_sample(pki.identity("sn.police-judiciaire"), wire::MessageType::TRACING_REQUEST));
    if (!submitted) FAIL(submitted.error().describe());
    return *submitted;
  }

  // The latest checkpoint once it is above `above` and cosigned by exactly
  // `signers` of the three witnesses (fewer may still be on their way).
  client::SignedCheckpoint witnessed_above(std::uint64_t above, std::size_t signers) {
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    std::string last = "no answer";
    while (std::chrono::steady_clock::now() < deadline) {
      auto head = observer->latest_checkpoint();
      if (head && head->checkpoint.size > above && head->cosignatures &&
          head->cosignatures->valid.size() == signers) {
        return *head;
      }
      last = head ? (head->cosignatures ? head->cosignatures->describe() : "no report")
                  : head.error().describe();
      std::this_thread::sleep_for(100ms);
    }
    FAIL("no checkpoint above tree size " << above << " with " << signers << " cosignatures; last: " << last);
    return {};
  }

  // Every record of the feed so far.
  std::vector<client::FeedRecord> feed() {
    std::vector<client::FeedRecord> records;
    std::uint64_t next = 1;
    for (;;) {
      auto page = observer->follow(next);
      if (!page) FAIL(page.error().describe());
      if (page->records.empty()) return records;
      for (auto& record : page->records) records.push_back(std::move(record));
      next = page->next_sequence;
    }
  }

  test::TestPki pki;
  std::unique_ptr<test::BrokerProcess> broker;
  std::vector<std::unique_ptr<WitnessProcess>> witnesses;
  std::vector<WitnessKey> witness_keys;
  std::vector<std::string> witness_vkeys;
  std::unique_ptr<client::ObserverClient> observer;
};

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t count = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++count;
  return count;
}

// Rewrites leaf 0 of the broker's SQLite store and rebuilds every interior
// node above it, and drops the signed checkpoints: a log whose history
// differs from the one the witnesses cosigned, consistent in itself.
void rewrite_history(const std::filesystem::path& database) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(database.c_str(), &db) == SQLITE_OK);
  sqlite3_busy_timeout(db, 10000);
  auto exec = [&](const std::string& sql) {
    char* message = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
      const std::string text = message != nullptr ? message : "?";
      sqlite3_free(message);
      FAIL(sql << ": " << text);
    }
  };
  exec("BEGIN");
  const Bytes forged = {'f', 'o', 'r', 'g', 'e', 'd'};
  const Sha256Digest forged_hash = leaf_hash(forged);
  sqlite3_stmt* statement = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "UPDATE log_leaves SET leaf_data = ?1, leaf_hash = ?2 WHERE leaf_index = 0", -1,
                             &statement, nullptr) == SQLITE_OK);
  sqlite3_bind_blob(statement, 1, forged.data(), static_cast<int>(forged.size()), SQLITE_TRANSIENT);
  sqlite3_bind_blob(statement, 2, forged_hash.data(), static_cast<int>(forged_hash.size()), SQLITE_TRANSIENT);
  REQUIRE(sqlite3_step(statement) == SQLITE_DONE);
  sqlite3_finalize(statement);
  REQUIRE(sqlite3_changes(db) == 1);

  // Level 0 is the leaves; each stored node (level, idx) is the hash of its
  // two children, recomputed level by level.
  std::map<std::pair<int, std::int64_t>, Sha256Digest> hashes;
  auto read = [&](const char* sql, int level_column) {
    sqlite3_stmt* rows = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql, -1, &rows, nullptr) == SQLITE_OK);
    while (sqlite3_step(rows) == SQLITE_ROW) {
      const int level = level_column < 0 ? 0 : sqlite3_column_int(rows, level_column);
      const std::int64_t index = sqlite3_column_int64(rows, level_column < 0 ? 0 : 1);
      Sha256Digest hash{};
      const int column = level_column < 0 ? 1 : 2;
      REQUIRE(sqlite3_column_bytes(rows, column) == 32);
      std::memcpy(hash.data(), sqlite3_column_blob(rows, column), 32);
      hashes[{level, index}] = hash;
    }
    sqlite3_finalize(rows);
  };
  read("SELECT leaf_index, leaf_hash FROM log_leaves", -1);
  read("SELECT level, ((completed_by + 1) >> level) - 1 AS idx, hash FROM log_nodes ORDER BY level, idx", 0);
  REQUIRE(sqlite3_prepare_v2(db,
                             "UPDATE log_nodes SET hash = ?1 WHERE completed_by = ((?3 + 1) << ?2) - 1 AND level = ?2",
                             -1, &statement, nullptr) == SQLITE_OK);
  for (auto& [key, hash] : hashes) {
    const auto [level, index] = key;
    if (level == 0) continue;
    Bytes input{0x01};
    const auto& left = hashes.at({level - 1, 2 * index});
    const auto& right = hashes.at({level - 1, 2 * index + 1});
    input.insert(input.end(), left.begin(), left.end());
    input.insert(input.end(), right.begin(), right.end());
    hash = sha256(input);
    sqlite3_reset(statement);
    sqlite3_bind_blob(statement, 1, hash.data(), 32, SQLITE_TRANSIENT);
    sqlite3_bind_int(statement, 2, level);
    sqlite3_bind_int64(statement, 3, index);
    REQUIRE(sqlite3_step(statement) == SQLITE_DONE);
  }
  sqlite3_finalize(statement);
  exec("DELETE FROM checkpoints");
  exec("COMMIT");
  sqlite3_close(db);
}

}  // namespace

TEST_CASE("a broker with three witnesses serves checkpoints cosigned by all three and by two when one is stopped") {
  WitnessedExchange exchange;

  // All three up: the head an observer requiring 2 of 3 anchors on carries 3.
  exchange.submit_one();
  const auto first = exchange.witnessed_above(0, 3);
  CHECK(first.cosignatures->missing.empty());
  CHECK(first.cosignatures->invalid.empty());
  // The feed publishes the cosignatures as a record after the checkpoint's.
  const auto records = exchange.feed();
  bool checkpoint_seen = false;
  bool cosigned_seen = false;
  for (const auto& record : records) {
    if (record.kind == "checkpoint" && record.tree_size == first.checkpoint.size) checkpoint_seen = true;
    if (record.kind == "cosigned-checkpoint" && record.tree_size == first.checkpoint.size) {
      CHECK(checkpoint_seen);
      auto report = verify_cosignatures(*record.note, exchange.witness_keys, 3);
      REQUIRE(report.ok());
      if (report->quorum()) cosigned_seen = true;
    }
  }
  CHECK(cosigned_seen);

  SECTION("with one witness stopped receipts still come and checkpoints carry the other two") {
    exchange.witnesses[2]->stop();  // its port now accepts nothing
    const auto receipt = exchange.submit_one();
    CHECK(receipt.log_index >= first.checkpoint.size);
    exchange.submit_one();
    const auto second = exchange.witnessed_above(first.checkpoint.size, 2);
    REQUIRE(second.cosignatures->missing.size() == 1);
    CHECK(second.cosignatures->missing.front() == exchange.witness_keys[2].name);
    // An observer requiring all three refuses it, naming who did not sign.
    auto strict = exchange.connect_observer(3);
    auto refused = strict->latest_checkpoint();
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == ErrorCode::bad_signature);
    CHECK(refused.error().message.find(exchange.witness_keys[2].name) != std::string::npos);
    // fpx log verify says who signed and who did not, and accepts 2 of 3.
    auto verified = exchange.log_verify();
    INFO(verified.out << verified.err);
    CHECK(verified.exit_code == 0);
    CHECK(verified.out.find("witnesses: 2 of 2 required witnesses signed") != std::string::npos);
    CHECK(verified.out.find("no cosignature: " + exchange.witness_keys[2].name) != std::string::npos);
    // The stopped witness is a warning, not a conflict.
    CHECK(exchange.broker->log_text().find("WITNESS CONFLICT") == std::string::npos);
  }

  SECTION("an observer requiring 2 of 3 verifies the log from one witnessed checkpoint to the next") {
    exchange.submit_one();
    const auto second = exchange.witnessed_above(first.checkpoint.size, 3);
    auto proof = exchange.observer->consistency_proof(first.checkpoint.size, second.checkpoint.size);
    REQUIRE(proof.ok());
    CHECK(verify_consistency(first.checkpoint.size, second.checkpoint.size, first.checkpoint.root,
                             second.checkpoint.root, *proof));
    auto verified = exchange.log_verify();
    INFO(verified.out << verified.err);
    CHECK(verified.exit_code == 0);
    CHECK(verified.out.find("witnesses: 3 of 2 required witnesses signed") != std::string::npos);
  }
}

TEST_CASE("a broker restarted on a store rewritten behind its witnesses' back gets no cosignature and is refused") {
  WitnessedExchange exchange;
  exchange.submit_one();
  exchange.submit_one();
  // Both messages' leaves in a checkpoint all three witnesses hold.
  const auto genuine = exchange.witnessed_above(1, 3);

  exchange.broker->stop();
  rewrite_history(exchange.broker->database());
  exchange.broker->start();

  // The rewritten log signs its own checkpoint of the same size: every
  // witness refuses it (409: same size, another root) and keeps evidence.
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline &&
         count_of(exchange.broker->log_text(), "WITNESS CONFLICT") < 3) {
    std::this_thread::sleep_for(100ms);
  }
  CHECK(count_of(exchange.broker->log_text(), "WITNESS CONFLICT") >= 3);
  for (const auto& witness : exchange.witnesses) {
    CHECK(witness->evidence_files() >= 1);
    CHECK(witness->log_text().find("SPLIT VIEW") != std::string::npos);
  }

  // An observer requiring 2 of 3 refuses the forged checkpoint, with the
  // typed error naming the witnesses that did not sign it.
  auto fresh = exchange.connect_observer(2);
  auto refused = fresh->latest_checkpoint();
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::bad_signature);
  CHECK(refused.error().message.find("w1.example/w") != std::string::npos);
  auto verified = exchange.log_verify();
  INFO(verified.out << verified.err);
  CHECK(verified.exit_code != 0);
  CHECK((verified.out + verified.err).find("0 of 2 required witnesses signed") != std::string::npos);
  // What the broker serves is another root for the size the witnesses hold.
  auto unwitnessed = test::observer_options(*exchange.broker, exchange.pki);
  auto plain = client::ObserverClient::connect(exchange.pki.identity("cso.sahel-watch"), unwitnessed);
  REQUIRE(plain.ok());
  auto forged = (*plain)->latest_checkpoint();
  REQUIRE(forged.ok());
  CHECK(forged->checkpoint.size == genuine.checkpoint.size);
  CHECK(forged->checkpoint.root != genuine.checkpoint.root);
}
