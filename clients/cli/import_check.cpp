#include "import_check.hpp"

#include "case_search.hpp"
#include "compose.hpp"
#include "fpx/duplicate_request.hpp"

namespace fpx::cli {

namespace {

// seized_csv.cpp fills at most this many requested states, the rows the form reads.
static_assert(desk::kRequestedStateRows == 3);

void add_field_errors(ImportCheck& check, const Error& error) {
  if (error.field_errors.empty()) {
    check.problems.push_back({"", error.message});
    return;
  }
  for (const auto& field : error.field_errors) {
    const std::string column = import_column_of(field.path);
    // Without a column of its own (requestingCountry, recipients): the path says what it is.
    check.problems.push_back({column, column.empty() ? field.path + ": " + field.message : field.message});
  }
}

// What is kept of a line that passed, to compare the next lines with.
struct Passed {
  std::size_t line = 0;
  std::shared_ptr<Draft> draft;
};

}  // namespace

std::string import_column_of(std::string_view path) {
  std::string field = desk::form_field_of(std::string(path));
  if (field == "nationalCaseReference") return "case_reference";
  if (field.rfind("header.recipients", 0) == 0) return "requested_states";
  for (const auto& column : import_columns()) {
    const std::string_view form_field = column.form_field;
    if (field.compare(0, form_field.size(), form_field) != 0) continue;
    // "firearms[0].model" must not match "firearms[0].modelYear"; a list index or sub-field may follow.
    if (field.size() == form_field.size() || field[form_field.size()] == '.' || field[form_field.size()] == '[') {
      return std::string(column.name);
    }
  }
  return {};
}

Result<std::vector<ImportCheck>> check_import(std::string_view csv, const Identity& identity,
                                              const desk::CaseFiles& open_cases, ImportDuplicates duplicates) {
  auto file = parse_seized_csv(csv);
  if (!file) return std::move(file).take_error();
  const auto& me = identity.participant();
  if (!role_may_sign(me.role, wire::MessageType::TRACING_REQUEST)) {
    return make_error(ErrorCode::wrong_role, me.id.str() + " is of role " + std::string(role_name(me.role)) +
                                                 " and may not send tracing requests: import with an agency's or a "
                                                 "focal point's profile");
  }
  std::vector<ImportCheck> checks;
  std::vector<Passed> passed;
  for (const auto& row : file->rows) {
    ImportCheck check;
    check.line = row.line;
    check.problems = row.problems;
    check.case_reference = desk::form_value(row.form, "header.caseReference");
    check.serial_number = desk::form_value(row.form, "firearms[0].serialNumber");
    if (!check.ok()) {
      checks.push_back(std::move(check));
      continue;
    }
    auto draft = std::make_shared<Draft>();
    if (auto composed = desk::compose_request(row.form, me, *draft); !composed) {
      add_field_errors(check, composed.error());
      checks.push_back(std::move(check));
      continue;
    }
    check.draft_json = render_message_json(draft->header.asReader(), draft->body.asReader());
    auto sealed = seal_envelope(identity, draft->header, draft->body.asReader());
    if (!sealed) {
      add_field_errors(check, sealed.error());
      checks.push_back(std::move(check));
      continue;
    }
    const auto header = draft->header.asReader();
    const auto request = draft->body.asReader().getTracingRequest();
    for (const auto& problem : validate_message(header, draft->body.asReader(), {now_ms()})) {
      const std::string column = import_column_of(problem.path);
      check.problems.push_back({column, column.empty() ? problem.path + ": " + problem.message : problem.message});
    }
    if (request.getFirearms().size() > 0) check.completeness = firearm_completeness(request.getFirearms()[0]);

    // The same duplicate rule as `fpx trace submit` and the broker, against
    // our state's open requests and against the lines above this one.
    std::vector<std::string> repeats;
    for (const auto& match : desk::find_duplicates(open_cases, me.country.str(), header, request)) {
      repeats.push_back(match.reason == DuplicateReason::same_firearm
                            ? "repeats the open request " + match.open_request.hex() + " (" + match.detail + " to " +
                                  match.state + ")"
                            : "carries the reference to another channel of the open request " +
                                  match.open_request.hex() + " (" + match.detail + ")");
    }
    for (const auto& earlier : passed) {
      const auto earlier_header = earlier.draft->header.asReader();
      if (auto finding = repeats_request(header, request, earlier_header,
                                         earlier.draft->body.asReader().getTracingRequest())) {
        repeats.push_back("repeats line " + std::to_string(earlier.line) + " of this file (" + finding->detail + ")");
      }
    }
    for (auto& repeat : repeats) {
      if (duplicates == ImportDuplicates::send_anyway) {
        check.warnings.push_back(std::move(repeat));
      } else {
        check.problems.push_back({"", std::move(repeat)});
      }
    }
    if (check.ok()) {
      const auto id = draft->header.getMessageId();
      check.message_id = MessageId::from_bytes(ByteView(id.begin(), id.size())).value_or(MessageId{}).hex();
      check.sealed = std::move(sealed).value();
      check.draft = draft;
      passed.push_back({row.line, std::move(draft)});
    }
    checks.push_back(std::move(check));
  }
  return checks;
}

}  // namespace fpx::cli
