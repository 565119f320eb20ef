// fpx-bench --lean reads the broker's counters and per-stage CPU from its
// log; these are the lines the broker writes (broker/broker.cpp).
#include <catch2/catch.hpp>

#include "bench/lean_figures.hpp"

using fpx::bench::parse_counters;
using fpx::bench::parse_stage_cpu;

namespace {

const char* const kCountersLine =
    "[2026-12-07 00:10:00.000] [info] counters since start: accepted 20100, duplicates 0, refused 0 "
    "(rate_limited 0), deliveries sent 20100, confirmed 20100, dead letters 0, ZAP refusals 0, failed handshakes 0, "
    "sessions taken over 0, internal errors 0, commits 812, observer replies dropped 0\n";

}  // namespace

TEST_CASE("The counters line at stop gives accepted messages and commits") {
  const std::string log = std::string("[info] broker ready\n") +
                          "[info] counters since start: accepted 5, duplicates 0, commits 3, observer replies dropped 0\n" +
                          kCountersLine + "[info] broker stopped cleanly\n";
  const auto counters = parse_counters(log);
  REQUIRE(counters);
  CHECK(counters->accepted == 20100);  // the last line, not the first
  CHECK(counters->commits == 812);
}

TEST_CASE("A log without a counters line gives no counters") {
  CHECK_FALSE(parse_counters("[info] broker ready\n[info] broker stopped cleanly\n"));
  CHECK_FALSE(parse_counters("[info] counters since start: accepted many, commits 3\n"));
}

TEST_CASE("The stage cpu line gives the message count and every stage in order") {
  const std::string log =
      "[info] broker ready\n"
      "[info] stage cpu us: messages=20000 decode=100000 open=1700000 authorize=20000 validate=90000 dedupe=30000 "
      "persist=400000 receipt=60000 account=50000 commit=300000 route=80000\n"
      "[info] broker stopped cleanly\n";
  const auto stages = parse_stage_cpu(log);
  REQUIRE(stages);
  CHECK(stages->messages == 20000);
  REQUIRE(stages->stage_us.size() == 10);
  CHECK(stages->stage_us.front().first == "decode");
  CHECK(stages->stage_us.front().second == 100000);
  CHECK(stages->stage_us[1].first == "open");
  CHECK(stages->stage_us[1].second == 1700000);
  CHECK(stages->stage_us.back().first == "route");
  CHECK(stages->stage_us.back().second == 80000);
}

TEST_CASE("A missing or garbled stage cpu line gives no breakdown") {
  CHECK_FALSE(parse_stage_cpu(kCountersLine));
  CHECK_FALSE(parse_stage_cpu("[info] stage cpu us: decode=1 open=2\n"));          // no message count
  CHECK_FALSE(parse_stage_cpu("[info] stage cpu us: messages=10\n"));             // no stage
  CHECK_FALSE(parse_stage_cpu("[info] stage cpu us: messages=10 decode=x open=2\n"));  // not a number
}

TEST_CASE("A metrics exposition gives the value of the series named whole and nothing for a prefix") {
  const std::string exposition =
      "# HELP fpx_commits_total Store transactions committed by the loop.\n"
      "# TYPE fpx_commits_total counter\n"
      "fpx_commits_total 812\n"
      "fpx_durable_commits_total 97\n"
      "fpx_stage_cpu_seconds_total{stage=\"open\"} 1.75\n"
      "fpx_stage_cpu_seconds_total{stage=\"open_more\"} 9\n";
  using fpx::bench::metric_sample;
  CHECK(metric_sample(exposition, "fpx_commits_total") == 812.0);
  CHECK(metric_sample(exposition, "fpx_durable_commits_total") == 97.0);
  CHECK(metric_sample(exposition, "fpx_stage_cpu_seconds_total{stage=\"open\"}") == 1.75);
  CHECK_FALSE(metric_sample(exposition, "fpx_durable_commits"));  // a prefix of a name is not the series
  CHECK_FALSE(metric_sample(exposition, "fpx_absent_total"));
  CHECK_FALSE(metric_sample("fpx_commits_total many\n", "fpx_commits_total"));
}
