// The loop's side of the metrics (fpx/broker/metrics.hpp): what it
// publishes each timer tick, and the delivery latencies of a committed
// batch's confirmations. Loop thread only; the scrape thread reads atomics.
#include <algorithm>

#include "broker_impl.hpp"

namespace fpx::broker {

void Broker::Impl::publish_metrics() {
  LoopGauges gauges;
  gauges.pending_writes = pending.audit_rows();
  gauges.sessions = sessions.size();
  gauges.in_flight = sessions.in_flight_count();
  gauges.backlog = backlog.size();
  if (!identity.chain().empty()) gauges.broker_certificate_not_after_ms = identity.chain().front().not_after_ms();
  gauges.root_certificate_not_after_ms = trust.root().not_after_ms();
  gauges.crl_next_update_ms = trust.earliest_crl_next_update_ms();
  gauges.messages_decoded = stage_times.messages();
  for (std::size_t i = 0; i < kStageTimerCount; ++i) {
    gauges.stage_cpu_us[i] = stage_times.microseconds(static_cast<StageTimer>(i));
  }
  metrics.publish(counters, gauges);
}

void Broker::Impl::observe_delivery_latency() {
  const std::int64_t now = loop_clock.now_ms();
  for (const auto& [participant, ids] : after_commit.confirmed) {
    for (auto sent_at : sessions.sent_at(participant, ids)) {
      metrics.delivery_latency.observe(std::chrono::milliseconds(std::max<std::int64_t>(0, now - sent_at)));
    }
  }
}

const BrokerMetrics& Broker::metrics() const { return impl_->metrics; }

}  // namespace fpx::broker
