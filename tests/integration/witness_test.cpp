// Real `fpx witness serve` processes on 127.0.0.1 against a real broker's
// transparency log (issue 13): cosigning a consistent chain of checkpoints,
// 409 on a stale old size, a forked checkpoint refused with evidence that
// `fpx log evidence check` proves, and state that survives a restart.
#include <httplib.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "fpx/cosignature.hpp"
#include "fpx/observer_client.hpp"
#include "fpx/split_view_evidence.hpp"
#include "fpx/transparency_log.hpp"
#include "fpx/witness_client.hpp"
#include "fpx/witness_protocol.hpp"
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

// `fpx witness serve` as a child process with a fixed port, so a restart
// listens where the log expects it.
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

  int stop() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  const std::filesystem::path& dir() const { return dir_; }
  // spdlog writes to stdout, errors of the command to stderr: both.
  std::string log_text() const { return test::read_file(dir_ / "serve.out") + test::read_file(dir_ / "serve.err"); }

 private:
  std::filesystem::path dir_;
  int port_;
  pid_t pid_ = -1;
};

struct Answer {
  int status = 0;
  std::string content_type;
  std::string body;
};

Answer post(const WitnessProcess& witness, const std::string& body) {
  httplib::Client client("127.0.0.1", witness.port());
  client.set_read_timeout(10s);
  auto result = client.Post("/add-checkpoint", body, "text/plain");
  if (!result) FAIL("no answer from the witness: " << httplib::to_string(result.error()));
  return {result->status, result->get_header_value("Content-Type"), result->body};
}

struct WitnessFixture {
  WitnessFixture() : pki({"SN", "NE", "BF"}) {
    // A tracing request of the samples goes from a Senegalese agency to NE and BF.
    pki.issue("sn.focal-point", "SN", Role::focal_point);
    pki.issue("ne.focal-point", "NE", Role::focal_point);
    pki.issue("bf.focal-point", "BF", Role::focal_point);
    pki.issue("sn.police-judiciaire", "SN", Role::agency);
    pki.issue("cso.sahel-watch", "SN", Role::observer, {.via_intermediate = false});
    broker = std::make_unique<test::BrokerProcess>(
        pki,
        std::vector<std::string>{"sn.focal-point", "ne.focal-point", "bf.focal-point", "sn.police-judiciaire",
                                 "cso.sahel-watch"},
        test::BrokerOptions{.checkpoint_every_ms = 200});
    auto connected =
        client::ObserverClient::connect(pki.identity("cso.sahel-watch"), test::observer_options(*broker, pki));
    if (!connected) FAIL(connected.error().describe());
    observer = std::move(connected).value();
  }

  // `fpx witness log-key` then `fpx witness init`: the operator's two steps.
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
    auto key = parse_witness_key(init.out.substr(at + 6, init.out.find('\n', at) - at - 6));
    if (!key) FAIL(key.error().describe());
    witness_keys.push_back(*key);
    auto process = std::make_unique<WitnessProcess>(dir, port);
    process->start();
    return process;
  }

  void submit_one() {
    auto sender = test::connect_client(*broker, pki, "sn.police-judiciaire");
    auto submitted =
        sender->submit(test::seal_sample(pki.identity("sn.police-judiciaire"), wire::MessageType::TRACING_REQUEST));
    if (!submitted) FAIL(submitted.error().describe());
  }

  // The broker's latest checkpoint once its tree holds more than `above` leaves.
  client::SignedCheckpoint checkpoint_above(std::uint64_t above) {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
      auto head = observer->latest_checkpoint();
      if (head && head->checkpoint.size > above) return *head;
      std::this_thread::sleep_for(50ms);
    }
    FAIL("no checkpoint above tree size " << above);
    return {};
  }

  witness::ConsistencyProofSource proofs() {
    return [this](std::uint64_t old_size, std::uint64_t new_size) {
      return observer->consistency_proof(old_size, new_size);
    };
  }

  std::string text_of(const std::string& note) { return note.substr(0, note.rfind("\n\n") + 1); }

  test::TestPki pki;
  std::unique_ptr<test::BrokerProcess> broker;
  std::unique_ptr<client::ObserverClient> observer;
  std::vector<WitnessKey> witness_keys;
};

}  // namespace

