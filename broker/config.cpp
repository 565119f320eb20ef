#include "fpx/broker/config.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>
#include <fstream>
#include <iterator>
#include <optional>

#include <toml++/toml.h>

#include "fpx/broker/metrics.hpp"
#include "fpx/envelope.hpp"
#include "fpx/transparency_log.hpp"
#include "fpx/validate.hpp"

namespace fpx::broker {

namespace {

// Every message type's name (message_type_name), for the retention keys.
bool is_message_type_name(std::string_view name) {
  for (int value = 1; value < 256; ++value) {
    const auto type_name = message_type_name(static_cast<wire::MessageType>(value));
    if (type_name == "unknown") break;
    if (type_name == name) return true;
  }
  return false;
}

class ConfigReader {
 public:
  ConfigReader(const toml::table& table, std::filesystem::path base) : table_(table), base_(std::move(base)) {}

  std::vector<FieldError>& problems() { return problems_; }

  void text(const char* key, std::string& out, bool required) {
    auto node = table_.at_path(key);
    if (!node) {
      if (required) problems_.push_back({key, "is required"});
      return;
    }
    if (auto value = node.value<std::string>()) {
      out = *value;
    } else {
      problems_.push_back({key, "must be a string"});
    }
  }

  void path(const char* key, std::filesystem::path& out, bool required) {
    std::string value;
    text(key, value, required);
    if (value.empty()) return;
    std::filesystem::path candidate(value);
    out = candidate.is_absolute() ? candidate : base_ / candidate;
  }

  template <typename Number>
  void number(const char* key, Number& out, double minimum, double maximum) {
    auto node = table_.at_path(key);
    if (!node) return;  // defaults stand
    std::optional<double> value;
    // Read the node as its own type: toml++'s value<std::int64_t>() of a
    // float such as 1e300 is an out-of-range cast (undefined behaviour).
    if (const auto* integer = node.as_integer()) value = static_cast<double>(integer->get());
    else if (const auto* real = node.as_floating_point()) value = real->get();
    // nan passes every range check below (comparisons with it are false):
    // it would reach the limits as NaN, or as an undefined cast to an integer.
    if (!value || std::isnan(*value)) {
      problems_.push_back({key, "must be a number"});
    } else if (*value < minimum || *value > maximum) {
      problems_.push_back({key, "must be between " + std::to_string(static_cast<long long>(minimum)) + " and " +
                                    std::to_string(static_cast<long long>(maximum))});
    } else {
      out = static_cast<Number>(*value);
    }
  }

  void regions(std::map<std::string, std::vector<CountryCode>>& out) {
    auto node = table_.at_path("regions");
    if (!node) return;
    const toml::table* regions = node.as_table();
    if (regions == nullptr) {
      problems_.push_back({"regions", "must be a table of region = [\"SN\", ...]"});
      return;
    }
    for (const auto& [name, value] : *regions) {
      std::string key = "regions." + std::string(name.str());
      const toml::array* states = value.as_array();
      if (states == nullptr || states->empty()) {
        problems_.push_back({key, "must be a non-empty list of ISO 3166-1 alpha-2 codes"});
        continue;
      }
      std::vector<CountryCode> countries;
      for (const auto& state : *states) {
        auto code = state.value<std::string>();
        if (!code || !is_iso3166_alpha2(*code)) {
          problems_.push_back({key, "holds '" + code.value_or("?") + "', not an ISO 3166-1 alpha-2 code"});
          continue;
        }
        countries.emplace_back(*code);
      }
      out[std::string(name.str())] = std::move(countries);
    }
  }

  // oversight.statistics_period = "quarter"; the older list spelling
  // (statistics_periods) is taken when it names one period only.
  void statistics_period(StatisticsPeriod& out) {
    const char* key = "oversight.statistics_period";
    const char* list_key = "oversight.statistics_periods";
    std::optional<std::string> name;
    if (auto node = table_.at_path(key)) {
      name = node.value<std::string>();
      if (!name) problems_.push_back({key, "must be a period such as \"quarter\", \"month\" or \"10s\""});
    } else if (auto list = table_.at_path(list_key)) {
      const toml::array* names = list.as_array();
      if (names == nullptr || names->size() != 1 || !names->front().value<std::string>()) {
        problems_.push_back({list_key, "must name one period: overlapping periods let a reader subtract one "
                                       "from another and undo suppression; use statistics_period = \"quarter\""});
        return;
      }
      name = names->front().value<std::string>();
    }
    if (!name) return;
    auto period = parse_statistics_period(*name);
    if (!period) {
      problems_.push_back({key, period.error().message});
      return;
    }
    out = *period;
  }

