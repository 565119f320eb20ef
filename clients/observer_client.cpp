// fpx_client for observers: the read-only observer protocol
// (schemas/observer.capnp) over CURVE, with every record and checkpoint
// verified before it is handed over. Guarantees: top of fpx/observer_client.hpp.
#include "fpx/observer_client.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <utility>

#include <capnp/message.h>
#include <kj/exception.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "curve_dealer.hpp"
#include "fpx/envelope.hpp"
#include "fpx/transparency_log.hpp"
#include "fpx/trust_store.hpp"
#include "fpx/frames.hpp"
#include "fpx/public_records.hpp"

namespace fpx::client {

namespace {

using Clock = std::chrono::steady_clock;

std::string millis(std::chrono::milliseconds duration) { return std::to_string(duration.count()) + " ms"; }

// An ObserverReply as plain values (fpx/frames.hpp decodes it): no Cap'n
// Proto reader outlives the buffer it reads.
using Reply = ObserverReply;

Error record_error(ErrorCode code, std::uint64_t sequence, const std::string& what) {
  return make_error(code, "feed record " + std::to_string(sequence) + " refused: " + what);
}

}  // namespace

Result<Ed25519PublicKey> ed25519_key_of(const Certificate& certificate) {
  Ed25519PublicKey key{};
  std::size_t length = key.size();
  EVP_PKEY* public_key = X509_get0_pubkey(certificate.get());
  if (public_key == nullptr || EVP_PKEY_get_raw_public_key(public_key, key.data(), &length) != 1 ||
      length != key.size()) {
    return make_error(ErrorCode::bad_key, "the certificate " + certificate.subject_text() + " has no Ed25519 key");
  }
  return key;
}

Result<FeedRecord> verify_feed_record(const Ed25519PublicKey& broker_key, std::uint64_t sequence, std::string kind,
                                      std::string signed_record, Bytes signature) {
  // The signature first: nothing the record says is worth reading before.
  // The context ("fpx/v1/feed\0") keeps a feed signature from ever passing
  // for an envelope or receipt signature.
  if (!ed25519_verify(broker_key, feed_signing_input(as_bytes(signed_record)), signature)) {
    return record_error(ErrorCode::bad_signature, sequence,
                        "its signature does not verify with the broker's key (altered, or not from this broker)");
  }
  // The fields every record shares, through the one codec of the feed's
  // records (protocol/fpx/public_records.hpp): one JSON object, no key
  // twice, bounded nesting, whole numbers up to 2^53.
  auto head = records::decode_record_head(signed_record);
  if (!head) return record_error(head.error().code, sequence, head.error().message);
  FeedRecord record;
  record.sequence = sequence;
  record.kind = std::move(kind);
  record.log_index = head->log_index;
  record.leaf_hash = head->leaf_hash;
  record.message_log_index = head->message_log_index;
  record.message_leaf_hash = head->message_leaf_hash;
  record.tree_size = head->tree_size;
  record.note = std::move(head->note);
  // The frame's sequence and kind are not signed; only the JSON's are. They
  // must agree, or a valid record could be replayed under another number.
  if (head->sequence != sequence) {
    return record_error(ErrorCode::malformed, sequence,
                        "its signed JSON says sequence " + std::to_string(head->sequence));
  }
  if (head->kind != record.kind) {
    return record_error(ErrorCode::malformed, sequence,
                        "it is framed as \"" + record.kind + "\" but its signed JSON says \"" + head->kind + "\"");
  }
  // A record of an accepted message names its leaf; a public record the
  // broker wrote itself (logIndex alone) is its own leaf.
  if (record.leaf_hash && !record.log_index) {
    return record_error(ErrorCode::malformed, sequence, "it has a \"leafHash\" without a \"logIndex\"");
  }
  if (record.message_log_index.has_value() != record.message_leaf_hash.has_value()) {
    return record_error(ErrorCode::malformed, sequence,
                        "it names its message's leaf by only one of \"messageLogIndex\" and \"messageLeafHash\"");
  }
  if (record.message_log_index && (!record.log_index || record.leaf_hash)) {
    return record_error(ErrorCode::malformed, sequence,
                        "it names its message's leaf but is not a leaf itself (a \"logIndex\" without \"leafHash\")");
  }
  if (record.kind == "checkpoint" && (!record.tree_size || !record.note)) {
    return record_error(ErrorCode::malformed, sequence, "a checkpoint record without its \"treeSize\" and \"note\"");
  }
  // A record that is its own leaf is bound to it: the leaf hash is computed
  // here from the very bytes that were signed and shown.
  if (record.log_index && !record.leaf_hash) {
    record.leaf_hash = leaf_hash(public_record_leaf_data(signed_record));
    record.bound = true;
  }
  record.signed_record = std::move(signed_record);
  record.signature = std::move(signature);
  return record;
}

std::string_view cover_failure_name(CoverFailure failure) {
  switch (failure) {
    case CoverFailure::not_covered: return "not_covered";
    case CoverFailure::pending_too_long: return "pending_too_long";
    case CoverFailure::unbound_after_bound: return "unbound_after_bound";
  }
  return "unknown";
}

std::string CoverEvidence::describe() const {
  std::string text = "feed record " + std::to_string(sequence) + " (" + kind + ") names log index " +
                     std::to_string(log_index);
  switch (failure) {
    case CoverFailure::not_covered:
      text += " but the next checkpoint after it (feed record " + std::to_string(checkpoint_sequence.value_or(0)) +
              ") has tree size " + std::to_string(checkpoint_size.value_or(0)) +
              ": the broker signed a record that is not in its log";
      break;
    case CoverFailure::pending_too_long:
      text += " and no checkpoint covers it " + std::to_string(waited_ms / 1000) +
              " s after it was fetched (the latest has tree size " + std::to_string(checkpoint_size.value_or(0)) +
              "): the broker signed a record it has not logged; if the profile's checkpoint interval is shorter "
              "than the exchange's, pass --checkpoint-interval";
      break;
    case CoverFailure::unbound_after_bound:
      text += " but is not bound to its leaf (it names only its message's salted leaf), though an earlier "
              "record of the feed was: its content is not proven to be what was logged";
      break;
  }
  return text + "; the record: " + signed_record;
}

std::optional<std::uint64_t> highest_leaf_index(const FeedRecord& record) {
  std::optional<std::uint64_t> highest = record.log_index;
  if (record.message_log_index && (!highest || *record.message_log_index > *highest)) highest = record.message_log_index;
  return highest;
}

Status FeedCover::add(const FeedRecord& record, std::int64_t fetched_at_ms) {
  if (failure_) return make_error(ErrorCode::bad_signature, failure_->describe());
  auto fail = [&](CoverEvidence evidence) -> Status {
    failure_ = std::move(evidence);
    return make_error(ErrorCode::bad_signature, failure_->describe());
  };
  if (record.kind == "checkpoint" && record.tree_size) {
    if (highest_waiting_) {
      const std::uint64_t index = *highest_leaf_index(*highest_waiting_);
      if (index >= *record.tree_size) {
        return fail({CoverFailure::not_covered, highest_waiting_->sequence, highest_waiting_->kind, index,
                     highest_waiting_->signed_record, record.sequence, record.tree_size, 0});
      }
    }
    covered_count_ += waiting_count_;
    waiting_count_ = 0;
    highest_waiting_.reset();
    return {};
  }
  auto index = highest_leaf_index(record);
  if (!index) return {};
  // Issue 12's kinds (an alert's status, a state's statement on its
  // figures) came after content binding: never unbound.
  const bool always_bound = record.kind == "public-alert-status" || record.kind == "figures-statement";
  if (record.kind == "public-alert" || record.kind == "campaign-report" || always_bound) {
    if (record.bound) {
      seen_bound_public_ = true;
    } else {
      ++unbound_count_;
      // A broker that binds records may not drop back to unbound ones:
      // that would be a way to show figures the log does not hold.
      if (seen_bound_public_ || always_bound) {
        return fail({CoverFailure::unbound_after_bound, record.sequence, record.kind, *index, record.signed_record,
                     std::nullopt, std::nullopt, 0});
      }
    }
  }
  if (waiting_count_ == 0 || fetched_at_ms < oldest_waiting_at_ms_) oldest_waiting_at_ms_ = fetched_at_ms;
  ++waiting_count_;
  if (!highest_waiting_ || *index > *highest_leaf_index(*highest_waiting_)) highest_waiting_ = record;
  return {};
}

std::optional<CoverEvidence> FeedCover::finish(std::uint64_t latest_size, std::int64_t now_ms, std::int64_t grace_ms) {
  if (failure_) return failure_;
  if (waiting_count_ == 0) return std::nullopt;
  const std::uint64_t index = *highest_leaf_index(*highest_waiting_);
  if (index < latest_size) {
    // The latest checkpoint was signed after the tail's leaves were appended.
    covered_count_ += waiting_count_;
    waiting_count_ = 0;
    highest_waiting_.reset();
    return std::nullopt;
  }
  // Measured from the oldest record of the tail: an honest broker checkpoints
  // within its interval of the first, so none may wait longer.
  const std::int64_t waited = now_ms - oldest_waiting_at_ms_;
  if (waited <= grace_ms) return std::nullopt;  // pending
  failure_ = CoverEvidence{CoverFailure::pending_too_long, highest_waiting_->sequence, highest_waiting_->kind, index,
                           highest_waiting_->signed_record, std::nullopt, latest_size, waited};
  return failure_;
}

Result<SignedCheckpoint> verify_checkpoint_note(std::string note, std::string_view origin,
                                                const Ed25519PublicKey& broker_key) {
  // The key name is the origin line: read it from the note only to compare
  // it with the one expected, never to choose which name to trust.
  const std::string_view first_line = std::string_view(note).substr(0, note.find('\n'));
  if (first_line != origin) {
    std::string message = "the checkpoint is for the log \"";
    message.append(first_line).append("\", not the expected \"").append(origin);
    message.append("\" (check the profile's log origin, or you are talking to another log)");
    return make_error(ErrorCode::malformed, message);
  }
  auto checkpoint = parse_and_verify_checkpoint(note, origin, broker_key);
  if (!checkpoint) return std::move(checkpoint).take_error();
  return SignedCheckpoint{std::move(checkpoint).value(), std::move(note)};
}

// --- the session ------------------------------------------------------------

struct ObserverClient::Impl {
  Impl(Identity identity, const ObserverOptions& options, Ed25519PublicKey broker_key)
      : identity_(std::move(identity)), options_(options), broker_key_(broker_key) {}

