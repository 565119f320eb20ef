// The loop: poll, take a batch of messages, run them through the stages in
// one transaction, commit (durable), then reply and deliver.
#include "fpx/broker/broker.hpp"

#include <sys/signalfd.h>
#include <unistd.h>

#include <csignal>
#include <limits>

#include <spdlog/spdlog.h>
#include <zmq_addon.hpp>

#include "fpx/broker/stage_duplicate.hpp"
#include "broker_impl.hpp"

namespace fpx::broker {

namespace {
constexpr std::int64_t kDayMs = 24LL * 3600 * 1000;
}  // namespace

Broker::Impl::Impl(BrokerConfig config_in, Clock clock_in, Identity identity_in, TrustStore trust_in,
                   Enrollment enrollment_in, std::unique_ptr<Store> store_in)
    : config(std::move(config_in)),
      loop_clock(std::move(clock_in)),
      identity(std::move(identity_in)),
      trust(std::move(trust_in)),
      opener(trust),
      enrollment(std::move(enrollment_in)),
      store(std::move(store_in)),
      context(1),
      zap_gate(enrollment, counters, pending, loop_clock),
      admission(config.limits, *store, counters, pending, after_commit, loop_clock),
      sessions(router, *store, config, counters, pending, after_commit, loop_clock),
      workflow(config, *store, identity, opener, enrollment, after_commit, loop_clock),
      publisher(config, *store, identity, enrollment, admission, counters, pending, loop_clock),
      receipts(identity),
      timers(config) {}

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
  // A standby waits here, its endpoints unbound, until it takes the lead.
  const PostgresStoreOptions leadership{StandbyWait::wait, config.store_lease_ms, config.store_holder,
                                        config.standby_stop_waiting, config.on_deposed};
  auto store = config.store_backend == StoreBackend::postgres ? open_postgres_store(config.store_dsn, leadership)
                                                              : open_sqlite_store(config.database, config.database_vfs);
  if (!store) return std::move(store).take_error();

  auto impl = std::make_unique<Impl>(config, clock, std::move(identity).value(), std::move(trust).value(),
                                     std::move(enrollment).value(), std::move(store).value());
  impl->audit_enrollment_refusals();
  // Before serving: a store migrated to the duplicate-request keys gets the
  // keys of its open requests, so none of them goes unnoticed.
  // The clock read again: a standby may have waited in open_*_store for hours.
  if (auto backfilled = backfill_request_keys(*impl->store, impl->loop_clock.read()); !backfilled) {
    return std::move(backfilled).take_error();
  }
  if (impl->config.limits.verify_workers > 0) {
    auto pool = VerifyPool::start(impl->context, impl->config, impl->enrollment, impl->config.limits.verify_workers);
    if (!pool) return std::move(pool).take_error();
    impl->verify_pool = std::move(pool).value();
  }
  {
    auto pipeline = CommitPipeline::start(impl->context, *impl->store);
    if (!pipeline) return std::move(pipeline).take_error();
    impl->commit_pipeline = std::move(pipeline).value();
  }
  if (auto bound = impl->bind_sockets(); !bound) return std::move(bound).take_error();
  // Off the loop thread: a checkpoint there stalled every client for the copy.
  if (auto started = impl->store->start_background_checkpoints(
          std::chrono::milliseconds(impl->config.timing.checkpoint_every_ms));
      !started) {
    return std::move(started).take_error();
  }
  spdlog::info("broker {} ready: {} participants enrolled, store {}", impl->identity.participant().id.str(),
               impl->enrollment.size(),
               config.store_backend == StoreBackend::postgres ? std::string("postgres") : config.database.string());
  return std::unique_ptr<Broker>(new Broker(std::move(impl)));
}

std::string Broker::endpoint() const { return impl_->bound_endpoint; }
std::string Broker::observers_endpoint() const { return impl_->observers_bound_endpoint; }
Store& Broker::store() { return *impl_->store; }
const BrokerCounters& Broker::counters() const { return impl_->counters; }
Status Broker::poll_once(std::chrono::milliseconds timeout) { return impl_->poll_once(timeout, -1); }

