// Connecting fpx_client to a test BrokerProcess, as every integration test
// does: header-only, so only tests that link fpx_client include it.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <catch2/catch.hpp>

#include "fpx/broker_pins.hpp"
#include "fpx/client.hpp"
#include "fpx/observer_client.hpp"
#include "support/broker_process.hpp"
#include "support/test_pki.hpp"

namespace fpx::test {

// The broker identity a BrokerProcess runs as (issued by the root).
inline std::filesystem::path broker_chain_path(const TestPki& pki) {
  return pki.dir() / "participants" / "exchange.broker" / kChainFile;
}

// The pin of the test broker's signing key, as `fpx profile init` computes it.
inline client::BrokerPins broker_pins(const TestPki& pki) {
  auto chain = Certificate::load_pem_file(broker_chain_path(pki));
  if (!chain || chain->empty()) FAIL("no broker chain at " << broker_chain_path(pki));
  auto pin = client::BrokerKeyPin::of_certificate(chain->front());
  if (!pin) FAIL(pin.error().describe());
  return {*pin};
}

// Observer options for the test broker's observer endpoint, pinned to it.
inline client::ObserverOptions observer_options(const BrokerProcess& broker, const TestPki& pki) {
  client::ObserverOptions options;
  options.endpoint = broker.observers_endpoint();
  auto chain = Certificate::load_pem_file(broker_chain_path(pki));
  if (!chain) FAIL(chain.error().describe());
  options.broker_chain = std::move(chain).value();
  options.root_ca = pki.root_pem();
  options.broker_pins = broker_pins(pki);
  return options;
}

// Options for participant `id`: its own client state file in the PKI dir.
inline client::ClientOptions client_options(const BrokerProcess& broker, const TestPki& pki, const std::string& id) {
  client::ClientOptions options;
  options.endpoint = broker.endpoint();
  options.broker_curve_key = broker.curve_public_key();
  options.state_db = pki.dir() / (id + ".client.sqlite");
  options.root_ca = pki.root_pem();
  options.crl_dir = pki.crl_dir();
  options.broker_pins = broker_pins(pki);
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
