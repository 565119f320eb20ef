#include "commands_import.hpp"

#include <filesystem>
#include <iostream>

#include "import_check.hpp"
#include "language.hpp"
#include "local_store.hpp"
#include "outgoing.hpp"
#include "render.hpp"
#include "text.hpp"

namespace fpx::cli {

namespace {

// Marks an English text for the catalogue (xgettext --keyword=N_); translated where shown.
constexpr const char* N_(const char* english) { return english; }

// "{1}", "{2}" in a translated text replaced by the values: the word order
// is the translation's, not the code's.
std::string fill(std::string_view text, const std::vector<std::string>& values) {
  std::string out(text);
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::string marker = "{" + std::to_string(i + 1) + "}";
    for (auto at = out.find(marker); at != std::string::npos; at = out.find(marker, at + values[i].size())) {
      out.replace(at, marker.size(), values[i]);
    }
  }
  return out;
}

std::string problem_text(const text::Catalogue& text, const ImportProblem& problem) {
  if (problem.column.empty()) return problem.message;
  return fill(text.tr(N_("column {1}: {2}")), {problem.column, problem.message});
}

std::string missing_text(const CompletenessReport& report) {
  std::string missing;
  for (const auto& field : report.missing) missing += (missing.empty() ? "" : ", ") + field;
  return missing;
}

std::string check_json(const ImportCheck& check, const std::string& draft_path) {
  std::vector<std::string> problems;
  for (const auto& problem : check.problems) {
    problems.push_back(JsonObject().text("column", problem.column).text("message", problem.message).str());
  }
  std::vector<std::string> warnings;
  for (const auto& warning : check.warnings) warnings.push_back(json_quote(warning));
  std::vector<std::string> missing;
  for (const auto& field : check.completeness.missing) missing.push_back(json_quote(field));
  return JsonObject()
      .unsigned_number("line", check.line)
      .boolean("ok", check.ok())
      .text("caseReference", check.case_reference)
      .text("serialNumber", check.serial_number)
      .raw("problems", json_array(problems))
      .raw("warnings", json_array(warnings))
      .number("completeness", check.completeness.score)
      .raw("missing", json_array(missing))
      .text("draft", draft_path)
      .str();
}

// "seized.csv", line 12 -> "seized-line-12.json": one draft per line, named
// after the file, so a second import of the same file replaces its drafts.
std::filesystem::path draft_path(const std::filesystem::path& folder, const std::filesystem::path& csv, std::size_t line) {
  return folder / (csv.stem().string() + "-line-" + std::to_string(line) + kJsonExtension);
}

}  // namespace

