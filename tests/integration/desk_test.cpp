// fpx desk over HTTP (cpp-httplib's client) against a real broker: the
// guards every request meets (token, Host, CSRF, limits, paths), the
// languages, and a case filed, acknowledged, answered and closed through the
// desks' forms. The same flow in a real browser: tests/browser/.
#include <httplib.h>

#include <chrono>
#include <thread>

#include <catch2/catch.hpp>

#include "desk_exchange.hpp"
#include "desk_process.hpp"

using namespace fpx;
using fpx::test::DeskExchange;
using fpx::test::DeskProcess;

namespace {

// A browser's view of one desk: the session cookie from the login URL and
// the CSRF token of its forms.
struct Browser {
  explicit Browser(const DeskProcess& desk) : port(desk.port()), http("127.0.0.1", desk.port()) {
    http.set_read_timeout(60, 0);
  }

  httplib::Headers headers() const { return cookie.empty() ? httplib::Headers{} : httplib::Headers{{"Cookie", cookie}}; }

  void log_in(const DeskProcess& desk) {
    auto response = http.Get(("/login?token=" + desk.token()).c_str());
    REQUIRE(response);
    REQUIRE(response->status == 303);
    const auto set_cookie = response->get_header_value("Set-Cookie");
    CHECK(set_cookie.find("HttpOnly") != std::string::npos);
    CHECK(set_cookie.find("SameSite=Strict") != std::string::npos);
    cookie = set_cookie.substr(0, set_cookie.find(';'));
    auto page = get("/new");
    REQUIRE(page->status == 200);
    const std::string marker = "name=\"csrf\" value=\"";
    const auto at = page->body.find(marker);
    REQUIRE(at != std::string::npos);
    csrf = page->body.substr(at + marker.size(), 64);
  }

  httplib::Result get(const std::string& path) { return http.Get(path.c_str(), headers()); }

  httplib::Result post(const std::string& path, httplib::Params params, bool with_csrf = true) {
    if (with_csrf) params.emplace("csrf", csrf);
    return http.Post(path.c_str(), headers(), params);
  }

