// fpx_client: the C++ library agencies, focal points and tools use to talk
// to an FPX broker. One Client is one participant's session.
//
//   auto client = fpx::client::Client::connect(std::move(identity), options);
//   auto receipt = (*client)->submit(envelope_bytes);     // durable at the broker, or a typed refusal
//   auto deliveries = (*client)->poll(std::chrono::seconds(1));
//   for (auto& delivery : *deliveries) {
//     if (store_durably(delivery)) (*client)->confirm(delivery);   // only once it is stored
//   }
//
// Guarantees:
//  - submit() returns only when the broker has stored the message durably
//    (its signed receipt, verified here against the pinned broker keys) or
//    refused it (typed Error).
//  - Every delivery is verified end to end (signature, chain, revocation,
//    and for a broker-made one the pinned exchange key) before the
//    application sees it; one that fails is confirmed to the
//    broker (so it is not resent forever) and reported, never handed over.
//  - Deliveries reach the application at least once, and exactly once when
//    it confirms each only after storing it (clients/README.md, "Delivered
//    means stored"): a message is handed over until the application calls
//    confirm() for it. confirm() first records the message id durably in
//    the local state file and only then tells the broker, so a message the
//    application never confirmed (a failed write, a crash, a power cut) is
//    handed over again when the broker resends it, and a resend of one it
//    confirmed is confirmed to the broker without a second hand-over.
//  - A local SQLite file keeps outgoing messages until receipted: after a
//    crash, connect() resends what has no receipt.
//  - A message the broker refused for now (quota_exceeded or rate_limited
//    with a retry time, unavailable, ...) stays in the outbox and the
//    library resends it by itself once the broker's retryAfterMs has passed:
//    while the application calls into the Client (poll, submit, status,
//    flush_confirms), and at the next connect(). Never sooner than the broker
//    asked, never more than kMaxResendsInFlight at once. outbox() lists what
//    waits, with the reason and the time of the next try.
//  - A refused CURVE handshake (unknown key, wrong broker key) is an error
//    (ErrorCode::unauthorized, "handshake refused"), never a hang.
//  - Not thread-safe: use a Client from one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "fpx/envelope.hpp"
#include "fpx/identity.hpp"
#include "fpx/message_log_proof.hpp"
#include "fpx/statistics_facts.hpp"
#include "fpx/trust_store.hpp"
#include "fpx/verify_receipt.hpp"

namespace fpx::client {

struct ClientOptions {
  std::string endpoint;                 // e.g. "tcp://127.0.0.1:7400"
  // The exchange's other brokers (failover: an active and a standby on one
  // database, PROTOCOL §2.1), tried in turn after `endpoint`. With any, the
  // client moves on by itself: at connect to the first that answers, and
  // later when the broker in use has been gone for handshake_timeout or a
  // submit got no answer within request_timeout; what has no receipt is
  // resent there (idempotent by message id).
  std::vector<std::string> endpoints;
  CurvePublicKey broker_curve_key{};    // from the broker's certificate (fpx-ca show)
  std::filesystem::path state_db;       // local SQLite file: outbox and ids the application stored
  // The SQLite VFS the state file is opened through; empty: SQLite's
  // default. For durability tests (a power-cut shim), as the broker's
  // database_vfs.
  std::string state_db_vfs;
  std::filesystem::path root_ca;        // verifies deliveries and receipts
  std::filesystem::path crl_dir;        // the CAs' CRLs: revocation of every signer is checked against them
  // Checking revocation is the default; without a crl_dir connect() refuses
  // unless this says skip, an explicit choice (every opened delivery then
  // says RevocationStatus::not_checked).
  RevocationCheck revocation = RevocationCheck::required;
  // The exchange's broker signing keys (fpx/broker_pins.hpp), at least one:
  // receipts and broker-made deliveries (reminders, escalations, hit and
  // dead-letter notices) signed by any other broker-role certificate are
  // refused with signer_mismatch. Two during a key rotation.
  BrokerPins broker_pins;
  std::chrono::milliseconds handshake_timeout{5000};
  std::chrono::milliseconds request_timeout{15000};
  // Deliveries received but not yet handed over by poll(), at most (one is
  // always kept, whatever its size). One more is left unconfirmed and not
  // kept: the broker sends it again after its resend time (30 s by
  // default), so a broker streaming deliveries cannot grow this process's
  // memory without end. Reported through take_rejected_deliveries(). The
  // ones after it may then reach the application before it does. Keep it at
  // or above the broker's limits.max_in_flight (64 by default) and this
  // never happens with a broker that keeps the protocol.
  std::size_t max_buffered_deliveries = 4096;
  std::size_t max_buffered_bytes = 256u * 1024 * 1024;
  // The largest frame this client sends. A frame over the exchange's
  // limits.max_message_bytes makes the broker drop the connection with no
  // reply (PROTOCOL §2.6), so submit() refuses a bigger one here with
  // too_large before it is queued or sent (and the outbox refuses one
  // queued earlier once, instead of resending it forever). The broker
  // announces its limit in every pong (BrokerFrame.maxFrameBytes): the
  // smaller of the two applies, so this only needs setting to go below the
  // broker's, or for a broker too old to announce one.
  std::size_t max_frame_bytes = 1024 * 1024;
};

// struct Receipt (message id, envelope SHA-256, stored-at, log index, broker,
// signed bytes) is declared in fpx/verify_receipt.hpp, with its verifier.

struct Delivery {
  std::uint64_t delivery_id = 0;
  Bytes envelope;          // exactly as the sender signed it
  OpenedEnvelope opened;   // verified
};

struct RecipientStatus {
  ParticipantId recipient;
  std::string state;       // stored, delivered, confirmed, dead_letter
  std::int64_t updated_at_ms = 0;
  std::string lifecycle;
  std::string reason;
};

// A message in the outbox without a receipt yet (Client::outbox()).
struct OutboxMessage {
  MessageId message_id;
  std::int64_t queued_at_ms = 0;
  // Unix ms of the library's next resend; 0: as soon as it can (now, or at
  // the next connect).
  std::int64_t next_try_at_ms = 0;
  // The broker's last transient refusal ("quota_exceeded: ..."); empty if
  // it was never refused (sent, answer not yet received).
  std::string reason;
};

// Resends of outbox messages one Client has waiting for an answer, at most:
// the broker takes about this many messages of one connection into a batch
// (limits.batch_share, 16), so more would only queue there, and an outbox of
// thousands does not leave as one flood after an outage.
inline constexpr std::size_t kMaxResendsInFlight = 16;

class Client {
 public:
  static Result<std::unique_ptr<Client>> connect(Identity identity, const ClientOptions& options);
  ~Client();

