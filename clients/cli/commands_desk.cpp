// fpx desk: connects with the officer's own profile (keys never leave this
// machine), serves the desk on 127.0.0.1 and prints the one URL that opens
// it. Runs until Ctrl-C or SIGTERM; unconfirmed deliveries are resent by the
// broker to the next session, so stopping at any moment loses nothing.
#include "commands_desk.hpp"

#include <signal.h>

#include <iostream>
#include <thread>

#include "desk_server.hpp"
#include "desk_session.hpp"
#include "language.hpp"
#include "profile.hpp"
#include "text.hpp"

namespace fpx::cli {

int run_desk(const GlobalOptions& global, const DeskCommandOptions& options) {
  if (options.port < 0 || options.port > 65535) {
    return report_failure(global, kExitUsage, make_error(ErrorCode::invalid_argument, "--port must be 0-65535 (0: any free port)"));
  }
  auto profile = load_profile(global.profile);
  if (!profile) return report_failure(global, kExitUsage, profile.error());
  auto language = resolve_language(*profile, options.language);
  if (!language) return report_failure(global, kExitUsage, language.error());
  if (const auto warning = revocation_warning(*profile); !warning.empty()) std::cerr << warning << "\n";

  // SIGINT and SIGTERM are read by one thread (sigwait), blocked everywhere
  // else: every thread started below inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto session = desk::DeskSession::start(*profile);
  if (!session) {
    return report_failure(global, kExitRefused, session.error(), "check that the broker runs, then start fpx desk again");
  }
  auto server = desk::DeskServer::bind(**session, {options.port, *language});
  if (!server) return report_failure(global, kExitUsage, server.error());

  std::cout << "fpx desk for " << (*session)->participant().id.str() << " ("
            << text::language_tag(*language) << "): open this URL in your browser (it holds a secret token; do not share it):\n"
            << (*server)->login_url() << "\n"
            << "Ctrl-C stops the desk." << std::endl;

  std::thread stopper([&] {
    int received = 0;
    sigwait(&stop_signals, &received);
    // The session first: live event streams waiting on it end at once.
    (*session)->stop();
    (*server)->stop();
  });
  (*server)->serve();
  // serve() also returns if the listening socket failed: wake the stopper.
  pthread_kill(stopper.native_handle(), SIGTERM);
  stopper.join();
  (*session)->stop();
  return kExitOk;
}

}  // namespace fpx::cli
