// Starts a real broker and two desks (the Senegalese agency in French,
// Niger's focal point in English), then runs tests/browser/desk.spec.mjs in
// Debian's headless Chromium through playwright-core (`npm ci` in
// tests/browser: tests/run.sh does it). Screenshots: build/tests/desk-screenshots/.
// A second case runs tests/browser/desk_import.spec.mjs: the import page
// with a seizure of 200 firearms (issue 17).
#include <filesystem>

#include <catch2/catch.hpp>

#include "desk_exchange.hpp"
#include "desk_process.hpp"

using namespace fpx;

TEST_CASE("in a browser a Senegalese agency files a request in French and Niger answers it live in English") {
  const std::filesystem::path dir = FPX_BROWSER_TEST_DIR;
  if (!std::filesystem::exists(dir / "node_modules" / "playwright-core")) {
    FAIL("playwright-core is not installed: run `npm ci` in " + dir.string() + " (tests/run.sh does)");
  }
  if (!std::filesystem::exists("/usr/bin/chromium")) {
    FAIL("chromium is not installed: run deploy/install-packages.sh as root (it installs Debian's chromium)");
  }
  test::DeskExchange exchange;
  test::DeskProcess senegal(exchange.profiles.at("sn.police-judiciaire"), exchange.pki.dir(), {"--lang", "fr"});
  test::DeskProcess niger(exchange.profiles.at("ne.focal-point"), exchange.pki.dir(), {"--lang", "en"});
  auto run = test::run_command({"env", "DESK_SN_URL=" + senegal.login_url(), "DESK_NE_URL=" + niger.login_url(),
                                std::string("FPX_SCREENSHOT_DIR=") + FPX_SCREENSHOT_DIR, "timeout", "300", "node",
                                (dir / "desk.spec.mjs").string()},
                               exchange.pki.dir(), dir);
  INFO("node stdout:\n" << run.out << "\nnode stderr:\n" << run.err << "\nsenegal desk:\n"
                        << senegal.output() << "\nniger desk:\n" << niger.output());
  CHECK(run.exit_code == 0);
  CHECK(std::filesystem::exists(std::filesystem::path(FPX_SCREENSHOT_DIR) / "07-senegal-closed-fr.png"));
}

// Issue 17: the import page with a real seizure (200 lines, four wrong), in
// French: tests/browser/desk_import.spec.mjs drives it; here the broker's
// own count says the ready lines, and only they, were stored.
TEST_CASE("in a browser a customs officer imports a seizure of 200 firearms in French and sends only the lines that "
          "are ready") {
  const std::filesystem::path dir = FPX_BROWSER_TEST_DIR;
  if (!std::filesystem::exists(dir / "node_modules" / "playwright-core")) {
    FAIL("playwright-core is not installed: run `npm ci` in " + dir.string() + " (tests/run.sh does)");
  }
  if (!std::filesystem::exists("/usr/bin/chromium")) {
    FAIL("chromium is not installed: run deploy/install-packages.sh as root (it installs Debian's chromium)");
  }
  test::DeskExchange exchange;
  test::DeskProcess senegal(exchange.profiles.at("sn.police-judiciaire"), exchange.pki.dir(), {"--lang", "fr"});
  auto run = test::run_command({"env", "DESK_SN_URL=" + senegal.login_url(),
                                std::string("FPX_SCREENSHOT_DIR=") + FPX_SCREENSHOT_DIR, "timeout", "300", "node",
                                (dir / "desk_import.spec.mjs").string()},
                               exchange.pki.dir(), dir);
  INFO("node stdout:\n" << run.out << "\nnode stderr:\n" << run.err << "\nsenegal desk:\n" << senegal.output());
  CHECK(run.exit_code == 0);
  // 200 lines, 4 to fix: 196 requests stored by the exchange, no more.
  CHECK(exchange.broker->audit_count("persist", "accepted") == 196);
  CHECK(std::filesystem::exists(std::filesystem::path(FPX_SCREENSHOT_DIR) / "13-import-sent-fr.png"));
}
