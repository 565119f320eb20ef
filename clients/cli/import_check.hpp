// The checks of a bulk import (issue 17), shared by `fpx trace import` and
// the desk's import page: every line of a CSV of seized firearms
// (seized_csv.hpp) becomes a tracing request composed as the desk's form
// composes one (desk::compose_request), sealed by the participant, validated
// with the exchange's rules, scored for identifier completeness, and
// compared with the open requests of our state and with the file's earlier
// lines (the duplicate rule of fpx/duplicate_request.hpp). Nothing here sends.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "case_files.hpp"
#include "fpx/envelope.hpp"
#include "fpx/validate.hpp"
#include "json_messages.hpp"
#include "seized_csv.hpp"

namespace fpx::cli {

// A line that repeats an open request of our state (or an earlier line of
// the file) is a problem, not sent, unless the officer says to send anyway.
enum class ImportDuplicates { refuse, send_anyway };

struct ImportCheck {
  std::size_t line = 0;
  std::string case_reference;
  std::string serial_number;
  std::vector<ImportProblem> problems;  // empty: ready to send
  std::vector<std::string> warnings;    // duplicates sent anyway
  CompletenessReport completeness;
  std::string draft_json;  // {"header", "body"} as `fpx trace submit` reads it (no id, sender or time yet)
  std::string message_id;  // hex, of the sealed envelope
  Bytes sealed;            // the signed envelope, sent as it is with --send
  // The composed request of a line that passed: the desk sends it through
  // its session (which seals it again, with the time it is sent).
  std::shared_ptr<Draft> draft;
  bool ok() const { return problems.empty(); }
};

// The whole file checked, or the error that refuses the file as a whole
// (parse_seized_csv's: nothing of it is drafted or sent).
Result<std::vector<ImportCheck>> check_import(std::string_view csv, const Identity& identity,
                                              const desk::CaseFiles& open_cases, ImportDuplicates duplicates);

// The column of the CSV a field path names ("body.tracingRequest.firearms[0].calibre" -> "calibre"); "" if none.
std::string import_column_of(std::string_view path);

}  // namespace fpx::cli
