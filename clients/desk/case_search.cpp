#include "case_search.hpp"

#include <algorithm>
#include <cctype>

namespace fpx::desk {

namespace {

std::string text_of(capnp::Text::Reader text) { return std::string(text.cStr(), text.size()); }

std::string lower(std::string_view text) {
  std::string out;
  for (const char c : text) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool finished(CaseState state) { return state == CaseState::closed || state == CaseState::withdrawn; }

std::vector<std::string> requested(wire::TracingRequest::Reader request) {
  std::vector<std::string> out;
  for (auto state : request.getRequestedStates()) out.push_back(text_of(state.getCountry()));
  return out;
}

}  // namespace

std::vector<DuplicateMatch> find_duplicates(const CaseFiles& files, std::string_view requesting_country,
                                            wire::Header::Reader header, wire::TracingRequest::Reader request) {
  std::vector<DuplicateMatch> out;
  for (const auto& item : files.cases()) {
    if (finished(item.state)) continue;
    const auto& opened = item.request->opened;
    const auto open_request = opened.message.body().getTracingRequest();
    // Only our own state's requests: what another state asks is its business.
    if (text_of(open_request.getRequestingCountry()) != requesting_country) continue;
    const auto open_header = opened.message.header();
    auto finding = repeats_request(header, request, open_header, open_request);
    if (!finding) continue;
    out.push_back({opened.message_id, text_of(open_header.getCaseReference()), finding->reason,
                   std::move(finding->detail), std::move(finding->state)});
  }
  return out;
}

bool CaseQuery::empty() const {
  return serial.empty() && manufacturer.empty() && case_reference.empty() && state.empty() && !status &&
         from_ms == 0 && until_ms == 0;
}

std::optional<CaseState> parse_case_state(std::string_view name) {
  for (const auto state : {CaseState::awaiting_acknowledgement, CaseState::acknowledged, CaseState::interim,
                           CaseState::answered, CaseState::withdrawn, CaseState::closed}) {
    if (case_state_name(state) == name) return state;
  }
  return std::nullopt;
}

std::string_view case_state_name(CaseState state) {
  switch (state) {
    case CaseState::awaiting_acknowledgement: return "awaiting-acknowledgement";
    case CaseState::acknowledged: return "acknowledged";
    case CaseState::interim: return "interim";
    case CaseState::answered: return "answered";
    case CaseState::withdrawn: return "withdrawn";
    case CaseState::closed: return "closed";
  }
  return "unknown";
}

bool matches(const Case& item, const CaseQuery& query) {
  const auto& opened = item.request->opened;
  const auto header = opened.message.header();
  const auto request = opened.message.body().getTracingRequest();
  if (query.status && item.state != *query.status) return false;
  if (query.from_ms != 0 && opened.created_at_ms < query.from_ms) return false;
  if (query.until_ms != 0 && opened.created_at_ms >= query.until_ms) return false;
  if (!query.state.empty()) {
    const auto wanted = normalise_identifier(query.state);
    bool found = normalise_identifier(text_of(request.getRequestingCountry())) == wanted;
    for (const auto& state : requested(request)) found = found || normalise_identifier(state) == wanted;
    if (!found) return false;
  }
  if (!query.case_reference.empty()) {
    const auto wanted = lower(query.case_reference);
    if (lower(text_of(header.getCaseReference())).find(wanted) == std::string::npos &&
        lower(text_of(request.getNationalCaseReference())).find(wanted) == std::string::npos) {
      return false;
    }
  }
  if (!query.serial.empty() || !query.manufacturer.empty()) {
    const auto serial = normalise_identifier(query.serial);
    const auto manufacturer = normalise_identifier(query.manufacturer);
    bool found = false;
    for (auto firearm : request.getFirearms()) {
      const bool serial_ok = serial.empty() || normalise_identifier(text_of(firearm.getSerialNumber())).find(serial) !=
                                                   std::string::npos;
      const bool maker_ok =
          manufacturer.empty() ||
          normalise_identifier(text_of(firearm.getManufacturer())).find(manufacturer) != std::string::npos;
      found = found || (serial_ok && maker_ok);
    }
    if (!found) return false;
  }
  return true;
}

std::vector<const Case*> search_cases(const CaseFiles& files, const CaseQuery& query) {
  std::vector<const Case*> out;
  for (const auto& item : files.cases()) {
    if (matches(item, query)) out.push_back(&item);
  }
  return out;
}

}  // namespace fpx::desk