  void retention(RetentionSettings& out) {
    auto node = table_.at_path("retention");
    if (!node) return;
    const toml::table* rules = node.as_table();
    if (rules == nullptr) {
      problems_.push_back({"retention", "must be a table of message_type = \"5y\""});
      return;
    }
    for (const auto& [name, value] : *rules) {
      const std::string key = "retention." + std::string(name.str());
      std::string type(name.str());
      std::replace(type.begin(), type.end(), '_', '-');
      if (!is_message_type_name(type)) {
        problems_.push_back({key, "is not a message type (e.g. tracing_request, alert, campaign_report)"});
        continue;
      }
      auto text = value.value<std::string>();
      auto period = parse_retention_period(text.value_or(""));
      if (!period) {
        problems_.push_back({key, period.error().message});
        continue;
      }
      out.rules[type] = RetentionRule{*period, *text};
    }
  }

  // [[witnesses]]: name, vkey, url. The name must be the vkey's (a typo
  // there would make every cosignature look like someone else's).
  void witnesses(std::vector<WitnessConfig>& out) {
    const char* key = "witnesses";
    auto node = table_.at_path(key);
    if (!node) return;
    const toml::array* entries = node.as_array();
    if (entries == nullptr) {
      problems_.push_back({key, "must be [[witnesses]] tables with name, vkey and url"});
      return;
    }
    if (entries->size() > kMaxWitnesses) {
      problems_.push_back({key, "lists more than " + std::to_string(kMaxWitnesses) + " witnesses"});
      return;
    }
    for (std::size_t i = 0; i < entries->size(); ++i) {
      const std::string where = "witnesses[" + std::to_string(i) + "]";
      const toml::table* entry = entries->get(i)->as_table();
      auto name = entry ? entry->get_as<std::string>("name") : nullptr;
      auto vkey = entry ? entry->get_as<std::string>("vkey") : nullptr;
      auto url = entry ? entry->get_as<std::string>("url") : nullptr;
      if (name == nullptr || vkey == nullptr || url == nullptr) {
        problems_.push_back({where, "needs name, vkey and url (strings); the vkey is printed by `fpx witness init`"});
        continue;
      }
      auto parsed = parse_witness_key(vkey->get());
      if (!parsed) {
        problems_.push_back({where + ".vkey", parsed.error().message});
        continue;
      }
      if (parsed->name != name->get()) {
        problems_.push_back({where + ".name", "is not the vkey's name (" + parsed->name + ")"});
        continue;
      }
      // Plain HTTP, as tlog-witness allows: a cosignature is signed, so the
      // transport needs no secrecy (the witness client has no TLS).
      if (!url->get().starts_with("http://")) {
        problems_.push_back({where + ".url", "must be http://HOST:PORT[/PREFIX]"});
        continue;
      }
      if (std::any_of(out.begin(), out.end(), [&](const auto& w) { return w.key.name == parsed->name; })) {
        problems_.push_back({where + ".name", "names a witness listed twice"});
        continue;
      }
      out.push_back(WitnessConfig{*parsed, url->get()});
    }
  }

  void must_exist(const char* key, const std::filesystem::path& value, bool directory) {
    if (value.empty()) return;
    std::error_code error;
    bool ok = directory ? std::filesystem::is_directory(value, error) : std::filesystem::is_regular_file(value, error);
    if (!ok) {
      problems_.push_back({key, value.string() + (directory ? " is not a directory" : " is not a readable file")});
    }
  }

