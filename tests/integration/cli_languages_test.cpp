// Issue 17, item 5: every `fpx` command speaks French and English. The real
// `fpx` binary against a real fpx-broker on 127.0.0.1, with a PKI made at test
// time: --help, trace submit, ack and respond, inbox, outbox and the errors'
// next steps, each in both languages; the language from --lang, else the
// environment (LANG=fr_FR.UTF-8 on a machine with no locale generated).
#include <cctype>
#include <chrono>
#include <thread>
#include <filesystem>
#include <fstream>
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

const fs::path kExamples = fs::path(FPX_SOURCE_DIR) / "deploy" / "examples";
const std::vector<std::string> kParticipants = {"sn.focal-point", "ne.focal-point", "bf.focal-point",
                                                "sn.police-judiciaire"};

using Run = test::CommandRun;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::string json_field(const std::string& json, const std::string& key) {
  const std::string marker = "\"" + key + "\":\"";
  const auto start = json.find(marker);
  if (start == std::string::npos) return {};
  const auto end = json.find('"', start + marker.size());
  return json.substr(start + marker.size(), end - start - marker.size());
}

// `fpx` with a chosen environment: the variables gettext reads are all
// emptied first, so only `environment` decides (no locale is generated here).
Run fpx_in_environment(const fs::path& dir, const std::vector<std::string>& environment,
                       const std::vector<std::string>& args) {
  std::vector<std::string> words = {"env", "LANGUAGE=", "LC_ALL=", "LC_MESSAGES=", "LANG="};
  words.insert(words.end(), environment.begin(), environment.end());
  words.push_back(std::string(FPX_BIN_DIR) + "/fpx");
  words.insert(words.end(), args.begin(), args.end());
  return test::run_command(words, dir);
}

