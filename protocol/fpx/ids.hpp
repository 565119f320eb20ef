// Small strong types for the identifiers that cross the wire, so a country
// code cannot be passed where a participant id is expected.
#pragma once

#include <array>
#include <initializer_list>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace fpx {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

inline ByteView as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

// The parts one after another. (Also sidesteps a g++ 12 -O2 false
// positive, -Wstringop-overflow, on vector::insert after construction.)
Bytes concat(std::initializer_list<ByteView> parts);

std::string to_hex(ByteView bytes);
std::optional<Bytes> from_hex(std::string_view hex);

template <typename Tag>
class StrongText {
 public:
  StrongText() = default;
  explicit StrongText(std::string value) : value_(std::move(value)) {}
  const std::string& str() const { return value_; }
  bool empty() const { return value_.empty(); }
  friend auto operator<=>(const StrongText&, const StrongText&) = default;

 private:
  std::string value_;
};

// "sn.focal-point": the certificate's CN.
using ParticipantId = StrongText<struct ParticipantIdTag>;
// ISO 3166-1 alpha-2, upper case: the certificate's C.
using CountryCode = StrongText<struct CountryCodeTag>;

// 16 random bytes chosen by the sender.
struct MessageId {
  static constexpr std::size_t kSize = 16;
  std::array<std::uint8_t, kSize> bytes{};

  static MessageId random();
  static std::optional<MessageId> from_bytes(ByteView bytes);
  std::string hex() const;
  friend auto operator<=>(const MessageId&, const MessageId&) = default;
};

using Sha256Digest = std::array<std::uint8_t, 32>;

// cso: a civil-society organisation's voice (PROTOCOL.md §1.1): early
// warnings and campaign contributions to its own state's focal point, nothing
// else. Distinct from the same organisation's observer certificate, which
// only reads the public feed.
enum class Role : std::uint8_t { focal_point, agency, observer, broker, cso };

std::string_view role_name(Role role);  // "focal-point", as on the command line
std::optional<Role> parse_role(std::string_view name);

// Roles a national CA may issue (focal-point, agency); every other role comes
// from the root only. A national CA's certificate lists these as EKU purposes.
bool national_ca_may_issue(Role role);

// The rule tying a participant id to its country, checked at issue and at
// enrolment: a focal point's or agency's id is "<cc>.<name>" with <cc> its
// country in lower case ("sn.police-judiciaire" for C=SN); a broker's or
// observer's id must not begin with a two-letter label, so it cannot pass for
// a state's participant ("cso.sahel-watch", "exchange.broker"); a cso's id
// follows the observer rule and ends with ".<cc>", its country (the
// certificate's C, the state it speaks to) in lower case
// ("cso.sahel-watch.sn"), so it never equals its observer id and every
// reader of an id sees which state it warns.
// Returns an empty string when the id fits, else what is wrong and what to do.
std::string id_country_mismatch(std::string_view id, std::string_view country, Role role);

// An officer's name inside its participant: 1 to 64 of [a-z0-9.-], starting
// with a letter or a digit ("amadou.issoufou", "officer-2").
bool valid_officer_name(std::string_view name);

}  // namespace fpx
