// PKCS#10 certificate requests: how a participant, an officer or a national
// CA hands its public keys to the CA that signs for it, so that no private
// key ever leaves its owner's machine (certs/README.md, "Trust model").
//
// A participant's (or officer's) request:
//   subject          C=<cc>, CN=<participant id>   (C first: the national CA's name constraint is a prefix match)
//   public key       Ed25519 (the signing key); any other type is refused
//   extensionRequest extendedKeyUsage = the requested role OID,
//                    the CURVE public key extension (oid::kCurvePublicKey),
//                    optionally the officer extension (oid::kOfficer)
// A national CA's request:
//   subject          C=<CC>, CN=<CC> national CA, no extension
//
// The request is signed with the key it carries (proof of possession); the
// CA still decides the profile: a request only says what its owner asks for.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "fpx/certificate.hpp"
#include "fpx/crypto.hpp"

namespace fpx {

// A PEM request larger than this is refused before OpenSSL parses it: a
// genuine FPX request is under 1 KiB, and the limit stops a hostile file from
// making the CA allocate and parse megabytes of ASN.1.
inline constexpr std::size_t kMaxCertificateRequestPem = 16 * 1024;

enum class RequestKind { participant, national_ca };

// What a request asks for, read from a request whose self-signature verified.
struct CertificateRequestInfo {
  RequestKind kind = RequestKind::participant;
  ParticipantId id;          // participant: CN; national CA: empty
  CountryCode country;       // C
  Role role = Role::agency;  // participant only
  Ed25519PublicKey signing_public_key{};
  std::optional<CurvePublicKey> curve_public_key;  // participant: always present
  std::optional<std::string> officer;              // an officer's request
};

// "<CC> national CA": the one subject CN a national CA's request may carry.
std::string national_ca_common_name(const CountryCode& country);

// A participant's or officer's request, signed with `signing_key`, PEM.
Result<std::string> make_participant_request(const SigningKey& signing_key, const ParticipantId& id,
                                             const CountryCode& country, Role role, const CurvePublicKey& curve,
                                             const std::optional<std::string>& officer);

// A national CA's request, signed with the national CA's own key, PEM.
Result<std::string> make_national_ca_request(const SigningKey& ca_key, const CountryCode& country);

// Parses a PEM request, verifies its self-signature and reads what it asks
// for. Errors: malformed (not one PEM request, unknown or duplicate
// extension, a subject that is neither shape above), bad_key (not Ed25519),
// bad_signature (the request was altered after it was signed), too_large.
Result<CertificateRequestInfo> parse_certificate_request(std::string_view pem);

}  // namespace fpx
