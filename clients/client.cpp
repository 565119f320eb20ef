// fpx_client: one participant's session with the broker over a CURVE DEALER
// socket. The wire rules are in schemas/transport.capnp; this file keeps the
// guarantees written at the top of fpx/client.hpp.
#include "fpx/client.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <optional>
#include <utility>

#include <kj/exception.h>
#include <zmq.hpp>

#include "client_state.hpp"
#include "curve_dealer.hpp"
#include "fpx/aligned_reader.hpp"
#include "fpx/certificate.hpp"
#include "fpx/crypto.hpp"
#include "fpx/frames.hpp"
#include "fpx/wire/envelope.capnp.h"
#include "fpx/wire/header.capnp.h"

namespace fpx::client {

namespace {

using Clock = std::chrono::steady_clock;

// Largest ZeroMQ message accepted from the broker: an envelope (at most
// kMaxEnvelopeBytes) plus framing. Stops a broken or hostile peer from making
// us buffer an arbitrarily large message (libzmq drops the connection).
constexpr std::int64_t kMaxFrameBytes = 8 * 1024 * 1024;

// Broker errors after which resending the same bytes may succeed; any other
// refusal is final and the message leaves the resend queue.
bool is_transient(ErrorCode code) {
  // A missing or stale CRL is the operator's to fix; the same bytes pass then.
  return code == ErrorCode::unavailable || code == ErrorCode::rate_limited || code == ErrorCode::internal ||
         code == ErrorCode::io_error || code == ErrorCode::crl_missing || code == ErrorCode::crl_stale;
}

std::string millis(std::chrono::milliseconds duration) { return std::to_string(duration.count()) + " ms"; }

// A transient refusal that came without a retry time (unavailable after the
// broker's failed commit, internal, a CRL the operator must renew): the
// outbox waits this long before its resend, so a broker in trouble is not
// asked again in a tight loop.
constexpr std::int64_t kResendDelayWithoutHintMs = 10'000;
// The longest a refused message waits for its resend, whatever retryAfterMs says.
constexpr std::int64_t kLongestResendWaitMs = 24LL * 3600 * 1000;

// How long the outbox waits before resending a message the broker refused
// with `code` and `retry_after_ms`; nullopt: the refusal is final (resending
// the same bytes would be refused again). quota_exceeded with a retry time
// is the broker's storage bound: the same bytes fit later. Without one (a
// state's watch list is full) only the sender can change that: final.
std::optional<std::int64_t> resend_wait_ms(ErrorCode code, std::uint32_t retry_after_ms) {
  // The broker's longest wait is to the next 00:00 UTC (its daily quota): a
  // longer one, from a broken or hostile broker, would hide for weeks a
  // message the officer believes is on its way.
  const std::int64_t wait = std::min<std::int64_t>(retry_after_ms, kLongestResendWaitMs);
  if (code == ErrorCode::quota_exceeded) {
    if (retry_after_ms == 0) return std::nullopt;
    return wait;
  }
  if (!is_transient(code)) return std::nullopt;
  return retry_after_ms > 0 ? wait : kResendDelayWithoutHintMs;
}

// "2026-12-07T00:05:30Z" for messages about resends.
std::string utc_text(std::int64_t unix_ms) {
  using namespace std::chrono;
  const sys_time<milliseconds> at{milliseconds(unix_ms)};
  const auto day = floor<days>(at);
  const year_month_day date{day};
  const hh_mm_ss time{floor<seconds>(at - day)};
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02uT%02ld:%02ld:%02lldZ", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                static_cast<long>(time.hours().count()), static_cast<long>(time.minutes().count()),
                static_cast<long long>(time.seconds().count()));
  return buffer;
}

// A broker frame as plain values (fpx/frames.hpp decodes it): no Cap'n Proto
// reader outlives the buffer it reads.
using BrokerMessage = BrokerReply;

// Verification failures that say something about this machine (its CRL
// copy, its disk), not about the message: worth trying again later.
bool is_local_verification_failure(ErrorCode code) {
  return code == ErrorCode::crl_missing || code == ErrorCode::crl_stale || code == ErrorCode::io_error ||
         code == ErrorCode::internal || code == ErrorCode::unavailable;
}

// The message id from the signed header, read without verifying: the broker
// verifies, and the outbox only needs a name for the bytes.
Result<MessageId> message_id_of(ByteView envelope_bytes) {
  return read_message<wire::Envelope>(
      envelope_bytes, Framing::flat, "envelope", [](wire::Envelope::Reader envelope) -> Result<MessageId> {
        auto header = envelope.getHeader();
        // The header is canonical: one segment without a segment table.
        return read_message<wire::Header>(
            ByteView(header.begin(), header.size()), Framing::single_segment, "envelope header",
            [](wire::Header::Reader reader) -> Result<MessageId> {
              auto id = MessageId::from_bytes(ByteView(reader.getMessageId().begin(), reader.getMessageId().size()));
              if (!id) {
                return make_error(ErrorCode::malformed,
                                  "the envelope's message id is not 16 bytes: seal it with seal_envelope()");
              }
              return *id;
            });
      });
}

}  // namespace

struct Client::Impl {
  struct PendingSubmit {
    MessageId message_id;
    Sha256Digest envelope_sha256{};
    // For a resend from the outbox: when it left. One unanswered after
    // request_timeout no longer counts against kMaxResendsInFlight (its
    // answer is still settled if it comes).
    std::optional<Clock::time_point> resent_at;
    Clock::time_point sent_at = Clock::now();
    // The connection it left on is gone (a reconnect): the broker may never
    // have stored it, and will not answer it on the new connection.
    bool lost = false;
  };
  struct RawDelivery {
    std::uint64_t delivery_id = 0;
    Bytes envelope;
  };

