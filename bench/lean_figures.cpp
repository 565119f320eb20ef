#include "lean_figures.hpp"

#include <charconv>

namespace fpx::bench {

namespace {

constexpr std::string_view kCountersTag = "counters since start: ";
constexpr std::string_view kStageTag = "stage cpu us: ";

// The rest of the line that holds the last occurrence of `tag` in `log`.
std::optional<std::string_view> last_line_after(std::string_view log, std::string_view tag) {
  const auto at = log.rfind(tag);
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view rest = log.substr(at + tag.size());
  if (const auto end = rest.find('\n'); end != std::string_view::npos) rest = rest.substr(0, end);
  return rest;
}

std::optional<std::int64_t> to_int(std::string_view text) {
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end == text.data()) return std::nullopt;
  return value;
}

// "accepted 12" in "accepted 12, duplicates 0, ...": the number after the
// word that begins an item (after the start or ", "), so "commits" does not
// match inside another name.
std::optional<std::int64_t> counter(std::string_view line, std::string_view name) {
  for (std::size_t from = 0;;) {
    const auto at = line.find(name, from);
    if (at == std::string_view::npos) return std::nullopt;
    const bool starts_item = at == 0 || (at >= 2 && line.substr(at - 2, 2) == ", ");
    const std::size_t value_at = at + name.size();
    if (starts_item && value_at < line.size() && line[value_at] == ' ') return to_int(line.substr(value_at + 1));
    from = at + 1;
  }
}

}  // namespace

std::optional<BrokerCounters> parse_counters(std::string_view log) {
  const auto line = last_line_after(log, kCountersTag);
  if (!line) return std::nullopt;
  const auto accepted = counter(*line, "accepted");
  const auto commits = counter(*line, "commits");
  if (!accepted || !commits) return std::nullopt;
  return BrokerCounters{*accepted, *commits};
}

std::optional<StageCpu> parse_stage_cpu(std::string_view log) {
  const auto line = last_line_after(log, kStageTag);
  if (!line) return std::nullopt;
  StageCpu stages;
  bool have_messages = false;
  std::string_view rest = *line;
  while (!rest.empty()) {
    const auto space = rest.find(' ');
    const std::string_view item = rest.substr(0, space);
    rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
    if (item.empty()) continue;
    const auto equals = item.find('=');
    if (equals == std::string_view::npos || equals == 0) return std::nullopt;
    const auto value = to_int(item.substr(equals + 1));
    if (!value) return std::nullopt;
    const std::string_view name = item.substr(0, equals);
    if (name == "messages") {
      stages.messages = *value;
      have_messages = true;
    } else {
      stages.stage_us.emplace_back(std::string(name), *value);
    }
  }
  if (!have_messages || stages.stage_us.empty()) return std::nullopt;
  return stages;
}

std::optional<double> metric_sample(std::string_view exposition, std::string_view name_and_labels) {
  while (!exposition.empty()) {
    const auto end = exposition.find('\n');
    const std::string_view line = exposition.substr(0, end);
    exposition = end == std::string_view::npos ? std::string_view() : exposition.substr(end + 1);
    if (line.size() <= name_and_labels.size() || line.substr(0, name_and_labels.size()) != name_and_labels ||
        line[name_and_labels.size()] != ' ') {
      continue;
    }
    const std::string_view text = line.substr(name_and_labels.size() + 1);
    double value = 0;
    const auto [at, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || at == text.data()) return std::nullopt;
    return value;
  }
  return std::nullopt;
}

}  // namespace fpx::bench
