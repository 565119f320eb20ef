#include "fpx/broker/stage_duplicate.hpp"

#include <algorithm>
#include <cstring>
#include <set>

#include <spdlog/spdlog.h>

#include "fpx/aligned_reader.hpp"
#include "fpx/crypto.hpp"
#include "fpx/duplicate_request.hpp"

namespace fpx::broker {

namespace {

bool finished(const std::string& state) { return state == "closed" || state == "withdrawn"; }

RequestKey key_of(std::string_view domain, std::initializer_list<std::string_view> parts) {
  // NUL-separated: no normalised part holds a NUL (letters and digits only,
  // country codes, the channel's number), so no two identities join alike.
  std::string input(domain);
  for (const auto part : parts) input.append(1, '\0').append(part);
  const Sha256Digest digest = sha256(ByteView(reinterpret_cast<const std::uint8_t*>(input.data()), input.size()));
  RequestKey key{};
  std::memcpy(key.data(), digest.data(), key.size());
  return key;
}

// Whether the stored request `id` (verified when it arrived) is repeated by `opened`.
Result<bool> repeats_stored(Store& store, const MessageId& id, const OpenedEnvelope& opened) {
  auto envelope = store.message_envelope(id);
  if (!envelope) return std::move(envelope).take_error();
  // A body purged after its retention (retention.cpp) can no longer be compared.
  if (!envelope->has_value() || (*envelope)->empty()) return false;
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
  auto found = open_duplicates(store, opened, requesting, now_ms, 1);
  if (!found) return std::move(found).take_error();
  if (found->empty()) return std::optional<MessageId>();
  return std::optional<MessageId>(found->front());
}

std::vector<RequestKey> request_keys(wire::Header::Reader header, wire::TracingRequest::Reader request) {
  const auto text = [](capnp::Text::Reader value) { return std::string_view(value.cStr(), value.size()); };
  std::vector<RequestKey> keys;
  std::set<RequestKey> seen;
  const auto add = [&](const RequestKey& key) {
    if (keys.size() < kMaxDuplicateKeys && seen.insert(key).second) keys.push_back(key);
  };
  for (auto reference : header.getOtherChannelReferences()) {
    const auto normalised = normalise_identifier(text(reference.getReference()));
    if (normalised.empty()) continue;
    add(key_of("fpx duplicate channel", {std::to_string(static_cast<unsigned>(reference.getChannel())), normalised}));
  }
  // The firearm alone, not (state, firearm): a valid request's keys then
  // all fit, and the state in common is checked on the candidate.
  for (auto firearm : request.getFirearms()) {
    const auto serial = normalise_identifier(text(firearm.getSerialNumber()));
    if (serial.empty()) continue;  // two of one make cannot be told apart
    add(key_of("fpx duplicate firearm", {serial, normalise_identifier(text(firearm.getManufacturer()))}));
  }
  return keys;
}

Result<std::vector<RequestKey>> request_keys_of_envelope(ByteView envelope) {
  return read_message<wire::Envelope>(
      envelope, Framing::flat, "stored envelope", [&](wire::Envelope::Reader stored) -> Result<std::vector<RequestKey>> {
        auto header_data = stored.getHeader();
        auto body_data = stored.getBody();
        return read_message<wire::Header>(
            ByteView(header_data.begin(), header_data.size()), Framing::single_segment, "stored header",
            [&](wire::Header::Reader header) -> Result<std::vector<RequestKey>> {
              return read_message<wire::Body>(
                  ByteView(body_data.begin(), body_data.size()), Framing::single_segment, "stored body",
                  [&](wire::Body::Reader body) -> Result<std::vector<RequestKey>> {
                    if (body.which() != wire::Body::TRACING_REQUEST) return std::vector<RequestKey>{};
                    return request_keys(header, body.getTracingRequest());
                  });
            });
      });
}

Status record_request_keys(Store& store, const OpenedEnvelope& opened, const CountryCode& requesting,
                           std::int64_t submitted_at_ms) {
  if (opened.type != wire::MessageType::TRACING_REQUEST) return {};
  const auto keys = request_keys(opened.message.header(), opened.message.body().getTracingRequest());
  return store.insert_request_keys(opened.message_id, requesting, submitted_at_ms, keys);
}

Result<std::vector<MessageId>> open_duplicates(Store& store, const OpenedEnvelope& opened,
                                               const CountryCode& requesting, std::int64_t submitted_by_ms,
                                               std::size_t max_found) {
  std::vector<MessageId> found;
  if (opened.type != wire::MessageType::TRACING_REQUEST) return found;
  const auto keys = request_keys(opened.message.header(), opened.message.body().getTracingRequest());
  if (keys.empty()) return found;
  auto candidates = store.open_requests_with_keys(requesting, keys, submitted_by_ms - kDuplicateLookbackMs,
                                                  submitted_by_ms, opened.message_id, kMaxDuplicateCandidates);
  if (!candidates) return std::move(candidates).take_error();
  for (const auto& candidate : *candidates) {
    auto repeated = repeats_stored(store, candidate.request_id, opened);
    if (!repeated) return std::move(repeated).take_error();
    if (*repeated) found.push_back(candidate.request_id);
    if (found.size() == max_found) break;
  }
  return found;
}

Status backfill_request_keys(Store& store, std::int64_t now_ms) {
  auto pending = store.request_keys_backfill_pending();
  if (!pending) return std::move(pending).take_error();
  if (!*pending) return {};
  auto rows = store.lifecycle_submitted_between(now_ms - kDuplicateLookbackMs, now_ms + 1);
  if (!rows) return std::move(rows).take_error();
  if (auto begun = store.begin(Durability::required); !begun) return begun;
  std::size_t keyed = 0;
  std::size_t unreadable = 0;
  auto filled = [&]() -> Status {
    std::set<MessageId> done;
    for (const auto& row : *rows) {
      if (!done.insert(row.request_id).second) continue;
      auto rows_of = store.lifecycle_of(row.request_id);
      if (!rows_of) return std::move(rows_of).take_error();
      if (std::all_of(rows_of->begin(), rows_of->end(), [](const LifecycleRow& r) { return finished(r.state); })) {
        continue;
      }
      auto stored = store.find_message(row.request_id);
      if (!stored) return std::move(stored).take_error();
      auto envelope = store.message_envelope(row.request_id);
      if (!envelope) return std::move(envelope).take_error();
      if (!stored->has_value() || !envelope->has_value() || (*envelope)->empty()) continue;
      auto keys = request_keys_of_envelope(**envelope);
      if (!keys) {
        // One damaged row costs its own duplicate notes, never the broker's start.
        ++unreadable;
        spdlog::warn("duplicate-request keys: request {} could not be read ({}); it will not be named as an "
                     "open duplicate: check the store with fpx-admin check",
                     row.request_id.hex(), keys.error().describe());
        continue;
      }
      // Keyed at the request's own arrival, as a new request is (a forward's later row is not its age).
      if (auto inserted =
              store.insert_request_keys(row.request_id, row.requester_country, (*stored)->stored_at_ms, *keys);
          !inserted) {
        return inserted;
      }
      ++keyed;
    }
    if (auto marked = store.finish_request_keys_backfill(); !marked) return marked;
    return store.commit();
  }();
  if (!filled) {
    store.rollback();
    return filled;
  }
  spdlog::info("duplicate-request keys: {} open request(s) keyed after the store's migration, {} unreadable", keyed,
               unreadable);
  return {};
}

}  // namespace fpx::broker
