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

struct ValidationContext {
  std::int64_t now_ms = 0;
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
