// The duplicate check at the door (issue 17): a tracing request that repeats
// an open request of the same requesting state (protocol/fpx/duplicate_request.hpp)
// is still stored and routed (the state may mean it: a new case about the
// same firearm), and its receipt names the open request
// (Receipt.openRequest, docs/PROTOCOL.md section 6). Only the requesting
// state's own requests are compared: a state never learns from the exchange
// what another state asked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "fpx/broker/store.hpp"
#include "fpx/envelope.hpp"

namespace fpx::broker {

// How far back open requests are compared: a routine answer is due in 30
// days (clocks), so 90 days covers what is open in practice.
inline constexpr std::int64_t kDuplicateLookbackMs = 90LL * 24 * 3'600'000;
// Requests sharing a key whose envelope is read and compared, at most
// (newest first): a state that files the same firearm again and again
// cannot make each new request cost thousands of envelope decodes.
inline constexpr std::size_t kMaxDuplicateCandidates = 64;
// Keys per request, at most: one per serial-numbered firearm and one per
// channel reference. Above the 1000 firearms and 16 references a valid
// request may hold (validate_message.cpp), so no valid request is cut; a
// guard on the rows and lookups one message can cost.
inline constexpr std::size_t kMaxDuplicateKeys = 1024;

// The keys of a tracing request (channel references, then firearms, in
// wire order, deduplicated, at most kMaxDuplicateKeys): SHA-256 over a
// domain-separated, normalised identity (fpx/duplicate_request.hpp
// normalise_identifier), first 16 bytes. Two requests that
// repeats_request() matches share a key; a shared key is only a candidate
// (the state in common is not in it), confirmed by repeats_request() on
// the stored envelope.
std::vector<RequestKey> request_keys(wire::Header::Reader header, wire::TracingRequest::Reader request);

// The keys of a stored envelope (as received: flat, its header and body
// single-segment); none for a message that is not a tracing request.
Result<std::vector<RequestKey>> request_keys_of_envelope(ByteView envelope);

// Registers a just-stored tracing request's keys under its requesting state.
Status record_request_keys(Store& store, const OpenedEnvelope& opened, const CountryCode& requesting,
                           std::int64_t submitted_at_ms);

// A store migrated to the keys' schema holds requests without keys: gives
// every request still open and within kDuplicateLookbackMs its keys, once,
// in one transaction, before the broker serves (then marks it done).
Status backfill_request_keys(Store& store, std::int64_t now_ms);

// The newest open request of `requesting` that `opened` (a tracing request)
// repeats; nullopt if none. Reads only: lifecycle rows and stored envelopes.
Result<std::optional<MessageId>> find_open_duplicate(Store& store, const OpenedEnvelope& opened,
                                                     const CountryCode& requesting, std::int64_t now_ms);

// Every open request of `requesting` submitted at or before `submitted_by_ms`
// that `opened` repeats, newest first (at most kMaxDuplicateCandidates
// sharing a key examined): what a resend of `opened` may have named in its first receipt,
// so that the receipt is given again byte for byte (receipt_group.cpp).
// `max_found` stops the envelope reads early when fewer are wanted.
Result<std::vector<MessageId>> open_duplicates(Store& store, const OpenedEnvelope& opened,
                                               const CountryCode& requesting, std::int64_t submitted_by_ms,
                                               std::size_t max_found = kMaxDuplicateCandidates);

}  // namespace fpx::broker