Status Broker::reload() { return impl_->reload(); }

Status Broker::Impl::reload() {
  // The workers' trust stores are loaded first and handed over only once
  // this thread's CRLs reloaded too: a failure leaves every thread as it was.
  std::vector<TrustStore> worker_trust;
  if (verify_pool) {
    auto loaded = verify_pool->load_trust_stores();
    if (!loaded) {
      spdlog::error("reload: CRLs kept as they were: {}", loaded.error().describe());
      return std::move(loaded).take_error();
    }
    worker_trust = std::move(loaded).value();
  }
  if (auto crls = trust.reload_crls(); !crls) {
    spdlog::error("reload: CRLs kept as they were: {}", crls.error().describe());
    return crls;
  }
  // Each worker takes its own before its next job: no job is out during a
  // reload (a batch collects all of its jobs before it ends).
  if (verify_pool) verify_pool->replace_trust_stores(std::move(worker_trust));
  // What is enrolled now keeps its claims against newcomers (enrollment.hpp).
  auto reloaded = enrollment.reload(config.enrolled_dir, trust, loop_clock.read());
  if (!reloaded) {
    spdlog::error("reload: enrolment kept as it was: {}", reloaded.error().describe());
    return std::move(reloaded).take_error();
  }
  for (const auto& warning : reloaded->warnings()) spdlog::warn("enrolment: {}", warning);
  enrollment = std::move(reloaded).value();
  sessions.close_not_enrolled(enrollment);
  audit_enrollment_refusals();
  spdlog::info("reloaded CRLs and enrolment: {} participants enrolled", enrollment.size());
  return {};
}

void Broker::Impl::audit_enrollment_refusals() {
  // Written with the next timer transaction, like the ZAP handler's rows:
  // the operator finds every refused certificate in the audit table.
  for (const auto& refusal : enrollment.refusals()) {
    pending.audit(audit_entry(loop_clock.read(), refusal.claimed_id, std::nullopt, "enrol", refusal.code,
                                         refusal.file.filename().string() + ": " + refusal.message));
  }
}

Status Broker::run(int signal_fd) {
  while (!impl_->stopping) {
    if (auto turned = impl_->poll_once(std::chrono::milliseconds(kTimerTickMs), signal_fd); !turned) return turned;
    if (impl_->stopping) break;
  }
  impl_->drain_pipeline();
  if (impl_->sync_failure) return *impl_->sync_failure;
  impl_->flush_audit_at_stop();
  impl_->log_counters(Impl::Repeat::always);
  // Every job a batch sent was collected before its transaction: stopping
  // the workers now loses none. Each is told to stop, then joined.
  impl_->verify_pool.reset();
  // Drained: everything accepted is committed; checkpoint so the next start is quick.
  (void)impl_->store->checkpoint();
  spdlog::info("broker stopped cleanly");
  return {};
}

void Broker::Impl::flush_audit_at_stop() {
  // What the timers would have written next: summaries of windows still
  // open, audit rows and delivery marks waiting for a transaction.
  loop_clock.tick();
  admission.report_summaries(std::numeric_limits<std::int64_t>::max());
  if (pending.empty()) return;
  const std::size_t rows = pending.audit_rows();
  if (auto begun = store->begin(Durability::required); !begun) {
    spdlog::error("at stop: {} audit row(s) not written: {}", rows, begun.error().describe());
    return;
  }
  auto taken = pending.take();
  PendingWrites::write(*store, taken, loop_clock.now_ms());
  if (auto committed = store->commit(); !committed) {
    store->rollback();
    pending.give_back(std::move(taken));
    spdlog::error("at stop: {} audit row(s) not written: {}", rows, committed.error().describe());
  }
}

StageContext Broker::Impl::stage_context() {
  return StageContext{config, *store, opener, enrollment, identity, loop_clock.now_ms()};
}