 private:
  const toml::table& table_;
  std::filesystem::path base_;
  std::vector<FieldError> problems_;
};

constexpr std::int64_t kDayMs = 24LL * 3600 * 1000;

// A retention beyond a century is a typo (or "forever": leave the type out).
constexpr std::int64_t kMaxRetentionMs = 100LL * 365 * kDayMs;

}  // namespace

Result<std::int64_t> parse_retention_period(std::string_view text) {
  std::int64_t count = 0;
  std::size_t digits = 0;
  while (digits < text.size() && digits < 9 && text[digits] >= '0' && text[digits] <= '9') {
    count = count * 10 + (text[digits] - '0');
    ++digits;
  }
  const std::string_view unit = text.substr(digits);
  const std::int64_t unit_ms = unit == "s"   ? 1000
                               : unit == "m" ? 60'000
                               : unit == "h" ? 3'600'000
                               : unit == "d" ? kDayMs
                               : unit == "y" ? 365 * kDayMs
                                             : 0;
  if (digits == 0 || count == 0 || unit_ms == 0 || count * unit_ms > kMaxRetentionMs) {
    std::string message = "'";
    message.append(text).append("' is not a retention period: use a length such as \"5y\", \"90d\" or \"12h\" "
                                "(at most 100y); leave the type out to keep its messages");
    return make_error(ErrorCode::invalid_argument, std::move(message));
  }
  return count * unit_ms;
}

Result<StatisticsPeriod> parse_statistics_period(std::string_view name) {
  if (name == "quarter" || name == "month" || name == "day") return StatisticsPeriod{std::string(name), 0};
  // A fixed length: digits and one unit letter.
  std::int64_t count = 0;
  std::size_t digits = 0;
  while (digits < name.size() && digits < 9 && name[digits] >= '0' && name[digits] <= '9') {
    count = count * 10 + (name[digits] - '0');
    ++digits;
  }
  const std::string_view unit = name.substr(digits);
  const std::int64_t unit_ms = unit == "s" ? 1000 : unit == "m" ? 60'000 : unit == "h" ? 3'600'000 : 0;
  if (digits == 0 || count == 0 || unit_ms == 0) {
    // Appended piece by piece: g++ 12 -O2 warns falsely (-Wrestrict) on "a" + b chains.
    std::string message = "'";
    message.append(name).append("' is not a period: use \"quarter\", \"month\", \"day\", or a length such as \"6h\", "
                                "\"15m\" or \"10s\"");
    return make_error(ErrorCode::invalid_argument, std::move(message));
  }
  return StatisticsPeriod{std::string(name), count * unit_ms};
}

std::int64_t StatisticsPeriod::start_of(std::int64_t at_ms) const {
  if (fixed_ms != 0) return at_ms - (at_ms % fixed_ms + fixed_ms) % fixed_ms;
  const std::int64_t day_start = at_ms - (at_ms % kDayMs + kDayMs) % kDayMs;
  if (name == "day") return day_start;
  const std::time_t seconds = static_cast<std::time_t>(day_start / 1000);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  parts.tm_mday = 1;
  if (name == "quarter") parts.tm_mon -= parts.tm_mon % 3;  // January, April, July, October
  return static_cast<std::int64_t>(timegm(&parts)) * 1000;
}

std::int64_t StatisticsPeriod::end_of(std::int64_t start_ms) const {
  if (fixed_ms != 0) return start_ms + fixed_ms;
  if (name == "day") return start_ms + kDayMs;
  const std::time_t seconds = static_cast<std::time_t>(start_ms / 1000);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  parts.tm_mday = 1;
  parts.tm_mon += name == "quarter" ? 3 : 1;  // timegm normalises December + 1 into January
  return static_cast<std::int64_t>(timegm(&parts)) * 1000;
}

Result<BrokerConfig> load_broker_config(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::invalid_argument, "cannot read the configuration file " + path.string());
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_broker_config(text, path);
}

Result<ListenAddress> parse_listen_address(std::string_view listen) {
  auto invalid = [&] {
    std::string message = "metrics listen address '";
    message.append(listen).append("' is not HOST:PORT (e.g. 127.0.0.1:9464); use \"\" to disable metrics");
    return make_error(ErrorCode::invalid_argument, std::move(message));
  };
  const auto colon = listen.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return invalid();
  std::string_view host = listen.substr(0, colon);
  const std::string_view port_text = listen.substr(colon + 1);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return invalid();
    host = host.substr(1, host.size() - 2);
  }
  int port = -1;
  const auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (error != std::errc() || end != port_text.data() + port_text.size() || port < 0 || port > 65535) return invalid();
  return ListenAddress{std::string(host), port};
}