  Impl(Identity identity, const ClientOptions& options, TrustStore trust, ClientState state)
      : identity_(std::move(identity)), options_(options), trust_(std::move(trust)), state_(std::move(state)) {
    // connect() admits no crl_dir only with an explicit skip; every opened
    // envelope then says so (RevocationStatus::not_checked).
    revocation_ = options_.revocation;
    endpoints_.push_back(options_.endpoint);
    for (const auto& endpoint : options_.endpoints) {
      if (std::find(endpoints_.begin(), endpoints_.end(), endpoint) == endpoints_.end()) endpoints_.push_back(endpoint);
    }
  }

  Identity identity_;
  ClientOptions options_;
  TrustStore trust_;
  EnvelopeOpener opener_{trust_};
  ClientState state_;
  RevocationCheck revocation_ = RevocationCheck::required;
  // The CURVE transport, its handshake events and refusals; made anew for
  // each broker tried (failover: a fresh socket and monitor per endpoint).
  std::optional<CurveDealer> dealer_;
  // Every broker endpoint of the exchange (ClientOptions::endpoint, then
  // ::endpoints), and the one in use.
  std::vector<std::string> endpoints_;
  std::size_t current_ = 0;
  bool switching_ = false;  // open_session() runs: drain() must not switch again

  std::uint64_t next_request_id_ = 1;  // 0 is the broker's "unsolicited" (deliveries)
  std::uint64_t awaited_ = 0;
  std::optional<BrokerMessage> reply_;
  std::map<std::uint64_t, PendingSubmit> pending_submits_;  // answers may come after we stopped waiting
  // Bounded by options_.max_buffered_deliveries and _bytes: a delivery
  // beyond them is left unconfirmed, and the broker sends it again within
  // the session (PROTOCOL.md §10.1).
  std::deque<RawDelivery> inbox_;
  std::size_t inbox_bytes_ = 0;
  std::size_t unbuffered_deliveries_ = 0;  // left for a resend since the last report
  std::vector<Error> rejected_;
  std::set<std::uint64_t> retried_deliveries_;  // failed for a local reason, reported once, left for a resend
  std::vector<Error> outbox_refusals_;
  // Unix ms of the earliest resend the outbox waits for (max: none): a
  // drain() before then costs a comparison, not a query of the state file.
  std::int64_t next_resend_at_ms_ = 0;
  std::optional<std::string> closed_reason_;
  std::uint64_t handshakes_seen_ = 0;  // of dealer_->handshakes(): a new one means a reconnect
  bool keys_proven_ = false;  // a session of this client got a pong: our keys and the broker key are right
  std::size_t undecodable_frames_ = 0;
  std::string last_undecodable_;
  // The frame limit the broker in use announced in its pong (0: none, a
  // broker older than the field); frame_limit() takes the smaller of it and
  // ClientOptions::max_frame_bytes.
  std::size_t announced_frame_bytes_ = 0;

  // The largest frame this client sends: a bigger one makes the broker drop
  // the connection unread, and every resend after it with it.
  std::size_t frame_limit() const {
    if (announced_frame_bytes_ == 0) return options_.max_frame_bytes;
    return std::min(options_.max_frame_bytes, announced_frame_bytes_);
  }
  std::string frame_limit_source() const {
    return announced_frame_bytes_ != 0 && announced_frame_bytes_ < options_.max_frame_bytes
               ? "announced by the broker: its limits.max_message_bytes"
               : "ClientOptions::max_frame_bytes";
  }

  // --- transport --------------------------------------------------------

  // Opens a session on the endpoint in use, else on the next ones in turn
  // (failover: only the leading broker binds its endpoint, PROTOCOL §2.1):
  // the first that answers our ping is used. A refused handshake is final
  // (every broker of the exchange has the same key and enrolment).
  Status open_session() {
    switching_ = true;
    std::optional<Error> last;
    for (std::size_t tried = 0; tried < endpoints_.size(); ++tried) {
      const std::size_t index = (current_ + tried) % endpoints_.size();
      auto opened = open_session_at(endpoints_[index]);
      if (opened || opened.error().code == ErrorCode::unauthorized) {
        current_ = index;
        switching_ = false;
        return opened;
      }
      last = std::move(opened).take_error();
    }
    switching_ = false;
    // The socket left open is the last one tried: the next move starts after it.
    current_ = (current_ + endpoints_.size() - 1) % endpoints_.size();
    if (endpoints_.size() > 1) {
      last->message = "no broker of the exchange answered (tried " + std::to_string(endpoints_.size()) +
                      " endpoints; the last: " + last->message + ")";
    }
    return *std::move(last);
  }

  // The broker in use went away (its process ended, its machine or the
  // network is gone) for longer than a handshake may take: with other
  // endpoints listed, move to the next one that answers. What was sent and
  // not answered is resent there (idempotent by message id, PROTOCOL §10.3).
  void move_if_broker_gone() {
    if (endpoints_.size() < 2 || switching_ || closed_reason_) return;
    const auto down = dealer_->down_since();
    if (!down || Clock::now() - *down < options_.handshake_timeout) return;
    (void)move_to_next_broker();  // none answered: tried again once this one is down as long
  }

  Status move_to_next_broker() {
    for (auto& [request_id, pending] : pending_submits_) pending.lost = true;
    next_resend_at_ms_ = 0;
    handshakes_seen_ = 0;
    current_ = (current_ + 1) % endpoints_.size();
    return open_session();
  }

