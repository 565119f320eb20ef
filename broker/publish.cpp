// The public side of "account": records of the oversight feed and the
// transparency log's signed checkpoints. Public records are built from an
// allow-list of fields, never by removing fields from a private record:
// nothing reaches the feed unless a line below names it.
#include <algorithm>

#include <spdlog/spdlog.h>

#include "oversight_publisher.hpp"
#include "public_effects.hpp"
#include "fpx/cosignature.hpp"
#include "fpx/public_records.hpp"
#include "fpx/transparency_log.hpp"

namespace fpx::broker {

namespace {

std::string month_of(wire::Date::Reader date) {
  char text[16];
  std::snprintf(text, sizeof text, "%04u-%02u", static_cast<unsigned>(date.getYear()),
                static_cast<unsigned>(date.getMonth()));
  return text;
}

std::string day_of(wire::Date::Reader date) {
  char text[16];
  std::snprintf(text, sizeof text, "%04u-%02u-%02u", static_cast<unsigned>(date.getYear()),
                static_cast<unsigned>(date.getMonth()), static_cast<unsigned>(date.getDay()));
  return text;
}

const char* alert_kind_name(wire::AlertKind kind) {
  switch (kind) {
    case wire::AlertKind::LOST: return "lost";
    case wire::AlertKind::STOLEN: return "stolen";
    case wire::AlertKind::DIVERTED: return "diverted";
    case wire::AlertKind::TRAFFICKING_ROUTE_OR_METHOD: return "trafficking-route-or-method";
    case wire::AlertKind::SUSPECTED_EMBARGO_BREACH: return "suspected-embargo-breach";
    case wire::AlertKind::EMERGING_THREAT: return "emerging-threat";
    case wire::AlertKind::UPDATE: return "update";
    case wire::AlertKind::CANCEL: return "cancel";
  }
  return "unknown";
}

}  // namespace

Status OversightPublisher::publish_record(records::PublicRecord record) {
  auto sequence = store_.next_feed_sequence();
  if (!sequence) return std::move(sequence).take_error();
  const records::RecordKind kind = records::kind_of(record);
  // The sequence is inside the signed bytes: records cannot be reordered or replayed.
  std::visit([&](auto& typed) { typed.sequence = *sequence; }, record);
  std::optional<std::uint64_t> leaf_index;
  if (records::is_leaf_kind(kind)) {
    // The record names its own leaf, so that every observer can prove the
    // broker showed everyone the same figures.
    auto size = store_.log_size();
    if (!size) return std::move(size).take_error();
    leaf_index = *size;
    std::visit(
        [&](auto& typed) {
          if constexpr (requires { typed.log_index; }) typed.log_index = *leaf_index;
        },
        record);
  }
  std::string text = records::encode_record(record);
  if (leaf_index) {
    auto appended = store_.append_record_leaf(public_record_leaf_data(text), *sequence, now_ms());
    if (!appended) return std::move(appended).take_error();
    if (*appended != *leaf_index) return make_error(ErrorCode::internal, "the log grew while a record was written");
  }
  FeedRow row;
  row.sequence = *sequence;
  row.kind = std::string(records::kind_name(kind));
  row.record.assign(text.begin(), text.end());
  Ed25519Signature signature = identity_.signing_key().sign(feed_signing_input(row.record));
  row.signature.assign(signature.begin(), signature.end());
  return store_.append_feed(row, now_ms());
}

Status OversightPublisher::publish_message(const OpenedEnvelope& opened, const InsertedMessage& inserted) {
  auto leaf = store_.log_node(0, inserted.log_index);
  if (!leaf) return std::move(leaf).take_error();
  // The record is a leaf of its own (publish_record: every kind but the
  // checkpoints), bound to its exact bytes, and names the message's salted
  // leaf beside it: the figures an observer is shown are the ones logged,
  // and the message is logged too. (Before this, the record carried only
  // the message's leaf, whose salts are never published: its inclusion
  // proved that some leaf existed, not what the record says.)
  const records::MessageLeaf message{inserted.log_index, *leaf};
  auto body = opened.message.body();
  if (opened.type == wire::MessageType::CAMPAIGN_REPORT) {
    // A campaign report is public as its focal point published it.
    auto report = body.getCampaignReport();
    records::CampaignReportRecord record;
    record.message = message;
    record.country = report.getCountry().cStr();
    record.commission = report.getCommission().cStr();
    for (auto region : report.getRegions()) record.regions.push_back(region.cStr());
    record.period_start = day_of(report.getPeriodStart());
    record.period_end = day_of(report.getPeriodEnd());
    record.weapons_collected = report.getWeaponsCollected();
    record.weapons_destroyed = report.getWeaponsDestroyed();
    for (auto partner : report.getCommunityPartners()) record.community_partners.push_back(partner.cStr());
    return publish_record(std::move(record));
  }
  if (opened.type == wire::MessageType::ALERT && body.getAlert().getKind() == wire::AlertKind::CANCEL) {
    return publish_alert_cancelled(opened, message);
  }
  if (opened.type == wire::MessageType::FIGURES_STATEMENT) {
    // Issue 12: a state's right of reply, published whole (authorize checked
    // that the period is published and the state is the sender's own). It
    // names the statistics record it answers by its feed sequence.
    auto statement = body.getFiguresStatement();
    auto period = store_.published_statistics_period(statement.getPeriodStartMs());
    if (!period) return std::move(period).take_error();
    if (!period->has_value()) return make_error(ErrorCode::internal, "the statement's period is no longer published");
    records::FiguresStatementRecord record;
    record.message = message;
    record.country = statement.getCountry().cStr();
    record.period = (*period)->period;
    record.period_start = utc_time_text(statement.getPeriodStartMs());
    record.statistics_sequence = (*period)->feed_sequence;
    record.text = statement.getText().cStr();
    return publish_record(std::move(record));
  }
  if (opened.type == wire::MessageType::ALERT && body.getAlert().getPublishable()) {
    // The redacted alert: kind, issuing state, a configured region (or the
    // issuing state), the month, the day it ends and the public summary its
    // state wrote for the feed (issue 12). Never serials, places or the
    // private summary.
    auto alert = body.getAlert();
    std::string region = opened.signer.participant.country.str();
    if (config_.regions.count(alert.getRegion().cStr()) != 0) region = alert.getRegion().cStr();
    records::PublicAlertRecord record;
    record.message = message;
    record.alert_kind = alert_kind_name(alert.getKind());
    record.issuing_country = opened.signer.participant.country.str();
    record.region = region;
    record.month = month_of(alert.getOccurredOn());
    record.valid_until = day_of(alert.getValidUntil());
    record.public_summary = alert.getPublicSummary().cStr();
    return publish_record(std::move(record));
  }
  return {};
}

Status OversightPublisher::publish_alert_cancelled(const OpenedEnvelope& opened, const records::MessageLeaf& message) {
  // A cancel shows on the feed only as the status of an alert the feed
  // already carries: a cancel of an alert that was never public publishes
  // nothing, so the feed never tells that a private alert existed.
  // Authorize made sure the cancelled alert is one of the sender's state.
  auto data = opened.message.header().getInReplyTo();
  auto cancelled_id = MessageId::from_bytes(ByteView(data.begin(), data.size()));
  if (!cancelled_id) return {};
  auto cancelled = stored_alert(store_, *cancelled_id);
  if (!cancelled) return std::move(cancelled).take_error();
  if (!cancelled->has_value() || !(*cancelled)->body_kept || !(*cancelled)->publishable) return {};
  auto cancel = opened.message.body().getAlert();
  records::PublicAlertStatusRecord record;
  record.message = message;
  record.status = "cancelled";
  record.alert_message_log_index = (*cancelled)->message_log_index;
  record.issuing_country = opened.signer.participant.country.str();
  record.day = utc_time_text(now_ms()).substr(0, 10);
  // The cancel's own public text, only if its state marked it publishable.
  record.public_summary = cancel.getPublishable() ? cancel.getPublicSummary().cStr() : "";
  return publish_record(std::move(record));
}

void OversightPublisher::publish_checkpoint_if_grown() {
  auto size = store_.log_size();
  auto latest = store_.latest_checkpoint();
  if (!size || !latest) {
    spdlog::error("checkpoint: cannot read the log's state");
    return;
  }
  if (*size == 0 || (latest->has_value() && (*latest)->tree_size >= *size)) return;
  StoreNodeSource nodes(store_);
  auto root = fpx::root(nodes, *size);
  if (!root) {
    spdlog::error("checkpoint: {}", root.error().describe());
    return;
  }
  // The checkpoint row and its feed record, all or nothing: a checkpoint
  // stored without its feed record would make the next turn see the log as
  // checkpointed, and the records before it would wait on the feed for one
  // until the log grew again (docs/PROTOCOL.md §11, "covered by the next
  // checkpoint").
  if (auto opened = store_.open_savepoint(); !opened) {
    spdlog::error("checkpoint: {}", opened.error().describe());
    return;
  }
  auto published = [&]() -> Status {
    CheckpointRow row;
    row.tree_size = *size;
    row.root = *root;
    row.note = sign_checkpoint(config_.oversight.origin, *size, *root, config_.oversight.origin, identity_.signing_key());
    row.created_at_ms = now_ms();
    if (auto stored = store_.append_checkpoint(row); !stored) return stored;
    records::CheckpointRecord record;
    record.tree_size = *size;
    record.root_hash = *root;
    record.note = row.note;
    if (auto appended = publish_record(std::move(record)); !appended) return appended;
    if (witnesses_) checkpoint_to_witness_ = WitnessRound{.tree_size = *size, .root = *root, .note = row.note};
    return store_.release_savepoint();
  }();
  if (!published) {
    checkpoint_to_witness_.reset();
    store_.rollback_savepoint();
    spdlog::error("checkpoint: {}; tried again at the next turn", published.error().describe());
  }
}

void OversightPublisher::checkpoint_committed(CommitOutcome outcome) {
  auto round = std::move(checkpoint_to_witness_);
  checkpoint_to_witness_.reset();
  if (!round || outcome != CommitOutcome::committed) return;
  start_witness_round(round->tree_size, round->root, std::move(round->note));
}

void OversightPublisher::start_witness_round(std::uint64_t tree_size, const Sha256Digest& root, std::string note) {
  // A newer checkpoint replaces the one still being cosigned; what came
  // back for the older one is still published (one older round at most).
  if (round_ && !round_->published && !round_->signed_by.empty()) unpublished_ = std::move(round_);
  round_ = WitnessRound{.tree_size = tree_size, .root = root, .note = std::move(note)};
  round_->asked_at_ms = now_ms();
  round_->pending.assign(witnesses_->size(), true);
  round_->asked_again.assign(witnesses_->size(), false);
  for (std::size_t i = 0; i < witnesses_->size(); ++i) ask_witness(i, *round_);
}

void OversightPublisher::ask_witness(std::size_t index, const WitnessRound& round) {
  WitnessJob job{.tree_size = round.tree_size, .note = round.note, .old_size = witness_sizes_[index], .proof = {}};
  if (job.old_size > 0 && job.old_size < job.tree_size) {
    // On the loop thread, outside any transaction: the store is the loop's.
    StoreNodeSource nodes(store_);
    auto proof = consistency_proof(nodes, job.old_size, job.tree_size);
    if (!proof) {
      spdlog::error("witness {}: no consistency proof from size {}: {}", witnesses_->witness(index).key.name,
                    job.old_size, proof.error().describe());
      return;
    }
    job.proof = std::move(proof).value();
  }
  witnesses_->ask(index, std::move(job));
}

bool OversightPublisher::collect_cosignatures() {
  if (!witnesses_) return false;
  if (!witnesses_started_) {
    // After a start the broker does not know what its witnesses hold: it
    // asks them about the checkpoint it holds, from that checkpoint's size
    // (what an honest past of this broker asked them last); a witness
    // holding less answers 409 with its size and is asked again from it.
    witnesses_started_ = true;
    auto latest = store_.latest_checkpoint();
    if (latest && latest->has_value()) {
      witness_sizes_.assign(witnesses_->size(), (*latest)->tree_size);
      start_witness_round((*latest)->tree_size, (*latest)->root, (*latest)->note);
    }
  }
  for (auto& answer : witnesses_->take_answers()) {
    const auto& name = witnesses_->witness(answer.witness).key.name;
    if (answer.outcome == WitnessOutcome::cosigned) witness_sizes_[answer.witness] = answer.witness_size;
    const bool current = round_ && round_->tree_size == answer.tree_size && round_->pending[answer.witness];
    if (!current) continue;  // an answer about an older checkpoint: its size is all it tells
    switch (answer.outcome) {
      case WitnessOutcome::cosigned: {
        // One line per witness: a witness answering many valid lines (other
        // timestamps) could otherwise push the note past kMaxNoteSignatures
        // and make every client refuse the checkpoint.
        answer.cosignatures.resize(std::min<std::size_t>(answer.cosignatures.size(), 1));
        auto added = add_note_signatures(round_->note, answer.cosignatures);
        if (added) {
          round_->note = std::move(added).value();
          round_->signed_by.push_back(name);
        }
        round_->pending[answer.witness] = false;
        break;
      }
      case WitnessOutcome::needs_proof_from:
        witness_sizes_[answer.witness] = answer.witness_size;
        if (!round_->asked_again[answer.witness]) {
          round_->asked_again[answer.witness] = true;
          ask_witness(answer.witness, *round_);
        } else {
          round_->pending[answer.witness] = false;
          spdlog::warn("witness {} changed its tree size twice for checkpoint {}: asked again at the next one", name,
                       answer.tree_size);
        }
        break;
      case WitnessOutcome::refused:
        round_->pending[answer.witness] = false;
        if (answer.error && answer.error->code == ErrorCode::replay) {
          // The witness holds a history of this log that this checkpoint
          // does not extend: this log was rewritten, or someone showed the
          // witness a fork signed by this broker's key. Either is an incident.
          ++counters_.witness_conflicts;
          spdlog::critical("WITNESS CONFLICT: {} refused checkpoint {} (tree size {}): {}. The log this broker "
                           "serves is not the one that witness cosigned: investigate before anything else",
                           name, answer.tree_size, answer.tree_size, answer.error->describe());
        } else if (answer.error && answer.error->code == ErrorCode::invalid_argument) {
          ++counters_.witness_conflicts;
          spdlog::critical("WITNESS CONFLICT: {} refused the consistency proof of checkpoint {}: {}. This log does "
                           "not extend what that witness cosigned: investigate before anything else",
                           name, answer.tree_size, answer.error->describe());
        } else {
          spdlog::warn("witness {}: no cosignature for checkpoint {}: {}", name, answer.tree_size,
                       answer.error ? answer.error->describe() : std::string("no answer"));
        }
        break;
    }
  }
  if (round_ && !round_->published && !round_->signed_by.empty()) {
    served_ = {round_->tree_size, round_->note};
  }
  const bool round_done = round_ && !round_->published &&
                          std::none_of(round_->pending.begin(), round_->pending.end(), [](bool p) { return p; });
  if (round_done && !round_->logged) {
    // The figure fpx-bench --witnesses reads: checkpoint signed -> served
    // with every cosignature that came (to the loop's timer tick).
    round_->logged = true;
    spdlog::info("witnesses: checkpoint {} served with {} of {} cosignatures {} ms after they were asked",
                 round_->tree_size, round_->signed_by.size(), witnesses_->size(), now_ms() - round_->asked_at_ms);
  }
  if (round_done && round_->signed_by.empty()) round_->published = true;  // nothing came: nothing to publish
  return unpublished_.has_value() || (round_ && round_done && !round_->published);
}

Status OversightPublisher::publish_cosignatures() {
  auto publish = [&](WitnessRound& round) -> Status {
    // A record of its own after the checkpoint's: the checkpoint record is
    // signed and never rewritten, and the cosignatures come seconds later.
    records::CosignedCheckpointRecord record;
    record.tree_size = round.tree_size;
    record.root_hash = round.root;
    record.note = round.note;
    record.witnesses = round.signed_by;
    if (auto appended = publish_record(std::move(record)); !appended) return appended;
    round.published = true;
    return {};
  };
  if (unpublished_) {
    if (auto done = publish(*unpublished_); !done) return done;
    unpublished_.reset();
  }
  if (round_ && !round_->published &&
      std::none_of(round_->pending.begin(), round_->pending.end(), [](bool p) { return p; })) {
    return publish(*round_);
  }
  return {};
}

std::string OversightPublisher::served_checkpoint_note(const CheckpointRow& latest) const {
  if (served_ && served_->first == latest.tree_size) return served_->second;
  return latest.note;
}

}  // namespace fpx::broker
