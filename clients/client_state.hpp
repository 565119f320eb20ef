// The client's local state in one SQLite file: the outbox (messages kept until
// the broker's receipt) and the ids of messages handed to the application
// (so each is handed over once, across crashes). Internal to fpx_client.
#pragma once

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
};

class ClientState {
 public:
  static Result<ClientState> open(const std::string& path);

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
  Result<std::vector<OutboxEntry>> queued() const;
  Result<std::size_t> queued_count() const;

  // True when newly recorded: the message may be handed to the application.
  // False when it was handed over before (a re-delivery).
  Result<bool> record_delivered(const MessageId& id);

 private:
  struct DbCloser {
    void operator()(sqlite3* db) const;
  };
  explicit ClientState(sqlite3* db) : db_(db) {}
  std::unique_ptr<sqlite3, DbCloser> db_;
};

}  // namespace fpx::client