  Status open_session_at(const std::string& endpoint) {
    CurveDealerOptions dealer;
    dealer.endpoint = endpoint;
    dealer.server_key = options_.broker_curve_key;
    dealer.own_keys = identity_.curve();
    dealer.handshake_timeout = options_.handshake_timeout;
    dealer.max_message_bytes = kMaxFrameBytes;
    dealer.principal = "this participant (" + identity_.participant().id.str() + ")";
    dealer.not_admitted = "is not enrolled at the broker";
    dealer.refusal_note = " A suspended or revoked participant is refused the same way.";
    dealer.keys_proven = keys_proven_;
    announced_frame_bytes_ = 0;  // another broker (failover) may have another limit: its pong says
    dealer_.reset();  // closes the previous socket and its monitor first
    dealer_.emplace();
    dealer_->open(dealer);

    auto reply = ping(Clock::now() + options_.handshake_timeout);
    if (!reply) return std::move(reply).take_error();
    if (!*reply) {
      std::string hint = dealer_->tcp_connected()
                             ? " (a TCP connection was made but the CURVE handshake did not complete)"
                             : " (no TCP connection: is the broker running, and is the endpoint right?)";
      return make_error(ErrorCode::unavailable, "broker did not answer at " + endpoint + " within " +
                                                    millis(options_.handshake_timeout) + hint + undecodable_note());
    }
    if ((*reply)->kind == BrokerMessage::Kind::error) return std::move((*reply)->error);
    if ((*reply)->kind != BrokerMessage::Kind::pong) {
      return make_error(ErrorCode::malformed, "the broker answered ping with something other than pong");
    }
    keys_proven_ = true;
    return {};
  }

  // Sends a ping and waits for its answer until `deadline` (nullopt: none came).
  Result<std::optional<BrokerMessage>> ping(Clock::time_point deadline) {
    const std::uint64_t request_id = next_request_id_++;
    if (auto sent = send(encode_ping(request_id)); !sent) return std::move(sent).take_error();
    return wait_for(request_id, deadline);
  }

  Status send(const Bytes& frame) {
    if (closed_reason_) return session_closed_error();
    return dealer_->send(frame.data(), frame.size());
  }

  Error session_closed_error() const {
    return make_error(ErrorCode::unavailable, "session taken over: " + *closed_reason_ +
                                                  " (a newer session of this participant is connected; connect again "
                                                  "to take it back)");
  }

  std::string undecodable_note() const {
    const std::size_t dropped = undecodable_frames_ + dealer_->dropped_frames();
    if (dropped == 0) return "";
    return "; " + std::to_string(dropped) + " undecodable frame(s) from the broker were dropped" +
           (last_undecodable_.empty() ? std::string() : ", last: " + last_undecodable_);
  }

  // Receives every frame already queued without waiting. Deliveries go to
  // the inbox, the reply to `awaited_` to reply_, late submit answers are
  // settled; a sessionClosed ends the session, and nothing after it counts
  // (a newer session owns this participant's deliveries now).
  void drain() {
    dealer_->read_events();
    move_if_broker_gone();
    ping_if_reconnected();
    pump_resends();
    while (!reply_ && !closed_reason_) {
      auto frame = dealer_->receive(Clock::time_point::min());  // what is queued, without waiting
      if (!frame || !*frame) break;  // a refusal is reported by wait_until
      take_frame(**frame);
    }
    // receive() reads the monitor too: a reconnect it saw must not wait for
    // the next frame or the end of the caller's wait.
    ping_if_reconnected();
  }

  // After a reconnect (a broker restart) the broker knows this connection
  // only once it sends something: ping so that pending deliveries start
  // flowing without waiting for our next request.
  void ping_if_reconnected() {
    if (dealer_->handshakes() <= handshakes_seen_) return;
    const bool reconnected = handshakes_seen_ > 0;
    handshakes_seen_ = dealer_->handshakes();
    if (!reconnected || closed_reason_) return;
    // What was sent on the old connection and not answered may be lost with
    // it (a broker that stopped before its commit): resend it now, as
    // connect() would. An answer still coming is settled all the same.
    for (auto& [request_id, pending] : pending_submits_) pending.lost = true;
    next_resend_at_ms_ = 0;
    (void)send(encode_ping(next_request_id_++));  // its pong is not awaited
  }

  void take_frame(const zmq::message_t& frame) {
    Result<BrokerMessage> decoded = make_error(ErrorCode::internal, "");
    try {
      decoded = decode_broker_frame(ByteView(static_cast<const std::uint8_t*>(frame.data()), frame.size()));
    } catch (const kj::Exception& exception) {  // decode_broker_frame catches; this is a second net
      decoded = make_error(ErrorCode::malformed, exception.getDescription().cStr());
    }
    if (!decoded) {
      note_undecodable(decoded.error().message);
      return;
    }
    dispatch(std::move(decoded).value());
  }

  void note_undecodable(std::string what) {
    ++undecodable_frames_;
    last_undecodable_ = std::move(what);
  }

