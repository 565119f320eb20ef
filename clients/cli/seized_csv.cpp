#include "seized_csv.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <memory>
#include <optional>

#include <csv.h>

namespace fpx::cli {

namespace {

// The requested-state rows compose_request reads (desk::kRequestedStateRows;
// commands_import.cpp checks they agree).
constexpr std::size_t kMaxRequestedStates = 3;

// Spreadsheets save UTF-8 with a byte-order mark; it is not part of the first column's name.
constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

// libcsv's parser state, freed once whatever happens.
struct CsvParser {
  csv_parser parser{};
  bool initialised = false;
  CsvParser() { initialised = csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI) == 0; }
  ~CsvParser() {
    if (initialised) csv_free(&parser);
  }
  CsvParser(const CsvParser&) = delete;
  CsvParser& operator=(const CsvParser&) = delete;
};

struct Record {
  std::size_t line = 0;
  std::vector<std::string> fields;
  std::vector<bool> too_long;
};

// What libcsv's callbacks build: records with the physical line each began on.
struct Collector {
  std::size_t line = 1;            // the line of the byte being fed
  std::size_t record_line = 0;     // the line the open record began on; 0: none open
  Record current;
  std::vector<Record> records;
  bool too_many = false;
};

void on_field(void* text, std::size_t length, void* data) {
  auto& collector = *static_cast<Collector*>(data);
  if (collector.too_many) return;
  const bool too_long = length > kMaxImportFieldBytes;
  // Only what may be kept is copied; libcsv's own buffer is bounded by the file size.
  const std::size_t kept = std::min(length, kMaxImportFieldBytes);
  collector.current.fields.emplace_back(text == nullptr ? "" : std::string(static_cast<const char*>(text), kept));
  collector.current.too_long.push_back(too_long);
}

void on_record(int /*terminator*/, void* data) {
  auto& collector = *static_cast<Collector*>(data);
  collector.current.line = collector.record_line;
  collector.record_line = 0;
  if (collector.records.size() > kMaxImportLines) {  // the header line and kMaxImportLines lines
    collector.too_many = true;
  } else {
    collector.records.push_back(std::move(collector.current));
  }
  collector.current = Record{};
}

std::string column_key(std::string_view name) {
  // "Serial number", "serial-number", " SERIAL_NUMBER " -> "serial_number".
  std::string out;
  for (const char c : name) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte == ' ' || byte == '-' || byte == '_') {
      if (!out.empty() && out.back() != '_') out += '_';
    } else {
      out += static_cast<char>(std::tolower(byte));
    }
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out;
}

// "rifle-carbine" -> "rifleCarbine"; "rifleCarbine" stays. The decoder then
// refuses a value the schema does not have, naming the field.
std::string camel_case(std::string_view value) {
  std::string out;
  bool upper = false;
  for (const char c : value) {
    if (c == '-' || c == '_' || c == ' ') {
      upper = !out.empty();
      continue;
    }
    out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return out;
}

std::string trim(std::string_view text) {
  const auto first = text.find_first_not_of(' ');
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(' ');
  return std::string(text.substr(first, last - first + 1));
}

std::vector<std::string> split_list(const std::string& cell) {
  std::vector<std::string> out;
  std::string part;
  for (const char c : cell + kImportListSeparator) {
    if (c == kImportListSeparator) {
      if (auto value = trim(part); !value.empty()) out.push_back(value);
      part.clear();
    } else {
      part += c;
    }
  }
  return out;
}

// A control character (C0, DEL) has no place in any field of a request: it
// hides text from the officer who reviews the line, breaks terminals and logs.
std::optional<unsigned> control_character_in(const std::string& cell) {
  for (const char c : cell) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F) return byte;
  }
  return std::nullopt;
}

