#include "report_html.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "report_text.hpp"

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

// A number in SVG geometry and data-* attributes: the same in every language
// (tests and scripts compare them across languages).
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

std::string count_text(const Wording& w, const Count& count) {
  return count ? w.count(*count) : w.tr(N_("suppressed"));
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

// The published codes a reader sees as words (outcomes and refusal grounds
// of PROTOCOL.md §11, alert kinds of schemas/messages.capnp), listed here so
// that xgettext finds them; a code the feed adds later is shown in English.
[[maybe_unused]] constexpr const char* kPublishedCodes[] = {
    N_("point of diversion established"), N_("last legal holder identified"), N_("partial chain"),
    N_("no record"), N_("not made or imported here"), N_("records too old"), N_("insufficient identifiers"),
    N_("restricted"), N_("refused"), N_("rejected as malformed"), N_("ongoing investigation"),
    N_("confidentiality law"), N_("national security"), N_("lost"), N_("stolen"), N_("diverted"),
    N_("trafficking route or method"), N_("suspected embargo breach"), N_("emerging threat"), N_("update"),
    N_("cancel"), N_("quarter"), N_("month"), N_("week"), N_("day"), N_("year")};

// A code of the feed in the reader's words.
std::string code_words(const Wording& w, const std::string& code) { return w.tr(words(code)); }

// A period's name: "quarter" -> "trimestre"; "10s" stays as published.
std::string period_name(const Wording& w, const std::string& period) { return w.tr(period); }

// A row of the statistics tables as the reader names it.
std::string row_label(const Wording& w, const RowStatistics& row) {
  if (row.table == "pairs") return row.requester + " \u2192 " + row.requested;
  if (row.table == "byRequester") return w.fill(N_("from {1}"), {row.requester});
  if (row.table == "byRequested") return w.fill(N_("to {1}"), {row.requested});
  if (row.table == "byRegion") return row.region;
  return w.tr(N_("all states"));
}

// The rows the charts draw: each requested state (all requesters
// together), then each pair of states, then the total.
std::vector<const RowStatistics*> chart_rows(const StatisticsRecord& statistics) {
  std::vector<const RowStatistics*> rows = statistics.table("byRequested");
  for (const auto* row : statistics.table("pairs")) rows.push_back(row);
  for (const auto* row : statistics.table("total")) rows.push_back(row);
  return rows;
}

// What a suppressed count counted, each a whole sentence for the translator.
enum class Counted { requests, answered, answered_within_clock, answered_within_30_days, acknowledged,
                     acknowledged_within_clock, with_origin, answers };

std::string suppressed_note(const Wording& w, std::int64_t threshold, Counted what) {
  const std::string n = w.count(threshold);
  switch (what) {
    case Counted::requests: return w.fill(N_("suppressed: fewer than {1} requests"), {n});
    case Counted::answered: return w.fill(N_("suppressed: fewer than {1} answered"), {n});
    case Counted::answered_within_clock: return w.fill(N_("suppressed: fewer than {1} answered within the clock"), {n});
    case Counted::answered_within_30_days:
      return w.fill(N_("suppressed: fewer than {1} answered within 30 days"), {n});
    case Counted::acknowledged: return w.fill(N_("suppressed: fewer than {1} acknowledged"), {n});
    case Counted::acknowledged_within_clock:
      return w.fill(N_("suppressed: fewer than {1} acknowledged within the clock"), {n});
    case Counted::with_origin: return w.fill(N_("suppressed: fewer than {1} with an origin established"), {n});
    case Counted::answers: return w.fill(N_("suppressed: fewer than {1} answers"), {n});
  }
  return w.fill(N_("suppressed: fewer than {1}"), {n});
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
void share_bar(const Wording& w, Row& row, const RowStatistics& of, const char* series, const Count& count,
               Counted what, std::int64_t threshold) {
  if (!count) {
    row.note.append(row.note.empty() ? std::string_view() : w.semicolon()).append(suppressed_note(w, threshold, what));
    return;
  }
  const double percent = 100.0 * static_cast<double>(*count) / static_cast<double>(*of.requests);
  row.bars.push_back({series, percent,
                      w.fill(N_("{1} of {2} ({3} %)"),
                             {w.count(*count), w.count(*of.requests), w.decimal(std::round(percent))})});
}

// Rows of share bars over `chart_rows`: a row whose requests are suppressed
// or zero has no bars, only its note.
template <typename Bars>
void share_rows(const Wording& w, BarChart& chart, const StatisticsRecord& statistics, Bars bars) {
  for (const auto* of : chart_rows(statistics)) {
    if (of->requests && *of->requests == 0) continue;  // no requests: nothing to draw
    Row row;
    row.label = row_label(w, *of);
    if (!of->requests) {
      row.suppressed = true;
      row.note = suppressed_note(w, statistics.threshold, Counted::requests);
      chart.rows.push_back(std::move(row));
      continue;
    }
    bars(row, *of);
    row.suppressed = row.bars.empty();
    chart.rows.push_back(std::move(row));
  }
}

// Durations as counts in bands, never as means or percentiles of small groups.
BarChart answer_bands_chart(const Wording& w, const StatisticsRecord& statistics) {
  BarChart chart;
  chart.id = "chart-answer-bands";
  chart.title = w.tr(N_("Requests answered in time"));
  chart.description = w.fill(N_("Share of tracing requests answered within the clock (routine {1} h, urgent {2} h), "
                                "within 30 days, and at all, per requested state, per pair of states and in total."),
                             {w.decimal(statistics.clocks.routine_respond), w.decimal(statistics.clocks.urgent_respond)});
  chart.unit = w.tr(N_("% of requests"));
  chart.max = 100;
  chart.series = {{"within", w.tr(N_("answered within the clock"))},
                  {"days30", w.tr(N_("answered within 30 days"))},
                  {"answered", w.tr(N_("answered at all"))}};
  share_rows(w, chart, statistics, [&](Row& row, const RowStatistics& of) {
    share_bar(w, row, of, "within", of.answered_within_clock, Counted::answered_within_clock, statistics.threshold);
    share_bar(w, row, of, "days30", of.answered_within_30_days, Counted::answered_within_30_days,
              statistics.threshold);
    share_bar(w, row, of, "answered", of.answered, Counted::answered, statistics.threshold);
  });
  return chart;
}

// The indicator in the spirit of SDG 16.4.2: of the tracings of seized,
// found or surrendered firearms (every request's recovery is one of the
// three), the share whose final answer established the illicit origin or
// context (point of diversion, or last legal holder). Numerator and
// denominator are published counts, suppressed like any other.
BarChart origin_established_chart(const Wording& w, const StatisticsRecord& statistics) {
  BarChart chart;
  chart.id = "chart-origin-established";
  chart.title = w.tr(N_("Illicit origin established by tracing (in the spirit of SDG 16.4.2)"));
  chart.description = w.tr(
      N_("Share of tracing requests for seized, found or surrendered firearms whose answer established the illicit "
         "origin or context (point of diversion established, or last legal holder identified), per requested state, "
         "per pair of states and in total."));
  chart.unit = w.tr(N_("% of requests"));
  chart.max = 100;
  chart.series = {{"established", w.tr(N_("origin or context established"))}};
  share_rows(w, chart, statistics, [&](Row& row, const RowStatistics& of) {
    share_bar(w, row, of, "established", of.origin_established, Counted::with_origin, statistics.threshold);
  });
  return chart;
}

BarChart acknowledgement_rate_chart(const Wording& w, const StatisticsRecord& statistics) {
  BarChart chart;
  chart.id = "chart-acknowledgement-rates";
  chart.title = w.tr(N_("Requests acknowledged within the clock"));
  chart.description =
      w.fill(N_("Share of tracing requests the requested state acknowledged within the clock (routine {1} h, urgent "
                "{2} h), and acknowledged at all, per requested state, per pair of states and in total."),
             {w.decimal(statistics.clocks.routine_acknowledge), w.decimal(statistics.clocks.urgent_acknowledge)});
  chart.unit = w.tr(N_("% of requests"));
  chart.max = 100;
  chart.series = {{"within", w.tr(N_("acknowledged within the clock"))},
                  {"acknowledged", w.tr(N_("acknowledged at all"))}};
  share_rows(w, chart, statistics, [&](Row& row, const RowStatistics& of) {
    share_bar(w, row, of, "within", of.acknowledged_within_clock, Counted::acknowledged_within_clock,
              statistics.threshold);
    share_bar(w, row, of, "acknowledged", of.acknowledged, Counted::acknowledged, statistics.threshold);
  });
  return chart;
}

// Across every period of the kind shown: requests and answers in total.
BarChart trend_chart(const Wording& w, const std::vector<StatisticsRecord>& history, std::int64_t threshold) {
  BarChart chart;
  chart.id = "chart-trends";
  chart.title = w.tr(N_("Trend across periods"));
  chart.description = w.tr(N_("Tracing requests, and those answered, in each period published, all states together."));
  chart.unit = w.tr(N_("requests"));
  chart.series = {{"requests", w.tr(N_("requests"))}, {"answered", w.tr(N_("answered"))}};
  for (const auto& record : history) {
    Row row;
    // A day's start is the date alone; a shorter period's start keeps its time.
    const bool midnight = record.period_start.size() <= 10 || record.period_start.substr(10) == "T00:00:00Z";
    row.label = w.date(midnight ? record.period_start.substr(0, 10) : record.period_start) + " (" +
                period_name(w, record.period) + ")";
    const auto total = record.table("total");
    for (const char* series : {"requests", "answered"}) {
      const bool requests = std::string_view(series) == "requests";
      const Count count = total.empty() ? Count() : requests ? total.front()->requests : total.front()->answered;
      if (count) {
        row.bars.push_back({series, static_cast<double>(*count),
                            requests ? w.fill(N_("{1} requests"), {w.count(*count)})
                                     : w.fill(N_("{1} answered"), {w.count(*count)})});
      } else {
        row.note.append(row.note.empty() ? std::string_view() : w.semicolon())
            .append(suppressed_note(w, threshold, requests ? Counted::requests : Counted::answered));
      }
    }
    row.suppressed = row.bars.empty();
    chart.rows.push_back(std::move(row));
  }
  return chart;
}

BarChart refusal_grounds_chart(const Wording& w, const StatisticsRecord& statistics) {
  BarChart chart;
  chart.id = "chart-refusal-grounds";
  chart.title = w.tr(N_("Refusal grounds"));
  chart.description =
      w.tr(N_("Answers that refused or restricted a trace, counted by the ground given (the ITI's three), "
              "per requested state, per pair of states and in total; grounds no answer gave are left out."));
  chart.unit = w.tr(N_("answers"));
  chart.series = {{"count", w.tr(N_("answers giving this ground"))}};
  for (const auto* of : chart_rows(statistics)) {
    for (const auto& [ground, count] : of->refusal_grounds) {
      if (count && *count == 0) continue;
      Row row;
      row.label = row_label(w, *of);
      row.label.append(w.colon()).append(code_words(w, ground));
      if (count) {
        row.bars.push_back({"count", static_cast<double>(*count), w.count(*count)});
      } else {
        row.suppressed = true;
        row.note = suppressed_note(w, statistics.threshold, Counted::answers);
      }
      chart.rows.push_back(std::move(row));
    }
  }
  return chart;
}

BarChart campaign_chart(const Wording& w, const std::vector<CampaignReport>& campaigns) {
  BarChart chart;
  chart.id = "chart-campaigns";
  chart.title = w.tr(N_("Weapons collected and destroyed per campaign"));
  chart.description =
      w.tr(N_("Weapons collected and destroyed in each campaign report published by a national commission."));
  chart.unit = w.tr(N_("weapons"));
  chart.series = {{"collected", w.tr(N_("collected"))}, {"destroyed", w.tr(N_("destroyed"))}};
  for (const auto& campaign : campaigns) {
    Row row;
    row.label = campaign.country;
    row.label.append(" ").append(w.date(campaign.period_start)).append(" \u2013 ").append(w.date(campaign.period_end));
    row.bars.push_back({"collected", static_cast<double>(campaign.weapons_collected),
                        w.fill(N_("{1} collected"), {w.count(campaign.weapons_collected)})});
    std::string destroyed = w.fill(N_("{1} destroyed"), {w.count(campaign.weapons_destroyed)});
    if (campaign.weapons_collected > 0) {
      const double percent =
          100.0 * static_cast<double>(campaign.weapons_destroyed) / static_cast<double>(campaign.weapons_collected);
      destroyed.append(" (").append(w.decimal(std::round(percent))).append(" %)");
    }
    row.bars.push_back({"destroyed", static_cast<double>(campaign.weapons_destroyed), std::move(destroyed)});
    chart.rows.push_back(std::move(row));
  }
  return chart;
}

BarChart alert_chart(const Wording& w, const std::vector<PublicAlert>& alerts) {
  std::map<std::pair<std::string, std::string>, int> counts;  // (kind, region) -> alerts
  for (const auto& alert : alerts) ++counts[{alert.alert_kind, alert.region}];
  BarChart chart;
  chart.id = "chart-alerts";
  chart.title = w.tr(N_("Public alerts by kind and region"));
  chart.description = w.tr(N_("Redacted alerts their issuing state marked publishable, counted by kind and region."));
  chart.unit = w.tr(N_("alerts"));
  chart.series = {{"count", w.tr(N_("alerts"))}};
  for (const auto& [key, count] : counts) {
    Row row;
    row.label = code_words(w, key.first);
    row.label.append(" \u00b7 ").append(key.second);
    row.bars.push_back({"count", static_cast<double>(count), w.count(count)});
    chart.rows.push_back(std::move(row));
  }
  return chart;
}

// ---- page sections -------------------------------------------------------------

void figure(const Wording& w, Markup& page, const BarChart& chart) {
  page.element("h3", chart.title);
  page.open("figure", {{"class", "chart"}});
  page.raw(svg_bar_chart(chart, w.colon()));
  page.element("figcaption", chart.description);
  page.close("figure");
}

void statistics_table(const Wording& w, Markup& page, const StatisticsRecord& statistics) {
  auto cells = [&](const std::vector<std::pair<std::string, Count>>& counts) {
    std::string text;
    for (const auto& [name, count] : counts) {
      if (count && *count == 0) continue;
      text.append(text.empty() ? "" : ", ").append(code_words(w, name)).append(w.colon()).append(count_text(w, count));
    }
    return text.empty() ? std::string("\u2013") : text;
  };
  page.open("details", {{"class", "table"}}).element("summary", w.tr(N_("The figures as a table")));
  page.open("table").element(
      "caption", w.fill(N_("Every published table of the period (\u201csuppressed\u201d: fewer than {1}, or a cell "
                           "hidden so that no combination of the published figures reveals a small one)"),
                        {w.count(statistics.threshold)}));
  page.raw("<thead><tr>");
  for (const char* heading :
       {N_("table"), N_("row"), N_("requests"), N_("acknowledged"), N_("ack. within the clock"),
        N_("answered"), N_("answered within the clock"), N_("answered within 30 days"),
        N_("origin established"), N_("outcomes"), N_("refusal grounds")}) {
    page.element("th", w.tr(heading), {{"scope", "col"}});
  }
  page.raw("</tr></thead><tbody>");
  for (const auto& row : statistics.rows) {
    page.raw("<tr>").element("td", row.table).element("th", row_label(w, row), {{"scope", "row"}});
    for (const Count* count : {&row.requests, &row.acknowledged, &row.acknowledged_within_clock, &row.answered,
                               &row.answered_within_clock, &row.answered_within_30_days,
                               &row.origin_established}) {
      page.element("td", count_text(w, *count), {{"class", *count ? "number" : "suppressed"}});
    }
    page.element("td", cells(row.outcomes)).element("td", cells(row.refusal_grounds));
    page.raw("</tr>");
  }
  page.raw("</tbody></table></details>");
}

// Issue 12: the states' statements on the period shown, beside its figures.
void statements_block(const Wording& w, Markup& page, const ReportData& data, const StatisticsRecord& statistics) {
  const auto statements = data.statements_on(statistics);
  page.open("div", {{"id", "statements"}}).element("h3", w.tr(N_("What the states say about their figures")));
  if (statements.empty()) {
    page.element("p", w.tr(N_("No state has published a statement on its figures for this period.")),
                 {{"class", "empty"}});
  }
  for (const auto* statement : statements) {
    page.open("figure", {{"class", "statement"}, {"data-country", statement->country}});
    page.element("blockquote", statement->text);
    page.element("figcaption",
                 w.fill(N_("Statement of {1} on its figures for this period, signed by its focal point (feed record "
                           "{2})"),
                        {statement->country, std::to_string(statement->sequence)}));
    page.close("figure");
  }
  page.close("div");
}

void statistics_section(const Wording& w, Markup& page, const ReportData& data) {
  page.open("section", {{"id", "statistics"}}).element("h2", w.tr(N_("How the exchange answers tracing requests")));
  if (!data.statistics) {
    page.element("p",
                 w.tr(N_("No statistics record has been saved yet: statistics of a period are published once, final, "
                         "some time after it ends. Run `fpx observe` again later.")),
                 {{"class", "empty"}});
    page.close("section");
    return;
  }
  const StatisticsRecord& statistics = *data.statistics;
  page.open("p", {{"class", "period"}})
      .text(w.fill(N_("Period {1}: {2} to {3}. "),
                   {period_name(w, statistics.period), w.date(statistics.period_start), w.date(statistics.period_end)}))
      .open("strong")
      .text(w.tr(N_("Final figures")))
      .close("strong")
      .text(w.fill(N_(" (each period is published once, as of {1})."), {w.date(statistics.as_of)}))
      .close("p");
  page.element("p",
               w.fill(N_("Cells counting fewer than {1} are suppressed and shown hatched as \u201csuppressed\u201d, "
                         "never as zero; so are the further cells that would let anyone work a small one out from "
                         "everything the exchange has published (sums, other tables, other periods): no suppressed "
                         "cell can be narrowed to fewer than {2} values."),
                      {w.count(statistics.threshold), w.count(statistics.protection_range)}),
               {{"class", "note"}});
  figure(w, page, trend_chart(w, data.history, statistics.threshold));
  figure(w, page, answer_bands_chart(w, statistics));
  figure(w, page, acknowledgement_rate_chart(w, statistics));
  figure(w, page, origin_established_chart(w, statistics));
  auto grounds = refusal_grounds_chart(w, statistics);
  if (grounds.rows.empty()) {
    page.element("p", w.tr(N_("No refusal ground is shown for this period (none given, or every count suppressed).")),
                 {{"class", "empty"}});
  } else {
    figure(w, page, grounds);
  }
  statistics_table(w, page, statistics);
  statements_block(w, page, data, statistics);

  // Which periods the feed holds, so a reader knows what else there is (`--period`).
  page.open("p", {{"class", "note"}}).text(w.tr(N_("Statistics saved in the feed: ")));
  const std::size_t skip = data.periods.size() > kMaxPeriodsListed ? data.periods.size() - kMaxPeriodsListed : 0;
  if (skip > 0) page.text(w.fill(N_("{1} earlier periods, then "), {w.count(static_cast<long long>(skip))}));
  for (std::size_t i = skip; i < data.periods.size(); ++i) {
    const auto& seen = data.periods[i];
    page.text((i == skip ? std::string() : std::string(w.semicolon())) +
              w.fill(N_("{1} from {2}"), {period_name(w, seen.period), w.date(seen.period_start)}));
  }
  page.text(".");
  if (data.older_format_records > 0) {
    page.text(" " + w.fill(N_("{1} statistics record(s) of the earlier scheme are not drawn: their suppression did "
                              "not hold across overlapping periods."),
                           {w.count(static_cast<long long>(data.older_format_records))}));
  }
  page.close("p");
  page.close("section");
}

// Civil society's early warnings (PROTOCOL.md §11 "Early warnings"): how
// many reached each state and how many its focal point acknowledged within
// the clock; never what they said.
void warning_section(const Wording& w, Markup& page, const ReportData& data) {
  page.open("section", {{"id", "warnings"}}).element("h2", w.tr(N_("Early warnings from civil society")));
  const StatisticsRecord* shown = data.statistics ? &*data.statistics : nullptr;
  if (shown == nullptr || shown->warnings.empty()) {
    page.element("p", w.tr(N_("No early warning from a civil-society organisation in the period shown.")),
                 {{"class", "empty"}})
        .close("section");
    return;
  }
  page.element("p", w.fill(N_("Warnings sent by civil-society organisations to their own state's focal point from {1} "
                              "to {2}, and how many the focal point acknowledged within {3} hours. Counts under {4} "
                              "are suppressed, as every count of the feed."),
                           {w.date(shown->period_start), w.date(shown->period_end),
                            w.count(static_cast<long long>(shown->warning_acknowledge_hours)),
                            w.count(shown->threshold)}));
  page.raw("<table id=\"warnings-table\"><thead><tr>");
  for (const char* heading : {N_("country"), N_("warnings"), N_("acknowledged within the clock")}) {
    page.element("th", w.tr(heading), {{"scope", "col"}});
  }
  page.raw("</tr></thead><tbody>");
  for (const auto& row : shown->warnings) {
    page.raw("<tr>").element("th", row.state.empty() ? w.tr(N_("all states")) : row.state, {{"scope", "row"}});
    page.element("td", count_text(w, row.warnings), {{"class", "number"}});
    page.element("td", count_text(w, row.acknowledged_within_clock), {{"class", "number"}}).raw("</tr>");
  }
  page.raw("</tbody></table></section>");
}

void campaign_section(const Wording& w, Markup& page, const ReportData& data) {
  page.open("section", {{"id", "campaigns"}}).element("h2", w.tr(N_("Voluntary collection campaigns")));
  if (data.campaigns.empty()) {
    page.element("p", w.tr(N_("No campaign report has been published yet.")), {{"class", "empty"}}).close("section");
    return;
  }
  figure(w, page, campaign_chart(w, data.campaigns));
  page.open("details", {{"class", "table"}}).element("summary", w.tr(N_("The campaign reports as a table")));
  page.raw("<table><thead><tr>");
  for (const char* heading : {N_("country"), N_("commission"), N_("regions"), N_("period"), N_("collected"),
                              N_("destroyed"), N_("community partners"), N_("feed record")}) {
    page.element("th", w.tr(heading), {{"scope", "col"}});
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
        .element("td", w.date(campaign.period_start) + " \u2013 " + w.date(campaign.period_end));
    page.element("td", w.count(campaign.weapons_collected), {{"class", "number"}});
    page.element("td", w.count(campaign.weapons_destroyed), {{"class", "number"}});
    page.element("td", joined(campaign.community_partners));
    page.element("td", std::to_string(campaign.sequence), {{"class", "number"}}).raw("</tr>");
  }
  page.raw("</tbody></table></details></section>");
}

void alert_section(const Wording& w, Markup& page, const ReportData& data, const PageContext& context) {
  page.open("section", {{"id", "alerts"}}).element("h2", w.tr(N_("Public alerts")));
  if (data.alerts.empty()) {
    page.element("p", w.tr(N_("No publishable alert has been issued yet.")), {{"class", "empty"}}).close("section");
    return;
  }
  figure(w, page, alert_chart(w, data.alerts));
  // Issue 12: each alert with the text its state wrote for the public, and
  // whether it still holds: cancelled (a record of the feed says so) or
  // expired (past its validUntil on the day this page was made).
  const std::string today = context.generated_at.substr(0, 10);
  page.element("p",
               w.fill(N_("Whether an alert holds is as of {1}: \u201cexpired\u201d is worked out by this page from the "
                         "alert's published end date, \u201ccancelled\u201d is the issuing state's cancellation, "
                         "published on the feed."),
                      {w.date(today)}),
               {{"class", "note"}});
  page.open("ul", {{"class", "alert-list"}});
  for (const auto& alert : data.alerts) {
    const std::string status = alert_status(alert, today);
    page.open("li", {{"class", "alert " + status}, {"data-status", status}, {"data-sequence", std::to_string(alert.sequence)}});
    page.element("strong", code_words(w, alert.alert_kind) + " \u00b7 " + alert.issuing_country + " \u00b7 " +
                               alert.region + " \u00b7 " + w.date(alert.month));
    page.text(" ").element("span", alert_status_text(w, alert, status),
                           {{"class", "alert-status"}});
    if (!alert.public_summary.empty()) {
      page.element("p", alert.public_summary, {{"class", "alert-summary"}});
    }
    if (status == "cancelled" && !alert.cancel_summary.empty()) {
      page.element("p", alert.cancel_summary, {{"class", "cancel-summary"}});
    }
    page.close("li");
  }
  page.close("ul");
  page.open("details", {{"class", "table"}}).element("summary", w.tr(N_("The alerts as a table")));
  page.raw("<table><thead><tr>");
  for (const char* heading : {N_("month"), N_("kind"), N_("issuing state"), N_("region"), N_("status"),
                              N_("public summary"), N_("feed record")}) {
    page.element("th", w.tr(heading), {{"scope", "col"}});
  }
  page.raw("</tr></thead><tbody>");
  for (const auto& alert : data.alerts) {
    page.raw("<tr>").element("th", w.date(alert.month), {{"scope", "row"}}).element("td", code_words(w, alert.alert_kind));
    page.element("td", alert.issuing_country).element("td", alert.region);
    page.element("td", alert_status_text(w, alert, alert_status(alert, today)))
        .element("td", alert.public_summary);
    page.element("td", std::to_string(alert.sequence), {{"class", "number"}}).raw("</tr>");
  }
  page.raw("</tbody></table></details></section>");
}

void checkpoint_section(const Wording& w, Markup& page, const ReportData& data, const PageContext& context) {
  page.open("section", {{"id", "checkpoint"}})
      .element("h2", w.tr(N_("The transparency log this page was built from")));
  if (!data.checkpoint) {
    page.element("p",
                 w.tr(N_("No checkpoint record has been saved yet: run `fpx observe` once the broker has signed one, "
                         "then `fpx log verify`.")),
                 {{"class", "empty"}});
    page.close("section");
    return;
  }
  const auto& checkpoint = *data.checkpoint;
  const auto& verified = context.log_verify;
  page.raw("<dl class=\"checkpoint\">");
  page.element("dt", w.tr(N_("tree size")))
      .element("dd", std::to_string(checkpoint.tree_size), {{"class", "tree-size"}});
  page.element("dt", w.tr(N_("root hash (SHA-256)"))).element("dd", checkpoint.root_hash, {{"class", "hash"}});
  page.element("dt", w.tr(N_("feed record"))).element("dd", std::to_string(checkpoint.sequence));
  page.element("dt", "fpx log verify");
  std::string status;
  std::string css;
  if (verified.checked && verified.tree_size == checkpoint.tree_size && verified.root_hash == checkpoint.root_hash) {
    css = "verified";
    status = w.tr(
        N_("\u2713 accepted this checkpoint: its signature, its consistency with the checkpoint accepted before (if "
           "any) and the inclusion of the saved records verified."));
  } else if (verified.checked && verified.tree_size > checkpoint.tree_size) {
    css = "verified";
    status = w.fill(N_("\u2713 last accepted a later checkpoint (tree size {1}), which it checks is consistent with "
                       "this one."),
                    {std::to_string(verified.tree_size)});
  } else if (verified.checked) {
    css = "unverified";
    status = w.fill(N_("last accepted an earlier checkpoint (tree size {1}): run `fpx log verify` to check this one."),
                    {std::to_string(verified.tree_size)});
  } else {
    css = "unverified";
    status = verified.problem.empty()
                 ? w.tr(N_("has not accepted a checkpoint yet: run `fpx log verify`."))
                 : w.fill(N_("its saved checkpoint could not be read ({1}): run `fpx log verify`."), {verified.problem});
  }
  page.element("dd", status, {{"class", "log-verify " + css}});
  page.raw("</dl>");
  page.open("details")
      .element("summary", w.tr(N_("The signed checkpoint note")))
      .element("pre", checkpoint.note);
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

std::string svg_bar_chart(const BarChart& chart, std::string_view colon_text) {
  const std::string colon(colon_text);
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
            .element("title", row.label + colon + row.note)
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
          .element("title", row.label + colon + bar.label)
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

std::string alert_status_text(const Wording& w, const PublicAlert& alert, const std::string& status) {
  if (status == "cancelled") {
    return w.fill(N_("Cancelled by {1} on {2}"), {alert.issuing_country, w.date(alert.cancelled_on.value_or(""))});
  }
  if (status == "expired") return w.fill(N_("Expired: valid until {1}"), {w.date(alert.valid_until)});
  return alert.valid_until.empty() ? w.tr(N_("Active")) : w.fill(N_("Active until {1}"), {w.date(alert.valid_until)});
}

std::size_t chart_count(const ReportData& data) {
  std::size_t charts = 0;
  // trend, bands, acks, origin established (and grounds)
  const Wording english(text::Language::en);
  if (data.statistics) charts += refusal_grounds_chart(english, *data.statistics).rows.empty() ? 4 : 5;
  if (!data.campaigns.empty()) ++charts;
  if (!data.alerts.empty()) ++charts;
  return charts;
}

std::string render_page(const ReportData& data, const PageContext& context) {
  const Wording w(context.language);
  Markup page;
  // lang: screen readers, hyphenation and the browser's translation offer follow it.
  page.raw("<!DOCTYPE html>\n<html lang=\"").raw(w.tag()).raw("\"><head><meta charset=\"utf-8\">");
  page.raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
  // Nothing may be fetched or run: the page is a document, whatever a record holds.
  page.raw("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">");
  page.element("title", w.tr(N_("FPX public oversight report")));
  page.raw("<style>").raw(kStyle).raw("</style></head><body>");

  page.raw("<header>").element("h1", w.tr(N_("FPX public oversight report")));
  page.open("p", {{"class", "lead"}})
      .text(w.fill(N_("How the firearm tracing exchange performs, from the broker-signed public feed: {1} records "
                      "(sequence {2} to {3}), each signature checked again when this page was made on {4}."),
                   {w.count(static_cast<long long>(data.records)), std::to_string(data.first_sequence),
                    std::to_string(data.last_sequence), w.date(context.generated_at)}))
      .close("p");
  page.raw("</header><main>");
  statistics_section(w, page, data);
  warning_section(w, page, data);
  campaign_section(w, page, data);
  alert_section(w, page, data, context);
  checkpoint_section(w, page, data, context);
  page.raw("</main><footer>");
  page.element("p", w.fill(N_("Made by `fpx report` for observer {1} from {2}. The figures are the exchange's own, "
                              "signed by its broker; tracing requests, case references, serial numbers, names and "
                              "places are never part of the public feed."),
                           {context.observer, context.records_file}));
  page.raw("</footer></body></html>\n");
  return page.str();
}

}  // namespace fpx::cli::report
