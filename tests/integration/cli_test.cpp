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

#include "fpx/client.hpp"
#include "support/command_run.hpp"
#include "support/broker_process.hpp"
#include "support/test_pki.hpp"

using namespace fpx;
namespace fs = std::filesystem;

namespace {

const fs::path kExamples = fs::path(__FILE__).parent_path().parent_path().parent_path() / "deploy" / "examples";

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
  CHECK(fs::exists(exchange.profiles["ne.focal-point"] / "inbox" / (request_id + ".fpx")));
  CHECK(fs::exists(exchange.profiles["ne.focal-point"] / "inbox" / (request_id + ".json")));

  // A unique prefix is enough.
  const auto prefix = request_id.substr(0, 8);
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
  auto words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), bytes.data(), words.size() * sizeof(capnp::word));
  capnp::FlatArrayMessageReader reader(words);
  auto signature = reader.getRoot<wire::Envelope>().getSignature();
  REQUIRE(signature.size() == 64);
  const auto offset = static_cast<std::size_t>(reinterpret_cast<const char*>(signature.begin()) -
                                               reinterpret_cast<const char*>(words.begin()));
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