// Bidirectional controls (U+202A-U+202E, U+2066-U+2069) and marks (U+200E,
// U+200F, U+061C), as UTF-8: they make a text read on screen in another
// order than its bytes (the "Trojan Source" trick), so the officer reviewing
// a line and the state answering it would read different serial numbers.
std::optional<unsigned> bidi_control_in(const std::string& cell) {
  for (std::size_t i = 0; i + 1 < cell.size(); ++i) {
    const auto a = static_cast<unsigned char>(cell[i]);
    const auto b = static_cast<unsigned char>(cell[i + 1]);
    if (a == 0xD8 && b == 0x9C) return 0x061C;
    if (a != 0xE2 || i + 2 >= cell.size()) continue;
    const auto c = static_cast<unsigned char>(cell[i + 2]);
    if (b == 0x80 && (c == 0x8E || c == 0x8F || (c >= 0xAA && c <= 0xAE))) return 0x2000u + (c - 0x80u);
    if (b == 0x81 && c >= 0xA6 && c <= 0xA9) return 0x2040u + (c - 0x80u);
  }
  return std::nullopt;
}

// A cell beginning with '=', '+', '-' or '@' is what a spreadsheet runs as a
// formula (=CMD|' /C calc'!A0, the "CSV injection"): copied into a request,
// it would run on the machine of whoever opens an export of that request
// in a spreadsheet, in any state it is sent to. A lone '-' ("none") is text.
std::optional<char> formula_start_in(const std::string& cell) {
  if (cell.size() < 2) return std::nullopt;
  if (cell[0] == '=' || cell[0] == '+' || cell[0] == '-' || cell[0] == '@') return cell[0];
  return std::nullopt;
}

void fill(ImportRow& row, const ImportColumn& column, const std::string& cell) {
  const std::string field(column.form_field);
  switch (column.kind) {
    case ColumnKind::text: row.form.emplace(field, cell); break;
    case ColumnKind::enumerant: row.form.emplace(field, camel_case(cell)); break;
    case ColumnKind::enumerant_list:
      for (const auto& value : split_list(cell)) row.form.emplace(field, camel_case(value));
      break;
    case ColumnKind::requested_states: {
      const auto states = split_list(cell);
      if (states.size() > kMaxRequestedStates) {
        row.problems.push_back({std::string(column.name), "names " + std::to_string(states.size()) +
                                                              " states; at most " + std::to_string(kMaxRequestedStates) +
                                                              " per line: split the line"});
        return;
      }
      for (std::size_t i = 0; i < states.size(); ++i) {
        const auto colon = states[i].find(':');
        if (colon == std::string::npos) {
          row.problems.push_back({std::string(column.name),
                                  "'" + states[i] + "' must be COUNTRY:ROLE, e.g. NE:country-of-last-import"});
          return;
        }
        const std::string prefix = "requestedStates[" + std::to_string(i) + "].";
        row.form.emplace(prefix + "country", trim(std::string_view(states[i]).substr(0, colon)));
        row.form.emplace(prefix + "role", camel_case(trim(std::string_view(states[i]).substr(colon + 1))));
      }
      break;
    }
  }
}

}  // namespace

namespace {

// Marks a column's help for the catalogue (xgettext --keyword=N_): the desk's
// import page shows it translated.
constexpr const char* N_(const char* english) { return english; }

}  // namespace

