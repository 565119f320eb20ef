// Every step of a case on the fpx command line (issue 17): trace show, owed,
// forward, supply, withdraw, close, search, and the duplicate warning of
// trace submit, in English and in French. The real `fpx` binary against a
// real fpx-broker on 127.0.0.1, with a PKI made at test time.
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "support/broker_process.hpp"
#include "support/command_run.hpp"
#include "support/test_pki.hpp"

using namespace fpx;
namespace fs = std::filesystem;

namespace {

const fs::path kExamples = fs::path(FPX_SOURCE_DIR) / "deploy" / "examples";
const std::vector<std::string> kParticipants = {"sn.focal-point", "ne.focal-point", "bf.focal-point", "ml.focal-point",
                                                "sn.police-judiciaire"};

using Run = test::CommandRun;

std::string json_field(const std::string& json, const std::string& key) {
  const std::string marker = "\"" + key + "\":\"";
  const auto start = json.find(marker);
  if (start == std::string::npos) return {};
  const auto end = json.find('"', start + marker.size());
  return json.substr(start + marker.size(), end - start - marker.size());
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The example request with `replace` applied (each "from" -> "to" once), in a new file.
fs::path request_variant(const fs::path& dir, const std::string& name,
                         const std::vector<std::pair<std::string, std::string>>& replace) {
  std::string text = read_text(kExamples / "tracing-request.json");
  for (const auto& [from, to] : replace) {
    const auto at = text.find(from);
    REQUIRE(at != std::string::npos);
    text.replace(at, from.size(), to);
  }
  const auto path = dir / name;
  std::ofstream(path) << text;
  return path;
}

// Without H2, so that it may be forwarded; without the channel reference,
// so that only the firearm makes two of them the same.
const std::vector<std::pair<std::string, std::string>> kNoH2 = {
    {"\"handlingCodes\": [\"h0CrimeFightingOnly\", \"h2NoOnwardSharingWithoutPermission\"]",
     "\"handlingCodes\": [\"h0CrimeFightingOnly\"]"},
    {"\"otherChannelReferences\": [{\"channel\": \"nationalCaseSystem\", \"reference\": \"PJ-ZIG-2026-0917\"}]",
     "\"otherChannelReferences\": []"}};

struct Exchange {
  Exchange() : pki({"SN", "NE", "BF", "ML"}) {
    for (const auto& id : kParticipants) {
      const std::string country = id == "sn.police-judiciaire" ? "SN" : std::string{char(std::toupper(id[0])), char(std::toupper(id[1]))};
      pki.issue(id, country, id == "sn.police-judiciaire" ? Role::agency : Role::focal_point);
    }
    broker = std::make_unique<test::BrokerProcess>(pki, kParticipants);
    for (const auto& id : kParticipants) {
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

  Run fpx(const std::vector<std::string>& args) { return test::run_fpx(pki.dir(), args); }

  Run as(const std::string& id, std::vector<std::string> args) {
    args.insert(args.begin(), {"--profile", profiles.at(id).string()});
    return fpx(args);
  }

  Run ok(const std::string& id, const std::vector<std::string>& args) {
    auto run = as(id, args);
    INFO(id << ": " << run.out << run.err);
    REQUIRE(run.exit_code == 0);
    return run;
  }

  // `fpx inbox` until `count` new messages were saved.
  void receive(const std::string& id, std::size_t count) {
    std::size_t received = 0;
    for (int attempt = 0; attempt < 10 && received < count; ++attempt) {
      auto run = ok(id, {"inbox", "--json", "--wait", "1"});
      for (const char c : run.out) received += c == '\n' ? 1 : 0;
    }
    REQUIRE(received >= count);
  }

  std::string submit(const std::string& id, const fs::path& file, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--json", "trace", "submit", file.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    auto run = ok(id, args);
    const auto message_id = json_field(run.out, "messageId");
    REQUIRE(message_id.size() == 32);
    return message_id;
  }

  test::TestPki pki;
  std::unique_ptr<test::BrokerProcess> broker;
  std::map<std::string, fs::path> profiles;
};

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("fpx trace show prints the whole thread readable with dates as dates and codes in words in English and "
          "French") {
  Exchange exchange;
  const auto id = exchange.submit("sn.police-judiciaire", kExamples / "tracing-request.json");
  exchange.receive("ne.focal-point", 1);
  exchange.ok("ne.focal-point", {"trace", "ack", id.substr(0, 8), "--expected-response", "2026-12-20"});
  exchange.ok("ne.focal-point", {"trace", "respond", id.substr(0, 8), "--outcome", "partial-chain", "--hop",
                                 "importer;Societe X;NE;2009-03-14;IMP-2009-0031"});
  exchange.receive("sn.police-judiciaire", 2);

  auto english = exchange.ok("sn.police-judiciaire", {"trace", "show", id.substr(0, 10), "--lang", "en"});
  INFO(english.out);
  CHECK(contains(english.out, "Tracing request SN-ZIG-2026-0142"));
  CHECK(contains(english.out, "H2: no onward sharing without permission"));
  CHECK(contains(english.out, "Acknowledgement of receipt"));
  CHECK(contains(english.out, "Partial chain of custody"));
  CHECK(contains(english.out, "Importer: Societe X, NE, 2009-03-14, IMP-2009-0031"));
  CHECK(contains(english.out, "AK-4711-ZG"));
  CHECK(std::regex_search(english.out, std::regex(R"(\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC  Tracing response)")));
  CHECK_FALSE(contains(english.out, "createdAtMs"));

  auto french = exchange.ok("sn.police-judiciaire", {"trace", "show", id, "--lang", "fr"});
  INFO(french.out);
  CHECK(contains(french.out, "Demande de traçage SN-ZIG-2026-0142"));
  CHECK(contains(french.out, "H2 : pas de communication à des tiers sans autorisation"));
  CHECK(contains(french.out, "Accusé de réception"));
  CHECK(contains(french.out, "Chaîne de détention partielle"));
  CHECK(contains(french.out, "Tous les échanges"));

  // Without --lang, the profile's [user] language decides.
  std::ofstream(exchange.profiles.at("sn.police-judiciaire") / "fpx.toml", std::ios::app) << "\n[user]\nlanguage = \"fr\"\n";
  auto from_profile = exchange.ok("sn.police-judiciaire", {"trace", "show", id});
  CHECK(contains(from_profile.out, "Demande de traçage"));
  auto flag_first = exchange.ok("sn.police-judiciaire", {"trace", "show", id, "--lang", "en"});
  CHECK(contains(flag_first.out, "Tracing request"));

  auto json = exchange.ok("sn.police-judiciaire", {"--json", "trace", "show", id});
  CHECK(contains(json.out, "\"thread\":["));
  CHECK(contains(json.out, "\"state\":\"answered\""));

  auto unknown = exchange.as("sn.police-judiciaire", {"trace", "show", "ffffffffffffffffffffffffffffffff"});
  CHECK(unknown.exit_code == 2);
  auto bad_language = exchange.as("sn.police-judiciaire", {"trace", "show", id, "--lang", "de"});
  CHECK(bad_language.exit_code == 2);
  CHECK(contains(bad_language.err, "use fr or en"));
}

TEST_CASE("fpx trace owed lists what we owe with urgent requests first and drops what we answered in both "
          "languages") {
  Exchange exchange;
  const auto routine = exchange.submit("sn.police-judiciaire", request_variant(exchange.pki.dir(), "routine.json", kNoH2));
  auto urgent_replace = kNoH2;
  urgent_replace.push_back({"\"priority\": \"routine\"",
                            "\"priority\": \"urgent\", \"urgencyJustification\": \"suspect held 48 hours\""});
  urgent_replace.push_back({"AK-4711-ZG", "AK-9000-ZG"});
  const auto urgent = exchange.submit("sn.police-judiciaire", request_variant(exchange.pki.dir(), "urgent.json", urgent_replace));
  exchange.receive("ne.focal-point", 2);

  auto english = exchange.ok("ne.focal-point", {"trace", "owed", "--lang", "en"});
  INFO(english.out);
  const auto urgent_at = english.out.find(urgent);
  const auto routine_at = english.out.find(routine);
  REQUIRE(urgent_at != std::string::npos);
  REQUIRE(routine_at != std::string::npos);
  CHECK(urgent_at < routine_at);
  CHECK(contains(english.out, "Urgent"));
  CHECK(contains(english.out, "Routine"));

  auto french = exchange.ok("ne.focal-point", {"trace", "owed", "--lang", "fr"});
  CHECK(contains(french.out, "Urgente"));
  CHECK(contains(french.out, "Dossier"));

  exchange.ok("ne.focal-point", {"trace", "respond", urgent, "--outcome", "no-record"});
  auto after = exchange.ok("ne.focal-point", {"--json", "trace", "owed"});
  CHECK_FALSE(contains(after.out, urgent));
  CHECK(contains(after.out, routine));

  // The requesting agency owes nothing.
  auto agency = exchange.ok("sn.police-judiciaire", {"trace", "owed", "--lang", "fr"});
  CHECK(contains(agency.out, "Rien en attente"));
}

TEST_CASE("fpx trace forward passes a request on to another state and an H2 request is refused by the broker") {
  Exchange exchange;
  const auto open = exchange.submit("sn.police-judiciaire", request_variant(exchange.pki.dir(), "no-h2.json", kNoH2));
  const auto h2 = exchange.submit("sn.police-judiciaire", kExamples / "tracing-request.json", {"--force"});
  exchange.receive("ne.focal-point", 2);

  auto dry = exchange.ok("ne.focal-point", {"trace", "forward", open, "--to", "ML", "--reason", "the importer is in Mali",
                                            "--dry-run"});
  CHECK(contains(dry.out, "nothing was sent"));
  exchange.ok("ne.focal-point", {"trace", "forward", open, "--to", "ML", "--reason", "the importer is in Mali"});
  // Mali receives the request first, then the forward that explains it.
  exchange.receive("ml.focal-point", 2);
  auto mali = exchange.ok("ml.focal-point", {"trace", "show", open, "--lang", "fr"});
  INFO(mali.out);
  CHECK(contains(mali.out, "the importer is in Mali"));
  CHECK(contains(mali.out, "Transmise"));

  auto refused = exchange.as("ne.focal-point", {"trace", "forward", h2, "--to", "ML", "--reason", "the importer"});
  INFO(refused.out << refused.err);
  CHECK(refused.exit_code == 1);
  CHECK(contains(refused.err, "H2"));

  auto own_state = exchange.as("ne.focal-point", {"trace", "forward", open, "--to", "NE", "--reason", "x"});
  CHECK(own_state.exit_code == 2);
  CHECK(contains(own_state.err, "toCountry"));
}

TEST_CASE("fpx trace supply withdraw and close are sent by the requesting side and shown in the thread in both "
          "languages") {
  Exchange exchange;
  const auto first = exchange.submit("sn.police-judiciaire", request_variant(exchange.pki.dir(), "first.json", kNoH2));
  auto second_replace = kNoH2;
  second_replace.push_back({"AK-4711-ZG", "AK-5000-ZG"});
  const auto second =
      exchange.submit("sn.police-judiciaire", request_variant(exchange.pki.dir(), "second.json", second_replace));
  exchange.receive("ne.focal-point", 2);
  exchange.ok("ne.focal-point", {"trace", "ack", first, "--status", "needs-information", "--missing", "firearms[0].calibre"});
  exchange.receive("sn.police-judiciaire", 1);

  exchange.ok("sn.police-judiciaire", {"trace", "supply", first, "--field", "firearms[0].calibre=7.62x39mm", "--note",
                                       "measured again at the laboratory"});
  auto bad_field = exchange.as("sn.police-judiciaire", {"trace", "supply", first, "--field", "no equals sign"});
  CHECK(bad_field.exit_code == 2);
  CHECK(contains(bad_field.err, "path=value"));
  exchange.ok("sn.police-judiciaire", {"trace", "withdraw", second, "--reason", "traced through iARMS"});
  exchange.ok("sn.police-judiciaire", {"trace", "close", first, "--reason", "answer received"});
  exchange.receive("ne.focal-point", 3);

  auto first_view = exchange.ok("ne.focal-point", {"trace", "show", first, "--lang", "en"});
  INFO(first_view.out);
  CHECK(contains(first_view.out, "firearms[0].calibre = 7.62x39mm"));
  CHECK(contains(first_view.out, "Information supplied"));
  CHECK(contains(first_view.out, "Case closed"));
  auto second_view = exchange.ok("ne.focal-point", {"trace", "show", second, "--lang", "fr"});
  INFO(second_view.out);
  CHECK(contains(second_view.out, "Retirée"));
  CHECK(contains(second_view.out, "traced through iARMS"));

  // Only the requesting side follows up: Niger cannot withdraw Senegal's request.
  auto not_ours = exchange.as("ne.focal-point", {"trace", "withdraw", first, "--reason", "x"});
  CHECK(not_ours.exit_code == 1);
  // Nothing is owed on a closed or withdrawn request.
  auto owed = exchange.ok("ne.focal-point", {"--json", "trace", "owed"});
  CHECK(owed.out.empty());
}

TEST_CASE("fpx trace search finds cases by serial manufacturer case reference state status and date") {
  Exchange exchange;
  const auto first = exchange.submit("sn.police-judiciaire", request_variant(exchange.pki.dir(), "first.json", kNoH2));
  auto other = kNoH2;
  other.push_back({"AK-4711-ZG", "BR-0001-XX"});
  other.push_back({"\"caseReference\": \"SN-ZIG-2026-0142\"", "\"caseReference\": \"SN-DKR-2026-0007\""});
  other.push_back({"Manufacture d'armes de Ouagadougou", "Fabrique Nationale"});
  const auto second = exchange.submit("sn.police-judiciaire", request_variant(exchange.pki.dir(), "other.json", other));
  exchange.ok("sn.police-judiciaire", {"trace", "close", second, "--reason", "traced elsewhere"});

  const auto search = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--json", "trace", "search"});
    return exchange.ok("sn.police-judiciaire", args).out;
  };
  // Case, spaces and dashes do not matter in a serial number.
  auto by_serial = search({"--serial", "ak 4711zg"});
  CHECK(contains(by_serial, first));
  CHECK_FALSE(contains(by_serial, second));
  CHECK(contains(search({"--manufacturer", "fabrique"}), second));
  CHECK_FALSE(contains(search({"--manufacturer", "fabrique"}), first));
  CHECK(contains(search({"--case-reference", "dkr-2026"}), second));
  CHECK(contains(search({"--state", "bf"}), first));
  CHECK(search({"--state", "ML"}).empty());
  auto closed = search({"--status", "closed"});
  CHECK(contains(closed, second));
  CHECK_FALSE(contains(closed, first));
  CHECK(contains(search({"--status", "awaiting-acknowledgement"}), first));
  CHECK(contains(search({"--from", "2000-01-01", "--until", "2100-01-01"}), first));
  CHECK(search({"--until", "2000-01-01"}).empty());

  auto french = exchange.ok("sn.police-judiciaire", {"trace", "search", "--serial", "BR0001", "--lang", "fr"});
  CHECK(contains(french.out, "clos"));
  CHECK(contains(french.out, "SN-DKR-2026-0007"));
  auto none = exchange.ok("sn.police-judiciaire", {"trace", "search", "--serial", "ZZZ", "--lang", "fr"});
  CHECK(contains(none.out, "Aucun dossier"));
  auto bad_status = exchange.as("sn.police-judiciaire", {"trace", "search", "--status", "lost"});
  CHECK(bad_status.exit_code == 2);
  auto bad_date = exchange.as("sn.police-judiciaire", {"trace", "search", "--from", "2026-13-40"});
  CHECK(bad_date.exit_code == 2);
}

TEST_CASE("fpx trace submit names an open request of our state for the same firearm or channel reference and sends "
          "only with --force") {
  Exchange exchange;
  const auto open = exchange.submit("sn.police-judiciaire", kExamples / "tracing-request.json");

  // The same firearm, written differently, to the same states.
  auto respelt = exchange.as("sn.police-judiciaire",
                             {"trace", "submit",
                              request_variant(exchange.pki.dir(), "respelt.json",
                                              {{"AK-4711-ZG", "ak 4711 zg"},
                                               {"\"otherChannelReferences\": [{\"channel\": \"nationalCaseSystem\", "
                                                "\"reference\": \"PJ-ZIG-2026-0917\"}]",
                                                "\"otherChannelReferences\": []"}})
                                  .string()});
  INFO(respelt.out << respelt.err);
  CHECK(respelt.exit_code == 2);
  CHECK(contains(respelt.err, open));
  CHECK(contains(respelt.err, "same firearm"));
  CHECK(contains(respelt.err, "--force"));

  // Another firearm but the same reference in the national case system.
  auto same_reference = exchange.as(
      "sn.police-judiciaire",
      {"trace", "submit", request_variant(exchange.pki.dir(), "reference.json", {{"AK-4711-ZG", "ZZ-1"}}).string()});
  CHECK(same_reference.exit_code == 2);
  CHECK(contains(same_reference.err, "same reference to another channel"));
  CHECK(contains(same_reference.err, open));

  // A dry run warns and validates.
  auto dry = exchange.as("sn.police-judiciaire", {"trace", "submit", (kExamples / "tracing-request.json").string(), "--dry-run"});
  CHECK(dry.exit_code == 0);
  CHECK(contains(dry.err, open));

  // The same firearm to another state only is not a duplicate.
  auto to_mali = kNoH2;
  to_mali.push_back({"\"recipients\": [{\"country\": \"NE\"}, {\"country\": \"BF\"}]", "\"recipients\": [{\"country\": \"ML\"}]"});
  to_mali.push_back({"{\"country\": \"NE\", \"role\": \"countryOfLastImport\"},\n        {\"country\": \"BF\", \"role\": \"countryOfManufacture\"}",
                     "{\"country\": \"ML\", \"role\": \"countryOfLastImport\"}"});
  exchange.submit("sn.police-judiciaire", request_variant(exchange.pki.dir(), "mali.json", to_mali));

  // --force sends anyway, saying so.
  auto forced = exchange.as("sn.police-judiciaire",
                            {"--json", "trace", "submit", (kExamples / "tracing-request.json").string(), "--force"});
  CHECK(forced.exit_code == 0);
  CHECK(contains(forced.err, "sending anyway"));
  const auto forced_id = json_field(forced.out, "messageId");
  REQUIRE(forced_id.size() == 32);

  // Once the open requests are closed, the same request is new again.
  exchange.ok("sn.police-judiciaire", {"trace", "close", open, "--reason", "answer received"});
  exchange.ok("sn.police-judiciaire", {"trace", "close", forced_id, "--reason", "sent twice by mistake"});
  exchange.submit("sn.police-judiciaire", kExamples / "tracing-request.json");
}

TEST_CASE("fpx trace submit does not report another state's identical request even when the profile holds it") {
  Exchange exchange;
  exchange.submit("sn.police-judiciaire", request_variant(exchange.pki.dir(), "sn.json", kNoH2));
  exchange.receive("bf.focal-point", 1);
  // Burkina Faso holds Senegal's request for this firearm; its own identical
  // request to Niger is new (what Senegal asks is Senegal's business).
  auto bf = kNoH2;
  bf.push_back({"\"recipients\": [{\"country\": \"NE\"}, {\"country\": \"BF\"}]", "\"recipients\": [{\"country\": \"NE\"}]"});
  bf.push_back({"{\"country\": \"NE\", \"role\": \"countryOfLastImport\"},\n        {\"country\": \"BF\", \"role\": \"countryOfManufacture\"}",
                "{\"country\": \"NE\", \"role\": \"countryOfLastImport\"}"});
  bf.push_back({"\"requestingCountry\": \"SN\"", "\"requestingCountry\": \"BF\""});
  bf.push_back({"\"requestingAgency\": \"sn.police-judiciaire\"", "\"requestingAgency\": \"bf.focal-point\""});
  auto run = exchange.as("bf.focal-point", {"trace", "submit", request_variant(exchange.pki.dir(), "bf.json", bf).string()});
  INFO(run.out << run.err);
  CHECK(run.exit_code == 0);
  CHECK_FALSE(contains(run.err, "already open"));
}
