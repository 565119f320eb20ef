// Every setting of the participants socket, in one place, each with the
// attack or failure it stops.
#include <spdlog/spdlog.h>

#include "broker_impl.hpp"

namespace fpx::broker {

namespace {

constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";
constexpr const char* kMonitorEndpoint = "inproc://fpx-participants-monitor";
constexpr const char* kObserversMonitorEndpoint = "inproc://fpx-observers-monitor";
constexpr int kHandshakeFailureEvents =
    ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
constexpr const char* kZapDomain = "fpx-participants";

void set_int(zmq::socket_t& socket, int option, int value) {
  zmq_setsockopt(socket.handle(), option, &value, sizeof value);
}

void configure_server_socket(zmq::socket_t& socket, const BrokerConfig& config, const CurveKeyPair& keys) {
  // CURVE: every byte on the wire is encrypted and the client proves it
  // holds an enrolled key; ZAP (zap_domain) decides which keys are enrolled.
  set_int(socket, ZMQ_CURVE_SERVER, 1);
  zmq_setsockopt(socket.handle(), ZMQ_CURVE_SECRETKEY, keys.secret_key.data(), keys.secret_key.size());
  socket.set(zmq::sockopt::zap_domain, kZapDomain);
  // Unroutable replies fail loudly instead of vanishing (no silent drop).
  set_int(socket, ZMQ_ROUTER_MANDATORY, 1);
  // The transport refuses (disconnects) any frame larger than the largest
  // frame the broker accepts, from the frame's length alone: before it is
  // read, buffered or decrypted. Issue 14: with twice the limit, a flood of
  // frames of 1 MiB + 1 was decrypted by CURVE, read and answered too_large
  // one by one, 12x the victim's p99. CURVE counts the encrypted frame, so
  // its overhead is added (kCurveFrameOverheadBytes).
  const std::int64_t max_size = max_wire_frame_bytes(config.limits);
  zmq_setsockopt(socket.handle(), ZMQ_MAXMSGSIZE, &max_size, sizeof max_size);
  // Half-open and slow handshakes are dropped instead of holding resources.
  set_int(socket, ZMQ_HANDSHAKE_IVL, static_cast<int>(config.timing.handshake_ivl_ms));
  // Dead peers are noticed and their sessions freed.
  set_int(socket, ZMQ_HEARTBEAT_IVL, static_cast<int>(config.timing.heartbeat_ivl_ms));
  set_int(socket, ZMQ_HEARTBEAT_TIMEOUT, static_cast<int>(config.timing.heartbeat_timeout_ms));
  set_int(socket, ZMQ_HEARTBEAT_TTL, static_cast<int>(config.timing.heartbeat_timeout_ms));
  // Nothing waits in memory at shutdown: what matters is in the store.
  set_int(socket, ZMQ_LINGER, 0);
  // Bounded queues per peer: a peer that does not read cannot grow our memory.
  set_int(socket, ZMQ_SNDHWM, 10000);
  // Frames one connection may have waiting before the loop reads them; then
  // ZeroMQ stops reading its TCP stream (back-pressure on the sender). The
  // queue counts frames, not bytes: 10,000 let a flood of 32 KiB confirms
  // park 80 MB in the broker (issue 14); kParticipantReceiveQueue bounds it
  // by the largest frame (kParticipantReceiveQueue x max_message_bytes).
  set_int(socket, ZMQ_RCVHWM, kParticipantReceiveQueue);
}

}  // namespace

Status Broker::Impl::bind_sockets() {
  std::string binding = kZapEndpoint;  // named in the error: the endpoint being set up
  try {
    // ZAP first: a CURVE server with no ZAP handler accepts any client key.
    zap = zmq::socket_t(context, zmq::socket_type::rep);
    set_int(zap, ZMQ_LINGER, 0);
    zap.bind(kZapEndpoint);

    binding = config.participants_endpoint;
    router = zmq::socket_t(context, zmq::socket_type::router);
    configure_server_socket(router, config, identity.curve());
    // Handshake failures (unknown keys, clients holding a wrong broker key)
    // never reach the application otherwise: count them.
    zmq_socket_monitor(router.handle(), kMonitorEndpoint, kHandshakeFailureEvents);
    monitor = zmq::socket_t(context, zmq::socket_type::pair);
    set_int(monitor, ZMQ_LINGER, 0);
    monitor.connect(kMonitorEndpoint);

    router.bind(config.participants_endpoint);
    bound_endpoint = router.get(zmq::sockopt::last_endpoint);

    // Observers have an endpoint of their own, with its own ZAP domain that
    // admits the observer role only.
    binding = config.oversight.observers_endpoint;
    observers = zmq::socket_t(context, zmq::socket_type::router);
    configure_server_socket(observers, config, identity.curve());
    observers.set(zmq::sockopt::zap_domain, kObserversZapDomain);
    // Observers only read: small queues and small frames, so an observer that
    // sends without reading cannot make the broker hold its replies or requests.
    set_int(observers, ZMQ_SNDHWM, kObserverSendQueue);
    set_int(observers, ZMQ_RCVHWM, kObserverReceiveQueue);
    zmq_setsockopt(observers.handle(), ZMQ_MAXMSGSIZE, &kObserverMaxFrameBytes, sizeof kObserverMaxFrameBytes);
    // Its handshake failures are counted with the participants endpoint's.
    zmq_socket_monitor(observers.handle(), kObserversMonitorEndpoint, kHandshakeFailureEvents);
    observers_monitor = zmq::socket_t(context, zmq::socket_type::pair);
    set_int(observers_monitor, ZMQ_LINGER, 0);
    observers_monitor.connect(kObserversMonitorEndpoint);
    observers.bind(config.oversight.observers_endpoint);
    observers_bound_endpoint = observers.get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& error) {
    return make_error(ErrorCode::unavailable, "cannot set up " + binding + ": " + error.what() +
                                                  " (is another broker or program using it? Stop it or change "
                                                  "the endpoint in the config)");
  }
  spdlog::info("participants endpoint {} (CURVE, ZAP domain {})", bound_endpoint, kZapDomain);
  spdlog::info("observers endpoint {} (CURVE, ZAP domain {})", observers_bound_endpoint, kObserversZapDomain);
  return {};
}

}  // namespace fpx::broker
