// The real `fpx` binary against a real fpx-broker on 127.0.0.1, with a PKI
// made at test time: what a person or a script sees, exit codes included.
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <capnp/serialize.h>
#include <catch2/catch.hpp>

#include "fpx/aligned_reader.hpp"
#include "fpx/broker_pins.hpp"
#include "fpx/client.hpp"
#include "support/broker_clients.hpp"
#include "support/command_run.hpp"
#include "support/sample_messages.hpp"
#include "support/broker_process.hpp"
#include "support/test_pki.hpp"

using namespace fpx;
namespace fs = std::filesystem;

namespace {

// From the build, not __FILE__: a compiler cache may make __FILE__ relative.
const fs::path kExamples = fs::path(FPX_SOURCE_DIR) / "deploy" / "examples";

using Run = test::CommandRun;

// Runs fpx with `args`; FPX_PROFILE is removed so only --profile counts.
Run fpx_run(const fs::path& scratch, const std::vector<std::string>& args) { return test::run_fpx(scratch, args); }

// The string value of "key" in one line of fpx's JSON output.
std::string json_field(const std::string& json, const std::string& key) {
  const std::string marker = "\"" + key + "\":\"";
  const auto start = json.find(marker);
  if (start == std::string::npos) return {};
  const auto end = json.find('"', start + marker.size());
  return json.substr(start + marker.size(), end - start - marker.size());
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::string line;
  for (const char c : text) {
    if (c == '\n') {
      if (!line.empty()) lines.push_back(line);
      line.clear();
    } else {
      line += c;
    }
  }
  if (!line.empty()) lines.push_back(line);
  return lines;
}

// The scenario's participants, a broker, and one fpx profile each.
struct Exchange {
  Exchange() : pki({"SN", "NE", "BF"}) {
    pki.issue("sn.focal-point", "SN", Role::focal_point);
    pki.issue("ne.focal-point", "NE", Role::focal_point);
    pki.issue("bf.focal-point", "BF", Role::focal_point);
    pki.issue("sn.police-judiciaire", "SN", Role::agency);
    broker = std::make_unique<test::BrokerProcess>(
        pki, std::vector<std::string>{"sn.focal-point", "ne.focal-point", "bf.focal-point", "sn.police-judiciaire"});
    for (const std::string id : {"sn.focal-point", "ne.focal-point", "bf.focal-point", "sn.police-judiciaire"}) {
      const auto dir = pki.dir() / "profiles" / id;
      auto init = fpx({"profile", "init", "--dir", dir.string(), "--identity", (pki.dir() / "participants" / id).string(),
                       "--broker-endpoint", broker->endpoint(), "--broker-cert",
                       (pki.dir() / "participants" / "exchange.broker" / kChainFile).string(), "--root-ca",
                       pki.root_pem().string(), "--crl-dir", pki.crl_dir().string()});
      INFO(init.err);
      REQUIRE(init.exit_code == 0);
      profiles[id] = dir;
    }
  }

  Run fpx(const std::vector<std::string>& args) { return fpx_run(pki.dir(), args); }

  Run as(const std::string& id, std::vector<std::string> args) {
    args.insert(args.begin(), {"--profile", profiles.at(id).string()});
    return fpx(args);
  }

  // `fpx inbox --json` until `count` messages came (or `attempts` tries): JSON lines.
  std::vector<std::string> inbox(const std::string& id, std::size_t count, int attempts = 10) {
    std::vector<std::string> received;
    for (int attempt = 0; attempt < attempts && received.size() < count; ++attempt) {
      auto run = as(id, {"inbox", "--json", "--wait", "1"});
      INFO(run.err);
      REQUIRE(run.exit_code == 0);
      for (auto& line : lines_of(run.out)) received.push_back(line);
    }
    return received;
  }

  // Submits the example tracing request as the SN agency; returns its id.
  std::string submit_request() {
    auto run = as("sn.police-judiciaire", {"--json", "trace", "submit", (kExamples / "tracing-request.json").string()});
    INFO(run.out << run.err);
    REQUIRE(run.exit_code == 0);
    const auto id = json_field(run.out, "messageId");
    REQUIRE(id.size() == 32);
    return id;
  }

  test::TestPki pki;
  std::unique_ptr<test::BrokerProcess> broker;
  std::map<std::string, fs::path> profiles;
};

}  // namespace

