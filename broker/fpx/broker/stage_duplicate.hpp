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
// days (clocks), so 90 days covers what is open in practice, and bounds the
// lifecycle rows read per request.
// TODO(perf): a store query of one state's open requests instead of a window.
inline constexpr std::int64_t kDuplicateLookbackMs = 90LL * 24 * 3'600'000;
// Open requests of the state whose envelope is read and compared, at most
// (newest first): a state that keeps thousands of requests open cannot make
// each of its new requests cost thousands of envelope decodes on the loop.
inline constexpr std::size_t kMaxDuplicateCandidates = 256;

// The newest open request of `requesting` that `opened` (a tracing request)
// repeats; nullopt if none. Reads only: lifecycle rows and stored envelopes.
Result<std::optional<MessageId>> find_open_duplicate(Store& store, const OpenedEnvelope& opened,
                                                     const CountryCode& requesting, std::int64_t now_ms);

// Every open request of `requesting` submitted at or before `submitted_by_ms`
// that `opened` repeats, newest first (at most kMaxDuplicateCandidates
// examined): what a resend of `opened` may have named in its first receipt,
// so that the receipt is given again byte for byte (receipt_group.cpp).
Result<std::vector<MessageId>> open_duplicates(Store& store, const OpenedEnvelope& opened,
                                               const CountryCode& requesting, std::int64_t submitted_by_ms);

}  // namespace fpx::broker
