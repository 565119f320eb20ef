// libFuzzer target for the fpx command line's message JSON reader
// (Cap'n Proto's JsonCodec plus our schema checks): parse_message_json,
// which read_message_json calls with the file's text.
//
// Checks: a refusal is invalid_argument (too_large past 16 MiB) with a
// message; an accepted message renders back to JSON (what `fpx inbox show`
// prints), that JSON reads again, and renders the same a second time, so
// whatever the CLI accepts it can also show and re-read.
//
// The same function also runs under g++ as the ctest replay_cli_json_corpus.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "json_messages.hpp"

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "cli_json_fuzz: %s: %s\n", what, detail.c_str());
  std::abort();
}

// Known answer, checked once per run: \u escapes with hex letters and a
// surrogate pair decode to the right UTF-8. (Cap'n Proto 0.9.2's own reader
// read "C\u00f4te" as "CTte"; the round trip alone cannot see that.)
void check_escapes_decode() {
  const std::string json =
      R"({"body": {"tracingAcknowledgement": {"pointOfContact": "C\u00f4te d\u2019Ivoire \ud83d\ude00 \u005C\u0022"}}})";
  const std::string expected = "C\xC3\xB4te d\xE2\x80\x99Ivoire \xF0\x9F\x98\x80 \\\"";
  fpx::cli::Draft draft;
  if (auto parsed = fpx::cli::parse_message_json(json, "escapes.json", draft); !parsed) {
    fail("escapes refused", parsed.error().describe());
  }
  const auto text = draft.body.asReader().getTracingAcknowledgement().getPointOfContact();
  if (std::string(text.cStr(), text.size()) != expected) fail("\\u escapes decoded wrongly", text.cStr());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  check_escapes_decode();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  fpx::cli::Draft draft;
  auto parsed = fpx::cli::parse_message_json(text, "fuzz.json", draft);
  if (!parsed) {
    const fpx::Error& error = parsed.error();
    if (error.code != fpx::ErrorCode::invalid_argument && error.code != fpx::ErrorCode::too_large) {
      fail("unexpected code", error.describe());
    }
    if (error.message.empty()) fail("refusal without a message", error.describe());
    return 0;
  }
  const std::string rendered = fpx::cli::render_message_json(draft.header.asReader(), draft.body.asReader());
  fpx::cli::Draft again;
  if (auto reread = fpx::cli::parse_message_json(rendered, "rendered.json", again); !reread) {
    fail("the CLI cannot read back what it rendered", reread.error().describe() + "\n" + rendered);
  }
  const std::string rerendered = fpx::cli::render_message_json(again.header.asReader(), again.body.asReader());
  if (rerendered != rendered) fail("rendering changed after a round trip", rendered + "\n---\n" + rerendered);
  return 0;
}
