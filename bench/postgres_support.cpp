#include "postgres_support.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdlib.h>  // mkdtemp
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include "bench_support.hpp"

namespace fpx::bench {

namespace {

namespace fs = std::filesystem;

const fs::path kPostgresBin = "/usr/lib/postgresql/15/bin";

std::string quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') quoted += "'\\''";
    else quoted += c;
  }
  return quoted + "'";
}

int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) fail("socket() failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ::close(fd);
    fail("no free loopback port for PostgreSQL");
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

}  // namespace

BenchPostgres::BenchPostgres() {
  if (!fs::exists(kPostgresBin / "initdb")) {
    fail("PostgreSQL 15's server is not installed (" + (kPostgresBin / "initdb").string() +
         "): run deploy/install-packages.sh");
  }
  // Its own directory, not the bench's TempDir: the `postgres` user must own it.
  // mkdtemp replaces the trailing XXXXXX with a unique name.
  std::string pattern = (fs::temp_directory_path() / "fpx-bench-pg-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) fail("cannot create a directory for PostgreSQL");
  root_ = pattern;
  data_ = root_ / "data";
  socket_dir_ = root_ / "socket";
  log_ = root_ / "server.log";
  fs::create_directories(socket_dir_);
  as_root_ = ::geteuid() == 0;
  if (as_root_) {
    const passwd* owner = ::getpwnam("postgres");
    if (owner == nullptr) fail("running as root, and there is no `postgres` user to run PostgreSQL as");
    for (const auto& path : {root_, socket_dir_}) {
      if (::chown(path.c_str(), owner->pw_uid, owner->pw_gid) != 0) fail("cannot chown " + path.string());
    }
  }
  port_ = free_loopback_port();
  // --no-sync: initdb's closing fsync protects a cluster thrown away at the
  // end; the server itself runs with fsync on, so commits are durable.
  const std::string initdb = quote((kPostgresBin / "initdb").string()) + " -D " + quote(data_.string()) +
                             " -U fpx --auth-local=trust --auth-host=reject -E UTF8 --locale=C.UTF-8 "
                             "--no-instructions --no-sync > " + quote((root_ / "initdb.log").string()) + " 2>&1";
  if (run_as_owner(initdb) != 0) fail("initdb failed:\n" + read_text(root_ / "initdb.log"));
  // The server's defaults otherwise (shared_buffers 128 MB): what a small
  // deployment starts from, not tuned for the bench.
  const std::string options = "-k " + socket_dir_.string() + " -p " + std::to_string(port_) +
                              " -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on";
  const std::string start = quote((kPostgresBin / "pg_ctl").string()) + " -D " + quote(data_.string()) + " -l " +
                            quote(log_.string()) + " -o " + quote(options) + " -w -t 60 start > /dev/null 2>&1";
  if (run_as_owner(start) != 0) fail("PostgreSQL did not start:\n" + read_text(log_));
  running_ = true;
  const std::string createdb = quote((kPostgresBin / "createdb").string()) + " -h " + quote(socket_dir_.string()) +
                               " -p " + std::to_string(port_) + " -U fpx fpx > /dev/null 2>&1";
  if (run_as_owner(createdb) != 0) fail("createdb failed:\n" + read_text(log_));
  dsn_ = "host=" + socket_dir_.string() + " port=" + std::to_string(port_) + " dbname=fpx user=fpx";
}

BenchPostgres::~BenchPostgres() {
  if (running_) {
    run_as_owner(quote((kPostgresBin / "pg_ctl").string()) + " -D " + quote(data_.string()) +
                 " -m immediate stop > /dev/null 2>&1");
  }
  std::error_code ignored;
  fs::remove_all(root_, ignored);
}

int BenchPostgres::run_as_owner(const std::string& command_line) const {
  const std::string line = as_root_ ? "runuser -u postgres -- sh -c " + quote(command_line) : command_line;
  const int status = std::system(line.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace fpx::bench