  void dispatch(BrokerMessage message) {
    // Every pong of the broker in use (the session's first, and the one
    // after a reconnect, which may be a restarted broker with a new config)
    // sets the limit; 0 is a broker that does not announce one.
    if (message.kind == BrokerMessage::Kind::pong) announced_frame_bytes_ = message.max_frame_bytes;
    switch (message.kind) {
      case BrokerMessage::Kind::delivery:
        // One is always kept, however large: otherwise it could never be handed over.
        if (!inbox_.empty() && (inbox_.size() >= options_.max_buffered_deliveries ||
                                inbox_bytes_ + message.envelope.size() > options_.max_buffered_bytes)) {
          ++unbuffered_deliveries_;
          return;
        }
        inbox_bytes_ += message.envelope.size();
        inbox_.push_back(RawDelivery{message.delivery_id, std::move(message.envelope)});
        return;
      case BrokerMessage::Kind::session_closed:
        closed_reason_ = message.reason.empty() ? std::string("no reason given") : message.reason;
        return;
      case BrokerMessage::Kind::unknown:
        return;
      default:
        break;
    }
    if (awaited_ != 0 && message.request_id == awaited_) {
      reply_ = std::move(message);
      return;
    }
    if (auto pending = pending_submits_.find(message.request_id); pending != pending_submits_.end()) {
      PendingSubmit submit = pending->second;
      pending_submits_.erase(pending);
      settle_late_submit(submit, message);
    }
    // Anything else answers a request nobody waits for any more (a late pong or status).
  }

  // A receipt or refusal for a submit whose caller stopped waiting (timeout),
  // or for an outbox message resent by connect().
  void settle_late_submit(const PendingSubmit& submit, const BrokerMessage& message) {
    auto settled = settle_submit(submit, message);
    const bool kept = message.kind == BrokerMessage::Kind::error &&
                      resend_wait_ms(message.error.code, message.retry_after_ms).has_value();
    if (!settled && !kept && !is_transient(settled.error().code)) {
      Error error = std::move(settled).take_error();
      error.message = "message " + submit.message_id.hex() + ": " + error.message;
      outbox_refusals_.push_back(std::move(error));
    }
  }

  // Turns the broker's answer to a submit into a verified receipt or an
  // Error, and records the outcome in the outbox.
  Result<Receipt> settle_submit(const PendingSubmit& submit, const BrokerMessage& message) {
    if (message.kind == BrokerMessage::Kind::error) {
      const auto wait_ms = resend_wait_ms(message.error.code, message.retry_after_ms);
      if (!wait_ms) {
        // Resending the same bytes would be refused again: stop resending.
        (void)state_.mark_refused(submit.message_id, message.error.describe());
        return message.error;
      }
      // Refused for now: kept, and resent by the library once the broker's
      // wait has passed (never sooner, even from another process).
      const std::int64_t next_try = now_ms() + *wait_ms;
      Error error = message.error;
      if (state_.mark_waiting(submit.message_id, error.describe(), next_try)) {
        next_resend_at_ms_ = std::min(next_resend_at_ms_, next_try);
        error.message += " [the message is kept in the outbox: the fpx client library resends it by itself after " +
                         std::to_string(*wait_ms) + " ms (at " + utc_text(next_try) +
                         ") while this program uses it, or at the first connect after then]";
      }
      return error;
    }
    if (message.kind != BrokerMessage::Kind::receipt) {
      return make_error(ErrorCode::malformed, "the broker answered a submit with neither a receipt nor an error");
    }
    ReceiptExpectation expected;
    expected.message_id = submit.message_id;
    expected.envelope_sha256 = submit.envelope_sha256;
    expected.revocation = revocation_;
    expected.broker_pins = options_.broker_pins;
    auto receipt = verify_receipt(trust_, message.signed_receipt, expected);
    if (!receipt) {
      Error error = std::move(receipt).take_error();
      error.message = "the broker's receipt was refused (the message stays in the outbox and is resent on the next "
                      "connect): " + error.message;
      return error;
    }
    // If this write fails the message is resent on the next connect and the
    // broker, idempotent, answers with the same receipt: the receipt in hand
    // is still true, so it is returned either way.
    (void)state_.mark_receipted(submit.message_id, receipt->signed_receipt);
    return receipt;
  }

  // Waits until `ready()` or the deadline, draining frames as they come.
  // Fails when the session is closed or the transport was refused.
  Status wait_until(Clock::time_point deadline, const std::function<bool()>& ready) {
    for (;;) {
      drain();
      if (ready()) return {};
      if (closed_reason_) return session_closed_error();
      if (dealer_->refusal()) return *dealer_->refusal();
      if (Clock::now() >= deadline) return make_error(ErrorCode::unavailable, "timeout");
      // A frame or a handshake event (drain() takes it), or an outbox
      // resend falling due (drain() sends it).
      dealer_->wait_for_activity(std::min(deadline, resend_wakeup()));
    }
  }

  // The reply to request_id, or nullopt at the deadline.
  Result<std::optional<BrokerMessage>> wait_for(std::uint64_t request_id, Clock::time_point deadline) {
    awaited_ = request_id;
    reply_.reset();
    auto waited = wait_until(deadline, [this] { return reply_.has_value(); });
    awaited_ = 0;
    std::optional<BrokerMessage> reply = std::move(reply_);
    reply_.reset();
    if (reply) return reply;
    if (!waited && (closed_reason_ || dealer_->refusal())) return std::move(waited).take_error();
    return std::optional<BrokerMessage>{};
  }

  // connect(): every outbox message due for a resend goes out again (at
  // most kMaxResendsInFlight at a time, topped up as answers come); the
  // answers are settled as they come, until request_timeout. What is not
  // answered stays queued for the session's next resend or the next connect.
  void resend_outbox() {
    next_resend_at_ms_ = 0;  // read the state file now
    (void)wait_until(Clock::now() + options_.request_timeout,
                     [this] { return resends_in_flight() == 0 && next_resend_at_ms_ > now_ms(); });
  }

  std::size_t resends_in_flight() const {
    const auto now = Clock::now();
    return static_cast<std::size_t>(std::count_if(pending_submits_.begin(), pending_submits_.end(), [&](const auto& entry) {
      return entry.second.resent_at && !entry.second.lost && now - *entry.second.resent_at < options_.request_timeout;
    }));
  }

