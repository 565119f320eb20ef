// A real `fpx desk` process for tests: started with a profile, its URL read
// from what it prints, stopped with SIGTERM. Shared by desk_test.cpp and
// the browser test (tests/browser/).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace fpx::test {

class DeskProcess {
 public:
  // `environment` is set in the child (e.g. {"LANG", "fr_SN.UTF-8"}); every
  // LANG/LC_*/LANGUAGE variable is cleared first, so only it counts.
  DeskProcess(const std::filesystem::path& profile, const std::filesystem::path& scratch,
              const std::vector<std::string>& extra_args, const std::map<std::string, std::string>& environment = {});
  ~DeskProcess();
  DeskProcess(const DeskProcess&) = delete;
  DeskProcess& operator=(const DeskProcess&) = delete;

  const std::string& login_url() const { return login_url_; }  // http://127.0.0.1:PORT/login?token=...
  int port() const { return port_; }
  std::string token() const;
  std::string output() const;  // what it printed so far (stdout and stderr)
  int stop();                  // SIGTERM; the exit status

 private:
  pid_t pid_ = -1;
  std::filesystem::path log_;
  std::string login_url_;
  int port_ = 0;
};

}  // namespace fpx::test
