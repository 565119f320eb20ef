// Files that only their owner may read: the broker's store and a client's
// state file hold firearm serial numbers, requests and the audit trail.
#pragma once

#include <filesystem>
#include <string_view>

#include "fpx/result.hpp"

namespace fpx {

// Creates `database` with mode 0600 whatever the process umask, before
// SQLite opens it: SQLite gives the WAL, its shared-memory index and any
// rollback journal the mode of the database file, so they follow.
// An existing database (or -wal, -shm, -journal beside it) that group or
// others may read or write is refused (io_error) rather than fixed: it may
// already have been copied, and only the operator can judge that; the
// message says which chmod restores it. An empty database file is ours to
// set, since nothing can have leaked from it. `what` names the file in
// messages ("store", "client state file").
Status prepare_private_database_file(const std::filesystem::path& database, std::string_view what);

}  // namespace fpx