  Result<Receipt> submit(ByteView envelope);
  // Waits up to `wait` for deliveries and returns the verified ones the
  // application has not confirmed yet. One handed over and not confirmed
  // is handed over again when the broker resends it (after its resend time,
  // 30 s by default, or at once to a new session): store it, then confirm.
  // A message arriving twice within one call is returned once.
  Result<std::vector<Delivery>> poll(std::chrono::milliseconds wait);
  // The application's word that it has stored `delivery` durably: call it
  // only then. Records the message id durably (one fsync) and only then
  // confirms the delivery to the broker, which stops resending it; from then
  // on a resend of the message is confirmed without a hand-over. An error
  // means nothing was recorded nor confirmed (the broker resends the message
  // and it is handed over again: the application must accept it again,
  // idempotent by message id), or, when its message says so, that it was
  // recorded but the confirm could not be sent (the broker's resend is then
  // confirmed without a hand-over). Never call it for a delivery that was
  // not stored: the message would be lost to the application.
  Status confirm(const Delivery& delivery);
  // confirm() for many deliveries at once: one fsync, one confirm frame.
  Status confirm_all(const std::vector<Delivery>& deliveries);
  // Waits (up to request_timeout) until the broker has received every
  // confirm sent so far: a process about to exit calls it, since closing the
  // session drops frames not yet sent. Without it nothing is lost (the
  // broker resends, and the library confirms what was recorded), but the
  // broker sees the confirm only on the next session.
  Status flush_confirms();
  Result<std::vector<RecipientStatus>> status(const MessageId& id);
  // The proof that one of this participant's messages (or, for a focal
  // point, its state's) is in the log everyone sees (docs/PROTOCOL.md §6.1),
  // decoded but not yet checked: check it with fpx::verify_message_log_proof
  // and the pinned broker key. not_found while no checkpoint covers it.
  Result<MessageLogProof> log_proof(const MessageId& id);
  // Every page of the opened facts of this focal point's state in the
  // published statistics period starting at `query.period_start_ms`
  // (docs/PROTOCOL.md §11), decoded but not yet checked: check them with
  // fpx::verify_statistics_facts and recount with fpx::recount_own_cells.
  Result<std::vector<StatisticsFactsPage>> statistics_facts(StatisticsFactsQuery query);

  // Deliveries not handed over since the last call, each message saying why
  // and what follows: failed end-to-end verification (confirmed, so never
  // sent again; or, for a local cause such as a stale CRL copy, left for the
  // broker to send again), or not kept because the buffer was full (left
  // for the broker to send again; one report for all of them).
  std::vector<Error> take_rejected_deliveries();
  // Outcomes of submits nobody waits for any more (resent by connect(), or
  // answered after submit() timed out) that the caller must hear about: a
  // broker refusal (the message is no longer resent) or a receipt that did
  // not verify (the message stays queued). Each error names the message id.
  std::vector<Error> take_outbox_refusals();
  // Messages written to the outbox that have no receipt yet.
  Result<std::size_t> unreceipted_count() const;
  // The same messages, oldest first, each with when it is resent and why.
  Result<std::vector<OutboxMessage>> outbox() const;
  const Identity& identity() const;

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fpx::client
