// A state's own statistics facts, opened to it (docs/PROTOCOL.md §11).
// Both ends: the broker encodes, the client decodes, checks and recounts.
// Contract: fpx/statistics_facts.hpp.
#include "fpx/statistics_facts.hpp"

#include <algorithm>
#include <set>
#include <tuple>

#include <capnp/message.h>

#include <nlohmann/json.hpp>

#include "fpx/aligned_reader.hpp"
#include "fpx/disclosure_control.hpp"
#include "fpx/envelope.hpp"
#include "fpx/message_log_proof.hpp"
#include "fpx/process_statistics.hpp"
#include "fpx/public_records.hpp"
#include "fpx/wire/transport.capnp.h"

namespace fpx {

namespace {

constexpr std::size_t kSaltBytes = 16;

ByteView data_view(capnp::Data::Reader data) { return {data.begin(), data.size()}; }
kj::ArrayPtr<const kj::byte> as_data(ByteView bytes) { return kj::arrayPtr(bytes.data(), bytes.size()); }
std::string text_of(capnp::Text::Reader text) { return std::string(text.cStr(), text.size()); }

Result<std::vector<Sha256Digest>> digests_of(capnp::List<capnp::Data>::Reader list, std::size_t limit,
                                             const char* what) {
  if (list.size() > limit) {
    return make_error(ErrorCode::too_large, std::string(what) + ": " + std::to_string(list.size()) +
                                                " hashes, more than the " + std::to_string(limit) + " any leaf has");
  }
  std::vector<Sha256Digest> digests;
  digests.reserve(list.size());
  for (auto item : list) {
    if (item.size() != Sha256Digest{}.size()) {
      return make_error(ErrorCode::malformed, std::string(what) + ": a hash of " + std::to_string(item.size()) +
                                                  " bytes, not 32");
    }
    Sha256Digest digest{};
    std::copy(item.begin(), item.end(), digest.begin());
    digests.push_back(digest);
  }
  return digests;
}

void set_digests(capnp::List<capnp::Data>::Builder list, const std::vector<Sha256Digest>& digests) {
  for (unsigned i = 0; i < list.size(); ++i) list.set(i, as_data(ByteView(digests[i])));
}

Error forged(const std::string& what) {
  return make_error(ErrorCode::bad_signature,
                    what + ": the broker's answer is forged; keep it (fpx --json prints it) as evidence");
}

}  // namespace

Bytes encode_statistics_facts_reply(std::uint64_t request_id, const StatisticsFactsPage& page) {
  capnp::MallocMessageBuilder message;
  auto frame = message.initRoot<wire::BrokerFrame>();
  frame.setRequestId(request_id);
  auto out = frame.initStatisticsFacts();
  out.setCheckpoint(page.checkpoint_note);
  out.setRecord(page.record);
  out.setRecordSignature(as_data(page.record_signature));
  set_digests(out.initRecordInclusionPath(static_cast<unsigned>(page.record_inclusion_path.size())),
              page.record_inclusion_path);
  auto facts = out.initFacts(static_cast<unsigned>(page.facts.size()));
  for (unsigned i = 0; i < facts.size(); ++i) {
    const auto& fact = page.facts[i];
    auto item = facts[i];
    item.setRequestId(as_data(ByteView(fact.request_id.bytes)));
    item.setRequestedCountry(fact.requested_country.str());
    item.setLeafIndex(fact.leaf_index);
    item.setSalt(as_data(fact.salt));
    item.setMetadata(fact.metadata);
    set_digests(item.initPartHashes(static_cast<unsigned>(fact.part_hashes.size())), fact.part_hashes);
    set_digests(item.initInclusionPath(static_cast<unsigned>(fact.inclusion_path.size())), fact.inclusion_path);
  }
  out.setNextOffset(page.next_offset);
  return flat_bytes(message);
}

Result<StatisticsFactsPage> decode_statistics_facts(ByteView bytes) {
  if (bytes.size() > kMaxStatisticsFactsBytes) {
    return make_error(ErrorCode::too_large, "a page of statistics facts of " + std::to_string(bytes.size()) +
                                                " bytes, more than the " + std::to_string(kMaxStatisticsFactsBytes) +
                                                " any page takes");
  }
  return read_message<wire::StatisticsFacts>(
      bytes, Framing::flat, "StatisticsFacts",
      [](wire::StatisticsFacts::Reader root) -> Result<StatisticsFactsPage> {
        StatisticsFactsPage page;
        page.checkpoint_note = text_of(root.getCheckpoint());
        if (root.getRecord().size() > kMaxStatisticsRecordBytes) {
          return make_error(ErrorCode::too_large, "statistics facts: a record longer than any statistics record");
        }
        page.record = text_of(root.getRecord());
        auto signature = data_view(root.getRecordSignature());
        page.record_signature.assign(signature.begin(), signature.end());
        auto record_path = digests_of(root.getRecordInclusionPath(), kMaxLogProofPath, "record inclusion path");
        if (!record_path) return std::move(record_path).take_error();
        page.record_inclusion_path = std::move(record_path).value();
        if (root.getFacts().size() > kMaxFactsPerPage) {
          return make_error(ErrorCode::too_large, "statistics facts: more than " + std::to_string(kMaxFactsPerPage) +
                                                      " facts on one page");
        }
        for (auto item : root.getFacts()) {
          OpenedFact fact;
          auto id = MessageId::from_bytes(data_view(item.getRequestId()));
          if (!id) return make_error(ErrorCode::malformed, "statistics facts: a request id is not 16 bytes");
          fact.request_id = *id;
          fact.requested_country = CountryCode(text_of(item.getRequestedCountry()));
          fact.leaf_index = item.getLeafIndex();
          auto salt = data_view(item.getSalt());
          if (salt.size() != kSaltBytes) return make_error(ErrorCode::malformed, "statistics facts: a salt is not 16 bytes");
          fact.salt.assign(salt.begin(), salt.end());
          if (item.getMetadata().size() > kMaxFactMetadataBytes) {
            return make_error(ErrorCode::too_large, "statistics facts: a fact's metadata is longer than any fact's");
          }
          fact.metadata = text_of(item.getMetadata());
          auto parts = digests_of(item.getPartHashes(), kMaxLogProofParts, "fact's leaf parts");
          if (!parts) return std::move(parts).take_error();
          fact.part_hashes = std::move(parts).value();
          auto path = digests_of(item.getInclusionPath(), kMaxLogProofPath, "fact's inclusion path");
          if (!path) return std::move(path).take_error();
          fact.inclusion_path = std::move(path).value();
          page.facts.push_back(std::move(fact));
        }
        page.next_offset = root.getNextOffset();
        return page;
      });
}

Result<CheckedFacts> verify_statistics_facts(const std::vector<StatisticsFactsPage>& pages,
                                             const CountryCode& own_country, std::string_view origin,
                                             const Ed25519PublicKey& broker_key) {
  if (pages.empty()) return make_error(ErrorCode::malformed, "statistics facts: no page to check");
  const auto& first = pages.front();
  // The checkpoint first, with the pinned key: nothing else is worth reading
  // before the broker is known to have signed the tree.
  auto checkpoint = parse_and_verify_checkpoint(first.checkpoint_note, origin, broker_key);
  if (!checkpoint) return std::move(checkpoint).take_error();
  CheckedFacts checked;
  checked.checkpoint = std::move(checkpoint).value();
  for (const auto& page : pages) {
    if (page.checkpoint_note != first.checkpoint_note || page.record != first.record) {
      return make_error(ErrorCode::malformed,
                        "statistics facts: pages answered against different checkpoints or records; ask again");
    }
  }
  // The record: signed by the pinned key, and a leaf of the same tree.
  const Bytes record_bytes(first.record.begin(), first.record.end());
  if (!ed25519_verify(ByteView(broker_key), feed_signing_input(record_bytes), first.record_signature)) {
    return forged("the statistics record's signature does not verify with the pinned broker key");
  }
  // Read as every reader of the feed reads it, through the records' one
  // codec (fpx/public_records.hpp): a record it refuses is refused here too.
  auto statistics = records::decode_statistics_record(first.record);
  if (!statistics) {
    return make_error(ErrorCode::malformed,
                      "statistics facts: the record is not a statistics record with its logIndex (" +
                          statistics.error().message + ")");
  }
  checked.record = first.record;
  checked.record_log_index = statistics->log_index;
  if (checked.record_log_index >= checked.checkpoint.size ||
      !verify_inclusion(leaf_hash(public_record_leaf_data(first.record)), checked.record_log_index,
                        checked.checkpoint.size, first.record_inclusion_path, checked.checkpoint.root)) {
    return forged("the statistics record is not included in the checkpoint's tree at its logIndex");
  }
  for (const auto& page : pages) {
    for (const auto& fact : page.facts) {
      const auto part = stats::commitment_part_hash(fact.salt, fact.metadata);
      if (std::find(fact.part_hashes.begin(), fact.part_hashes.end(), part) == fact.part_hashes.end()) {
        return forged("a fact of request " + fact.request_id.hex() + " does not hash to a part of leaf " +
                      std::to_string(fact.leaf_index));
      }
      if (fact.leaf_index >= checked.checkpoint.size ||
          !verify_inclusion(leaf_hash(stats::leaf_data_of_parts(fact.part_hashes)), fact.leaf_index,
                            checked.checkpoint.size, fact.inclusion_path, checked.checkpoint.root)) {
        return forged("leaf " + std::to_string(fact.leaf_index) + " is not included in the checkpoint's tree");
      }
      auto metadata = nlohmann::json::parse(fact.metadata, nullptr, false);
      if (metadata.is_discarded() || !metadata.is_object()) {
        return make_error(ErrorCode::malformed, "statistics facts: a fact's metadata is not a JSON object");
      }
      CheckedFact read;
      read.request_id = fact.request_id;
      read.leaf_index = fact.leaf_index;
      read.fact = metadata.value("fact", "");
      read.requester = metadata.value("requester", "");
      read.requested = metadata.value("requested", "");
      if (metadata.contains("hours") && metadata["hours"].is_number_integer()) {
        read.hours = metadata["hours"].get<std::int64_t>();
      }
      read.outcome = metadata.value("outcome", "");
      read.ground = metadata.value("ground", "");
      if (read.requester != own_country.str() && read.requested != own_country.str()) {
        return make_error(ErrorCode::signer_mismatch, "statistics facts: a fact of " + read.requester + " and " +
                                                          read.requested + ", not of " + own_country.str());
      }
      if (read.requested != fact.requested_country.str()) {
        return make_error(ErrorCode::malformed, "statistics facts: a fact's metadata names another requested state");
      }
      checked.facts.push_back(std::move(read));
    }
  }
  return checked;
}

namespace {

// What one tracing counts, from its facts in log order (as the broker's
// lifecycle row does: the answer in force is the last one).
struct TracingCount {
  std::string requester;
  std::string requested;
  bool requested_fact = false;
  bool acknowledged = false;
  bool acknowledged_within_clock = false;
  std::optional<std::int64_t> answered_hours;
  std::string outcome;
  std::uint64_t answer_leaf = 0;
  std::set<std::string> grounds;

