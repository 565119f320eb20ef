// libFuzzer target for the broker's configuration reader (TOML through
// toml++, then our checks): parse_broker_config, which load_broker_config
// calls with the file's text.
//
// The text is read as if it were <scratch>/broker.toml, where the scratch
// directory holds the files and directories deploy/broker.toml names, so a
// well-formed config can get all the way through the checks. Checks: a
// refusal is invalid_argument with a message; an accepted config has every
// number inside the range the reader promises (in particular no NaN, which
// compares false with every bound).
//
// The same function also runs under g++ as the ctest replay_broker_config_corpus.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fpx/broker/config.hpp"
#include "fuzz_temp_dir.hpp"

namespace {

struct FuzzState {
  fpx::fuzz::FuzzTempDir dir{"fpx-fuzz-config"};
  std::filesystem::path config_path;

  FuzzState() {
    const auto& base = dir.path();
    std::filesystem::create_directories(base / "pki/crls");
    std::filesystem::create_directories(base / "pki/participants/exchange.broker");
    std::filesystem::create_directories(base / "enrolled");
    fpx::fuzz::write_file(base / "pki/root-ca.pem", "", 0);
    config_path = base / "broker.toml";
  }
};

FuzzState& state() {
  static FuzzState instance;
  return instance;
}

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "broker_config_fuzz: %s: %s\n", what, detail.c_str());
  std::abort();
}

template <typename Number>
void check_range(const char* key, Number value, double minimum, double maximum) {
  const auto as_double = static_cast<double>(value);
  if (!std::isfinite(as_double) || as_double < minimum || as_double > maximum) {
    fail("accepted a number out of its range", std::string(key) + " = " + std::to_string(as_double));
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  (void)state();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = fpx::broker::parse_broker_config(text, state().config_path);
  if (!config) {
    if (config.error().code != fpx::ErrorCode::invalid_argument) fail("unexpected code", config.error().describe());
    if (config.error().message.empty()) fail("refusal without a message", config.error().describe());
    return 0;
  }
  // The ranges load_broker_config enforces (broker/config.cpp).
  const auto& limits = config->limits;
  check_range("limits.max_message_bytes", limits.max_message_bytes, 4096, 64.0 * 1024 * 1024);
  check_range("limits.rate_per_second", limits.rate_per_second, 0.1, 1e6);
  check_range("limits.burst", limits.burst, 1, 1e6);
  check_range("limits.batch_max", limits.batch_max, 1, 100000);
  check_range("limits.max_in_flight", limits.max_in_flight, 1, 100000);
  constexpr double kYearMs = 366.0 * 24 * 3600 * 1000;
  const auto& timing = config->timing;
  check_range("timing.max_message_age_ms", timing.max_message_age_ms, 1000, kYearMs);
  check_range("timing.max_clock_skew_ms", timing.max_clock_skew_ms, 0, 24.0 * 3600 * 1000);
  check_range("timing.hold_ms", timing.hold_ms, 1000, 10 * kYearMs);
  check_range("timing.resend_after_ms", timing.resend_after_ms, 100, 24.0 * 3600 * 1000);
  check_range("timing.heartbeat_timeout_ms", timing.heartbeat_timeout_ms, 100, 3600000);
  const auto& clocks = config->clocks;
  check_range("clocks.urgent_acknowledge_ms", clocks.urgent_acknowledge_ms, 60000, kYearMs);
  check_range("clocks.scan_every_ms", clocks.scan_every_ms, 100, 3600000);
  check_range("oversight.checkpoint_every_ms", config->oversight.checkpoint_every_ms, 100, 24.0 * 3600 * 1000);
  for (const auto& [region, states] : config->regions) {
    if (states.empty()) fail("accepted an empty region", region);
  }
  return 0;
}
