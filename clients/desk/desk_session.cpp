#include "desk_session.hpp"

#include <iostream>

#include "fpx/envelope.hpp"
#include "local_store.hpp"
#include "outgoing.hpp"

namespace fpx::desk {

DeskSession::DeskSession(cli::Profile profile, ParticipantInfo participant, std::unique_ptr<client::Client> client)
    : profile_(std::move(profile)), participant_(std::move(participant)), client_(std::move(client)) {
  thread_ = std::thread([this] { run(); });
}

Result<std::unique_ptr<DeskSession>> DeskSession::start(cli::Profile profile) {
  auto identity = cli::load_identity(profile);
  if (!identity) return std::move(identity).take_error();
  const ParticipantInfo participant = identity->participant();
  auto client = cli::connect_profile(profile, std::move(identity).value());
  if (!client) return std::move(client).take_error();
  return std::unique_ptr<DeskSession>(new DeskSession(std::move(profile), participant, std::move(client).value()));
}

DeskSession::~DeskSession() {
  stop();
  if (thread_.joinable()) thread_.join();
}

void DeskSession::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
}

bool DeskSession::stopped() const {
  std::lock_guard lock(mutex_);
  return stopping_;
}

std::uint64_t DeskSession::version() const {
  std::lock_guard lock(mutex_);
  return version_;
}

bool DeskSession::connected() const {
  std::lock_guard lock(mutex_);
  return connected_;
}

std::uint64_t DeskSession::wait_for_change(std::uint64_t seen, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return version_ != seen || stopping_; });
  return version_;
}

void DeskSession::bump() {
  {
    std::lock_guard lock(mutex_);
    ++version_;
  }
  changed_.notify_all();
}

bool DeskSession::queue(Job job) {
  std::lock_guard lock(mutex_);
  if (stopping_ || jobs_.size() >= kMaxQueuedJobs) return false;
  jobs_.push_back(std::move(job));
  return true;
}

void DeskSession::receive(client::Client& client) {
  auto batch = client.poll(kPollSlice);
  if (!batch) {
    std::cerr << "fpx desk: " << batch.error().describe() << "\n";
    std::lock_guard lock(mutex_);
    connected_ = false;
    return;
  }
  std::vector<client::Delivery> saved;
  for (auto& delivery : *batch) {
    const auto id = delivery.opened.message_id.hex();
    const auto path = cli::envelope_path(profile_.inbox_dir(), delivery.opened.message_id);
    if (auto written = cli::write_file_atomically(path, delivery.envelope); !written) {
      // Not confirmed: the broker resends it and the library hands it over again.
      std::cerr << "fpx desk: message " << id << " could not be saved (" << written.error().describe()
                << "); it was not confirmed, so the broker sends it again: free space or fix the permissions of "
                << profile_.inbox_dir().string() << "\n";
      continue;
    }
    const auto json = cli::render_message_json(delivery.opened.message.header(), delivery.opened.message.body());
    (void)cli::write_file_atomically(profile_.inbox_dir() / (id + cli::kJsonExtension), as_bytes(json));
    saved.push_back(std::move(delivery));
  }
  if (saved.empty()) return;
  // Every file above is durable: only now may the broker stop resending.
  if (auto confirmed = client.confirm_all(saved); !confirmed) {
    std::cerr << "fpx desk: confirming " << saved.size() << " saved message(s) failed: " << confirmed.error().describe()
              << " (they are saved; the broker may send them again)\n";
  } else if (auto flushed = client.flush_confirms(); !flushed) {
    std::cerr << "fpx desk: " << flushed.error().describe() << "\n";
  }
  bump();
}

void DeskSession::run() {
  for (;;) {
    std::deque<Job> jobs;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) break;
      jobs.swap(jobs_);
    }
    if (!client_) {
      std::this_thread::sleep_for(kReconnectAfter);
      auto identity = cli::load_identity(profile_);
      if (identity) {
        auto client = cli::connect_profile(profile_, std::move(identity).value());
        if (client) {
          client_ = std::move(client).value();
          std::lock_guard lock(mutex_);
          connected_ = true;
        } else {
          std::cerr << "fpx desk: " << client.error().describe() << "\n";
        }
      }
      // Jobs queued while disconnected are told so (nullptr) or run if the reconnect worked.
      for (auto& job : jobs) job(client_.get());
      continue;
    }
    for (auto& job : jobs) job(client_.get());
    receive(*client_);
    for (const auto& error : client_->take_rejected_deliveries()) {
      std::cerr << "fpx desk: not handed over: " << error.describe() << "\n";
    }
    if (!connected()) client_.reset();
  }
  // Work queued just before the stop is answered (not sent), so no caller waits for ever.
  std::deque<Job> left;
  {
    std::lock_guard lock(mutex_);
    left.swap(jobs_);
  }
  for (auto& job : left) job(nullptr);
  if (client_) (void)client_->flush_confirms();
}