TEST_CASE("fpx trace submit --dry-run prints the completeness report and sends nothing") {
  Exchange exchange;
  auto run = exchange.as("sn.police-judiciaire",
                         {"trace", "submit", (kExamples / "tracing-request.json").string(), "--dry-run"});
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(run.out.find("identifier completeness") != std::string::npos);
  CHECK(run.out.find("firearms[0]") != std::string::npos);
  CHECK(run.out.find("/100") != std::string::npos);
  CHECK(run.out.find("nothing was sent") != std::string::npos);

  auto json = exchange.as("sn.police-judiciaire",
                          {"--json", "trace", "submit", (kExamples / "tracing-request.json").string(), "--dry-run"});
  REQUIRE(json.exit_code == 0);
  CHECK(json.out.find("\"dryRun\":true") != std::string::npos);
  CHECK(json.out.find("\"score\":") != std::string::npos);

  CHECK(exchange.inbox("ne.focal-point", 1, 2).empty());
  CHECK(exchange.broker->audit_count("persist", "accepted") == 0);
}

TEST_CASE("a tracing request, its acknowledgement and its responses travel through fpx end to end") {
  Exchange exchange;
  const auto request_id = exchange.submit_request();

  auto niger = exchange.inbox("ne.focal-point", 1);
  REQUIRE(niger.size() == 1);
  CHECK(json_field(niger[0], "messageId") == request_id);
  CHECK(json_field(niger[0], "type") == "tracing-request");
  CHECK(json_field(niger[0], "from") == "sn.police-judiciaire");
  CHECK(json_field(niger[0], "caseReference") == "SN-ZIG-2026-0142");
  // The example request's handling codes, in words.
  CHECK(json_field(niger[0], "handling") ==
        "H0: crime-fighting use only; H2: no onward sharing without permission");
  CHECK(fs::exists(exchange.profiles["ne.focal-point"] / "inbox" / (request_id + ".fpx")));
  CHECK(fs::exists(exchange.profiles["ne.focal-point"] / "inbox" / (request_id + ".json")));

  // A unique suffix is enough (ids sealed close together share their
  // time-ordered first characters: a prefix would match several).
  const auto prefix = request_id.substr(request_id.size() - 8);
  auto ack = exchange.as("ne.focal-point", {"trace", "ack", prefix, "--expected-response", "2026-12-20", "--contact",
                                            "NE tracing desk"});
  INFO(ack.out << ack.err);
  REQUIRE(ack.exit_code == 0);
  CHECK(ack.out.find("accepted") != std::string::npos);

  auto respond = exchange.as("ne.focal-point",
                             {"--json", "trace", "respond", prefix, "--outcome", "partial-chain", "--final", "--hop",
                              "importer;Societe Nigerienne d'Armement;NE;2009-03-14;IMP-2009-0031"});
  INFO(respond.out << respond.err);
  REQUIRE(respond.exit_code == 0);
  CHECK(json_field(respond.out, "type") == "tracing-response");

  auto replies = exchange.inbox("sn.police-judiciaire", 2);
  REQUIRE(replies.size() == 2);
  CHECK(json_field(replies[0], "type") == "tracing-acknowledgement");
  CHECK(json_field(replies[1], "type") == "tracing-response");
  for (const auto& reply : replies) {
    CHECK(json_field(reply, "inReplyTo") == request_id);
    CHECK(json_field(reply, "from") == "ne.focal-point");
  }

  // Burkina Faso was offline: it gets the request now and refuses.
  auto burkina = exchange.inbox("bf.focal-point", 1);
  REQUIRE(burkina.size() == 1);
  auto refusal = exchange.as("bf.focal-point", {"trace", "respond", request_id, "--outcome", "refused", "--ground",
                                                "ongoing-investigation", "--explanation", "batch under investigation"});
  INFO(refusal.out << refusal.err);
  REQUIRE(refusal.exit_code == 0);
  auto more = exchange.inbox("sn.police-judiciaire", 1);
  REQUIRE(more.size() == 1);
  CHECK(json_field(more[0], "from") == "bf.focal-point");

  auto status = exchange.as("sn.police-judiciaire", {"--json", "trace", "status", prefix});
  INFO(status.out << status.err);
  REQUIRE(status.exit_code == 0);
  CHECK(json_field(status.out, "messageId") == request_id);
  CHECK(status.out.find("\"recipient\":\"ne.focal-point\"") != std::string::npos);
  CHECK(status.out.find("\"recipient\":\"bf.focal-point\"") != std::string::npos);

  auto table = exchange.as("sn.police-judiciaire", {"trace", "status", prefix});
  REQUIRE(table.exit_code == 0);
  CHECK(table.out.find("RECIPIENT") != std::string::npos);
  CHECK(table.out.find("ne.focal-point") != std::string::npos);
  // The request's handling codes, in words, from the sender's own signed copy.
  CHECK(table.out.find("handling: H0: crime-fighting use only; H2: no onward sharing without permission\n") !=
        std::string::npos);
  CHECK(json_field(status.out, "handlingCodes") == "H0,H2");
}