  Identity identity_;
  ObserverOptions options_;
  Ed25519PublicKey broker_key_{};
  // Made anew for each broker tried (failover: a fresh socket and monitor).
  std::optional<CurveDealer> dealer_;
  // Every observer endpoint of the exchange (options.endpoint, then
  // options.endpoints) and the one in use.
  std::vector<std::string> endpoints_;
  std::size_t current_ = 0;
  CurvePublicKey curve_key_{};
  std::uint64_t next_request_id_ = 1;  // 0 is the broker's "could not tie it to a request"
  // The cover of the feed as followed from cover_next_ on: a follow() that
  // continues where the last one stopped carries it on, any other starts over.
  FeedCover cover_;
  std::uint64_t cover_next_ = 0;
  std::size_t undecodable_ = 0;
  std::string last_undecodable_;

  std::string undecodable_note() const {
    if (undecodable_ == 0 && dealer_->dropped_frames() == 0) return "";
    return "; " + std::to_string(undecodable_ + dealer_->dropped_frames()) +
           " undecodable frame(s) from the broker were dropped" +
           (last_undecodable_.empty() ? std::string() : ", last: " + last_undecodable_);
  }

  // Sends one request and waits for the reply with its id. Replies to
  // earlier requests that timed out are skipped. A requestId-0 error is the
  // broker refusing a frame it could not read the id of: with one request in
  // flight, it is this one's answer.
  // Connects to the endpoint in use, else to the next ones in turn: the
  // first whose handshake succeeds (only the leading broker binds its
  // endpoints, PROTOCOL §2.1). A refused handshake is final: every broker of
  // the exchange has the same key and enrolment.
  Status open_any() {
    std::optional<Error> last;
    for (std::size_t tried = 0; tried < endpoints_.size(); ++tried) {
      const std::size_t index = (current_ + tried) % endpoints_.size();
      CurveDealerOptions dealer;
      dealer.endpoint = endpoints_[index];
      dealer.server_key = curve_key_;
      dealer.own_keys = identity_.curve();
      dealer.handshake_timeout = options_.handshake_timeout;
      dealer.principal = "this observer (" + identity_.participant().id.str() + ")";
      dealer_.reset();  // closes the previous socket and its monitor first
      dealer_.emplace();
      dealer_->open(dealer);
      // The observer protocol has no ping: the handshake event (after ZAP
      // admitted the key) is what proves the session is up.
      auto up = dealer_->wait_for_handshake(Clock::now() + options_.handshake_timeout);
      if (up || up.error().code == ErrorCode::unauthorized) {
        current_ = index;
        return up;
      }
      last = std::move(up).take_error();
    }
    current_ = (current_ + endpoints_.size() - 1) % endpoints_.size();  // the socket left open
    if (endpoints_.size() > 1) {
      last->message = "no broker of the exchange answered (tried " + std::to_string(endpoints_.size()) +
                      " endpoints; the last: " + last->message + ")";
    }
    return *std::move(last);
  }

