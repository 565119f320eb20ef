// libFuzzer target for certificate and CRL loading: every way the broker and
// the clients read X.509 from outside.
//
// Each input is tried as
//  - a DER certificate (Certificate::from_der: signer chains in envelopes);
//  - a PEM file of certificates (Certificate::load_pem_file: chain.pem of
//    enrolled participants) and as the root CA file of TrustStore::load;
//  - a signer chain under a fixed PKI: alone, as a leaf under the fixed
//    intermediate, and as the intermediate above the fixed leaf;
//  - a CRL file (PEM or DER) in the CRL directory of TrustStore::load, after
//    which the fixed chains are checked for revocation against it.
// Every certificate that loads is read through all its accessors, so the
// sanitizers see the code that interprets names, extensions and times.
//
// Checks besides the sanitizers: every refusal says why, and a certificate
// that loads re-encodes to DER that loads again.
//
// The same function also runs under g++ as the ctest replay_certificate_corpus.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "fpx/certificate.hpp"
#include "fpx/trust_store.hpp"
#include "fuzz_pki.hpp"
#include "fuzz_temp_dir.hpp"

namespace {

using fpx::ByteView;
using fpx::Certificate;
using fpx::RevocationCheck;
using fpx::TrustStore;

constexpr std::int64_t kDayMs = 24LL * 3600 * 1000;

struct FuzzState {
  fpx::fuzz::FuzzChainPki pki = fpx::fuzz::make_fuzz_chain_pki();
  fpx::fuzz::FuzzTempDir dir{"fpx-fuzz-certificate"};
  std::filesystem::path input_pem;
  std::filesystem::path root_pem;
  std::filesystem::path fuzzed_crl_dir;  // holds only the input, as fuzz.crl
  std::unique_ptr<TrustStore> trust;     // the fixed root with current, empty CRLs of both CAs
  fpx::Bytes intermediate_der;
  fpx::Bytes leaf_der;         // issued by the intermediate
  fpx::Bytes direct_leaf_der;  // issued by the root

  FuzzState() {
    const auto& base = dir.path();
    input_pem = base / "input.pem";
    root_pem = base / "root-ca.pem";
    fuzzed_crl_dir = base / "fuzzed-crls";
    const auto good_crl_dir = base / "crls";
    std::filesystem::create_directories(fuzzed_crl_dir);
    std::filesystem::create_directories(good_crl_dir);

    const std::string root = pki.root.certificate().pem();
    fpx::fuzz::write_file(root_pem, root.data(), root.size());
    const std::int64_t now = fpx::now_ms();
    for (const auto* authority : {&pki.root, &pki.intermediate}) {
      const std::string crl =
          fpx::fuzz::must(authority->make_crl_pem({}, now - 60'000, now + 365 * kDayMs, 1), "CRL");
      const auto name = authority == &pki.root ? "root.crl.pem" : "sn.crl.pem";
      fpx::fuzz::write_file(good_crl_dir / name, crl.data(), crl.size());
    }
    trust = std::make_unique<TrustStore>(fpx::fuzz::must(TrustStore::load(root_pem, good_crl_dir), "trust store"));
    intermediate_der = pki.intermediate.certificate().der();
    leaf_der = pki.leaf_via_intermediate.der();
    direct_leaf_der = pki.direct_leaf.der();
  }
};

FuzzState& state() {
  static FuzzState instance;
  return instance;
}

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "certificate_fuzz: %s: %s\n", what, detail.c_str());
  std::abort();
}

template <typename T>
void expect_reason(const fpx::Result<T>& result, const char* where) {
  if (!result && result.error().message.empty()) fail(where, "refusal without a message");
}

void inspect(const Certificate& certificate) {
  (void)certificate.subject_text();
  (void)certificate.issuer_text();
  (void)certificate.serial_hex();
  (void)certificate.is_ca();
  (void)certificate.not_before_ms();
  (void)certificate.not_after_ms();
  (void)certificate.subject_country();
  (void)certificate.permitted_country();
  (void)certificate.pem();
  auto participant = certificate.participant();
  expect_reason(participant, "participant()");
  const fpx::Bytes der = certificate.der();
  auto again = Certificate::from_der(der);
  if (!again) fail("a loaded certificate does not load again from its own DER", again.error().describe());
}

void as_der(ByteView data) {
  auto certificate = Certificate::from_der(data);
  expect_reason(certificate, "from_der");
  if (certificate) inspect(*certificate);
}

void as_pem_files(ByteView data) {
  FuzzState& fuzz = state();
  fpx::fuzz::write_file(fuzz.input_pem, data.data(), data.size());
  auto certificates = Certificate::load_pem_file(fuzz.input_pem);
  expect_reason(certificates, "load_pem_file");
  if (certificates) {
    for (const auto& certificate : *certificates) inspect(certificate);
  }
  auto as_root = TrustStore::load(fuzz.input_pem, {});
  expect_reason(as_root, "TrustStore::load (root)");
  if (as_root) inspect(as_root->root());
}

void as_chain_member(ByteView data) {
  FuzzState& fuzz = state();
  const std::int64_t now = fpx::now_ms();
  const std::vector<std::vector<ByteView>> chains = {
      {data}, {data, fuzz.intermediate_der}, {fuzz.leaf_der, data}};
  for (const auto& chain : chains) {
    auto signer = fuzz.trust->verify_chain(chain, now, now, RevocationCheck::required);
    expect_reason(signer, "verify_chain");
  }
}

void as_crl_file(ByteView data) {
  FuzzState& fuzz = state();
  fpx::fuzz::write_file(fuzz.fuzzed_crl_dir / "fuzz.crl", data.data(), data.size());
  auto trust = TrustStore::load(fuzz.root_pem, fuzz.fuzzed_crl_dir);
  expect_reason(trust, "TrustStore::load (CRL)");
  if (!trust) return;
  const std::int64_t now = fpx::now_ms();
  (void)trust->crls_expiring_before(now + kDayMs);
  for (const auto& chain : {std::vector<ByteView>{fuzz.direct_leaf_der},
                            std::vector<ByteView>{fuzz.leaf_der, fuzz.intermediate_der}}) {
    auto signer = trust->verify_chain(chain, now, now, RevocationCheck::required);
    expect_reason(signer, "verify_chain with the CRL");
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  (void)state();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);
  as_der(input);
  as_pem_files(input);
  as_chain_member(input);
  as_crl_file(input);
  return 0;
}