TEST_CASE("fpx verify checks a saved message offline and says whether revocation was checked") {
  Exchange exchange;
  const auto request_id = exchange.submit_request();
  REQUIRE(exchange.inbox("ne.focal-point", 1).size() == 1);
  const auto saved = exchange.profiles["ne.focal-point"] / "inbox" / (request_id + ".fpx");

  auto checked = exchange.fpx({"verify", saved.string(), "--root-ca", exchange.pki.root_pem().string(), "--crl-dir",
                               exchange.pki.crl_dir().string()});
  INFO(checked.out << checked.err);
  REQUIRE(checked.exit_code == 0);
  CHECK(checked.out.find("sn.police-judiciaire") != std::string::npos);
  CHECK(checked.out.find("tracing-request") != std::string::npos);
  CHECK(checked.out.find(request_id) != std::string::npos);
  CHECK(checked.out.find("revocation: checked against CRLs in " + exchange.pki.crl_dir().string()) != std::string::npos);

  auto unchecked = exchange.fpx({"verify", saved.string(), "--root-ca", exchange.pki.root_pem().string()});
  REQUIRE(unchecked.exit_code == 0);
  CHECK(unchecked.out.find("revocation: NOT checked") != std::string::npos);

  auto json = exchange.fpx({"--json", "verify", saved.string(), "--root-ca", exchange.pki.root_pem().string()});
  REQUIRE(json.exit_code == 0);
  CHECK(json.out.find("\"revocationChecked\":false") != std::string::npos);

  // One flipped bit in the signature.
  auto bytes = test::read_file(saved);
  auto signature = read_message<wire::Envelope>(as_bytes(bytes), Framing::flat, "envelope",
                                                [](wire::Envelope::Reader envelope) -> Result<std::string> {
                                                  auto data = envelope.getSignature();
                                                  return std::string(data.begin(), data.end());
                                                });
  REQUIRE(signature.ok());
  REQUIRE(signature->size() == 64);
  const auto offset = bytes.find(*signature);  // 64 random bytes: found once, where the envelope keeps them
  REQUIRE(offset != std::string::npos);
  bytes[offset + 10] = static_cast<char>(bytes[offset + 10] ^ 0x01);
  const auto tampered = exchange.pki.dir() / "tampered.fpx";
  std::ofstream(tampered, std::ios::binary) << bytes;

  auto refused = exchange.fpx({"verify", tampered.string(), "--root-ca", exchange.pki.root_pem().string(), "--crl-dir",
                               exchange.pki.crl_dir().string()});
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("bad_signature") != std::string::npos);
}

