// The submit path's stages called on their own (fpx/broker/submission.hpp):
// verify with no store at all, then authorize, dedupe, quota and persist
// against a real SQLite store in a temporary directory, with real keys, certificates and
// signatures, and no broker process.
#include <algorithm>
#include <filesystem>
#include <regex>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "fpx/broker/submission.hpp"
#include "pending_writes.hpp"
#include "support/sample_messages.hpp"
#include "support/test_pki.hpp"
#include "timers.hpp"

using namespace fpx;
using namespace fpx::broker;
using wire::MessageType;

namespace {

template <typename T>
T must(Result<T> result) {
  if (!result) FAIL(result.error().describe());
  return std::move(result).value();
}

// SN's police submits; NE and BF have focal points; ML has none enrolled.
class Exchange {
 public:
  Exchange()
      : pki_({"SN", "NE", "BF"}),
        now_(now_ms()),
        sender_(pki_.issue_identity("sn.police-judiciaire", "SN", Role::agency)),
        trust_(pki_.trust_store()),
        opener_(trust_) {
    pki_.issue("ne.focal-point", "NE", Role::focal_point);
    pki_.issue("bf.focal-point", "BF", Role::focal_point);
    pki_.issue("sn.focal-point", "SN", Role::focal_point);
    test::IssueOptions from_root;
    from_root.via_intermediate = false;
    pki_.issue("cso.sahel-watch", "SN", Role::observer, from_root);
    pki_.issue("exchange.broker", "AT", Role::broker, from_root);
    const auto enrolled = pki_.dir() / "enrolled";
    std::filesystem::create_directories(enrolled);
    for (const char* id :
         {"sn.police-judiciaire", "ne.focal-point", "bf.focal-point", "sn.focal-point", "cso.sahel-watch"}) {
      std::filesystem::copy_file(pki_.dir() / "participants" / id / kChainFile, enrolled / (std::string(id) + ".pem"));
    }
    enrollment_.emplace(must(Enrollment::load(enrolled, trust_, now_)));
    broker_identity_.emplace(pki_.identity("exchange.broker"));
    // A file in the test's temporary directory: the store insists on WAL,
    // which SQLite's ":memory:" databases cannot use.
    store_ = must(open_sqlite_store(pki_.dir() / "stages.sqlite"));
  }

  const Identity& sender() const { return sender_; }
  std::int64_t now() const { return now_; }
  Store& store() { return *store_; }
  const EnrolledParticipant& participant(const std::string& id) const {
    const EnrolledParticipant* found = enrollment_->by_id(ParticipantId(id));
    if (found == nullptr) FAIL(id << " is not enrolled");
    return *found;
  }

  VerifyContext verify_context() { return VerifyContext{config_, opener_, *enrollment_, now_}; }
  StageContext stage_context() {
    return StageContext{config_, *store_, opener_, *enrollment_, *broker_identity_, now_};
  }

  Submission submission(const std::string& from, Bytes envelope) const {
    Submission submission;
    submission.routing_id = "connection-1";
    submission.principal = participant(from);
    submission.request_id = 7;
    submission.envelope = std::move(envelope);
    return submission;
  }

  // verify, then authorize and dedupe in an open transaction.
  Submission through_dedupe(Bytes envelope, StageTimes& times) {
    Submission submission = this->submission("sn.police-judiciaire", std::move(envelope));
    verify_submission(verify_context(), submission, times);
    authorize_submission(stage_context(), submission, times);
    dedupe_submission(stage_context(), submission, times);
    return submission;
  }

 private:
  test::TestPki pki_;
  std::int64_t now_;
  Identity sender_;
  TrustStore trust_;
  EnvelopeOpener opener_;
  BrokerConfig config_;
  std::optional<Enrollment> enrollment_;
  std::optional<Identity> broker_identity_;
  std::unique_ptr<Store> store_;
};

}  // namespace

TEST_CASE("verify opens and validates a submission with no store at all") {
  Exchange exchange;
  StageTimes times;
  Submission submission =
      exchange.submission("sn.police-judiciaire", test::seal_sample(exchange.sender(), MessageType::TRACING_REQUEST));
  verify_submission(exchange.verify_context(), submission, times);
  CHECK(submission.verified);
  REQUIRE_FALSE(submission.refused());
  REQUIRE(submission.opened.has_value());
  CHECK(submission.opened->message_id == test::message_id_of(submission.envelope));
  CHECK(submission.validated.ok());
}

