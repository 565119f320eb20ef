#include "report_html.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

namespace fpx::cli::report {

namespace {

// Chart geometry, in SVG user units (CSS pixels at 100 %).
constexpr double kWidth = 760;
constexpr double kLabelWidth = 220;  // row labels, right-aligned before the plot
constexpr double kPlotX = 230;
constexpr double kPlotWidth = 360;  // leaves room for the value after the longest bar
constexpr double kBarHeight = 14;
constexpr double kBarGap = 3;
constexpr double kRowGap = 12;
constexpr double kLegendHeight = 26;
constexpr double kAxisHeight = 30;
constexpr double kMinMark = 2;  // a zero value is still a visible mark, not nothing
// Long periods (e.g. "10s" over a day) would list thousands of periods.
constexpr std::size_t kMaxPeriodsListed = 12;

std::string number(double value) {
  char text[32];
  if (std::isfinite(value) && std::floor(value) == value && std::fabs(value) < 1e15) {
    std::snprintf(text, sizeof text, "%.0f", value);
  } else {
    std::snprintf(text, sizeof text, "%.1f", value);
  }
  return text;
}

// Lines a row takes: one per bar, one for a note beside bars, at least one.
std::size_t lines_of(const Row& row) {
  if (row.bars.empty()) return 1;
  return row.bars.size() + (row.note.empty() ? 0 : 1);
}

std::string count_text(const Count& count) {
  return count ? std::to_string(*count) : std::string("suppressed");
}

struct Axis {
  double max = 1;
  double step = 1;
};

// An axis people can read: at most 5 steps of 1, 2 or 5 times a power of
// ten, never less than 1 (counts and whole hours need no fractions).
Axis axis_for(double value) {
  if (!(value > 1)) return {};
  for (double power = 1;; power *= 10) {
    for (double step : {1.0, 2.0, 5.0}) {
      const double steps = std::ceil(value / (step * power));
      if (steps <= 5) return {steps * step * power, step * power};
    }
  }
}

// "ongoing_investigation" -> "ongoing investigation"
std::string words(std::string name) {
  std::replace(name.begin(), name.end(), '_', ' ');
  std::replace(name.begin(), name.end(), '-', ' ');
  return name;
}

// The rows the charts draw: each requested state (all requesters
// together), then each pair of states, then the total.
std::vector<const RowStatistics*> chart_rows(const StatisticsRecord& statistics) {
  std::vector<const RowStatistics*> rows = statistics.table("byRequested");
  for (const auto* row : statistics.table("pairs")) rows.push_back(row);
  for (const auto* row : statistics.table("total")) rows.push_back(row);
  return rows;
}

std::string suppressed_note(std::int64_t threshold, const char* what) {
  std::string note = "suppressed: fewer than ";
  return note.append(std::to_string(threshold)).append(" ").append(what);
}

// Appends an element's opening tag with escaped attribute values.
class Markup {
 public:
  Markup& open(std::string_view tag, std::initializer_list<std::pair<std::string_view, std::string>> attributes = {}) {
    out_.append("<").append(tag);
    for (const auto& [name, value] : attributes)
      out_.append(" ").append(name).append("=\"").append(html_escape(value)).append("\"");
    out_.append(">");
    return *this;
  }
  Markup& close(std::string_view tag) {
    out_.append("</").append(tag).append(">");
    return *this;
  }
  Markup& text(std::string_view text) {
    out_.append(html_escape(text));
    return *this;
  }
  // An element holding only text.
  Markup& element(std::string_view tag, std::string_view text,
                  std::initializer_list<std::pair<std::string_view, std::string>> attributes = {}) {
    return open(tag, attributes).text(text).close(tag);
  }
  // Markup this file wrote itself (never record text).
  Markup& raw(std::string_view markup) {
    out_.append(markup);
    return *this;
  }
  const std::string& str() const { return out_; }

