// Result<T> and the one error-code set of FPX.
//
// Untrusted input never throws across our code: every fallible operation on
// it returns a Result. ErrorCode maps one to one onto wire::ErrorCode
// (schemas/transport.capnp), ordinal for ordinal; a static_assert in
// result.cpp keeps the two in step.
#pragma once

#include <cassert>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace fpx {

enum class ErrorCode : std::uint16_t {
  none = 0,
  malformed,
  not_canonical,
  body_hash_mismatch,
  bad_signature,
  untrusted_chain,
  certificate_expired,
  certificate_not_yet_valid,
  revoked,
  crl_missing,
  crl_stale,
  wrong_role,
  missing_extension,
  signer_mismatch,
  schema_violation,
  unauthorized,
  unknown_recipient,
  replay,
  id_reused,
  stale_timestamp,
  rate_limited,
  too_large,
  unsupported_version,
  not_found,
  internal,
  unavailable,
  revocation_not_checked,
  bad_key,
  io_error,
  invalid_argument,
  // A participant's stored bytes of the UTC day, or its state's active
  // watch list, is at its configured bound (docs/PROTOCOL.md §9).
  quota_exceeded,
};

// The newest code: a wire code above it (from a newer peer) reads as internal.
inline constexpr ErrorCode kLastErrorCode = ErrorCode::quota_exceeded;

// Stable snake_case name, as shown to people and scripts ("id_reused").
std::string_view error_code_name(ErrorCode code);

// One broken rule, located by its field path ("body.tracingRequest.firearms[0].calibre").
struct FieldError {
  std::string path;
  std::string message;
  friend bool operator==(const FieldError&, const FieldError&) = default;
};

struct Error {
  ErrorCode code = ErrorCode::internal;
  std::string message;  // what went wrong and what to do next
  std::vector<FieldError> field_errors;

  // "bad_signature: the signature does not match ..." for logs and CLIs.
  std::string describe() const;
};

inline Error make_error(ErrorCode code, std::string message) {
  return Error{code, std::move(message), {}};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error) : state_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(state_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(state_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(state_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const {
    assert(!ok());
    return std::get<1>(state_);
  }
  Error&& take_error() && {
    assert(!ok());
    return std::get<1>(std::move(state_));
  }

 private:
  std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const {
    assert(!ok_);
    return error_;
  }
  Error&& take_error() && {
    assert(!ok_);
    return std::move(error_);
  }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace fpx
