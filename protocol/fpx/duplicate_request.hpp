// When a tracing request repeats an open one (issue 17, SIENA and iARMS
// users' known problem): the same firearm (normalised serial number and
// manufacturer) asked of one of the same states, or the same reference to
// another channel (iARMS, eTrace, SIENA, a national case system). One rule
// for both ends: the desk and `fpx trace submit` warn before sending, the
// broker reports the open request in the receipt. Who may be told (only the
// requesting state's own requests are compared) is the caller's rule.
#pragma once

#include <algorithm>
#include <cctype>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fpx/wire/header.capnp.h"
#include "fpx/wire/messages.capnp.h"

namespace fpx {

// Serial numbers and manufacturers as people type them differ in case,
// spaces, dashes and dots ("AB-12 345", "ab12345"): compared after keeping
// only ASCII letters and digits, upper-cased.
inline std::string normalise_identifier(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x80 && std::isalnum(byte)) out += static_cast<char>(std::toupper(byte));
  }
  return out;
}

enum class DuplicateReason { same_firearm, same_channel_reference };

struct DuplicateFinding {
  DuplicateReason reason = DuplicateReason::same_firearm;
  std::string detail;  // the open request's serial number / manufacturer, or its channel reference, as written
  std::string state;   // same_firearm: the requested state both ask
};

// Does the new request (`header`, `request`) repeat the open one? A firearm
// without a serial number matches nothing: two of one make cannot be told apart.
inline std::optional<DuplicateFinding> repeats_request(wire::Header::Reader header, wire::TracingRequest::Reader request,
                                                       wire::Header::Reader open_header,
                                                       wire::TracingRequest::Reader open_request) {
  const auto text = [](capnp::Text::Reader value) { return std::string(value.cStr(), value.size()); };
  std::vector<std::string> states;
  for (auto state : request.getRequestedStates()) states.push_back(text(state.getCountry()));
  for (auto state : open_request.getRequestedStates()) {
    const std::string country = text(state.getCountry());
    if (std::find(states.begin(), states.end(), country) == states.end()) continue;
    for (auto open_firearm : open_request.getFirearms()) {
      const auto serial = normalise_identifier(text(open_firearm.getSerialNumber()));
      if (serial.empty()) continue;
      const auto manufacturer = normalise_identifier(text(open_firearm.getManufacturer()));
      for (auto firearm : request.getFirearms()) {
        if (normalise_identifier(text(firearm.getSerialNumber())) == serial &&
            normalise_identifier(text(firearm.getManufacturer())) == manufacturer) {
          return DuplicateFinding{DuplicateReason::same_firearm,
                                  text(open_firearm.getSerialNumber()) + " / " + text(open_firearm.getManufacturer()),
                                  country};
        }
      }
    }
  }
  for (auto open_reference : open_header.getOtherChannelReferences()) {
    const auto reference = normalise_identifier(text(open_reference.getReference()));
    if (reference.empty()) continue;
    for (auto candidate : header.getOtherChannelReferences()) {
      if (candidate.getChannel() == open_reference.getChannel() &&
          normalise_identifier(text(candidate.getReference())) == reference) {
        return DuplicateFinding{DuplicateReason::same_channel_reference, text(open_reference.getReference()), {}};
      }
    }
  }
  return std::nullopt;
}

}  // namespace fpx
