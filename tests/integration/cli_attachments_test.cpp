// Issue 17 on the command line: `fpx trace submit --attach`, the attachments
// in `fpx trace show` (English and French), and `fpx trace attachment`, which
// saves one after checking it against its signed hash. The real `fpx` binary
// against a real fpx-broker on 127.0.0.1, with a PKI made at test time.
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "fpx/attachments.hpp"
#include "fpx/crypto.hpp"
#include "support/attachment_envelopes.hpp"
#include "support/broker_process.hpp"
#include "support/command_run.hpp"
#include "support/test_pki.hpp"

using namespace fpx;
namespace fs = std::filesystem;

namespace {

const fs::path kRequest = fs::path(FPX_SOURCE_DIR) / "deploy" / "examples" / "tracing-request.json";
const std::vector<std::string> kParticipants = {"ne.focal-point", "bf.focal-point", "sn.police-judiciaire"};

using Run = test::CommandRun;

std::string json_field(const std::string& json, const std::string& key) {
  const std::string marker = "\"" + key + "\":\"";
  const auto start = json.find(marker);
  if (start == std::string::npos) return {};
  const auto end = json.find('"', start + marker.size());
  return json.substr(start + marker.size(), end - start - marker.size());
}

void write_bytes(const fs::path& path, const Bytes& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                              static_cast<std::streamsize>(bytes.size()));
}

Bytes read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::size_t sent_count(const fs::path& profile) {
  std::size_t sent = 0;
  if (!fs::exists(profile / "sent")) return 0;
  for (const auto& entry : fs::directory_iterator(profile / "sent")) sent += entry.path().extension() == ".fpx" ? 1 : 0;
  return sent;
}

struct Exchange {
  Exchange() : pki({"SN", "NE", "BF"}) {
    pki.issue("ne.focal-point", "NE", Role::focal_point);
    pki.issue("bf.focal-point", "BF", Role::focal_point);
    pki.issue("sn.police-judiciaire", "SN", Role::agency);
    broker = std::make_unique<test::BrokerProcess>(pki, kParticipants);
    for (const auto& id : kParticipants) {
      const auto dir = pki.dir() / "profiles" / id;
      auto init = test::run_fpx(pki.dir(), {"profile", "init", "--dir", dir.string(), "--identity",
                                            (pki.dir() / "participants" / id).string(), "--broker-endpoint",
                                            broker->endpoint(), "--broker-cert",
                                            (pki.dir() / "participants" / "exchange.broker" / kChainFile).string(),
                                            "--root-ca", pki.root_pem().string(), "--crl-dir", pki.crl_dir().string()});
      INFO(init.err);
      REQUIRE(init.exit_code == 0);
      profiles[id] = dir;
    }
  }

  Run as(const std::string& id, std::vector<std::string> args) {
    args.insert(args.begin(), {"--profile", profiles.at(id).string()});
    return test::run_fpx(pki.dir(), args);
  }

  Run ok(const std::string& id, const std::vector<std::string>& args) {
    auto run = as(id, args);
    INFO(id << ": " << run.out << run.err);
    REQUIRE(run.exit_code == 0);
    return run;
  }

  void receive(const std::string& id, std::size_t count) {
    std::size_t received = 0;
    for (int attempt = 0; attempt < 10 && received < count; ++attempt) {
      auto run = ok(id, {"inbox", "--json", "--wait", "1"});
      for (const char c : run.out) received += c == '\n' ? 1 : 0;
    }
    REQUIRE(received >= count);
  }

  test::TestPki pki;
  std::unique_ptr<test::BrokerProcess> broker;
  std::map<std::string, fs::path> profiles;
};

}  // namespace

