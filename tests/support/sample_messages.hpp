// Valid example messages of every type, for round-trip tests and benches.
#pragma once

#include <functional>

#include <capnp/message.h>

#include "fpx/envelope.hpp"

namespace fpx::test {

// Every message type that a participant of `role` may sign.
std::vector<wire::MessageType> types_signable_by(Role role);

// Fills `body` with a valid example of `type` and `header` with recipients,
// classification and, where the type answers another, inReplyTo.
void fill_sample(wire::MessageType type, wire::Header::Builder header, wire::Body::Builder body);

// A complete sealed envelope of `type` signed by `signer`.
Bytes seal_sample(const Identity& signer, wire::MessageType type, std::int64_t created_at_ms = 0);

// The same, with `change` applied to the sample before sealing.
using SampleChange = std::function<void(wire::Header::Builder, wire::Body::Builder)>;
Bytes seal_changed(const Identity& signer, wire::MessageType type, const SampleChange& change);

// The message id of a sealed envelope (test convenience).
MessageId message_id_of(const Bytes& envelope);

}  // namespace fpx::test