TEST_CASE("a witness cosigns a real broker's checkpoints from one to the next and keeps its state across a restart") {
  WitnessFixture fixture;
  auto witness = fixture.make_witness("w1");
  const witness::WitnessEndpoint endpoint{fixture.witness_keys[0], witness->url()};

  fixture.submit_one();
  const auto first = fixture.checkpoint_above(0);
  auto cosigned = witness::request_cosignature(endpoint, first.note, fixture.proofs(), {.old_size = 0});
  if (!cosigned) FAIL(cosigned.error().describe());
  CHECK(cosigned->witness_size == first.checkpoint.size);
  const auto note = add_note_signatures(first.note, cosigned->cosignatures);
  REQUIRE(note.ok());
  const auto report = require_cosignatures(*note, fixture.witness_keys, 1);
  REQUIRE(report.ok());
  CHECK(report->valid.size() == 1);

  fixture.submit_one();
  fixture.submit_one();
  const auto second = fixture.checkpoint_above(first.checkpoint.size);
  auto next =
      witness::request_cosignature(endpoint, second.note, fixture.proofs(), {.old_size = first.checkpoint.size});
  if (!next) FAIL(next.error().describe());
  CHECK(next->witness_size == second.checkpoint.size);

  SECTION("a stale old size is answered 409 with the witness's size, as text/x.tlog.size") {
    const auto answer = post(*witness, format_add_checkpoint({0, {}, second.note}));
    CHECK(answer.status == 409);
    CHECK(answer.content_type == "text/x.tlog.size");
    CHECK(answer.body == std::to_string(second.checkpoint.size) + "\n");
    // The log's side recovers from a wrong guess by itself (409, then a proof from the witness's size).
    fixture.submit_one();
    const auto third = fixture.checkpoint_above(second.checkpoint.size);
    auto recovered = witness::request_cosignature(endpoint, third.note, fixture.proofs(), {.old_size = 0});
    if (!recovered) FAIL(recovered.error().describe());
    CHECK(recovered->witness_size == third.checkpoint.size);
  }
  SECTION("after a restart the witness still holds the size it cosigned") {
    CHECK(witness->stop() == 0);
    witness->start();
    const auto answer = post(*witness, format_add_checkpoint({0, {}, second.note}));
    CHECK(answer.status == 409);
    CHECK(answer.body == std::to_string(second.checkpoint.size) + "\n");
    // The first checkpoint again, from the size it now holds: refused, never rolled back.
    const auto older = post(*witness, format_add_checkpoint({second.checkpoint.size, {}, first.note}));
    CHECK(older.status == 400);
  }
  SECTION("a state file others may read is refused at start") {
    CHECK(witness->stop() == 0);
    std::filesystem::permissions(witness->dir() / "witness.sqlite", std::filesystem::perms::group_read,
                                 std::filesystem::perm_options::add);
    const auto out = witness->dir() / "start-refused";
    std::filesystem::create_directories(out);
    auto refused = test::run_fpx(out, {"witness", "serve", "--config", (witness->dir() / "witness.toml").string()});
    CHECK(refused.exit_code == 2);
    CHECK_THAT(refused.err, Catch::Contains("chmod"));
  }
}

