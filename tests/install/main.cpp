// Uses the installed API end to end far enough to need every library:
// fpx_protocol (keys, Z85, identity loading) and fpx_client (connect).
#include <iostream>

#include "fpx/client.hpp"

int main() {
  auto curve = fpx::CurveKeyPair::generate();
  if (!curve) {
    std::cerr << curve.error().describe() << "\n";
    return 1;
  }
  std::cout << "curve public key " << fpx::z85_encode(curve->public_key) << "\n";

  // No identity directory here: loading fails with a typed error, which is
  // what this check expects (it proves linking, not a broker).
  auto identity = fpx::Identity::load("/nonexistent/fpx-identity", {});
  if (identity) {
    fpx::client::ClientOptions options;
    options.endpoint = "tcp://127.0.0.1:1";
    auto client = fpx::client::Client::connect(std::move(identity).value(), options);
    std::cout << (client ? "connected" : client.error().describe()) << "\n";
  } else {
    std::cout << "identity: " << identity.error().describe() << "\n";
  }
  return 0;
}
