// The desk's bulk import page (issue 17) over HTTP (cpp-httplib's client)
// against a real broker: a CSV of seized firearms uploaded as a multipart
// form, checked line by line as `fpx trace import` checks it, and only the
// lines that pass sent; the page's CSRF check, a file that cannot be parsed,
// and the page in French.
#include <httplib.h>

#include <string>

#include <catch2/catch.hpp>

#include "desk_exchange.hpp"
#include "desk_process.hpp"

using namespace fpx;
using fpx::test::DeskExchange;
using fpx::test::DeskProcess;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// One desk's browser session: its cookie and the CSRF token of its forms.
struct Browser {
  explicit Browser(const DeskProcess& desk) : http("127.0.0.1", desk.port()) {
    http.set_read_timeout(60, 0);
    auto login = http.Get(("/login?token=" + desk.token()).c_str());
    REQUIRE(login);
    REQUIRE(login->status == 303);
    const auto set_cookie = login->get_header_value("Set-Cookie");
    cookie = set_cookie.substr(0, set_cookie.find(';'));
    auto page = http.Get("/import", headers());
    REQUIRE(page);
    REQUIRE(page->status == 200);
    const std::string marker = "name=\"csrf\" value=\"";
    const auto at = page->body.find(marker);
    REQUIRE(at != std::string::npos);
    csrf = page->body.substr(at + marker.size(), 64);
  }

  httplib::Headers headers() const { return {{"Cookie", cookie}}; }

  httplib::Result upload(const std::string& csv, const std::string& action, const std::string& token) {
    httplib::MultipartFormDataItems items{{"csv", csv, "seized.csv", "text/csv"}, {"action", action, "", ""}};
    if (!token.empty()) items.push_back({"csrf", token, "", ""});
    return http.Post("/import", headers(), items);
  }

  httplib::Client http;
  std::string cookie;
  std::string csrf;
};

const std::string kHeader =
    "serial_number,manufacturer,model,type,calibre,country_of_manufacture,recovery_date,administrative_area,"
    "circumstance,requested_states,case_reference,illicit_basis,legal_justification,intended_use,information_sought\n";

std::string line(const std::string& serial, const std::string& date = "2026-11-02") {
  return serial + ",Manufacture d'armes de Ouagadougou,MAO-47,rifle-carbine,7.62x39mm,BF," + date +
         ",Ziguinchor,seized,NE:country-of-last-import,SN-ZIG-2026-0300,illicit-under-national-law,"
         "\"Code penal du Senegal, art. 92\",criminal investigation,chain-of-custody\n";
}

}  // namespace

TEST_CASE("the desk's import page checks every line of an uploaded CSV and sends only the lines that pass") {
  DeskExchange exchange;
  DeskProcess desk(exchange.profiles.at("sn.police-judiciaire"), exchange.pki.dir(), {"--lang", "en"});
  Browser browser(desk);
  const std::string csv = kHeader + line("AK-5001-ZG") + line("AK-5002-ZG", "2026-13-45") + line("AK-5003-ZG");

  auto checked = browser.upload(csv, "check", browser.csrf);
  REQUIRE(checked);
  INFO(checked->body);
  CHECK(checked->status == 422);  // a line is left to fix
  CHECK(contains(checked->body, "3 line(s) checked: 2 ready, 1 to fix."));
  CHECK(contains(checked->body, "column recovery_date:"));
  CHECK(contains(checked->body, "Nothing was sent"));
  CHECK(exchange.broker->audit_count("persist", "accepted") == 0);

  auto sent = browser.upload(csv, "send", browser.csrf);
  REQUIRE(sent);
  INFO(sent->body);
  CHECK(contains(sent->body, "2 request(s) sent."));
  CHECK(contains(sent->body, "Sent: <a href=\"/case/"));
  CHECK(exchange.broker->audit_count("persist", "accepted") == 2);

  // Uploaded again, the two lines now repeat the open requests just sent.
  auto again = browser.upload(csv, "send", browser.csrf);
  REQUIRE(again);
  CHECK(contains(again->body, "repeats the open request"));
  CHECK(contains(again->body, "0 request(s) sent."));
  CHECK(exchange.broker->audit_count("persist", "accepted") == 2);
}

TEST_CASE("the desk's import page refuses an upload without the CSRF token and sends nothing from a file that cannot "
          "be parsed") {
  DeskExchange exchange;
  DeskProcess desk(exchange.profiles.at("sn.police-judiciaire"), exchange.pki.dir(), {"--lang", "en"});
  Browser browser(desk);
  const std::string good = kHeader + line("AK-6001-ZG");
  SECTION("no token") { CHECK(browser.upload(good, "send", "")->status == 403); }
  SECTION("a wrong token") { CHECK(browser.upload(good, "send", std::string(64, 'a'))->status == 403); }
  SECTION("a broken quote on the last line refuses the whole file") {
    auto refused = browser.upload(good + "AK-6002-ZG,Manufacture \"MAO\" de Ouagadougou,MAO-47\n", "send", browser.csrf);
    REQUIRE(refused);
    INFO(refused->body);
    CHECK(refused->status == 422);
    CHECK(contains(refused->body, "Nothing was sent."));
    CHECK(contains(refused->body, "line 3"));
  }
  SECTION("a file over the desk's body limit") {
    std::string big = kHeader;
    for (int i = 0; big.size() <= 16 * 1024; ++i) big += line("AK-7" + std::to_string(1000 + i) + "-ZG");
    auto refused = browser.upload(big, "send", browser.csrf);
    REQUIRE(refused);
    CHECK(refused->status == 413);
  }
  CHECK(exchange.broker->audit_count("persist", "accepted") == 0);
}

TEST_CASE("the desk's import page lists the columns in French with --lang fr") {
  DeskExchange exchange;
  DeskProcess desk(exchange.profiles.at("sn.police-judiciaire"), exchange.pki.dir(), {"--lang", "fr"});
  Browser browser(desk);
  auto page = browser.http.Get("/import", browser.headers());
  REQUIRE(page);
  CHECK(contains(page->body, "Importer des armes à feu saisies (CSV)"));
  CHECK(contains(page->body, "le numéro de série tel que marqué"));
  CHECK(contains(page->body, "<code>serial_number</code>"));
  auto checked = browser.upload(kHeader + line("AK-8001-ZG", "2026-13-45"), "check", browser.csrf);
  REQUIRE(checked);
  CHECK(contains(checked->body, "1 ligne(s) vérifiée(s) : 0 prête(s), 1 à corriger."));
  CHECK(contains(checked->body, "colonne recovery_date :"));
}