  // Sends the outbox messages whose time has come, up to
  // kMaxResendsInFlight unanswered resends; called by every drain(), so a
  // session that is used resends without the application doing anything.
  void pump_resends() {
    const std::int64_t now = now_ms();
    if (now < next_resend_at_ms_ || closed_reason_) return;
    std::size_t in_flight = resends_in_flight();
    if (in_flight >= kMaxResendsInFlight) return;
    auto queued = state_.queued();
    if (!queued) {
      next_resend_at_ms_ = now + kResendDelayWithoutHintMs;  // the state file failed: try again later
      return;
    }
    // Already out and awaited (a submit() or an earlier resend): not once its
    // connection is gone, nor after request_timeout without an answer.
    std::set<MessageId> out_now;
    for (const auto& [request_id, pending] : pending_submits_) {
      if (!pending.lost && Clock::now() - pending.sent_at < options_.request_timeout) {
        out_now.insert(pending.message_id);
      }
    }
    std::int64_t next = std::numeric_limits<std::int64_t>::max();
    for (auto& entry : *queued) {
      if (out_now.count(entry.message_id) != 0) continue;
      if (entry.next_try_at_ms > now || in_flight >= kMaxResendsInFlight) {
        // Not yet due, or the window is full: looked at again when due, or
        // (window) at the next drain, which answers free room.
        next = std::min(next, entry.next_try_at_ms > now ? entry.next_try_at_ms : now);
        continue;
      }
      const std::uint64_t request_id = next_request_id_++;
      Bytes frame = encode_submit(request_id, entry.envelope);
      if (frame.size() > frame_limit()) {
        // Queued under a larger limit (or before one was set or announced):
        // the broker would drop the connection unread and every resend
        // after it with it. Refused here, once, as the broker's too_large
        // would be.
        Error refused = make_error(ErrorCode::too_large,
                                   "message " + entry.message_id.hex() + ": it makes a frame of " +
                                       std::to_string(frame.size()) + " bytes, over the exchange's limit of " +
                                       std::to_string(frame_limit()) + " (" + frame_limit_source() +
                                       "); it was not sent: make its attachments smaller or send them separately");
        (void)state_.mark_refused(entry.message_id, refused.describe());
        outbox_refusals_.push_back(std::move(refused));
        continue;
      }
      if (!send(frame)) {
        next = std::min(next, now + kResendDelayWithoutHintMs);
        break;
      }
      pending_submits_[request_id] = PendingSubmit{entry.message_id, sha256(entry.envelope), Clock::now()};
      ++in_flight;
    }
    next_resend_at_ms_ = next;
  }

  // When wait_until() must wake up to send a resend falling due.
  Clock::time_point resend_wakeup() const {
    const std::int64_t now = now_ms();
    if (next_resend_at_ms_ == std::numeric_limits<std::int64_t>::max()) return Clock::time_point::max();
    // A full window is freed by answers, which wake the wait by themselves,
    // or by request_timeout: no timer, so that a wait never spins on it.
    if (resends_in_flight() >= kMaxResendsInFlight) return Clock::now() + options_.request_timeout;
    return Clock::now() + std::chrono::milliseconds(std::max<std::int64_t>(0, next_resend_at_ms_ - now));
  }

  // --- deliveries ---------------------------------------------------------

  // Opens every buffered delivery: verified ones the application has not
  // confirmed are handed over (again, if it was handed over before and never
  // confirmed: the application failed to store it, or died first); ones that
  // fail for what they are (a bad signature, an untrusted chain) are
  // confirmed, so the broker stops resending, and reported; ones that fail
  // for a local, passing reason (our CRL copy missing or stale, a read
  // error) are reported but not confirmed, so the broker sends them again;
  // ones the application confirmed before are confirmed silently.
  Status hand_over(std::vector<Delivery>& handed, std::vector<std::uint64_t>& confirms) {
    if (unbuffered_deliveries_ > 0) {
      rejected_.push_back(make_error(
          ErrorCode::unavailable,
          std::to_string(unbuffered_deliveries_) + " delivery(ies) arrived while " +
              std::to_string(inbox_.size()) + " were waiting to be handed over, over this client's limit (" +
              std::to_string(options_.max_buffered_deliveries) + " deliveries or " +
              std::to_string(options_.max_buffered_bytes) +
              " bytes): they were not kept nor confirmed, and the broker sends them again after its resend "
              "time. Poll more often, or raise ClientOptions::max_buffered_deliveries"));
      unbuffered_deliveries_ = 0;
    }
    while (!inbox_.empty()) {
      RawDelivery& raw = inbox_.front();
      const std::size_t raw_bytes = raw.envelope.size();  // the envelope may be moved out before the pop
      auto opened = open_delivery(raw.envelope);
      if (!opened) {
        Error error = std::move(opened).take_error();
        const bool passing = is_local_verification_failure(error.code);
        std::string what = "delivery " + std::to_string(raw.delivery_id) + " failed end-to-end verification and was "
                           "not handed over: ";
        what.append(error.message);
        if (passing) what.append("; it stays unconfirmed and the broker will send it again (refresh the CRL copy "
                                 "with the CA's latest CRLs if it is stale)");
        error.message = std::move(what);
        // A delivery kept for a resend comes back: it is reported once.
        if (!passing || retried_deliveries_.insert(raw.delivery_id).second) rejected_.push_back(std::move(error));
        if (!passing) confirms.push_back(raw.delivery_id);
        pop_inbox(raw_bytes);
        continue;
      }
      // Nothing is recorded at hand-over: only confirm() (the application's
      // word that it stored the message) records the id, so a message handed
      // over but never stored is handed over again on the broker's resend.
      auto stored = state_.was_stored(opened->message_id);
      if (!stored) return std::move(stored).take_error();  // stays in the inbox for the next poll
      if (*stored) {
        confirms.push_back(raw.delivery_id);  // a resend of what the application has: exactly once
      } else if (std::none_of(handed.begin(), handed.end(),
                              [&](const Delivery& earlier) { return earlier.opened.message_id == opened->message_id; })) {
        handed.push_back(Delivery{raw.delivery_id, std::move(raw.envelope), std::move(opened).value()});
      }
      // else: a second copy in this very batch (a resend that overtook the
      // poll) is dropped unconfirmed: the copy handed over is the one the
      // application confirms, and a copy under another delivery id comes
      // back from the broker and is confirmed then.
      pop_inbox(raw_bytes);
    }
    return {};
  }

