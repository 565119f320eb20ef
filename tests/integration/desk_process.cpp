#include "desk_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace fpx::test {

namespace {

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

DeskProcess::DeskProcess(const std::filesystem::path& profile, const std::filesystem::path& scratch,
                         const std::vector<std::string>& extra_args, const std::map<std::string, std::string>& environment) {
  static int counter = 0;
  log_ = scratch / ("desk-" + std::to_string(::getpid()) + "-" + std::to_string(++counter) + ".log");
  std::vector<std::string> words{std::string(FPX_BIN_DIR) + "/fpx", "--profile", profile.string(), "desk", "--port", "0"};
  words.insert(words.end(), extra_args.begin(), extra_args.end());
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    for (const char* name : {"LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "FPX_PROFILE"}) ::unsetenv(name);
    for (const auto& [name, value] : environment) ::setenv(name.c_str(), value.c_str(), 1);
    std::vector<char*> argv;
    for (auto& word : words) argv.push_back(word.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    const auto text = read_text(log_);
    const auto at = text.find("http://127.0.0.1:");
    if (at != std::string::npos && text.find('\n', at) != std::string::npos) {
      login_url_ = text.substr(at, text.find('\n', at) - at);
      port_ = std::stoi(login_url_.substr(std::string("http://127.0.0.1:").size()));
      return;
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("fpx desk exited before printing its URL:\n" + text);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error("fpx desk printed no URL within 60 s:\n" + read_text(log_));
}

DeskProcess::~DeskProcess() {
  if (pid_ > 0) stop();
}

std::string DeskProcess::token() const { return login_url_.substr(login_url_.find("token=") + 6); }

std::string DeskProcess::output() const { return read_text(log_); }

int DeskProcess::stop() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (::waitpid(pid_, &status, WNOHANG) != pid_) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace fpx::test