struct Exchange {
  Exchange() : pki({"SN", "NE", "BF"}) {
    for (const auto& id : kParticipants) {
      const std::string country{char(std::toupper(id[0])), char(std::toupper(id[1]))};
      pki.issue(id, country, id == "sn.police-judiciaire" ? Role::agency : Role::focal_point);
    }
    // Civil society: an observer of the public feed and a cso sending early warnings.
    pki.issue("cso.sahel-watch", "SN", Role::observer, {.via_intermediate = false});
    pki.issue("cso.sahel-watch.sn", "SN", Role::cso, {.via_intermediate = false});
    std::vector<std::string> enrolled = kParticipants;
    enrolled.insert(enrolled.end(), {"cso.sahel-watch", "cso.sahel-watch.sn"});
    broker = std::make_unique<test::BrokerProcess>(pki, enrolled);
    const auto broker_chain = (pki.dir() / "participants" / "exchange.broker" / kChainFile).string();
    const auto observer = pki.dir() / "profiles" / "cso.sahel-watch";
    auto observer_init =
        fpx({"profile", "init", "--dir", observer.string(), "--identity",
             (pki.dir() / "participants" / "cso.sahel-watch").string(), "--observer-endpoint",
             broker->observers_endpoint(), "--broker-cert", broker_chain, "--root-ca", pki.root_pem().string(),
             "--crl-dir", pki.crl_dir().string()});
    INFO(observer_init.err);
    REQUIRE(observer_init.exit_code == 0);
    profiles["cso.sahel-watch"] = observer;
    std::vector<std::string> participants = kParticipants;
    participants.push_back("cso.sahel-watch.sn");
    for (const auto& id : participants) {
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

  Run fpx(const std::vector<std::string>& args) { return fpx_in_environment(pki.dir(), {}, args); }

  Run as(const std::string& id, std::vector<std::string> args) {
    args.insert(args.begin(), {"--profile", profiles.at(id).string()});
    return fpx(args);
  }

  // `fpx inbox` until a message was saved.
  void receive(const std::string& id) {
    for (int attempt = 0; attempt < 10; ++attempt) {
      auto run = as(id, {"inbox", "--json", "--wait", "1"});
      REQUIRE(run.exit_code == 0);
      if (!run.out.empty()) return;
    }
    FAIL("no message reached " << id);
  }

  test::TestPki pki;
  std::unique_ptr<test::BrokerProcess> broker;
  std::map<std::string, fs::path> profiles;
};

}  // namespace

TEST_CASE("fpx --help describes the commands and options in French with --lang fr and keeps the option names") {
  test::TestPki pki({"SN"});
  auto french = fpx_in_environment(pki.dir(), {}, {"--lang", "fr", "--help"});
  INFO(french.out << french.err);
  CHECK(french.exit_code == 0);
  CHECK(contains(french.out, "demandes de traçage : envoyer, accuser réception, répondre, suivre"));
  CHECK(contains(french.out, "répertoire du profil contenant fpx.toml"));
  CHECK(contains(french.out, "Afficher cette aide et quitter"));
  CHECK(contains(french.out, "--profile"));  // option names are an interface: English
  CHECK_FALSE(contains(french.out, "tracing requests: submit, acknowledge, respond, follow"));

  auto english = fpx_in_environment(pki.dir(), {}, {"--lang", "en", "--help"});
  CHECK(english.exit_code == 0);
  CHECK(contains(english.out, "tracing requests: submit, acknowledge, respond, follow"));
  CHECK_FALSE(contains(english.out, "demandes de traçage"));

  // A subcommand's help, --lang after the command, "--lang=fr" spelled with '=' (a command class's texts too).
  auto owed = fpx_in_environment(pki.dir(), {}, {"trace", "ack", "--help", "--lang=fr"});
  CHECK(owed.exit_code == 0);
  CHECK(contains(owed.out, "accuser réception d'une demande de traçage reçue"));
  CHECK(contains(owed.out, "valider et afficher, ne rien envoyer"));
  auto show = fpx_in_environment(pki.dir(), {}, {"--lang", "fr", "trace", "show", "--help"});
  CHECK(contains(show.out, "un dossier, lisible : la demande et tout son fil, codes en clair"));
}

TEST_CASE("fpx --help is in French under LANG=fr_FR.UTF-8 with no locale generated even when the profile cannot load") {
  test::TestPki pki({"SN"});
  auto french = fpx_in_environment(pki.dir(), {"LANG=fr_FR.UTF-8"},
                                   {"--profile", (pki.dir() / "no-such-profile").string(), "--help"});
  INFO(french.out << french.err);
  CHECK(french.exit_code == 0);
  CHECK(contains(french.out, "demandes de traçage : envoyer, accuser réception, répondre, suivre"));

  auto english = fpx_in_environment(pki.dir(), {"LANG=en_GB.UTF-8"}, {"--help"});
  CHECK(contains(english.out, "tracing requests: submit, acknowledge, respond, follow"));
  // --lang wins over the environment.
  auto chosen = fpx_in_environment(pki.dir(), {"LANG=fr_FR.UTF-8"}, {"--lang", "en", "--help"});
  CHECK(contains(chosen.out, "tracing requests: submit, acknowledge, respond, follow"));
}

TEST_CASE("fpx usage errors end with the next step in the reader's language") {
  test::TestPki pki({"SN"});
  auto french = fpx_in_environment(pki.dir(), {}, {"--lang", "fr", "inbox", "--no-such-option"});
  CHECK(french.exit_code == 2);
  CHECK(contains(french.err, "à faire : lancez `fpx --help` (ou `fpx COMMANDE --help`)"));
  auto english = fpx_in_environment(pki.dir(), {}, {"--lang", "en", "inbox", "--no-such-option"});
  CHECK(english.exit_code == 2);
  CHECK(contains(english.err, "next: run `fpx --help` (or `fpx COMMAND --help`)"));
  // A language without a catalogue is refused, whichever command it comes with.
  auto german = fpx_in_environment(pki.dir(), {"LANG=fr_FR.UTF-8"}, {"--lang", "de", "keys", "new", "--id", "sn.x",
                                                                     "--country", "SN", "--role", "agency", "--out",
                                                                     (pki.dir() / "never-made").string()});
  CHECK(german.exit_code == 2);
  CHECK(contains(german.err, "--lang 'de' is not available"));
  CHECK(contains(german.err, "à faire : indiquez --lang fr ou --lang en"));
  CHECK_FALSE(fs::exists(pki.dir() / "never-made"));
}

TEST_CASE("fpx trace submit ack respond inbox and outbox print their lines in French and in English") {
  Exchange exchange;
  const auto request = kExamples / "tracing-request.json";

  // trace submit: a dry run in French, the real send in English.
  auto dry = exchange.as("sn.police-judiciaire", {"--lang", "fr", "trace", "submit", request.string(), "--dry-run"});
  INFO(dry.out << dry.err);
  REQUIRE(dry.exit_code == 0);
  CHECK(contains(dry.out, "essai à blanc : " + request.string() + " est un message"));
  CHECK(contains(dry.out, "complétude des identifiants :"));
  CHECK(contains(dry.out, "rien n'a été envoyé"));
  auto sent = exchange.as("sn.police-judiciaire", {"--lang", "en", "trace", "submit", request.string()});
  INFO(sent.out << sent.err);
  REQUIRE(sent.exit_code == 0);
  CHECK(contains(sent.out, "accepted: the broker stored it durably and signed a receipt"));
  CHECK(contains(sent.out, "next: follow it with `fpx trace status "));

  // inbox: the request arrives at Niger; an empty inbox in both languages afterwards.
  exchange.receive("ne.focal-point");
  auto empty_french = exchange.as("ne.focal-point", {"--lang", "fr", "inbox", "--wait", "0"});
  CHECK(empty_french.exit_code == 0);
  CHECK(contains(empty_french.out, "aucun nouveau message (messages enregistrés : fpx inbox --all)"));
  auto empty_english = exchange.as("ne.focal-point", {"--lang", "en", "inbox", "--wait", "0"});
  CHECK(contains(empty_english.out, "no new messages (saved ones: fpx inbox --all)"));
  auto all_french = exchange.as("ne.focal-point", {"--lang", "fr", "inbox", "--all", "--wait", "0"});
  CHECK(contains(all_french.out, "RÉFÉRENCE DU DOSSIER"));

  // ack in French, respond in English (the focal point of Niger answers).
  auto listed = exchange.as("ne.focal-point", {"--json", "inbox", "--all", "--wait", "0"});
  const auto id = json_field(listed.out, "messageId");
  REQUIRE(id.size() == 32);
  auto ack = exchange.as("ne.focal-point", {"--lang", "fr", "trace", "ack", id});
  INFO(ack.out << ack.err);
  REQUIRE(ack.exit_code == 0);
  CHECK(contains(ack.out, "accepté : le broker l'a enregistré durablement et a signé un reçu"));
  CHECK(contains(ack.out, "à faire : suivez-le avec `fpx trace status "));
  auto ack_dry = exchange.as("ne.focal-point", {"--lang", "fr", "trace", "ack", id, "--dry-run"});
  CHECK(contains(ack_dry.out, "essai à blanc : l'accusé de réception construit à partir des options est un message"));
  auto respond = exchange.as("ne.focal-point", {"--lang", "en", "trace", "respond", id, "--outcome", "no-record"});
  INFO(respond.out << respond.err);
  REQUIRE(respond.exit_code == 0);
  CHECK(contains(respond.out, "accepted: the broker stored it durably and signed a receipt"));
  auto respond_dry = exchange.as("ne.focal-point", {"--lang", "fr", "trace", "respond", id, "--outcome", "no-record",
                                                     "--dry-run"});
  CHECK(contains(respond_dry.out, "essai à blanc : la réponse construite à partir des options est un message"));

  // outbox: nothing waits, said in both languages.
  auto outbox_french = exchange.as("sn.police-judiciaire", {"--lang", "fr", "outbox"});
  CHECK(outbox_french.exit_code == 0);
  CHECK(contains(outbox_french.out, "boîte d'envoi vide : chaque message envoyé a un reçu"));
  auto outbox_english = exchange.as("sn.police-judiciaire", {"--lang", "en", "outbox"});
  CHECK(contains(outbox_english.out, "outbox empty: every message you sent has a receipt"));
}

TEST_CASE("fpx errors say what to do next in French and the error code stays as it is") {
  Exchange exchange;
  auto french = exchange.as("ne.focal-point", {"--lang", "fr", "inbox", "--wait", "5000"});
  CHECK(french.exit_code == 2);
  CHECK(contains(french.err, "invalid_argument"));  // the code scripts match, untranslated
  CHECK(contains(french.err, "à faire : indiquez pour --wait un nombre de secondes de 0 à 3600"));
  // What the code means comes first, in French; English has the code line only.
  CHECK(contains(french.err, "fpx : un argument n'est pas valide\nfpx: invalid_argument: "));
  auto english = exchange.as("ne.focal-point", {"--lang", "en", "inbox", "--wait", "5000"});
  CHECK(contains(english.err, "next: give --wait a number of seconds from 0 to 3600"));
  CHECK_FALSE(contains(english.err, "fpx : "));

  // A tracing request in a file that does not exist: the next step names the file, in French.
  const auto missing = (exchange.pki.dir() / "absent.json").string();
  auto absent = exchange.as("sn.police-judiciaire", {"--lang", "fr", "trace", "submit", missing});
  CHECK(absent.exit_code != 0);
  CHECK(contains(absent.err, "à faire : corrigez " + missing + " (voir deploy/examples/)"));
  auto absent_english = exchange.as("sn.police-judiciaire", {"--lang", "en", "trace", "submit", missing});
  CHECK(contains(absent_english.err, "next: fix " + missing + " (see deploy/examples/)"));

  // A hand-written message with a misspelt field: the field error in French, its path as written.
  const auto typo = exchange.pki.dir() / "typo.json";
  std::ofstream(typo) << R"({"body": {"tracingRequest": {"firearms": [{"serialNumbr": "AK-1"}]}}})";
  auto misspelt = exchange.as("sn.police-judiciaire", {"--lang", "fr", "trace", "submit", typo.string()});
  CHECK(misspelt.exit_code == 2);
  CHECK(contains(misspelt.err, typo.string() + " : le JSON du message a des champs que le schéma ne connaît pas"));
  CHECK(contains(misspelt.err, "body.tracingRequest.firearms[0].serialNumbr: n'est pas un champ de"));
  auto misspelt_english = exchange.as("sn.police-judiciaire", {"--lang", "en", "trace", "submit", typo.string()});
  CHECK(contains(misspelt_english.err, "serialNumbr: is not a field of"));

  // --json keeps its keys: the next step is a translated value, the code is not.
  auto json = exchange.as("ne.focal-point", {"--json", "--lang", "fr", "inbox", "--wait", "5000"});
  CHECK(contains(json.out, "\"ok\":false"));
  CHECK(contains(json.out, "indiquez pour --wait"));
}

TEST_CASE("fpx verify keys profile witness and the cso commands speak French and English") {
  Exchange exchange;
  const auto request = kExamples / "tracing-request.json";
  auto sent = exchange.as("sn.police-judiciaire", {"--json", "trace", "submit", request.string()});
  REQUIRE(sent.exit_code == 0);
  const auto id = json_field(sent.out, "messageId");
  REQUIRE(id.size() == 32);
  const auto saved = exchange.profiles.at("sn.police-judiciaire") / "sent" / (id + ".fpx");

  // verify: the signature line and the revocation line.
  auto verify_french = exchange.as("sn.police-judiciaire", {"--lang", "fr", "verify", saved.string()});
  INFO(verify_french.out << verify_french.err);
  CHECK(verify_french.exit_code == 0);
  CHECK(contains(verify_french.out, saved.string() + " : signature valide"));
  CHECK(contains(verify_french.out, "révocation : vérifiée contre les CRL de"));
  auto verify_english = exchange.as("sn.police-judiciaire", {"--lang", "en", "verify", saved.string()});
  CHECK(contains(verify_english.out, saved.string() + ": valid signature"));
  CHECK(contains(verify_english.out, "revocation: checked against CRLs in"));

  // profile show: its labels.
  auto show_french = exchange.as("ne.focal-point", {"--lang", "fr", "profile", "show"});
  CHECK(show_french.exit_code == 0);
  CHECK(contains(show_french.out, "boîte de réception:"));
  CHECK(contains(show_french.out, "AC racine:"));
  auto show_english = exchange.as("ne.focal-point", {"--lang", "en", "profile", "show"});
  CHECK(contains(show_english.out, "root CA:"));

  // keys new: a refused role (the next step in French), then new keys.
  const auto keys_dir = exchange.pki.dir() / "new-keys";
  auto bad_role = exchange.fpx({"--lang", "fr", "keys", "new", "--id", "sn.douanes", "--country", "SN", "--role",
                                "douane", "--out", keys_dir.string()});
  CHECK(bad_role.exit_code == 2);
  CHECK(contains(bad_role.err, "rôle inconnu « douane »"));
  CHECK(contains(bad_role.err, "à faire : utilisez focal-point, agency, observer, broker ou cso"));
  auto made = exchange.fpx({"--lang", "fr", "keys", "new", "--id", "sn.douanes", "--country", "SN", "--role", "agency",
                            "--out", keys_dir.string()});
  INFO(made.err);
  CHECK(made.exit_code == 0);
  CHECK(contains(made.out, "clés de sn.douanes (agency, SN) créées dans " + keys_dir.string()));
  CHECK(contains(made.out, "à faire : remettez " + (keys_dir / "request.csr").string() + " à votre AC"));
  auto again = exchange.fpx({"--lang", "en", "keys", "new", "--id", "sn.douanes", "--country", "SN", "--role", "agency",
                             "--out", keys_dir.string()});
  CHECK(again.exit_code == 2);
  CHECK(contains(again.err, "next: choose a new --out directory: keys are never overwritten"));

  // witness init: what was made, and what to do with its key.
  const auto witness_dir = exchange.pki.dir() / "witness";
  auto witness = exchange.fpx({"--lang", "fr", "witness", "init", witness_dir.string(), "--name", "witness.example/w1"});
  INFO(witness.err);
  CHECK(witness.exit_code == 0);
  CHECK(contains(witness.out, "témoin witness.example/w1 créé dans " + witness_dir.string()));
  auto witness_again =
      exchange.fpx({"--lang", "en", "witness", "init", witness_dir.string(), "--name", "witness.example/w1"});
  CHECK(witness_again.exit_code == 2);
  CHECK(contains(witness_again.err, "exists: a witness keeps its key; choose a new directory"));

  // warn needs a cso certificate: a focal point is told so, in its language.
  auto warn = exchange.as("ne.focal-point", {"--lang", "fr", "warn", "--threat", "armes proposées au marché"});
  CHECK(warn.exit_code == 2);
  CHECK(contains(warn.err, "ne.focal-point a le rôle focal-point ; `fpx warn` demande un certificat cso"));
  auto warn_english = exchange.as("ne.focal-point", {"--lang", "en", "warn", "--threat", "pistols at the market"});
  CHECK(contains(warn_english.err, "ne.focal-point is of role focal-point; `fpx warn` needs a cso certificate"));

  // A message id that is not one, and one that is not saved.
  auto not_an_id = exchange.as("ne.focal-point", {"--lang", "fr", "trace", "ack", "zz-top"});
  CHECK(not_an_id.exit_code == 2);
  CHECK(contains(not_an_id.err, "« zz-top » n'est pas un identifiant de message"));
  auto unknown = exchange.as("ne.focal-point", {"--lang", "en", "trace", "ack", "abcdef"});
  CHECK(contains(unknown.err, "no saved message id begins or ends with abcdef: run `fpx inbox`"));
}

TEST_CASE("fpx warn observe and log verify speak French and English to civil society") {
  Exchange exchange;
  auto warn = exchange.as("cso.sahel-watch.sn", {"--lang", "fr", "warn", "--threat", "pistolets proposés au marché",
                                                 "--location", "Tambacounda"});
  INFO(warn.out << warn.err);
  REQUIRE(warn.exit_code == 0);
  CHECK(contains(warn.out, "accepté : le broker l'a enregistré durablement et a signé un reçu"));
  auto warn_dry = exchange.as("cso.sahel-watch.sn", {"--lang", "en", "warn", "--threat", "pistols at the market",
                                                     "--dry-run"});
  CHECK(contains(warn_dry.out, "dry run: the early warning built from the options is a valid"));
  auto bad_date = exchange.as("cso.sahel-watch.sn", {"--lang", "fr", "warn", "--threat", "x", "--observed-on",
                                                     "hier"});
  CHECK(bad_date.exit_code == 2);
  CHECK(contains(bad_date.err, "--observed-on « hier » n'est pas une date : écrivez AAAA-MM-JJ"));

  // The public feed: what came, in both languages (the first checkpoint record comes within a second).
  Run observed;
  for (int attempt = 0; attempt < 20; ++attempt) {
    observed = exchange.as("cso.sahel-watch", {"--lang", "fr", "observe"});
    REQUIRE(observed.exit_code == 0);
    CHECK(contains(observed.out, " ; suivant : "));
    if (contains(observed.out, "enregistrement(s) vérifié(s) ; suivant : ")) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  INFO(observed.out << observed.err);
  CHECK(contains(observed.out, "enregistrement(s) vérifié(s) ; suivant : "));
  CHECK(contains(observed.out, "RÉSUMÉ"));
  auto english = exchange.as("cso.sahel-watch", {"--lang", "en", "observe"});
  CHECK(english.exit_code == 0);
  CHECK(contains(english.out, "; next is "));  // "no new records; next is N" or "K record(s) verified; next is N"

  // log verify: once a checkpoint covers the saved records (the broker signs one every half second).
  Run verified;
  for (int attempt = 0; attempt < 20; ++attempt) {
    verified = exchange.as("cso.sahel-watch", {"--lang", "fr", "log", "verify"});
    if (verified.exit_code == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  INFO(verified.out << verified.err);
  REQUIRE(verified.exit_code == 0);
  CHECK(contains(verified.out, "point de contrôle : fpx.exchange/log, taille de l'arbre"));
  CHECK(contains(verified.out, "journal vérifié ; point de contrôle de taille"));
  auto english_verified = exchange.as("cso.sahel-watch", {"--lang", "en", "log", "verify"});
  CHECK(contains(english_verified.out, "log verified; checkpoint at tree size"));
}