TEST_CASE("verify refuses an observer at authorize before opening its envelope") {
  Exchange exchange;
  StageTimes times;
  Submission submission =
      exchange.submission("cso.sahel-watch", test::seal_sample(exchange.sender(), MessageType::TRACING_REQUEST));
  verify_submission(exchange.verify_context(), submission, times);
  REQUIRE(submission.refused());
  CHECK(std::string(submission.refusal->stage) == "authorize");
  CHECK(submission.refusal->error.code == ErrorCode::unauthorized);
  CHECK_FALSE(submission.opened.has_value());
  CHECK_FALSE(submission.refusal->about.has_value());
}

TEST_CASE("verify refuses at open an envelope whose signed bytes were changed") {
  Exchange exchange;
  StageTimes times;
  Bytes envelope = test::seal_sample(exchange.sender(), MessageType::TRACING_REQUEST);
  // The national case reference is inside the signed body: change one letter of it.
  const std::string reference = "SN-ZIG-2026-0142";
  auto at = std::search(envelope.begin(), envelope.end(), reference.begin(), reference.end());
  REQUIRE(at != envelope.end());
  *at = 'X';
  Submission submission = exchange.submission("sn.police-judiciaire", envelope);
  verify_submission(exchange.verify_context(), submission, times);
  REQUIRE(submission.refused());
  CHECK(std::string(submission.refusal->stage) == "open");
  CHECK_FALSE(submission.opened.has_value());
}

TEST_CASE("A schema violation found by verify is reported at validate once authorize let the message on") {
  Exchange exchange;
  StageTimes times;
  auto long_name = [](wire::Header::Builder, wire::Body::Builder body) {
    body.getTracingRequest().setRequestingAgency(std::string(1000, 'x'));  // longer than any name may be
  };
  Submission submission = exchange.submission(
      "sn.police-judiciaire", test::seal_changed(exchange.sender(), MessageType::TRACING_REQUEST, long_name));
  verify_submission(exchange.verify_context(), submission, times);
  REQUIRE_FALSE(submission.refused());  // verify found it, but does not speak before authorize
  REQUIRE_FALSE(submission.validated.ok());
  CHECK(submission.validated.error().code == ErrorCode::schema_violation);
  REQUIRE(exchange.store().begin(Durability::deferred).ok());
  authorize_submission(exchange.stage_context(), submission, times);
  REQUIRE(submission.refused());
  CHECK(std::string(submission.refusal->stage) == "validate");
  CHECK(submission.refusal->error.code == ErrorCode::schema_violation);
  CHECK_FALSE(submission.refusal->error.field_errors.empty());
  REQUIRE(submission.refusal->about.has_value());
  CHECK(*submission.refusal->about == submission.opened->message_id);
  exchange.store().rollback();
}

TEST_CASE("authorize routes a tracing request to the requested states' focal points") {
  Exchange exchange;
  StageTimes times;
  Submission submission =
      exchange.submission("sn.police-judiciaire", test::seal_sample(exchange.sender(), MessageType::TRACING_REQUEST));
  verify_submission(exchange.verify_context(), submission, times);
  REQUIRE(exchange.store().begin(Durability::deferred).ok());
  authorize_submission(exchange.stage_context(), submission, times);
  exchange.store().rollback();
  REQUIRE_FALSE(submission.refused());
  CHECK(std::find(submission.recipients.begin(), submission.recipients.end(), ParticipantId("ne.focal-point")) !=
        submission.recipients.end());
  CHECK(std::find(submission.recipients.begin(), submission.recipients.end(), ParticipantId("bf.focal-point")) !=
        submission.recipients.end());
  CHECK(std::find(submission.recipients.begin(), submission.recipients.end(),
                  ParticipantId("sn.police-judiciaire")) == submission.recipients.end());
}