TEST_CASE("fpx says which input is wrong, with exit code 2") {
  Exchange exchange;
  const auto broken = exchange.pki.dir() / "broken-request.json";
  std::ofstream(broken) << "{\"header\": {\"caseReference\": \"x\"}, \"body\": {\"tracingRequest\": {";
  auto run = exchange.as("sn.police-judiciaire", {"trace", "submit", broken.string()});
  CHECK(run.exit_code == 2);
  CHECK(run.err.find(broken.string()) != std::string::npos);

  const auto typo = exchange.pki.dir() / "typo.json";
  std::ofstream(typo) << R"({"body": {"tracingRequest": {"firearms": [{"serialNumbr": "AK-1"}]}}})";
  auto unknown = exchange.as("sn.police-judiciaire", {"trace", "submit", typo.string(), "--dry-run"});
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.err.find("body.tracingRequest.firearms[0].serialNumbr") != std::string::npos);

  const auto incomplete = exchange.pki.dir() / "incomplete.json";
  std::ofstream(incomplete) << R"({"body": {"tracingRequest": {}}})";
  auto invalid = exchange.as("sn.police-judiciaire", {"trace", "submit", incomplete.string()});
  CHECK(invalid.exit_code == 2);
  CHECK(invalid.err.find("body.tracingRequest.firearms") != std::string::npos);
  CHECK(exchange.broker->audit_count("persist", "accepted") == 0);

  auto wrong_type = exchange.as("sn.police-judiciaire", {"trace", "submit", (kExamples / "alert.json").string()});
  CHECK(wrong_type.exit_code == 2);

  auto no_profile = exchange.fpx({"inbox"});
  CHECK(no_profile.exit_code == 2);
  CHECK(no_profile.err.find("fpx profile init") != std::string::npos);

  CHECK(exchange.fpx({}).exit_code == 2);
  CHECK(exchange.fpx({"trace", "frobnicate"}).exit_code == 2);
  auto help = exchange.fpx({"trace", "respond", "--help"});
  CHECK(help.exit_code == 0);
  CHECK(help.out.find("--outcome") != std::string::npos);

  // A refusal by the broker is exit 1.
  auto unknown_status = exchange.as("sn.police-judiciaire", {"trace", "status", std::string(32, '0')});
  CHECK(unknown_status.exit_code == 1);
}

TEST_CASE("every example in deploy/examples passes --dry-run validation") {
  Exchange exchange;
  auto dry = [&](const std::string& id, std::vector<std::string> args) {
    args.push_back("--dry-run");
    auto run = exchange.as(id, args);
    INFO(id << " " << args[args.size() - 2] << "\n" << run.out << run.err);
    CHECK(run.exit_code == 0);
  };
  dry("sn.police-judiciaire", {"trace", "submit", (kExamples / "tracing-request.json").string()});
  dry("bf.focal-point", {"alert", "send", (kExamples / "alert.json").string()});
  dry("sn.focal-point", {"campaign", "publish", (kExamples / "campaign-report.json").string()});

  // Replies are built from a saved request.
  const auto request_id = exchange.submit_request();
  REQUIRE(exchange.inbox("ne.focal-point", 1).size() == 1);
  int replies = 0;
  for (const auto& entry : fs::directory_iterator(kExamples)) {
    const auto name = entry.path().filename().string();
    if (name.rfind("tracing-acknowledgement", 0) == 0) {
      dry("ne.focal-point", {"trace", "ack", request_id, "--file", entry.path().string()});
      ++replies;
    } else if (name.rfind("tracing-response", 0) == 0) {
      dry("ne.focal-point", {"trace", "respond", request_id, "--file", entry.path().string()});
      ++replies;
    }
  }
  CHECK(replies >= 2);

  // And the alert really goes out to the region.
  auto sent = exchange.as("bf.focal-point", {"alert", "send", (kExamples / "alert.json").string()});
  INFO(sent.out << sent.err);
  CHECK(sent.exit_code == 0);
  auto niger = exchange.inbox("ne.focal-point", 1);
  REQUIRE(niger.size() == 1);
  CHECK(json_field(niger[0], "type") == "alert");
}

// ---- the exchange's identity pinned, CRLs by default --------------------------

namespace {

std::string pin_of_chain(const fs::path& chain_pem) {
  auto chain = Certificate::load_pem_file(chain_pem);
  REQUIRE(chain.ok());
  auto pin = client::BrokerKeyPin::of_certificate(chain->front());
  REQUIRE(pin.ok());
  return pin->text();
}

}  // namespace

namespace {

// The broker's state of the delivery to `recipient`, from `fpx --json trace status`.
std::string recipient_state(Exchange& exchange, const std::string& sender, const std::string& id,
                            const std::string& recipient) {
  auto status = exchange.as(sender, {"--json", "trace", "status", id});
  const std::string marker = "\"recipient\":\"" + recipient + "\",\"state\":\"";
  const auto start = status.out.find(marker);
  if (start == std::string::npos) return "not found in: " + status.out + status.err;
  const auto end = status.out.find('"', start + marker.size());
  return status.out.substr(start + marker.size(), end - start - marker.size());
}

}  // namespace