namespace {

int run_import(const GlobalOptions& global, const ImportOptions& options) {
  auto profile = load_profile(global.profile);
  if (!profile) return report_failure(global, kExitUsage, profile.error());
  auto language = resolve_language(*profile, global.language);
  if (!language) return report_failure(global, kExitUsage, language.error());
  const text::Catalogue text(*language);
  const auto tr = [&](const char* english) { return std::string(text.tr(english)); };

  auto identity = load_identity(*profile);
  if (!identity) return report_failure(global, kExitUsage, identity.error(), tr(N_("check identity.dir in fpx.toml")));
  auto open_cases = desk::CaseFiles::load(*profile, identity->participant());
  if (!open_cases) {
    return report_failure(global, kExitUsage, open_cases.error(),
                          tr(N_("the duplicate check needs this profile's inbox/ and sent/: check that they are readable")));
  }

  // The size is checked before reading: a huge file is never held in memory.
  const std::filesystem::path csv_path = options.file;
  std::error_code size_error;
  const auto size = std::filesystem::file_size(csv_path, size_error);
  if (size_error) {
    return report_failure(global, kExitUsage,
                          make_error(ErrorCode::not_found, options.file + ": " + size_error.message()),
                          tr(N_("give the path of a CSV file of seized firearms")));
  }
  if (size > kMaxImportBytes) {
    return report_failure(global, kExitUsage,
                          make_error(ErrorCode::too_large, fill(tr(N_("{1} holds {2} bytes; at most {3} are imported at once")),
                                                                {options.file, std::to_string(size),
                                                                 std::to_string(kMaxImportBytes)})),
                          tr(N_("split the file into smaller files; nothing was imported")));
  }
  auto bytes = read_whole_file(csv_path);
  if (!bytes) return report_failure(global, kExitUsage, bytes.error());

  const auto duplicates = options.force ? ImportDuplicates::send_anyway : ImportDuplicates::refuse;
  auto checks = check_import(std::string_view(reinterpret_cast<const char*>(bytes->data()), bytes->size()), *identity,
                             *open_cases, duplicates);
  if (!checks) {
    return report_failure(global, kExitUsage, checks.error(),
                          tr(N_("fix the file and import it again; nothing was written or sent")));
  }

  std::size_t ready = 0;
  for (const auto& check : *checks) ready += check.ok() ? 1 : 0;
  const std::size_t to_fix = checks->size() - ready;

  // Without --send: the lines that passed become drafts, nothing is sent.
  const std::filesystem::path drafts =
      options.drafts.empty() ? profile->dir / "drafts" : std::filesystem::path(options.drafts);
  std::vector<std::string> written(checks->size());
  if (!options.send) {
    for (std::size_t i = 0; i < checks->size(); ++i) {
      const auto& check = (*checks)[i];
      if (!check.ok()) continue;
      const auto path = draft_path(drafts, csv_path, check.line);
      if (auto saved = write_file_atomically(path, as_bytes(check.draft_json)); !saved) {
        return report_failure(global, kExitUsage, saved.error(),
                              tr(N_("check that the drafts folder can be written (--drafts DIR names another)")));
      }
      written[i] = path.string();
    }
  }

  if (global.json) {
    for (std::size_t i = 0; i < checks->size(); ++i) std::cout << check_json((*checks)[i], written[i]) << "\n";
  } else {
    for (std::size_t i = 0; i < checks->size(); ++i) {
      const auto& check = (*checks)[i];
      const std::string line = std::to_string(check.line);
      if (check.ok()) {
        std::cout << fill(tr(N_("line {1}: ready: {2} serial {3}, identifier completeness {4}/100")),
                          {line, check.case_reference.empty() ? "-" : check.case_reference,
                           check.serial_number.empty() ? "-" : check.serial_number,
                           std::to_string(check.completeness.score)});
        if (!check.completeness.missing.empty()) {
          std::cout << fill(tr(N_(", missing: {1}")), {missing_text(check.completeness)});
        }
        std::cout << "\n";
        if (!written[i].empty()) std::cout << "  " << fill(tr(N_("draft: {1}")), {written[i]}) << "\n";
      } else {
        std::cout << fill(tr(N_("line {1}: to fix, not sent:")), {line}) << "\n";
        for (const auto& problem : check.problems) std::cout << "  " << problem_text(text, problem) << "\n";
      }
      for (const auto& warning : check.warnings) {
        std::cerr << fill(tr(N_("warning: line {1} {2}; sending anyway (--force)")), {line, warning}) << "\n";
      }
    }
    std::cout << fill(tr(N_("{1} line(s) checked: {2} ready, {3} to fix.")),
                      {std::to_string(checks->size()), std::to_string(ready), std::to_string(to_fix)})
              << "\n";
    if (!options.send && ready > 0) {
      std::cout << fill(tr(N_("Drafts written to {1}; nothing was sent. `fpx trace submit DRAFT.json` sends one, "
                              "`fpx trace import {2} --send` sends every line that is ready.")),
                        {drafts.string(), options.file})
                << "\n";
    }
  }
  if (!options.send) return to_fix == 0 ? kExitOk : kExitUsage;

  // --send: only once the whole file was checked, and only the lines that passed.
  if (ready == 0) {
    if (!global.json) std::cout << tr(N_("Nothing was sent: no line is ready.")) << "\n";
    return kExitUsage;
  }
  auto client = connect_profile(*profile, std::move(identity).value());
  if (!client) {
    return report_failure(global, kExitRefused, client.error(), tr(N_("nothing was sent; try again when connected")));
  }
  std::size_t sent = 0;
  for (const auto& check : *checks) {
    if (!check.ok()) continue;
    auto receipt = (*client)->submit(check.sealed);
    const std::string line = std::to_string(check.line);
    if (!receipt) {
      std::cerr << fill(tr(N_("line {1}: not accepted: {2}")), {line, receipt.error().describe()}) << "\n";
      if (global.json) {
        std::cout << JsonObject().unsigned_number("line", check.line).boolean("sent", false)
                         .raw("error", json_error(receipt.error())).str()
                  << "\n";
      }
      continue;
    }
    ++sent;
    // Kept as `fpx trace submit` keeps what it sends: `fpx trace status` and `fpx verify` find it.
    const auto folder = profile->sent_dir();
    const auto id_hex = receipt->message_id.hex();
    if (auto saved = write_file_atomically(envelope_path(folder, receipt->message_id), check.sealed); !saved) {
      std::cerr << "fpx: " << fill(tr(N_("line {1}: sent, but not saved locally: {2}")), {line, saved.error().message})
                << "\n";
    } else {
      (void)write_file_atomically(folder / (id_hex + kJsonExtension), as_bytes(check.draft_json));
      (void)write_file_atomically(folder / (id_hex + kReceiptExtension), receipt->signed_receipt);
    }
    if (global.json) {
      std::cout << JsonObject()
                       .unsigned_number("line", check.line)
                       .boolean("sent", true)
                       .text("messageId", id_hex)
                       .unsigned_number("logIndex", receipt->log_index)
                       .text("openRequest", receipt->open_request ? receipt->open_request->hex() : "")
                       .str()
                << "\n";
    } else {
      std::cout << fill(tr(N_("line {1}: sent and receipted by the exchange: message id {2}, log index {3}")),
                        {line, id_hex, std::to_string(receipt->log_index)})
                << "\n";
    }
    if (receipt->open_request) {
      std::cerr << fill(tr(N_("warning: line {1}: the exchange found an open request of your state that it repeats: {2}")),
                        {line, receipt->open_request->hex()})
                << "\n";
    }
  }
  report_background_events(**client);
  const std::size_t ready_not_sent = ready - sent;
  if (!global.json) {
    std::cout << fill(tr(N_("{1} request(s) sent; {2} line(s) to fix; {3} refused by the exchange.")),
                      {std::to_string(sent), std::to_string(to_fix), std::to_string(ready_not_sent)})
              << "\n";
  }
  if (ready_not_sent > 0) return kExitRefused;
  return to_fix == 0 ? kExitOk : kExitUsage;
}

}  // namespace

ImportCommand::ImportCommand(CLI::App& trace, GlobalOptions& global) : global_(global) {
  command_ = trace.add_subcommand(
      "import", "a CSV of seized firearms, one per line, checked line by line (schema, identifier completeness, "
                "duplicates); the lines that pass become drafts, or are sent with --send (clients/README.md lists "
                "the columns)");
  command_->add_option("FILE", options_.file, "the CSV file; its first line names the columns")->required();
  command_->add_option("--drafts", options_.drafts, "where the drafts go (default: the profile's drafts/)");
  command_->add_flag("--send", options_.send,
                     "after the whole file was checked, send the lines that pass; nothing is sent if the file cannot "
                     "be read as CSV");
  command_->add_flag("--force", options_.force,
                     "send a line even when it repeats an open request of your state or an earlier line");
  command_->add_option("--lang", global.language, "fr or en (default: the profile's [user] language, else LANG)");
}

std::optional<int> ImportCommand::run_parsed() const {
  if (command_->parsed()) return run_import(global_, options_);
  return std::nullopt;
}

}  // namespace fpx::cli