 private:
  std::string out_;
};

// ---- the charts of the page -----------------------------------------------------

// A share of a row's requests, as a bar; a suppressed count is a note instead.
void share_bar(Row& row, const RowStatistics& of, const char* series, const Count& count, const char* what,
               std::int64_t threshold) {
  if (!count) {
    row.note.append(row.note.empty() ? "" : "; ").append(suppressed_note(threshold, what));
    return;
  }
  const double percent = 100.0 * static_cast<double>(*count) / static_cast<double>(*of.requests);
  std::string label = std::to_string(*count);
  label.append(" of ").append(std::to_string(*of.requests)).append(" (").append(number(std::round(percent))).append(" %)");
  row.bars.push_back({series, percent, std::move(label)});
}

// Rows of share bars over `chart_rows`: a row whose requests are suppressed
// or zero has no bars, only its note.
template <typename Bars>
void share_rows(BarChart& chart, const StatisticsRecord& statistics, Bars bars) {
  for (const auto* of : chart_rows(statistics)) {
    if (of->requests && *of->requests == 0) continue;  // no requests: nothing to draw
    Row row;
    row.label = of->label();
    if (!of->requests) {
      row.suppressed = true;
      row.note = suppressed_note(statistics.threshold, "requests");
      chart.rows.push_back(std::move(row));
      continue;
    }
    bars(row, *of);
    row.suppressed = row.bars.empty();
    chart.rows.push_back(std::move(row));
  }
}

// Durations as counts in bands, never as means or percentiles of small groups.
BarChart answer_bands_chart(const StatisticsRecord& statistics) {
  BarChart chart;
  chart.id = "chart-answer-bands";
  chart.title = "Requests answered in time";
  chart.description = "Share of tracing requests answered within the clock (routine " +
                      number(statistics.clocks.routine_respond) + " h, urgent " +
                      number(statistics.clocks.urgent_respond) +
                      " h), within 30 days, and at all, per requested state, per pair of states and in total.";
  chart.unit = "% of requests";
  chart.max = 100;
  chart.series = {{"within", "answered within the clock"}, {"days30", "answered within 30 days"},
                  {"answered", "answered at all"}};
  share_rows(chart, statistics, [&](Row& row, const RowStatistics& of) {
    share_bar(row, of, "within", of.answered_within_clock, "answered within the clock", statistics.threshold);
    share_bar(row, of, "days30", of.answered_within_30_days, "answered within 30 days", statistics.threshold);
    share_bar(row, of, "answered", of.answered, "answered", statistics.threshold);
  });
  return chart;
}

// The indicator in the spirit of SDG 16.4.2: of the tracings of seized,
// found or surrendered firearms (every request's recovery is one of the
// three), the share whose final answer established the illicit origin or
// context (point of diversion, or last legal holder). Numerator and
// denominator are published counts, suppressed like any other.
BarChart origin_established_chart(const StatisticsRecord& statistics) {
  BarChart chart;
  chart.id = "chart-origin-established";
  chart.title = "Illicit origin established by tracing (in the spirit of SDG 16.4.2)";
  chart.description =
      "Share of tracing requests for seized, found or surrendered firearms whose answer established the illicit "
      "origin or context (point of diversion established, or last legal holder identified), per requested state, "
      "per pair of states and in total.";
  chart.unit = "% of requests";
  chart.max = 100;
  chart.series = {{"established", "origin or context established"}};
  share_rows(chart, statistics, [&](Row& row, const RowStatistics& of) {
    share_bar(row, of, "established", of.origin_established, "with an origin established", statistics.threshold);
  });
  return chart;
}

BarChart acknowledgement_rate_chart(const StatisticsRecord& statistics) {
  BarChart chart;
  chart.id = "chart-acknowledgement-rates";
  chart.title = "Requests acknowledged within the clock";
  chart.description = "Share of tracing requests the requested state acknowledged within the clock (routine " +
                      number(statistics.clocks.routine_acknowledge) + " h, urgent " +
                      number(statistics.clocks.urgent_acknowledge) +
                      " h), and acknowledged at all, per requested state, per pair of states and in total.";
  chart.unit = "% of requests";
  chart.max = 100;
  chart.series = {{"within", "acknowledged within the clock"}, {"acknowledged", "acknowledged at all"}};
  share_rows(chart, statistics, [&](Row& row, const RowStatistics& of) {
    share_bar(row, of, "within", of.acknowledged_within_clock, "acknowledged within the clock", statistics.threshold);
    share_bar(row, of, "acknowledged", of.acknowledged, "acknowledged", statistics.threshold);
  });
  return chart;
}

// Across every period of the kind shown: requests and answers in total.
BarChart trend_chart(const std::vector<StatisticsRecord>& history, std::int64_t threshold) {
  BarChart chart;
  chart.id = "chart-trends";
  chart.title = "Trend across periods";
  chart.description = "Tracing requests, and those answered, in each period published, all states together.";
  chart.unit = "requests";
  chart.series = {{"requests", "requests"}, {"answered", "answered"}};
  for (const auto& record : history) {
    Row row;
    row.label = record.period_start.substr(0, 10) + " (" + record.period + ")";
    if (record.period_start.size() > 10 && record.period_start.substr(10) != "T00:00:00Z") {
      row.label = record.period_start + " (" + record.period + ")";
    }
    const auto total = record.table("total");
    for (const auto& [series, what] : {std::pair{"requests", "requests"}, std::pair{"answered", "answered"}}) {
      const Count count = total.empty() ? Count()
                          : std::string_view(series) == "requests" ? total.front()->requests
                                                                    : total.front()->answered;
      if (count) {
        row.bars.push_back({series, static_cast<double>(*count), std::to_string(*count) + " " + what});
      } else {
        row.note.append(row.note.empty() ? "" : "; ").append(suppressed_note(threshold, what));
      }
    }
    row.suppressed = row.bars.empty();
    chart.rows.push_back(std::move(row));
  }
  return chart;
}

BarChart refusal_grounds_chart(const StatisticsRecord& statistics) {
  BarChart chart;
  chart.id = "chart-refusal-grounds";
  chart.title = "Refusal grounds";
  chart.description =
      "Answers that refused or restricted a trace, counted by the ground given (the ITI's three), "
      "per requested state, per pair of states and in total; grounds no answer gave are left out.";
  chart.unit = "answers";
  chart.series = {{"count", "answers giving this ground"}};
  for (const auto* of : chart_rows(statistics)) {
    for (const auto& [ground, count] : of->refusal_grounds) {
      if (count && *count == 0) continue;
      Row row;
      row.label = of->label();
      row.label.append(": ").append(words(ground));
      if (count) {
        row.bars.push_back({"count", static_cast<double>(*count), std::to_string(*count)});
      } else {
        row.suppressed = true;
        row.note = suppressed_note(statistics.threshold, "answers");
      }
      chart.rows.push_back(std::move(row));
    }
  }
  return chart;
}

BarChart campaign_chart(const std::vector<CampaignReport>& campaigns) {
  BarChart chart;
  chart.id = "chart-campaigns";
  chart.title = "Weapons collected and destroyed per campaign";
  chart.description = "Weapons collected and destroyed in each campaign report published by a national commission.";
  chart.unit = "weapons";
  chart.series = {{"collected", "collected"}, {"destroyed", "destroyed"}};
  for (const auto& campaign : campaigns) {
    Row row;
    row.label = campaign.country;
    row.label.append(" ").append(campaign.period_start).append(" \u2013 ").append(campaign.period_end);
    row.bars.push_back({"collected", static_cast<double>(campaign.weapons_collected),
                        std::to_string(campaign.weapons_collected) + " collected"});
    std::string destroyed = std::to_string(campaign.weapons_destroyed);
    destroyed.append(" destroyed");
    if (campaign.weapons_collected > 0) {
      const double percent =
          100.0 * static_cast<double>(campaign.weapons_destroyed) / static_cast<double>(campaign.weapons_collected);
      destroyed.append(" (").append(number(std::round(percent))).append(" %)");
    }
    row.bars.push_back({"destroyed", static_cast<double>(campaign.weapons_destroyed), std::move(destroyed)});
    chart.rows.push_back(std::move(row));
  }
  return chart;
}

BarChart alert_chart(const std::vector<PublicAlert>& alerts) {
  std::map<std::pair<std::string, std::string>, int> counts;  // (kind, region) -> alerts
  for (const auto& alert : alerts) ++counts[{alert.alert_kind, alert.region}];
  BarChart chart;
  chart.id = "chart-alerts";
  chart.title = "Public alerts by kind and region";
  chart.description = "Redacted alerts their issuing state marked publishable, counted by kind and region.";
  chart.unit = "alerts";
  chart.series = {{"count", "alerts"}};
  for (const auto& [key, count] : counts) {
    Row row;
    row.label = words(key.first);
    row.label.append(" \u00b7 ").append(key.second);
    row.bars.push_back({"count", static_cast<double>(count), std::to_string(count)});
    chart.rows.push_back(std::move(row));
  }
  return chart;
}

// ---- page sections -------------------------------------------------------------

void figure(Markup& page, const BarChart& chart) {
  page.element("h3", chart.title);
  page.open("figure", {{"class", "chart"}});
  page.raw(svg_bar_chart(chart));
  page.element("figcaption", chart.description);
  page.close("figure");
}

void statistics_table(Markup& page, const StatisticsRecord& statistics) {
  auto cells = [](const std::vector<std::pair<std::string, Count>>& counts) {
    std::string text;
    for (const auto& [name, count] : counts) {
      if (count && *count == 0) continue;
      text.append(text.empty() ? "" : ", ").append(words(name)).append(": ").append(count_text(count));
    }
    return text.empty() ? std::string("\u2013") : text;
  };
  page.open("details", {{"class", "table"}}).element("summary", "The figures as a table");
  page.open("table").element("caption", "Every published table of the period (\u201csuppressed\u201d: fewer than " +
                                            std::to_string(statistics.threshold) +
                                            ", or a cell hidden so that no combination of the published figures "
                                            "reveals a small one)");
  page.raw("<thead><tr>");
  for (const char* heading : {"table", "row", "requests", "acknowledged", "ack. within the clock", "answered",
                              "answered within the clock", "answered within 30 days", "origin established",
                              "outcomes", "refusal grounds"}) {
    page.element("th", heading, {{"scope", "col"}});
  }
  page.raw("</tr></thead><tbody>");
  for (const auto& row : statistics.rows) {
    page.raw("<tr>").element("td", row.table).element("th", row.label(), {{"scope", "row"}});
    for (const Count* count : {&row.requests, &row.acknowledged, &row.acknowledged_within_clock, &row.answered,
                               &row.answered_within_clock, &row.answered_within_30_days,
                               &row.origin_established}) {
      page.element("td", count_text(*count), {{"class", *count ? "number" : "suppressed"}});
    }
    page.element("td", cells(row.outcomes)).element("td", cells(row.refusal_grounds));
    page.raw("</tr>");
  }
  page.raw("</tbody></table></details>");
}

// Issue 12: the states' statements on the period shown, beside its figures.
void statements_block(Markup& page, const ReportData& data, const StatisticsRecord& statistics) {
  const auto statements = data.statements_on(statistics);
  page.open("div", {{"id", "statements"}}).element("h3", "What the states say about their figures");
  if (statements.empty()) {
    page.element("p", "No state has published a statement on its figures for this period.", {{"class", "empty"}});
  }
  for (const auto* statement : statements) {
    page.open("figure", {{"class", "statement"}, {"data-country", statement->country}});
    page.element("blockquote", statement->text);
    page.element("figcaption", "Statement of " + statement->country + " on its figures for this period, signed by its "
                                   "focal point (feed record " + std::to_string(statement->sequence) + ")");
    page.close("figure");
  }
  page.close("div");
}

void statistics_section(Markup& page, const ReportData& data) {
  page.open("section", {{"id", "statistics"}}).element("h2", "How the exchange answers tracing requests");
  if (!data.statistics) {
    page.element("p",
                 "No statistics record has been saved yet: statistics of a period are published once, final, "
                 "some time after it ends. Run `fpx observe` again later.",
                 {{"class", "empty"}});
    page.close("section");
    return;
  }
  const StatisticsRecord& statistics = *data.statistics;
  page.open("p", {{"class", "period"}})
      .text("Period " + statistics.period + ": " + statistics.period_start + " to " + statistics.period_end + ". ")
      .open("strong")
      .text("Final figures")
      .close("strong")
      .text(" (each period is published once, as of " + statistics.as_of + ").")
      .close("p");
  page.element("p",
               "Cells counting fewer than " + std::to_string(statistics.threshold) +
                   " are suppressed and shown hatched as \u201csuppressed\u201d, never as zero; so are the further "
                   "cells that would let anyone work a small one out from everything the exchange has published "
                   "(sums, other tables, other periods): no suppressed cell can be narrowed to fewer than " +
                   std::to_string(statistics.protection_range) + " values.",
               {{"class", "note"}});
  figure(page, trend_chart(data.history, statistics.threshold));
  figure(page, answer_bands_chart(statistics));
  figure(page, acknowledgement_rate_chart(statistics));
  figure(page, origin_established_chart(statistics));
  auto grounds = refusal_grounds_chart(statistics);
  if (grounds.rows.empty()) {
    page.element("p", "No refusal ground is shown for this period (none given, or every count suppressed).",
                 {{"class", "empty"}});
  } else {
    figure(page, grounds);
  }
  statistics_table(page, statistics);
  statements_block(page, data, statistics);

  // Which periods the feed holds, so a reader knows what else there is (`--period`).
  page.open("p", {{"class", "note"}}).text("Statistics saved in the feed: ");
  const std::size_t skip = data.periods.size() > kMaxPeriodsListed ? data.periods.size() - kMaxPeriodsListed : 0;
  if (skip > 0) page.text(std::to_string(skip) + " earlier periods, then ");
  for (std::size_t i = skip; i < data.periods.size(); ++i) {
    const auto& seen = data.periods[i];
    page.text((i == skip ? "" : "; ") + seen.period + " from " + seen.period_start);
  }
  page.text(".");
  if (data.older_format_records > 0) {
    page.text(" " + std::to_string(data.older_format_records) +
              " statistics record(s) of the earlier scheme are not drawn: their suppression did not hold across "
              "overlapping periods.");
  }
  page.close("p");
  page.close("section");
}

// Civil society's early warnings (PROTOCOL.md §11 "Early warnings"): how
// many reached each state and how many its focal point acknowledged within
// the clock; never what they said.
void warning_section(Markup& page, const ReportData& data) {
  page.open("section", {{"id", "warnings"}}).element("h2", "Early warnings from civil society");
  const StatisticsRecord* shown = data.statistics ? &*data.statistics : nullptr;
  if (shown == nullptr || shown->warnings.empty()) {
    page.element("p", "No early warning from a civil-society organisation in the period shown.", {{"class", "empty"}})
        .close("section");
    return;
  }
  auto count = [](const Count& value) { return value ? std::to_string(*value) : std::string("suppressed"); };
  page.element("p", "Warnings sent by civil-society organisations to their own state's focal point from " +
                        shown->period_start + " to " + shown->period_end + ", and how many the focal point "
                        "acknowledged within " + std::to_string(static_cast<long long>(shown->warning_acknowledge_hours)) +
                        " hours. Counts under " + std::to_string(shown->threshold) +
                        " are suppressed, as every count of the feed.");
  page.raw("<table id=\"warnings-table\"><thead><tr>");
  for (const char* heading : {"state", "warnings", "acknowledged within the clock"}) {
    page.element("th", heading, {{"scope", "col"}});
  }
  page.raw("</tr></thead><tbody>");
  for (const auto& row : shown->warnings) {
    page.raw("<tr>").element("th", row.state.empty() ? std::string("all states") : row.state, {{"scope", "row"}});
    page.element("td", count(row.warnings), {{"class", "number"}});
    page.element("td", count(row.acknowledged_within_clock), {{"class", "number"}}).raw("</tr>");
  }
  page.raw("</tbody></table></section>");
}

void campaign_section(Markup& page, const ReportData& data) {
  page.open("section", {{"id", "campaigns"}}).element("h2", "Voluntary collection campaigns");
  if (data.campaigns.empty()) {
    page.element("p", "No campaign report has been published yet.", {{"class", "empty"}}).close("section");
    return;
  }
  figure(page, campaign_chart(data.campaigns));
  page.open("details", {{"class", "table"}}).element("summary", "The campaign reports as a table");
  page.raw("<table><thead><tr>");
  for (const char* heading :
       {"country", "commission", "regions", "period", "collected", "destroyed", "community partners", "feed record"}) {
    page.element("th", heading, {{"scope", "col"}});
  }
  page.raw("</tr></thead><tbody>");
  auto joined = [](const std::vector<std::string>& items) {
    std::string text;
    for (const auto& item : items) text.append(text.empty() ? "" : ", ").append(item);
    return text;
  };
  for (const auto& campaign : data.campaigns) {
    page.raw("<tr>").element("th", campaign.country, {{"scope", "row"}}).element("td", campaign.commission);
    page.element("td", joined(campaign.regions))
        .element("td", campaign.period_start + " \u2013 " + campaign.period_end);
    page.element("td", std::to_string(campaign.weapons_collected), {{"class", "number"}});
    page.element("td", std::to_string(campaign.weapons_destroyed), {{"class", "number"}});
    page.element("td", joined(campaign.community_partners));
    page.element("td", std::to_string(campaign.sequence), {{"class", "number"}}).raw("</tr>");
  }
  page.raw("</tbody></table></details></section>");
}

// Issue 12: an alert's status in words, for the list and the table.
std::string alert_status_text(const PublicAlert& alert, const std::string& status) {
  if (status == "cancelled") return "Cancelled by " + alert.issuing_country + " on " + *alert.cancelled_on;
  if (status == "expired") return "Expired: valid until " + alert.valid_until;
  return alert.valid_until.empty() ? std::string("Active") : "Active until " + alert.valid_until;
}

void alert_section(Markup& page, const ReportData& data, const PageContext& context) {
  page.open("section", {{"id", "alerts"}}).element("h2", "Public alerts");
  if (data.alerts.empty()) {
    page.element("p", "No publishable alert has been issued yet.", {{"class", "empty"}}).close("section");
    return;
  }
  figure(page, alert_chart(data.alerts));
  // Issue 12: each alert with the text its state wrote for the public, and
  // whether it still holds: cancelled (a record of the feed says so) or
  // expired (past its validUntil on the day this page was made).
  const std::string today = context.generated_at.substr(0, 10);
  page.element("p",
               "Whether an alert holds is as of " + today +
                   ": \u201cexpired\u201d is worked out by this page from the alert's published end date, "
                   "\u201ccancelled\u201d is the issuing state's cancellation, published on the feed.",
               {{"class", "note"}});
  page.open("ul", {{"class", "alert-list"}});
  for (const auto& alert : data.alerts) {
    const std::string status = alert_status(alert, today);
    page.open("li", {{"class", "alert " + status}, {"data-status", status}, {"data-sequence", std::to_string(alert.sequence)}});
    page.element("strong", words(alert.alert_kind) + " \u00b7 " + alert.issuing_country + " \u00b7 " + alert.region +
                               " \u00b7 " + alert.month);
    page.text(" ").element("span", alert_status_text(alert, status), {{"class", "alert-status"}});
    if (!alert.public_summary.empty()) {
      page.element("p", alert.public_summary, {{"class", "alert-summary"}});
    }
    if (status == "cancelled" && !alert.cancel_summary.empty()) {
      page.element("p", alert.cancel_summary, {{"class", "cancel-summary"}});
    }
    page.close("li");
  }
  page.close("ul");
  page.open("details", {{"class", "table"}}).element("summary", "The alerts as a table");
  page.raw("<table><thead><tr>");
  for (const char* heading : {"month", "kind", "issuing state", "region", "status", "public summary", "feed record"}) {
    page.element("th", heading, {{"scope", "col"}});
  }
  page.raw("</tr></thead><tbody>");
  for (const auto& alert : data.alerts) {
    page.raw("<tr>").element("th", alert.month, {{"scope", "row"}}).element("td", words(alert.alert_kind));
    page.element("td", alert.issuing_country).element("td", alert.region);
    page.element("td", alert_status_text(alert, alert_status(alert, today))).element("td", alert.public_summary);
    page.element("td", std::to_string(alert.sequence), {{"class", "number"}}).raw("</tr>");
  }
  page.raw("</tbody></table></details></section>");
}


void checkpoint_section(Markup& page, const ReportData& data, const PageContext& context) {
  page.open("section", {{"id", "checkpoint"}}).element("h2", "The transparency log this page was built from");
  if (!data.checkpoint) {
    page.element("p",
                 "No checkpoint record has been saved yet: run `fpx observe` once the broker has signed one, "
                 "then `fpx log verify`.",
                 {{"class", "empty"}});
    page.close("section");
    return;
  }
  const auto& checkpoint = *data.checkpoint;
  const auto& verified = context.log_verify;
  page.raw("<dl class=\"checkpoint\">");
  page.element("dt", "tree size").element("dd", std::to_string(checkpoint.tree_size), {{"class", "tree-size"}});
  page.element("dt", "root hash (SHA-256)").element("dd", checkpoint.root_hash, {{"class", "hash"}});
  page.element("dt", "feed record").element("dd", std::to_string(checkpoint.sequence));
  page.element("dt", "fpx log verify");
  std::string status;
  std::string css;
  if (verified.checked && verified.tree_size == checkpoint.tree_size && verified.root_hash == checkpoint.root_hash) {
    css = "verified";
    status =
        "\u2713 accepted this checkpoint: its signature, its consistency with the checkpoint accepted before (if "
        "any) and the inclusion of the saved records verified.";
  } else if (verified.checked && verified.tree_size > checkpoint.tree_size) {
    css = "verified";
    status = "\u2713 last accepted a later checkpoint (tree size " + std::to_string(verified.tree_size) +
             "), which it checks is consistent with this one.";
  } else if (verified.checked) {
    css = "unverified";
    status = "last accepted an earlier checkpoint (tree size " + std::to_string(verified.tree_size) +
             "): run `fpx log verify` to check this one.";
  } else {
    css = "unverified";
    status = verified.problem.empty()
                 ? "has not accepted a checkpoint yet: run `fpx log verify`."
                 : "its saved checkpoint could not be read (" + verified.problem + "): run `fpx log verify`.";
  }
  page.element("dd", status, {{"class", "log-verify " + css}});
  page.raw("</dl>");
  page.open("details").element("summary", "The signed checkpoint note").element("pre", checkpoint.note);
  page.raw("</details></section>");
}

constexpr std::string_view kStyle = R"(
:root { color-scheme: light; --ink: #1d2330; --muted: #5b6475; --line: #d9dee7; --paper: #ffffff; --band: #f4f6fa;
  --median: #1f5fa8; --p90: #8fb3de; --within: #1d7a4f; --acknowledged: #9fd3b6; --count: #8a4fb0;
  --collected: #b3541e; --destroyed: #f0a66e; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, "Segoe UI", Roboto, "Noto Sans", sans-serif; color: var(--ink);
  background: var(--band); }
header, main, footer { max-width: 980px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 28px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 0 0 10px; }
h3 { font-size: 15px; margin: 18px 0 0; }
.lead { color: var(--muted); margin: 0 0 18px; }
section { background: var(--paper); border: 1px solid var(--line); border-radius: 8px; padding: 18px 20px;
  margin: 0 0 18px; }
figure { margin: 14px 0; }
figure svg { max-width: 100%; height: auto; display: block; }
figcaption, .note { color: var(--muted); font-size: 13px; }
.empty { color: var(--muted); font-style: italic; }
table { border-collapse: collapse; font-size: 13px; margin-top: 8px; width: 100%; }
caption { text-align: left; color: var(--muted); padding-bottom: 4px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 6px; text-align: left; vertical-align: top; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
td.suppressed { color: var(--muted); font-style: italic; }
summary { cursor: pointer; color: var(--median); font-size: 13px; }
dl.checkpoint { display: grid; grid-template-columns: 12em 1fr; gap: 4px 12px; margin: 0 0 10px; }
dl.checkpoint dt { color: var(--muted); }
dl.checkpoint dd { margin: 0; }
.tree-size { font-size: 22px; font-weight: 600; }
.hash { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 13px; word-break: break-all; }
.verified { color: #1d7a4f; font-weight: 600; }
.unverified { color: #a4400b; font-weight: 600; }
pre { background: var(--band); padding: 8px; font-size: 12px; white-space: pre-wrap; word-break: break-all; }
svg text { font: 12px system-ui, "Segoe UI", Roboto, "Noto Sans", sans-serif; fill: var(--ink); }
svg .value { fill: var(--muted); }
svg .note { fill: var(--muted); font-style: italic; }
svg .grid { stroke: var(--line); }
svg .bar.median { fill: var(--median); } svg .bar.p90 { fill: var(--p90); }
svg .bar.within { fill: var(--within); } svg .bar.acknowledged { fill: var(--acknowledged); }
svg .bar.count { fill: var(--count); }
ul.alert-list { list-style: none; padding: 0; margin: 10px 0; }
ul.alert-list li { border-left: 4px solid var(--count); padding: 4px 10px; margin: 0 0 8px; }
ul.alert-list li.cancelled, ul.alert-list li.expired { border-left-color: var(--line); color: var(--muted); }
.alert-status { font-size: 13px; font-weight: 600; }
li.cancelled .alert-status { color: #a4400b; }
.alert-summary, .cancel-summary { margin: 2px 0 0; }
figure.statement { border-left: 4px solid var(--median); padding: 4px 12px; margin: 10px 0; }
figure.statement blockquote { margin: 0; font-style: italic; }
svg .bar.collected { fill: var(--collected); } svg .bar.destroyed { fill: var(--destroyed); }
svg .swatch.median { fill: var(--median); } svg .swatch.p90 { fill: var(--p90); }
svg .swatch.within { fill: var(--within); } svg .swatch.acknowledged { fill: var(--acknowledged); }
svg .swatch.count { fill: var(--count); }
svg .swatch.collected { fill: var(--collected); } svg .swatch.destroyed { fill: var(--destroyed); }
svg .suppressed rect { stroke: #9aa3b2; }
footer { color: var(--muted); font-size: 12px; padding-bottom: 28px; }
)";

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out.append("&amp;"); break;
      case '<': out.append("&lt;"); break;
      case '>': out.append("&gt;"); break;
      case '"': out.append("&quot;"); break;
      case '\'': out.append("&#39;"); break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string svg_bar_chart(const BarChart& chart) {
  Axis axis{chart.max, chart.max / 4};
  if (chart.max <= 0) {
    double largest = 0;
    for (const auto& row : chart.rows) {
      for (const auto& bar : row.bars) largest = std::max(largest, bar.value);
    }
    axis = axis_for(largest);
  }
  const double max = axis.max;
  // Row heights first: a row has one bar per value, or one line for its note.
  double height = kLegendHeight;
  for (const auto& row : chart.rows) {
    height += static_cast<double>(lines_of(row)) * (kBarHeight + kBarGap) - kBarGap + kRowGap;
  }
  height += kAxisHeight;
  const std::string title_id = chart.id + "-title";
  const std::string desc_id = chart.id + "-desc";
  const std::string hatch_id = chart.id + "-hatch";

  Markup svg;
  svg.open("svg", {{"xmlns", "http://www.w3.org/2000/svg"},
                   {"class", "chart"},
                   {"id", chart.id},
                   {"role", "img"},
                   {"aria-labelledby", title_id + " " + desc_id},
                   {"viewBox", "0 0 " + number(kWidth) + " " + number(height)},
                   {"width", number(kWidth)},
                   {"height", number(height)}});
  svg.element("title", chart.title, {{"id", title_id}}).element("desc", chart.description, {{"id", desc_id}});
  // Suppressed cells are hatched: visibly "not published", never an empty or zero bar.
  svg.open("defs").open("pattern", {{"id", hatch_id},
                                    {"width", "6"},
                                    {"height", "6"},
                                    {"patternUnits", "userSpaceOnUse"},
                                    {"patternTransform", "rotate(45)"}});
  svg.raw(
      "<rect width=\"6\" height=\"6\" fill=\"#eef0f4\"></rect><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" "
      "stroke=\"#b5bcc8\" stroke-width=\"2\"></line>");
  svg.close("pattern").close("defs");

  // Legend across the top.
  double legend_x = kPlotX;
  for (const auto& series : chart.series) {
    svg.open(
           "rect",
           {{"class", "swatch " + series.key}, {"x", number(legend_x)}, {"y", "6"}, {"width", "12"}, {"height", "12"}})
        .close("rect");
    svg.element("text", series.name, {{"x", number(legend_x + 16)}, {"y", "16"}});
    legend_x += 30 + 7 * static_cast<double>(series.name.size());
  }

  // Grid lines and their values, one per step of the axis.
  const double plot_top = kLegendHeight;
  const double plot_bottom = height - kAxisHeight + 4;
  const int ticks = static_cast<int>(std::lround(max / axis.step));
  for (int tick = 0; tick <= ticks; ++tick) {
    const double x = kPlotX + kPlotWidth * tick / ticks;
    svg.open("line", {{"class", "grid"},
                      {"x1", number(x)},
                      {"x2", number(x)},
                      {"y1", number(plot_top)},
                      {"y2", number(plot_bottom)}})
        .close("line");
    svg.element("text", number(axis.step * tick),
                {{"x", number(x)}, {"y", number(plot_bottom + 14)}, {"text-anchor", "middle"}, {"class", "value"}});
  }
  // The unit after the axis's last value, on the same line.
  svg.element("text", chart.unit,
              {{"x", number(kPlotX + kPlotWidth + 14)}, {"y", number(plot_bottom + 14)}, {"class", "value"}});

  double y = plot_top;
  for (const auto& row : chart.rows) {
    const std::size_t lines = lines_of(row);
    const double row_height = static_cast<double>(lines) * (kBarHeight + kBarGap) - kBarGap;
    svg.open("g", {{"class", row.suppressed ? "row suppressed" : "row"}, {"data-row", row.label}});
    svg.element("text", row.label,
                {{"x", number(kLabelWidth)}, {"y", number(y + row_height / 2 + 4)}, {"text-anchor", "end"}});
    if (row.bars.empty()) {
      if (row.suppressed) {
        svg.open("rect", {{"x", number(kPlotX)},
                          {"y", number(y)},
                          {"width", number(kPlotWidth)},
                          {"height", number(kBarHeight)},
                          {"fill", "url(#" + hatch_id + ")"}})
            .element("title", row.label + ": " + row.note)
            .close("rect");
      }
      svg.element("text", row.note, {{"x", number(kPlotX + 6)}, {"y", number(y + kBarHeight - 3)}, {"class", "note"}});
    }
    double bar_y = y;
    for (const auto& bar : row.bars) {
      const double width = std::max(kMinMark, kPlotWidth * std::min(bar.value, max) / max);
      svg.open("rect", {{"class", "bar " + bar.series},
                        {"data-series", bar.series},
                        {"data-value", number(bar.value)},
                        {"x", number(kPlotX)},
                        {"y", number(bar_y)},
                        {"width", number(width)},
                        {"height", number(kBarHeight)}})
          .element("title", row.label + ": " + bar.label)
          .close("rect");
      svg.element("text", bar.label,
                  {{"x", number(kPlotX + width + 5)}, {"y", number(bar_y + kBarHeight - 3)}, {"class", "value"}});
      bar_y += kBarHeight + kBarGap;
    }
    // A row with bars may still have a suppressed part (e.g. one of two shares): a line of its own.
    if (!row.bars.empty() && !row.note.empty()) {
      svg.element("text", row.note,
                  {{"x", number(kPlotX + 6)}, {"y", number(bar_y + kBarHeight - 3)}, {"class", "note"}});
    }
    svg.close("g");
    y += row_height + kRowGap;
  }
  svg.close("svg");
  return svg.str();
}

std::size_t chart_count(const ReportData& data) {
  std::size_t charts = 0;
  // trend, bands, acks, origin established (and grounds)
  if (data.statistics) charts += refusal_grounds_chart(*data.statistics).rows.empty() ? 4 : 5;
  if (!data.campaigns.empty()) ++charts;
  if (!data.alerts.empty()) ++charts;
  return charts;
}

std::string render_page(const ReportData& data, const PageContext& context) {
  Markup page;
  page.raw("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
  page.raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
  // Nothing may be fetched or run: the page is a document, whatever a record holds.
  page.raw("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">");
  page.element("title", "FPX public oversight report");
  page.raw("<style>").raw(kStyle).raw("</style></head><body>");

  page.raw("<header>").element("h1", "FPX public oversight report");
  page.open("p", {{"class", "lead"}})
      .text("How the firearm tracing exchange performs, from the broker-signed public feed: " +
            std::to_string(data.records) + " records (sequence " + std::to_string(data.first_sequence) + " to " +
            std::to_string(data.last_sequence) + "), each signature checked again when this page was made on " +
            context.generated_at + ".")
      .close("p");
  page.raw("</header><main>");
  statistics_section(page, data);
  warning_section(page, data);
  campaign_section(page, data);
  alert_section(page, data, context);
  checkpoint_section(page, data, context);
  page.raw("</main><footer>");
  page.element("p", "Made by `fpx report` for observer " + context.observer + " from " + context.records_file +
                        ". The figures are the exchange's own, signed by its broker; tracing requests, case "
                        "references, serial numbers, names and places are never part of the public feed.");
  page.raw("</footer></body></html>\n");
  return page.str();
}

}  // namespace fpx::cli::report
