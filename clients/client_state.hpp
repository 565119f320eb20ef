// The client's local state in one SQLite file: the outbox (messages kept until
// the broker's receipt) and the ids of messages the application confirmed it
// had stored (so a resend of one is confirmed without a second hand-over,
// across crashes). Internal to fpx_client.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fpx/ids.hpp"
#include "fpx/result.hpp"

struct sqlite3;

namespace fpx::client {

struct OutboxEntry {
  MessageId message_id;
  Bytes envelope;
  std::int64_t queued_at_ms = 0;
  // Not resent before this (Unix ms; 0: at once): the time the broker gave
  // with its last transient refusal (retryAfterMs), which `reason` holds.
  std::int64_t next_try_at_ms = 0;
  std::string reason;
};

class ClientState {
 public:
  // `vfs`: the SQLite VFS to open the file through; empty for the default
  // one (tests pass a power-cut shim, tests/support/power_cut_vfs.hpp).
  static Result<ClientState> open(const std::string& path, const std::string& vfs = {});

  ClientState(ClientState&&) noexcept;
  ClientState& operator=(ClientState&&) noexcept;
  ~ClientState();

  // Written durably BEFORE the message is sent, so a crash between send and
  // receipt leaves it queued for the next connect. Re-adding a queued id
  // replaces its bytes; a receipted or refused entry is left as it is.
  Status add_to_outbox(const MessageId& id, ByteView envelope);
  Status mark_receipted(const MessageId& id, ByteView signed_receipt);
  // The broker refused the message for good (not a transient error): it is
  // not resent, and the reason stays beside it for whoever looks.
  Status mark_refused(const MessageId& id, const std::string& reason);
  // The broker refused the message for now (quota_exceeded or rate_limited
  // with retryAfterMs, unavailable, ...): it stays queued, and is not
  // resent before `next_try_at_ms` (Unix ms), even by a later process.
  Status mark_waiting(const MessageId& id, const std::string& reason, std::int64_t next_try_at_ms);
  Result<std::vector<OutboxEntry>> queued() const;
  Result<std::size_t> queued_count() const;

  // Records, in one durable transaction (fsync'd before it returns), that
  // the application has stored these messages. Called only when the
  // application says so (Client::confirm), never at hand-over: an id
  // recorded here is never handed over again, so recording it any earlier
  // would lose the message if the application failed to store it.
  Status record_stored(const std::vector<MessageId>& ids);
  // True when the application confirmed it stored this message: a resend
  // is confirmed to the broker without a second hand-over.
  Result<bool> was_stored(const MessageId& id) const;

 private:
  struct DbCloser {
    void operator()(sqlite3* db) const;
  };
  explicit ClientState(sqlite3* db) : db_(db) {}
  std::unique_ptr<sqlite3, DbCloser> db_;
};

}  // namespace fpx::client