TEST_CASE("authorize refuses a request to a state with no enrolled focal point before validate speaks") {
  Exchange exchange;
  StageTimes times;
  auto to_mali = [](wire::Header::Builder header, wire::Body::Builder body) {
    header.getRecipients()[1].setCountry("ML");
    body.getTracingRequest().getRequestedStates()[1].setCountry("ML");
    body.getTracingRequest().setRequestingAgency(std::string(1000, 'x'));  // also a schema violation
  };
  Submission submission = exchange.submission(
      "sn.police-judiciaire", test::seal_changed(exchange.sender(), MessageType::TRACING_REQUEST, to_mali));
  verify_submission(exchange.verify_context(), submission, times);
  REQUIRE(exchange.store().begin(Durability::deferred).ok());
  authorize_submission(exchange.stage_context(), submission, times);
  exchange.store().rollback();
  REQUIRE(submission.refused());
  CHECK(std::string(submission.refusal->stage) == "authorize");
  CHECK(submission.refusal->error.code == ErrorCode::unknown_recipient);
}

TEST_CASE("dedupe lets a new message on and persist stores it in the open transaction") {
  Exchange exchange;
  StageTimes times;
  REQUIRE(exchange.store().begin(Durability::required).ok());
  Submission submission =
      exchange.through_dedupe(test::seal_sample(exchange.sender(), MessageType::TRACING_REQUEST), times);
  REQUIRE_FALSE(submission.refused());
  CHECK_FALSE(submission.duplicate_of.has_value());
  auto inserted = persist(exchange.stage_context(), *submission.opened, submission.envelope, submission.signed_sha256,
                          submission.recipients);
  REQUIRE(inserted.ok());
  REQUIRE(exchange.store().commit().ok());

  auto stored = exchange.store().find_message(submission.opened->message_id);
  REQUIRE(stored.ok());
  REQUIRE(stored->has_value());
  CHECK((*stored)->signed_sha256 == submission.signed_sha256);
  CHECK((*stored)->sender == ParticipantId("sn.police-judiciaire"));
}

TEST_CASE("dedupe finds a resend of a stored message and does not store it twice") {
  Exchange exchange;
  StageTimes times;
  const Bytes envelope = test::seal_sample(exchange.sender(), MessageType::TRACING_REQUEST);
  REQUIRE(exchange.store().begin(Durability::required).ok());
  Submission first = exchange.through_dedupe(envelope, times);
  REQUIRE_FALSE(first.refused());
  auto inserted =
      persist(exchange.stage_context(), *first.opened, first.envelope, first.signed_sha256, first.recipients);
  REQUIRE(inserted.ok());
  REQUIRE(exchange.store().commit().ok());

  REQUIRE(exchange.store().begin(Durability::required).ok());
  Submission again = exchange.through_dedupe(envelope, times);
  exchange.store().rollback();
  REQUIRE_FALSE(again.refused());
  REQUIRE(again.duplicate_of.has_value());
  CHECK(again.duplicate_of->id == first.opened->message_id);
  CHECK(again.duplicate_of->log_index == inserted->log_index);
}

TEST_CASE("dedupe refuses a new message created further ahead than the clock skew allows as stale") {
  Exchange exchange;
  StageTimes times;
  const std::int64_t ahead = exchange.now() + BrokerConfig{}.timing.max_clock_skew_ms + 60'000;
  REQUIRE(exchange.store().begin(Durability::deferred).ok());
  Submission submission =
      exchange.through_dedupe(test::seal_sample(exchange.sender(), MessageType::TRACING_REQUEST, ahead), times);
  exchange.store().rollback();
  REQUIRE(submission.refused());
  CHECK(std::string(submission.refusal->stage) == "dedupe");
  CHECK(submission.refusal->error.code == ErrorCode::stale_timestamp);
}

TEST_CASE("The daily quota refuses a submission over the sender's bytes of the day at persist") {
  Exchange exchange;
  StageTimes times;
  REQUIRE(exchange.store().begin(Durability::deferred).ok());
  Submission submission =
      exchange.through_dedupe(test::seal_sample(exchange.sender(), MessageType::TRACING_REQUEST), times);
  REQUIRE_FALSE(submission.refused());
  // The minute's bound is wide open here: only the day's is under test.
  constexpr double kWideOpen = 1e12;
  // A tracing request costs what the store keeps for it: its envelope
  // bytes, each counted kStoredBytesPerEnvelopeByte times (issue 14).
  const std::uint64_t cost = DailyQuota::stored_bytes_of(*submission.opened, submission.envelope.size());
  CHECK(cost == kStoredBytesPerEnvelopeByte * submission.envelope.size());
  DailyQuota roomy(cost, kWideOpen, kWideOpen);
  check_daily_quota(exchange.stage_context(), roomy, submission);
  CHECK_FALSE(submission.refused());
  DailyQuota tight(cost - 1, kWideOpen, kWideOpen);
  check_daily_quota(exchange.stage_context(), tight, submission);
  exchange.store().rollback();
  REQUIRE(submission.refused());
  CHECK(std::string(submission.refusal->stage) == "persist");
  CHECK(submission.refusal->error.code == ErrorCode::quota_exceeded);
  CHECK(submission.refusal->retry_after_ms > 0);
}