TEST_CASE("fpx trace submit --attach sends a photo and a document that trace show lists and trace attachment saves "
          "after checking the hash") {
  Exchange exchange;
  const fs::path dir = exchange.pki.dir();
  const Bytes photo = test::make_png(5000);
  const Bytes document = {'%', 'P', 'D', 'F', '-', '1', '.', '4', '\n'};
  write_bytes(dir / "marquage culasse.png", photo);
  write_bytes(dir / "pv.pdf", document);

  auto sent = exchange.ok("sn.police-judiciaire",
                          {"--json", "trace", "submit", kRequest.string(), "--attach",
                           (dir / "marquage culasse.png").string(), "--attach", (dir / "pv.pdf").string()});
  const auto id = json_field(sent.out, "messageId");
  REQUIRE(id.size() == 32);
  CHECK(contains(sent.out, "\"sha256\":\"" + to_hex(sha256(photo)) + "\""));
  exchange.receive("ne.focal-point", 1);

  auto english = exchange.ok("ne.focal-point", {"trace", "show", id.substr(0, 10), "--lang", "en"});
  INFO(english.out);
  CHECK(contains(english.out, "Attachment 1"));
  CHECK(contains(english.out, "marquage culasse.png (image/png, 5000 bytes, SHA-256 " + to_hex(sha256(photo)) + ")"));
  CHECK(contains(english.out, "pv.pdf (application/pdf, 9 bytes"));
  auto french = exchange.ok("ne.focal-point", {"trace", "show", id, "--lang", "fr"});
  INFO(french.out);
  CHECK(contains(french.out, "Pièce jointe 1"));
  CHECK(contains(french.out, "5000 octets"));

  const fs::path out = dir / "saved.png";
  auto saved = exchange.ok("ne.focal-point", {"trace", "attachment", id.substr(0, 12), "1", "--out", out.string()});
  CHECK(contains(saved.out, to_hex(sha256(photo))));
  CHECK(read_bytes(out) == photo);
  // The sender's own copy, in sent/, holds the same files.
  exchange.ok("sn.police-judiciaire", {"trace", "attachment", id, "2", "--out", (dir / "sent.pdf").string()});
  CHECK(read_bytes(dir / "sent.pdf") == document);

  SECTION("an existing file is not replaced without --overwrite") {
    auto again = exchange.as("ne.focal-point", {"trace", "attachment", id, "1", "--out", out.string()});
    CHECK(again.exit_code == 2);
    CHECK(contains(again.err, "--overwrite"));
    exchange.ok("ne.focal-point", {"trace", "attachment", id, "1", "--out", out.string(), "--overwrite"});
  }
  SECTION("a number beyond the message's attachments is a usage error naming how many there are") {
    auto beyond = exchange.as("ne.focal-point", {"trace", "attachment", id, "3", "--out", (dir / "x").string()});
    CHECK(beyond.exit_code == 2);
    CHECK(contains(beyond.err, "has 2 attachment(s)"));
  }
  SECTION("a saved message whose attachment was altered on disk is not saved from") {
    const fs::path file = exchange.profiles.at("ne.focal-point") / "inbox" / (id + ".fpx");
    Bytes other = photo;
    other[0] ^= 0xFF;  // one byte of the photo changed (back() trips GCC 12's -Warray-bounds)
    write_bytes(file, test::replace_attachment_bytes(read_bytes(file), {other, document}));
    auto altered = exchange.as("ne.focal-point", {"trace", "attachment", id, "1", "--out", (dir / "y.png").string()});
    CHECK(altered.exit_code != 0);
    CHECK_FALSE(fs::exists(dir / "y.png"));
  }
}

TEST_CASE("fpx trace submit refuses an attachment of a forbidden type or over the limit and sends nothing") {
  Exchange exchange;
  const fs::path dir = exchange.pki.dir();
  const auto profile = exchange.profiles.at("sn.police-judiciaire");
  SECTION("an HTML page renamed .png") {
    const std::string html = "<html><script>alert(1)</script></html>";
    write_bytes(dir / "photo.png", Bytes(html.begin(), html.end()));
    auto run = exchange.as("sn.police-judiciaire", {"trace", "submit", kRequest.string(), "--attach",
                                                    (dir / "photo.png").string()});
    CHECK(run.exit_code == 2);
    CHECK(contains(run.err, "not a JPEG, PNG or PDF"));
  }
  SECTION("a photo over 512 KiB") {
    write_bytes(dir / "big.jpg", test::make_jpeg_like(kMaxAttachmentBytes + 1));
    auto run = exchange.as("sn.police-judiciaire", {"trace", "submit", kRequest.string(), "--attach",
                                                    (dir / "big.jpg").string()});
    CHECK(run.exit_code == 2);
    CHECK(contains(run.err, "too_large"));
  }
  SECTION("more than 8 files") {
    std::vector<std::string> args = {"trace", "submit", kRequest.string()};
    write_bytes(dir / "a.png", test::make_png());
    for (std::size_t i = 0; i <= kMaxAttachments; ++i) {
      args.push_back("--attach");
      args.push_back((dir / "a.png").string());
    }
    auto run = exchange.as("sn.police-judiciaire", args);
    CHECK(run.exit_code == 2);
    CHECK(contains(run.err, "too_large"));
  }
  CHECK(sent_count(profile) == 0);
  CHECK(exchange.broker->audit_count("persist", "accepted") == 0);
}