TEST_CASE("a witness refuses a forked checkpoint signed by the log's key and keeps evidence anyone can check") {
  WitnessFixture fixture;
  auto witness = fixture.make_witness("w1");
  const witness::WitnessEndpoint endpoint{fixture.witness_keys[0], witness->url()};
  fixture.submit_one();
  fixture.submit_one();
  const auto head = fixture.checkpoint_above(1);
  REQUIRE(witness::request_cosignature(endpoint, head.note, fixture.proofs(), {.old_size = 0}).ok());
  const auto broker_identity = fixture.pki.identity("exchange.broker");
  const auto& log_key = broker_identity.signing_key();
  const auto out = fixture.pki.dir() / "evidence-cmd";
  std::filesystem::create_directories(out);
  const auto evidence_files = [&] {
    std::vector<std::filesystem::path> files;
    if (!std::filesystem::exists(witness->dir() / "evidence")) return files;
    for (const auto& entry : std::filesystem::directory_iterator(witness->dir() / "evidence"))
      files.push_back(entry.path());
    return files;
  };

  SECTION("the same tree size with another root: 409, evidence proven by fpx log evidence check") {
    Sha256Digest forged_root = head.checkpoint.root;
    forged_root[0] ^= 0x55;
    const auto fork = sign_checkpoint(kOrigin, head.checkpoint.size, forged_root, kOrigin, log_key);
    auto refused = witness::request_cosignature(endpoint, fork, fixture.proofs(), {.old_size = head.checkpoint.size});
    REQUIRE(!refused);
    CHECK(refused.error().code == ErrorCode::replay);
    const auto files = evidence_files();
    REQUIRE(files.size() == 1);
    CHECK((std::filesystem::status(files[0]).permissions() & std::filesystem::perms::group_read) ==
          std::filesystem::perms::none);
    CHECK_THAT(witness->log_text(), Catch::Contains("SPLIT VIEW"));
    auto check = test::run_fpx(out, {"log", "evidence", "check", files[0].string()});
    CHECK(check.exit_code == 0);
    CHECK_THAT(check.out, Catch::Contains("SPLIT VIEW PROVEN"));
    // The honest checkpoint is still the one the witness holds.
    const auto answer = post(*witness, format_add_checkpoint({0, {}, head.note}));
    CHECK(answer.body == std::to_string(head.checkpoint.size) + "\n");
  }
  SECTION("a larger tree that rewrote a logged leaf: 422, evidence of a failed proof that is not by itself proof") {
    // The broker's tree with leaf 0 replaced, grown by one leaf, signed by its key.
    MemoryLog forged;
    forged.append(leaf_hash(as_bytes(std::string("rewritten"))));
    for (std::uint64_t i = 1; i < head.checkpoint.size + 1; ++i) forged.append(leaf_hash(as_bytes(std::to_string(i))));
    const auto size = head.checkpoint.size + 1;
    const auto fork = sign_checkpoint(kOrigin, size, *root(forged, size), kOrigin, log_key);
    const auto proof = *consistency_proof(forged, head.checkpoint.size, size);
    const auto answer = post(*witness, format_add_checkpoint({head.checkpoint.size, proof, fork}));
    CHECK(answer.status == 422);
    const auto files = evidence_files();
    REQUIRE(files.size() == 1);
    auto check = test::run_fpx(out, {"log", "evidence", "check", files[0].string()});
    CHECK(check.exit_code == 1);
    CHECK_THAT(check.out, Catch::Contains("NOT PROVEN"));
    // The same request again writes no second file.
    CHECK(post(*witness, format_add_checkpoint({head.checkpoint.size, proof, fork})).status == 422);
    CHECK(evidence_files().size() == 1);
  }
  SECTION("a checkpoint signed by another key is forbidden and an unknown log is not found") {
    const auto other = fixture.pki.identity("sn.focal-point");
    const auto forged =
        sign_checkpoint(kOrigin, head.checkpoint.size, head.checkpoint.root, kOrigin, other.signing_key());
    CHECK(post(*witness, format_add_checkpoint({head.checkpoint.size, {}, forged})).status == 403);
    const auto unknown = sign_checkpoint("other.example/log", 1, head.checkpoint.root, "other.example/log", log_key);
    CHECK(post(*witness, format_add_checkpoint({0, {}, unknown})).status == 404);
    CHECK(post(*witness, "old 1\n").status == 400);
    CHECK(evidence_files().empty());
  }
}