Result<BrokerConfig> parse_broker_config(std::string_view text, const std::filesystem::path& path) {
  toml::table table;
  try {
    table = toml::parse(text, path.string());
  } catch (const toml::parse_error& error) {
    const auto& where = error.source().begin;
    return make_error(ErrorCode::invalid_argument, path.string() + ":" + std::to_string(where.line) + ":" +
                                                       std::to_string(where.column) + ": " +
                                                       std::string(error.description()));
  }
  BrokerConfig config;
  config.source = path;
  ConfigReader read(table, path.parent_path());
  read.text("participants.endpoint", config.participants_endpoint, false);
  read.text("observers.endpoint", config.oversight.observers_endpoint, false);
  read.text("oversight.origin", config.oversight.origin, false);
  read.number("oversight.checkpoint_every_ms", config.oversight.checkpoint_every_ms, 100, 24.0 * 3600 * 1000);
  read.statistics_period(config.oversight.statistics_period);
  read.number("oversight.suppression_threshold", config.oversight.suppression_threshold, 1, 1000);
  read.number("oversight.protection_range", config.oversight.protection_range, 1, 1000);
  read.number("oversight.periods_per_year", config.oversight.periods_per_year, 0, 1000);
  // reveal_after_ms: the older name of the same wait (there is no reveal any more).
  read.number("oversight.reveal_after_ms", config.oversight.publish_after_ms, 0, 3650.0 * 24 * 3600 * 1000);
  read.number("oversight.publish_after_ms", config.oversight.publish_after_ms, 0, 3650.0 * 24 * 3600 * 1000);
  read.number("oversight.witness_timeout_ms", config.oversight.witness_timeout_ms, 100, 120'000);
  read.witnesses(config.witnesses);
  read.path("pki.root_ca", config.root_ca, true);
  read.path("pki.crl_dir", config.crl_dir, true);
  read.path("pki.enrolled_dir", config.enrolled_dir, true);
  read.path("identity.dir", config.identity_dir, true);
  read.text("identity.passphrase_file", config.passphrase_file, false);
  read.text("identity.passphrase_env", config.passphrase_env, false);
  std::string backend = "sqlite";
  read.text("store.backend", backend, false);
  read.text("store.dsn", config.store_dsn, false);
  // Below 500 ms a loaded machine's scheduling alone would hand the lead
  // back and forth; above a minute a paused leader stops the exchange that long.
  read.number("store.lease_ms", config.store_lease_ms, 500, 60'000);
  read.text("store.holder", config.store_holder, false);
  if (backend == "postgres") {
    config.store_backend = StoreBackend::postgres;
    if (config.store_dsn.empty()) {
      read.problems().push_back({"store.dsn", "is required with backend = \"postgres\" (e.g. \"host=/run/postgresql "
                                              "dbname=fpx user=fpx\"; a password goes in a passfile, never here)"});
    }
  } else if (backend != "sqlite") {
    read.problems().push_back({"store.backend", "must be \"sqlite\" or \"postgres\""});
  }
  read.path("storage.database", config.database, config.store_backend == StoreBackend::sqlite);
  read.text("log.level", config.log_level, false);
  read.regions(config.regions);
  read.text("metrics.listen", config.metrics.listen, false);
  read.retention(config.retention);

  auto& limits = config.limits;
  read.number("limits.max_message_bytes", limits.max_message_bytes, 4096, 64.0 * 1024 * 1024);
  read.number("limits.rate_per_second", limits.rate_per_second, 0.1, 1e6);
  read.number("limits.burst", limits.burst, 1, 1e6);
  read.number("limits.bytes_per_second", limits.bytes_per_second, 4096, 1e10);
  read.number("limits.burst_bytes", limits.burst_bytes, 4096, 1e11);
  read.number("limits.quota_bytes_per_day", limits.quota_bytes_per_day, 4096, 1e13);
  read.number("limits.stored_bytes_per_minute", limits.stored_bytes_per_minute, 4096, 1e13);
  read.number("limits.stored_burst_bytes", limits.stored_burst_bytes, 4096, 1e13);
  read.number("limits.batch_max", limits.batch_max, 1, 100000);
  read.number("limits.batch_share", limits.batch_share, 1, 100000);
  read.number("limits.verify_workers", limits.verify_workers, 0, static_cast<double>(kMaxVerifyWorkers));
  read.number("limits.max_in_flight", limits.max_in_flight, 1, 100000);
  read.number("limits.max_watched_serials_per_alert", limits.max_watched_serials_per_alert, 1, 1000000);
  read.number("limits.max_watched_serials_per_state", limits.max_watched_serials_per_state, 1, 100000000);
  auto& timing = config.timing;
  constexpr double kYearMs = 366.0 * 24 * 3600 * 1000;
  read.number("timing.max_message_age_ms", timing.max_message_age_ms, 1000, kYearMs);
  read.number("timing.max_clock_skew_ms", timing.max_clock_skew_ms, 0, 24.0 * 3600 * 1000);
  read.number("timing.hold_ms", timing.hold_ms, 1000, 10 * kYearMs);
  read.number("timing.tracing_request_hold_ms", timing.tracing_request_hold_ms, 1000, 10 * kYearMs);
  read.number("timing.resend_after_ms", timing.resend_after_ms, 100, 24.0 * 3600 * 1000);
  read.number("timing.handshake_ivl_ms", timing.handshake_ivl_ms, 100, 600000);
  read.number("timing.heartbeat_ivl_ms", timing.heartbeat_ivl_ms, 100, 600000);
  read.number("timing.heartbeat_timeout_ms", timing.heartbeat_timeout_ms, 100, 3600000);
  read.number("timing.checkpoint_every_ms", timing.checkpoint_every_ms, 10, 3600000);
  read.number("timing.group_commit_wait_ms", timing.group_commit_wait_ms, 0, 1000);

  auto& clocks = config.clocks;
  read.number("clocks.urgent_acknowledge_ms", clocks.urgent_acknowledge_ms, 60000, kYearMs);
  read.number("clocks.urgent_respond_ms", clocks.urgent_respond_ms, 60000, kYearMs);
  read.number("clocks.routine_acknowledge_ms", clocks.routine_acknowledge_ms, 60000, kYearMs);
  read.number("clocks.routine_respond_ms", clocks.routine_respond_ms, 60000, kYearMs);
  read.number("clocks.warning_acknowledge_ms", clocks.warning_acknowledge_ms, 60000, kYearMs);
  read.number("clocks.scan_every_ms", clocks.scan_every_ms, 100, 3600000);

  if (!config.participants_endpoint.starts_with("tcp://") && !config.participants_endpoint.starts_with("ipc://")) {
    read.problems().push_back({"participants.endpoint", "must be tcp://HOST:PORT or ipc://PATH"});
  }
  if (!config.oversight.observers_endpoint.starts_with("tcp://") &&
      !config.oversight.observers_endpoint.starts_with("ipc://")) {
    read.problems().push_back({"observers.endpoint", "must be tcp://HOST:PORT or ipc://PATH"});
  }
  if (!valid_note_key_name(config.oversight.origin)) {
    read.problems().push_back({"oversight.origin", "must be a non-empty name without spaces or '+', e.g. fpx.exchange/log"});
  }
  if (!config.metrics.listen.empty()) {
    if (auto address = parse_listen_address(config.metrics.listen); !address) {
      read.problems().push_back({"metrics.listen", address.error().message});
    }
  }
  if (!config.passphrase_file.empty() && !config.passphrase_env.empty()) {
    read.problems().push_back({"identity", "give passphrase_file or passphrase_env, not both"});
  }
  if (config.log_level != "trace" && config.log_level != "debug" && config.log_level != "info" &&
      config.log_level != "warn" && config.log_level != "error") {
    read.problems().push_back({"log.level", "must be trace, debug, info, warn or error"});
  }
  read.must_exist("pki.root_ca", config.root_ca, false);
  read.must_exist("pki.crl_dir", config.crl_dir, true);
  read.must_exist("pki.enrolled_dir", config.enrolled_dir, true);
  read.must_exist("identity.dir", config.identity_dir, true);
  if (!config.database.empty()) read.must_exist("storage.database (its directory)", config.database.parent_path(), true);

  // Keys this version does not know are probably typos: say so.
  static const std::vector<std::string> kKnownTables = {"participants", "pki", "identity", "storage", "store", "log",
                                                        "regions", "limits", "timing", "clocks", "observers", "oversight",
                                                        "metrics", "retention", "witnesses"};
  for (const auto& [key, value] : table) {
    if (std::find(kKnownTables.begin(), kKnownTables.end(), std::string(key.str())) == kKnownTables.end()) {
      read.problems().push_back({std::string(key.str()), "is not an option of this broker (typo?)"});
    }
  }

  if (!read.problems().empty()) {
    Error error = make_error(ErrorCode::invalid_argument,
                             path.string() + " has " + std::to_string(read.problems().size()) + " problem(s)");
    error.field_errors = std::move(read.problems());
    return error;
  }
  return config;
}

}  // namespace fpx::broker
