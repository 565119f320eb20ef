// libFuzzer target for fpx::records::decode_record (protocol/public_records.cpp),
// which observers run on every signed record of the feed after its signature,
// and for record_fields and decode_statistics_record beside it.
//
// Any input: decoded; it must be refused with a typed error or decoded. A
// decoded record of a known kind must encode to bytes that decode again to
// a record encoding to those same bytes (the codec has one meaning per
// record: what an observer re-encodes is what it read).
//
// The same function also runs under g++ as the ctest replay_public_record_corpus.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fpx/public_records.hpp"

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "public_record_fuzz: %s: %s\n", what, detail.c_str());
  std::abort();
}

}  // namespace

// Nothing to build before the first input (replay_corpus_main calls it).
extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) { return 0; }

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // What fpx observe shows of a record it cannot read by kind: the same
  // parse and bounds, so a refusal carries a code and a shown text stays
  // within kMaxRecordTextBytes.
  if (auto fields = fpx::records::record_fields(text); !fields) {
    if (fields.error().code == fpx::ErrorCode::none) fail("fields refusal", "an error without a code");
  } else {
    for (const auto& field : *fields) {
      if (field.display.size() > fpx::records::kMaxRecordTextBytes) fail("fields", "a shown text beyond the bound");
    }
  }
  // A statistics record or a typed refusal (fpx statistics check, the CSO check).
  if (auto statistics = fpx::records::decode_statistics_record(text);
      !statistics && statistics.error().code == fpx::ErrorCode::none) {
    fail("statistics refusal", "an error without a code");
  }
  auto decoded = fpx::records::decode_record(text);
  if (!decoded) {
    if (decoded.error().code == fpx::ErrorCode::none) fail("refusal", "an error without a code");
    return 0;
  }
  if (decoded->unknown_fields.size() > fpx::records::kMaxReportedUnknownFields) {
    fail("unknown fields", "more reported than kMaxReportedUnknownFields");
  }
  if (!decoded->record) return 0;  // a kind this version does not know
  const std::string once = fpx::records::encode_record(*decoded->record);
  auto again = fpx::records::decode_record(once);
  if (!again) fail("re-decode", again.error().describe() + " in " + once);
  if (!again->record) fail("re-decode", "the kind was lost: " + once);
  const std::string twice = fpx::records::encode_record(*again->record);
  if (twice != once) fail("unstable", once + " then " + twice);
  return 0;
}
