#include "fpx/private_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

namespace fpx {

namespace {

// Owner read and write only: anyone else on the host who could read the
// store would read every tracing request and serial number in it.
constexpr mode_t kPrivateMode = S_IRUSR | S_IWUSR;
constexpr mode_t kGroupAndOthers = S_IRWXG | S_IRWXO;

// The files SQLite keeps beside a database in WAL mode (and a rollback
// journal, left by a connection that ran without WAL).
constexpr std::array<const char*, 3> kSidecarSuffixes = {"-wal", "-shm", "-journal"};

std::string octal(mode_t mode) {
  std::array<char, 8> text{};
  std::snprintf(text.data(), text.size(), "%04o", static_cast<unsigned>(mode & 07777));
  return text.data();
}

Error shared_file(const std::string& file, std::string_view what, const std::string& database, mode_t mode) {
  return make_error(ErrorCode::io_error,
                    std::string(what) + " " + file + " may be read or written by other users (mode " + octal(mode) +
                        "): it holds tracing requests and serial numbers. Check who could have read it, then run "
                        "chmod 600 " +
                        database + "*" + " and start again");
}

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

Status prepare_private_database_file(const std::filesystem::path& database, std::string_view what) {
  const std::string name = database.string();
  // 0600 on creation; umask can only take bits away, and fchmod below puts
  // back what a umask such as 0777 took from the owner.
  FileDescriptor fd(::open(name.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, kPrivateMode));
  if (fd.get() < 0) {
    return make_error(ErrorCode::io_error, "cannot create or open " + std::string(what) + " " + name + ": " +
                                               std::strerror(errno) +
                                               "; check that the directory exists and is writable");
  }
  struct stat status {};
  if (::fstat(fd.get(), &status) != 0) {
    return make_error(ErrorCode::io_error,
                      "cannot read the mode of " + std::string(what) + " " + name + ": " + std::strerror(errno));
  }
  if (!S_ISREG(status.st_mode)) {
    return make_error(ErrorCode::io_error,
                      std::string(what) + " " + name + " is not a regular file: point it at a file path");
  }
  if ((status.st_mode & 0777) != kPrivateMode) {
    if (status.st_size != 0 && (status.st_mode & kGroupAndOthers) != 0) {
      return shared_file(name, what, name, status.st_mode);
    }
    if (status.st_size == 0 && ::fchmod(fd.get(), kPrivateMode) != 0) {
      return make_error(ErrorCode::io_error, "cannot make " + std::string(what) + " " + name +
                                                 " private to its owner (chmod 600): " + std::strerror(errno));
    }
  }
  for (const char* suffix : kSidecarSuffixes) {
    const std::string sidecar = name + suffix;
    struct stat sidecar_status {};
    if (::stat(sidecar.c_str(), &sidecar_status) != 0) continue;  // absent: SQLite creates it like the database
    if ((sidecar_status.st_mode & kGroupAndOthers) != 0) {
      return shared_file(sidecar, what, name, sidecar_status.st_mode);
    }
  }
  return {};
}

}  // namespace fpx
