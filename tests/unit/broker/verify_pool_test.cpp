// The verify pool (broker/verify_pool.hpp) in the test process: real
// worker threads over inproc sockets, real keys, certificates, CRLs and
// signatures, no broker loop and no store.
#include <algorithm>
#include <filesystem>
#include <set>

#include <catch2/catch.hpp>

#include "support/sample_messages.hpp"
#include "support/test_pki.hpp"
#include "verify_pool.hpp"

using namespace fpx;
using namespace fpx::broker;
using wire::MessageType;

namespace {

template <typename T>
T must(Result<T> result) {
  if (!result) FAIL(result.error().describe());
  return std::move(result).value();
}

// Two SN senders (an agency and the focal point), NE and BF to send to, an
// observer that may send nothing; the enrolment as the loop holds it.
class Exchange {
 public:
  Exchange() : pki_({"SN", "NE", "BF"}), now_(now_ms()) {
    pki_.issue("sn.police-judiciaire", "SN", Role::agency);
    pki_.issue("sn.focal-point", "SN", Role::focal_point);
    pki_.issue("ne.focal-point", "NE", Role::focal_point);
    pki_.issue("bf.focal-point", "BF", Role::focal_point);
    pki_.issue("cso.sahel-watch", "SN", Role::observer, {.via_intermediate = false});
    const auto enrolled = pki_.dir() / "enrolled";
    std::filesystem::create_directories(enrolled);
    for (const char* id :
         {"sn.police-judiciaire", "sn.focal-point", "ne.focal-point", "bf.focal-point", "cso.sahel-watch"}) {
      std::filesystem::copy_file(pki_.dir() / "participants" / id / kChainFile, enrolled / (std::string(id) + ".pem"));
    }
    config_.root_ca = pki_.root_pem();
    config_.crl_dir = pki_.crl_dir();
    config_.enrolled_dir = enrolled;
    TrustStore trust = pki_.trust_store();
    enrollment_.emplace(must(Enrollment::load(enrolled, trust, now_)));
  }

  test::TestPki& pki() { return pki_; }
  const BrokerConfig& config() const { return config_; }
  const Enrollment& enrollment() const { return *enrollment_; }
  std::int64_t now() const { return now_; }

  std::unique_ptr<VerifyJob> job(std::size_t index, const std::string& from, Bytes envelope) const {
    auto job = std::make_unique<VerifyJob>();
    job->index = index;
    job->now_ms = now_;
    const EnrolledParticipant* principal = enrollment_->by_id(ParticipantId(from));
    if (principal == nullptr) FAIL(from << " is not enrolled");
    job->submission.routing_id = "connection-" + from;
    job->submission.principal = *principal;
    job->submission.request_id = index + 1;
    job->submission.envelope = std::move(envelope);
    return job;
  }

 private:
  test::TestPki pki_;
  std::int64_t now_;
  BrokerConfig config_;
  std::optional<Enrollment> enrollment_;
};

Bytes tampered(Bytes envelope) {
  // The national case reference is inside the signed body: change one letter of it.
  const std::string reference = "SN-ZIG-2026-0142";
  auto at = std::search(envelope.begin(), envelope.end(), reference.begin(), reference.end());
  REQUIRE(at != envelope.end());
  *at = 'X';
  return envelope;
}

// What verify decided about a submission, comparable across threads.
std::string verdict(const Submission& submission) {
  if (submission.refused()) {
    return std::string(submission.refusal->stage) + ":" + std::string(error_code_name(submission.refusal->error.code));
  }
  if (!submission.validated) return "validate:" + std::string(error_code_name(submission.validated.error().code));
  return "verified " + submission.opened->message_id.hex();
}

}  // namespace

