// A scratch directory for fuzz targets whose parser takes files: made once
// per process, removed at exit (libFuzzer ends with exit(), which runs static
// destructors). No Catch2: libFuzzer binaries have their own main().
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <stdlib.h>  // mkdtemp

namespace fpx::fuzz {

class FuzzTempDir {
 public:
  explicit FuzzTempDir(const char* name) {
    // Memory-backed when the machine has it: rewriting a file per input on
    // ext4 forces a writeback at every close (auto_da_alloc), which made the
    // certificate target wait on the disk more than it parsed.
    std::error_code error;
    const std::filesystem::path base =
        std::filesystem::is_directory("/dev/shm", error) ? std::filesystem::path("/dev/shm")
                                                         : std::filesystem::temp_directory_path();
    std::string pattern = (base / (std::string(name) + "-XXXXXX")).string();
    if (mkdtemp(pattern.data()) == nullptr) {
      std::perror("fuzz: mkdtemp");
      std::abort();
    }
    path_ = pattern;
  }
  ~FuzzTempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  FuzzTempDir(const FuzzTempDir&) = delete;
  FuzzTempDir& operator=(const FuzzTempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Replaces `path` with exactly `size` bytes; a scratch file that cannot be
// written is a broken machine, not a finding.
inline void write_file(const std::filesystem::path& path, const void* data, std::size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) {
    std::fprintf(stderr, "fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
}

}  // namespace fpx::fuzz
