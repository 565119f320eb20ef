// `fpx report --html` end to end: a real broker with a 2-second statistics
// period, a scenario played through fpx_client, the observer's `fpx observe`,
// `fpx log verify` and `fpx report`, then the page rendered by headless
// Chromium, whose DOM must hold the charts the scenario calls for. Expected
// figures are written by hand from the scenario below.
#include <sys/wait.h>

#include <array>
#include <catch2/catch.hpp>
#include <chrono>
#include <optional>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "fpx/client.hpp"
#include "fpx/observer_client.hpp"
#include "support/command_run.hpp"
#include "support/broker_clients.hpp"
#include "support/broker_process.hpp"
#include "support/sample_messages.hpp"
#include "support/test_pki.hpp"

using namespace fpx;
using namespace std::chrono_literals;
using wire::MessageType;
namespace fs = std::filesystem;

namespace {

// Short enough that the test sees a period end and its embargo pass.
constexpr std::int64_t kPeriodMs = 2000;
// The answers must be in before the final figures: they follow the requests
// at once, so about 4 s (the rest of the period and the embargo) is ample.
constexpr std::int64_t kEmbargoMs = 2000;

using Run = test::CommandRun;

// Runs a command line (words quoted for the shell) in `scratch`, capturing stdout and stderr.
Run run(const std::vector<std::string>& words, const fs::path& scratch) {
  return test::run_command(words, scratch, scratch);
}

// One CSV line's fields (the scenario's names hold no comma or quote).
std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> fields;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, ',')) fields.push_back(field);
  if (!line.empty() && line.back() == ',') fields.emplace_back();
  return fields;
}

// Checks every data line of one `fpx report --csv` file against the
// statistics records the observer saved: each cell equals the record's
// count, empty where it is null (suppressed) or absent. Returns how many
// cells were compared.
std::size_t check_csv_against_feed(const fs::path& file, const std::string& table,
                                   const std::map<std::string, nlohmann::json>& records) {
  std::istringstream lines(test::read_file(file));
  std::string line;
  std::getline(lines, line, '\n');
  if (!line.empty() && line.back() == '\r') line.pop_back();
  const auto header = csv_fields(line);
  std::size_t compared = 0;
  while (std::getline(lines, line, '\n')) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const auto fields = csv_fields(line);
    REQUIRE(fields.size() == header.size());
    const auto record = records.find(fields[0] + " " + fields[1]);
    INFO(file.filename().string() << ": " << line);
    REQUIRE(record != records.end());
    // period, periodStart, periodEnd, then the row's keys, then the counts.
    std::size_t first_count = 3;
    while (first_count < header.size() &&
           (header[first_count] == "requester" || header[first_count] == "requested" || header[first_count] == "region")) {
      ++first_count;
    }
    const nlohmann::json* row = nullptr;
    if (table == "total") {
      row = &record->second["total"];
    } else {
      for (const auto& candidate : record->second[table]) {
        bool match = true;
        for (std::size_t c = 3; c < first_count; ++c) match = match && candidate.value(header[c], "") == fields[c];
        if (match) row = &candidate;
      }
    }
    REQUIRE(row != nullptr);
    const auto& counts = (*row)["counts"];
    for (std::size_t c = first_count; c < header.size(); ++c) {
      INFO(header[c]);
      const std::string expected = counts.contains(header[c]) && !counts[header[c]].is_null()
                                       ? std::to_string(counts[header[c]].get<std::int64_t>())
                                       : std::string();
      CHECK(fields[c] == expected);
      if (counts.contains(header[c])) ++compared;
    }
  }
  return compared;
}

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t found = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++found;
  return found;
}