const std::vector<ImportColumn>& import_columns() {
  static const std::vector<ImportColumn> columns = {
      {"serial_number", "firearms[0].serialNumber", ColumnKind::text, N_("the serial number as marked")},
      {"serial_state", "firearms[0].serialState", ColumnKind::enumerant, N_("intact, obliterated or partly-restored")},
      {"manufacturer", "firearms[0].manufacturer", ColumnKind::text, N_("the manufacturer as marked")},
      {"model", "firearms[0].model", ColumnKind::text, N_("the model as marked")},
      {"type", "firearms[0].type", ColumnKind::enumerant,
       N_("revolver, self-loading-pistol, rifle-carbine, shotgun, sub-machine-gun, assault-rifle, ...")},
      {"calibre", "firearms[0].calibre", ColumnKind::text, N_("e.g. 7.62x39mm")},
      {"country_of_manufacture", "firearms[0].countryOfManufacture", ColumnKind::text, N_("ISO code, e.g. BF")},
      {"year_of_manufacture", "firearms[0].yearOfManufacture", ColumnKind::text, N_("e.g. 2007")},
      {"import_country", "firearms[0].importMarking.country", ColumnKind::text, N_("the import marking's country, ISO code")},
      {"import_year", "firearms[0].importMarking.year", ColumnKind::text, N_("the import marking's year")},
      {"other_markings", "firearms[0].otherMarkings", ColumnKind::text, N_("other marks, free text")},
      {"state_stock_marking", "firearms[0].stateStockMarking", ColumnKind::text, N_("a state-stock mark, if any")},
      {"recovery_date", "recovery.date", ColumnKind::text, N_("YYYY-MM-DD")},
      {"administrative_area", "recovery.administrativeArea", ColumnKind::text, N_("where it was recovered")},
      {"circumstance", "recovery.circumstance", ColumnKind::enumerant, N_("seized, found or surrendered")},
      {"crime_category", "recovery.crimeCategory", ColumnKind::text, N_("e.g. armed robbery")},
      {"requested_states", "requestedStates", ColumnKind::requested_states,
       N_("COUNTRY:ROLE;... with ROLE country-of-manufacture, country-of-last-import or other-on-trail")},
      {"case_reference", "header.caseReference", ColumnKind::text, N_("the national case reference")},
      {"priority", "header.priority", ColumnKind::enumerant, N_("routine or urgent")},
      {"urgency_justification", "header.urgencyJustification", ColumnKind::text, N_("why urgent (required if urgent)")},
      {"classification", "header.classification", ColumnKind::enumerant, N_("public, restricted or confidential")},
      {"handling_codes", "header.handlingCodes", ColumnKind::enumerant_list,
       N_("h0-crime-fighting-only;h1-not-for-court-without-permission;h2-no-onward-sharing-without-permission;"
       "h3-other-conditions")},
      {"handling_conditions", "header.handlingConditions", ColumnKind::text, N_("the conditions of H3")},
      {"channel", "header.otherChannelReferences[0].channel", ColumnKind::enumerant,
       N_("another channel the case is known in, e.g. national-case-system, iarms")},
      {"channel_reference", "header.otherChannelReferences[0].reference", ColumnKind::text,
       N_("the case's reference in that channel")},
      {"illicit_basis", "illicitBasis", ColumnKind::enumerant_list,
       N_("illicit-under-national-law;embargo-violation;not-marked;unlicensed-manufacture;unlicensed-transfer")},
      {"legal_justification", "legalJustification", ColumnKind::text, N_("the legal basis of the request")},
      {"intended_use", "intendedUse", ColumnKind::text, N_("what the answer will be used for")},
      {"information_sought", "informationSought", ColumnKind::enumerant_list,
       N_("chain-of-custody;export-licence;last-legal-holder;point-of-diversion")},
  };
  return columns;
}