  // End-to-end verification of one delivery. A broker-made one (reminder,
  // escalation, hit or dead-letter notice: the sender's role is broker)
  // must also be signed by a pinned exchange key: a chain to the root with
  // the broker role proves only that some CA key holder made it.
  Result<OpenedEnvelope> open_delivery(ByteView envelope) {
    OpenOptions open_options;
    open_options.revocation = revocation_;
    auto opened = opener_.open(envelope, open_options);
    if (!opened || opened->signer.participant.role != Role::broker) return opened;
    if (auto pinned = check_pinned_broker(options_.broker_pins, *opened->signer.leaf,
                                          "the broker notice " + opened->message_id.hex() + " (" +
                                              std::string(message_type_name(opened->type)) + ")");
        !pinned) {
      return std::move(pinned).take_error();
    }
    return opened;
  }

  void pop_inbox(std::size_t bytes) {
    inbox_bytes_ -= bytes;
    inbox_.pop_front();
  }

  // The application stored these: record their ids durably, and only then
  // confirm them to the broker. In that order, a crash or power cut at any
  // point leaves either an unrecorded id (the broker resends, the message is
  // handed over again) or a recorded one (the broker's resend is confirmed
  // silently): never a confirmed delivery the application does not have.
  Status confirm_stored(const std::vector<const Delivery*>& deliveries) {
    if (deliveries.empty()) return {};
    std::vector<MessageId> message_ids;
    std::vector<std::uint64_t> delivery_ids;
    for (const Delivery* delivery : deliveries) {
      message_ids.push_back(delivery->opened.message_id);
      delivery_ids.push_back(delivery->delivery_id);
    }
    if (auto recorded = state_.record_stored(message_ids); !recorded) {
      Error error = std::move(recorded).take_error();
      error.message = "not confirmed: the client state file did not record it (" + error.message +
                      "); the broker sends it again and it is handed over again. Check the disk holding " +
                      options_.state_db.string();
      return error;
    }
    if (auto sent = send_confirm(delivery_ids); !sent) {
      Error error = std::move(sent).take_error();
      error.message = "recorded as stored, but the confirm did not reach the broker (" + error.message +
                      "); its resend will be confirmed without a second hand-over";
      return error;
    }
    return {};
  }

  // A ping round trip: frames on one connection arrive in order, so once
  // its pong is here the broker has every confirm sent before it.
  Status flush_confirms() {
    auto reply = ping(Clock::now() + options_.request_timeout);
    if (!reply) return std::move(reply).take_error();
    if (!*reply) {
      return make_error(ErrorCode::unavailable, "the broker did not answer within " + millis(options_.request_timeout) +
                                                    ": confirms sent may not have reached it; what was recorded is "
                                                    "confirmed again, without a hand-over, when the broker resends it");
    }
    return {};
  }

  Status send_confirm(const std::vector<std::uint64_t>& ids) {
    if (ids.empty()) return {};
    return send(encode_confirm(next_request_id_++, ids));
  }
};

// --- public API: no exception crosses it ------------------------------------

namespace {

template <typename T, typename Function>
Result<T> guarded(Function&& function) {
  try {
    return function();
  } catch (const zmq::error_t& error) {
    return make_error(ErrorCode::unavailable, std::string("ZeroMQ: ") + error.what());
  } catch (const kj::Exception& exception) {
    return make_error(ErrorCode::malformed, std::string("Cap'n Proto: ") + exception.getDescription().cStr());
  } catch (const std::exception& exception) {
    return make_error(ErrorCode::internal, exception.what());
  }
}

Status guarded_status(const std::function<Status()>& function) {
  try {
    return function();
  } catch (const zmq::error_t& error) {
    return make_error(ErrorCode::unavailable, std::string("ZeroMQ: ") + error.what());
  } catch (const kj::Exception& exception) {
    return make_error(ErrorCode::malformed, std::string("Cap'n Proto: ") + exception.getDescription().cStr());
  } catch (const std::exception& exception) {
    return make_error(ErrorCode::internal, exception.what());
  }
}

}  // namespace

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

