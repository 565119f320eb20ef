#include "fpx/broker/stage_duplicate.hpp"

#include <algorithm>
#include <set>

#include "fpx/aligned_reader.hpp"
#include "fpx/duplicate_request.hpp"

namespace fpx::broker {

namespace {

bool finished(const std::string& state) { return state == "closed" || state == "withdrawn"; }

// Whether the stored request `id` (verified when it arrived) is repeated by `opened`.
Result<bool> repeats_stored(Store& store, const MessageId& id, const OpenedEnvelope& opened) {
  auto envelope = store.message_envelope(id);
  if (!envelope) return std::move(envelope).take_error();
  if (!envelope->has_value()) return false;
  const auto header = opened.message.header();
  const auto request = opened.message.body().getTracingRequest();
  return read_message<wire::Envelope>(
      **envelope, Framing::flat, "stored envelope", [&](wire::Envelope::Reader stored) -> Result<bool> {
        auto header_data = stored.getHeader();
        auto body_data = stored.getBody();
        return read_message<wire::Header>(
            ByteView(header_data.begin(), header_data.size()), Framing::single_segment, "stored header",
            [&](wire::Header::Reader stored_header) -> Result<bool> {
              return read_message<wire::Body>(
                  ByteView(body_data.begin(), body_data.size()), Framing::single_segment, "stored body",
                  [&](wire::Body::Reader stored_body) -> Result<bool> {
                    if (stored_body.which() != wire::Body::TRACING_REQUEST) return false;
                    return repeats_request(header, request, stored_header, stored_body.getTracingRequest())
                        .has_value();
                  });
            });
      });
}

}  // namespace

Result<std::optional<MessageId>> find_open_duplicate(Store& store, const OpenedEnvelope& opened,
                                                     const CountryCode& requesting, std::int64_t now_ms) {
  auto found = open_duplicates(store, opened, requesting, now_ms);
  if (!found) return std::move(found).take_error();
  if (found->empty()) return std::optional<MessageId>();
  return std::optional<MessageId>(found->front());
}

Result<std::vector<MessageId>> open_duplicates(Store& store, const OpenedEnvelope& opened,
                                               const CountryCode& requesting, std::int64_t submitted_by_ms) {
  std::vector<MessageId> found;
  if (opened.type != wire::MessageType::TRACING_REQUEST) return found;
  auto rows = store.lifecycle_submitted_between(submitted_by_ms - kDuplicateLookbackMs, submitted_by_ms + 1);
  if (!rows) return std::move(rows).take_error();
  // One row per requested state: a request is open while any of them is.
  std::vector<const LifecycleRow*> open;
  std::set<MessageId> seen;
  std::sort(rows->begin(), rows->end(),
            [](const LifecycleRow& a, const LifecycleRow& b) { return a.submitted_at_ms > b.submitted_at_ms; });
  for (const auto& row : *rows) {
    if (row.requester_country != requesting || finished(row.state) || row.request_id == opened.message_id) continue;
    if (!seen.insert(row.request_id).second) continue;
    open.push_back(&row);
    if (open.size() == kMaxDuplicateCandidates) break;
  }
  for (const LifecycleRow* row : open) {
    auto repeated = repeats_stored(store, row->request_id, opened);
    if (!repeated) return std::move(repeated).take_error();
    if (*repeated) found.push_back(row->request_id);
  }
  return found;
}

}  // namespace fpx::broker
