#include "local_store.hpp"

#include "language.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>

namespace fpx::cli {

namespace {

// Marks an English text for the catalogue (xgettext --keyword=N_); translated where shown.
constexpr const char* N_(const char* english) { return english; }

// fsync of a directory: makes a rename or a new entry in it survive a power
// cut. Without it the file's bytes are on disk but its name may not be, and
// a message confirmed to the broker would be gone after the cut.
Status sync_directory(const std::filesystem::path& directory) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return make_error(ErrorCode::io_error, "cannot open " + directory.string() + " to flush it to disk");
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) return make_error(ErrorCode::io_error, "cannot flush " + directory.string() + " to disk: is the disk failing?");
  return {};
}

// Creates `directory` and any missing parents, each made durable in its own
// parent (a new inbox/ must survive a power cut as much as the file in it).
Status create_directories_durably(const std::filesystem::path& directory) {
  if (directory.empty()) return {};
  std::error_code error;
  if (std::filesystem::is_directory(directory, error)) return {};
  if (auto parent = create_directories_durably(directory.parent_path()); !parent) return parent;
  std::filesystem::create_directory(directory, error);
  if (error) {
    return make_error(ErrorCode::io_error, "cannot create the folder " + directory.string() + ": " + error.message() +
                                               " (is there a file of that name, or is the disk read-only?)");
  }
  return sync_directory(directory.parent_path().empty() ? std::filesystem::path(".") : directory.parent_path());
}

}  // namespace

Status write_file_atomically(const std::filesystem::path& path, ByteView bytes) {
  if (auto created = create_directories_durably(path.parent_path()); !created) return created;
  const auto temporary = path.string() + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return make_error(ErrorCode::io_error, "cannot write " + temporary + ": " + std::strerror(errno) +
                                               " (check the folder's permissions and free space)");
  }
  std::size_t written = 0;
  while (written < bytes.size()) {
    const auto n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n <= 0) {
      ::close(fd);
      ::unlink(temporary.c_str());
      return make_error(ErrorCode::io_error, "writing " + temporary + " failed: is the disk full?");
    }
    written += static_cast<std::size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) {
    ::unlink(temporary.c_str());
    return make_error(ErrorCode::io_error, "cannot flush " + temporary + " to disk: is the disk failing?");
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    ::unlink(temporary.c_str());
    return make_error(ErrorCode::io_error, "cannot rename " + temporary + " to " + path.filename().string() + ": " +
                                               error.message());
  }
  // The rename is durable only once the directory holding it is synced.
  return sync_directory(path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path());
}

Result<Bytes> read_whole_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::invalid_argument, "cannot read " + path.string() + ": check the path");
  Bytes bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return bytes;
}

std::filesystem::path envelope_path(const std::filesystem::path& folder, const MessageId& id) {
  return folder / (id.hex() + kEnvelopeExtension);
}

Result<MessageId> resolve_message_id(std::string_view id_or_prefix, const std::vector<std::filesystem::path>& folders,
                                     text::Language language) {
  const text::Catalogue text(language);
  std::string prefix;
  for (const char c : id_or_prefix) prefix += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const bool hex = !prefix.empty() && std::all_of(prefix.begin(), prefix.end(), [](char c) {
    return std::isxdigit(static_cast<unsigned char>(c)) != 0;
  });
  if (!hex || prefix.size() > 2 * MessageId::kSize) {
    return make_error(ErrorCode::invalid_argument,
                      fill_values(text.tr(N_("'{1}' is not a message id: give the hex id (or a unique prefix or suffix) that "
                                             "`fpx inbox` printed")),
                                  {std::string(id_or_prefix)}));
  }
  if (prefix.size() == 2 * MessageId::kSize) {
    auto bytes = from_hex(prefix);
    if (bytes) {
      if (auto id = MessageId::from_bytes(*bytes)) return *id;
    }
  }
  std::set<std::string> matches;
  for (const auto& folder : folders) {
    std::error_code error;
    for (std::filesystem::directory_iterator it(folder, error), end; !error && it != end; it.increment(error)) {
      const auto name = it->path().filename().string();
      if (it->path().extension() != kEnvelopeExtension) continue;
      // A prefix, or a suffix: the reference sealer's ids are time-ordered
      // (PROTOCOL.md §5.3), so ids sealed close together share their first
      // characters and their last ones tell them apart.
      const std::string stem = it->path().stem().string();
      const bool ends_with = stem.size() >= prefix.size() && stem.compare(stem.size() - prefix.size(), prefix.size(), prefix) == 0;
      if (name.rfind(prefix, 0) == 0 || ends_with) matches.insert(stem);
    }
  }
  if (matches.empty()) {
    return make_error(ErrorCode::not_found,
                      fill_values(text.tr(N_("no saved message id begins or ends with {1}: run `fpx inbox` to fetch "
                                             "new messages, or give the full id")),
                                  {prefix}));
  }
  if (matches.size() > 1) {
    std::string list;
    for (const auto& match : matches) list += (list.empty() ? "" : ", ") + match;
    return make_error(ErrorCode::invalid_argument,
                      fill_values(text.tr(N_("{1} begins or ends several message ids ({2}): give more characters")),
                                  {prefix, list}));
  }
  auto bytes = from_hex(*matches.begin());
  if (bytes) {
    if (auto id = MessageId::from_bytes(*bytes)) return *id;
  }
  return make_error(ErrorCode::invalid_argument, "the saved file " + *matches.begin() + " is not named by a message id");
}

}  // namespace fpx::cli
