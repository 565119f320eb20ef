// A fresh directory under the system temp dir for one bench run: removed at
// the end unless kept (--keep-dir), so that a run's files can be inspected.
#pragma once

#include <stdlib.h>  // mkdtemp

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace fpx::bench {

enum class KeepDir { remove, keep };

class TempDir {
 public:
  explicit TempDir(KeepDir keep = KeepDir::remove) : keep_(keep) {
    std::string pattern = (std::filesystem::temp_directory_path() / "fpx-bench-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::perror("fpx bench: cannot create a temporary directory");
      std::exit(1);
    }
    path_ = pattern;
  }
  ~TempDir() {
    if (keep_ == KeepDir::keep) {
      std::fprintf(stderr, "# kept %s\n", path_.c_str());
      return;
    }
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  KeepDir keep_;
};

}  // namespace fpx::bench
