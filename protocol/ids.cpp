#include "fpx/ids.hpp"

#include <algorithm>
#include <cstring>

#include "fpx/crypto.hpp"
#include "fpx/time_ordered_id.hpp"

namespace fpx {

Bytes concat(std::initializer_list<ByteView> parts) {
  std::size_t total = 0;
  for (auto part : parts) total += part.size();
  Bytes joined(total);
  std::size_t offset = 0;
  for (auto part : parts) {
    if (!part.empty()) std::memcpy(joined.data() + offset, part.data(), part.size());
    offset += part.size();
  }
  return joined;
}

std::string to_hex(ByteView bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text;
  text.reserve(bytes.size() * 2);
  for (auto byte : bytes) {
    text.push_back(kDigits[byte >> 4]);
    text.push_back(kDigits[byte & 0x0f]);
  }
  return text;
}

std::optional<Bytes> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  Bytes bytes;
  bytes.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    int high = nibble(hex[i]);
    int low = nibble(hex[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    bytes.push_back(static_cast<std::uint8_t>(high << 4 | low));
  }
  return bytes;
}

MessageId MessageId::random() {
  MessageId id;
  random_bytes(id.bytes);
  return id;
}

MessageId time_ordered_message_id(std::int64_t unix_ms) {
  // 48 bits of ms reach the year 10889; a time before 1970 (never a valid
  // createdAtMs) is drawn as 0 rather than wrapping.
  const auto ms = static_cast<std::uint64_t>(unix_ms < 0 ? 0 : unix_ms);
  MessageId id;
  random_bytes(id.bytes);
  for (int i = 0; i < 6; ++i) id.bytes[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(ms >> (40 - 8 * i));
  id.bytes[6] = static_cast<std::uint8_t>(0x70 | (id.bytes[6] & 0x0f));  // version 7
  id.bytes[8] = static_cast<std::uint8_t>(0x80 | (id.bytes[8] & 0x3f));  // variant 0b10
  return id;
}

std::optional<MessageId> MessageId::from_bytes(ByteView bytes) {
  if (bytes.size() != kSize) return std::nullopt;
  MessageId id;
  std::copy(bytes.begin(), bytes.end(), id.bytes.begin());
  return id;
}

std::string MessageId::hex() const { return to_hex(bytes); }

std::string_view role_name(Role role) {
  switch (role) {
    case Role::focal_point: return "focal-point";
    case Role::agency: return "agency";
    case Role::observer: return "observer";
    case Role::broker: return "broker";
    case Role::cso: return "cso";
  }
  return "unknown";
}

std::optional<Role> parse_role(std::string_view name) {
  for (Role role : {Role::focal_point, Role::agency, Role::observer, Role::broker, Role::cso}) {
    if (role_name(role) == name) return role;
  }
  return std::nullopt;
}

bool national_ca_may_issue(Role role) { return role == Role::focal_point || role == Role::agency; }

std::string id_country_mismatch(std::string_view id, std::string_view country, Role role) {
  const auto dot = id.find('.');
  const std::string_view first_label = dot == std::string_view::npos ? id : id.substr(0, dot);
  if (national_ca_may_issue(role)) {
    std::string expected;
    for (char c : country) expected.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
    if (first_label != expected || dot == std::string_view::npos) {
      return "the id of a " + std::string(role_name(role)) + " of " + std::string(country) + " must begin with \"" +
             expected + ".\" (for example " + expected + ".focal-point); \"" + std::string(id) + "\" does not";
    }
    return {};
  }
  if (first_label.size() == 2) {
    return "the id of a " + std::string(role_name(role)) + " must not begin with a two-letter label (\"" +
           std::string(first_label) + ".\" reads as a state's participant): choose e.g. cso.<name> or exchange.<name>";
  }
  if (role == Role::cso) {
    std::string suffix = ".";
    for (char c : country) suffix.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
    if (id.size() <= suffix.size() || id.substr(id.size() - suffix.size()) != suffix ||
        id.find('.') == id.size() - suffix.size()) {
      return "the id of a cso of " + std::string(country) + " must end with \"" + suffix +
             "\", the state it speaks to, and differ from its observer id (for example cso.sahel-watch" + suffix +
             "); \"" + std::string(id) + "\" does not";
    }
  }
  return {};
}

bool valid_officer_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  const auto allowed = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'; };
  for (char c : name) {
    if (!allowed(c)) return false;
  }
  return name.front() != '.' && name.front() != '-';
}

}  // namespace fpx
