// Cost of sealing and opening envelopes against raw Ed25519, in one run.
//
//   fpx-bench-envelope [--iterations N]     (default 20000)
//
// Prints one "name value" line per figure (microseconds per operation):
//   seal_us, open_us, raw_sign_us, raw_verify_us, open_over_verify, envelope_bytes
// Opening is bound by one Ed25519 verification once the signer's chain is
// cached, so open_over_verify is the figure to watch (target: <= 1.2).
// These VMs are noisy: compare ratios from one run, not absolutes across runs.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <stdlib.h>  // mkdtemp

#include <capnp/message.h>
#include <openssl/x509.h>

#include "bench/temp_dir.hpp"
#include "fpx/envelope.hpp"
#include "fpx/identity.hpp"
#include "fpx/pki.hpp"
#include "fpx/receipt.hpp"
#include "fpx/trust_store.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kDefaultIterations = 20000;
constexpr std::size_t kRawMessageBytes = 1024;
constexpr const char* kAgencyId = "sn.police.dakar";

template <typename T>
T must(fpx::Result<T> result, const char* what) {
  if (!result) {
    std::fprintf(stderr, "fpx-bench-envelope: %s: %s\n", what, result.error().describe().c_str());
    std::exit(1);
  }
  return std::move(result).value();
}


void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.good()) {
    std::fprintf(stderr, "fpx-bench-envelope: cannot write %s\n", path.c_str());
    std::exit(1);
  }
  out.close();
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
}

struct BenchPki {
  fpx::TrustStore trust;
  fpx::Identity agency;
  fpx::Identity broker;  // signs receipt groups
};

// Writes an identity directory (chain, keys) for a certificate `issuer` makes.
fpx::Identity issue_identity(const fpx::pki::Authority& issuer, const fs::path& dir, const char* id, const char* country,
                             fpx::Role role, const fpx::pki::Validity& validity, const std::string& chain_tail) {
  auto key = must(fpx::SigningKey::generate(), "key");
  auto curve = must(fpx::CurveKeyPair::generate(), "CURVE key");
  fpx::pki::ParticipantRequest request;
  request.id = fpx::ParticipantId(id);
  request.country = fpx::CountryCode(country);
  request.role = role;
  request.signing_public_key = key.public_key();
  request.curve_public_key = curve.public_key;
  request.validity = validity;
  auto certificate = must(issuer.issue(request), "certificate");
  fs::create_directories(dir);
  write_file(dir / fpx::kChainFile, certificate.pem() + chain_tail);
  write_file(dir / fpx::kSigningKeyFile, must(key.to_pem(""), "key PEM"));
  write_file(dir / fpx::kCurveSecretFile, fpx::z85_encode(curve.secret_key) + "\n");
  write_file(dir / fpx::kCurvePublicFile, fpx::z85_encode(curve.public_key) + "\n");
  return must(fpx::Identity::load(dir, fpx::PassphraseSource{}), "identity");
}

