#include "fpx/wire_error.hpp"

namespace fpx {

// Spelled out rather than cast: a code added on one side only fails to compile
// here (-Wswitch) instead of shifting every code after it on the wire.
wire::ErrorCode to_wire(ErrorCode code) {
  switch (code) {
    case ErrorCode::none: return wire::ErrorCode::NONE;
    case ErrorCode::malformed: return wire::ErrorCode::MALFORMED;
    case ErrorCode::not_canonical: return wire::ErrorCode::NOT_CANONICAL;
    case ErrorCode::body_hash_mismatch: return wire::ErrorCode::BODY_HASH_MISMATCH;
    case ErrorCode::bad_signature: return wire::ErrorCode::BAD_SIGNATURE;
    case ErrorCode::untrusted_chain: return wire::ErrorCode::UNTRUSTED_CHAIN;
    case ErrorCode::certificate_expired: return wire::ErrorCode::CERTIFICATE_EXPIRED;
    case ErrorCode::certificate_not_yet_valid: return wire::ErrorCode::CERTIFICATE_NOT_YET_VALID;
    case ErrorCode::revoked: return wire::ErrorCode::REVOKED;
    case ErrorCode::crl_missing: return wire::ErrorCode::CRL_MISSING;
    case ErrorCode::crl_stale: return wire::ErrorCode::CRL_STALE;
    case ErrorCode::wrong_role: return wire::ErrorCode::WRONG_ROLE;
    case ErrorCode::missing_extension: return wire::ErrorCode::MISSING_EXTENSION;
    case ErrorCode::signer_mismatch: return wire::ErrorCode::SIGNER_MISMATCH;
    case ErrorCode::schema_violation: return wire::ErrorCode::SCHEMA_VIOLATION;
    case ErrorCode::unauthorized: return wire::ErrorCode::UNAUTHORIZED;
    case ErrorCode::unknown_recipient: return wire::ErrorCode::UNKNOWN_RECIPIENT;
    case ErrorCode::replay: return wire::ErrorCode::REPLAY;
    case ErrorCode::id_reused: return wire::ErrorCode::ID_REUSED;
    case ErrorCode::stale_timestamp: return wire::ErrorCode::STALE_TIMESTAMP;
    case ErrorCode::rate_limited: return wire::ErrorCode::RATE_LIMITED;
    case ErrorCode::too_large: return wire::ErrorCode::TOO_LARGE;
    case ErrorCode::unsupported_version: return wire::ErrorCode::UNSUPPORTED_VERSION;
    case ErrorCode::not_found: return wire::ErrorCode::NOT_FOUND;
    case ErrorCode::internal: return wire::ErrorCode::INTERNAL;
    case ErrorCode::unavailable: return wire::ErrorCode::UNAVAILABLE;
    case ErrorCode::revocation_not_checked: return wire::ErrorCode::REVOCATION_NOT_CHECKED;
    case ErrorCode::bad_key: return wire::ErrorCode::BAD_KEY;
    case ErrorCode::io_error: return wire::ErrorCode::IO_ERROR;
    case ErrorCode::invalid_argument: return wire::ErrorCode::INVALID_ARGUMENT;
    case ErrorCode::quota_exceeded: return wire::ErrorCode::QUOTA_EXCEEDED;
  }
  return wire::ErrorCode::INTERNAL;
}

ErrorCode from_wire(wire::ErrorCode code) {
  switch (code) {
    case wire::ErrorCode::NONE: return ErrorCode::none;
    case wire::ErrorCode::MALFORMED: return ErrorCode::malformed;
    case wire::ErrorCode::NOT_CANONICAL: return ErrorCode::not_canonical;
    case wire::ErrorCode::BODY_HASH_MISMATCH: return ErrorCode::body_hash_mismatch;
    case wire::ErrorCode::BAD_SIGNATURE: return ErrorCode::bad_signature;
    case wire::ErrorCode::UNTRUSTED_CHAIN: return ErrorCode::untrusted_chain;
    case wire::ErrorCode::CERTIFICATE_EXPIRED: return ErrorCode::certificate_expired;
    case wire::ErrorCode::CERTIFICATE_NOT_YET_VALID: return ErrorCode::certificate_not_yet_valid;
    case wire::ErrorCode::REVOKED: return ErrorCode::revoked;
    case wire::ErrorCode::CRL_MISSING: return ErrorCode::crl_missing;
    case wire::ErrorCode::CRL_STALE: return ErrorCode::crl_stale;
    case wire::ErrorCode::WRONG_ROLE: return ErrorCode::wrong_role;
    case wire::ErrorCode::MISSING_EXTENSION: return ErrorCode::missing_extension;
    case wire::ErrorCode::SIGNER_MISMATCH: return ErrorCode::signer_mismatch;
    case wire::ErrorCode::SCHEMA_VIOLATION: return ErrorCode::schema_violation;
    case wire::ErrorCode::UNAUTHORIZED: return ErrorCode::unauthorized;
    case wire::ErrorCode::UNKNOWN_RECIPIENT: return ErrorCode::unknown_recipient;
    case wire::ErrorCode::REPLAY: return ErrorCode::replay;
    case wire::ErrorCode::ID_REUSED: return ErrorCode::id_reused;
    case wire::ErrorCode::STALE_TIMESTAMP: return ErrorCode::stale_timestamp;
    case wire::ErrorCode::RATE_LIMITED: return ErrorCode::rate_limited;
    case wire::ErrorCode::TOO_LARGE: return ErrorCode::too_large;
    case wire::ErrorCode::UNSUPPORTED_VERSION: return ErrorCode::unsupported_version;
    case wire::ErrorCode::NOT_FOUND: return ErrorCode::not_found;
    case wire::ErrorCode::INTERNAL: return ErrorCode::internal;
    case wire::ErrorCode::UNAVAILABLE: return ErrorCode::unavailable;
    case wire::ErrorCode::REVOCATION_NOT_CHECKED: return ErrorCode::revocation_not_checked;
    case wire::ErrorCode::BAD_KEY: return ErrorCode::bad_key;
    case wire::ErrorCode::IO_ERROR: return ErrorCode::io_error;
    case wire::ErrorCode::INVALID_ARGUMENT: return ErrorCode::invalid_argument;
    case wire::ErrorCode::QUOTA_EXCEEDED: return ErrorCode::quota_exceeded;
  }
  return ErrorCode::internal;  // newer than this library
}

}  // namespace fpx