TEST_CASE("The stage CPU line lists every stage in the form the benchmark parses") {
  StageTimes times;
  times.count_message();
  times.add(StageTimer::open, 2'500'000);
  times.add(StageTimer::commit, 999);
  const std::string line = times.describe();
  CHECK(line ==
        "stage cpu us: messages=1 decode=0 open=2500 authorize=0 validate=0 dedupe=0 persist=0 receipt=0 account=0 "
        "commit=0 route=0");
  const std::regex form(
      R"(stage cpu us: messages=\d+ decode=\d+ open=\d+ authorize=\d+ validate=\d+ dedupe=\d+ persist=\d+ )"
      R"(receipt=\d+ account=\d+ commit=\d+ route=\d+)");
  CHECK(std::regex_match(line, form));
}

TEST_CASE("A stage's time is estimated from one timed pass in kStageSampleEvery, per thread") {
  // Each thread times its first pass through a stage (standing for itself),
  // then about one in kStageSampleEvery at random, each standing for
  // kStageSampleEvery passes: the weights add up to about the passes made,
  // and of two passes a message, both halves are timed.
  constexpr std::uint32_t kPasses = 1600 * kStageSampleEvery;
  std::vector<std::uint32_t> weights;
  std::thread([&] {
    for (std::uint32_t i = 0; i < kPasses; ++i) weights.push_back(stage_pass_weight(StageTimer::route));
  }).join();
  REQUIRE(weights.size() == kPasses);
  CHECK(weights[0] == 1);
  std::uint64_t even = 0;
  std::uint64_t odd = 0;
  std::size_t other_weights = 0;
  for (std::size_t i = 1; i < weights.size(); ++i) {
    if (weights[i] != 0 && weights[i] != kStageSampleEvery) ++other_weights;
    (i % 2 == 0 ? even : odd) += weights[i];
  }
  CHECK(other_weights == 0);
  CHECK(even + odd > kPasses * 9 / 10);
  CHECK(even + odd < kPasses * 11 / 10);
  CHECK(even > kPasses * 4 / 10);
  CHECK(odd > kPasses * 4 / 10);
  // Another thread starts over: its first pass is timed too.
  std::uint32_t first_elsewhere = 0;
  std::thread([&] { first_elsewhere = stage_pass_weight(StageTimer::route); }).join();
  CHECK(first_elsewhere == 1);
}

TEST_CASE("Timers are all due at the first tick and again one period after they ran") {
  BrokerConfig config;
  config.clocks.scan_every_ms = 60'000;
  Timers timers(config);
  CHECK(timers.due(TimerJob::clock_scan, 1'000));
  CHECK(timers.due(TimerJob::dead_letter_scan, 1'000));
  timers.ran(TimerJob::clock_scan, 1'000);
  CHECK_FALSE(timers.due(TimerJob::clock_scan, 60'999));
  CHECK(timers.due(TimerJob::clock_scan, 61'000));
  CHECK(timers.due(TimerJob::dead_letter_scan, 1'000));  // each job keeps its own time
}

TEST_CASE("Rows given back after a rollback lead the next transaction in their order") {
  PendingWrites pending;
  pending.delivered(1);
  pending.audit(audit_entry(10, "sn.police", std::nullopt, "zap", ErrorCode::unauthorized, "first"));
  auto taken = pending.take();
  CHECK(pending.empty());
  pending.delivered(2);  // written while the failed transaction ran
  pending.give_back(std::move(taken));
  auto again = pending.take();
  REQUIRE(again.delivered.size() == 2);
  CHECK(again.delivered[0] == 1);
  CHECK(again.delivered[1] == 2);
  REQUIRE(again.audit.size() == 1);
  CHECK(again.audit[0].detail == "first");
}