// Root CA, the SN national intermediate and one agency under it, as fpx-ca
// would lay them out, with current CRLs so that opening checks revocation
// as the broker does.
BenchPki make_pki(const fs::path& dir) {
  const auto validity = fpx::pki::Validity::days_from_now(30);
  auto root = must(fpx::pki::Authority::create_root("FPX Bench Root CA", must(fpx::SigningKey::generate(), "key"),
                                                    validity),
                   "root CA");
  auto national = must(root.create_intermediate(fpx::CountryCode("SN"), must(fpx::SigningKey::generate(), "key"),
                                                validity),
                       "SN intermediate");

  auto key = must(fpx::SigningKey::generate(), "agency key");
  auto curve = must(fpx::CurveKeyPair::generate(), "CURVE key");
  fpx::pki::ParticipantRequest request;
  request.id = fpx::ParticipantId(kAgencyId);
  request.country = fpx::CountryCode("SN");
  request.role = fpx::Role::agency;
  request.signing_public_key = key.public_key();
  request.curve_public_key = curve.public_key;
  request.validity = validity;
  auto certificate = must(national.issue(request), "agency certificate");

  const fs::path crl_dir = dir / "crls";
  const fs::path agency_dir = dir / "agency";
  fs::create_directories(crl_dir);
  fs::create_directories(agency_dir);
  const std::int64_t now = fpx::now_ms();
  write_file(dir / "root-ca.pem", root.certificate().pem());
  write_file(crl_dir / "root.crl.pem", must(root.make_crl_pem({}, now - 60'000, validity.not_after_ms, 1), "CRL"));
  write_file(crl_dir / "SN.crl.pem", must(national.make_crl_pem({}, now - 60'000, validity.not_after_ms, 1), "CRL"));
  write_file(agency_dir / fpx::kChainFile, certificate.pem() + national.certificate().pem());
  write_file(agency_dir / fpx::kSigningKeyFile, must(key.to_pem(""), "key PEM"));
  write_file(agency_dir / fpx::kCurveSecretFile, fpx::z85_encode(curve.secret_key) + "\n");
  write_file(agency_dir / fpx::kCurvePublicFile, fpx::z85_encode(curve.public_key) + "\n");

  fpx::Identity broker = issue_identity(root, dir / "broker", "exchange.broker", "SN", fpx::Role::broker, validity, "");
  return BenchPki{must(fpx::TrustStore::load(dir / "root-ca.pem", crl_dir), "trust store"),
                  must(fpx::Identity::load(agency_dir, fpx::PassphraseSource{}), "identity"), std::move(broker)};
}

// A realistic tracing request of about 1 KiB of body. `serial` differs per
// iteration, so every header (body hash) and signature is new.
void fill_request(fpx::wire::Body::Builder body, int serial) {
  auto request = body.initTracingRequest();
  request.setRequestingCountry("SN");
  request.setRequestingAgency(kAgencyId);
  const std::string case_reference = "SN-DK-2024-" + std::to_string(100000 + serial);
  request.setNationalCaseReference(case_reference);
  auto states = request.initRequestedStates(2);
  states[0].setCountry("BE");
  states[0].setRole(fpx::wire::RequestedStateRole::COUNTRY_OF_MANUFACTURE);
  states[1].setCountry("NG");
  states[1].setRole(fpx::wire::RequestedStateRole::COUNTRY_OF_LAST_IMPORT);
  auto firearms = request.initFirearms(3);
  for (unsigned i = 0; i < firearms.size(); ++i) {
    auto firearm = firearms[i];
    firearm.setSerialNumber("FN" + std::to_string(serial) + "-" + std::to_string(i));
    firearm.setManufacturer("FN Herstal");
    firearm.setCountryOfManufacture("BE");
    firearm.setPlaceOfManufacture("Herstal");
    firearm.setModel("FAL 50.00");
    firearm.setType(fpx::wire::FirearmType::RIFLE_CARBINE);
    firearm.setCalibre("7.62x51mm NATO");
    auto import_marking = firearm.initImportMarking();
    import_marking.setCountry("NG");
    import_marking.setYear(1998);
    firearm.setYearOfManufacture(static_cast<std::uint16_t>(1975 + i));
    firearm.setOtherMarkings("crest of the armed forces on the receiver; rack number 17");
  }
  request.initIllicitBasis(1).set(0, fpx::wire::IllicitBasis::ILLICIT_UNDER_NATIONAL_LAW);
  request.setLegalJustification(
      "Seized by the customs service at the Rosso crossing during an inspection of a lorry declared as "
      "carrying agricultural equipment. Possession without licence is an offence under national law; "
      "the prosecutor has opened case " + case_reference + " and asks for the chain of custody.");
  auto recovery = request.initRecovery();
  recovery.initDate().setYear(2024);
  recovery.setAdministrativeArea("Saint-Louis");
  recovery.setCircumstance(fpx::wire::RecoveryCircumstance::SEIZED);
  recovery.setCrimeCategory("trafficking");
  request.setIntendedUse("criminal investigation and prosecution");
  request.initInformationSought(2).set(0, fpx::wire::InformationSought::CHAIN_OF_CUSTODY);
  request.getInformationSought().set(1, fpx::wire::InformationSought::POINT_OF_DIVERSION);
}

double micros_per_op(Clock::duration elapsed, int operations) {
  return std::chrono::duration<double, std::micro>(elapsed).count() / operations;
}

int parse_iterations(int argc, char** argv) {
  int iterations = kDefaultIterations;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--iterations" && i + 1 < argc) {
      iterations = std::atoi(argv[++i]);
    } else if (arg.rfind("--iterations=", 0) == 0) {
      iterations = std::atoi(argv[i] + std::string_view("--iterations=").size());
    } else {
      std::fprintf(stderr, "usage: %s [--iterations N]\n", argv[0]);
      std::exit(2);
    }
  }
  if (iterations <= 0) {
    std::fprintf(stderr, "fpx-bench-envelope: --iterations must be a positive number\n");
    std::exit(2);
  }
  return iterations;
}

// The receipt per message (docs/PROTOCOL.md section 6) for commit groups of
// 1, 8 and 64 messages: the broker's side (encode each Receipt, build the
// tree, one signature, each message's SignedReceipt with its path and chain)
// and a verifier's (fpx::open_receipt: chain from cache, one signature check
// per receipt, the path), each over the same raw verify as the rest.
void print_receipt_costs(BenchPki& pki, int iterations, double raw_verify_us) {
  std::vector<fpx::Bytes> chain;
  for (const auto& certificate : pki.broker.chain()) chain.push_back(certificate.der());
  for (std::size_t group_size : {1U, 8U, 64U}) {
    const std::size_t groups = std::max<std::size_t>(1, static_cast<std::size_t>(iterations) / group_size);
    std::vector<fpx::Bytes> receipts;
    receipts.reserve(groups * group_size);
    auto start = Clock::now();
    for (std::size_t g = 0; g < groups; ++g) {
      std::vector<fpx::Bytes> bodies;
      std::vector<fpx::Sha256Digest> leaves;
      for (std::size_t i = 0; i < group_size; ++i) {
        fpx::ReceiptBody body{fpx::MessageId::random(), fpx::Sha256Digest{}, fpx::now_ms(), g * group_size + i,
                              pki.broker.participant().id, std::nullopt};
        body.envelope_sha256[0] = static_cast<std::uint8_t>(i);
        bodies.push_back(fpx::encode_receipt_body(body));
        leaves.push_back(fpx::receipt_leaf_hash(bodies.back()));
      }
      auto group = must(fpx::SealedReceiptGroup::seal(std::move(leaves), fpx::now_ms(), pki.broker.participant().id,
                                                      pki.broker.signing_key()),
                        "seal");
      for (std::size_t i = 0; i < group_size; ++i) receipts.push_back(must(group.receipt_for(i, bodies[i], chain), "receipt"));
    }
    const double broker_us = micros_per_op(Clock::now() - start, static_cast<int>(receipts.size()));
    start = Clock::now();
    for (const auto& receipt : receipts) {
      (void)must(fpx::open_receipt(pki.trust, receipt, fpx::now_ms(), fpx::RevocationCheck::required), "verify receipt");
    }
    const double verify_us = micros_per_op(Clock::now() - start, static_cast<int>(receipts.size()));
    std::printf("receipt_group%zu_broker_us %.2f\n", group_size, broker_us);
    std::printf("receipt_group%zu_broker_over_verify %.3f\n", group_size, broker_us / raw_verify_us);
    std::printf("receipt_group%zu_verify_us %.2f\n", group_size, verify_us);
    std::printf("receipt_group%zu_bytes %zu\n", group_size, receipts.front().size());
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int iterations = parse_iterations(argc, argv);
  fpx::bench::TempDir dir;
  BenchPki pki = make_pki(dir.path());

  // Seal: a fresh request, header and signature each time.
  std::vector<fpx::Bytes> envelopes;
  envelopes.reserve(static_cast<std::size_t>(iterations));
  std::size_t body_bytes = 0;
  auto start = Clock::now();
  for (int i = 0; i < iterations; ++i) {
    capnp::MallocMessageBuilder body_message;
    auto body = body_message.initRoot<fpx::wire::Body>();
    fill_request(body, i);
    capnp::MallocMessageBuilder header_message;
    auto header = header_message.initRoot<fpx::wire::Header>();
    header.initRecipients(1)[0].setCountry("BE");
    header.setCaseReference("SN-DK-2024-" + std::to_string(100000 + i));
    envelopes.push_back(must(fpx::seal_envelope(pki.agency, header, body.asReader()), "seal"));
    if (i == 0) body_bytes = capnp::canonicalize(body.asReader()).size() * sizeof(capnp::word);
  }
  const double seal_us = micros_per_op(Clock::now() - start, iterations);

  // Open: one opener, as one broker thread; the chain is verified once and
  // then served from the trust store's cache.
  fpx::EnvelopeOpener opener(pki.trust);
  start = Clock::now();
  for (const auto& envelope : envelopes) {
    auto opened = opener.open(envelope);
    if (!opened) {
      std::fprintf(stderr, "fpx-bench-envelope: open refused a sealed envelope: %s\n",
                   opened.error().describe().c_str());
      return 1;
    }
  }
  const double open_us = micros_per_op(Clock::now() - start, iterations);

  // Raw Ed25519 over distinct 1 KiB messages. Verification uses the parsed
  // key of the agency's certificate, as open() does.
  std::vector<fpx::Bytes> messages(static_cast<std::size_t>(iterations), fpx::Bytes(kRawMessageBytes, 0x5a));
  for (std::size_t i = 0; i < messages.size(); ++i) {
    for (std::size_t b = 0; b < sizeof i; ++b) messages[i][b] = static_cast<std::uint8_t>(i >> (8 * b));
  }
  std::vector<fpx::Ed25519Signature> signatures(messages.size());
  const fpx::SigningKey& key = pki.agency.signing_key();
  start = Clock::now();
  for (std::size_t i = 0; i < messages.size(); ++i) signatures[i] = key.sign(messages[i]);
  const double raw_sign_us = micros_per_op(Clock::now() - start, iterations);

  EVP_PKEY* public_key = X509_get0_pubkey(pki.agency.chain().front().get());
  start = Clock::now();
  for (std::size_t i = 0; i < messages.size(); ++i) {
    if (!fpx::ed25519_verify(public_key, messages[i], signatures[i])) {
      std::fprintf(stderr, "fpx-bench-envelope: a raw signature did not verify\n");
      return 1;
    }
  }
  const double raw_verify_us = micros_per_op(Clock::now() - start, iterations);

  std::fprintf(stderr, "# %d iterations, body %zu bytes, chain of %zu certificates\n", iterations, body_bytes,
               pki.agency.chain().size());
  std::printf("seal_us %.2f\n", seal_us);
  std::printf("open_us %.2f\n", open_us);
  std::printf("raw_sign_us %.2f\n", raw_sign_us);
  std::printf("raw_verify_us %.2f\n", raw_verify_us);
  std::printf("open_over_verify %.3f\n", open_us / raw_verify_us);
  std::printf("envelope_bytes %zu\n", envelopes.front().size());
  print_receipt_costs(pki, iterations, raw_verify_us);
  return 0;
}
