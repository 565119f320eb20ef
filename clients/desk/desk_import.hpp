// The desk's bulk import (issue 17): a CSV of seized firearms uploaded on
// /import is checked line by line exactly as `fpx trace import` checks it
// (cli::check_import: libcsv, the desk's composer, the exchange's rules,
// identifier completeness, the duplicate rule); with ImportAction::send the
// lines that pass are sent through the desk's session, and only once the
// whole file was checked. A file that cannot be parsed sends nothing.
#pragma once

#include <string>
#include <string_view>

#include "desk_session.hpp"
#include "import_check.hpp"
#include "pages.hpp"

namespace fpx::desk {

enum class ImportAction { check, send };

struct ImportReply {
  int status = 200;  // 422 when the file is refused or a line is left to fix
  std::string page;
};

ImportReply import_csv(const PageContext& context, DeskSession& session, std::string_view csv, ImportAction action,
                       cli::ImportDuplicates duplicates);

}  // namespace fpx::desk