Result<std::unique_ptr<Client>> Client::connect(Identity identity, const ClientOptions& options) {
  if (options.endpoint.empty()) return make_error(ErrorCode::invalid_argument, "no broker endpoint given");
  if (std::all_of(options.broker_curve_key.begin(), options.broker_curve_key.end(), [](auto b) { return b == 0; })) {
    return make_error(ErrorCode::invalid_argument,
                      "no broker CURVE key given: take it from the broker's certificate (fpx-ca show)");
  }
  if (options.state_db.empty()) return make_error(ErrorCode::invalid_argument, "no client state file given");
  if (options.max_buffered_deliveries == 0) {
    return make_error(ErrorCode::invalid_argument, "max_buffered_deliveries is 0: at least one delivery must fit");
  }
  if (options.root_ca.empty()) return make_error(ErrorCode::invalid_argument, "no root CA given");
  if (options.crl_dir.empty() && options.revocation == RevocationCheck::required) {
    return make_error(ErrorCode::invalid_argument,
                      "no CRL directory given: revocation is checked by default, so give ClientOptions::crl_dir (the "
                      "CAs' CRLs), or set ClientOptions::revocation = RevocationCheck::skip to run without, knowingly");
  }
  if (auto pinned = require_broker_pins(options.broker_pins, "ClientOptions::broker_pins"); !pinned) {
    return std::move(pinned).take_error();
  }
  return guarded<std::unique_ptr<Client>>([&]() -> Result<std::unique_ptr<Client>> {
    auto trust = TrustStore::load(options.root_ca, options.crl_dir);
    if (!trust) return std::move(trust).take_error();
    auto state = ClientState::open(options.state_db.string(), options.state_db_vfs);
    if (!state) return std::move(state).take_error();
    auto impl = std::make_unique<Impl>(std::move(identity), options, std::move(trust).value(), std::move(state).value());
    if (auto opened = impl->open_session(); !opened) return std::move(opened).take_error();
    impl->resend_outbox();
    return std::unique_ptr<Client>(new Client(std::move(impl)));
  });
}

Result<Receipt> Client::submit(ByteView envelope) {
  return guarded<Receipt>([&]() -> Result<Receipt> {
    Impl& impl = *impl_;
    if (impl.closed_reason_) return impl.session_closed_error();
    if (envelope.size() > kMaxEnvelopeBytes) {
      return make_error(ErrorCode::too_large, "envelope of " + std::to_string(envelope.size()) +
                                                  " bytes exceeds the limit of " + std::to_string(kMaxEnvelopeBytes));
    }
    if (const std::size_t frame = encode_submit(0, envelope).size(); frame > impl.frame_limit()) {
      return make_error(ErrorCode::too_large,
                        "this message makes a frame of " + std::to_string(frame) + " bytes, over the exchange's limit of " +
                            std::to_string(impl.frame_limit()) + " (" + impl.frame_limit_source() +
                            "); nothing was sent: make its attachments smaller or send them in a separate message");
    }
    auto message_id = message_id_of(envelope);
    if (!message_id) return std::move(message_id).take_error();
    // Written durably before it leaves: a crash from here on cannot lose it.
    if (auto queued = impl.state_.add_to_outbox(*message_id, envelope); !queued) return std::move(queued).take_error();

    const Impl::PendingSubmit pending{*message_id, sha256(envelope), std::nullopt};
    // With several brokers (failover), a submit that gets no answer is sent
    // again to the next broker that answers, once per endpoint listed: the
    // same bytes, so a broker that stored it already answers with its
    // receipt (PROTOCOL §10.3).
    std::uint64_t request_id = 0;
    Result<std::optional<BrokerMessage>> reply = std::optional<BrokerMessage>{};
    for (std::size_t attempt = 0; attempt < impl.endpoints_.size(); ++attempt) {
      if (attempt > 0) {
        if (auto moved = impl.move_to_next_broker(); !moved) return std::move(moved).take_error();
      }
      request_id = impl.next_request_id_++;
      if (auto sent = impl.send(encode_submit(request_id, envelope)); !sent) return std::move(sent).take_error();
      // Pending while it is awaited too, so that the outbox's resends (sent
      // while we wait) leave it alone; the answer itself comes to wait_for().
      impl.pending_submits_[request_id] = pending;
      reply = impl.wait_for(request_id, Clock::now() + impl.options_.request_timeout);
      if (!reply || *reply) break;
    }
    if (!reply || !*reply) {
      // The answer may still come: settle it then (receipt into the outbox).
      if (!reply) return std::move(reply).take_error();
      return make_error(ErrorCode::unavailable, "no receipt within " + millis(impl.options_.request_timeout) +
                                                    "; the message stays in the outbox and is resent on the next "
                                                    "connect" + impl.undecodable_note());
    }
    impl.pending_submits_.erase(request_id);
    return impl.settle_submit(pending, **reply);
  });
}

Result<std::vector<Delivery>> Client::poll(std::chrono::milliseconds wait) {
  return guarded<std::vector<Delivery>>([&]() -> Result<std::vector<Delivery>> {
    Impl& impl = *impl_;
    if (impl.closed_reason_) return impl.session_closed_error();
    std::vector<Delivery> handed;
    std::vector<std::uint64_t> confirms;
    const auto deadline = Clock::now() + wait;
    Status outcome;
    for (;;) {
      auto waited = impl.wait_until(deadline, [&impl] { return !impl.inbox_.empty(); });
      outcome = impl.hand_over(handed, confirms);
      if (!outcome || !handed.empty() || Clock::now() >= deadline) break;
      if (!waited) {
        outcome = std::move(waited);
        break;
      }
    }
    // Confirms go out even when this call fails, so the broker stops resending.
    (void)impl.send_confirm(confirms);
    if (!outcome && handed.empty()) return std::move(outcome).take_error();
    if (handed.empty() && impl.closed_reason_) return impl.session_closed_error();
    return handed;
  });
}

Status Client::confirm(const Delivery& delivery) {
  return guarded_status([&] { return impl_->confirm_stored({&delivery}); });
}

Status Client::confirm_all(const std::vector<Delivery>& deliveries) {
  return guarded_status([&] {
    std::vector<const Delivery*> all;
    all.reserve(deliveries.size());
    for (const auto& delivery : deliveries) all.push_back(&delivery);
    return impl_->confirm_stored(all);
  });
}

