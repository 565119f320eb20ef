#include "fpx/result.hpp"

#include "fpx/wire/transport.capnp.h"

namespace fpx {

// ErrorCode and wire::ErrorCode must stay ordinal for ordinal.
static_assert(static_cast<int>(ErrorCode::invalid_argument) == static_cast<int>(wire::ErrorCode::INVALID_ARGUMENT));
static_assert(static_cast<int>(ErrorCode::id_reused) == static_cast<int>(wire::ErrorCode::ID_REUSED));
static_assert(static_cast<int>(ErrorCode::quota_exceeded) == static_cast<int>(wire::ErrorCode::QUOTA_EXCEEDED));
static_assert(static_cast<int>(ErrorCode::revocation_not_checked) ==
              static_cast<int>(wire::ErrorCode::REVOCATION_NOT_CHECKED));

std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::none: return "none";
    case ErrorCode::malformed: return "malformed";
    case ErrorCode::not_canonical: return "not_canonical";
    case ErrorCode::body_hash_mismatch: return "body_hash_mismatch";
    case ErrorCode::bad_signature: return "bad_signature";
    case ErrorCode::untrusted_chain: return "untrusted_chain";
    case ErrorCode::certificate_expired: return "certificate_expired";
    case ErrorCode::certificate_not_yet_valid: return "certificate_not_yet_valid";
    case ErrorCode::revoked: return "revoked";
    case ErrorCode::crl_missing: return "crl_missing";
    case ErrorCode::crl_stale: return "crl_stale";
    case ErrorCode::wrong_role: return "wrong_role";
    case ErrorCode::missing_extension: return "missing_extension";
    case ErrorCode::signer_mismatch: return "signer_mismatch";
    case ErrorCode::schema_violation: return "schema_violation";
    case ErrorCode::unauthorized: return "unauthorized";
    case ErrorCode::unknown_recipient: return "unknown_recipient";
    case ErrorCode::replay: return "replay";
    case ErrorCode::id_reused: return "id_reused";
    case ErrorCode::stale_timestamp: return "stale_timestamp";
    case ErrorCode::rate_limited: return "rate_limited";
    case ErrorCode::too_large: return "too_large";
    case ErrorCode::unsupported_version: return "unsupported_version";
    case ErrorCode::not_found: return "not_found";
    case ErrorCode::internal: return "internal";
    case ErrorCode::unavailable: return "unavailable";
    case ErrorCode::revocation_not_checked: return "revocation_not_checked";
    case ErrorCode::bad_key: return "bad_key";
    case ErrorCode::io_error: return "io_error";
    case ErrorCode::invalid_argument: return "invalid_argument";
    case ErrorCode::quota_exceeded: return "quota_exceeded";
  }
  return "unknown";
}

std::string Error::describe() const {
  std::string text{error_code_name(code)};
  text += ": ";
  text += message;
  for (const auto& field : field_errors) {
    text += "\n  ";
    text += field.path;
    text += ": ";
    text += field.message;
  }
  return text;
}

}  // namespace fpx
