// Whether one peer of a ROUTER socket is still connected (ConnectionCap's
// probe, on either endpoint): a frame its client ignores, sent without
// waiting. With ROUTER_MANDATORY a send to a peer that is gone fails at once
// with EHOSTUNREACH; a full queue (no value) is a peer that is there and not
// reading. Private to broker/.
#pragma once

#include <cerrno>
#include <string>

#include <zmq.hpp>

#include "fpx/ids.hpp"

namespace fpx::broker {

inline bool probe_peer(zmq::socket_t& router, const std::string& routing_id, ByteView probe) {
  try {
    zmq::message_t id(routing_id.data(), routing_id.size());
    zmq::message_t payload(probe.data(), probe.size());
    if (router.send(id, zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      (void)router.send(payload, zmq::send_flags::dontwait);
    }
    return true;
  } catch (const zmq::error_t& error) {
    return error.num() != EHOSTUNREACH;
  }
}

}  // namespace fpx::broker
