// Connecting fpx_client to a test BrokerProcess, as every integration test
// does: header-only, so only tests that link fpx_client include it.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <catch2/catch.hpp>

#include "fpx/client.hpp"
#include "support/broker_process.hpp"
#include "support/test_pki.hpp"

namespace fpx::test {

// Options for participant `id`: its own client state file in the PKI dir.
inline client::ClientOptions client_options(const BrokerProcess& broker, const TestPki& pki, const std::string& id) {
  client::ClientOptions options;
  options.endpoint = broker.endpoint();
  options.broker_curve_key = broker.curve_public_key();
  options.state_db = pki.dir() / (id + ".client.sqlite");
  options.root_ca = pki.root_pem();
  options.crl_dir = pki.crl_dir();
  options.handshake_timeout = std::chrono::milliseconds(5000);
  options.request_timeout = std::chrono::milliseconds(15000);
  return options;
}

inline std::unique_ptr<client::Client> connect_client(const BrokerProcess& broker, TestPki& pki,
                                                      const std::string& id) {
  auto connected = client::Client::connect(pki.identity(id), client_options(broker, pki, id));
  if (!connected) FAIL(id << " could not connect: " << connected.error().describe());
  return std::move(connected).value();
}

}  // namespace fpx::test
