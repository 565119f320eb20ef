// Time-ordered message ids (RFC 9562 UUIDv7 layout), drawn by the reference
// sealer. Apart from ids.hpp so that the one header every file includes
// stays as it is.
#pragma once

#include <cstdint>
#include <string>

#include "fpx/ids.hpp"

namespace fpx {

// The 48-bit big-endian Unix time in ms, then the version (7) and variant
// bits, and 74 random bits. Ids drawn in time order sort in time order, so
// the store's unique index on message ids grows at its right edge instead
// of taking a random page per message; 74 random bits keep them unique and
// unguessable. The sealer passes the header's createdAtMs, so an id tells a
// holder nothing the signed header does not. The broker still accepts any
// 16 bytes (PROTOCOL.md §5.3).
MessageId time_ordered_message_id(std::int64_t unix_ms);

// The id as people see it beside a message: its last 12 hex characters
// (48 random bits). Its first 12 are the time it was sealed, alike for
// messages sealed together; fpx finds a message by a unique prefix or suffix.
inline std::string short_message_id(const MessageId& id) {
  constexpr std::size_t kShownHexChars = 12;
  const std::string hex = id.hex();
  return hex.substr(hex.size() - kShownHexChars);
}

}  // namespace fpx
