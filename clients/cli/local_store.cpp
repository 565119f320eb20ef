#include "local_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>
#include <set>

namespace fpx::cli {

Status write_file_atomically(const std::filesystem::path& path, ByteView bytes) {
  std::error_code error;
  std::filesystem::create_directories(path.parent_path(), error);
  if (error) return make_error(ErrorCode::io_error, "cannot create " + path.parent_path().string() + ": " + error.message());
  const auto temporary = path.string() + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(ErrorCode::io_error, "cannot write " + temporary + ": check the folder's permissions");
  std::size_t written = 0;
  while (written < bytes.size()) {
    const auto n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n <= 0) {
      ::close(fd);
      return make_error(ErrorCode::io_error, "writing " + temporary + " failed: is the disk full?");
    }
    written += static_cast<std::size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) return make_error(ErrorCode::io_error, "cannot flush " + temporary + " to disk");
  std::filesystem::rename(temporary, path, error);
  if (error) return make_error(ErrorCode::io_error, "cannot rename " + temporary + ": " + error.message());
  return {};
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

Result<MessageId> resolve_message_id(std::string_view id_or_prefix, const std::vector<std::filesystem::path>& folders) {
  std::string prefix;
  for (const char c : id_or_prefix) prefix += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const bool hex = !prefix.empty() && std::all_of(prefix.begin(), prefix.end(), [](char c) {
    return std::isxdigit(static_cast<unsigned char>(c)) != 0;
  });
  if (!hex || prefix.size() > 2 * MessageId::kSize) {
    std::string message = "'";  // appended, not "'" + std::string: g++ 12 -Wrestrict false positive
    message += id_or_prefix;
    message += "' is not a message id: give the hex id (or a unique prefix) that `fpx inbox` printed";
    return make_error(ErrorCode::invalid_argument, message);
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
      if (it->path().extension() == kEnvelopeExtension && name.rfind(prefix, 0) == 0) matches.insert(it->path().stem().string());
    }
  }
  if (matches.empty()) {
    return make_error(ErrorCode::not_found, "no saved message id starts with " + prefix +
                                                ": run `fpx inbox` to fetch new messages, or give the full id");
  }
  if (matches.size() > 1) {
    std::string list;
    for (const auto& match : matches) list += (list.empty() ? "" : ", ") + match;
    return make_error(ErrorCode::invalid_argument,
                      "the prefix " + prefix + " matches several messages (" + list + "): give more characters");
  }
  auto bytes = from_hex(*matches.begin());
  if (bytes) {
    if (auto id = MessageId::from_bytes(*bytes)) return *id;
  }
  return make_error(ErrorCode::invalid_argument, "the saved file " + *matches.begin() + " is not named by a message id");
}

}  // namespace fpx::cli
