#include <spdlog/spdlog.h>

#include "broker_impl.hpp"

namespace fpx::broker {

void Broker::Impl::handle_confirm(const EnrolledParticipant& principal, const ClientRequest& request) {
  // Only the recipient's own deliveries change (the store checks it).
  auto confirmed = store->confirm_deliveries(principal.id, request.delivery_ids, loop_clock.now_ms());
  if (!confirmed) {
    spdlog::error("confirm from {}: {}", principal.id.str(), confirmed.error().describe());
    return;
  }
  counters.deliveries_confirmed += static_cast<std::uint64_t>(*confirmed);
  if (principal.role == Role::focal_point) {
    for (auto id : request.delivery_ids) {
      if (auto dated = store->mark_lifecycle_delivered(id, principal.id, principal.country, loop_clock.now_ms()); !dated) {
        spdlog::error("lifecycle delivery of {}: {}", principal.id.str(), dated.error().describe());
      }
    }
  }
  // Out of the in-flight window only once the batch commits: a rolled-back
  // confirm leaves the delivery pending, and so due for a resend.
  auto& confirmed_ids = after_commit.confirmed[principal.id];
  confirmed_ids.insert(confirmed_ids.end(), request.delivery_ids.begin(), request.delivery_ids.end());
  after_commit.push_to.insert(principal.id);  // room in the window: send what waits
}

}  // namespace fpx::broker
