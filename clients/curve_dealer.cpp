#include "curve_dealer.hpp"

#include <algorithm>
#include <array>
#include <cstring>

namespace fpx::client {

namespace {

// Heartbeats find a dead broker (or a silently dropped NAT mapping) on an
// idle connection within kHeartbeatTimeoutMs instead of never.
constexpr int kHeartbeatIvlMs = 5'000;
constexpr int kHeartbeatTimeoutMs = 15'000;
// Reconnect quickly after a broker restart, backing off to 5 s so a client
// facing a down broker does not hammer it.
constexpr int kReconnectIvlMs = 100;
constexpr int kReconnectIvlMaxMs = 5'000;

// inproc names are scoped to a context, and each CurveDealer has its own.
constexpr const char* kMonitorAddress = "inproc://fpx-curve-dealer-monitor";
constexpr int kMonitorEvents = ZMQ_EVENT_CONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_DISCONNECTED;

std::string millis(std::chrono::milliseconds duration) { return std::to_string(duration.count()) + " ms"; }

}  // namespace

CurveDealer::~CurveDealer() {
  if (socket_) zmq_socket_monitor(socket_.handle(), nullptr, 0);
}

void CurveDealer::open(const CurveDealerOptions& options) {
  options_ = options;
  up_ = false;
  down_since_ = Clock::now();
  socket_ = zmq::socket_t(context_, zmq::socket_type::dealer);
  // linger=0: closing never blocks on unsent frames; nothing we send is
  // worth more than a retry by the caller.
  socket_.set(zmq::sockopt::linger, 0);
  // CURVE: the server key pins the broker (a man in the middle cannot
  // complete the handshake); our key pair is what the broker's ZAP handler
  // checks against enrollment and role.
  socket_.set(zmq::sockopt::curve_serverkey, zmq::const_buffer(options_.server_key.data(), options_.server_key.size()));
  const auto& keys = options_.own_keys;
  socket_.set(zmq::sockopt::curve_publickey, zmq::const_buffer(keys.public_key.data(), keys.public_key.size()));
  socket_.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(keys.secret_key.data(), keys.secret_key.size()));
  socket_.set(zmq::sockopt::maxmsgsize, options_.max_message_bytes);
  socket_.set(zmq::sockopt::heartbeat_ivl, kHeartbeatIvlMs);
  socket_.set(zmq::sockopt::heartbeat_timeout, kHeartbeatTimeoutMs);
  socket_.set(zmq::sockopt::heartbeat_ttl, kHeartbeatTimeoutMs);
  socket_.set(zmq::sockopt::reconnect_ivl, kReconnectIvlMs);
  socket_.set(zmq::sockopt::reconnect_ivl_max, kReconnectIvlMaxMs);
  // A peer that accepts TCP but never completes the handshake is dropped
  // (and retried) after this long instead of holding the connection forever.
  socket_.set(zmq::sockopt::handshake_ivl,
              static_cast<int>(std::max<std::int64_t>(options_.handshake_timeout.count(), 1)));

  // A refused CURVE handshake gives no error on send (TOOLCHAIN traps 9 and
  // 17): only a monitor attached BEFORE connect() reports it.
  if (zmq_socket_monitor(socket_.handle(), kMonitorAddress, kMonitorEvents) != 0) throw zmq::error_t();
  monitor_ = zmq::socket_t(context_, zmq::socket_type::pair);
  monitor_.set(zmq::sockopt::linger, 0);
  monitor_.connect(kMonitorAddress);
  socket_.connect(options_.endpoint);
}

Status CurveDealer::wait_for_handshake(Clock::time_point deadline) {
  for (;;) {
    read_monitor();
    if (refusal_) return *refusal_;
    if (handshakes_ > 0) return {};
    const auto now = Clock::now();
    if (now >= deadline) {
      const std::string hint = tcp_connected_
                                   ? " (a TCP connection was made but the CURVE handshake did not complete)"
                                   : " (no TCP connection: is the broker running, and is the endpoint right?)";
      return make_error(ErrorCode::unavailable, "the broker did not complete the handshake at " + options_.endpoint +
                                                    " within " + millis(options_.handshake_timeout) + hint);
    }
    std::array<zmq_pollitem_t, 1> items{{{monitor_.handle(), 0, ZMQ_POLLIN, 0}}};
    try {
      zmq::poll(items.data(), items.size(), std::chrono::ceil<std::chrono::milliseconds>(deadline - now));
    } catch (const zmq::error_t& error) {
      if (error.num() != EINTR) throw;
    }
  }
}