namespace {

std::vector<std::pair<std::string, CompletenessReport>> completeness_of(wire::Body::Reader body) {
  std::vector<std::pair<std::string, CompletenessReport>> out;
  if (body.which() != wire::Body::TRACING_REQUEST) return out;
  const auto firearms = body.getTracingRequest().getFirearms();
  for (unsigned i = 0; i < firearms.size(); ++i) {
    out.emplace_back("firearms[" + std::to_string(i) + "]", firearm_completeness(firearms[i]));
  }
  return out;
}

}  // namespace

SendOutcome DeskSession::send(cli::Draft& draft, std::span<const AttachmentFile> attachments) {
  SendOutcome outcome;
  const auto type = message_type_of(draft.body.asReader());
  outcome.completeness = completeness_of(draft.body.asReader());
  if (!role_may_sign(participant_.role, type)) {
    outcome.error = make_error(ErrorCode::wrong_role, participant_.id.str() + " is of role " +
                                                          std::string(role_name(participant_.role)) +
                                                          " and may not send this message: ask your focal point to send it");
    return outcome;
  }
  auto promise = std::make_shared<std::promise<SendOutcome>>();
  auto future = promise->get_future();
  const bool queued = queue([&, promise](client::Client* connected) {
    SendOutcome result = outcome;
    if (connected == nullptr) {
      result.error = make_error(ErrorCode::unavailable,
                                "the desk is not connected to the broker (" + profile_.broker_endpoint +
                                    "); nothing was sent: check the network and send again in a moment");
      promise->set_value(std::move(result));
      return;
    }
    client::Client& client = *connected;
    auto sealed = seal_envelope(client.identity(), draft.header, draft.body.asReader(), attachments);
    if (!sealed) {
      result.error = sealed.error();
      promise->set_value(std::move(result));
      return;
    }
    result.message_id = MessageId::from_bytes(ByteView(draft.header.getMessageId().begin(), draft.header.getMessageId().size()));
    auto problems = validate_message(draft.header.asReader(), draft.body.asReader(), {now_ms()});
    if (!problems.empty()) {
      result.error = Error{ErrorCode::schema_violation,
                           "the message breaks " + std::to_string(problems.size()) +
                               " rule(s) of the exchange; nothing was sent: fix the fields listed and send again",
                           std::move(problems)};
      promise->set_value(std::move(result));
      return;
    }
    auto receipt = client.submit(*sealed);
    if (!receipt) {
      result.error = receipt.error();
      if (auto waiting = client.outbox(); waiting && result.message_id) {
        for (const auto& message : *waiting) {
          if (message.message_id == *result.message_id) result.kept_in_outbox = true;
        }
      }
      promise->set_value(std::move(result));
      return;
    }
    // Kept as fpx trace submit keeps it: the envelope, its JSON and the
    // broker's signed receipt, so `fpx verify` and `fpx trace status` find it.
    const auto folder = profile_.sent_dir();
    const auto id_hex = receipt->message_id.hex();
    if (auto saved = cli::write_file_atomically(cli::envelope_path(folder, receipt->message_id), *sealed); saved) {
      const auto json = cli::render_message_json(draft.header.asReader(), draft.body.asReader());
      (void)cli::write_file_atomically(folder / (id_hex + cli::kJsonExtension), as_bytes(json));
      (void)cli::write_file_atomically(folder / (id_hex + cli::kReceiptExtension), receipt->signed_receipt);
    } else {
      std::cerr << "fpx desk: sent, but not saved locally: " << saved.error().describe() << "\n";
    }
    result.accepted = true;
    promise->set_value(std::move(result));
    bump();
  });
  if (!queued) {
    outcome.error = make_error(ErrorCode::rate_limited,
                               "the desk is busy sending other messages; nothing was sent: wait a moment and send again");
    return outcome;
  }
  // The job holds references to `draft`: wait for it whatever happens (it
  // always answers: run() answers what is left when it stops).
  return future.get();
}

}  // namespace fpx::desk
