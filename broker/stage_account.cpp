#include <algorithm>
#include <ctime>
#include <set>
#include <span>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "fpx/broker/stages.hpp"
#include "fpx/process_statistics.hpp"

namespace fpx::broker {

namespace {

using wire::MessageType;

std::string iso_day(std::int64_t at_ms) {
  const std::time_t seconds = static_cast<std::time_t>(at_ms / 1000);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char text[16];
  std::strftime(text, sizeof text, "%Y-%m-%d", &parts);
  return text;
}

std::optional<MessageId> in_reply_to_of(const OpenedEnvelope& opened) {
  auto data = opened.message.header().getInReplyTo();
  return MessageId::from_bytes(ByteView(data.begin(), data.size()));
}

// Collects the fact parts of one tracing: who asked whom and when the
// request went out (rounded to the day), never content.
class TracingFactWriter {
 public:
  TracingFactWriter(std::vector<CommitmentPart>& parts, const MessageId& request, std::string requester,
                    const CountryCode& requested, std::int64_t submitted_at_ms)
      : parts_(parts), request_(request), requested_(requested) {
    base_["requester"] = std::move(requester);
    base_["requested"] = requested.str();
    base_["requestDay"] = iso_day(submitted_at_ms);
  }

  void add(std::string_view fact, const char* key = nullptr, nlohmann::json value = nullptr) {
    nlohmann::json metadata = base_;
    metadata["fact"] = fact;
    if (key != nullptr) metadata[key] = std::move(value);
    CommitmentPart part;
    part.metadata = metadata.dump();
    part.tracing_request = request_;
    part.requested_country = requested_;
    part.fact = std::string(fact);
    parts_.push_back(std::move(part));
  }