TEST_CASE("fpx profile init pins the broker's signing key, prints it to compare, and wants CRLs unless told otherwise") {
  Exchange exchange;
  const auto broker_chain = test::broker_chain_path(exchange.pki);
  const std::string pin = pin_of_chain(broker_chain);
  const auto identity = (exchange.pki.dir() / "participants" / "sn.focal-point").string();
  const auto dir = exchange.pki.dir() / "profiles" / "new";
  std::vector<std::string> base{"profile", "init", "--dir", dir.string(), "--identity", identity,
                                "--broker-endpoint", exchange.broker->endpoint(), "--broker-cert",
                                broker_chain.string(), "--root-ca", exchange.pki.root_pem().string()};

  SECTION("the pin is written, printed with how to compare it, and shown") {
    auto args = base;
    args.insert(args.end(), {"--crl-dir", exchange.pki.crl_dir().string()});
    auto init = exchange.fpx(args);
    INFO(init.out << init.err);
    REQUIRE(init.exit_code == 0);
    CHECK_THAT(init.out, Catch::Contains("pinned broker signing key: " + pin + " (exchange.broker, from "));
    CHECK_THAT(init.out, Catch::Contains("out of band"));
    CHECK_THAT(init.out, Catch::Contains("openssl pkey -pubin -outform DER | tail -c 32 | sha256sum"));
    CHECK_THAT(test::read_file(dir / "fpx.toml"), Catch::Contains("pins = [\"" + pin + "\"]"));
    auto show = exchange.fpx({"--json", "profile", "show", "--profile", dir.string()});
    REQUIRE(show.exit_code == 0);
    CHECK_THAT(show.out, Catch::Contains("\"brokerPins\":[\"" + pin + "\"]"));
    CHECK_THAT(show.out, Catch::Contains("\"revocationChecked\":true"));
  }
  SECTION("without --crl-dir a participant profile is refused") {
    auto init = exchange.fpx(base);
    CHECK(init.exit_code == 2);
    CHECK_THAT(init.err, Catch::Contains("--no-revocation-check"));
    CHECK_FALSE(fs::exists(dir / "fpx.toml"));
  }
  SECTION("--no-revocation-check is recorded and every command warns") {
    auto args = base;
    args.push_back("--no-revocation-check");
    auto init = exchange.fpx(args);
    INFO(init.out << init.err);
    REQUIRE(init.exit_code == 0);
    CHECK_THAT(init.err, Catch::Contains("does not check revocation"));
    CHECK_THAT(test::read_file(dir / "fpx.toml"), Catch::Contains("revocation_check = false"));
    auto inbox = exchange.fpx({"inbox", "--profile", dir.string(), "--wait", "0"});
    INFO(inbox.out << inbox.err);
    CHECK(inbox.exit_code == 0);
    CHECK_THAT(inbox.err, Catch::Contains("warning: this profile does not check revocation"));
  }
  SECTION("a profile pinning no key is refused: with --broker-key, a --broker-pin is required") {
    std::vector<std::string> args{"profile", "init", "--dir", dir.string(), "--identity", identity,
                                  "--broker-endpoint", exchange.broker->endpoint(), "--broker-key",
                                  z85_encode(exchange.broker->curve_public_key()), "--root-ca",
                                  exchange.pki.root_pem().string(), "--crl-dir", exchange.pki.crl_dir().string()};
    auto unpinned = exchange.fpx(args);
    CHECK(unpinned.exit_code == 2);
    CHECK_THAT(unpinned.err, Catch::Contains("no broker signing key to pin"));
    args.insert(args.end(), {"--broker-pin", "sha256:1234"});
    auto malformed = exchange.fpx(args);
    CHECK(malformed.exit_code == 2);
    CHECK_THAT(malformed.err, Catch::Contains("is not a broker key pin"));
    args.back() = pin;
    auto pinned = exchange.fpx(args);
    INFO(pinned.out << pinned.err);
    CHECK(pinned.exit_code == 0);
    CHECK_THAT(pinned.out, Catch::Contains(pin + " (given with --broker-pin)"));
  }
  SECTION("a fpx.toml without pins (an older profile) is refused with what to do") {
    auto args = base;
    args.insert(args.end(), {"--crl-dir", exchange.pki.crl_dir().string()});
    REQUIRE(exchange.fpx(args).exit_code == 0);
    auto text = test::read_file(dir / "fpx.toml");
    const auto at = text.find("pins = ");
    REQUIRE(at != std::string::npos);
    text.erase(at, text.find('\n', at) - at);
    std::ofstream(dir / "fpx.toml") << text;
    auto inbox = exchange.fpx({"inbox", "--profile", dir.string(), "--wait", "0"});
    CHECK(inbox.exit_code == 2);
    CHECK_THAT(inbox.err, Catch::Contains("broker.pins"));
    CHECK_THAT(inbox.err, Catch::Contains("fpx profile pin --add"));
    // Mended by the command the error names.
    auto mended = exchange.fpx({"profile", "pin", "--profile", dir.string(), "--add", broker_chain.string()});
    INFO(mended.out << mended.err);
    REQUIRE(mended.exit_code == 0);
    auto again = exchange.fpx({"inbox", "--profile", dir.string(), "--wait", "0"});
    INFO(again.out << again.err);
    CHECK(again.exit_code == 0);
  }
}

