// libFuzzer target for PKCS#10 requests as fpx-ca reads them
// (fpx::parse_certificate_request): a request comes from whoever hands it to
// a CA, so the CA's parser is a parser of untrusted bytes.
//
// Checks besides the sanitizers: every refusal says why, and a request that
// is accepted asks for something an FPX CA could issue (a valid participant
// id and officer name, or a national CA with no extension).
//
// The same function also runs under g++ as the ctest replay_certificate_request_corpus.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "fpx/certificate_request.hpp"
#include "fpx/validate.hpp"

// Once, before any input: a request made by make_participant_request parses
// back to what it asked for, so the target can accept at all.
extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  auto key = fpx::SigningKey::generate();
  fpx::CurvePublicKey curve{};
  curve.fill(7);
  auto pem = key ? fpx::make_participant_request(*key, fpx::ParticipantId("sn.police"), fpx::CountryCode("SN"),
                                                 fpx::Role::agency, curve, std::string("awa.diop"))
                 : fpx::Result<std::string>(key.error());
  auto parsed = pem ? fpx::parse_certificate_request(*pem) : fpx::Result<fpx::CertificateRequestInfo>(pem.error());
  if (!parsed || parsed->id.str() != "sn.police" || parsed->curve_public_key != curve ||
      parsed->officer != std::optional<std::string>("awa.diop")) {
    std::fprintf(stderr, "a request made by make_participant_request does not parse back\n");
    std::abort();
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto request = fpx::parse_certificate_request(text);
  if (!request) {
    if (request.error().message.empty()) {
      std::fprintf(stderr, "a refused request must say why\n");
      std::abort();
    }
    return 0;
  }
  const bool national = request->kind == fpx::RequestKind::national_ca;
  if (national ? (!request->id.empty() || request->curve_public_key || request->officer)
               : (!fpx::is_valid_participant_id(request->id.str()) || !request->curve_public_key ||
                  (request->officer && !fpx::valid_officer_name(*request->officer)))) {
    std::fprintf(stderr, "an accepted request asks for something no FPX CA issues\n");
    std::abort();
  }
  return 0;
}
