// Issue 17: attachments on the desk, over HTTP (cpp-httplib's client) against
// a real broker and two real desks. A photo filed with a request is shown in
// both desks' case view from the desk's attachment URL, served with its type,
// nosniff and a sandboxing policy; a PDF only as a download. The desk rows
// of the hostile-input catalogue for attachments, one SECTION each: a file
// over the limit, of a forbidden type (HTML or SVG renamed .png), a saved
// message whose bytes no longer match their signed hash, and paths outside
// the profile.
#include <httplib.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <catch2/catch.hpp>

#include "desk_exchange.hpp"
#include "desk_process.hpp"
#include "fpx/attachments.hpp"
#include "support/attachment_envelopes.hpp"

using namespace fpx;
using fpx::test::DeskExchange;
using fpx::test::DeskProcess;

namespace {

struct Browser {
  explicit Browser(const DeskProcess& desk) : http("127.0.0.1", desk.port()) { http.set_read_timeout(60, 0); }

  httplib::Headers headers() const { return cookie.empty() ? httplib::Headers{} : httplib::Headers{{"Cookie", cookie}}; }

  void log_in(const DeskProcess& desk) {
    auto response = http.Get(("/login?token=" + desk.token()).c_str());
    REQUIRE(response);
    REQUIRE(response->status == 303);
    const auto set_cookie = response->get_header_value("Set-Cookie");
    cookie = set_cookie.substr(0, set_cookie.find(';'));
    auto page = get("/new");
    REQUIRE(page->status == 200);
    const std::string marker = "name=\"csrf\" value=\"";
    const auto at = page->body.find(marker);
    REQUIRE(at != std::string::npos);
    csrf = page->body.substr(at + marker.size(), 64);
  }

  httplib::Result get(const std::string& path) { return http.Get(path.c_str(), headers()); }