TEST_CASE("fpx profile pin rotates the exchange's key: receipts are refused while the broker's key is unpinned and "
          "accepted once it is pinned again") {
  Exchange exchange;
  const std::string current = pin_of_chain(test::broker_chain_path(exchange.pki));
  // The exchange's next broker certificate, from the root, announced ahead.
  exchange.pki.issue("exchange.broker-next", "AT", Role::broker, {.via_intermediate = false});
  const auto next_chain = exchange.pki.dir() / "participants" / "exchange.broker-next" / kChainFile;
  const std::string next = pin_of_chain(next_chain);
  const std::string id = "sn.police-judiciaire";
  const auto request = (kExamples / "tracing-request.json").string();

  auto added = exchange.as(id, {"profile", "pin", "--add", next_chain.string()});
  INFO(added.out << added.err);
  REQUIRE(added.exit_code == 0);
  CHECK_THAT(added.out, Catch::Contains("pinned broker signing key: " + next + " (exchange.broker-next, from "));
  CHECK_THAT(added.out, Catch::Contains("out of band"));
  auto listed = exchange.as(id, {"--json", "profile", "pin"});
  CHECK_THAT(listed.out, Catch::Contains("\"brokerPins\":[\"" + current + "\",\"" + next + "\"]"));

  // The running broker still signs with the current key: both pinned, accepted.
  auto both = exchange.as(id, {"trace", "submit", request});
  INFO(both.out << both.err);
  CHECK(both.exit_code == 0);

  // Only the next key pinned (as after a rotation the broker has not made yet).
  auto removed = exchange.as(id, {"profile", "pin", "--remove", current});
  REQUIRE(removed.exit_code == 0);
  // The same request again: --force passes the duplicate warning (issue 17), not the subject here.
  auto refused = exchange.as(id, {"trace", "submit", request, "--force"});
  INFO(refused.out << refused.err);
  CHECK(refused.exit_code == 1);
  CHECK_THAT(refused.err, Catch::Contains("signer_mismatch"));
  CHECK_THAT(refused.err, Catch::Contains("is not signed by the pinned exchange"));

  auto last = exchange.as(id, {"profile", "pin", "--remove", next});
  CHECK(last.exit_code == 2);
  CHECK_THAT(last.err, Catch::Contains("no broker key pinned"));
  auto unknown = exchange.as(id, {"profile", "pin", "--remove", current});
  CHECK(unknown.exit_code == 2);
  auto not_a_broker = exchange.as(id, {"profile", "pin", "--add",
                                       (exchange.pki.dir() / "participants" / "sn.focal-point" / kChainFile).string()});
  CHECK(not_a_broker.exit_code == 2);
  CHECK_THAT(not_a_broker.err, Catch::Contains("wrong_role"));

  // Pinned again: the queued message's receipt now verifies on the next connect.
  auto again = exchange.as(id, {"profile", "pin", "--add", current});
  REQUIRE(again.exit_code == 0);
  auto accepted = exchange.as(id, {"trace", "submit", request, "--force"});
  INFO(accepted.out << accepted.err);
  CHECK(accepted.exit_code == 0);
  CHECK(accepted.err.find("not accepted") == std::string::npos);
}