Result<ImportFile> parse_seized_csv(std::string_view bytes) {
  if (bytes.size() > kMaxImportBytes) {
    return make_error(ErrorCode::too_large, "the file holds " + std::to_string(bytes.size()) + " bytes; at most " +
                                                std::to_string(kMaxImportBytes) +
                                                " are imported at once: split it into smaller files");
  }
  if (bytes.substr(0, kUtf8Bom.size()) == kUtf8Bom) bytes.remove_prefix(kUtf8Bom.size());

  CsvParser parser;
  if (!parser.initialised) return make_error(ErrorCode::internal, "the CSV parser could not start (out of memory)");
  // Spreadsheets set to French (and most of Europe) save "CSV" with ';'
  // between fields, since ',' is their decimal mark. The first line names the
  // columns and holds neither in a name: ';' there and no ',' means that
  // file. A ';'-list inside a cell is then quoted, as the spreadsheet does.
  const std::string_view header_line = bytes.substr(0, bytes.find('\n'));
  if (header_line.find(',') == std::string_view::npos && header_line.find(';') != std::string_view::npos) {
    csv_set_delim(&parser.parser, ';');
  }
  Collector collector;
  // Fed byte by byte so that every record knows the line it began on, even
  // when a quoted field holds a line break.
  for (const char c : bytes) {
    if (collector.record_line == 0 && c != '\n' && c != '\r') collector.record_line = collector.line;
    if (csv_parse(&parser.parser, &c, 1, on_field, on_record, &collector) != 1) {
      return make_error(ErrorCode::malformed,
                        "line " + std::to_string(collector.line) + ": " +
                            csv_strerror(csv_error(&parser.parser)) +
                            " (a quote inside a field that does not start with one, or text after a closing quote): "
                            "quote the whole field and double the quotes inside it; nothing was imported");
    }
    if (c == '\n') ++collector.line;
    if (collector.too_many) break;
  }
  if (!collector.too_many && csv_fini(&parser.parser, on_field, on_record, &collector) != 0) {
    return make_error(ErrorCode::malformed,
                      "line " + std::to_string(collector.record_line == 0 ? collector.line : collector.record_line) +
                          ": a quoted field is never closed: close its quote; nothing was imported");
  }
  if (collector.too_many) {
    return make_error(ErrorCode::too_large, "the file has more than " + std::to_string(kMaxImportLines) +
                                                " lines of firearms; at most " + std::to_string(kMaxImportLines) +
                                                " are imported at once: split it into smaller files");
  }
  if (collector.records.empty()) {
    return make_error(ErrorCode::invalid_argument,
                      "the file is empty: its first line names the columns (clients/README.md lists them), then one "
                      "line per firearm");
  }

  // The header line: every column must be one we know, once. A typo must not
  // silently drop a serial number from 200 requests.
  ImportFile file;
  const auto& known = import_columns();
  std::vector<const ImportColumn*> mapping;
  const auto& header = collector.records.front();
  for (std::size_t i = 0; i < header.fields.size(); ++i) {
    const std::string key = column_key(header.fields[i]);
    const auto it = std::find_if(known.begin(), known.end(), [&](const ImportColumn& column) { return column.name == key; });
    if (it == known.end()) {
      std::string names;
      for (const auto& column : known) names += (names.empty() ? "" : ", ") + std::string(column.name);
      return make_error(ErrorCode::invalid_argument,
                        "line " + std::to_string(header.line) + ", column " + std::to_string(i + 1) + ": '" +
                            header.fields[i].substr(0, 64) + "' is not a column fpx knows; use: " + names);
    }
    if (std::find(mapping.begin(), mapping.end(), &*it) != mapping.end()) {
      return make_error(ErrorCode::invalid_argument, "line " + std::to_string(header.line) + ": the column '" + key +
                                                         "' is named twice: keep one");
    }
    mapping.push_back(&*it);
    file.columns.push_back(key);
  }

  for (std::size_t r = 1; r < collector.records.size(); ++r) {
    const auto& record = collector.records[r];
    ImportRow row;
    row.line = record.line;
    if (record.fields.size() > mapping.size()) {
      row.problems.push_back({"", "has " + std::to_string(record.fields.size()) + " fields but the first line names " +
                                      std::to_string(mapping.size()) + " columns: quote a field that holds a comma"});
    }
    for (std::size_t i = 0; i < record.fields.size() && i < mapping.size(); ++i) {
      const auto& column = *mapping[i];
      const auto& cell = record.fields[i];
      if (record.too_long[i]) {
        row.problems.push_back({std::string(column.name), "is longer than " + std::to_string(kMaxImportFieldBytes) +
                                                              " bytes: shorten it"});
        continue;
      }
      if (auto control = control_character_in(cell)) {
        std::array<char, 8> code{};
        std::snprintf(code.data(), code.size(), "U+%04X", *control);
        row.problems.push_back({std::string(column.name), std::string("holds a control character (") + code.data() +
                                                              "): remove it (a line break inside quotes counts too)"});
        continue;
      }
      // Texts without values, so the desk shows them translated (its catalogue holds them).
      if (bidi_control_in(cell)) {
        row.problems.push_back({std::string(column.name),
                                N_("holds a bidirectional control character (U+202A-U+202E, U+2066-U+2069, U+200E, "
                                   "U+200F or U+061C), which changes the order its text is read in: remove it")});
        continue;
      }
      if (formula_start_in(cell)) {
        row.problems.push_back({std::string(column.name),
                                N_("begins with =, +, - or @, which a spreadsheet runs as a formula: write the value "
                                   "without it")});
        continue;
      }
      if (cell.empty()) continue;
      fill(row, column, cell);
    }
    file.rows.push_back(std::move(row));
  }
  return file;
}

}  // namespace fpx::cli