// The markup of one chart (<svg id=...> to its </svg>), empty if absent.
std::string chart(const std::string& dom, const std::string& id) {
  const auto start = dom.find("id=\"" + id + "\"");
  if (start == std::string::npos) return {};
  const auto end = dom.find("</svg>", start);
  return dom.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

// The markup of one row of a chart (<g ... data-row="LABEL"> to its </g>).
std::string row(const std::string& chart_markup, const std::string& label) {
  const auto attribute = chart_markup.find("data-row=\"" + label + "\"");
  if (attribute == std::string::npos) return {};
  const auto start = chart_markup.rfind("<g ", attribute);
  const auto end = chart_markup.find("</g>", attribute);
  return chart_markup.substr(start, end - start);
}

// The value of the bar of `series` in a row ("" if there is none).
std::string bar_value(const std::string& row_markup, const std::string& series) {
  const auto bar = row_markup.find("data-series=\"" + series + "\"");
  if (bar == std::string::npos) return {};
  const std::string marker = "data-value=\"";
  const auto value = row_markup.find(marker, bar);
  if (value == std::string::npos) return {};
  const auto end = row_markup.find('"', value + marker.size());
  return row_markup.substr(value + marker.size(), end - value - marker.size());
}

auto reply_to(const MessageId& request) {
  return [request](wire::Header::Builder header, wire::Body::Builder) {
    header.setInReplyTo(kj::arrayPtr(request.bytes.data(), request.bytes.size()));
    header.initRecipients(1)[0].setCountry("SN");
  };
}

// The scenario's states, a broker whose statistics periods last 2 seconds,
// and an observer.
struct ReportExchange {
  ReportExchange() : pki({"SN", "NE", "BF"}) {
    pki.issue("sn.focal-point", "SN", Role::focal_point);
    pki.issue("ne.focal-point", "NE", Role::focal_point);
    pki.issue("bf.focal-point", "BF", Role::focal_point);
    pki.issue("ml.focal-point", "ML", Role::focal_point);
    pki.issue("sn.police-judiciaire", "SN", Role::agency);
    pki.issue("cso.sahel-watch", "SN", Role::observer, {.via_intermediate = false});
    test::BrokerOptions options;
    options.statistics_periods = {"2s"};
    options.reveal_after_ms = kEmbargoMs;
    broker = std::make_unique<test::BrokerProcess>(
        pki,
        std::vector<std::string>{"sn.focal-point", "ne.focal-point", "bf.focal-point", "ml.focal-point",
                                 "sn.police-judiciaire", "cso.sahel-watch"},
        options);
  }

  std::unique_ptr<client::Client> participant(const std::string& id) {
    return test::connect_client(*broker, pki, id);
  }

  std::unique_ptr<client::ObserverClient> observer() {
    client::ObserverOptions options;
    options.endpoint = broker->observers_endpoint();
    options.broker_chain = *Certificate::load_pem_file(broker_chain());
    options.root_ca = pki.root_pem();
    options.broker_pins = test::broker_pins(pki);
    auto connected = client::ObserverClient::connect(pki.identity("cso.sahel-watch"), options);
    if (!connected) FAIL(connected.error().describe());
    return std::move(connected).value();
  }

  fs::path broker_chain() const { return pki.dir() / "participants" / "exchange.broker" / kChainFile; }

  // SN publishes a campaign report (one partner's name is markup: it must
  // reach the page as text) and BF a publishable alert for the Sahel. Then
  // four requests to NE and BF and one to ML, all in one statistics period;
  // NE acknowledges the four and answers two with a partial chain; BF
  // refuses the four (an ongoing investigation).
  void play() {
    auto agency = participant("sn.police-judiciaire");
    auto niger = participant("ne.focal-point");
    auto burkina = participant("bf.focal-point");
    auto senegal = participant("sn.focal-point");
    const auto agency_identity = pki.identity("sn.police-judiciaire");
    const auto niger_identity = pki.identity("ne.focal-point");
    const auto burkina_identity = pki.identity("bf.focal-point");
    // Public records first: only the requests and their answers need to be quick.
    REQUIRE(senegal
                ->submit(test::seal_changed(pki.identity("sn.focal-point"), MessageType::CAMPAIGN_REPORT,
                                            [](auto, auto body) {
                                              auto report = body.getCampaignReport();
                                              auto regions = report.initRegions(3);
                                              regions.set(0, "Fatick");
                                              regions.set(1, "Thies");
                                              regions.set(2, "Kolda");
                                              report.initCommunityPartners(1).set(
                                                  0, "<script>document.title='injected'</script> radio & partners");
                                            }))
                .ok());
    REQUIRE(burkina
                ->submit(test::seal_changed(burkina_identity, MessageType::ALERT,
                                            [](auto header, auto) { header.initRecipients(1)[0].setRegion("Sahel"); }))
                .ok());
    // Periods are aligned on the epoch: start just after one begins, so the
    // five requests (milliseconds apart) fall in the same period.
    while (now_ms() % kPeriodMs > 100) std::this_thread::sleep_for(10ms);
    std::vector<MessageId> requests;
    for (int i = 0; i < 4; ++i) {
      Bytes request = test::seal_sample(agency_identity, MessageType::TRACING_REQUEST);
      REQUIRE(agency->submit(request).ok());
      requests.push_back(test::message_id_of(request));
    }
    REQUIRE(agency
                ->submit(test::seal_changed(agency_identity, MessageType::TRACING_REQUEST,
                                            [](auto header, auto body) {
                                              header.initRecipients(1)[0].setCountry("ML");
                                              auto states = body.getTracingRequest().initRequestedStates(1);
                                              states[0].setCountry("ML");
                                              states[0].setRole(wire::RequestedStateRole::OTHER_ON_TRAIL);
                                            }))
                .ok());
    for (const auto& request : requests) {
      REQUIRE(niger->submit(test::seal_changed(niger_identity, MessageType::TRACING_ACKNOWLEDGEMENT, reply_to(request)))
                  .ok());
    }
    for (int i = 0; i < 2; ++i) {
      REQUIRE(
          niger->submit(test::seal_changed(niger_identity, MessageType::TRACING_RESPONSE, reply_to(requests[i]))).ok());
    }
    for (const auto& request : requests) {
      REQUIRE(burkina
                  ->submit(test::seal_changed(burkina_identity, MessageType::TRACING_RESPONSE,
                                              [&](auto header, auto body) {
                                                reply_to(request)(header, body);
                                                auto response = body.getTracingResponse();
                                                response.setOutcome(wire::TracingOutcome::REFUSED);
                                                response.initChainOfCustody(0);
                                                response.initRefusalGrounds(1).set(
                                                    0, wire::RefusalGround::ONGOING_INVESTIGATION);
                                                response.setGroundsExplanation("a national investigation");
                                              }))
                  .ok());
    }
  }

  // Until the final statistics and a checkpoint of the whole log are on the feed.
  void wait_for_feed() {
    auto watcher = observer();
    auto deadline = std::chrono::steady_clock::now() + 30s;
    std::uint64_t next = 1;
    bool final_statistics = false;
    std::uint64_t checkpoint_size = 0;
    for (;;) {
      auto page = watcher->follow(next, 1000);
      REQUIRE(page.ok());
      for (const auto& record : page->records) {
        if (record.kind == "statistics" && record.signed_record.find("\"final\":true") != std::string::npos) {
          final_statistics = true;
        }
        if (record.kind == "checkpoint") {
          const auto at = record.signed_record.find("\"treeSize\":");
          checkpoint_size = std::stoull(record.signed_record.substr(at + 11));
        }
      }
      next = page->next_sequence;
      auto head = watcher->latest_checkpoint();
      if (final_statistics && head.ok() && head->checkpoint.size == checkpoint_size) return;
      if (std::chrono::steady_clock::now() > deadline) {
        FAIL("no final statistics and checkpoint on the feed after 30 s; broker log in " << pki.dir());
      }
      std::this_thread::sleep_for(100ms);
    }
  }

  test::TestPki pki;
  std::unique_ptr<test::BrokerProcess> broker;
};

// Debian's chromium; the test fails (never skips) without it: CI installs it.
std::string chromium_binary(const fs::path& scratch) {
  auto found = run({"sh", "-c", "command -v chromium || command -v chromium-browser"}, scratch);
  std::string path = found.out.substr(0, found.out.find('\n'));
  if (found.exit_code != 0 || path.empty()) {
    FAIL(
        "chromium is not installed: run deploy/install-packages.sh as root (it installs Debian's chromium), "
        "then run this test again");
  }
  return path;
}

// The page as headless Chromium parsed it (its DOM, serialized).
std::string rendered_dom(const fs::path& html, const fs::path& scratch) {
  const std::string chromium = chromium_binary(scratch);
  const fs::path user_data = scratch / "chromium-profile";
  fs::remove_all(user_data);
  fs::create_directories(user_data);
  auto dumped =
      run({"timeout", "120", chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--user-data-dir=" + user_data.string(), "--dump-dom", "file://" + html.string()},
          scratch);
  INFO("chromium stderr:\n" << dumped.err);
  REQUIRE(dumped.exit_code == 0);
  REQUIRE(dumped.out.find("</html>") != std::string::npos);
  return dumped.out;
}

}  // namespace

TEST_CASE(
    "fpx report --html draws the scenario's statistics, campaigns, alerts and checkpoint in English and in French, "
    "as Chromium renders them") {
  ReportExchange exchange;
  const fs::path scratch = exchange.pki.dir();
  const fs::path profile = scratch / "observer-profile";
  const std::string fpx = std::string(FPX_BIN_DIR) + "/fpx";
  auto init = run({fpx, "profile", "init", "--dir", profile.string(), "--identity",
                   (scratch / "participants" / "cso.sahel-watch").string(), "--observer-endpoint",
                   exchange.broker->observers_endpoint(), "--broker-cert", exchange.broker_chain().string(),
                   "--root-ca", exchange.pki.root_pem().string()},
                  scratch);
  INFO(init.err);
  REQUIRE(init.exit_code == 0);
  const fs::path html = scratch / "report.html";

  // Before anything was observed there is nothing to draw: a usage error that says what to do.
  auto empty = run({fpx, "--profile", profile.string(), "report", "--html", html.string()}, scratch);
  CHECK(empty.exit_code == 2);
  CHECK_THAT(empty.err, Catch::Contains("fpx observe"));
  CHECK_FALSE(fs::exists(html));
  CHECK(run({fpx, "--profile", profile.string(), "report"}, scratch).exit_code == 2);  // --html or --csv is required

  exchange.play();
  exchange.wait_for_feed();
  auto observed = run({fpx, "--profile", profile.string(), "observe"}, scratch);
  INFO(observed.out << observed.err);
  REQUIRE(observed.exit_code == 0);
  auto verified = run({fpx, "--profile", profile.string(), "--json", "log", "verify"}, scratch);
  INFO(verified.out << verified.err);
  REQUIRE(verified.exit_code == 0);
  const auto size_at = verified.out.find("\"treeSize\":");
  REQUIRE(size_at != std::string::npos);
  const std::string tree_size = std::to_string(std::stoull(verified.out.substr(size_at + 11)));

  // As the README shows it: a file name in the current folder.
  auto made = run({fpx, "--profile", profile.string(), "--json", "report", "--html", "report.html"}, scratch);
  INFO(made.out << made.err);
  REQUIRE(made.exit_code == 0);
  CHECK_THAT(made.out, Catch::Contains("\"ok\":true") && Catch::Contains("\"charts\":7") &&
                           Catch::Contains("\"final\":true") && Catch::Contains("\"logVerified\":true") &&
                           Catch::Contains("\"treeSize\":" + tree_size));

  // Nothing private reaches the page: the request's case reference, place,
  // serial, manufacturer, importer and crime, the alert's place.
  const std::string page = test::read_file(html);
  for (const char* secret :
       {"SN-ZIG-2026-0142", "Ziguinchor", "AK-4711-ZG", "Izhmash", "Societe Nigerienne", "IMP-2009-0031",
        "armed robbery", "Ouagadougou", "police-judiciaire", "a national investigation"}) {
    CHECK(page.find(secret) == std::string::npos);
  }
  // Self-contained: nothing to fetch, nothing to run.
  CHECK(count(page, "http://") == count(page, "http://www.w3.org/2000/svg"));  // only the SVG namespace
  CHECK(page.find("https://") == std::string::npos);
  CHECK(page.find("<script") == std::string::npos);

  const std::string dom = rendered_dom(html, scratch);
  INFO("rendered DOM in " << (scratch / "report.html"));
  // Trend, answers in time, ack rates, origin established, refusal grounds, campaigns, alerts.
  CHECK(count(dom, "<svg") == 7);
  CHECK(count(dom, "<desc id=\"chart-") == 7);  // each chart says what it shows, for screen readers
  // The campaign partner's markup is text, not an element.
  CHECK(dom.find("<script") == std::string::npos);
  CHECK(dom.find("&lt;script&gt;document.title=") != std::string::npos);
  CHECK(dom.find("<title>FPX public oversight report</title>") != std::string::npos);

  // By hand: SN→BF 4 requests, acknowledged (by their refusals) and
  // answered at once, on one ground; SN→NE 4 acknowledged at once, 2
  // answered (under the threshold of 3); SN→ML 1 request (under it too).
  // SN is the only requester, so "from SN" and the total repeat the pairs'
  // sums: with ML's 1 and NE's 2 in them, the broker's audit hides those
  // sums (total requests 9 minus BF's 4 and NE's 4 would give ML's 1).
  const auto rates = chart(dom, "chart-acknowledgement-rates");
  for (const char* label : {"to BF", "to NE", "SN \u2192 BF", "SN \u2192 NE"}) {
    INFO(label);
    CHECK(bar_value(row(rates, label), "within") == "100");
    CHECK(bar_value(row(rates, label), "acknowledged") == "100");
    CHECK_THAT(row(rates, label), Catch::Contains("4 of 4 (100 %)"));
  }
  for (const char* label : {"to ML", "SN \u2192 ML", "all states"}) {
    INFO(label);
    CHECK_THAT(row(rates, label), Catch::StartsWith("<g class=\"row suppressed\"") &&
                                      Catch::Contains("suppressed: fewer than 3 requests"));
    CHECK(count(row(rates, label), "class=\"bar ") == 0);
  }
  CHECK(row(rates, "to SN").empty());  // no requests to SN: no row

  const auto bands = chart(dom, "chart-answer-bands");
  for (const char* label : {"to BF", "SN \u2192 BF"}) {
    INFO(label);
    for (const char* series : {"within", "days30", "answered"}) CHECK(bar_value(row(bands, label), series) == "100");
  }
  const auto ne_answers = row(bands, "SN \u2192 NE");
  CHECK_THAT(ne_answers, Catch::StartsWith("<g class=\"row suppressed\"") &&
                             Catch::Contains("suppressed: fewer than 3 answered"));
  CHECK(count(ne_answers, "class=\"bar ") == 0);

  const auto trend = chart(dom, "chart-trends");
  CHECK(count(trend, "<g class=\"row") == 1);  // one period so far

  // The indicator in the spirit of SDG 16.4.2: BF refused all four, so no
  // origin was established there; NE's two partial chains establish none
  // either, and are under the threshold.
  const auto origin = chart(dom, "chart-origin-established");
  CHECK(bar_value(row(origin, "to BF"), "established") == "0");
  CHECK_THAT(row(origin, "to BF"), Catch::Contains("0 of 4 (0 %)"));
  CHECK_THAT(row(origin, "to ML"), Catch::Contains("suppressed: fewer than 3 requests"));

  const auto grounds = chart(dom, "chart-refusal-grounds");
  CHECK(count(grounds, "<g class=\"row") == 3);
  for (const char* label : {"to BF: ongoing investigation", "SN \u2192 BF: ongoing investigation",
                            "all states: ongoing investigation"}) {
    INFO(label);
    CHECK(bar_value(row(grounds, label), "count") == "4");
  }

  // Every published table as CSV, checked against the record: BF's row.
  const fs::path tables = scratch / "tables";
  auto csv = run({fpx, "--profile", profile.string(), "report", "--csv", tables.string()}, scratch);
  INFO(csv.out << csv.err);
  REQUIRE(csv.exit_code == 0);
  for (const char* file : {"pairs.csv", "by_requester.csv", "by_requested.csv", "by_region.csv", "total.csv"}) {
    CHECK(fs::exists(tables / file));
  }
  const std::string by_requested = test::read_file(tables / "by_requested.csv");
  CHECK_THAT(by_requested, Catch::StartsWith("period,periodStart,periodEnd,requested,requests,acknowledged,"));
  CHECK_THAT(by_requested, Catch::Contains(",BF,4,4,4,4,4,4,") && Catch::Contains(",ML,,0,0,0,0,0,"));
  CHECK_THAT(test::read_file(tables / "total.csv"), Catch::Contains("2s,"));
  // Every published cell of every statistics record the observer saved is in the CSV files, equal to the feed's.
  std::map<std::string, nlohmann::json> statistics;  // "period periodStart" -> record
  std::size_t published_cells = 0;
  {
    std::istringstream saved_lines(test::read_file(profile / "feed" / "records.jsonl"));
    std::string line;
    while (std::getline(saved_lines, line)) {
      const auto saved = nlohmann::json::parse(line);
      if (saved["kind"] != "statistics") continue;
      auto record = nlohmann::json::parse(saved["signedRecord"].get<std::string>());
      for (const char* table : {"pairs", "byRequester", "byRequested", "byRegion"}) {
        for (const auto& table_row : record[table]) published_cells += table_row["counts"].size();
      }
      published_cells += record["total"]["counts"].size();
      // The key first: in `a[k] = std::move(r)` the right side is evaluated before the key (C++17).
      const std::string key = record["period"].get<std::string>() + " " + record["periodStart"].get<std::string>();
      statistics[key] = std::move(record);
    }
  }
  REQUIRE_FALSE(statistics.empty());
  std::size_t compared = 0;
  for (const auto& [file, table] : std::vector<std::pair<const char*, const char*>>{{"pairs.csv", "pairs"},
                                                                                     {"by_requester.csv", "byRequester"},
                                                                                     {"by_requested.csv", "byRequested"},
                                                                                     {"by_region.csv", "byRegion"},
                                                                                     {"total.csv", "total"}}) {
    compared += check_csv_against_feed(tables / file, table, statistics);
  }
  CHECK(compared == published_cells);

  const auto campaigns = chart(dom, "chart-campaigns");
  CHECK(count(campaigns, "<g class=\"row") == 1);
  CHECK(bar_value(row(campaigns, "SN 2018-02-01 \u2013 2018-12-31"), "collected") == "412");
  CHECK(bar_value(row(campaigns, "SN 2018-02-01 \u2013 2018-12-31"), "destroyed") == "380");

  const auto alerts = chart(dom, "chart-alerts");
  CHECK(bar_value(row(alerts, "stolen \u00b7 Sahel"), "count") == "1");

  // The checkpoint the page was built from: the one `fpx log verify` accepted.
  CHECK_THAT(dom, Catch::Contains("<dd class=\"tree-size\">" + tree_size + "</dd>") &&
                      Catch::Contains("accepted this checkpoint"));

  // Issue 17: the same page in French for the observers of Dakar, Niamey
  // and Ouagadougou, from the environment as on a machine with no locale
  // generated (LANG alone), then from --lang. Headings, notes and dates are
  // French; every figure is the English page's.
  const fs::path french_html = scratch / "rapport.html";
  auto french_made = run({"env", "LANGUAGE=", "LC_ALL=", "LC_MESSAGES=", "LANG=fr_SN.UTF-8", fpx, "--profile",
                          profile.string(), "report", "--html", french_html.string()},
                         scratch);
  INFO(french_made.out << french_made.err);
  REQUIRE(french_made.exit_code == 0);
  CHECK_THAT(french_made.out, Catch::Contains("rapport écrit dans ") && Catch::Contains("7 graphique(s)") &&
                                  Catch::Contains("point de contrôle : taille de l'arbre " + tree_size +
                                                  ", accepté par `fpx log verify`"));
  auto english_flag = run({"env", "LANG=fr_SN.UTF-8", fpx, "--lang", "en", "--profile", profile.string(), "report",
                           "--html", (scratch / "english.html").string()},
                          scratch);
  CHECK_THAT(english_flag.out, Catch::StartsWith("report written to "));  // --lang before the environment
  auto unknown = run({fpx, "--lang", "wo", "--profile", profile.string(), "report", "--html",
                      (scratch / "wolof.html").string()},
                     scratch);
  CHECK(unknown.exit_code == 2);
  CHECK_THAT(unknown.err, Catch::Contains("--lang fr or --lang en"));
  CHECK_FALSE(fs::exists(scratch / "wolof.html"));

  const std::string french = rendered_dom(french_html, scratch);
  INFO("rendered French DOM in " << french_html);
  CHECK_THAT(french, Catch::Contains("<html lang=\"fr\">") &&
                         Catch::Contains("<title>Rapport public de suivi FPX</title>") &&
                         Catch::Contains("<h2>Comment les demandes de traçage reçoivent une réponse</h2>") &&
                         Catch::Contains("<h3>Évolution d'une période à l'autre</h3>") &&
                         Catch::Contains("<h3>Réponses dans les délais</h3>") &&
                         Catch::Contains("<h2>Campagnes de collecte volontaire</h2>") &&
                         Catch::Contains("<th scope=\"col\">demandes de traçage reçues</th>") &&
                         Catch::Contains("<th scope=\"col\">pays</th>") &&
                         Catch::Contains("a accepté ce point de contrôle"));
  CHECK(french.find("suppressed: fewer than") == std::string::npos);  // no English note left
  CHECK(french.find("Trend across periods") == std::string::npos);
  // The suppressed cells, in French, where the English page has them.
  const auto rates_fr = chart(french, "chart-acknowledgement-rates");
  for (const char* label : {"vers ML", "SN \u2192 ML", "tous les États"}) {
    INFO(label);
    CHECK_THAT(row(rates_fr, label), Catch::StartsWith("<g class=\"row suppressed\"") &&
                                         Catch::Contains("masquée : moins de 3 demandes"));
  }
  CHECK_THAT(row(rates_fr, "vers BF"), Catch::Contains("4 sur 4 (100 %)"));
  CHECK_THAT(row(chart(french, "chart-answer-bands"), "SN \u2192 NE"),
             Catch::Contains("masquée : moins de 3 réponses"));
  CHECK(bar_value(row(chart(french, "chart-refusal-grounds"), "vers BF : enquête en cours"), "count") == "4");
  // Dates as French writes them.
  const auto campaigns_fr = chart(french, "chart-campaigns");
  CHECK(bar_value(row(campaigns_fr, "SN 1er février 2018 \u2013 31 décembre 2018"), "collected") == "412");
  // The same figures: every bar's series and value, chart by chart, and every
  // hatched row, as in the English page; the same checkpoint.
  auto figures = [](const std::string& markup) {
    std::vector<std::string> found;
    const std::string marker = "data-series=\"";
    for (auto at = markup.find(marker); at != std::string::npos; at = markup.find(marker, at + 1)) {
      const auto value = markup.find("data-value=\"", at);
      found.push_back(markup.substr(at, markup.find('"', value + 12) - at));
    }
    return found;
  };
  std::size_t bars_compared = 0;
  for (const char* id : {"chart-trends", "chart-answer-bands", "chart-acknowledgement-rates",
                         "chart-origin-established", "chart-refusal-grounds", "chart-campaigns", "chart-alerts"}) {
    INFO(id);
    const auto english_figures = figures(chart(dom, id));
    bars_compared += english_figures.size();
    CHECK(figures(chart(french, id)) == english_figures);
    CHECK(count(chart(french, id), "<g class=\"row suppressed\"") == count(chart(dom, id), "<g class=\"row suppressed\""));
  }
  CHECK(bars_compared >= 20);  // BF's and NE's rows alone draw more (the trend's total is suppressed here)
  CHECK(count(french, "<td class=\"suppressed\">") == count(dom, "<td class=\"suppressed\">"));
  CHECK_THAT(french, Catch::Contains("<dd class=\"tree-size\">" + tree_size + "</dd>"));

  // A saved record altered after it was fetched: no page from it.
  const fs::path records = profile / "feed" / "records.jsonl";
  std::string saved = test::read_file(records);
  const std::string figure = "weaponsCollected\\\":412";  // inside the JSON string signedRecord
  const auto collected = saved.find(figure);
  REQUIRE(collected != std::string::npos);
  saved.replace(collected, figure.size(), "weaponsCollected\\\":999");
  std::ofstream(records, std::ios::trunc) << saved;
  const fs::path altered = scratch / "altered.html";
  auto refused = run({fpx, "--profile", profile.string(), "report", "--html", altered.string()}, scratch);
  CHECK(refused.exit_code == 1);
  CHECK_THAT(refused.err, Catch::Contains("does not verify"));
  CHECK_FALSE(fs::exists(altered));
}

namespace {

// Issue 12: BF's alert for the Sahel with a public summary, set by the test.
auto public_alert(std::string summary, std::array<int, 3> occurred, std::array<int, 3> valid_until) {
  return [summary = std::move(summary), occurred, valid_until](wire::Header::Builder header, wire::Body::Builder body) {
    header.initRecipients(1)[0].setRegion("Sahel");
    auto alert = body.getAlert();
    alert.setPublicSummary(summary);
    auto set = [](wire::Date::Builder date, std::array<int, 3> ymd) {
      date.setYear(static_cast<std::uint16_t>(ymd[0]));
      date.setMonth(static_cast<std::uint8_t>(ymd[1]));
      date.setDay(static_cast<std::uint8_t>(ymd[2]));
    };
    set(alert.initOccurredOn(), occurred);
    set(alert.initValidUntil(), valid_until);
  };
}

// Follows the feed until a record of `kind` and a checkpoint covering it
// have come; returns that record.
client::FeedRecord wait_for_covered(client::ObserverClient& watcher, const std::string& kind) {
  auto deadline = std::chrono::steady_clock::now() + 30s;
  std::uint64_t next = 1;
  std::optional<client::FeedRecord> found;
  for (;;) {
    auto page = watcher.follow(next, 1000);
    REQUIRE(page.ok());
    for (const auto& record : page->records) {
      if (record.kind == kind && !found) found = record;
      if (found && record.kind == "checkpoint" && record.sequence > found->sequence) return *found;
    }
    next = page->next_sequence;
    if (std::chrono::steady_clock::now() > deadline) FAIL("no covered " << kind << " record on the feed after 30 s");
    std::this_thread::sleep_for(100ms);
  }
}

}  // namespace

TEST_CASE(
    "fpx report shows each alert's public text and whether it is cancelled or expired and a state's statement beside "
    "its figures as Chromium renders them") {
  ReportExchange exchange;
  const fs::path scratch = exchange.pki.dir();
  const std::string fpx = std::string(FPX_BIN_DIR) + "/fpx";
  const fs::path observer_profile = scratch / "observer-profile";
  const fs::path senegal_profile = scratch / "senegal-profile";
  auto init = run({fpx, "profile", "init", "--dir", observer_profile.string(), "--identity",
                   (scratch / "participants" / "cso.sahel-watch").string(), "--observer-endpoint",
                   exchange.broker->observers_endpoint(), "--broker-cert", exchange.broker_chain().string(),
                   "--root-ca", exchange.pki.root_pem().string()},
                  scratch);
  INFO(init.err);
  REQUIRE(init.exit_code == 0);
  auto init_senegal = run({fpx, "profile", "init", "--dir", senegal_profile.string(), "--identity",
                           (scratch / "participants" / "sn.focal-point").string(), "--broker-endpoint",
                           exchange.broker->endpoint(), "--broker-cert", exchange.broker_chain().string(),
                           "--root-ca", exchange.pki.root_pem().string(), "--crl-dir",
                           exchange.pki.crl_dir().string()},
                          scratch);
  INFO(init_senegal.err);
  REQUIRE(init_senegal.exit_code == 0);

  auto burkina = exchange.participant("bf.focal-point");
  auto niger = exchange.participant("ne.focal-point");
  auto agency = exchange.participant("sn.police-judiciaire");
  const auto burkina_identity = exchange.pki.identity("bf.focal-point");
  // Active, cancelled, expired: three public alerts of Burkina Faso.
  REQUIRE(burkina
              ->submit(test::seal_changed(burkina_identity, MessageType::ALERT,
                                          public_alert("Twelve rifles stolen from a police armoury", {2026, 11, 10},
                                                       {2099, 12, 31})))
              .ok());
  Bytes to_cancel = test::seal_changed(burkina_identity, MessageType::ALERT,
                                       public_alert("Ammunition diverted near a border post", {2026, 11, 12},
                                                    {2099, 12, 31}));
  REQUIRE(burkina->submit(to_cancel).ok());
  REQUIRE(burkina
              ->submit(test::seal_changed(burkina_identity, MessageType::ALERT,
                                          public_alert("Pistols lost in transit", {2025, 1, 10}, {2025, 2, 10})))
              .ok());
  const MessageId cancelled_id = test::message_id_of(to_cancel);
  auto cancel_of = [&](const Identity& signer) {
    return test::seal_changed(signer, MessageType::ALERT, [&](auto header, auto body) {
      header.setInReplyTo(kj::arrayPtr(cancelled_id.bytes.data(), cancelled_id.bytes.size()));
      header.initRecipients(1)[0].setRegion("Sahel");
      auto alert = body.getAlert();
      alert.setKind(wire::AlertKind::CANCEL);
      alert.setSummary("inventory error at the border post");
      alert.setPublicSummary("Found: an inventory error");
    });
  };
  // Niger may not cancel Burkina Faso's alert: refused, and the feed says nothing.
  auto refused = niger->submit(cancel_of(exchange.pki.identity("ne.focal-point")));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::unauthorized);
  CHECK_THAT(refused.error().message, Catch::Contains("only the issuing state cancels it"));
  REQUIRE(burkina->submit(cancel_of(burkina_identity)).ok());

  // One request, so that a statistics period is published.
  while (now_ms() % kPeriodMs > 100) std::this_thread::sleep_for(10ms);
  REQUIRE(agency->submit(test::seal_sample(exchange.pki.identity("sn.police-judiciaire"), MessageType::TRACING_REQUEST))
              .ok());
  auto watcher = exchange.observer();
  const auto statistics = wait_for_covered(*watcher, "statistics");
  const auto start_at = statistics.signed_record.find("\"periodStart\":\"");
  REQUIRE(start_at != std::string::npos);
  const std::string period_start = statistics.signed_record.substr(start_at + 15, 20);

  // A statement on a period never published is refused, nothing sent.
  auto unpublished = run({fpx, "--profile", senegal_profile.string(), "statement", "--period", "2001-01-01T00:00:00Z",
                          "Our figures"},
                         scratch);
  CHECK(unpublished.exit_code == 1);
  CHECK_THAT(unpublished.err, Catch::Contains("has been published"));
  const std::string statement_text =
      "Senegal sent one request this period; <b>we answer</b> every request we receive & publish our own log.";
  auto stated = run({fpx, "--profile", senegal_profile.string(), "statement", "--period", period_start, statement_text},
                    scratch);
  INFO(stated.out << stated.err);
  REQUIRE(stated.exit_code == 0);
  const auto statement_record = wait_for_covered(*watcher, "figures-statement");
  CHECK_THAT(statement_record.signed_record,
             Catch::Contains("\"country\":\"SN\"") && Catch::Contains("\"periodStart\":\"" + period_start + "\"") &&
                 Catch::Contains("\"statisticsSequence\":" + std::to_string(statistics.sequence)));
  CHECK(statement_record.bound);

  auto observed = run({fpx, "--profile", observer_profile.string(), "observe"}, scratch);
  INFO(observed.out << observed.err);
  REQUIRE(observed.exit_code == 0);
  auto verified = run({fpx, "--profile", observer_profile.string(), "log", "verify"}, scratch);
  INFO(verified.out << verified.err);
  REQUIRE(verified.exit_code == 0);

  const fs::path html = scratch / "alerts.html";
  const fs::path tables = scratch / "tables";
  auto made = run({fpx, "--profile", observer_profile.string(), "report", "--html", html.string(), "--csv",
                   tables.string()},
                  scratch);
  INFO(made.out << made.err);
  REQUIRE(made.exit_code == 0);
  // The text output: each alert's status and text, the statement.
  CHECK_THAT(made.out, Catch::Contains("cancelled on ") && Catch::Contains(": expired") &&
                           Catch::Contains("Twelve rifles stolen from a police armoury") &&
                           Catch::Contains("statement of SN on its figures for 2s from " + period_start +
                                           " (the period shown): " + statement_text));

  const std::string dom = rendered_dom(html, scratch);
  INFO("rendered DOM in " << html);
  CHECK(count(dom, "data-status=\"active\"") == 1);
  CHECK(count(dom, "data-status=\"cancelled\"") == 1);
  CHECK(count(dom, "data-status=\"expired\"") == 1);
  CHECK_THAT(dom, Catch::Contains("<p class=\"alert-summary\">Twelve rifles stolen from a police armoury</p>") &&
                      Catch::Contains("Cancelled by BF on ") &&
                      Catch::Contains("<p class=\"cancel-summary\">Found: an inventory error</p>") &&
                      Catch::Contains("Expired: valid until 2025-02-10") &&
                      Catch::Contains("<p class=\"alert-summary\">Pistols lost in transit</p>"));
  // The statement beside the period's figures, its markup shown as text.
  const auto statements = dom.find("id=\"statements\"");
  REQUIRE(statements != std::string::npos);
  CHECK(dom.find("id=\"statistics\"") < statements);
  CHECK(statements < dom.find("id=\"campaigns\""));
  CHECK_THAT(dom.substr(statements),
             Catch::Contains("<figure class=\"statement\" data-country=\"SN\"><blockquote>Senegal sent one request "
                             "this period; &lt;b&gt;we answer&lt;/b&gt; every request we receive &amp; publish our "
                             "own log.</blockquote>"));
  CHECK(dom.find("<b>we answer") == std::string::npos);
  // Never the private summaries.
  CHECK(dom.find("inventory error at the border post") == std::string::npos);
  CHECK(dom.find("stolen batch of rifles") == std::string::npos);

  // The same in CSV, checked against the records.
  const std::string alerts_csv = test::read_file(tables / "alerts.csv");
  CHECK_THAT(alerts_csv, Catch::StartsWith("feedRecord,month,alertKind,issuingCountry,region,validUntil,status,"));
  CHECK_THAT(alerts_csv, Catch::Contains(",2026-11,stolen,BF,Sahel,2099-12-31,active,,Twelve rifles stolen from a "
                                         "police armoury,") &&
                             Catch::Contains(",2099-12-31,cancelled,") &&
                             Catch::Contains(",Ammunition diverted near a border post,Found: an inventory error") &&
                             Catch::Contains(",2025-01,stolen,BF,Sahel,2025-02-10,expired,,Pistols lost in transit,"));
  const std::string statements_csv = test::read_file(tables / "statements.csv");
  CHECK_THAT(statements_csv, Catch::Contains(std::to_string(statement_record.sequence) + ",SN,2s," + period_start + "," +
                                             std::to_string(statistics.sequence) + ",Senegal sent one request"));
}
