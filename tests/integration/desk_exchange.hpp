// The desk tests' exchange: a test PKI (SN, NE), a real broker on
// 127.0.0.1 and one fpx profile per participant, made with `fpx profile init`.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include <catch2/catch.hpp>

#include "support/broker_process.hpp"
#include "support/command_run.hpp"
#include "support/test_pki.hpp"

namespace fpx::test {

struct DeskExchange {
  // Burkina Faso: the state a request is forwarded to.
  DeskExchange() : pki({"SN", "NE", "BF"}) {
    pki.issue("sn.focal-point", "SN", Role::focal_point);
    pki.issue("ne.focal-point", "NE", Role::focal_point);
    pki.issue("bf.focal-point", "BF", Role::focal_point);
    pki.issue("sn.police-judiciaire", "SN", Role::agency);
    const std::vector<std::string> ids{"sn.focal-point", "ne.focal-point", "bf.focal-point", "sn.police-judiciaire"};
    broker = std::make_unique<BrokerProcess>(pki, ids);
    for (const auto& id : ids) {
      const auto dir = pki.dir() / "profiles" / id;
      auto init = run_fpx(pki.dir(), {"profile", "init", "--dir", dir.string(), "--identity",
                                      (pki.dir() / "participants" / id).string(), "--broker-endpoint",
                                      broker->endpoint(), "--broker-cert",
                                      (pki.dir() / "participants" / "exchange.broker" / kChainFile).string(),
                                      "--root-ca", pki.root_pem().string(), "--crl-dir", pki.crl_dir().string()});
      INFO(init.err);
      REQUIRE(init.exit_code == 0);
      profiles[id] = dir;
    }
  }

  TestPki pki;
  std::unique_ptr<BrokerProcess> broker;
  std::map<std::string, std::filesystem::path> profiles;
};

}  // namespace fpx::test
