#include "fpx/process_statistics.hpp"

#include <algorithm>

namespace fpx::stats {

std::map<PairKey, PairTally> tally(std::span<const TracingFacts> facts) {
  std::map<PairKey, PairTally> pairs;
  for (const auto& tracing : facts) {
    PairTally& counts = pairs[{tracing.requester, tracing.requested}];
    ++counts.requests;
    if (tracing.acknowledged_hours) {
      ++counts.acknowledged;
      counts.acknowledged_hours.push_back(*tracing.acknowledged_hours);
      if (tracing.acknowledged_within_clock) ++counts.acknowledged_within_clock;
    }
    if (tracing.answered_hours) {
      ++counts.answered;
      counts.answered_hours.push_back(*tracing.answered_hours);
      ++counts.outcomes[tracing.outcome];
      for (const auto& ground : tracing.refusal_grounds) ++counts.refusal_grounds[ground];
    }
  }
  return pairs;
}

std::optional<std::int64_t> nearest_rank(std::vector<std::int64_t> values, int percent) {
  if (values.empty()) return std::nullopt;
  std::sort(values.begin(), values.end());
  const std::size_t rank = (static_cast<std::size_t>(percent) * values.size() + 99) / 100;
  return values[std::max<std::size_t>(rank, 1) - 1];
}

namespace {

std::optional<std::int64_t> shown(std::int64_t count, std::int64_t threshold) {
  if (count > 0 && count < threshold) return std::nullopt;
  return count;
}

Percentiles percentiles(const std::vector<std::int64_t>& values, std::int64_t threshold) {
  if (static_cast<std::int64_t>(values.size()) < threshold) return {};
  return {nearest_rank(values, 50), nearest_rank(values, 90)};
}

}  // namespace

PublishedPair publishable(const PairKey& pair, const PairTally& counts, std::int64_t threshold) {
  PublishedPair published;
  published.requester = pair.first;
  published.requested = pair.second;
  if (counts.requests < threshold) {
    published.suppressed = true;
    return published;
  }
  published.requests = counts.requests;
  published.acknowledged = shown(counts.acknowledged, threshold);
  published.acknowledged_within_clock = shown(counts.acknowledged_within_clock, threshold);
  published.answered = shown(counts.answered, threshold);
  published.acknowledged_hours = percentiles(counts.acknowledged_hours, threshold);
  published.answered_hours = percentiles(counts.answered_hours, threshold);
  for (const auto& [outcome, count] : counts.outcomes) published.outcomes[outcome] = shown(count, threshold);
  for (const auto& [ground, count] : counts.refusal_grounds) {
    published.refusal_grounds[ground] = shown(count, threshold);
  }
  // Outcomes partition "answered", so the suppressed ones together are
  // "answered" minus the shown ones: while that total is one cell alone or
  // under the threshold, the smallest shown outcome is suppressed too.
  if (published.answered) {
    for (;;) {
      std::int64_t hidden_total = counts.answered;
      int hidden_cells = 0;
      auto smallest = published.outcomes.end();
      for (auto entry = published.outcomes.begin(); entry != published.outcomes.end(); ++entry) {
        if (!entry->second) {
          ++hidden_cells;
        } else {
          hidden_total -= *entry->second;
          if (*entry->second > 0 && (smallest == published.outcomes.end() || *entry->second < *smallest->second)) {
            smallest = entry;
          }
        }
      }
      const bool recoverable = hidden_cells == 1 || (hidden_cells > 1 && hidden_total < threshold);
      if (!recoverable || smallest == published.outcomes.end()) break;
      smallest->second.reset();
    }
  }
  return published;
}

Sha256Digest commitment_part_hash(ByteView salt, std::string_view metadata) {
  return sha256(concat({salt, ByteView(reinterpret_cast<const std::uint8_t*>(metadata.data()), metadata.size())}));
}

Bytes leaf_data_of_parts(std::span<const Sha256Digest> part_hashes) {
  if (part_hashes.size() == 1) return Bytes(part_hashes[0].begin(), part_hashes[0].end());
  // Sized once and filled in place: g++ 12 -O2 warns falsely on insert() after construction.
  Bytes input(kLeafPartsLabel.size() + part_hashes.size() * sizeof(Sha256Digest));
  auto out = std::copy(kLeafPartsLabel.begin(), kLeafPartsLabel.end(), input.begin());
  for (const auto& part : part_hashes) out = std::copy(part.begin(), part.end(), out);
  Sha256Digest digest = sha256(input);
  return Bytes(digest.begin(), digest.end());
}

Status add_revealed_fact(PairTally& tally, std::string_view fact, std::optional<std::int64_t> hours,
                         std::string_view value) {
  const bool timed = fact == kFactAcknowledged || fact == kFactAnswered;
  const bool valued = fact == kFactOutcome || fact == kFactRefusalGround;
  if (timed && (!hours || *hours < 0)) {
    return make_error(ErrorCode::invalid_argument, std::string(fact).append(" fact without its hours"));
  }
  if (valued && value.empty()) {
    return make_error(ErrorCode::invalid_argument, std::string(fact).append(" fact without its value"));
  }
  if (fact == kFactRequest) {
    ++tally.requests;
  } else if (fact == kFactAcknowledged) {
    ++tally.acknowledged;
    tally.acknowledged_hours.push_back(*hours);
  } else if (fact == kFactAcknowledgedWithinClock) {
    ++tally.acknowledged_within_clock;
  } else if (fact == kFactAnswered) {
    ++tally.answered;
    tally.answered_hours.push_back(*hours);
  } else if (fact == kFactOutcome) {
    ++tally.outcomes[std::string(value)];
  } else if (fact == kFactRefusalGround) {
    ++tally.refusal_grounds[std::string(value)];
  } else {
    return make_error(ErrorCode::invalid_argument, std::string("unknown fact kind: ").append(fact));
  }
  return {};
}

}  // namespace fpx::stats
