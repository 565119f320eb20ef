// A minimal PKI for the envelope fuzz target and its seed generator: a root
// CA that directly issues one agency certificate, a current (empty) CRL, the
// trust store over them and the agency's identity. Built in code with
// fpx::pki; the files that TrustStore::load and Identity::load read pass
// through a temporary directory that is removed again at once.
//
// The keys are derived from fixed labels, so every run builds the same root
// (same name, same key): the committed seed envelope then chains to the root
// of any later fuzzing run (until its certificate expires) and mutations of
// it reach the signature and sender checks, not only the chain check. These
// are public test keys; nothing else may trust them.
//
// No Catch2 here: libFuzzer binaries have their own main(). A PKI that cannot
// be built is a broken build, so it aborts with the reason.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

#include <stdlib.h>  // mkdtemp

#include "fpx/identity.hpp"
#include "fpx/pki.hpp"
#include "fpx/trust_store.hpp"

namespace fpx::fuzz {

inline constexpr const char* kFuzzParticipant = "sn.police";
inline constexpr const char* kFuzzCountry = "SN";

template <typename T>
T must(Result<T> result, const char* what) {
  if (!result) {
    std::fprintf(stderr, "fuzz PKI: %s: %s\n", what, result.error().describe().c_str());
    std::abort();
  }
  return std::move(result).value();
}

// A fixed Ed25519 seed or X25519 secret: the SHA-256 of a label.
inline Sha256Digest fixed_secret(const char* label) { return sha256(as_bytes(label)); }

inline void write_private_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.good()) {
    std::fprintf(stderr, "fuzz PKI: cannot write %s\n", path.c_str());
    std::abort();
  }
  out.close();
  std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

struct FuzzPki {
  TrustStore trust;
  Identity identity;
};

inline FuzzPki make_fuzz_pki() {
  std::string pattern = (std::filesystem::temp_directory_path() / "fpx-fuzz-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    std::perror("fuzz PKI: mkdtemp");
    std::abort();
  }
  const std::filesystem::path dir = pattern;
  const std::filesystem::path crl_dir = dir / "crls";
  const std::filesystem::path participant_dir = dir / "participant";
  std::filesystem::create_directories(crl_dir);
  std::filesystem::create_directories(participant_dir);

  const auto validity = pki::Validity::days_from_now(365);
  pki::Authority root =
      must(pki::Authority::create_root("FPX Fuzz Root CA",
                                       must(SigningKey::from_seed(fixed_secret("fpx fuzz root key")), "root key"),
                                       validity),
           "root CA");

  SigningKey key = must(SigningKey::from_seed(fixed_secret("fpx fuzz participant key")), "participant key");
  CurveKeyPair curve = must(CurveKeyPair::from_secret(fixed_secret("fpx fuzz participant CURVE key")), "CURVE key");
  pki::ParticipantRequest request;
  request.id = ParticipantId(kFuzzParticipant);
  request.country = CountryCode(kFuzzCountry);
  request.role = Role::agency;
  request.signing_public_key = key.public_key();
  request.curve_public_key = curve.public_key;
  request.validity = validity;
  Certificate certificate = must(root.issue(request), "participant certificate");

  const std::int64_t now = now_ms();
  write_private_file(dir / "root-ca.pem", root.certificate().pem());
  write_private_file(crl_dir / "root.crl.pem",
                     must(root.make_crl_pem({}, now - 60'000, validity.not_after_ms, 1), "root CRL"));
  write_private_file(participant_dir / kChainFile, certificate.pem());
  write_private_file(participant_dir / kSigningKeyFile, must(key.to_pem(""), "key PEM"));
  write_private_file(participant_dir / kCurveSecretFile, z85_encode(curve.secret_key) + "\n");
  write_private_file(participant_dir / kCurvePublicFile, z85_encode(curve.public_key) + "\n");

  FuzzPki pki{must(TrustStore::load(dir / "root-ca.pem", crl_dir), "trust store"),
              must(Identity::load(participant_dir, PassphraseSource{}), "identity")};
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return pki;
}

// The PKI of the certificate target and its seeds: the same fixed root, a
// national intermediate for SN, a leaf issued through it and one issued by
// the root directly. Fixed keys again, so seed CRLs and chains written once
// stay signed by whatever root a later run builds.
struct FuzzChainPki {
  pki::Authority root;
  pki::Authority intermediate;
  Certificate leaf_via_intermediate;
  Certificate direct_leaf;
};

inline Certificate issue_fixed_leaf(const pki::Authority& issuer, const char* id, const char* label,
                                    const pki::Validity& validity) {
  pki::ParticipantRequest request;
  request.id = ParticipantId(id);
  request.country = CountryCode(kFuzzCountry);
  request.role = Role::agency;
  request.signing_public_key = must(SigningKey::from_seed(fixed_secret(label)), "leaf key").public_key();
  request.curve_public_key =
      must(CurveKeyPair::from_secret(fixed_secret((std::string(label) + " CURVE").c_str())), "CURVE key").public_key;
  request.validity = validity;
  return must(issuer.issue(request), "leaf certificate");
}

inline FuzzChainPki make_fuzz_chain_pki() {
  const auto validity = pki::Validity::days_from_now(365);
  pki::Authority root =
      must(pki::Authority::create_root("FPX Fuzz Root CA",
                                       must(SigningKey::from_seed(fixed_secret("fpx fuzz root key")), "root key"),
                                       validity),
           "root CA");
  pki::Authority intermediate = must(
      root.create_intermediate(CountryCode(kFuzzCountry),
                               must(SigningKey::from_seed(fixed_secret("fpx fuzz SN intermediate key")), "SN key"),
                               validity),
      "intermediate CA");
  Certificate via = issue_fixed_leaf(intermediate, "sn.customs", "fpx fuzz customs key", validity);
  Certificate direct = issue_fixed_leaf(root, kFuzzParticipant, "fpx fuzz participant key", validity);
  return FuzzChainPki{std::move(root), std::move(intermediate), std::move(via), std::move(direct)};
}

}  // namespace fpx::fuzz
