// The page `fpx report --html` writes: one self-contained HTML file (inline
// CSS, inline SVG charts, no script, nothing fetched), each chart with a
// <title>/<desc> and a table of the same figures. Every string that came
// from a record is HTML-escaped: a report must never carry markup from the feed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "report_data.hpp"
#include "report_text.hpp"

namespace fpx::cli::report {

// & < > " ' as character references: safe in text and in quoted attributes.
std::string html_escape(std::string_view text);

// ---- a horizontal bar chart as inline SVG -------------------------------------

struct Bar {
  std::string series;  // a Series key: CSS class and legend entry
  double value = 0;
  std::string label;  // shown after the bar, e.g. "2 h" or "4 of 5 (80 %)"
};

struct Row {
  std::string label;        // e.g. "SN → NE"
  std::vector<Bar> bars;    // empty: `note` is shown instead
  std::string note;         // why there is no bar, e.g. "suppressed: fewer than 3"
  bool suppressed = false;  // drawn hatched, never as a zero bar
};

struct Series {
  std::string key;
  std::string name;
};

struct BarChart {
  std::string id;  // unique in the page
  std::string title;
  std::string description;  // what the chart shows, for screen readers and the caption
  std::string unit;         // axis unit, e.g. "hours"
  double max = 0;           // axis end; 0: rounded up from the data
  std::vector<Series> series;
  std::vector<Row> rows;
};

// `colon` joins a row's label and its value in the bars' tooltips (": ", or
// French " : ").
std::string svg_bar_chart(const BarChart& chart, std::string_view colon = ": ");

// ---- the page ----------------------------------------------------------------

// What `fpx log verify` last accepted (feed/checkpoint.note), next to the
// checkpoint record the page was built from.
struct LogVerifyState {
  bool checked = false;  // a saved note exists and verifies with the broker's key
  std::uint64_t tree_size = 0;
  std::string root_hash;  // hex
  std::string problem;    // why the saved note could not be read, if it could not
};

struct PageContext {
  std::string generated_at;  // ISO 8601 UTC
  std::string records_file;  // where the records were read
  std::string observer;      // the profile's participant id
  LogVerifyState log_verify;
  // Issue 17: the language of every text a person reads (resolve_language);
  // ids, classes, data-* attributes and figures' values are the same in both.
  text::Language language = text::Language::en;
};

std::string render_page(const ReportData& data, const PageContext& context);

// Issue 12: an alert's status in words ("Cancelled by BF on ...",
// "Expired: valid until ...", "Active until ..."), for the page and the terminal.
std::string alert_status_text(const Wording& w, const PublicAlert& alert, const std::string& status);

// The number of <svg> charts render_page draws for `data` (for --json).
std::size_t chart_count(const ReportData& data);

}  // namespace fpx::cli::report
