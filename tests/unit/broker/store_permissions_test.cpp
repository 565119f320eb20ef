// The broker's store and a client's state file hold tracing requests and
// serial numbers: they, their WAL and its index are 0600 whatever the umask,
// and an existing one that others may read is refused, not opened.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "client_state.hpp"
#include "fpx/broker/store.hpp"
#include "support/test_pki.hpp"

namespace fs = std::filesystem;
using namespace fpx;

namespace {

constexpr std::int64_t kNowMs = 1'700'000'000'000;

void require_ok(const Status& status) {
  if (!status) FAIL(status.error().describe());
}

template <typename T>
T must(Result<T> result) {
  if (!result) FAIL(result.error().describe());
  return std::move(result).value();
}

// Sets the process umask for one scope (tests in this file run one at a time).
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : previous_(::umask(mask)) {}
  ~ScopedUmask() { ::umask(previous_); }
  ScopedUmask(const ScopedUmask&) = delete;
  ScopedUmask& operator=(const ScopedUmask&) = delete;

 private:
  mode_t previous_;
};

mode_t mode_of(const fs::path& path) {
  struct stat status {};
  REQUIRE(::stat(path.c_str(), &status) == 0);
  return status.st_mode & 07777;
}

std::string octal(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode));
  return text;
}

fs::path with_suffix(const fs::path& path, const char* suffix) {
  return fs::path(path.string() + suffix);
}

// Writes a row, so that the WAL and its shared-memory index exist.
void write_an_audit_row(broker::Store& store) {
  require_ok(store.begin());
  require_ok(store.append_audit({kNowMs, "sn.focal-point", std::nullopt, "accept", ErrorCode::none, "a row"}));
  require_ok(store.commit());
}

void chmod_to(const fs::path& path, mode_t mode) {
  REQUIRE(::chmod(path.c_str(), mode) == 0);
}

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("The store, its WAL and its index are created 0600 whatever the umask") {
  for (const mode_t mask : {mode_t{022}, mode_t{000}, mode_t{077}, mode_t{0777}}) {
    DYNAMIC_SECTION("umask " << octal(mask)) {
      test::TempDir dir;
      const auto path = dir.path() / "store.db";
      ScopedUmask umask(mask);
      auto store = must(broker::open_sqlite_store(path));
      write_an_audit_row(*store);
      for (const char* suffix : {"", "-wal", "-shm"}) {
        INFO("file " << with_suffix(path, suffix));
        CHECK(octal(mode_of(with_suffix(path, suffix))) == "0600");
      }
    }
  }
}

TEST_CASE("A store that other users may read is refused and left as it was") {
  test::TempDir dir;
  const auto path = dir.path() / "store.db";
  {
    auto store = must(broker::open_sqlite_store(path));
    write_an_audit_row(*store);
  }
  SECTION("the database file is group- or world-readable") {
    chmod_to(path, 0644);
    const std::string before = read_all(path);
    auto opened = broker::open_sqlite_store(path);
    REQUIRE_FALSE(opened.ok());
    CHECK(opened.error().code == ErrorCode::io_error);
    CHECK_THAT(opened.error().message, Catch::Contains("mode 0644") && Catch::Contains("chmod 600"));
    CHECK(octal(mode_of(path)) == "0644");  // refused, not quietly fixed: the operator must judge the exposure
    CHECK(read_all(path) == before);
  }
  SECTION("the WAL beside it is group-readable") {
    std::ofstream(with_suffix(path, "-wal")) << "";  // a WAL left by an earlier, careless start
    chmod_to(with_suffix(path, "-wal"), 0640);
    auto opened = broker::open_sqlite_store(path);
    REQUIRE_FALSE(opened.ok());
    CHECK(opened.error().code == ErrorCode::io_error);
    CHECK_THAT(opened.error().message, Catch::Contains("store.db-wal") && Catch::Contains("mode 0640"));
  }
  SECTION("after chmod 600 as the message says, it opens with its rows") {
    chmod_to(path, 0644);
    REQUIRE_FALSE(broker::open_sqlite_store(path).ok());
    chmod_to(path, 0600);
    auto store = must(broker::open_sqlite_store(path));
    CHECK(must(store->audit_rows(0, 10)).size() == 1);
  }
}

TEST_CASE("An empty store file made by someone else's umask is made 0600 and used") {
  test::TempDir dir;
  const auto path = dir.path() / "store.db";
  std::ofstream(path) << "";
  chmod_to(path, 0666);
  auto store = must(broker::open_sqlite_store(path));
  write_an_audit_row(*store);
  CHECK(octal(mode_of(path)) == "0600");
  CHECK(octal(mode_of(with_suffix(path, "-wal"))) == "0600");
}

TEST_CASE("The client's state file and its WAL are created 0600 whatever the umask") {
  for (const mode_t mask : {mode_t{022}, mode_t{000}}) {
    DYNAMIC_SECTION("umask " << octal(mask)) {
      test::TempDir dir;
      const auto path = dir.path() / "client.sqlite";
      ScopedUmask umask(mask);
      auto state = must(client::ClientState::open(path.string()));
      MessageId id;
      id.bytes.fill(7);
      require_ok(state.add_to_outbox(id, as_bytes("an envelope with a serial number")));
      for (const char* suffix : {"", "-wal", "-shm"}) {
        INFO("file " << with_suffix(path, suffix));
        CHECK(octal(mode_of(with_suffix(path, suffix))) == "0600");
      }
    }
  }
}

TEST_CASE("A client state file that other users may read is refused") {
  test::TempDir dir;
  const auto path = dir.path() / "client.sqlite";
  {
    auto state = must(client::ClientState::open(path.string()));
    MessageId id;
    id.bytes.fill(7);
    require_ok(state.add_to_outbox(id, as_bytes("an envelope")));
  }
  chmod_to(path, 0604);
  auto opened = client::ClientState::open(path.string());
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.error().code == ErrorCode::io_error);
  CHECK_THAT(opened.error().message, Catch::Contains("client state file") && Catch::Contains("chmod 600"));
}
