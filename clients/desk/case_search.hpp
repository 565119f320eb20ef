// Finding cases in a profile's saved messages: the duplicate check run before
// a tracing request is sent (by the desk and by `fpx trace submit`), and the
// search of the desk and `fpx trace search`. Both read only this profile's
// own inbox/ and sent/ (CaseFiles), so they never learn anything the
// exchange did not already deliver to this participant.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "case_files.hpp"
#include "fpx/duplicate_request.hpp"  // normalise_identifier, DuplicateReason: the rule the broker applies too

namespace fpx::desk {

// An open request of our own state that a new request repeats.
struct DuplicateMatch {
  MessageId open_request;
  std::string case_reference;
  DuplicateReason reason = DuplicateReason::same_firearm;
  std::string detail;  // the serial number and manufacturer, or the channel reference, as in the open request
  std::string state;   // same_firearm: the requested state both ask
};

// Open requests (not closed, not withdrawn) from `requesting_country` in
// `files` that ask the same state about the same firearm (normalised serial
// number and manufacturer), or that carry one of the same references to
// other channels (iARMS, eTrace, SIENA, a national system). A request of
// another state is never reported, even if this profile holds it.
std::vector<DuplicateMatch> find_duplicates(const CaseFiles& files, std::string_view requesting_country,
                                            wire::Header::Reader header, wire::TracingRequest::Reader request);

// `fpx trace search` and the desk's search: every given criterion must hold.
struct CaseQuery {
  std::string serial;          // normalised, compared as a substring of any firearm's serial
  std::string manufacturer;    // normalised, substring
  std::string case_reference;  // case-insensitive substring of the header's or the request's reference
  std::string state;           // a country: requesting or requested
  std::optional<CaseState> status;
  std::int64_t from_ms = 0;   // the request's created-at, inclusive; 0: no bound
  std::int64_t until_ms = 0;  // exclusive; 0: no bound
  bool empty() const;
};

// "awaiting-acknowledgement", "acknowledged", "interim", "answered",
// "withdrawn", "closed".
std::optional<CaseState> parse_case_state(std::string_view name);
std::string_view case_state_name(CaseState state);

bool matches(const Case& item, const CaseQuery& query);
std::vector<const Case*> search_cases(const CaseFiles& files, const CaseQuery& query);

}  // namespace fpx::desk
