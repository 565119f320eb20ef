// The one mapping between fpx::ErrorCode and the wire's ErrorCode
// (schemas/transport.capnp), both directions. Every frame codec uses it.
#pragma once

#include "fpx/result.hpp"
#include "fpx/wire/transport.capnp.h"

namespace fpx {

wire::ErrorCode to_wire(ErrorCode code);

// A code from a newer peer (the wire enum is append-only) reads as
// `internal`: defined, and not mistaken for any refusal this library knows.
ErrorCode from_wire(wire::ErrorCode code);

}  // namespace fpx
