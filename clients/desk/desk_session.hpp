// The desk's one connection to the broker: a thread that owns the
// fpx_client Client (which is not thread-safe), keeps it connected, receives
// deliveries live and saves each one (exact envelope and its JSON rendering,
// fsynced, in the profile's inbox/) BEFORE confirming it, as fpx inbox does
// (clients/README.md, "Delivered means stored by the application"). HTTP
// handlers hand it work (sending a message) and wait for the answer.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "fpx/attachments.hpp"
#include "fpx/client.hpp"
#include "fpx/validate.hpp"
#include "json_messages.hpp"
#include "profile.hpp"

namespace fpx::desk {

// Work an HTTP handler may queue for the session thread, at most: a page
// clicked in a loop (or a local script) cannot grow the queue without end.
inline constexpr std::size_t kMaxQueuedJobs = 32;
// How long the session waits for deliveries before looking at its queue again.
inline constexpr std::chrono::milliseconds kPollSlice{200};
// Before trying again after the broker could not be reached.
inline constexpr std::chrono::milliseconds kReconnectAfter{3000};

// What became of a message the desk sent.
struct SendOutcome {
  bool accepted = false;
  std::optional<MessageId> message_id;
  Error error;  // when not accepted; field_errors name the fields to fix
  // Refused for now: the library keeps it in the outbox and resends it.
  bool kept_in_outbox = false;
  std::vector<std::pair<std::string, CompletenessReport>> completeness;  // per firearm
};

class DeskSession {
 public:
  // Connects as the profile's participant (the officer's own keys, which
  // never leave this machine). The error says what to check.
  static Result<std::unique_ptr<DeskSession>> start(cli::Profile profile);
  ~DeskSession();
  DeskSession(const DeskSession&) = delete;
  DeskSession& operator=(const DeskSession&) = delete;

  const ParticipantInfo& participant() const { return participant_; }
  const cli::Profile& profile() const { return profile_; }

  // Checks the role, seals, validates with the exchange's rules (the same
  // path and rules as `fpx trace submit`), submits and saves the envelope
  // and its receipt in sent/. Runs on the session thread; blocks the caller.
  // `attachments` (issue 17) are sealed by hash into the signed header.
  SendOutcome send(cli::Draft& draft, std::span<const AttachmentFile> attachments = {});

  // Incremented after every delivery saved and every message sent: the
  // server-sent events stream wakes on it.
  std::uint64_t version() const;
  // Waits until version() differs from `seen` or `timeout` passes, or stop().
  std::uint64_t wait_for_change(std::uint64_t seen, std::chrono::milliseconds timeout) const;
  bool connected() const;
  void stop();
  bool stopped() const;

 private:
  // nullptr: not connected to the broker now.
  using Job = std::function<void(client::Client*)>;
  DeskSession(cli::Profile profile, ParticipantInfo participant, std::unique_ptr<client::Client> client);
  void run();
  void receive(client::Client& client);
  void bump();
  bool queue(Job job);

  cli::Profile profile_;
  ParticipantInfo participant_;
  std::unique_ptr<client::Client> client_;  // used on the session thread only

  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::deque<Job> jobs_;
  std::uint64_t version_ = 0;
  bool stopping_ = false;
  bool connected_ = true;
  std::thread thread_;
};

}  // namespace fpx::desk