  std::vector<std::string> measures() const {
    std::vector<std::string> counted;
    if (!requested_fact) return counted;
    counted.emplace_back("requests");
    if (acknowledged || answered_hours) counted.emplace_back("acknowledged");
    if (acknowledged_within_clock) counted.emplace_back("acknowledgedWithinClock");
    if (answered_hours) {
      counted.emplace_back("answered");
      if (*answered_hours < disclosure::kAnsweredBandHours) counted.emplace_back("answeredWithin30Days");
      counted.push_back("outcome." + outcome);
      if (disclosure::establishes_origin(outcome)) counted.emplace_back(disclosure::kOriginEstablished);
      for (const auto& ground : grounds) counted.push_back("refusalGround." + ground);
    }
    return counted;
  }
};

}  // namespace

Result<RecountResult> recount_own_cells(const CheckedFacts& facts, const CountryCode& own_country) {
  auto statistics = records::decode_statistics_record(facts.record);
  if (!statistics) {
    return make_error(ErrorCode::malformed, "the statistics record has no pairs table (" +
                                                statistics.error().message + ")");
  }
  // Facts logged after the record are not in its figures.
  std::vector<const CheckedFact*> ordered;
  for (const auto& fact : facts.facts) {
    if (fact.leaf_index < facts.record_log_index) ordered.push_back(&fact);
  }
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const auto* a, const auto* b) { return a->leaf_index < b->leaf_index; });
  std::map<std::pair<std::string, std::string>, TracingCount> tracings;  // (request id, requested)
  for (const auto* fact : ordered) {
    auto& count = tracings[{fact->request_id.hex(), fact->requested}];
    count.requester = fact->requester;
    count.requested = fact->requested;
    if (fact->fact == stats::kFactRequest) count.requested_fact = true;
    if (fact->fact == stats::kFactAcknowledged) count.acknowledged = true;
    if (fact->fact == stats::kFactAcknowledgedWithinClock) count.acknowledged_within_clock = true;
    if (fact->fact == stats::kFactAnswered) {
      count.answered_hours = fact->hours.value_or(0);
      if (count.answer_leaf != fact->leaf_index) count.grounds.clear();  // a later answer replaces the grounds
      count.answer_leaf = fact->leaf_index;
    }
    if (fact->fact == stats::kFactOutcome) count.outcome = fact->outcome;
    if (fact->fact == stats::kFactRefusalGround && fact->leaf_index == count.answer_leaf) {
      count.grounds.insert(fact->ground);
    }
  }
  // Own recount of every cell the state sees in full.
  std::map<std::tuple<std::string, std::string, std::string, std::string>, std::int64_t> own;
  RecountResult result;
  for (const auto& [key, tracing] : tracings) {
    if (!tracing.requested_fact) continue;  // a request before the period: counted in another one
    ++result.tracings;
    for (const auto& measure : tracing.measures()) {
      ++own[{"pairs", tracing.requester, tracing.requested, measure}];
      if (tracing.requester == own_country.str()) ++own[{"byRequester", tracing.requester, "", measure}];
      if (tracing.requested == own_country.str()) ++own[{"byRequested", "", tracing.requested, measure}];
    }
  }
  // The record's cells as the codec decoded them (disclosure_control's
  // layout: pairs, then by requester, by requested, ...), each of this
  // state's rows of the three tables it sees in full.
  const std::string me = own_country.str();
  for (const auto& cell : statistics->tables.cells) {
    if (cell.measure == "answeredWithinClock") continue;  // no fact states it: the priority's clock is not in the log
    const bool mine = (cell.table == disclosure::Table::pair && (cell.requester == me || cell.requested == me)) ||
                      (cell.table == disclosure::Table::requester && cell.requester == me) ||
                      (cell.table == disclosure::Table::requested && cell.requested == me);
    if (!mine) continue;
    const std::string table(disclosure::table_name(cell.table));
    CellCheck check{table, cell.requester, cell.requested, cell.measure, 0, std::nullopt};
    auto found = own.find({table, cell.requester, cell.requested, cell.measure});
    if (found != own.end()) check.own_count = found->second;
    if (!cell.suppressed) check.published = cell.value;
    if (!check.published) {
      ++result.suppressed;
    } else {
      ++result.shown;
      if (!check.matches()) ++result.mismatched;
    }
    result.cells.push_back(std::move(check));
  }
  return result;
}

}  // namespace fpx