Status Client::flush_confirms() {
  return guarded_status([&] { return impl_->flush_confirms(); });
}

Result<std::vector<RecipientStatus>> Client::status(const MessageId& id) {
  return guarded<std::vector<RecipientStatus>>([&]() -> Result<std::vector<RecipientStatus>> {
    Impl& impl = *impl_;
    if (impl.closed_reason_) return impl.session_closed_error();
    const std::uint64_t request_id = impl.next_request_id_++;
    if (auto sent = impl.send(encode_status_query(request_id, id)); !sent) return std::move(sent).take_error();
    auto reply = impl.wait_for(request_id, Clock::now() + impl.options_.request_timeout);
    if (!reply) return std::move(reply).take_error();
    if (!*reply) {
      return make_error(ErrorCode::unavailable,
                        "no status reply within " + millis(impl.options_.request_timeout) + impl.undecodable_note());
    }
    BrokerMessage& message = **reply;
    if (message.kind == BrokerMessage::Kind::error) return std::move(message.error);
    if (message.kind != BrokerMessage::Kind::status) {
      return make_error(ErrorCode::malformed, "the broker answered a status query with neither a status nor an error");
    }
    std::vector<RecipientStatus> recipients;
    recipients.reserve(message.recipients.size());
    for (auto& row : message.recipients) {
      recipients.push_back(RecipientStatus{ParticipantId(std::move(row.recipient)), std::move(row.state),
                                           row.updated_at_ms, std::move(row.lifecycle), std::move(row.reason)});
    }
    return recipients;
  });
}

Result<MessageLogProof> Client::log_proof(const MessageId& id) {
  return guarded<MessageLogProof>([&]() -> Result<MessageLogProof> {
    Impl& impl = *impl_;
    if (impl.closed_reason_) return impl.session_closed_error();
    const std::uint64_t request_id = impl.next_request_id_++;
    if (auto sent = impl.send(encode_log_proof_query(request_id, id)); !sent) return std::move(sent).take_error();
    auto reply = impl.wait_for(request_id, Clock::now() + impl.options_.request_timeout);
    if (!reply) return std::move(reply).take_error();
    if (!*reply) {
      return make_error(ErrorCode::unavailable,
                        "no log proof within " + millis(impl.options_.request_timeout) + impl.undecodable_note());
    }
    BrokerMessage& message = **reply;
    if (message.kind == BrokerMessage::Kind::error) return std::move(message.error);
    if (message.kind != BrokerMessage::Kind::log_proof) {
      return make_error(ErrorCode::malformed, "the broker answered a log proof request with neither a proof nor an error");
    }
    return decode_log_proof(message.log_proof);
  });
}

Result<std::vector<StatisticsFactsPage>> Client::statistics_facts(StatisticsFactsQuery query) {
  return guarded<std::vector<StatisticsFactsPage>>([&]() -> Result<std::vector<StatisticsFactsPage>> {
    Impl& impl = *impl_;
    std::vector<StatisticsFactsPage> pages;
    // A broker that keeps answering "more" cannot make us page forever: a
    // state's facts of one period are a few per tracing.
    constexpr std::size_t kMaxPages = 4096;
    for (;;) {
      if (impl.closed_reason_) return impl.session_closed_error();
      if (pages.size() == kMaxPages) {
        return make_error(ErrorCode::too_large, "the broker answered more than " + std::to_string(kMaxPages) +
                                                    " pages of statistics facts: it is not behaving");
      }
      const std::uint64_t request_id = impl.next_request_id_++;
      if (auto sent = impl.send(encode_statistics_facts_query(request_id, query)); !sent) {
        return std::move(sent).take_error();
      }
      auto reply = impl.wait_for(request_id, Clock::now() + impl.options_.request_timeout);
      if (!reply) return std::move(reply).take_error();
      if (!*reply) {
        return make_error(ErrorCode::unavailable, "no statistics facts within " +
                                                      millis(impl.options_.request_timeout) + impl.undecodable_note());
      }
      BrokerMessage& message = **reply;
      if (message.kind == BrokerMessage::Kind::error) return std::move(message.error);
      if (message.kind != BrokerMessage::Kind::statistics_facts) {
        return make_error(ErrorCode::malformed,
                          "the broker answered a statistics facts request with neither facts nor an error");
      }
      auto page = decode_statistics_facts(message.statistics_facts);
      if (!page) return std::move(page).take_error();
      const std::uint32_t next = page->next_offset;
      pages.push_back(std::move(page).value());
      if (next == 0) return pages;
      if (next <= query.offset) return make_error(ErrorCode::malformed, "the broker's next page goes backwards");
      query.offset = next;
    }
  });
}

std::vector<Error> Client::take_rejected_deliveries() { return std::exchange(impl_->rejected_, {}); }

std::vector<Error> Client::take_outbox_refusals() { return std::exchange(impl_->outbox_refusals_, {}); }

Result<std::size_t> Client::unreceipted_count() const { return impl_->state_.queued_count(); }

Result<std::vector<OutboxMessage>> Client::outbox() const {
  auto queued = impl_->state_.queued();
  if (!queued) return std::move(queued).take_error();
  std::vector<OutboxMessage> messages;
  messages.reserve(queued->size());
  for (auto& entry : *queued) {
    messages.push_back(OutboxMessage{entry.message_id, entry.queued_at_ms, entry.next_try_at_ms, std::move(entry.reason)});
  }
  return messages;
}

const Identity& Client::identity() const { return impl_->identity_; }

}  // namespace fpx::client
