// A CSV of seized firearms (one firearm per line) read into rows of form
// fields, for `fpx trace import` and the desk's import page (issue 17). The
// bytes are split by libcsv (Debian's libcsv-dev, strict mode), never by
// hand; this file adds only what FPX needs on top: bounds, line numbers,
// the documented column names, and a refusal of control characters.
//
// Each row becomes a desk form (clients/desk/compose.hpp names its fields
// by their path in the message), so an imported line goes through exactly
// the composing, schema validation, completeness and duplicate checks of a
// request typed in the desk's form.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "fpx/result.hpp"

namespace fpx::cli {

// The whole file is read into memory before anything is checked: this bounds
// what a file (a mistake, or a file handed over by someone else) makes us hold.
inline constexpr std::size_t kMaxImportBytes = 1024 * 1024;
// Each line becomes a signed request sent to other states: one file may not
// flood the exchange (nor keep the officer's machine signing for minutes).
inline constexpr std::size_t kMaxImportLines = 500;
// As long as the longest text the exchange's rules accept (4096 bytes of free text):
// a longer field is refused before it is copied into a message.
inline constexpr std::size_t kMaxImportFieldBytes = 4096;
// Several values in one cell (requested states, handling codes, ...) are
// separated by ';' (a comma would need quoting in every spreadsheet). A file
// whose first line separates its columns by ';' (a spreadsheet set to
// French) is read with ';' between fields; its lists are then quoted.
inline constexpr char kImportListSeparator = ';';

// One documented column: its name in the CSV's first line, the form field it
// fills, and a short help for clients/README.md and the desk.
enum class ColumnKind {
  text,
  enumerant,       // a schema enum value, written kebab-case ("rifle-carbine") or camelCase
  enumerant_list,  // several, ';'-separated
  requested_states,  // "NE:country-of-last-import;BF:country-of-manufacture"
};
struct ImportColumn {
  std::string_view name;        // "serial_number"
  std::string_view form_field;  // "firearms[0].serialNumber"; requested_states: "requestedStates"
  ColumnKind kind = ColumnKind::text;
  std::string_view help;        // English; translated where shown
};
const std::vector<ImportColumn>& import_columns();

// A problem with one cell (or one line when column is empty).
struct ImportProblem {
  std::string column;
  std::string message;
};

// One line of the file: its physical line number in the file (1 = the
// header line), the form it fills, and what is already wrong with it (a
// field too long, a control character, a malformed requested state): such a
// line is reported and never sent; the other lines go on.
struct ImportRow {
  std::size_t line = 0;
  std::multimap<std::string, std::string> form;
  std::vector<ImportProblem> problems;
};

struct ImportFile {
  std::vector<std::string> columns;  // as the header line named them
  std::vector<ImportRow> rows;
};

// The whole file or an error naming the line (and what to do): over
// kMaxImportBytes or kMaxImportLines, a quote that is never closed or a quote
// inside an unquoted field, an unknown or repeated column name, no header.
// Such a file is refused as a whole: nothing of it is drafted or sent.
Result<ImportFile> parse_seized_csv(std::string_view bytes);

}  // namespace fpx::cli
