// statisticsFacts: a focal point asks for the opened facts of its own
// state's tracings in a published statistics period (docs/PROTOCOL.md §11,
// "Each party's own facts"), to recount the cells its state appears in.
// Read-only. Only the two states party to a tracing are given its facts;
// to anyone else (another state, an agency, an observer) the tracing and
// the period's facts do not exist: the same not_found as for a tracing or
// period that does not.
#include <nlohmann/json.hpp>

#include "broker_impl.hpp"
#include "fpx/process_statistics.hpp"
#include "fpx/statistics_facts.hpp"
#include "fpx/transparency_log.hpp"

namespace fpx::broker {

namespace {

// The answer for "not yours", "no such tracing" and "no such period" alike,
// so that a state learns nothing of other pairs' tracings from it.
Error nothing_of_yours(std::int64_t period_start_ms) {
  return make_error(ErrorCode::not_found,
                    "no published statistics facts of your state for the period starting at " +
                        std::to_string(period_start_ms) +
                        " ms: give the periodStart of a published statistics record in which your state requested "
                        "or was asked a tracing (and, if you name one, a tracing request of your state's)");
}

}  // namespace

void Broker::Impl::handle_statistics_facts(const EnrolledParticipant& principal, const ClientRequest& request,
                                           const std::string& routing_id) {
  const auto& query = request.statistics_facts;
  auto refuse = [&](const Error& error) {
    admission.refuse(routing_id, request.request_id, principal.id.str(), query.request_id, "statistics_facts", error);
  };
  // The facts are the state's, held by its focal point: an agency asks its own.
  if (principal.role != Role::focal_point) return refuse(nothing_of_yours(query.period_start_ms));
  const auto& period = config.oversight.statistics_period;
  if (period.start_of(query.period_start_ms) != query.period_start_ms) {
    return refuse(nothing_of_yours(query.period_start_ms));
  }
  // The period's record, if published.
  auto runs = store->statistics_awaiting_reveal(period.name, query.period_start_ms + 1);
  if (!runs) return refuse(runs.error());
  std::uint64_t sequence = 0;
  for (const auto& run : *runs) {
    if (run.start_ms == query.period_start_ms) sequence = run.feed_sequence;
  }
  if (sequence == 0) return refuse(nothing_of_yours(query.period_start_ms));
  auto feed = store->feed_page(sequence, 1);
  if (!feed) return refuse(feed.error());
  if (feed->empty() || feed->front().sequence != sequence) return refuse(nothing_of_yours(query.period_start_ms));

  // The state's tracings of the period: those it requested or was asked.
  auto rows = store->lifecycle_submitted_between(query.period_start_ms, period.end_of(query.period_start_ms));
  if (!rows) return refuse(rows.error());
  std::vector<const LifecycleRow*> own;
  for (const auto& row : *rows) {
    if (row.requester_country != principal.country && row.requested_country != principal.country) continue;
    if (query.request_id && row.request_id != *query.request_id) continue;
    own.push_back(&row);
  }
  if (own.empty()) return refuse(nothing_of_yours(query.period_start_ms));

  auto latest = store->latest_checkpoint();
  if (!latest) return refuse(latest.error());
  StatisticsFactsPage page;
  page.record.assign(feed->front().record.begin(), feed->front().record.end());
  page.record_signature = feed->front().signature;
  auto record = nlohmann::json::parse(page.record, nullptr, false);
  if (!record.is_object() || !record.contains("logIndex") || !record["logIndex"].is_number_unsigned()) {
    return refuse(make_error(ErrorCode::internal, "the period's statistics record names no logIndex"));
  }
  const auto record_leaf = record["logIndex"].get<std::uint64_t>();
  if (!latest->has_value() || (*latest)->tree_size <= record_leaf) {
    return refuse(make_error(ErrorCode::not_found,
                             "the period's record is not covered by a signed checkpoint yet: ask again after the "
                             "next one (every oversight.checkpoint_every_ms)"));
  }
  const std::uint64_t tree_size = (*latest)->tree_size;
  page.checkpoint_note = (*latest)->note;
  StoreNodeSource nodes(*store);
  auto record_path = inclusion_proof(nodes, record_leaf, tree_size);
  if (!record_path) return refuse(record_path.error());
  page.record_inclusion_path = std::move(record_path).value();

  // Every fact of those tracings the checkpoint covers, in a stable order,
  // one page from `offset`.
  std::uint32_t index = 0;
  for (const auto* row : own) {
    auto sealed = store->facts_of_tracing(row->request_id, row->requested_country);
    if (!sealed) return refuse(sealed.error());
    for (auto& fact : *sealed) {
      if (fact.leaf_index >= tree_size) continue;  // not provable yet; logged after the record anyway
      if (index++ < query.offset) continue;
      if (page.facts.size() == kMaxFactsPerPage) {
        page.next_offset = index - 1;
        break;
      }
      auto hashes = store->commitment_part_hashes(fact.leaf_index);
      if (!hashes) return refuse(hashes.error());
      auto path = inclusion_proof(nodes, fact.leaf_index, tree_size);
      if (!path) return refuse(path.error());
      OpenedFact opened;
      opened.request_id = row->request_id;
      opened.requested_country = row->requested_country;
      opened.leaf_index = fact.leaf_index;
      opened.salt = std::move(fact.salt);
      opened.metadata = std::move(fact.metadata);
      opened.part_hashes = std::move(hashes).value();
      opened.inclusion_path = std::move(path).value();
      page.facts.push_back(std::move(opened));
    }
    if (page.next_offset != 0) break;
  }
  after_commit.reply(routing_id, encode_statistics_facts_reply(request.request_id, page), request.request_id);
}

}  // namespace fpx::broker
