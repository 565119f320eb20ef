// fpx desk: the officer's web console on 127.0.0.1 (clients/desk/README.md).
#pragma once

#include <string>

#include "cli.hpp"

namespace fpx::cli {

struct DeskCommandOptions {
  int port = 0;          // 0: any free port
  std::string language;  // --lang fr|en; empty: the profile's [user] language, else the environment
};
int run_desk(const GlobalOptions& global, const DeskCommandOptions& options);

}  // namespace fpx::cli