TEST_CASE(
    "fpx log compare finds a shared checkpoint consistent through the broker's proof and a forged one a split view") {
  WitnessFixture fixture;
  const auto scratch = fixture.pki.dir() / "compare";
  std::filesystem::create_directories(scratch);
  const auto profile = scratch / "observer-profile";
  auto init = test::run_fpx(
      scratch, {"profile", "init", "--dir", profile.string(), "--identity",
                (fixture.pki.dir() / "participants" / "cso.sahel-watch").string(), "--observer-endpoint",
                fixture.broker->observers_endpoint(), "--broker-cert", test::broker_chain_path(fixture.pki).string(),
                "--root-ca", fixture.pki.root_pem().string()});
  INFO(init.err);
  REQUIRE(init.exit_code == 0);
  const auto fpx = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--profile", profile.string()});
    return test::run_fpx(scratch, args);
  };
  // Without a saved checkpoint there is nothing to compare with: a usage error saying what to run.
  fixture.submit_one();
  const auto first = fixture.checkpoint_above(0);
  const auto shared_file = scratch / "shared.note";
  std::ofstream(shared_file) << first.note;
  auto early = fpx({"log", "compare", shared_file.string()});
  CHECK(early.exit_code == 2);
  CHECK_THAT(early.err, Catch::Contains("fpx log verify"));

  REQUIRE(fpx({"observe"}).exit_code == 0);
  auto verified = fpx({"log", "verify"});
  INFO(verified.out << verified.err);
  REQUIRE(verified.exit_code == 0);

  SECTION("a smaller checkpoint another observer kept is consistent through the broker's proof") {
    fixture.submit_one();
    const auto later = fixture.checkpoint_above(first.checkpoint.size);
    REQUIRE(fpx({"observe"}).exit_code == 0);
    REQUIRE(fpx({"log", "verify"}).exit_code == 0);
    auto compared = fpx({"log", "compare", shared_file.string()});
    INFO(compared.err);
    CHECK(compared.exit_code == 0);
    CHECK_THAT(compared.out, Catch::Contains("CONSISTENT"));
    (void)later;
  }
  SECTION("a checkpoint of the saved size with another root, signed by the log's key, is a proven split view") {
    const auto head = fixture.observer->latest_checkpoint();
    REQUIRE(head.ok());
    auto saved = fpx({"log", "verify"});
    REQUIRE(saved.exit_code == 0);
    const auto saved_head = fixture.observer->latest_checkpoint();
    REQUIRE(saved_head.ok());
    Sha256Digest forged_root = saved_head->checkpoint.root;
    forged_root[5] ^= 0x01;
    const auto broker_identity = fixture.pki.identity("exchange.broker");
    const auto fork =
        sign_checkpoint(kOrigin, saved_head->checkpoint.size, forged_root, kOrigin, broker_identity.signing_key());
    const auto fork_file = scratch / "fork.note";
    std::ofstream(fork_file) << fork;
    auto compared = fpx({"log", "compare", fork_file.string()});
    CHECK(compared.exit_code == 1);
    CHECK_THAT(compared.out, Catch::Contains("INCONSISTENT"));
    const auto at = compared.out.find("evidence: ");
    REQUIRE(at != std::string::npos);
    const auto evidence = compared.out.substr(at + 10, compared.out.find(' ', at + 10) - at - 10);
    auto check = test::run_fpx(scratch, {"log", "evidence", "check", evidence});
    CHECK(check.exit_code == 0);
    CHECK_THAT(check.out, Catch::Contains("SPLIT VIEW PROVEN"));
    // A forged note not signed by the log's key proves nothing and is refused.
    const auto other = fixture.pki.identity("sn.focal-point");
    std::ofstream(fork_file) << sign_checkpoint(kOrigin, saved_head->checkpoint.size, forged_root, kOrigin,
                                                other.signing_key());
    CHECK(fpx({"log", "compare", fork_file.string()}).exit_code == 1);
  }
}
