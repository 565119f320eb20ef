// The verifier's view of the PKI: the exchange's root CA and the CRLs of every
// CA, with a cache so that a known signer chain costs a hash lookup instead of
// a chain verification (the broker sees the same few hundred chains all day).
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fpx/certificate.hpp"

namespace fpx {

enum class RevocationCheck { required, skip };
enum class RevocationStatus { checked, not_checked };

struct VerifiedSigner {
  ParticipantInfo participant;
  std::shared_ptr<const Certificate> leaf;  // holds the signing public key
  RevocationStatus revocation = RevocationStatus::not_checked;
};

// A signer chain known to lead to the root (signatures and name constraints
// checked), with validity times and revocation not yet applied. Opaque.
struct ResolvedChain;

class TrustStore {
 public:
  // crl_dir may be empty: then only RevocationCheck::skip can succeed. The root's key must be Ed25519.
  static Result<TrustStore> load(const std::filesystem::path& root_ca_pem, const std::filesystem::path& crl_dir);

  TrustStore(TrustStore&&) noexcept;
  TrustStore& operator=(TrustStore&&) noexcept;
  ~TrustStore();

  // Re-reads the CRL directory (SIGHUP). The cache keeps chains, recomputes revocation.
  Status reload_crls();

  // Verifies a signer chain (DER, leaf first, no root; Ed25519 keys only, else bad_key) for a message created at
  // created_at_ms: chain signatures and constraints; a national CA's leaf has a role its CA lists (EKU) and
  // national_ca_may_issue allows (else wrong_role); the id fits its country (id_country_mismatch, else
  // untrusted_chain); validity at created_at_ms, and, unless skipped, revocation by the current CRLs: revoked
  // only if the revocation date is at or before created_at_ms; a CRL past its nextUpdate is refused, fail-closed.
  Result<VerifiedSigner> verify_chain(const std::vector<ByteView>& chain_der, std::int64_t created_at_ms,
                                      std::int64_t now_ms, RevocationCheck check);

  // The two halves of verify_chain, so that a caller can check a message's
  // signature with the leaf key before trusting anything the message says
  // about its own time.
  Result<std::shared_ptr<ResolvedChain>> resolve_chain(const std::vector<ByteView>& chain_der);
  static const Certificate& leaf_of(const ResolvedChain& chain);
  Result<VerifiedSigner> check_chain_at(ResolvedChain& chain, std::int64_t created_at_ms, std::int64_t now_ms,
                                        RevocationCheck check);

  // CRLs that expire within the next day (or already have): for warnings.
  std::vector<std::string> crls_expiring_before(std::int64_t deadline_ms) const;
  // The earliest nextUpdate of the newest CRL of each issuer (ms), for the
  // broker's metrics; 0 when no CRL is loaded or one has no nextUpdate.
  std::int64_t earliest_crl_next_update_ms() const;

  const Certificate& root() const;

 private:
  struct State;
  explicit TrustStore(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace fpx
