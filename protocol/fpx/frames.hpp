// Every frame both ends exchange, as plain C++ values, with one encoder and
// one decoder per kind: participant requests and broker replies
// (schemas/transport.capnp), observer requests and replies
// (schemas/observer.capnp). The broker, the client library, the observer
// client, the bench and the fuzz targets all call these, so the two ends
// cannot drift apart. Decoders take untrusted bytes (fpx/aligned_reader.hpp:
// reader limits, no throw) and return Result; no Cap'n Proto reader escapes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fpx/ids.hpp"
#include "fpx/result.hpp"
#include "fpx/statistics_facts.hpp"

namespace fpx {

// --- participant -> broker ---------------------------------------------------

// A participant has at most max_in_flight deliveries unconfirmed; a longer
// confirm list only makes the broker run one UPDATE per id (`too_large`).
inline constexpr std::size_t kMaxConfirmIds = 4096;

struct ClientRequest {
  enum class Kind { submit, confirm, status, ping, log_proof, statistics_facts };
  std::uint64_t request_id = 0;             // echoed in the reply
  Kind kind = Kind::ping;
  Bytes envelope;                           // submit
  std::vector<std::uint64_t> delivery_ids;  // confirm
  std::optional<MessageId> status_of;       // status
  std::optional<MessageId> log_proof_of;    // log_proof
  StatisticsFactsQuery statistics_facts;    // statistics_facts (fpx/statistics_facts.hpp)
};

// Refuses an unknown request kind as `unsupported_version`, a status query
// without a 16-byte id as `malformed`, too many confirms as `too_large`.
Result<ClientRequest> decode_client_frame(ByteView frame);
Bytes encode_client_frame(const ClientRequest& request);  // a status request needs status_of

Bytes encode_submit(std::uint64_t request_id, ByteView envelope);
Bytes encode_confirm(std::uint64_t request_id, const std::vector<std::uint64_t>& delivery_ids);
Bytes encode_status_query(std::uint64_t request_id, const MessageId& id);
Bytes encode_ping(std::uint64_t request_id);
Bytes encode_log_proof_query(std::uint64_t request_id, const MessageId& id);
Bytes encode_statistics_facts_query(std::uint64_t request_id, const StatisticsFactsQuery& query);

// --- broker -> participant ---------------------------------------------------

struct RecipientStatusRow {
  std::string recipient;
  std::string state;  // stored, delivered, confirmed, dead_letter
  std::int64_t updated_at_ms = 0;
  std::string lifecycle;
  std::string reason;
  friend bool operator==(const RecipientStatusRow&, const RecipientStatusRow&) = default;
};

struct BrokerReply {
  // unknown: a kind from a newer broker, which a client ignores.
  enum class Kind { receipt, error, delivery, status, pong, session_closed, log_proof, statistics_facts, unknown };
  std::uint64_t request_id = 0;  // 0: unsolicited (deliveries, session closed)
  Kind kind = Kind::unknown;
  // receipt: a SignedReceipt message of its own (flat bytes), opaque here;
  // fpx/verify_receipt.hpp reads it.
  Bytes signed_receipt;
  Error error;                          // error (a code none on the wire reads as internal)
  std::optional<MessageId> about;       // error: the message it is about, when known
  std::uint32_t retry_after_ms = 0;     // error with rate_limited
  std::uint64_t delivery_id = 0;        // delivery
  Bytes envelope;                       // delivery: the sender's envelope, byte for byte
  std::optional<MessageId> status_of;   // status
  std::vector<RecipientStatusRow> recipients;  // status
  std::string reason;                   // session_closed
  // pong: the largest ClientFrame (bytes) the broker reads, its
  // limits.max_message_bytes; 0: not announced (a broker older than the
  // field). A bigger frame makes the broker drop the connection unread.
  std::uint32_t max_frame_bytes = 0;
  // log_proof: a LogProof message of its own (flat bytes), opaque here;
  // fpx/message_log_proof.hpp reads and checks it.
  Bytes log_proof;
  // statistics_facts: a StatisticsFacts message of its own (flat bytes);
  // fpx/statistics_facts.hpp reads and checks it.
  Bytes statistics_facts;
};

Result<BrokerReply> decode_broker_frame(ByteView frame);

Bytes encode_error(std::uint64_t request_id, const Error& error, const std::optional<MessageId>& about,
                   std::uint32_t retry_after_ms = 0);
// `signed_receipt` is a SignedReceipt message (flat bytes), copied into the frame.
Bytes encode_receipt(std::uint64_t request_id, ByteView signed_receipt);
Bytes encode_delivery(std::uint64_t delivery_id, ByteView envelope);
Bytes encode_status(std::uint64_t request_id, const MessageId& id, const std::vector<RecipientStatusRow>& rows);
// `max_frame_bytes`: the broker's frame limit announced in the pong (0: none).
Bytes encode_pong(std::uint64_t request_id, std::uint32_t max_frame_bytes = 0);
Bytes encode_session_closed(const std::string& reason);
// Unsolicited, requestId 0: whether a connection is still there (a send to
// a peer that is gone fails at once); clients ignore it (decoded as unknown).
Bytes encode_probe();

// --- observer -> broker ------------------------------------------------------

// Requests are a few words; anything bigger is hostile (`too_large`).
inline constexpr std::size_t kMaxObserverRequestBytes = 4096;

struct ObserverQuery {
  enum class Kind { follow, latest_checkpoint, inclusion_proof, consistency_proof, unknown };
  std::uint64_t request_id = 0;
  Kind kind = Kind::unknown;        // unknown: a newer protocol's request, answered unsupported_version
  std::uint64_t from_sequence = 0;  // follow
  std::uint32_t max_records = 0;    // follow; 0 means a full page
  std::uint64_t leaf_index = 0;     // inclusion_proof
  std::uint64_t tree_size = 0;      // inclusion_proof
  std::uint64_t first_tree_size = 0;   // consistency_proof
  std::uint64_t second_tree_size = 0;  // consistency_proof
};

Result<ObserverQuery> decode_observer_request(ByteView frame);
Bytes encode_observer_request(const ObserverQuery& query);  // kind must not be unknown

// --- broker -> observer ------------------------------------------------------

// An RFC 9162 proof has at most 2 * 64 hashes for any 64-bit tree size; more
// is a broken or hostile broker trying to make an observer hash without end.
inline constexpr std::size_t kMaxProofHashes = 128;

struct FeedRecordFrame {
  std::uint64_t sequence = 0;
  std::string kind;           // statistics, public-alert, campaign-report, checkpoint, reveal
  std::string signed_record;  // JSON text, as signed
  Bytes signature;
  friend bool operator==(const FeedRecordFrame&, const FeedRecordFrame&) = default;
};

struct ObserverReply {
  enum class Kind { page, checkpoint, proof, error, unknown };
  std::uint64_t request_id = 0;
  Kind kind = Kind::unknown;  // unknown: a newer broker's answer
  std::vector<FeedRecordFrame> records;  // page
  std::uint64_t next_sequence = 0;       // page
  std::string note;                      // checkpoint: the C2SP signed note
  std::vector<Bytes> hashes;             // proof (at most kMaxProofHashes, else malformed)
  Error error;                           // error
  std::uint32_t retry_after_ms = 0;      // error with rate_limited
};

Result<ObserverReply> decode_observer_reply(ByteView frame);

Bytes encode_feed_page(std::uint64_t request_id, const std::vector<FeedRecordFrame>& records,
                       std::uint64_t next_sequence);
Bytes encode_checkpoint_reply(std::uint64_t request_id, const std::string& note);
Bytes encode_proof_reply(std::uint64_t request_id, const std::vector<Sha256Digest>& hashes);
Bytes encode_observer_error(std::uint64_t request_id, const Error& error, std::uint32_t retry_after_ms = 0);
// Unsolicited, requestId 0: whether an observer's connection is still there;
// observer clients ignore it (decoded as unknown).
Bytes encode_observer_probe();

}  // namespace fpx
