#include "desk_import.hpp"

#include "case_files.hpp"
#include "profile.hpp"

namespace fpx::desk {

ImportReply import_csv(const PageContext& context, DeskSession& session, std::string_view csv, ImportAction action,
                       cli::ImportDuplicates duplicates) {
  ImportReply reply;
  // The officer's own keys, from the profile the desk runs with: the
  // lines are sealed to be checked by the exchange's rules, as the CLI does.
  auto identity = cli::load_identity(session.profile());
  auto open_cases = CaseFiles::load(session.profile(), session.participant());
  Error error;
  if (!identity) {
    error = identity.error();
  } else if (!open_cases) {
    error = open_cases.error();
  } else if (auto checks = cli::check_import(csv, *identity, *open_cases, duplicates); !checks) {
    error = checks.error();
  } else {
    ImportView view;
    view.checks = &*checks;
    if (action == ImportAction::check) {
      view.checked_csv = csv;
      view.send_anyway = duplicates == cli::ImportDuplicates::send_anyway;
    }
    bool all_ok = true;
    for (const auto& check : *checks) all_ok = all_ok && check.ok();
    if (action == ImportAction::send) {
      view.sent.resize(checks->size());
      for (std::size_t i = 0; i < checks->size(); ++i) {
        auto& check = (*checks)[i];
        if (!check.ok() || !check.draft) continue;
        auto outcome = session.send(*check.draft);
        if (outcome.accepted && outcome.message_id) {
          view.sent[i].message_id = outcome.message_id->hex();
        } else {
          view.sent[i].refusal = outcome.error.describe();
          all_ok = false;
        }
      }
    }
    reply.status = all_ok ? 200 : 422;
    reply.page = import_page(context, view);
    return reply;
  }
  ImportView view;
  view.error = &error;
  reply.status = 422;
  reply.page = import_page(context, view);
  return reply;
}

}  // namespace fpx::desk