  int port;
  httplib::Client http;
  std::string cookie;
  std::string csrf;
};

httplib::Params request_form(const std::string& case_reference) {
  return {{"header.caseReference", case_reference},
          {"header.priority", "routine"},
          {"header.classification", "restricted"},
          {"header.handlingCodes", "h0CrimeFightingOnly"},
          {"requestedStates[0].country", "NE"},
          {"requestedStates[0].role", "countryOfLastImport"},
          {"firearms[0].serialNumber", "AK-4711-ZG"},
          {"firearms[0].serialState", "intact"},
          {"firearms[0].manufacturer", "Manufacture d'armes de Ouagadougou"},
          {"firearms[0].countryOfManufacture", "BF"},
          {"firearms[0].model", "MAO-47"},
          {"firearms[0].type", "rifleCarbine"},
          {"firearms[0].calibre", "7.62x39mm"},
          {"illicitBasis", "illicitUnderNationalLaw"},
          {"legalJustification", "Code penal du Senegal, art. 92"},
          {"recovery.date", "2026-11-02"},
          {"recovery.administrativeArea", "Ziguinchor"},
          {"recovery.circumstance", "seized"},
          {"intendedUse", "criminal investigation and prosecution"},
          {"informationSought", "chainOfCustody"}};
}

// Polls `path` until its body holds `text` (a delivery reaches the desk
// through the broker in well under a second; 30 s bounds a loaded machine).
bool eventually_shows(Browser& browser, const std::string& path, const std::string& text) {
  for (int attempt = 0; attempt < 150; ++attempt) {
    auto page = browser.get(path);
    if (page && page->body.find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return false;
}

std::string case_path_of(const httplib::Result& redirect) {
  const auto location = redirect->get_header_value("Location");
  return location.substr(0, location.find('?'));
}

}  // namespace

TEST_CASE("the desk answers 401 to a request without its token") {
  DeskExchange exchange;
  DeskProcess desk(exchange.profiles.at("sn.police-judiciaire"), exchange.pki.dir(), {"--lang", "en"});
  Browser browser(desk);
  for (const std::string path : {"/", "/new", "/events", "/static/desk.js", "/completeness"}) {
    auto response = browser.get(path);
    REQUIRE(response);
    INFO(path);
    CHECK(response->status == 401);
    CHECK(response->body.find("fpx desk printed") != std::string::npos);
  }
  auto wrong = browser.get("/login?token=" + std::string(64, '0'));
  CHECK(wrong->status == 401);
  CHECK(wrong->get_header_value("Set-Cookie").empty());
  browser.cookie = "fpx_desk_" + std::to_string(desk.port()) + "=" + desk.token();  // the token is not a session
  CHECK(browser.get("/")->status == 401);
  auto post = browser.post("/new", request_form("SN-NOTOKEN-1"), false);
  CHECK(post->status == 401);
}

TEST_CASE("the desk answers 403 to a cross-site form post without the CSRF token") {
  DeskExchange exchange;
  DeskProcess desk(exchange.profiles.at("sn.police-judiciaire"), exchange.pki.dir(), {"--lang", "en"});
  Browser browser(desk);
  browser.log_in(desk);
  SECTION("no token") { CHECK(browser.post("/new", request_form("SN-CSRF-1"), false)->status == 403); }
  SECTION("a wrong token") {
    auto form = request_form("SN-CSRF-2");
    form.emplace("csrf", std::string(64, 'a'));
    CHECK(browser.post("/new", form, false)->status == 403);
  }
  SECTION("the right token from another site's page") {
    httplib::Headers headers = browser.headers();
    headers.emplace("Origin", "http://attacker.example");
    auto form = request_form("SN-CSRF-3");
    form.emplace("csrf", browser.csrf);
    CHECK(browser.http.Post("/new", headers, form)->status == 403);
    httplib::Headers opaque = browser.headers();
    opaque.emplace("Origin", "null");  // a sandboxed frame or a data: page
    CHECK(browser.http.Post("/new", opaque, form)->status == 403);
    httplib::Headers fetch_site = browser.headers();
    fetch_site.emplace("Sec-Fetch-Site", "cross-site");
    CHECK(browser.http.Post("/new", fetch_site, form)->status == 403);
  }
  // Nothing reached the broker.
  CHECK(exchange.broker->audit_count("persist", "accepted") == 0);
}

TEST_CASE("the desk answers 421 to a request with another Host header") {
  DeskExchange exchange;
  DeskProcess desk(exchange.profiles.at("sn.police-judiciaire"), exchange.pki.dir(), {"--lang", "en"});
  Browser browser(desk);
  browser.log_in(desk);
  for (const std::string& host : std::vector<std::string>{"attacker.example", "attacker.example:" + std::to_string(desk.port()), "127.0.0.1",
                                 "127.0.0.1:1", "localhost.attacker.example:" + std::to_string(desk.port())}) {
    httplib::Headers headers = browser.headers();
    headers.emplace("Host", host);
    auto response = browser.http.Get("/", headers);
    REQUIRE(response);
    INFO(host);
    CHECK(response->status == 421);
  }
  httplib::Headers localhost = browser.headers();
  localhost.emplace("Host", "localhost:" + std::to_string(desk.port()));
  CHECK(browser.http.Get("/", localhost)->status == 200);
}

TEST_CASE("the desk answers 404 to a path outside its pages and never serves a profile file") {
  DeskExchange exchange;
  DeskProcess desk(exchange.profiles.at("sn.police-judiciaire"), exchange.pki.dir(), {"--lang", "en"});
  Browser browser(desk);
  browser.log_in(desk);
  for (const std::string& path : std::vector<std::string>{"/fpx.toml", "/../fpx.toml", "/static/../fpx.toml", "/static/%2e%2e/fpx.toml",
                                 "/static/", "/inbox/", "/client.sqlite", "/case/../../fpx.toml",
                                 "/case/" + std::string(32, 'z'), "/etc/passwd"}) {
    auto response = browser.get(path);
    REQUIRE(response);
    INFO(path);
    CHECK((response->status == 404 || response->status == 400));
    CHECK(response->body.find("[broker]") == std::string::npos);
    CHECK(response->body.find("root:") == std::string::npos);
  }
}

TEST_CASE("the desk answers 413 to a body over its limit and keeps serving") {
  DeskExchange exchange;
  DeskProcess desk(exchange.profiles.at("sn.police-judiciaire"), exchange.pki.dir(), {"--lang", "en"});
  Browser browser(desk);
  browser.log_in(desk);
  auto form = request_form("SN-BIG-1");
  form.emplace("legalJustification", std::string(100 * 1024, 'x'));
  auto response = browser.post("/new", form);
  REQUIRE(response);
  CHECK(response->status == 413);
  CHECK(browser.get("/")->status == 200);
  CHECK(exchange.broker->audit_count("persist", "accepted") == 0);
}

TEST_CASE("every desk page carries a strict content security policy and refuses framing") {
  DeskExchange exchange;
  DeskProcess desk(exchange.profiles.at("sn.police-judiciaire"), exchange.pki.dir(), {"--lang", "en"});
  Browser browser(desk);
  browser.log_in(desk);
  for (const std::string path : {"/", "/new", "/nowhere"}) {
    auto response = browser.get(path);
    REQUIRE(response);
    INFO(path);
    const auto policy = response->get_header_value("Content-Security-Policy");
    CHECK(policy.find("script-src 'self'") != std::string::npos);
    CHECK(policy.find("default-src 'none'") != std::string::npos);
    CHECK(policy.find("unsafe-inline") == std::string::npos);
    CHECK(response->get_header_value("X-Frame-Options") == "DENY");
    CHECK(response->body.find("<script>") == std::string::npos);
  }
}

TEST_CASE("the desk speaks French from --lang or the environment with no locale generated") {
  DeskExchange exchange;
  SECTION("--lang fr") {
    DeskProcess desk(exchange.profiles.at("sn.police-judiciaire"), exchange.pki.dir(), {"--lang", "fr"});
    Browser browser(desk);
    browser.log_in(desk);
    auto page = browser.get("/new");
    CHECK(page->body.find("Nouvelle demande de traçage") != std::string::npos);
    CHECK(page->body.find("lang=\"fr\"") != std::string::npos);
    CHECK(browser.get("/")->body.find("Demandes en attente de notre réponse") != std::string::npos);
  }
  SECTION("LANG=fr_SN.UTF-8, a locale this machine has not generated") {
    DeskProcess desk(exchange.profiles.at("ne.focal-point"), exchange.pki.dir(), {}, {{"LANG", "fr_SN.UTF-8"}});
    Browser browser(desk);
    browser.log_in(desk);
    CHECK(browser.get("/")->body.find("point focal national") != std::string::npos);
  }
  SECTION("English without any language variable") {
    DeskProcess desk(exchange.profiles.at("ne.focal-point"), exchange.pki.dir(), {});
    Browser browser(desk);
    browser.log_in(desk);
    CHECK(browser.get("/")->body.find("What we owe") != std::string::npos);
  }
  SECTION("an unknown --lang is a usage error") {
    auto run = test::run_fpx(exchange.pki.dir(), {"--profile", exchange.profiles.at("ne.focal-point").string(), "desk",
                                                  "--lang", "de"});
    CHECK(run.exit_code == 2);
    CHECK(run.err.find("use fr or en") != std::string::npos);
  }
}

TEST_CASE("a form with a field the exchange refuses names the field and sends nothing") {
  DeskExchange exchange;
  DeskProcess desk(exchange.profiles.at("sn.police-judiciaire"), exchange.pki.dir(), {"--lang", "en"});
  Browser browser(desk);
  browser.log_in(desk);
  auto form = request_form("SN-BAD-1");
  form.erase("requestedStates[0].country");
  form.emplace("requestedStates[0].country", "XX");
  form.erase("recovery.date");
  form.emplace("recovery.date", "2026-13-45");
  auto response = browser.post("/new", form);
  REQUIRE(response);
  CHECK(response->status == 422);
  CHECK(response->body.find("Nothing was sent") != std::string::npos);
  CHECK(response->body.find("requestedStates[0].country") != std::string::npos);
  CHECK(response->body.find("aria-invalid=\"true\"") != std::string::npos);
  CHECK(exchange.broker->audit_count("persist", "accepted") == 0);
}

TEST_CASE("a case is filed acknowledged answered and closed through two desks") {
  DeskExchange exchange;
  DeskProcess agency(exchange.profiles.at("sn.police-judiciaire"), exchange.pki.dir(), {"--lang", "fr"});
  DeskProcess niger(exchange.profiles.at("ne.focal-point"), exchange.pki.dir(), {"--lang", "en"});
  Browser sn(agency);
  Browser ne(niger);
  sn.log_in(agency);
  ne.log_in(niger);

  auto filed = sn.post("/new", request_form("SN-DESK-0001"));
  REQUIRE(filed);
  INFO(filed->body);
  REQUIRE(filed->status == 303);
  const auto case_path = case_path_of(filed);
  REQUIRE(case_path.size() == std::string("/case/").size() + 32);
  // Saved in the agency's sent/ with the broker's receipt, as fpx trace submit does.
  const auto id = case_path.substr(6);
  CHECK(std::filesystem::exists(exchange.profiles.at("sn.police-judiciaire") / "sent" / (id + ".receipt")));

  // Niger's desk receives it live, saves it in inbox/ and lists it as owed.
  REQUIRE(eventually_shows(ne, "/", "SN-DESK-0001"));
  CHECK(std::filesystem::exists(exchange.profiles.at("ne.focal-point") / "inbox" / (id + ".fpx")));
  auto owed = ne.get("/");
  CHECK(owed->body.find("id=\"owed\"") < owed->body.find("SN-DESK-0001"));

  auto acknowledged = ne.post(case_path + "/ack", {{"status", "accepted"}, {"expectedResponseDate", "2026-12-20"}});
  INFO(acknowledged->body);
  REQUIRE(acknowledged->status == 303);
  auto answered = ne.post(case_path + "/respond", {{"kind", "final"},
                                                   {"outcome", "partialChain"},
                                                   {"chainOfCustody[0].role", "importer"},
                                                   {"chainOfCustody[0].entity", "Societe X"},
                                                   {"chainOfCustody[0].country", "NE"},
                                                   {"chainOfCustody[0].date", "2009-03-14"}});
  INFO(answered->body);
  REQUIRE(answered->status == 303);

  REQUIRE(eventually_shows(sn, case_path, "Chaîne de détention partielle"));
  auto seen = sn.get(case_path);
  CHECK(seen->body.find("Accusé de réception") != std::string::npos);
  CHECK(seen->body.find("Societe X") != std::string::npos);
  auto closed = sn.post(case_path + "/close", {{"reason", "answer received"}});
  INFO(closed->body);
  REQUIRE(closed->status == 303);
  CHECK(sn.get(case_path)->body.find("id=\"case-status\">clos<") != std::string::npos);
  REQUIRE(eventually_shows(ne, case_path, "id=\"case-status\">closed<"));
}

TEST_CASE("a second identical request on the desk shows the duplicate warning naming the open request and is sent "
          "only when the officer ticks send anyway") {
  DeskExchange exchange;
  DeskProcess agency(exchange.profiles.at("sn.police-judiciaire"), exchange.pki.dir(), {"--lang", "fr"});
  Browser sn(agency);
  sn.log_in(agency);
  auto first = sn.post("/new", request_form("SN-DUP-0001"));
  REQUIRE(first);
  REQUIRE(first->status == 303);
  const auto open_id = case_path_of(first).substr(6);

  // The same firearm, typed differently, to the same state.
  auto params = request_form("SN-DUP-0002");
  params.erase("firearms[0].serialNumber");
  params.emplace("firearms[0].serialNumber", "ak 4711 zg");
  auto second = sn.post("/new", params);
  REQUIRE(second);
  INFO(second->body);
  CHECK(second->status == 422);
  CHECK(second->body.find(open_id) != std::string::npos);
  CHECK(second->body.find("Même arme") != std::string::npos);
  CHECK(second->body.find("id=\"f-duplicate\" name=\"force\"") != std::string::npos);
  // Nothing was sent: only the first request is in sent/.
  std::size_t sent = 0;
  for (const auto& entry : std::filesystem::directory_iterator(exchange.profiles.at("sn.police-judiciaire") / "sent")) {
    sent += entry.path().extension() == ".fpx" ? 1 : 0;
  }
  CHECK(sent == 1);

  params.emplace("force", "1");
  auto forced = sn.post("/new", params);
  REQUIRE(forced);
  INFO(forced->body);
  CHECK(forced->status == 303);
  CHECK(case_path_of(forced).substr(6) != open_id);
}

TEST_CASE("the desk forwards a request supplies information withdraws a request and finds cases by search") {
  DeskExchange exchange;
  DeskProcess agency(exchange.profiles.at("sn.police-judiciaire"), exchange.pki.dir(), {"--lang", "en"});
  DeskProcess niger(exchange.profiles.at("ne.focal-point"), exchange.pki.dir(), {"--lang", "en"});
  DeskProcess burkina(exchange.profiles.at("bf.focal-point"), exchange.pki.dir(), {"--lang", "fr"});
  Browser sn(agency);
  Browser ne(niger);
  Browser bf(burkina);
  sn.log_in(agency);
  ne.log_in(niger);
  bf.log_in(burkina);

  auto filed = sn.post("/new", request_form("SN-STEP-0001"));
  REQUIRE(filed->status == 303);
  const auto case_path = case_path_of(filed);
  auto other_form = request_form("SN-STEP-0002");
  other_form.erase("firearms[0].serialNumber");
  other_form.emplace("firearms[0].serialNumber", "FN-123");
  auto other = sn.post("/new", other_form);
  REQUIRE(other->status == 303);
  const auto other_path = case_path_of(other);

  // Niger forwards the first to Burkina Faso (H0 only: forwarding is allowed).
  REQUIRE(eventually_shows(ne, case_path, "id=\"forward-form\""));
  auto own_state = ne.post(case_path + "/forward", {{"toCountry", "NE"}, {"reason", "x"}});
  CHECK(own_state->status == 422);
  CHECK(own_state->body.find("toCountry") != std::string::npos);
  auto forwarded = ne.post(case_path + "/forward", {{"toCountry", "BF"}, {"reason", "made in Ouagadougou"}});
  INFO(forwarded->body);
  REQUIRE(forwarded->status == 303);
  REQUIRE(eventually_shows(bf, case_path, "made in Ouagadougou"));
  CHECK(bf.get(case_path)->body.find("Transmise") != std::string::npos);

  // The agency supplies information on the first and withdraws the second.
  REQUIRE(eventually_shows(sn, case_path, "id=\"supply-form\""));
  auto bad = sn.post(case_path + "/supply", {{"fields", "no equals sign"}});
  CHECK(bad->status == 422);
  CHECK(bad->body.find("path=value") != std::string::npos);
  auto supplied = sn.post(case_path + "/supply", {{"fields", "firearms[0].calibre=7.62x39mm"}, {"note", "lab report"}});
  INFO(supplied->body);
  REQUIRE(supplied->status == 303);
  auto withdrawn = sn.post(other_path + "/withdraw", {{"reason", "traced through iARMS"}});
  INFO(withdrawn->body);
  REQUIRE(withdrawn->status == 303);
  REQUIRE(eventually_shows(ne, case_path, "firearms[0].calibre = 7.62x39mm"));
  REQUIRE(eventually_shows(ne, other_path, "id=\"case-status\">withdrawn<"));

  // Search: serial (spelling ignored), status, nothing found.
  auto by_serial = sn.get("/search?serial=fn123");
  CHECK(by_serial->body.find(other_path) != std::string::npos);
  CHECK(by_serial->body.find(case_path + "\"") == std::string::npos);
  auto by_status = sn.get("/search?status=withdrawn");
  CHECK(by_status->body.find(other_path) != std::string::npos);
  auto by_reference = sn.get("/search?caseReference=step-0001&state=NE");
  CHECK(by_reference->body.find(case_path) != std::string::npos);
  auto none = sn.get("/search?serial=nothing-like-it");
  CHECK(none->body.find("id=\"search-none\"") != std::string::npos);
  CHECK(sn.get("/search")->body.find("id=\"search-form\"") != std::string::npos);
}

TEST_CASE("a focal point issues an alert on the desk another state views it and the issuer cancels it") {
  DeskExchange exchange;
  DeskProcess burkina(exchange.profiles.at("bf.focal-point"), exchange.pki.dir(), {"--lang", "en"});
  DeskProcess niger(exchange.profiles.at("ne.focal-point"), exchange.pki.dir(), {"--lang", "fr"});
  Browser bf(burkina);
  Browser ne(niger);
  bf.log_in(burkina);
  ne.log_in(niger);

  CHECK(bf.get("/alerts/new")->body.find("id=\"alert-form\"") != std::string::npos);
  httplib::Params alert = {{"kind", "stolen"},
                           {"header.caseReference", "BF-OUA-2026-0077"},
                           {"header.priority", "routine"},
                           {"header.classification", "restricted"},
                           {"header.handlingCodes", "h0CrimeFightingOnly"},
                           {"recipientCountry", "NE"},
                           {"firearms[0].serialNumber", "MAO-0711-1523"},
                           {"firearms[0].manufacturer", "Manufacture d'armes de Ouagadougou"},
                           {"firearms[0].type", "rifleCarbine"},
                           {"batch.description", "40 rifles stolen from a depot"},
                           {"batch.quantity", "40"},
                           {"place", "Dori"},
                           {"occurredOn", "2026-11-10"},
                           {"validUntil", "2027-11-10"},
                           {"summary", "state-stock rifles stolen"},
                           {"publishable", "1"},
                           {"publicSummary", "Forty state-stock rifles stolen from a depot in the Sahel"}};
  auto bad = alert;
  bad.erase("batch.quantity");
  bad.emplace("batch.quantity", "forty");
  auto refused = bf.post("/alerts/new", bad);
  CHECK(refused->status == 422);
  CHECK(refused->body.find("batch.quantity") != std::string::npos);

  auto sent = bf.post("/alerts/new", alert);
  INFO(sent->body);
  REQUIRE(sent->status == 303);
  const auto location = sent->get_header_value("Location");
  const auto alert_path = location.substr(0, location.find('?'));
  REQUIRE(alert_path.size() == std::string("/alert/").size() + 32);

  // Niger sees it in its inbox, linked, and reads it in French.
  REQUIRE(eventually_shows(ne, "/", alert_path));
  auto seen = ne.get(alert_path);
  CHECK(seen->body.find("Volée") != std::string::npos);
  CHECK(seen->body.find("MAO-0711-1523") != std::string::npos);
  CHECK(seen->body.find("Résumé public") != std::string::npos);
  CHECK(seen->body.find("Forty state-stock rifles stolen from a depot in the Sahel") != std::string::npos);
  // Only the state that raised it may cancel it: no form on Niger's page.
  CHECK(seen->body.find("id=\"cancel-form\"") == std::string::npos);

  auto cancelled = bf.post(alert_path + "/cancel", {{"summary", "the rifles were recovered"}});
  INFO(cancelled->body);
  REQUIRE(cancelled->status == 303);
  REQUIRE(eventually_shows(ne, alert_path, "id=\"alert-cancelled\""));
  CHECK(ne.get(alert_path)->body.find("the rifles were recovered") != std::string::npos);
  CHECK(ne.get("/alert/" + std::string(32, '0'))->status == 404);
}