  // One request, and with several brokers (failover) the same request to
  // the next broker that answers when the one in use is gone or silent:
  // every observer request is a read, so asking again is harmless.
  Result<Reply> round_trip(const Bytes& bytes, std::uint64_t request_id, const char* what) {
    for (std::size_t attempt = 0;; ++attempt) {
      const auto down = dealer_->down_since();
      const bool gone = down && Clock::now() - *down >= options_.handshake_timeout;
      if (endpoints_.size() > 1 && (attempt > 0 || gone)) {
        current_ = (current_ + 1) % endpoints_.size();
        if (auto opened = open_any(); !opened) return std::move(opened).take_error();
      }
      auto reply = round_trip_once(bytes, request_id, what);
      if (reply || reply.error().code != ErrorCode::unavailable || attempt + 1 >= endpoints_.size()) return reply;
    }
  }

  Result<Reply> round_trip_once(const Bytes& bytes, std::uint64_t request_id, const char* what) {
    if (auto sent = dealer_->send(bytes.data(), bytes.size()); !sent) return std::move(sent).take_error();
    const auto deadline = Clock::now() + options_.request_timeout;
    for (;;) {
      auto frame = dealer_->receive(deadline);
      if (!frame) return std::move(frame).take_error();
      if (!*frame) {
        return make_error(ErrorCode::unavailable, std::string("no answer to ") + what + " within " +
                                                      millis(options_.request_timeout) + " from " +
                                                      dealer_->endpoint() + undecodable_note());
      }
      Result<Reply> reply = make_error(ErrorCode::internal, "");
      try {
        reply = decode_observer_reply(ByteView(static_cast<const std::uint8_t*>((*frame)->data()), (*frame)->size()));
      } catch (const kj::Exception& exception) {
        reply = make_error(ErrorCode::malformed, exception.getDescription().cStr());
      }
      if (!reply) {
        ++undecodable_;
        last_undecodable_ = reply.error().message;
        continue;
      }
      if (reply->request_id == request_id) return reply;
      if (reply->request_id == 0 && reply->kind == Reply::Kind::error) return reply;
    }
  }

