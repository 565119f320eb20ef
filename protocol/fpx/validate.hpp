// Schema rules of DOMAIN.md for every message type. The validator reports
// every rule broken, each with its field path, never just the first.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fpx/result.hpp"
#include "fpx/wire/firearm.capnp.h"
#include "fpx/wire/header.capnp.h"
#include "fpx/wire/messages.capnp.h"

namespace fpx {

// ISO 3166-1 alpha-2, officially assigned codes, upper case.
bool is_iso3166_alpha2(std::string_view code);

// "sn.focal-point": lower-case letters, digits, '.' and '-', at most 64
// characters, a country-like prefix and a dot. fpx-ca issues only such ids;
// they also name directories, so the rule stops path traversal through an id.
inline constexpr std::size_t kMaxParticipantIdLength = 64;
bool is_valid_participant_id(std::string_view id);

// Who refuses a header createdAtMs too far ahead of now. The broker judges
// the time window itself (its configured skew, and the precise
// stale_timestamp error that tells the sender to fix its clock); a sender's
// own dry run has no broker, so the validator applies a 5-minute skew.
enum class FutureTimestamps { refused_here, judged_by_caller };

struct ValidationContext {
  std::int64_t now_ms = 0;
  FutureTimestamps future_timestamps = FutureTimestamps::refused_here;
};

// Empty when the message follows every rule.
std::vector<FieldError> validate_message(wire::Header::Reader header, wire::Body::Reader body,
                                         const ValidationContext& context);

// How traceable a firearm description is: a trace without manufacturer,
// calibre and serial rarely succeeds, so the sender is told before it goes out.
struct CompletenessReport {
  int score = 0;  // 0-100
  std::vector<std::string> missing;  // field names, most important first
};
CompletenessReport firearm_completeness(wire::Firearm::Reader firearm);

}  // namespace fpx
