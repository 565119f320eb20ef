// [[witnesses]] and oversight.witness_timeout_ms in broker.toml (issue 13):
// a witness the broker cannot ask correctly is refused at start, naming the field.
#include <filesystem>
#include <fstream>
#include <string>

#include <catch2/catch.hpp>

#include "fpx/broker/config.hpp"
#include "fpx/cosignature.hpp"
#include "fpx/crypto.hpp"
#include "support/test_pki.hpp"

using namespace fpx;
using namespace fpx::broker;

namespace {

std::string vkey_of(const std::string& name) {
  auto key = SigningKey::generate();
  REQUIRE(key.ok());
  return format_verifier_key(WitnessKey{name, key->public_key()}.verifier_key());
}

std::string witness(const std::string& name, const std::string& vkey, const std::string& url) {
  return "[[witnesses]]\nname = \"" + name + "\"\nvkey = \"" + vkey + "\"\nurl = \"" + url + "\"\n";
}

}  // namespace

TEST_CASE("The broker reads its witnesses and refuses a witness it could not ask correctly") {
  test::TempDir dir;
  const auto path = dir.path() / "broker.toml";
  // What a broker.toml needs besides: paths that exist (their contents are read at start, not here).
  for (const char* sub : {"crl", "enrolled", "identity"}) std::filesystem::create_directories(dir.path() / sub);
  std::ofstream(dir.path() / "root.pem") << "";
  const std::string base =
      "[pki]\nroot_ca = \"root.pem\"\ncrl_dir = \"crl\"\nenrolled_dir = \"enrolled\"\n[identity]\ndir = "
      "\"identity\"\n[storage]\ndatabase = \"x.sqlite\"\n[oversight]\nwitness_timeout_ms = 1500\n";
  auto parse = [&](const std::string& witnesses) { return parse_broker_config(base + witnesses, path); };
  auto problems = [&](const std::string& witnesses) {
    const auto config = parse(witnesses);
    return config.ok() ? std::string() : config.error().describe();
  };
  const auto w1 = vkey_of("w1.example/w");
  const auto w2 = vkey_of("w2.example/w");

  SECTION("two witnesses and a timeout are read as written") {
    auto config = parse(witness("w1.example/w", w1, "http://127.0.0.1:7480") +
                        witness("w2.example/w", w2, "http://127.0.0.1:7481/prefix"));
    INFO((config.ok() ? std::string() : config.error().describe()));
    REQUIRE(config.ok());
    REQUIRE(config->witnesses.size() == 2);
    CHECK(config->witnesses[0].key == parse_witness_key(w1).value());
    CHECK(config->witnesses[1].url == "http://127.0.0.1:7481/prefix");
    CHECK(config->oversight.witness_timeout_ms == 1500);
  }
  SECTION("a vkey under another name is refused") {
    CHECK_THAT(problems(witness("w2.example/w", w1, "http://127.0.0.1:7480")), Catch::Contains("witnesses[0].name"));
  }
  SECTION("a vkey that is not one is refused") {
    CHECK_THAT(problems(witness("w1.example/w", "w1.example/w+00000000+AAAA", "http://127.0.0.1:7480")),
               Catch::Contains("witnesses[0].vkey"));
  }
  SECTION("an address that is not plain http is refused") {
    CHECK_THAT(problems(witness("w1.example/w", w1, "tcp://127.0.0.1:7480")), Catch::Contains("witnesses[0].url"));
  }
  SECTION("one witness listed twice is refused") {
    CHECK_THAT(problems(witness("w1.example/w", w1, "http://a:1") + witness("w1.example/w", w1, "http://b:1")),
               Catch::Contains("witnesses[1].name"));
  }
  SECTION("more witnesses than kMaxWitnesses are refused") {
    std::string many;
    for (std::size_t i = 0; i <= kMaxWitnesses; ++i) {
      const std::string name = "w" + std::to_string(i) + ".example/w";
      many += witness(name, vkey_of(name), "http://127.0.0.1:7480");
    }
    CHECK_THAT(problems(many), Catch::Contains("more than"));
  }
  SECTION("a witness table without its url is refused") {
    CHECK_THAT(problems("[[witnesses]]\nname = \"w1.example/w\"\nvkey = \"" + w1 + "\"\n"),
               Catch::Contains("needs name, vkey and url"));
  }
  SECTION("a timeout out of range is refused") {
    const auto config =
        parse_broker_config("[storage]\ndatabase = \"x.sqlite\"\n[oversight]\nwitness_timeout_ms = 10\n", path);
    REQUIRE_FALSE(config.ok());
    CHECK_THAT(config.error().describe(), Catch::Contains("oversight.witness_timeout_ms"));
  }
}
