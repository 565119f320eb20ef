// The loop: poll, take a batch of messages, run them through the stages in
// one transaction, commit (durable), then reply and deliver.
#include "fpx/broker/broker.hpp"

#include <sys/signalfd.h>
#include <unistd.h>

#include <csignal>
#include <limits>

#include <spdlog/spdlog.h>
#include <zmq_addon.hpp>

#include "broker_impl.hpp"

namespace fpx::broker {

namespace {
constexpr std::int64_t kTimerTickMs = 250;
constexpr std::int64_t kDeadLetterScanMs = 5'000;
// Periods end on the second at the finest ("10s"): checking once a second is enough.
constexpr std::int64_t kStatisticsCheckMs = 1'000;
constexpr std::int64_t kCrlWarningEveryMs = 3600'000;
constexpr std::int64_t kCountersLogEveryMs = 60'000;  // operators see the counters without a metrics stack
constexpr std::int64_t kDayMs = 24LL * 3600 * 1000;
}  // namespace

Broker::Impl::Impl(BrokerConfig config_in, Clock clock_in, Identity identity_in, TrustStore trust_in,
                   Enrollment enrollment_in, std::unique_ptr<Store> store_in)
    : config(std::move(config_in)),
      clock(std::move(clock_in)),
      identity(std::move(identity_in)),
      trust(std::move(trust_in)),
      opener(trust),
      enrollment(std::move(enrollment_in)),
      store(std::move(store_in)),
      rate_limiter(config.limits.rate_per_second, config.limits.burst),
      rate_limit_audit(kRateLimitAuditWindowMs),
      observer_reply_budget(kObserverReplyBytesPerSecond, kObserverReplyBurstBytes),
      inbound_bytes(config.limits.bytes_per_second, config.limits.burst_bytes,
                    "sent more bytes than this broker takes per second; send less, and"),
      daily_quota(config.limits.quota_bytes_per_day, config.limits.stored_bytes_per_minute,
                  config.limits.stored_burst_bytes),
      context(1) {}

Broker::Broker(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Broker::~Broker() = default;

Result<std::unique_ptr<Broker>> Broker::create(const BrokerConfig& config, Clock clock) {
  if (!clock) clock = [] { return fpx::now_ms(); };
  const std::int64_t now = clock();

  PassphraseSource passphrase;
  if (!config.passphrase_file.empty()) passphrase = PassphraseSource::from_file(config.passphrase_file);
  if (!config.passphrase_env.empty()) passphrase = PassphraseSource::from_environment(config.passphrase_env);
  auto identity = Identity::load(config.identity_dir, passphrase);
  if (!identity) return std::move(identity).take_error();
  if (identity->participant().role != Role::broker) {
    return make_error(ErrorCode::wrong_role, config.identity_dir.string() +
                                                 " is not a broker identity: issue one with fpx-ca issue --role broker");
  }
  auto trust = TrustStore::load(config.root_ca, config.crl_dir);
  if (!trust) return std::move(trust).take_error();
  auto enrollment = Enrollment::load(config.enrolled_dir, *trust, now);
  if (!enrollment) return std::move(enrollment).take_error();
  for (const auto& warning : enrollment->warnings()) spdlog::warn("enrolment: {}", warning);
  auto store = open_sqlite_store(config.database, config.database_vfs);
  if (!store) return std::move(store).take_error();

  auto impl = std::make_unique<Impl>(config, clock, std::move(identity).value(), std::move(trust).value(),
                                     std::move(enrollment).value(), std::move(store).value());
  impl->audit_enrollment_refusals();
  if (auto bound = impl->bind_sockets(); !bound) return std::move(bound).take_error();
  // Off the loop thread: a checkpoint there stalled every client for the copy.
  if (auto started = impl->store->start_background_checkpoints(
          std::chrono::milliseconds(impl->config.timing.checkpoint_every_ms));
      !started) {
    return std::move(started).take_error();
  }
  spdlog::info("broker {} ready: {} participants enrolled, store {}", impl->identity.participant().id.str(),
               impl->enrollment.size(), config.database.string());
  return std::unique_ptr<Broker>(new Broker(std::move(impl)));
}

std::string Broker::endpoint() const { return impl_->bound_endpoint; }
std::string Broker::observers_endpoint() const { return impl_->observers_bound_endpoint; }
Store& Broker::store() { return *impl_->store; }
const BrokerCounters& Broker::counters() const { return impl_->counters; }
Status Broker::poll_once(std::chrono::milliseconds timeout) { return impl_->poll_once(timeout, -1); }

Status Broker::reload() { return impl_->reload(); }

Status Broker::Impl::reload() {
  if (auto crls = trust.reload_crls(); !crls) {
    spdlog::error("reload: CRLs kept as they were: {}", crls.error().describe());
    return crls;
  }
  // What is enrolled now keeps its claims against newcomers (enrollment.hpp).
  auto reloaded = enrollment.reload(config.enrolled_dir, trust, clock());
  if (!reloaded) {
    spdlog::error("reload: enrolment kept as it was: {}", reloaded.error().describe());
    return std::move(reloaded).take_error();
  }
  for (const auto& warning : reloaded->warnings()) spdlog::warn("enrolment: {}", warning);
  enrollment = std::move(reloaded).value();
  close_sessions_no_longer_enrolled();
  audit_enrollment_refusals();
  spdlog::info("reloaded CRLs and enrolment: {} participants enrolled", enrollment.size());
  return {};
}

void Broker::Impl::close_sessions_no_longer_enrolled() {
  // A reload that revokes a certificate ends its live session at once: its
  // frames would be refused anyway, but a connection that only listens must
  // not go on receiving the participant's deliveries.
  std::vector<std::string> ended;
  for (const auto& [key, session] : sessions) {
    const EnrolledCertificate* certificate = enrollment.certificate_by_curve_key(key);
    if (certificate == nullptr || certificate->id != session.participant) ended.push_back(session.routing_id);
  }
  for (const auto& routing_id : ended) {
    // Its next frame is refused with `revoked` (dispatch.cpp), which tells
    // the holder why; until then it is sent nothing.
    spdlog::info("{}: its certificate is no longer enrolled; its session ends", session_label(routing_id));
    drop_session(routing_id);
  }
}

void Broker::Impl::audit_enrollment_refusals() {
  // Written with the next timer transaction, like the ZAP handler's rows:
  // the operator finds every refused certificate in the audit table.
  for (const auto& refusal : enrollment.refusals()) {
    deferred_audit.push_back(audit_entry(clock(), refusal.claimed_id, std::nullopt, "enrol", refusal.code,
                                         refusal.file.filename().string() + ": " + refusal.message));
  }
}

Status Broker::run(int signal_fd) {
  while (!impl_->stopping) {
    if (auto turned = impl_->poll_once(std::chrono::milliseconds(kTimerTickMs), signal_fd); !turned) return turned;
    if (impl_->stopping) break;
  }
  impl_->flush_audit_at_stop();
  impl_->log_counters(true);
  // Drained: everything accepted is committed; checkpoint so the next start is quick.
  (void)impl_->store->checkpoint();
  spdlog::info("broker stopped cleanly");
  return {};
}

void Broker::Impl::flush_audit_at_stop() {
  // What the timers would have written next: summaries of windows still
  // open, audit rows and delivery marks waiting for a transaction.
  now_ms = clock();
  report_rate_limit_summaries(std::numeric_limits<std::int64_t>::max());
  if (deferred_audit.empty() && delivered_marks.empty()) return;
  if (auto begun = store->begin(Durability::required); !begun) {
    spdlog::error("at stop: {} audit row(s) not written: {}", deferred_audit.size(), begun.error().describe());
    return;
  }
  for (const auto& marked : delivered_marks) (void)store->mark_delivered(marked, now_ms);
  for (const auto& entry : deferred_audit) (void)store->append_audit(entry);
  if (auto committed = store->commit(); !committed) {
    store->rollback();
    spdlog::error("at stop: {} audit row(s) not written: {}", deferred_audit.size(), committed.error().describe());
    return;
  }
  deferred_audit.clear();
  delivered_marks.clear();
}

StageContext Broker::Impl::stage_context() {
  return StageContext{config, *store, opener, enrollment, identity, now_ms};
}

Status Broker::Impl::poll_once(std::chrono::milliseconds timeout, int signal_fd) {
  zmq_pollitem_t items[] = {
      {router.handle(), 0, ZMQ_POLLIN, 0},
      {zap.handle(), 0, ZMQ_POLLIN, 0},
      {monitor.handle(), 0, ZMQ_POLLIN, 0},
      {observers.handle(), 0, ZMQ_POLLIN, 0},
      {observers_monitor.handle(), 0, ZMQ_POLLIN, 0},
      {nullptr, signal_fd, ZMQ_POLLIN, 0},
  };
  const int item_count = signal_fd >= 0 ? 6 : 5;
  // Messages held back from the last batch are ready now: do not sleep.
  if (!backlog.empty()) timeout = std::chrono::milliseconds(0);
  try {
    zmq::poll(items, static_cast<std::size_t>(item_count), timeout);
  } catch (const zmq::error_t& error) {
    if (error.num() == EINTR) return {};
    return make_error(ErrorCode::internal, std::string("poll failed: ") + error.what());
  }
  // ZAP first: clients waiting for their handshake are not made to wait for a batch.
  if (items[1].revents & ZMQ_POLLIN) handle_zap_requests();
  if (items[2].revents & ZMQ_POLLIN) handle_monitor_events(monitor);
  if (items[4].revents & ZMQ_POLLIN) handle_monitor_events(observers_monitor);
  if ((items[0].revents & ZMQ_POLLIN) || !backlog.empty()) process_batch();
  if (items[3].revents & ZMQ_POLLIN) process_observer_requests();
  if (item_count == 6 && (items[5].revents & ZMQ_POLLIN)) {
    signalfd_siginfo info{};
    if (::read(signal_fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
      if (info.ssi_signo == SIGHUP) {
        spdlog::info("SIGHUP: reloading CRLs and enrolment");
        (void)reload();  // on failure the previous state stays, and the error is logged
      } else {
        spdlog::info("signal {}: draining and stopping", info.ssi_signo);
        stopping = true;
      }
    }
  }
  run_timers();
  return {};
}

void Broker::Impl::send(const std::string& routing_id, const Bytes& frame) {
  try {
    zmq::message_t id(routing_id.data(), routing_id.size());
    zmq::message_t payload(frame.data(), frame.size());
    // dontwait: a peer over its high-water mark must not stall everyone.
    if (!router.send(id, zmq::send_flags::sndmore | zmq::send_flags::dontwait) ||
        !router.send(payload, zmq::send_flags::dontwait)) {
      spdlog::warn("peer queue full; frame for {} not sent now (deliveries are resent)", session_label(routing_id));
    }
  } catch (const zmq::error_t& error) {
    // EHOSTUNREACH (router_mandatory): the peer is gone; its deliveries
    // stay pending in the store for its next session.
    spdlog::debug("send to {}: {}", session_label(routing_id), error.what());
    drop_session(routing_id);
  }
}

void Broker::Impl::process_batch() {
  now_ms = clock();
  std::vector<std::vector<zmq::message_t>> batch;
  std::deque<std::vector<zmq::message_t>> held_back;
  std::map<std::string, std::size_t> share;  // routing id -> messages in this batch
  // Fair draining (limits.batch_share): ZeroMQ's router takes connections in
  // turn; this bounds what one connection may cost everyone else per batch.
  // A connection over its share waits for the next batch, behind its own
  // earlier messages, so each connection's order is kept.
  auto take = [&](std::vector<zmq::message_t> frames) {
    const std::string routing_id = frames.empty() ? std::string() : frames.front().to_string();
    if (batch.size() < config.limits.batch_max && share[routing_id]++ < config.limits.batch_share) {
      batch.push_back(std::move(frames));
    } else {
      held_back.push_back(std::move(frames));
    }
  };
  for (auto& frames : backlog) take(std::move(frames));
  backlog.clear();
  try {
    // Read on only while little is held back: a flooder then meets ZeroMQ's
    // high-water mark and TCP back-pressure, not this broker's memory.
    while (batch.size() < config.limits.batch_max && held_back.size() < config.limits.batch_max) {
      std::vector<zmq::message_t> frames;
      if (!zmq::recv_multipart(router, std::back_inserter(frames), zmq::recv_flags::dontwait)) break;
      take(std::move(frames));
    }
  } catch (const zmq::error_t& error) {
    spdlog::error("receive failed: {}", error.what());
    ++counters.internal_errors;
  }
  backlog = std::move(held_back);
  if (batch.empty()) return;

  // Receipts wait on this commit only if the batch may store a submit: one
  // from a participant the rate limiter would still admit. A batch of
  // refused flood messages then costs no fsync (their audit rows are
  // written, and reach the disk with the next durable commit).
  auto may_store = [&](const Inbound& message) {
    const auto& request = message.request;
    if (!request || !request->ok() || (*request)->kind != ClientRequest::Kind::submit) return false;
    auto principal = identify(message.user_id, enrollment);
    return principal.ok() && rate_limiter.would_admit((*principal)->id, now_ms);
  };
  std::vector<Inbound> inbound;
  inbound.reserve(batch.size());
  bool holds_submit = false;
  for (auto& frames : batch) {
    inbound.push_back(take_inbound(frames));
    holds_submit |= may_store(inbound.back());
  }
  const Durability durability = holds_submit ? Durability::required : Durability::deferred;

  if (auto begun = store->begin(durability); !begun) {
    spdlog::error("store: cannot begin a transaction: {}", begun.error().describe());
    for (auto& frames : batch) {
      if (frames.size() >= 1) {
        // Not decoded yet, so no request id: the client sees a transport-level refusal.
        send(frames[0].to_string(),
             encode_error(0, make_error(ErrorCode::unavailable, "the broker cannot store messages right now; "
                                                                "nothing was stored: resend later"),
                          std::nullopt));
      }
    }
    return;
  }
  // Kept until the commit succeeds: a rolled-back batch must not lose them.
  std::vector<std::uint64_t> marks = std::move(delivered_marks);
  std::vector<AuditEntry> audits = std::move(deferred_audit);
  delivered_marks.clear();
  deferred_audit.clear();
  for (const auto& marked : marks) (void)store->mark_delivered(marked, now_ms);
  for (const auto& entry : audits) (void)store->append_audit(entry);

  for (auto& message : inbound) handle_inbound(message);

  if (auto committed = store->commit(); !committed) {
    // Nothing of this batch is durable: no receipt may go out. Every sender
    // hears "unavailable" and resends; their client outboxes still hold them.
    store->rollback();
    spdlog::error("store: commit failed, batch of {} refused: {}", batch.size(), committed.error().describe());
    ++counters.internal_errors;
    for (auto& out : outgoing) {
      out.frame = encode_error(out.request_id,
                               make_error(ErrorCode::unavailable,
                                          "the broker could not store this durably; nothing was stored: resend"),
                               std::nullopt);
    }
    push_after_commit.clear();
    daily_quota.forget();  // it counted messages this rollback undid
    delivered_marks.insert(delivered_marks.begin(), marks.begin(), marks.end());
    deferred_audit.insert(deferred_audit.begin(), audits.begin(), audits.end());
  } else {
    ++counters.commits;
    for (const auto& [participant, ids] : confirmed_after_commit) leave_in_flight(participant, ids);
  }
  confirmed_after_commit.clear();
  for (const auto& out : outgoing) send(out.routing_id, out.frame);
  outgoing.clear();
  auto to_push = std::move(push_after_commit);
  push_after_commit.clear();
  for (const auto& participant : to_push) push_deliveries(participant);
}

void Broker::Impl::run_timers() {
  now_ms = clock();
  if (now_ms < next_timer_ms) return;
  next_timer_ms = now_ms + kTimerTickMs;
  resend_overdue();
  report_handshake_failures();
  report_rate_limit_summaries(now_ms);

  const bool scan_dead_letters = now_ms >= next_dead_letter_scan_ms;
  const bool scan_clocks = now_ms >= next_clock_scan_ms;
  const bool checkpoint_log = now_ms >= next_log_checkpoint_ms;
  bool statistics = false;
  if (now_ms >= next_statistics_ms) {
    next_statistics_ms = now_ms + kStatisticsCheckMs;
    auto due = statistics_due();
    if (!due) spdlog::error("statistics: {}", due.error().describe());
    statistics = !due || *due;  // on a read failure, try the publication itself: it reports why
  }
  const bool flush = !deferred_audit.empty() || !delivered_marks.empty();
  if (scan_dead_letters || scan_clocks || checkpoint_log || statistics || flush) {
    // Marks and audit of refused handshakes wait on no fsync. Notices and
    // checkpoints append to the log, which observers may see at once: those
    // transactions are durable, or a power cut could make the broker sign
    // a different root for a size it already published.
    const Durability durability = (scan_dead_letters || scan_clocks || checkpoint_log || statistics)
                                      ? Durability::required
                                      : Durability::deferred;
    if (store->begin(durability).ok()) {
      for (const auto& marked : delivered_marks) (void)store->mark_delivered(marked, now_ms);
      for (const auto& entry : deferred_audit) (void)store->append_audit(entry);
      std::vector<DeadLetter> dead;
      if (scan_dead_letters) {
        next_dead_letter_scan_ms = now_ms + kDeadLetterScanMs;
        auto expired = store->expire_deliveries(now_ms, "not delivered before its hold time ended");
        if (expired) dead = std::move(expired).value();
        for (const auto& letter : dead) {
          (void)store->append_audit(audit_entry(now_ms, letter.sender.str(), letter.message_id, "route",
                                                ErrorCode::not_found,
                                                "dead letter: never confirmed by " + letter.recipient.str()));
          // The sender hears of it, in a notice signed by the exchange.
          if (letter.sender == identity.participant().id || enrollment.by_id(letter.sender) == nullptr) continue;
          auto noticed = issue_notice(wire::MessageType::DEAD_LETTER_NOTICE, {letter.sender}, letter.message_id,
                                      [&](auto body) {
                                        auto notice = body.initDeadLetterNotice();
                                        notice.setMessageId(kj::arrayPtr(letter.message_id.bytes.data(),
                                                                         letter.message_id.bytes.size()));
                                        notice.setRecipient(letter.recipient.str());
                                        notice.setReason("not delivered before its hold time ended");
                                        notice.setHeldUntilMs(now_ms);
                                      });
          if (!noticed) spdlog::error("dead-letter notice not issued: {}", noticed.error().describe());
        }
      }
      if (scan_clocks) {
        next_clock_scan_ms = now_ms + config.clocks.scan_every_ms;
        run_clock_scan();
      }
      if (statistics) {
        // All or nothing, in a savepoint: half a period's records must never
        // reach the feed, and a failure here must not undo the other timers' work.
        if (auto opened = store->open_savepoint(); !opened) {
          spdlog::error("statistics: {}", opened.error().describe());
        } else if (auto published = publish_due_statistics(); !published) {
          store->rollback_savepoint();
          spdlog::error("statistics: {}; tried again at the next check", published.error().describe());
        } else if (auto released = store->release_savepoint(); !released) {
          store->rollback_savepoint();
          spdlog::error("statistics: {}", released.error().describe());
        }
      }
      if (checkpoint_log) {
        // After the clock scan: the notices it issued are in this checkpoint.
        next_log_checkpoint_ms = now_ms + config.oversight.checkpoint_every_ms;
        publish_checkpoint_if_grown();
      }
      if (store->commit().ok()) {
        delivered_marks.clear();
        deferred_audit.clear();
        counters.dead_letters += dead.size();
        for (const auto& letter : dead) {
          spdlog::info("dead letter: message {} to {} was not delivered in time", letter.message_id.hex(),
                       letter.recipient.str());
        }
        auto to_push = std::move(push_after_commit);
        push_after_commit.clear();
        for (const auto& participant : to_push) push_deliveries(participant);
      } else {
        store->rollback();
        push_after_commit.clear();
      }
    }
  }
  if (auto failed = store->take_background_checkpoint_error()) spdlog::warn("{}; retried", *failed);
  if (now_ms >= next_crl_warning_ms) {
    next_crl_warning_ms = now_ms + kCrlWarningEveryMs;
    for (const auto& warning : trust.crls_expiring_before(now_ms + kDayMs)) spdlog::warn("{}", warning);
  }
  if (now_ms >= next_counters_log_ms) {
    next_counters_log_ms = now_ms + kCountersLogEveryMs;
    log_counters(false);
  }
}

void Broker::Impl::log_counters(bool always) {
  const std::string line = describe_counters(counters);
  if (!always && line == last_counters_logged) return;  // an idle broker does not repeat itself
  spdlog::info("counters since start: {}", line);
  last_counters_logged = line;
}

std::string describe_counters(const BrokerCounters& c) {
  return fmt::format(
      "accepted {}, duplicates {}, refused {} (rate_limited {}), deliveries sent {}, confirmed {}, dead letters {}, "
      "ZAP refusals {}, failed handshakes {}, sessions taken over {}, internal errors {}, commits {}, "
      "observer replies dropped {}",
      c.accepted, c.duplicates, c.refused, c.rate_limited, c.deliveries_sent, c.deliveries_confirmed, c.dead_letters,
      c.zap_refused, c.handshake_failures, c.sessions_taken_over, c.internal_errors, c.commits,
      c.observer_replies_dropped);
}

}  // namespace fpx::broker