TEST_CASE("fpx verify judges revocation at the broker's receipt time: a backdated created-at does not save a revoked "
          "signer") {
  Exchange exchange;
  // An agency whose certificate was valid a day ago, so that it can backdate.
  const std::string id = "sn.douanes";
  const std::int64_t now = now_ms();
  exchange.pki.issue(id, "SN", Role::agency, {.validity = {now - test::kDayMs, now + 30 * test::kDayMs}});
  exchange.broker->enroll(id);
  exchange.broker->reload();
  auto client = test::connect_client(*exchange.broker, exchange.pki, id);
  const std::int64_t backdated = now - 10 * 60 * 1000;
  Bytes envelope = test::seal_sample(exchange.pki.identity(id), wire::MessageType::TRACING_REQUEST, backdated);
  auto receipt = client->submit(envelope);
  INFO((receipt ? std::string() : receipt.error().describe()));
  REQUIRE(receipt.ok());
  const auto folder = exchange.pki.dir() / "kept";
  fs::create_directories(folder);
  const auto file = folder / (receipt->message_id.hex() + ".fpx");
  std::ofstream(file, std::ios::binary).write(reinterpret_cast<const char*>(envelope.data()),
                                              static_cast<std::streamsize>(envelope.size()));
  std::ofstream(folder / (receipt->message_id.hex() + ".receipt"), std::ios::binary)
      .write(reinterpret_cast<const char*>(receipt->signed_receipt.data()),
             static_cast<std::streamsize>(receipt->signed_receipt.size()));
  const std::string pin = test::broker_pins(exchange.pki).front().text();
  std::vector<std::string> verify{"verify", file.string(), "--root-ca", exchange.pki.root_pem().string(),
                                  "--crl-dir", exchange.pki.crl_dir().string(), "--broker-pin", pin};

  auto before = exchange.fpx(verify);
  INFO(before.out << before.err);
  REQUIRE(before.exit_code == 0);
  CHECK_THAT(before.out, Catch::Contains("broker receipt verified"));
  CHECK_THAT(before.out, Catch::Contains("at the broker's receipt time"));

  // Revoked after the created-at it wrote, before the broker stored it.
  exchange.pki.revoke(id, receipt->stored_at_ms - 60 * 1000);
  auto after = exchange.fpx(verify);
  INFO(after.out << after.err);
  CHECK(after.exit_code == 1);
  CHECK_THAT(after.err, Catch::Contains("revoked"));
  CHECK_THAT(after.err, Catch::Contains("at the broker's receipt time"));

  // Without the receipt only created-at is known, and the output says so.
  fs::rename(folder / (receipt->message_id.hex() + ".receipt"), folder / "moved-away.bin");
  auto alone = exchange.fpx(verify);
  INFO(alone.out << alone.err);
  CHECK(alone.exit_code == 0);
  CHECK_THAT(alone.out, Catch::Contains("at the sender's created-at (no broker receipt beside the file)"));
  fs::rename(folder / "moved-away.bin", folder / (receipt->message_id.hex() + ".receipt"));

  // A receipt needs a pinned key to be judged; under another key it is refused.
  verify.resize(6);
  auto no_pin = exchange.fpx(verify);
  CHECK(no_pin.exit_code == 2);
  CHECK_THAT(no_pin.err, Catch::Contains("no broker key is pinned"));
  verify.insert(verify.end(), {"--broker-pin", "sha256:" + std::string(64, 'a')});
  auto other = exchange.fpx(verify);
  CHECK(other.exit_code == 1);
  CHECK_THAT(other.err, Catch::Contains("signer_mismatch"));
}

