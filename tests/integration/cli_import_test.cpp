// `fpx trace import` (issue 17): a CSV of seized firearms checked line by
// line, drafted, and sent only once the whole file was checked; and `fpx
// trace status` in French. The real `fpx` binary against a real fpx-broker on
// 127.0.0.1, with a PKI made at test time.
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "support/broker_process.hpp"
#include "support/command_run.hpp"
#include "support/test_pki.hpp"

using namespace fpx;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kParticipants = {"sn.focal-point", "ne.focal-point", "bf.focal-point",
                                                "sn.police-judiciaire"};

using Run = test::CommandRun;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::size_t count_lines(const std::string& text) {
  std::size_t lines = 0;
  for (const char c : text) lines += c == '\n' ? 1 : 0;
  return lines;
}

std::size_t files_in(const fs::path& dir, const std::string& extension) {
  if (!fs::exists(dir)) return 0;
  std::size_t count = 0;
  for (const auto& entry : fs::directory_iterator(dir)) count += entry.path().extension() == extension ? 1 : 0;
  return count;
}

struct Exchange {
  Exchange() : pki({"SN", "NE", "BF"}) {
    for (const auto& id : kParticipants) {
      const std::string country{char(std::toupper(id[0])), char(std::toupper(id[1]))};
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

  fs::path csv(const std::string& name, const std::string& text) {
    const auto path = pki.dir() / name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

  // `fpx inbox` until `count` new messages were saved; returns how many came.
  std::size_t receive(const std::string& id, std::size_t count, int attempts = 10) {
    std::size_t received = 0;
    for (int attempt = 0; attempt < attempts && received < count; ++attempt) {
      auto run = as(id, {"inbox", "--json", "--wait", "1"});
      REQUIRE(run.exit_code == 0);
      received += count_lines(run.out);
    }
    return received;
  }

  test::TestPki pki;
  std::unique_ptr<test::BrokerProcess> broker;
  std::map<std::string, fs::path> profiles;
};

const std::string kHeader =
    "serial_number,manufacturer,model,type,calibre,country_of_manufacture,recovery_date,administrative_area,"
    "circumstance,requested_states,case_reference,illicit_basis,legal_justification,intended_use,information_sought\n";

std::string line(const std::string& serial, const std::string& date = "2026-11-02", const std::string& type = "rifle-carbine",
                 const std::string& reference = "SN-ZIG-2026-0200") {
  return serial + ",Manufacture d'armes de Ouagadougou,MAO-47," + type + ",7.62x39mm,BF," + date +
         ",Ziguinchor,seized,NE:country-of-last-import;BF:country-of-manufacture," + reference +
         ",illicit-under-national-law,\"Code penal du Senegal, art. 92\",criminal investigation,"
         "chain-of-custody;point-of-diversion\n";
}

}  // namespace

TEST_CASE("fpx trace import checks every line and drafts only the lines that pass in English and French") {
  Exchange exchange;
  const auto file = exchange.csv("seized.csv", kHeader + line("AK-1001-ZG") + line("AK-1002-ZG", "2026-13-45") +
                                                   line("ak 1001 zg") + line("AK-1005-ZG", "2026-11-02", "pistol"));
  auto english = exchange.as("sn.police-judiciaire", {"trace", "import", file.string(), "--lang", "en"});
  INFO(english.out << english.err);
  CHECK(english.exit_code == 2);  // a line to fix
  CHECK(contains(english.out, "line 2: ready: SN-ZIG-2026-0200 serial AK-1001-ZG, identifier completeness"));
  CHECK(contains(english.out, "line 3: to fix, not sent:"));
  CHECK(contains(english.out, "column recovery_date:"));
  CHECK(contains(english.out, "line 5: to fix, not sent:"));
  CHECK(contains(english.out, "column type:"));
  // The same firearm respelt, to the same states, in the same file.
  CHECK(contains(english.out, "line 4: to fix, not sent:"));
  CHECK(contains(english.out, "repeats line 2 of this file"));
  CHECK(contains(english.out, "4 line(s) checked: 1 ready, 3 to fix."));

  const auto drafts = exchange.profiles.at("sn.police-judiciaire") / "drafts";
  CHECK(files_in(drafts, ".json") == 1);
  const auto draft = drafts / "seized-line-2.json";
  REQUIRE(fs::exists(draft));
  // Nothing was sent by the import.
  CHECK(files_in(exchange.profiles.at("sn.police-judiciaire") / "sent", ".fpx") == 0);

  auto french = exchange.as("sn.police-judiciaire", {"trace", "import", file.string(), "--lang", "fr", "--drafts",
                                                     (exchange.pki.dir() / "brouillons").string()});
  INFO(french.out);
  CHECK(contains(french.out, "ligne 2 : prête : SN-ZIG-2026-0200 numéro de série AK-1001-ZG"));
  CHECK(contains(french.out, "ligne 3 : à corriger, non envoyée :"));
  CHECK(contains(french.out, "colonne recovery_date :"));
  CHECK(contains(french.out, "4 ligne(s) vérifiée(s) : 1 prête(s), 3 à corriger."));
  CHECK(fs::exists(exchange.pki.dir() / "brouillons" / "seized-line-2.json"));

  // A draft is what `fpx trace submit` sends.
  auto submit = exchange.as("sn.police-judiciaire", {"--json", "trace", "submit", draft.string()});
  INFO(submit.out << submit.err);
  CHECK(submit.exit_code == 0);
  CHECK(exchange.receive("ne.focal-point", 1) == 1);

  // Imported again, the line now repeats the open request just sent.
  auto again = exchange.as("sn.police-judiciaire", {"--json", "trace", "import", file.string()});
  CHECK(contains(again.out, "repeats the open request"));
  CHECK(contains(again.out, "\"line\":2,\"ok\":false"));
}

TEST_CASE("fpx trace import --send sends only the lines that pass and nothing from a file that cannot be parsed") {
  Exchange exchange;
  // A broken quote on the last line: the whole file is refused, even its good lines.
  const auto broken = exchange.csv("broken.csv", kHeader + line("AK-2001-ZG") + line("AK-2002-ZG") +
                                                     "AK-2003-ZG,Manufacture \"MAO\" de Ouagadougou,MAO-47\n");
  auto refused = exchange.as("sn.police-judiciaire", {"trace", "import", broken.string(), "--send"});
  INFO(refused.out << refused.err);
  CHECK(refused.exit_code == 2);
  CHECK(contains(refused.err, "malformed"));
  CHECK(contains(refused.err, "line 4"));
  CHECK(contains(refused.err, "nothing was written or sent"));
  CHECK(files_in(exchange.profiles.at("sn.police-judiciaire") / "sent", ".fpx") == 0);
  CHECK_FALSE(fs::exists(exchange.profiles.at("sn.police-judiciaire") / "drafts"));

  // Two good lines and one with a control character: the two are sent.
  const auto mixed = exchange.csv("mixed.csv", kHeader + line("AK-3001-ZG") + line("AK-3002-ZG") +
                                                   line("AK-30\x07" "03-ZG"));
  auto sent = exchange.as("sn.police-judiciaire", {"trace", "import", mixed.string(), "--send"});
  INFO(sent.out << sent.err);
  CHECK(sent.exit_code == 2);  // a line is left to fix
  CHECK(contains(sent.out, "line 2: sent and receipted by the exchange"));
  CHECK(contains(sent.out, "line 3: sent and receipted by the exchange"));
  CHECK(contains(sent.out, "column serial_number: holds a control character (U+0007)"));
  CHECK(contains(sent.out, "2 request(s) sent; 1 line(s) to fix; 0 refused by the exchange."));
  CHECK(files_in(exchange.profiles.at("sn.police-judiciaire") / "sent", ".fpx") == 2);
  CHECK(files_in(exchange.profiles.at("sn.police-judiciaire") / "sent", ".receipt") == 2);
  CHECK(exchange.receive("ne.focal-point", 2) == 2);

  // Found by the case commands like any request sent.
  auto search = exchange.as("sn.police-judiciaire", {"--json", "trace", "search", "--serial", "AK3002"});
  CHECK(count_lines(search.out) == 1);
}

TEST_CASE("fpx trace status prints its table in French with accented headers upper-cased") {
  Exchange exchange;
  const auto file = exchange.csv("one.csv", kHeader + line("AK-4001-ZG"));
  auto sent = exchange.as("sn.police-judiciaire", {"--json", "trace", "import", file.string(), "--send"});
  INFO(sent.out << sent.err);
  REQUIRE(sent.exit_code == 0);
  const auto at = sent.out.find("\"messageId\":\"");
  REQUIRE(at != std::string::npos);
  const auto id = sent.out.substr(at + 13, 32);

  auto french = exchange.as("sn.police-judiciaire", {"trace", "status", id, "--lang", "fr"});
  INFO(french.out << french.err);
  CHECK(french.exit_code == 0);
  CHECK(contains(french.out, "DESTINATAIRE"));
  CHECK(contains(french.out, "ÉTAT"));
  CHECK(contains(french.out, "MIS À JOUR"));
  CHECK_FALSE(contains(french.out, "éTAT"));
  CHECK(contains(french.out, "traitement :"));
  auto english = exchange.as("sn.police-judiciaire", {"trace", "status", id, "--lang", "en"});
  CHECK(contains(english.out, "RECIPIENT"));
  CHECK(contains(english.out, "handling:"));
}

TEST_CASE("fpx --lang fr before the command prints the next step of an error in French and reaches the case commands") {
  Exchange exchange;
  const std::string missing = (exchange.pki.dir() / "absent.csv").string();
  auto french = exchange.as("sn.police-judiciaire", {"--lang", "fr", "trace", "import", missing});
  INFO(french.err);
  CHECK(french.exit_code == 2);
  CHECK(contains(french.err, "not_found"));  // the code stays, scripts match it
  CHECK(contains(french.err, "à faire : indiquez le chemin d'un fichier CSV d'armes à feu saisies"));
  auto english = exchange.as("sn.police-judiciaire", {"--lang", "en", "trace", "import", missing});
  CHECK(contains(english.err, "next: give the path of a CSV file of seized firearms"));

  // A command's own --lang reaches its error report too: a file over the bound, refused before it is read.
  std::string big = kHeader;
  while (big.size() <= 1024 * 1024) big += line("AK-9001-ZG");
  const auto over = exchange.csv("over.csv", big);
  auto refused = exchange.as("sn.police-judiciaire", {"trace", "import", over.string(), "--lang", "fr"});
  INFO(refused.err);
  CHECK(refused.exit_code == 2);
  CHECK(contains(refused.err, "too_large"));
  CHECK(contains(refused.err, "à faire : divisez le fichier en fichiers plus petits ; rien n'a été importé"));
  CHECK_FALSE(fs::exists(exchange.profiles.at("sn.police-judiciaire") / "drafts"));

  // The case commands take fpx's --lang when they are given none of their own.
  auto owed = exchange.as("ne.focal-point", {"--lang", "fr", "trace", "owed"});
  INFO(owed.out << owed.err);
  CHECK(owed.exit_code == 0);
  CHECK(contains(owed.out, "Rien en attente : aucune demande ouverte n'attend notre réponse."));
  auto owed_english = exchange.as("ne.focal-point", {"--lang", "en", "trace", "owed"});
  CHECK(contains(owed_english.out, "Nothing owed: no open request waits for us."));
}

TEST_CASE("fpx trace import reads a spreadsheet's CSV with a byte-order mark CRLF line ends and column names in words") {
  Exchange exchange;
  auto crlf = [](std::string text) {
    std::string out;
    for (const char c : text) out += c == '\n' ? std::string("\r\n") : std::string(1, c);
    return out;
  };
  std::string header = kHeader;
  header.replace(0, std::string("serial_number").size(), "Serial Number");
  const auto file = exchange.csv("spreadsheet.csv", "\xEF\xBB\xBF" + crlf(header + line("AK-9101-ZG") + line("AK-9102-ZG")));
  auto run = exchange.as("sn.police-judiciaire", {"--json", "trace", "import", file.string()});
  INFO(run.out << run.err);
  CHECK(run.exit_code == 0);
  CHECK(count_lines(run.out) == 2);
  CHECK(contains(run.out, "\"line\":2,\"ok\":true"));
  CHECK(contains(run.out, "\"line\":3,\"ok\":true"));
  CHECK(contains(run.out, "\"serialNumber\":\"AK-9102-ZG\""));
  CHECK(files_in(exchange.profiles.at("sn.police-judiciaire") / "drafts", ".json") == 2);
}

TEST_CASE("fpx trace import reads a CSV saved by a spreadsheet set to French with semicolons between fields") {
  Exchange exchange;
  const std::string header =
      "serial_number;manufacturer;model;type;calibre;country_of_manufacture;recovery_date;administrative_area;"
      "circumstance;requested_states;case_reference;illicit_basis;legal_justification;intended_use;information_sought\n";
  const std::string row =
      "AK-9201-ZG;Manufacture d'armes de Ouagadougou;MAO-47;rifle-carbine;7.62x39mm;BF;2026-11-02;Ziguinchor;seized;"
      "\"NE:country-of-last-import;BF:country-of-manufacture\";SN-ZIG-2026-0400;illicit-under-national-law;"
      "Code penal du Senegal, art. 92;criminal investigation;\"chain-of-custody;point-of-diversion\"\n";
  const auto file = exchange.csv("excel-fr.csv", header + row);
  auto run = exchange.as("sn.police-judiciaire", {"--json", "trace", "import", file.string()});
  INFO(run.out << run.err);
  CHECK(run.exit_code == 0);
  CHECK(contains(run.out, "\"line\":2,\"ok\":true"));
  const auto draft = exchange.profiles.at("sn.police-judiciaire") / "drafts" / "excel-fr-line-2.json";
  REQUIRE(fs::exists(draft));
  std::ifstream in(draft);
  const std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Both requested states, from the quoted list: BF is named by the second
  // as well as by the firearm's country of manufacture.
  CHECK(contains(json, "countryOfLastImport"));
  std::size_t burkina = 0;
  for (auto at = json.find("\"BF\""); at != std::string::npos; at = json.find("\"BF\"", at + 1)) ++burkina;
  CHECK(burkina >= 2);
  CHECK(contains(json, "Code penal du Senegal, art. 92"));  // a comma inside a field stays in it
}