  template <typename Fill>
  Result<Reply> request(const char* what, Reply::Kind expected, Fill fill) {
    const std::uint64_t request_id = next_request_id_++;
    ObserverQuery query;
    query.request_id = request_id;
    fill(query);
    auto reply = round_trip(encode_observer_request(query), request_id, what);
    if (!reply) return reply;
    if (reply->kind == Reply::Kind::error) return std::move(reply->error);
    if (reply->kind != expected) {
      return make_error(ErrorCode::malformed, std::string("the broker answered ") + what + " with another kind of reply");
    }
    return reply;
  }

  Result<std::vector<Sha256Digest>> proof_of(Reply& reply) {
    std::vector<Sha256Digest> hashes;
    hashes.reserve(reply.hashes.size());
    for (const auto& hash : reply.hashes) {
      if (hash.size() != Sha256Digest{}.size()) {
        return make_error(ErrorCode::malformed, "a proof hash is " + std::to_string(hash.size()) + " bytes, not 32");
      }
      Sha256Digest digest{};
      std::copy(hash.begin(), hash.end(), digest.begin());
      hashes.push_back(digest);
    }
    return hashes;
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

// The broker's chain against the root (signatures, validity now, broker
// role, pinned key); returns its signing key and checks or supplies the CURVE key.
Result<Ed25519PublicKey> verify_broker(const ObserverOptions& options, CurvePublicKey& curve_key) {
  auto broker = verify_broker_chain(options.broker_chain, options.root_ca, options.broker_pins);
  if (!broker) return std::move(broker).take_error();
  const ParticipantInfo* signer = &broker->participant;
  const bool pinned = std::any_of(curve_key.begin(), curve_key.end(), [](auto byte) { return byte != 0; });
  if (pinned && curve_key != signer->curve_public_key) {
    return make_error(ErrorCode::bad_key, "the broker CURVE key given (" + z85_encode(curve_key) +
                                              ") is not the one in the broker's certificate (" +
                                              z85_encode(signer->curve_public_key) + ")");
  }
  curve_key = signer->curve_public_key;
  return broker->signing_key;
}

}  // namespace

ObserverClient::ObserverClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ObserverClient::~ObserverClient() = default;

Result<std::unique_ptr<ObserverClient>> ObserverClient::connect(Identity identity, const ObserverOptions& options) {
  if (options.endpoint.empty()) return make_error(ErrorCode::invalid_argument, "no observer endpoint given");
  if (options.root_ca.empty()) return make_error(ErrorCode::invalid_argument, "no root CA given");
  if (!valid_note_key_name(options.log_origin)) {
    return make_error(ErrorCode::invalid_argument, "the log origin \"" + options.log_origin +
                                                       "\" is not a valid note key name (no spaces or '+')");
  }
  return guarded<std::unique_ptr<ObserverClient>>([&]() -> Result<std::unique_ptr<ObserverClient>> {
    CurvePublicKey curve_key = options.broker_curve_key;
    auto broker_key = verify_broker(options, curve_key);
    if (!broker_key) return std::move(broker_key).take_error();
    auto impl = std::make_unique<Impl>(std::move(identity), options, *broker_key);
    impl->curve_key_ = curve_key;
    impl->endpoints_.push_back(options.endpoint);
    for (const auto& endpoint : options.endpoints) {
      if (std::find(impl->endpoints_.begin(), impl->endpoints_.end(), endpoint) == impl->endpoints_.end()) {
        impl->endpoints_.push_back(endpoint);
      }
    }
    if (auto up = impl->open_any(); !up) return std::move(up).take_error();
    return std::unique_ptr<ObserverClient>(new ObserverClient(std::move(impl)));
  });
}

Result<FeedPage> ObserverClient::follow(std::uint64_t from_sequence, std::uint32_t max_records) {
  return guarded<FeedPage>([&]() -> Result<FeedPage> {
    const std::uint64_t from = std::max<std::uint64_t>(from_sequence, 1);
    const std::uint32_t max = std::clamp<std::uint32_t>(max_records, 1, kMaxFeedRecordsPerPage);
    auto reply = impl_->request("follow", Reply::Kind::page, [&](ObserverQuery& query) {
      query.kind = ObserverQuery::Kind::follow;
      query.from_sequence = from;
      query.max_records = max;
    });
    if (!reply) return std::move(reply).take_error();
    if (reply->records.size() > max) {
      return make_error(ErrorCode::malformed, "the broker sent " + std::to_string(reply->records.size()) +
                                                  " records where at most " + std::to_string(max) + " were asked for");
    }
    FeedPage page;
    page.next_sequence = from;
    // Every record must be covered by the next checkpoint after it
    // (FeedCover); a page that breaks it is refused whole, and the cover is
    // kept only once the page is accepted.
    FeedCover cover = from == impl_->cover_next_ ? impl_->cover_ : FeedCover{};
    const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count();
    for (auto& raw : reply->records) {
      // In order and without gaps: a missing number is a record withheld.
      if (raw.sequence != page.next_sequence) {
        return make_error(ErrorCode::malformed, "the broker sent feed record " + std::to_string(raw.sequence) +
                                                    " where " + std::to_string(page.next_sequence) +
                                                    " was due: the feed has a gap or is out of order");
      }
      auto record = verify_feed_record(impl_->broker_key_, raw.sequence, std::move(raw.kind),
                                       std::move(raw.signed_record), std::move(raw.signature));
      if (!record) return std::move(record).take_error();
      if (record->kind == "checkpoint") {
        // The size the cover is checked against is the signed note's, not
        // merely the record's field.
        auto note = verify_checkpoint_note(*record->note, impl_->options_.log_origin, impl_->broker_key_);
        if (!note) return record_error(note.error().code, record->sequence, "its note: " + note.error().message);
        if (note->checkpoint.size != *record->tree_size) {
          return record_error(ErrorCode::malformed, record->sequence,
                              "its \"treeSize\" " + std::to_string(*record->tree_size) + " is not its note's " +
                                  std::to_string(note->checkpoint.size));
        }
      }
      if (record->kind == "cosigned-checkpoint") {
        // A checkpoint's cosignatures, published once its witnesses answered
        // (docs/PROTOCOL.md §11): the same note, signed by the log, with
        // cosignature lines added. Who signed is checked where it matters,
        // on the head an observer anchors on (latest_checkpoint).
        if (!record->note || !record->tree_size) {
          return record_error(ErrorCode::malformed, record->sequence, "a cosigned checkpoint without \"treeSize\" and \"note\"");
        }
        auto note = verify_checkpoint_note(*record->note, impl_->options_.log_origin, impl_->broker_key_);
        if (!note) return record_error(note.error().code, record->sequence, "its note: " + note.error().message);
        if (note->checkpoint.size != *record->tree_size) {
          return record_error(ErrorCode::malformed, record->sequence,
                              "its \"treeSize\" " + std::to_string(*record->tree_size) + " is not its note's " +
                                  std::to_string(note->checkpoint.size));
        }
      }
      if (auto covered = cover.add(*record, now_ms); !covered) return std::move(covered).take_error();
      page.records.push_back(std::move(record).value());
      ++page.next_sequence;
    }
    impl_->cover_ = std::move(cover);
    impl_->cover_next_ = page.next_sequence;
    if (!page.records.empty() && reply->next_sequence != page.next_sequence) {
      return make_error(ErrorCode::malformed, "the broker says the feed continues at " +
                                                  std::to_string(reply->next_sequence) + " after record " +
                                                  std::to_string(page.next_sequence - 1));
    }
    return page;
  });
}

Result<std::optional<CosignatureReport>> require_witnessed(std::string_view note, std::span<const WitnessKey> witnesses,
                                                           std::size_t quorum) {
  if (witnesses.empty()) return std::optional<CosignatureReport>{};
  auto report = require_cosignatures(note, witnesses, quorum);
  if (!report) return std::move(report).take_error();
  return std::optional<CosignatureReport>(std::move(report).value());
}

Result<SignedCheckpoint> ObserverClient::latest_checkpoint() {
  return guarded<SignedCheckpoint>([&]() -> Result<SignedCheckpoint> {
    auto reply = impl_->request("latestCheckpoint", Reply::Kind::checkpoint,
                                [](ObserverQuery& query) { query.kind = ObserverQuery::Kind::latest_checkpoint; });
    if (!reply) return std::move(reply).take_error();
    auto checkpoint = verify_checkpoint_note(std::move(reply->note), impl_->options_.log_origin, impl_->broker_key_);
    if (!checkpoint) return checkpoint;
    // The head an observer anchors on must be witnessed when it requires it:
    // a broker showing this observer a fork cannot get it cosigned by k
    // witnesses that each saw the other history.
    auto witnessed = require_witnessed(checkpoint->note, impl_->options_.witnesses, impl_->options_.witness_quorum);
    if (!witnessed) return std::move(witnessed).take_error();
    checkpoint->cosignatures = std::move(witnessed).value();
    return checkpoint;
  });
}

Result<std::vector<Sha256Digest>> ObserverClient::inclusion_proof(std::uint64_t leaf_index, std::uint64_t tree_size) {
  return guarded<std::vector<Sha256Digest>>([&]() -> Result<std::vector<Sha256Digest>> {
    auto reply = impl_->request("inclusionProof", Reply::Kind::proof, [&](ObserverQuery& query) {
      query.kind = ObserverQuery::Kind::inclusion_proof;
      query.leaf_index = leaf_index;
      query.tree_size = tree_size;
    });
    if (!reply) return std::move(reply).take_error();
    return impl_->proof_of(*reply);
  });
}

Result<std::vector<Sha256Digest>> ObserverClient::consistency_proof(std::uint64_t first_tree_size,
                                                                    std::uint64_t second_tree_size) {
  return guarded<std::vector<Sha256Digest>>([&]() -> Result<std::vector<Sha256Digest>> {
    auto reply = impl_->request("consistencyProof", Reply::Kind::proof, [&](ObserverQuery& query) {
      query.kind = ObserverQuery::Kind::consistency_proof;
      query.first_tree_size = first_tree_size;
      query.second_tree_size = second_tree_size;
    });
    if (!reply) return std::move(reply).take_error();
    return impl_->proof_of(*reply);
  });
}

const Ed25519PublicKey& ObserverClient::broker_key() const { return impl_->broker_key_; }

const Identity& ObserverClient::identity() const { return impl_->identity_; }

}  // namespace fpx::client
