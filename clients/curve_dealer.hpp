// A ZeroMQ DEALER over CURVE with a socket monitor attached before connect():
// the transport half of talking to the broker, without any message format.
// A refused CURVE handshake (ZAP said no, or a wrong broker key) becomes an
// `unauthorized` "handshake refused" error instead of a silent hang
// (TOOLCHAIN traps 9 and 17). Internal to fpx_client; not installed.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <zmq.hpp>

#include "fpx/identity.hpp"
#include "fpx/result.hpp"

namespace fpx::client {

struct CurveDealerOptions {
  std::string endpoint;
  CurvePublicKey server_key{};
  CurveKeyPair own_keys;
  std::chrono::milliseconds handshake_timeout{5000};
  // Largest message accepted from the peer: libzmq drops the connection on a
  // bigger one, so a broken or hostile peer cannot make us buffer without end.
  std::int64_t max_message_bytes = 8 * 1024 * 1024;
  // Who is refused, for the error text ("the CURVE key of this observer (id)").
  std::string principal = "this participant";
  // Why the broker may refuse that key, for the same text.
  std::string not_admitted = "is not admitted at this endpoint";
  // Appended to the text of a refusal by ZAP, e.g. what else is refused that way.
  std::string refusal_note;
  // An earlier session of this client completed a handshake under the same
  // keys (failover moves to another endpoint with a new dealer): a
  // connection then dropped mid-handshake is a broker starting or being
  // killed, not a wrong key, and is not taken for a refusal.
  bool keys_proven = false;
};

class CurveDealer {
 public:
  using Clock = std::chrono::steady_clock;

  CurveDealer() = default;
  CurveDealer(const CurveDealer&) = delete;
  CurveDealer& operator=(const CurveDealer&) = delete;
  ~CurveDealer();

  // Creates the socket, attaches the monitor, connects. Throws zmq::error_t
  // only on a bug or resource exhaustion; the caller guards.
  void open(const CurveDealerOptions& options);

  // Waits until the CURVE handshake (including ZAP) has succeeded, or fails
  // with "handshake refused" / "did not answer" at the deadline.
  Status wait_for_handshake(Clock::time_point deadline);

  // One frame, never blocking (the DEALER queues while it (re)connects).
  Status send(const void* data, std::size_t size);

  // The next single-frame message, nullopt at the deadline; fails when the
  // handshake was refused. Multipart messages break the one-frame rule and
  // are dropped (counted in dropped_frames()).
  Result<std::optional<zmq::message_t>> receive(Clock::time_point deadline);

  // Waits until a frame or a monitor event arrives, or the deadline passes,
  // without taking either: for a caller that drains with receive() itself.
  void wait_for_activity(Clock::time_point deadline);

  // Reads the monitor's pending events; then refusal() and handshakes() are current.
  void read_events() { read_monitor(); }
  // The refusal of the latest handshake; cleared when a later one succeeds.
  const std::optional<Error>& refusal() const { return refusal_; }
  // CURVE handshakes that succeeded: more than one means the connection was
  // made again (a broker restart), which a peer may need to act on.
  std::uint64_t handshakes() const { return handshakes_; }

  bool tcp_connected() const { return tcp_connected_; }
  // Since when no handshake is up (since open(), or since the last
  // disconnect); nothing while one is. A client with several brokers
  // (failover) moves on when this lasts.
  std::optional<Clock::time_point> down_since() const {
    return up_ ? std::nullopt : std::optional<Clock::time_point>(down_since_);
  }
  std::size_t dropped_frames() const { return dropped_frames_; }
  const std::string& endpoint() const { return options_.endpoint; }

 private:
  void read_monitor();
  void on_monitor_event(std::uint16_t event, std::uint32_t value);

  CurveDealerOptions options_;
  // The context is declared before the sockets so it is destroyed after them.
  zmq::context_t context_{1};
  zmq::socket_t socket_;
  zmq::socket_t monitor_;
  std::optional<Error> refusal_;
  std::uint64_t handshakes_ = 0;
  bool tcp_connected_ = false;
  bool up_ = false;
  Clock::time_point down_since_ = Clock::now();
  std::size_t dropped_frames_ = 0;
};

}  // namespace fpx::client
