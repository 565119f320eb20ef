// The desk's bulk import (issue 17): a CSV of seized firearms uploaded on
// /import is checked line by line exactly as `fpx trace import` checks it
// (cli::check_import: libcsv, the desk's composer, the exchange's rules,
// identifier completeness, the duplicate rule); with ImportAction::send the
// lines that pass are sent through the desk's session, and only once the
// whole file was checked. A file that cannot be parsed sends nothing.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "desk_server.hpp"
#include "desk_session.hpp"
#include "import_check.hpp"
#include "pages.hpp"

namespace fpx::desk {

// The body of POST /import, the one route besides /new with a larger limit:
// the CSV itself up to cli::kMaxImportBytes (1 MiB, the bound of `fpx trace
// import`: a seizure of 500 firearms at about 300 bytes a line is 150 KiB,
// so a real file fits seven times over), plus the form's own fields and the
// multipart framing (kMaxRequestBodyBytes). Every other route keeps its own
// limit, so a page or a local process cannot make each request hold 1 MiB;
// above it, 413 from the Content-Length, before the body is read.
//
// The confirmation carries the checked file back as base64 (kCheckedCsvField,
// issue 14 after review: byte for byte, which a textarea is not), 4 bytes for
// every 3 of the file: the limit is that of the largest file so carried.
inline constexpr std::size_t kMaxImportBase64Bytes = (cli::kMaxImportBytes + 2) / 3 * 4;
inline constexpr std::size_t kMaxImportBodyBytes = kMaxImportBase64Bytes + kMaxRequestBodyBytes;
// One import checked or sent at a time: two tabs sending the same file at
// once would each check it against the open requests before either sent,
// and send every line twice; and each import holds a server thread and up
// to a megabyte for seconds. A second one is answered 503 at once.
inline constexpr std::size_t kMaxConcurrentImports = 1;

enum class ImportAction { check, send };

struct ImportReply {
  int status = 200;  // 422 when the file is refused or a line is left to fix
  std::string page;
};

ImportReply import_csv(const PageContext& context, DeskSession& session, std::string_view csv, ImportAction action,
                       cli::ImportDuplicates duplicates);

}  // namespace fpx::desk
