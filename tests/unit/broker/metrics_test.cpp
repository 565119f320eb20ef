// The metrics' text format, its escaping, the latency histograms, the
// listen addresses and the retention periods, without a broker.
#include <catch2/catch.hpp>
#include <httplib.h>

#include "fpx/broker/broker.hpp"
#include "fpx/broker/config.hpp"
#include "fpx/broker/metrics.hpp"

using namespace fpx;
using namespace fpx::broker;

TEST_CASE("help text and label values are escaped as the Prometheus text format 0.0.4 says") {
  CHECK(escape_help("a\\b\nc \"quoted\"") == "a\\\\b\\nc \"quoted\"");
  CHECK(escape_label_value("a\\b\nc \"quoted\"") == "a\\\\b\\nc \\\"quoted\\\"");
  CHECK(escape_label_value("plain") == "plain");
}

TEST_CASE("a histogram's buckets are cumulative and its count is its +Inf bucket") {
  LatencyHistogram histogram;
  histogram.observe(std::chrono::microseconds(300));  // <= 0.0005
  histogram.observe(std::chrono::milliseconds(3));    // <= 0.005
  histogram.observe(std::chrono::hours(48));          // beyond the last bound
  const auto snapshot = histogram.snapshot();
  CHECK(snapshot.cumulative[0] == 1);
  CHECK(snapshot.cumulative[2] == 1);  // 0.0025
  CHECK(snapshot.cumulative[3] == 2);  // 0.005
  CHECK(snapshot.cumulative[kLatencyBucketsSeconds.size() - 1] == 2);
  CHECK(snapshot.cumulative.back() == 3);
  CHECK(snapshot.sum_seconds == Approx(0.0033 + 48 * 3600.0));
}

TEST_CASE("the exposition names every counter once with its type and the published values") {
  BrokerMetrics metrics;
  BrokerCounters counters;
  counters.accepted = 7;
  counters.dead_letters = 2;
  LoopGauges gauges;
  gauges.sessions = 3;
  gauges.broker_certificate_not_after_ms = 10'000;
  gauges.crl_next_update_ms = 4'000;
  metrics.publish(counters, gauges);
  const std::string text = metrics.render(1'000);
  CHECK_THAT(text, Catch::Contains("# TYPE fpx_messages_accepted_total counter\nfpx_messages_accepted_total 7\n"));
  CHECK_THAT(text, Catch::Contains("\nfpx_dead_letters_total 2\n"));
  CHECK_THAT(text, Catch::Contains("\nfpx_sessions 3\n"));
  CHECK_THAT(text, Catch::Contains("fpx_certificate_expiry_seconds{certificate=\"broker\"} 9\n"));
  CHECK_THAT(text, Catch::Contains("\nfpx_crl_next_update_seconds 3\n"));
  CHECK_THAT(text, Catch::Contains("fpx_receipt_latency_seconds_bucket{le=\"+Inf\"} 0\n"));
  CHECK_THAT(text, Catch::Contains("\nfpx_metrics_published 1\n"));
}

TEST_CASE("a listen address is HOST:PORT and anything else is refused with what to write") {
  auto v4 = parse_listen_address("127.0.0.1:9464");
  REQUIRE(v4.ok());
  CHECK(v4->host == "127.0.0.1");
  CHECK(v4->port == 9464);
  auto v6 = parse_listen_address("[::1]:0");
  REQUIRE(v6.ok());
  CHECK(v6->host == "::1");
  for (const char* bad : {"9464", ":9464", "host:", "host:65536", "host:12a", "[::1:80"}) {
    INFO(bad);
    auto parsed = parse_listen_address(bad);
    REQUIRE(!parsed.ok());
    CHECK_THAT(parsed.error().message, Catch::Contains("HOST:PORT"));
  }
}

TEST_CASE("retention periods read years days hours minutes and seconds and refuse the rest") {
  CHECK(*parse_retention_period("5y") == 5LL * 365 * 24 * 3600 * 1000);
  CHECK(*parse_retention_period("90d") == 90LL * 24 * 3600 * 1000);
  CHECK(*parse_retention_period("12h") == 12LL * 3600 * 1000);
  CHECK(*parse_retention_period("10s") == 10'000);
  for (const char* bad : {"", "5", "y", "0d", "5w", "101y", "-1d"}) {
    INFO(bad);
    CHECK(!parse_retention_period(bad).ok());
  }
}

TEST_CASE("a configuration's retention keys must be message types and its metrics address HOST:PORT") {
  const std::string base =
      "[pki]\nroot_ca = \"r\"\ncrl_dir = \"c\"\nenrolled_dir = \"e\"\n[identity]\ndir = \"i\"\n"
      "[storage]\ndatabase = \"s.db\"\n";
  auto parsed = parse_broker_config(base + "[metrics]\nlisten = \"nowhere\"\n[retention]\ntracing_request = \"5y\"\n"
                                           "no_such_type = \"1y\"\nalert = \"forever\"\n",
                                    "broker.toml");
  REQUIRE(!parsed.ok());
  auto has = [&](const std::string& path) {
    for (const auto& field : parsed.error().field_errors) {
      if (field.path == path) return true;
    }
    return false;
  };
  CHECK(has("metrics.listen"));
  CHECK(has("retention.no_such_type"));
  CHECK(has("retention.alert"));
  CHECK(!has("retention.tracing_request"));
}

TEST_CASE("the metrics server answers GET /metrics with the current exposition over real HTTP") {
  BrokerMetrics metrics;
  BrokerCounters counters;
  counters.accepted = 41;
  metrics.publish(counters, {});
  auto server = MetricsServer::start("127.0.0.1:0", metrics);
  REQUIRE(server.ok());
  httplib::Client http("127.0.0.1", (*server)->port());
  auto response = http.Get("/metrics");
  REQUIRE(response);
  CHECK(response->status == 200);
  CHECK_THAT(response->body, Catch::Contains("\nfpx_messages_accepted_total 41\n"));
  counters.accepted = 42;
  metrics.publish(counters, {});
  response = http.Get("/metrics");
  REQUIRE(response);
  CHECK_THAT(response->body, Catch::Contains("\nfpx_messages_accepted_total 42\n"));
}