Status CurveDealer::send(const void* data, std::size_t size) {
  zmq::message_t message(data, size);
  // dontwait: a DEALER queues while (re)connecting; it would only block at
  // the high-water mark, and a caller must never hang on a send.
  if (!socket_.send(message, zmq::send_flags::dontwait)) {
    return make_error(ErrorCode::unavailable,
                      "the outgoing queue to " + options_.endpoint + " is full: the broker is not reading; try again later");
  }
  return {};
}

Result<std::optional<zmq::message_t>> CurveDealer::receive(Clock::time_point deadline) {
  for (;;) {
    read_monitor();
    if (refusal_) return *refusal_;
    zmq::message_t frame;
    if (socket_.recv(frame, zmq::recv_flags::dontwait)) {
      if (!frame.more()) return std::optional<zmq::message_t>(std::move(frame));
      // One frame per message is the rule; drop the rest of a multipart.
      zmq::message_t rest;
      do {
        if (!socket_.recv(rest, zmq::recv_flags::dontwait)) break;
      } while (rest.more());
      ++dropped_frames_;
      continue;
    }
    if (Clock::now() >= deadline) return std::optional<zmq::message_t>{};
    wait_for_activity(deadline);
  }
}

void CurveDealer::wait_for_activity(Clock::time_point deadline) {
  const auto now = Clock::now();
  if (now >= deadline) return;
  std::array<zmq_pollitem_t, 2> items{{{socket_.handle(), 0, ZMQ_POLLIN, 0}, {monitor_.handle(), 0, ZMQ_POLLIN, 0}}};
  try {
    zmq::poll(items.data(), items.size(), std::chrono::ceil<std::chrono::milliseconds>(deadline - now));
  } catch (const zmq::error_t& error) {
    if (error.num() != EINTR) throw;
  }
}

void CurveDealer::read_monitor() {
  for (;;) {
    zmq::message_t event;
    if (!monitor_.recv(event, zmq::recv_flags::dontwait)) return;
    zmq::message_t address;
    if (event.more()) (void)monitor_.recv(address, zmq::recv_flags::dontwait);
    if (event.size() < 6) continue;
    std::uint16_t id = 0;
    std::uint32_t value = 0;
    std::memcpy(&id, event.data(), sizeof id);
    std::memcpy(&value, static_cast<const char*>(event.data()) + 2, sizeof value);
    on_monitor_event(id, value);
  }
}

void CurveDealer::on_monitor_event(std::uint16_t event, std::uint32_t value) {
  const std::string causes = " Likely causes: the CURVE key of " + options_.principal + " (" +
                             z85_encode(options_.own_keys.public_key) + ") " + options_.not_admitted +
                             ", or the broker key given (" +
                             z85_encode(options_.server_key) +
                             ") is not the broker's CURVE public key (take it from the broker's certificate).";
  switch (event) {
    case ZMQ_EVENT_CONNECTED:
      tcp_connected_ = true;
      break;
    case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
      // On the client side this comes after the server's READY, that is
      // after ZAP admitted us: the transport is up.
      ++handshakes_;
      refusal_.reset();
      up_ = true;
      break;
    case ZMQ_EVENT_DISCONNECTED:
      if (up_) down_since_ = Clock::now();
      up_ = false;
      break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
      refusal_ = make_error(ErrorCode::unauthorized, "handshake refused: the broker at " + options_.endpoint +
                                                         " refused the CURVE key of " + options_.principal +
                                                         " (ZAP status " +
                                                         std::to_string(value) + ")." + causes +
                                                         options_.refusal_note);
      break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
      refusal_ = make_error(ErrorCode::unauthorized, "handshake refused: CURVE protocol error " + std::to_string(value) +
                                                         " with " + options_.endpoint + "." + causes);
      break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
      // Before any session this is what a wrong broker key looks like: the
      // broker cannot decrypt our HELLO and drops the connection. Later it
      // may just be a broker restarting mid-handshake, so only count it then.
      if (handshakes_ == 0 && !options_.keys_proven) {
        refusal_ = make_error(ErrorCode::unauthorized, "handshake refused: the broker at " + options_.endpoint +
                                                           " closed the connection during the CURVE handshake." + causes);
      }
      break;
    default:
      break;
  }
}

}  // namespace fpx::client