TEST_CASE("Pool workers reach the verdicts the loop thread reaches for the same submissions") {
  Exchange exchange;
  const Identity agency = exchange.pki().identity("sn.police-judiciaire");
  const Identity focal = exchange.pki().identity("sn.focal-point");
  std::vector<std::pair<std::string, Bytes>> inputs = {
      {"sn.police-judiciaire", test::seal_sample(agency, MessageType::TRACING_REQUEST)},
      {"sn.focal-point", test::seal_sample(focal, MessageType::TRACING_REQUEST)},
      {"sn.police-judiciaire", tampered(test::seal_sample(agency, MessageType::TRACING_REQUEST))},
      {"cso.sahel-watch", test::seal_sample(agency, MessageType::TRACING_REQUEST)},
      {"sn.focal-point", test::seal_sample(focal, MessageType::TRACING_REQUEST)},
  };

  std::vector<std::string> on_the_loop;
  TrustStore trust = exchange.pki().trust_store();
  EnvelopeOpener opener(trust);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    auto job = exchange.job(i, inputs[i].first, inputs[i].second);
    StageTimes times;
    verify_submission(VerifyContext{exchange.config(), opener, exchange.enrollment(), exchange.now()}, job->submission,
                      times);
    on_the_loop.push_back(verdict(job->submission));
  }
  CHECK(on_the_loop[0].rfind("verified", 0) == 0);
  CHECK(on_the_loop[2].rfind("open:", 0) == 0);
  CHECK(on_the_loop[3] == "authorize:unauthorized");

  zmq::context_t context(1);
  auto pool = must(VerifyPool::start(context, exchange.config(), exchange.enrollment(), 2));
  for (std::size_t i = 0; i < inputs.size(); ++i) pool->send(exchange.job(i, inputs[i].first, inputs[i].second));
  auto done = pool->collect();
  REQUIRE(done.size() == inputs.size());
  std::vector<std::string> in_the_pool(inputs.size());
  StageTimes summed;
  for (const auto& job : done) {
    CHECK(job->outcome == VerifyOutcome::verified);
    in_the_pool[job->index] = verdict(job->submission);
    summed.add(job->times);
  }
  CHECK(in_the_pool == on_the_loop);
  // The workers' signature checks are counted, to be added to the loop's timers.
  CHECK(summed.microseconds(StageTimer::open) > 0);
  // Nothing more to collect: exactly the jobs sent came back.
  CHECK(pool->collect().empty());
}

TEST_CASE("One sender's jobs are verified by one worker and come back in the order sent") {
  Exchange exchange;
  const Identity agency = exchange.pki().identity("sn.police-judiciaire");
  zmq::context_t context(1);
  auto pool = must(VerifyPool::start(context, exchange.config(), exchange.enrollment(), 2));
  const std::size_t worker = pool->worker_for(ParticipantId("sn.police-judiciaire"));
  constexpr std::size_t kJobs = 40;
  std::vector<MessageId> sent;
  for (std::size_t i = 0; i < kJobs; ++i) {
    Bytes envelope = test::seal_sample(agency, MessageType::TRACING_REQUEST);
    sent.push_back(test::message_id_of(envelope));
    auto job = exchange.job(i, "sn.police-judiciaire", std::move(envelope));
    REQUIRE(pool->worker_for(job->submission.principal.id) == worker);
    pool->send(std::move(job));
  }
  auto done = pool->collect();
  REQUIRE(done.size() == kJobs);
  for (std::size_t i = 0; i < kJobs; ++i) {
    CHECK(done[i]->index == i);
    REQUIRE(done[i]->submission.opened.has_value());
    CHECK(done[i]->submission.opened->message_id == sent[i]);
  }
}

TEST_CASE("A worker verifies against the CRLs of the last reload and not those it started with") {
  Exchange exchange;
  const Identity focal = exchange.pki().identity("sn.focal-point");
  zmq::context_t context(1);
  auto pool = must(VerifyPool::start(context, exchange.config(), exchange.enrollment(), 2));

  pool->send(exchange.job(0, "sn.focal-point", test::seal_sample(focal, MessageType::TRACING_REQUEST)));
  auto before = pool->collect();
  REQUIRE(before.size() == 1);
  CHECK_FALSE(before[0]->submission.refused());

  // Revoked an hour ago: the enrolment (the loop's) is left as it was, so
  // only the workers' own trust stores can refuse the next message.
  exchange.pki().revoke("sn.focal-point", exchange.now() - 3600'000);
  pool->replace_trust_stores(must(pool->load_trust_stores()));
  pool->send(exchange.job(1, "sn.focal-point", test::seal_sample(focal, MessageType::TRACING_REQUEST)));
  auto after = pool->collect();
  REQUIRE(after.size() == 1);
  REQUIRE(after[0]->submission.refused());
  CHECK(std::string(after[0]->submission.refusal->stage) == "open");
  CHECK(after[0]->submission.refusal->error.code == ErrorCode::revoked);
}

TEST_CASE("A pool of no workers or of more than the limit is refused") {
  Exchange exchange;
  zmq::context_t context(1);
  CHECK_FALSE(VerifyPool::start(context, exchange.config(), exchange.enrollment(), 0).ok());
  CHECK_FALSE(VerifyPool::start(context, exchange.config(), exchange.enrollment(), kMaxVerifyWorkers + 1).ok());
}