  // The new-request form as a browser sends it with files: multipart.
  httplib::Result post_multipart(const std::string& path, const httplib::Params& fields,
                                 const std::vector<httplib::MultipartFormData>& files) {
    httplib::MultipartFormDataItems items;
    for (const auto& [name, value] : fields) items.push_back({name, value, "", ""});
    items.push_back({"csrf", csrf, "", ""});
    for (const auto& file : files) items.push_back(file);
    return http.Post(path.c_str(), headers(), items);
  }

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
          {"firearms[0].serialNumber", case_reference + "-SERIAL"},
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

std::string as_string(const Bytes& bytes) { return std::string(bytes.begin(), bytes.end()); }

httplib::MultipartFormData file_part(const std::string& name, const std::string& content, const std::string& type) {
  return {"attachments", content, name, type};
}

bool eventually_shows(Browser& browser, const std::string& path, const std::string& text) {
  for (int attempt = 0; attempt < 150; ++attempt) {
    auto page = browser.get(path);
    if (page && page->body.find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return false;
}

std::size_t sent_count(const std::filesystem::path& profile) {
  std::size_t sent = 0;
  if (!std::filesystem::exists(profile / "sent")) return 0;
  for (const auto& entry : std::filesystem::directory_iterator(profile / "sent")) {
    sent += entry.path().extension() == ".fpx" ? 1 : 0;
  }
  return sent;
}

}  // namespace

TEST_CASE("a photo and a document filed on the desk are shown in both case views and served as inert files") {
  DeskExchange exchange;
  DeskProcess agency(exchange.profiles.at("sn.police-judiciaire"), exchange.pki.dir(), {"--lang", "fr"});
  DeskProcess niger(exchange.profiles.at("ne.focal-point"), exchange.pki.dir(), {"--lang", "en"});
  Browser sn(agency);
  Browser ne(niger);
  sn.log_in(agency);
  ne.log_in(niger);

  const std::string photo = as_string(test::make_png(3000));
  const std::string document = "%PDF-1.4\n% procès-verbal de saisie\n";
  auto filed = sn.post_multipart("/new", request_form("SN-ATT-0001"),
                                 {file_part("C:\\photos\\marquage culasse.png", photo, "image/png"),
                                  file_part("pv.pdf", document, "application/pdf")});
  REQUIRE(filed);
  INFO(filed->body);
  REQUIRE(filed->status == 303);
  const auto location = filed->get_header_value("Location");
  const auto case_path = location.substr(0, location.find('?'));
  const auto id = case_path.substr(6);

  for (Browser* browser : {&sn, &ne}) {
    REQUIRE(eventually_shows(*browser, case_path, "/attachment/" + id + "/1"));
    auto page = browser->get(case_path);
    CHECK(page->body.find("<img src=\"/attachment/" + id + "/1\"") != std::string::npos);
    CHECK(page->body.find("marquage culasse.png") != std::string::npos);
    CHECK(page->body.find(to_hex(sha256(test::make_png(3000)))) != std::string::npos);
    // The PDF is a link to a download, never an image or a frame.
    CHECK(page->body.find("<img src=\"/attachment/" + id + "/2\"") == std::string::npos);
    CHECK(page->body.find("href=\"/attachment/" + id + "/2\" download") != std::string::npos);

    auto image = browser->get("/attachment/" + id + "/1");
    REQUIRE(image);
    CHECK(image->status == 200);
    CHECK(image->get_header_value("Content-Type") == "image/png");
    CHECK(image->get_header_value("X-Content-Type-Options") == "nosniff");
    CHECK_THAT(image->get_header_value("Content-Security-Policy"),
               Catch::Contains("sandbox") && Catch::Contains("default-src 'none'"));
    CHECK(image->body == photo);

    auto pdf = browser->get("/attachment/" + id + "/2");
    REQUIRE(pdf);
    CHECK(pdf->status == 200);
    CHECK(pdf->get_header_value("Content-Type") == "application/pdf");
    CHECK(pdf->get_header_value("Content-Disposition") == "attachment; filename=\"pv.pdf\"");
    CHECK_THAT(pdf->get_header_value("Content-Security-Policy"), Catch::Contains("sandbox"));
    CHECK(pdf->body == document);
  }
  // The agency's language is French: the section is named in French.
  CHECK(sn.get(case_path)->body.find("Pièces jointes") != std::string::npos);
}

TEST_CASE("desk attachment rows: a file over the limit or of a forbidden type is refused and nothing is sent") {
  DeskExchange exchange;
  const auto profile = exchange.profiles.at("sn.police-judiciaire");
  DeskProcess agency(profile, exchange.pki.dir(), {"--lang", "en"});
  Browser sn(agency);
  sn.log_in(agency);
  auto refused = [&](const std::vector<httplib::MultipartFormData>& files, const std::string& says) {
    auto answer = sn.post_multipart("/new", request_form("SN-ATT-BAD"), files);
    REQUIRE(answer);
    INFO(answer->body);
    CHECK(answer->status == 422);
    CHECK(answer->body.find(says) != std::string::npos);
    CHECK(sent_count(profile) == 0);
    CHECK(exchange.broker->audit_count("persist", "accepted") == 0);
  };
  SECTION("an attachment over the per-file limit") {
    refused({file_part("big.png", as_string(test::make_png(kMaxAttachmentBytes + 1)), "image/png")},
            "at most 512 KiB");
  }
  SECTION("attachments over the per-message limit together") {
    const std::string part = as_string(test::make_png(kMaxAttachmentBytesPerMessage / 2 + 1024));
    refused({file_part("a.png", part, "image/png"), file_part("b.png", part, "image/png")}, "at most 512 KiB");
  }
  SECTION("an HTML page renamed .png and sent as image/png") {
    refused({file_part("photo.png", "<html><script>alert(document.cookie)</script></html>", "image/png")},
            "Only JPEG, PNG and PDF");
  }
  SECTION("an SVG image with a script renamed .png") {
    refused({file_part("mark.png", "<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>",
                       "image/png")},
            "Only JPEG, PNG and PDF");
  }
  SECTION("a body over the desk's limit on any other form is refused before it is read") {
    httplib::Params big{{"csrf", sn.csrf}, {"reason", std::string(100 * 1024, 'x')}};
    auto answer = sn.http.Post(("/case/" + std::string(32, '0') + "/close").c_str(), sn.headers(), big);
    REQUIRE(answer);
    CHECK(answer->status == 413);
    CHECK(sn.get("/")->status == 200);
  }
}

TEST_CASE("desk attachment rows: a tampered saved attachment and paths outside the profile are never served") {
  DeskExchange exchange;
  const auto profile = exchange.profiles.at("sn.police-judiciaire");
  DeskProcess agency(profile, exchange.pki.dir(), {"--lang", "en"});
  Browser sn(agency);
  sn.log_in(agency);
  auto filed = sn.post_multipart("/new", request_form("SN-ATT-0002"),
                                 {file_part("marquage.png", as_string(test::make_png(2000)), "image/png")});
  REQUIRE(filed);
  REQUIRE(filed->status == 303);
  const auto location = filed->get_header_value("Location");
  const auto id = location.substr(6, 32);
  REQUIRE(sn.get("/attachment/" + id + "/1")->status == 200);

  SECTION("a saved message whose attachment bytes no longer match their signed hash") {
    const auto saved = profile / "sent" / (id + ".fpx");
    const auto original = test::read_file(saved);
    Bytes other = test::make_png(2000);
    other.back() = 0x42;
    const Bytes tampered = test::replace_attachment_bytes(Bytes(original.begin(), original.end()), {other});
    std::ofstream(saved, std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(tampered.data()), static_cast<std::streamsize>(tampered.size()));
    auto answer = sn.get("/attachment/" + id + "/1");
    REQUIRE(answer);
    CHECK(answer->status == 404);
    CHECK(answer->body.find(as_string(other)) == std::string::npos);
  }
  SECTION("paths outside the profile and attachments that do not exist") {
    for (const std::string& path : std::vector<std::string>{
             "/attachment/" + id + "/0", "/attachment/" + id + "/2", "/attachment/" + id + "/99",
          "/attachment/" + id + "/../../fpx.toml", "/attachment/../../../etc/passwd",
          "/attachment/%2e%2e/%2e%2e/fpx.toml", "/attachment/" + std::string(32, '0') + "/1"}) {
      INFO(path);
      auto answer = sn.get(path);
      REQUIRE(answer);
      CHECK((answer->status == 404 || answer->status == 400));
      CHECK(answer->body.find("[broker]") == std::string::npos);
      CHECK(answer->body.find("root:") == std::string::npos);
    }
  }
  SECTION("an attachment without the desk's token") {
    httplib::Client stranger("127.0.0.1", agency.port());
    auto answer = stranger.Get(("/attachment/" + id + "/1").c_str());
    REQUIRE(answer);
    CHECK(answer->status == 401);
  }
}