TEST_CASE("fpx verify accepts a broker notice only under a pinned broker key") {
  Exchange exchange;
  exchange.pki.issue("exchange.rogue", "AT", Role::broker, {.via_intermediate = false});
  const std::string pin = test::broker_pins(exchange.pki).front().text();
  auto write = [&](const std::string& name, const Bytes& envelope) {
    const auto file = exchange.pki.dir() / name;
    std::ofstream(file, std::ios::binary).write(reinterpret_cast<const char*>(envelope.data()),
                                                static_cast<std::streamsize>(envelope.size()));
    return file.string();
  };
  const auto genuine = write("reminder.fpx", test::seal_sample(exchange.pki.identity("exchange.broker"),
                                                               wire::MessageType::REMINDER));
  const auto forged = write("forged-reminder.fpx", test::seal_sample(exchange.pki.identity("exchange.rogue"),
                                                                     wire::MessageType::REMINDER));
  const std::vector<std::string> trust{"--root-ca", exchange.pki.root_pem().string(), "--crl-dir",
                                       exchange.pki.crl_dir().string()};
  auto verify = [&](const std::string& file, std::vector<std::string> extra) {
    std::vector<std::string> args{"verify", file};
    args.insert(args.end(), trust.begin(), trust.end());
    args.insert(args.end(), extra.begin(), extra.end());
    return exchange.fpx(args);
  };

  auto accepted = verify(genuine, {"--broker-pin", pin});
  INFO(accepted.out << accepted.err);
  CHECK(accepted.exit_code == 0);
  CHECK_THAT(accepted.out, Catch::Contains("exchange.broker"));

  auto refused = verify(forged, {"--broker-pin", pin});
  INFO(refused.out << refused.err);
  CHECK(refused.exit_code == 1);
  CHECK_THAT(refused.err, Catch::Contains("signer_mismatch"));
  CHECK_THAT(refused.err, Catch::Contains("is not signed by the pinned exchange"));

  auto unpinned = verify(genuine, {});
  CHECK(unpinned.exit_code == 2);
  CHECK_THAT(unpinned.err, Catch::Contains("no broker key is pinned"));

  // With a profile, its pins are used.
  auto with_profile = exchange.as("sn.focal-point", {"verify", forged});
  CHECK(with_profile.exit_code == 1);
  CHECK_THAT(with_profile.err, Catch::Contains("signer_mismatch"));
}

TEST_CASE("a message fpx inbox could not save is not confirmed, and the next fpx inbox saves it") {
  Exchange exchange;
  const auto request_id = exchange.submit_request();
  const auto inbox_dir = exchange.profiles["ne.focal-point"] / "inbox";
  const auto saved = inbox_dir / (request_id + ".fpx");

  // A file where the inbox folder should be: every write into it fails
  // (tests run as root, so a read-only folder would not stop the write).
  fs::remove_all(inbox_dir);
  std::ofstream(inbox_dir) << "not a folder";
  Run failed;
  for (int attempt = 0; attempt < 10; ++attempt) {
    failed = exchange.as("ne.focal-point", {"inbox", "--wait", "1"});
    if (failed.err.find("could not be saved") != std::string::npos) break;
  }
  INFO(failed.out << failed.err);
  CHECK(failed.exit_code == 1);
  CHECK(failed.err.find("message " + request_id + " could not be saved") != std::string::npos);
  CHECK(failed.err.find("not confirmed") != std::string::npos);
  CHECK(failed.out.find(request_id) == std::string::npos);  // not listed as received
  CHECK(recipient_state(exchange, "sn.police-judiciaire", request_id, "ne.focal-point") != "confirmed");

  // The disk is fixed: the broker sends the message again (to this new
  // session at once) and the library hands it over again.
  fs::remove(inbox_dir);
  auto niger = exchange.inbox("ne.focal-point", 1);
  REQUIRE(niger.size() == 1);
  CHECK(json_field(niger[0], "messageId") == request_id);
  CHECK(fs::exists(saved));
  CHECK(fs::exists(inbox_dir / (request_id + ".json")));
  CHECK_FALSE(fs::exists(inbox_dir / (request_id + ".fpx.tmp")));
  auto verified = exchange.fpx({"verify", saved.string(), "--root-ca", exchange.pki.root_pem().string()});
  INFO(verified.out << verified.err);
  CHECK(verified.exit_code == 0);

  // Saved, then confirmed (fpx inbox waits for the broker to have its
  // confirms before it exits), and listed once only.
  std::string state;
  for (int attempt = 0; attempt < 20 && state != "confirmed"; ++attempt) {
    state = recipient_state(exchange, "sn.police-judiciaire", request_id, "ne.focal-point");
    if (state != "confirmed") std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(state == "confirmed");
  CHECK(exchange.inbox("ne.focal-point", 1, 2).empty());
}
