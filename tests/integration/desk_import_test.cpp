// The desk's bulk import page (issue 17) over HTTP (cpp-httplib's client)
// against a real broker: a CSV of seized firearms uploaded as a multipart
// form, checked line by line as `fpx trace import` checks it, and only the
// lines that pass sent; the page's CSRF check, a file that cannot be parsed,
// and the page in French. "desk import rows: ..." are the import page's
// rows of the hostile-input catalogue (README.md).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>

#include <array>
#include <string>

#include <catch2/catch.hpp>

#include "desk_exchange.hpp"
#include "desk_process.hpp"
#include "fpx/attachments.hpp"
#include "fpx/signed_note.hpp"

using namespace fpx;
using fpx::test::DeskExchange;
using fpx::test::DeskProcess;

namespace {

// The desk's limits (clients/desk/desk_import.hpp, desk_server.hpp; the
// desk's headers are the fpx program's, not a library this test links):
// a CSV of 1 MiB and 500 lines (1024 * 1024, kMaxImportLines) with
// 8 KiB for the form's other fields; the new-request form's files; any form.
// The import's body holds the CSV as base64 when the confirmation sends the
// checked file back (4 bytes for every 3: desk_import.hpp, kMaxImportBase64Bytes).
constexpr std::size_t kImportBodyLimit = (1024 * 1024 + 2) / 3 * 4 + 8 * 1024;
constexpr std::size_t kImportLineLimit = 500;
constexpr std::size_t kNewRequestBodyLimit = kMaxAttachmentBytesPerMessage + 64 * 1024;
constexpr std::size_t kFormBodyLimit = 8 * 1024;

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

// Issue 14, after review: the confirmation carried the checked file in a
// textarea, whose line breaks a browser submits as CRLF (and whose bytes
// that are not UTF-8 come back changed). It now carries the bytes as base64:
// what is sent is what was uploaded and checked, byte for byte.
TEST_CASE("desk import rows: the file sent from the confirmation is byte for byte the file checked whatever its line "
          "breaks") {
  DeskExchange exchange;
  DeskProcess desk(exchange.profiles.at("sn.police-judiciaire"), exchange.pki.dir(), {"--lang", "en"});
  Browser browser(desk);
  const auto crlf = [](std::string text) { return text.insert(text.size() - 1, "\r"); };
  // LF, CRLF and a line to fix (line 3), in one file, as spreadsheets and
  // hand edits mix them; then 300 more lines to fix, so that the file is
  // larger than one call of the base64 codec takes (a signed note's 64 KiB).
  std::string csv = kHeader + crlf(line("AK-7001-ZG")) + line("AK-7002-ZG", "2026-13-45") + crlf(line("AK-7003-ZG"));
  for (int i = 0; i < 300; ++i) {
    const std::string bad = line("AK-8" + std::to_string(1000 + i) + "-ZG", "2026-13-45");
    csv += i % 2 == 0 ? crlf(bad) : bad;
  }
  REQUIRE(csv.size() / 3 * 4 > kMaxSignedNoteBytes);
  auto checked = browser.upload(csv, "check", browser.csrf);
  REQUIRE(checked);
  INFO(checked->body.substr(0, 4000));
  CHECK(contains(checked->body, "303 line(s) checked: 2 ready, 301 to fix."));
  CHECK(contains(checked->body, "<tr class=\"invalid\" id=\"line-3\" data-line=\"3\">"));
  const std::string marker = "name=\"checked_csv_base64\" value=\"";
  const auto at = checked->body.find(marker);
  REQUIRE(at != std::string::npos);
  const auto end = checked->body.find('"', at + marker.size());
  const std::string carried = checked->body.substr(at + marker.size(), end - at - marker.size());
  // Decoded here in whole groups of 4 (each call of the codec takes at most 64 KiB).
  REQUIRE(carried.size() % 4 == 0);
  std::string decoded;
  for (std::size_t at = 0; at < carried.size(); at += 4096) {
    auto piece = note_base64_decode(std::string_view(carried).substr(at, 4096));
    REQUIRE(piece.has_value());
    decoded.append(piece->begin(), piece->end());
  }
  CHECK(decoded == csv);
  // No textarea carries the file any more.
  CHECK_FALSE(contains(checked->body, "<textarea name=\"csv\""));
  CHECK(exchange.broker->audit_count("persist", "accepted") == 0);

  SECTION("the confirmation sends the ready lines of exactly those bytes") {
    httplib::MultipartFormDataItems items{{"checked_csv_base64", carried, "", ""},
                                          {"action", "send", "", ""},
                                          {"csrf", browser.csrf, "", ""}};
    auto sent = browser.http.Post("/import", browser.headers(), items);
    REQUIRE(sent);
    INFO(sent->body.substr(0, 4000));
    CHECK(contains(sent->body, "2 request(s) sent."));
    CHECK(exchange.broker->audit_count("persist", "accepted") == 2);
  }
  SECTION("a damaged carried file sends nothing and says to check the file again") {
    httplib::MultipartFormDataItems items{{"checked_csv_base64", carried.substr(1), "", ""},
                                          {"action", "send", "", ""},
                                          {"csrf", browser.csrf, "", ""}};
    auto refused = browser.http.Post("/import", browser.headers(), items);
    REQUIRE(refused);
    CHECK(refused->status == 422);
    CHECK(contains(refused->body, "came back damaged"));
    CHECK(exchange.broker->audit_count("persist", "accepted") == 0);
  }
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

namespace {

// Sends `head` (and no more) on a new connection to the desk and returns
// everything it answers until it closes (the request says Connection:
// close): a request whose Content-Length announces more than the route
// takes, refused before its body is read.
std::string raw_exchange(int port, const std::string& head) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  REQUIRE(::send(fd, head.data(), head.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(head.size()));
  std::string answer;
  std::array<char, 4096> buffer{};
  for (;;) {
    const auto got = ::recv(fd, buffer.data(), buffer.size(), 0);
    if (got <= 0) break;
    answer.append(buffer.data(), static_cast<std::size_t>(got));
  }
  ::close(fd);
  return answer;
}

std::string import_head(const DeskProcess& desk, const Browser& browser, const std::string& length_header) {
  return "POST /import HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(desk.port()) + "\r\nConnection: close\r\nCookie: " +
         browser.cookie + "\r\nContent-Type: multipart/form-data; boundary=fpxboundary\r\n" + length_header +
         "\r\n\r\n--fpxboundary\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n" + browser.csrf + "\r\n";
}

}  // namespace

TEST_CASE("desk import rows: an import over the size limit is refused before it is read with the page in French") {
  DeskExchange exchange;
  DeskProcess desk(exchange.profiles.at("sn.police-judiciaire"), exchange.pki.dir(), {"--lang", "fr"});
  Browser browser(desk);
  SECTION("a Content-Length over the import's limit") {
    const auto answer = raw_exchange(
        desk.port(), import_head(desk, browser, "Content-Length: " + std::to_string(kImportBodyLimit + 1)));
    INFO(answer);
    CHECK(answer.rfind("HTTP/1.1 413", 0) == 0);
    CHECK(contains(answer, "Content-Type: text/html"));
    CHECK(contains(answer, "Le fichier dépasse ce que le bureau importe en une fois (1024 Kio, 500 lignes"));
    CHECK(contains(answer, "répartissez-le en fichiers d&#39;au plus 500 lignes"));
  }
  SECTION("a chunked body whose size is known only once read") {
    const auto answer = raw_exchange(desk.port(), import_head(desk, browser, "Transfer-Encoding: chunked"));
    INFO(answer);
    CHECK(answer.rfind("HTTP/1.1 413", 0) == 0);
  }
  SECTION("the new-request form keeps its own smaller limit") {
    const auto head = "POST /new HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(desk.port()) + "\r\nConnection: close\r\nCookie: " +
                      browser.cookie + "\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: " +
                      std::to_string(kNewRequestBodyLimit + 1) + "\r\n\r\n";
    const auto answer = raw_exchange(desk.port(), head);
    INFO(answer);
    CHECK(answer.rfind("HTTP/1.1 413", 0) == 0);
  }
  SECTION("any other form keeps the 8 KiB limit") {
    const auto head = "POST /alerts/new HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(desk.port()) +
                      "\r\nConnection: close\r\nCookie: " + browser.cookie +
                      "\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
                      std::to_string(kFormBodyLimit + 1) + "\r\n\r\n";
    const auto answer = raw_exchange(desk.port(), head);
    INFO(answer);
    CHECK(answer.rfind("HTTP/1.1 413", 0) == 0);
  }
  // The desk keeps serving, and nothing reached the exchange.
  auto page = browser.http.Get("/import", browser.headers());
  REQUIRE(page);
  CHECK(page->status == 200);
  CHECK(exchange.broker->audit_count("persist", "accepted") == 0);
}

TEST_CASE("desk import rows: an import over the line limit sends nothing and says to split the file") {
  DeskExchange exchange;
  DeskProcess desk(exchange.profiles.at("sn.police-judiciaire"), exchange.pki.dir(), {"--lang", "en"});
  Browser browser(desk);
  std::string csv = kHeader;
  for (std::size_t i = 0; i <= kImportLineLimit; ++i) csv += line("AK-9" + std::to_string(1000 + i) + "-ZG");
  REQUIRE(csv.size() < 1024 * 1024);  // refused by its lines, not its bytes
  auto refused = browser.upload(csv, "send", browser.csrf);
  REQUIRE(refused);
  INFO(refused->body.substr(0, 4000));
  CHECK(refused->status == 422);
  CHECK(contains(refused->body, "Nothing was sent."));
  CHECK(contains(refused->body, "more than 500 lines"));
  CHECK(contains(refused->body, "split it into smaller files"));
  CHECK(exchange.broker->audit_count("persist", "accepted") == 0);
}

TEST_CASE("desk import rows: a cross-site import post is refused and nothing is sent") {
  DeskExchange exchange;
  DeskProcess desk(exchange.profiles.at("sn.police-judiciaire"), exchange.pki.dir(), {"--lang", "en"});
  Browser browser(desk);
  httplib::MultipartFormDataItems items{{"csv", kHeader + line("AK-6101-ZG"), "seized.csv", "text/csv"},
                                        {"action", "send", "", ""},
                                        {"csrf", browser.csrf, "", ""}};
  auto headers = browser.headers();
  SECTION("another site's Origin, with the right token") { headers.emplace("Origin", "http://evil.example"); }
  SECTION("Origin null") { headers.emplace("Origin", "null"); }
  SECTION("Sec-Fetch-Site cross-site") { headers.emplace("Sec-Fetch-Site", "cross-site"); }
  SECTION("no session cookie at all") { headers.clear(); }
  auto refused = browser.http.Post("/import", headers, items);
  REQUIRE(refused);
  CHECK((refused->status == 403 || refused->status == 401));
  CHECK(exchange.broker->audit_count("persist", "accepted") == 0);
}

TEST_CASE("desk import rows: formula cells and control or bidi characters are shown escaped as lines to fix and "
          "never sent") {
  DeskExchange exchange;
  DeskProcess desk(exchange.profiles.at("sn.police-judiciaire"), exchange.pki.dir(), {"--lang", "en"});
  Browser browser(desk);
  std::string csv = kHeader + line("AK-6201-ZG");
  SECTION("a formula cell (CSV injection)") {
    csv += line("=CMD|' /C calc'!A0");
    csv += line("@SUM(1+1)*cmd|' /C calc'!A0");
    auto checked = browser.upload(csv, "send", browser.csrf);
    REQUIRE(checked);
    INFO(checked->body);
    CHECK(checked->status == 422);
    CHECK(contains(checked->body, "3 line(s) checked: 1 ready, 2 to fix."));
    CHECK(contains(checked->body, "column serial_number: begins with =, +, - or @, which a spreadsheet runs as a formula"));
    CHECK(contains(checked->body, "<tr class=\"invalid\" id=\"line-4\""));
    CHECK(contains(checked->body, "<tr class=\"invalid\" id=\"line-3\""));
    CHECK(contains(checked->body, "1 request(s) sent."));
    CHECK(exchange.broker->audit_count("persist", "accepted") == 1);
  }
  SECTION("a right-to-left override in the serial number") {
    csv += line("AK-62\xE2\x80\xAE" "02-ZG");
    auto checked = browser.upload(csv, "send", browser.csrf);
    REQUIRE(checked);
    INFO(checked->body);
    CHECK(contains(checked->body, "column serial_number: holds a bidirectional control character (U+202A-U+202E"));
    CHECK(contains(checked->body, "1 request(s) sent."));
    CHECK(exchange.broker->audit_count("persist", "accepted") == 1);
  }
  SECTION("an escape sequence and markup in a quoted cell") {
    csv += "AK-6203-ZG,\"<script>alert(document.cookie)</script>\x1b[2J\",MAO-47,rifle-carbine\n";
    csv += "AK-6204-ZG,\"<img src=x onerror=alert(1)>\",MAO-47,rifle-carbine\n";
    auto checked = browser.upload(csv, "check", browser.csrf);
    REQUIRE(checked);
    INFO(checked->body);
    CHECK(contains(checked->body, "column manufacturer: holds a control character (U+001B)"));
    // Shown back to the officer as text: never as markup the page would run.
    CHECK_FALSE(contains(checked->body, "<script>alert"));
    CHECK_FALSE(contains(checked->body, "<img src=x"));
    CHECK(exchange.broker->audit_count("persist", "accepted") == 0);
  }
}