Status Broker::Impl::poll_once(std::chrono::milliseconds timeout, int signal_fd) {
  if (sync_failure) return *sync_failure;
  const bool pipelined = commit_pipeline != nullptr;
  auto in_flight = [&] { return pipelined && commit_pipeline->sync_in_flight(); };
  // While a sync runs, the router is read into the next batch until it is
  // full, and observers wait: what they read must be durable
  // (commit_pipeline.hpp).
  // A socket left out of the poll cannot wake the loop over and over.
  std::vector<zmq_pollitem_t> items;
  auto add = [&](void* socket, int fd, bool wanted) -> std::optional<std::size_t> {
    if (!wanted) return std::nullopt;
    items.push_back({socket, fd, ZMQ_POLLIN, 0});
    return items.size() - 1;
  };
  const auto router_item = add(router.handle(), 0, may_gather());
  const auto zap_item = add(zap.handle(), 0, true);
  const auto monitor_item = add(monitor.handle(), 0, true);
  // Observers also wait while their frame budget is spent (issue 14,
  // kObserverFramesPerSecond): their flood is then held back by TCP.
  const auto observers_item = add(observers.handle(), 0, !in_flight() && publisher.may_read_observers());
  const auto observers_monitor_item = add(observers_monitor.handle(), 0, true);
  const auto sync_item = add(pipelined ? commit_pipeline->socket_handle() : nullptr, 0, in_flight());
  const auto signal_item = add(nullptr, signal_fd, signal_fd >= 0);
  auto ready = [&](const std::optional<std::size_t>& item) {
    return item && (items[*item].revents & ZMQ_POLLIN) != 0;
  };
  // Messages held back from the last batch are ready now: do not sleep.
  if (!backlog.empty() && !gathered) timeout = std::chrono::milliseconds(0);
  // A batch waiting for company (commit_waits) is committed when its wait ends.
  if (gathered && !in_flight() && config.timing.group_commit_wait_ms > 0) {
    const auto due = last_durable_commit + std::chrono::milliseconds(config.timing.group_commit_wait_ms);
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(due - std::chrono::steady_clock::now());
    timeout = std::min(timeout, std::max(left, std::chrono::milliseconds(0)));
  }
  try {
    zmq::poll(items.data(), items.size(), timeout);
  } catch (const zmq::error_t& error) {
    if (error.num() == EINTR) return {};
    return make_error(ErrorCode::internal, std::string("poll failed: ") + error.what());
  }
  // ZAP first: clients waiting for their handshake are not made to wait for a batch.
  if (ready(zap_item)) zap_gate.answer_requests(zap);
  if (ready(monitor_item)) zap_gate.count_handshake_failures(monitor);
  if (ready(observers_monitor_item)) zap_gate.count_handshake_failures(observers_monitor);
  if (ready(sync_item)) finish_sync();
  if (sync_failure) return *sync_failure;
  // The next batch is taken and verified while the last one's sync runs,
  // and grows until that sync returns: one fsync for all that came meanwhile.
  if (may_gather() && (ready(router_item) || (!gathered && !backlog.empty()))) gather_batch();
  if (!in_flight()) {
    // Nothing committed is waiting for the disk here: observers and the
    // timers' transactions see only what is durable. Observers polled
    // while a sync ran are looked at again now.
    const bool observers_waiting =
        ready(observers_item) || (!observers_item && (observers.get(zmq::sockopt::events) & ZMQ_POLLIN) != 0);
    if (observers_waiting) publisher.answer_observers(observers);
    run_timers();
    if (gathered && !commit_waits()) commit_batch();
  }
  if (ready(signal_item)) {
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
  return {};
}

bool Broker::Impl::may_gather() const {
  if (!gathered) return true;
  // A gathered batch waits only for a running sync, and grows meanwhile
  // (when that sync returns, what arrived since the last read joins it too).
  // A full batch or a long backlog stops the reading, so that a flooder
  // meets ZeroMQ's high-water mark, not this broker's memory.
  return gathered->frames.size() < config.limits.batch_max && backlog.size() < config.limits.batch_max;
}

bool Broker::Impl::commit_waits() {
  const auto wait = std::chrono::milliseconds(config.timing.group_commit_wait_ms);
  // A batch that cannot grow (full, or the backlog at its bound) has no company to wait for.
  if (wait.count() <= 0 || stopping || !may_gather()) return false;
  if (std::chrono::steady_clock::now() - last_durable_commit >= wait) return false;
  // Only a batch that will wait for the disk anyway: pings, confirms and
  // refusals are answered at once.
  loop_clock.tick();
  return batch_durability(gathered->inbound) == Durability::required;
}

void Broker::Impl::gather_batch() {
  loop_clock.tick();
  const bool starting = !gathered;
  if (starting) {
    metrics.batch_received();
    gathered.emplace();
  }
  auto& batch = gathered->frames;
  auto& share = gathered->share;
  const std::size_t first_new = batch.size();
  std::deque<std::vector<zmq::message_t>> held_back;
  // Fair draining (limits.batch_share): ZeroMQ's router takes connections in
  // turn; this bounds what one connection may cost everyone else per batch.
  // A connection over its share waits for the next batch, behind its own
  // earlier messages, so each connection's order is kept.
  std::size_t dropped = 0;  // frames of muted connections, dropped unread (issue 14, ConnectionGuard)
  auto take = [&](std::vector<zmq::message_t> frames) {
    const std::string routing_id = frames.empty() ? std::string() : frames.front().to_string();
    if (admission.drop_if_muted(GuardedEndpoint::participants, routing_id, "accept")) {
      ++dropped;
      return;
    }
    if (batch.size() < config.limits.batch_max && share[routing_id]++ < config.limits.batch_share) {
      batch.push_back(std::move(frames));
    } else {
      held_back.push_back(std::move(frames));
    }
  };
  // The backlog leads a new batch. A batch that grows leaves it alone: a
  // connection has messages there only while it is over its share (or the
  // batch was full), so its new ones queue behind them.
  if (starting) {
    for (auto& frames : backlog) take(std::move(frames));
    backlog.clear();
  }
  try {
    // Read on only while little is held back: a flooder then meets ZeroMQ's
    // high-water mark and TCP back-pressure, not this broker's memory.
    while (batch.size() < config.limits.batch_max && backlog.size() + held_back.size() < config.limits.batch_max &&
           dropped < config.limits.batch_max) {
      std::vector<zmq::message_t> frames;
      if (!zmq::recv_multipart(router, std::back_inserter(frames), zmq::recv_flags::dontwait)) break;
      take(std::move(frames));
    }
  } catch (const zmq::error_t& error) {
    spdlog::error("receive failed: {}", error.what());
    ++counters.internal_errors;
  }
  for (auto& frames : held_back) backlog.push_back(std::move(frames));
  if (batch.empty()) {
    gathered.reset();
    return;
  }

  auto& inbound = gathered->inbound;
  for (std::size_t index = first_new; index < batch.size(); ++index) inbound.push_back(take_inbound(batch[index]));

  // verify: the pure stages, before the transaction begins (and, with the
  // pipelined commit, while the previous batch's sync runs).
  verify_ahead(inbound, first_new, gathered->budgets);
}

// Receipts wait on this commit only if the batch may store a submit: one
// from a participant the byte budget, the rate limiter and the stored-bytes
// limit would still admit (a resend of a stored message stores nothing: its
// receipt is already durable). A batch of refused flood messages then costs
// no fsync (their audit rows are written, and reach the disk with the next
// durable commit). Judged at the clock reading the batch's stages use, after
// its tick: within the batch the budgets only shrink, so a submit judged
// here as refused is refused by its stage too, and a deferred batch never
// stores one. (Judged when the batch was taken, a budget refilled during the
// last sync could store a message whose receipt left before any fsync.)
Durability Broker::Impl::batch_durability(const std::vector<Inbound>& inbound) {
  for (const auto& message : inbound) {
    const auto& request = message.request;
    if (!request || !request->ok() || (*request)->kind != ClientRequest::Kind::submit) continue;
    auto principal = identify(message.user_id, enrollment);
    if (!principal.ok()) continue;
    const ParticipantId& sender = (*principal)->id;
    if (admission.inbound_bytes_available(sender) <= 0 || !admission.would_admit(sender)) continue;
    if (std::uint32_t wait = 0; !admission.precheck_stored_bytes(sender, (*request)->envelope.size(), wait)) {
      continue;
    }
    return Durability::required;
  }
  return Durability::deferred;
}

void Broker::Impl::commit_batch() {
  auto taken = std::move(*gathered);
  gathered.reset();
  auto& batch = taken.frames;
  auto& inbound = taken.inbound;
  // The commit stages judge the batch at the time its transaction begins,
  // as the timers' do; verify ahead judged it when it was taken, at most
  // one sync earlier.
  loop_clock.tick();
  const Durability durability = batch_durability(inbound);
  if (durability == Durability::required) last_durable_commit = std::chrono::steady_clock::now();
  // With the pipeline the commit writes the WAL without syncing it
  // (Durability::deferred: SQLite's synchronous=NORMAL) and the sync
  // thread makes it durable; receipts wait for that sync (finish_sync).
  const bool pipelined = durability == Durability::required && commit_pipeline != nullptr;
  const Durability commit_durability = pipelined ? Durability::deferred : durability;

  if (auto begun = store->begin(commit_durability); !begun) {
    spdlog::error("store: cannot begin a transaction: {}", begun.error().describe());
    for (auto& frames : batch) {
      if (frames.size() >= 1) {
        // Not decoded yet, so no request id: the client sees a transport-level refusal.
        sessions.send(frames[0].to_string(),
                      encode_error(0, make_error(ErrorCode::unavailable, "the broker cannot store messages right now; "
                                                                         "nothing was stored: resend later"),
                                   std::nullopt));
      }
    }
    return;
  }
  // Kept until the commit succeeds: a rolled-back batch must not lose them.
  auto rows = pending.take();
  PendingWrites::write(*store, rows, loop_clock.now_ms());

  // commit: the store stages, in arrival order, in the batch's transaction.
  for (auto& message : inbound) handle_inbound(message);

  Status committed;
  {
    // One signature for the batch's receipts, written in its transaction.
    ScopedStageTimer timer(stage_times, StageTimer::receipt);
    committed = receipts.seal(*store, loop_clock.now_ms());
  }
  if (committed) {
    ScopedStageTimer timer(stage_times, StageTimer::commit);
    ScopedLatency commit_latency(metrics.commit_time);
    committed = store->commit();
  }
  if (!committed) {
    // Nothing of this batch is durable: no receipt may go out. Every sender
    // hears "unavailable" and resends; their client outboxes still hold them.
    store->rollback();
    spdlog::error("store: commit failed, batch of {} refused: {}", batch.size(), committed.error().describe());
    ++counters.internal_errors;
    admission.daily_quota().forget();  // it counted messages this rollback undid
    pending.give_back(std::move(rows));
  } else {
    ++counters.commits;
    if (durability == Durability::required) ++counters.durable_commits;
    if (pipelined) {
      // after_commit and the sealed receipt group stay as they are until
      // the sync returns: no other transaction begins meanwhile.
      commit_pipeline->request_sync();
      return;
    }
  }
  send_after_commit(committed);
}

void Broker::Impl::finish_sync() {
  Status synced = commit_pipeline->take_result();
  if (!synced) {
    // Final (commit_pipeline.hpp): the batch is refused, and the loop serves no one until a restart.
    spdlog::critical("store: {}; the broker stops serving: restart it", synced.error().describe());
    ++counters.internal_errors;
    sync_failure = synced.error();
  }
  send_after_commit(synced);
}

void Broker::Impl::drain_pipeline() {
  if (sync_failure) return;
  if (commit_pipeline && commit_pipeline->sync_in_flight()) finish_sync();
  if (gathered && !sync_failure) commit_batch();
  if (commit_pipeline && commit_pipeline->sync_in_flight()) finish_sync();
}


void Broker::Impl::send_after_commit(Status committed) {
  ScopedStageTimer timer(stage_times, StageTimer::route);
  if (!committed) {
    for (auto& out : after_commit.replies) {
      out.frame = encode_error(out.request_id,
                               make_error(ErrorCode::unavailable,
                                          "the broker could not store this durably; nothing was stored: resend"),
                               std::nullopt);
    }
    after_commit.push_to.clear();
  } else {
    observe_delivery_latency();
    for (const auto& [participant, ids] : after_commit.confirmed) sessions.leave_in_flight(participant, ids);
    for (auto& out : after_commit.replies) {
      if (!out.receipt) continue;
      auto receipt = receipts.receipt_for(*out.receipt);
      out.frame = receipt ? encode_receipt(out.request_id, *receipt)
                          : encode_error(out.request_id, receipt.error(), std::nullopt);
    }
  }
  receipts.clear();
  after_commit.confirmed.clear();
  auto replies = std::move(after_commit.replies);
  after_commit.replies.clear();
  for (const auto& out : replies) sessions.send(out.routing_id, out.frame);
  if (committed) metrics.receipts_sent(std::count_if(replies.begin(), replies.end(), [](const auto& out) { return out.receipt.has_value(); }));
  auto to_push = std::move(after_commit.push_to);
  after_commit.push_to.clear();
  for (const auto& participant : to_push) sessions.push_deliveries(participant);
}

void Broker::Impl::run_timers() {
  const std::int64_t now_ms = loop_clock.tick();
  if (!timers.due(TimerJob::resend_and_report, now_ms)) return;
  timers.ran(TimerJob::resend_and_report, now_ms);
  publish_metrics();
  sessions.resend_overdue();
  zap_gate.report_handshake_failures();
  admission.report_summaries(now_ms);
  admission.forget_gone_connections(
      now_ms, [this](const std::string& id) { return sessions.still_connected(id); },
      [this](const std::string& id) { return observer_still_there(observers, id); });

  const bool scan_dead_letters = timers.due(TimerJob::dead_letter_scan, now_ms);
  const bool scan_clocks = timers.due(TimerJob::clock_scan, now_ms);
  const bool checkpoint_log = timers.due(TimerJob::log_checkpoint, now_ms);
  bool statistics = false;
  if (timers.due(TimerJob::statistics_check, now_ms)) {
    timers.ran(TimerJob::statistics_check, now_ms);
    auto due = publisher.statistics_due();
    if (!due) spdlog::error("statistics: {}", due.error().describe());
    statistics = !due || *due;  // on a read failure, try the publication itself: it reports why
  }
  const bool flush = !pending.empty();
  // The witnesses' answers, taken without waiting (witness_requests.hpp).
  const bool cosignatures = publisher.collect_cosignatures();
  if (scan_dead_letters || scan_clocks || checkpoint_log || statistics || flush || cosignatures) {
    // Marks and audit of refused handshakes wait on no fsync. Notices and
    // checkpoints append to the log, which observers may see at once: those
    // transactions are durable, or a power cut could make the broker sign
    // a different root for a size it already published.
    const Durability durability = (scan_dead_letters || scan_clocks || checkpoint_log || statistics || cosignatures)
                                      ? Durability::required
                                      : Durability::deferred;
    if (store->begin(durability).ok()) {
      auto rows = pending.take();
      PendingWrites::write(*store, rows, now_ms);
      std::vector<DeadLetter> dead;
      if (scan_dead_letters) {
        timers.ran(TimerJob::dead_letter_scan, now_ms);
        auto expired = store->expire_deliveries(now_ms, "not delivered before its hold time ended");
        if (expired) dead = std::move(expired).value();
        for (const auto& letter : dead) {
          (void)store->append_audit(audit_entry(now_ms, letter.sender.str(), letter.message_id, "route",
                                                ErrorCode::not_found,
                                                "dead letter: never confirmed by " + letter.recipient.str()));
          // The sender hears of it, in a notice signed by the exchange.
          if (letter.sender == identity.participant().id || enrollment.by_id(letter.sender) == nullptr) continue;
          auto noticed = workflow.issue_notice(wire::MessageType::DEAD_LETTER_NOTICE, {letter.sender},
                                               letter.message_id, [&](auto body) {
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
        timers.ran(TimerJob::clock_scan, now_ms);
        workflow.run_clock_scan();
      }
      if (statistics) {
        // All or nothing, in a savepoint: half a period's records must never
        // reach the feed, and a failure here must not undo the other timers' work.
        if (auto opened = store->open_savepoint(); !opened) {
          spdlog::error("statistics: {}", opened.error().describe());
        } else if (auto published = publisher.publish_due_statistics(); !published) {
          store->rollback_savepoint();
          spdlog::error("statistics: {}; tried again at the next check", published.error().describe());
        } else if (auto released = store->release_savepoint(); !released) {
          store->rollback_savepoint();
          spdlog::error("statistics: {}", released.error().describe());
        }
      }
      if (checkpoint_log) {
        // After the clock scan: the notices it issued are in this checkpoint.
        timers.ran(TimerJob::log_checkpoint, now_ms);
        publisher.publish_checkpoint_if_grown();
      }
      if (cosignatures) {
        if (auto published = publisher.publish_cosignatures(); !published) {
          spdlog::error("cosigned checkpoint: {}", published.error().describe());
        }
      }
      if (store->commit().ok()) {
        publisher.checkpoint_committed(CommitOutcome::committed);
        counters.dead_letters += dead.size();
        for (const auto& letter : dead) {
          spdlog::info("dead letter: message {} to {} was not delivered in time", letter.message_id.hex(),
                       letter.recipient.str());
        }
        auto to_push = std::move(after_commit.push_to);
        after_commit.push_to.clear();
        for (const auto& participant : to_push) sessions.push_deliveries(participant);
      } else {
        store->rollback();
        publisher.checkpoint_committed(CommitOutcome::rolled_back);
        pending.give_back(std::move(rows));
        after_commit.push_to.clear();
      }
    }
  }
  if (auto failed = store->take_background_checkpoint_error()) spdlog::warn("{}; retried", *failed);
  if (timers.due(TimerJob::crl_warning, now_ms)) {
    timers.ran(TimerJob::crl_warning, now_ms);
    for (const auto& warning : trust.crls_expiring_before(now_ms + kDayMs)) spdlog::warn("{}", warning);
  }
  if (timers.due(TimerJob::counters_log, now_ms)) {
    timers.ran(TimerJob::counters_log, now_ms);
    log_counters(Repeat::when_changed);
  }
}

void Broker::Impl::log_counters(Repeat repeat) {
  const std::string line = describe_counters(counters);
  if (repeat == Repeat::when_changed && line == last_counters_logged) return;  // an idle broker does not repeat itself
  spdlog::info("counters since start: {}", line);
  // Beside the counters, in the form the benchmark parses.
  spdlog::info("{}", stage_times.describe());
  last_counters_logged = line;
}

std::string describe_counters(const BrokerCounters& c) {
  return fmt::format(
      "accepted {}, duplicates {}, refused {} (rate_limited {}), deliveries sent {}, confirmed {}, dead letters {}, "
      "ZAP refusals {}, failed handshakes {}, sessions taken over {}, internal errors {}, commits {}, "
      "durable commits {}, observer replies dropped {}, witness conflicts {}",
      c.accepted, c.duplicates, c.refused, c.rate_limited, c.deliveries_sent, c.deliveries_confirmed, c.dead_letters,
      c.zap_refused, c.handshake_failures, c.sessions_taken_over, c.internal_errors, c.commits,
      c.durable_commits, c.observer_replies_dropped, c.witness_conflicts);
}

}  // namespace fpx::broker