 private:
  std::vector<CommitmentPart>& parts_;
  MessageId request_;
  CountryCode requested_;
  nlohmann::json base_;
};

// The first acknowledgement (or an answer that comes without one) dates the
// tracing's acknowledgement, as apply_workflow does in the lifecycle.
void add_acknowledgement_facts(TracingFactWriter& writer, const LifecycleRow& row, std::int64_t now_ms) {
  if (row.acknowledged_at_ms != 0) return;
  writer.add(stats::kFactAcknowledged, "hours", (now_ms - row.submitted_at_ms) / stats::kHourMs);
  if (now_ms <= row.ack_due_ms) writer.add(stats::kFactAcknowledgedWithinClock);
}

void add_answer_facts(TracingFactWriter& writer, const LifecycleRow& row, std::int64_t now_ms,
                      const std::string& outcome, const std::vector<std::string>& grounds) {
  writer.add(stats::kFactAnswered, "hours", (now_ms - row.submitted_at_ms) / stats::kHourMs);
  writer.add(stats::kFactOutcome, "outcome", outcome);
  for (const auto& ground : grounds) writer.add(stats::kFactRefusalGround, "ground", ground);
}

// The fact parts a message adds about the tracings it starts or moves.
Status add_tracing_facts(const StageContext& context, const OpenedEnvelope& opened,
                         std::vector<CommitmentPart>& parts) {
  const auto& sender = opened.signer.participant;
  auto body = opened.message.body();
  if (opened.type == MessageType::TRACING_REQUEST) {
    std::set<std::string> seen;  // a state listed twice is one tracing, as in the lifecycle
    for (auto state : body.getTracingRequest().getRequestedStates()) {
      std::string country = state.getCountry().cStr();
      if (!seen.insert(country).second) continue;
      TracingFactWriter(parts, opened.message_id, sender.country.str(), CountryCode(country), context.now_ms)
          .add(stats::kFactRequest);
    }
    return {};
  }
  if (opened.type != MessageType::TRACING_ACKNOWLEDGEMENT && opened.type != MessageType::TRACING_RESPONSE &&
      opened.type != MessageType::FORWARD) {
    return {};
  }
  auto request_id = in_reply_to_of(opened);
  if (!request_id) return {};
  auto rows = context.store.lifecycle_of(*request_id);
  if (!rows) return std::move(rows).take_error();
  // A forward opened a tracing for the new state just before it is stored.
  const CountryCode tracing_country =
      opened.type == MessageType::FORWARD ? CountryCode(body.getForward().getToCountry().cStr()) : sender.country;
  auto row = std::find_if(rows->begin(), rows->end(),
                          [&](const LifecycleRow& candidate) { return candidate.requested_country == tracing_country; });
  if (row == rows->end()) return {};
  TracingFactWriter writer(parts, *request_id, row->requester_country.str(), row->requested_country,
                           row->submitted_at_ms);
  switch (opened.type) {
    case MessageType::FORWARD:
      if (row->submitted_at_ms == context.now_ms) writer.add(stats::kFactRequest);
      break;
    case MessageType::TRACING_ACKNOWLEDGEMENT:
      add_acknowledgement_facts(writer, *row, context.now_ms);
      if (body.getTracingAcknowledgement().getStatus() == wire::AcknowledgementStatus::REJECTED_AS_MALFORMED) {
        add_answer_facts(writer, *row, context.now_ms, "rejected_as_malformed", {});
      }
      break;
    case MessageType::TRACING_RESPONSE: {
      auto response = body.getTracingResponse();
      add_acknowledgement_facts(writer, *row, context.now_ms);
      if (response.getKind() == wire::ResponseKind::INTERIM) break;
      std::vector<std::string> grounds;
      for (auto ground : response.getRefusalGrounds()) grounds.push_back(refusal_ground_name(ground));
      add_answer_facts(writer, *row, context.now_ms, tracing_outcome_name(response.getOutcome()), grounds);
      break;
    }
    default:
      break;
  }
  return {};
}

// Leaves of tracing messages have at least this many parts, and a multiple
// of it: how many facts a leaf holds (a refusal's grounds, an answer on
// time, the states a request went to) must not show in its size.
constexpr std::size_t kTracingLeafParts = 8;

bool states_facts(wire::MessageType type) {
  return type == MessageType::TRACING_REQUEST || type == MessageType::TRACING_ACKNOWLEDGEMENT ||
         type == MessageType::TRACING_RESPONSE || type == MessageType::FORWARD;
}

constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kShuffleDrawBytes = 8;

// Dummy parts (a random salt over nothing: indistinguishable from a real
// part's hash) up to the padded size.
void pad(std::vector<CommitmentPart>& parts) {
  const std::size_t padded = (parts.size() + kTracingLeafParts - 1) / kTracingLeafParts * kTracingLeafParts;
  parts.resize(std::max(padded, kTracingLeafParts));
}

// The parts after the event in a random order, so that a revealed part's
// position says nothing of its kind. `random` holds kShuffleDrawBytes for
// each position from the last down to 2.
void shuffle(std::vector<CommitmentPart>& parts, std::span<const std::uint8_t> random) {
  for (std::size_t i = parts.size() - 1; i > 1; --i) {
    std::uint64_t value = 0;
    for (std::size_t k = 0; k < kShuffleDrawBytes; ++k) value = (value << 8) | random[k];
    random = random.subspan(kShuffleDrawBytes);
    std::swap(parts[i], parts[1 + value % i]);  // Fisher-Yates over positions 1..i
  }
}

}  // namespace

Result<LeafCommitment> log_leaf_commitment(const StageContext& context, const OpenedEnvelope& opened,
                                           const std::vector<ParticipantId>& recipients) {
  // A salted commitment to the event's metadata, never its content. The
  // random salt of each part stops anyone from confirming a guessed
  // metadata line against the public log; salts and metadata are kept
  // sealed in the store for a reveal after the embargo.
  std::set<std::string> countries;
  for (const auto& id : recipients) {
    if (const auto* participant = context.enrollment.by_id(id)) countries.insert(participant->country.str());
  }
  // Appended piece by piece: g++ 12 -O2 warns falsely (-Wrestrict) on "a" + b chains.
  CommitmentPart event;
  event.metadata = std::string(message_type_name(opened.type));
  event.metadata.append("|").append(opened.signer.participant.country.str()).append("|");
  for (const auto& country : countries) event.metadata.append(country).append(",");
  event.metadata.append("|").append(std::to_string(context.now_ms / (24LL * 3600 * 1000)));  // the day, not the time

  LeafCommitment commitment;
  commitment.parts.push_back(std::move(event));
  if (auto facts = add_tracing_facts(context, opened, commitment.parts); !facts) return std::move(facts).take_error();
  const bool padded = states_facts(opened.type);
  if (padded) pad(commitment.parts);

  // One draw from the CSPRNG for the whole leaf (every salt, and the
  // shuffle), not one per part: the same randomness at a fraction of the calls.
  const std::size_t count = commitment.parts.size();
  const std::size_t shuffle_bytes = padded && count > 2 ? (count - 2) * kShuffleDrawBytes : 0;
  Bytes random(count * kSaltBytes + shuffle_bytes);
  random_bytes(random);
  const ByteView draw(random);
  if (padded) shuffle(commitment.parts, draw.subspan(count * kSaltBytes));

  std::vector<Sha256Digest> part_hashes;
  for (std::size_t i = 0; i < count; ++i) {
    CommitmentPart& part = commitment.parts[i];
    const auto salt = draw.subspan(i * kSaltBytes, kSaltBytes);
    part.salt.assign(salt.begin(), salt.end());
    part_hashes.push_back(stats::commitment_part_hash(part.salt, part.metadata));
  }
  commitment.leaf_data = stats::leaf_data_of_parts(part_hashes);
  return commitment;
}

void append_audit_row(Store& store, AuditEntry entry) {
  if (auto written = store.append_audit(entry); !written) {
    spdlog::error("audit row not written: {}", written.error().describe());
  }
}

AuditEntry audit_entry(std::int64_t now_ms, const std::string& principal, const std::optional<MessageId>& id,
                       std::string stage, ErrorCode outcome, std::string detail) {
  AuditEntry entry;
  entry.at_ms = now_ms;
  entry.principal = principal;
  entry.message_id = id;
  entry.stage = std::move(stage);
  entry.outcome = outcome;
  entry.detail = std::move(detail);
  return entry;
}

}  // namespace fpx::broker
