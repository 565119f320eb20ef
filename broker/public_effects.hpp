// Issue 12: the messages whose effect is public. A cancel changes how an
// alert shows on the oversight feed, and a figures statement is published
// beside a state's figures; both are refused unless the sender's own state
// is the one concerned (docs/PROTOCOL.md §8.3). Private to broker/.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "fpx/broker/stages.hpp"
#include "fpx/broker/store.hpp"
#include "fpx/envelope.hpp"
#include "fpx/ids.hpp"

namespace fpx::broker {

// What the public side needs to know of a stored alert.
struct StoredAlert {
  CountryCode issuing_country;
  std::uint64_t message_log_index = 0;  // its message's leaf: a public-alert record's messageLogIndex
  bool body_kept = false;               // false once retention emptied the envelope (kind and flag unknown)
  wire::AlertKind kind = wire::AlertKind::LOST;
  bool publishable = false;  // whether the feed carries a public-alert record of it
};

// The stored message `id` if it is an alert; nullopt if no message of that
// id is stored or it is of another type.
Result<std::optional<StoredAlert>> stored_alert(Store& store, const MessageId& id);

// "YYYY-MM-DDTHH:MM:SSZ", as a statistics record writes its periodStart;
// `at_ms` from 0 to the end of year 9999.
std::string utc_time_text(std::int64_t at_ms);

// authorize, for an alert of kind cancel and a figures statement (no-op for
// any other message): a cancel names, in header.inReplyTo, an alert of the
// sender's own state that is not itself a cancel; a statement speaks for the
// sender's own state about a period whose statistics are published, and is
// addressed to nobody but the exchange. Refuses with schema_violation,
// not_found or unauthorized; reads the store only.
Status authorize_public_effects(const StageContext& context, const EnrolledParticipant& principal,
                                const OpenedEnvelope& opened);

}  // namespace fpx::broker
