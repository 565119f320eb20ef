// fpx-bench --peer NAME: the same load through a peer broker, in the same
// run as FPX. Each peer is compiled only when its client library was found
// at configure time (bench/CMakeLists.txt), so the main build needs neither.
#pragma once

#include <string>
#include <vector>

#include "modes.hpp"

namespace fpx::bench {

// Every peer fpx-bench knows, and a note of which this build has.
std::vector<std::string> all_peer_names();
std::string peer_names();
// Fails (exits) with a clear message if this build lacks the peer. Call
// it for every peer before anything else uses OpenSSL.
void require_peer(const std::string& name);
SystemFigures run_peer(const std::string& name, const BenchOptions& options, const std::vector<Bytes>& envelopes);
// The comparison, "name value" lines on stdout and a table on stderr.
void print_comparison(const std::vector<SystemFigures>& systems, double raw_verify_us);

// peer_mosquitto.cpp and peer_nats.cpp, when built.
SystemFigures run_mosquitto(const BenchOptions& options, const std::vector<Bytes>& envelopes);
SystemFigures run_nats(const BenchOptions& options, const std::vector<Bytes>& envelopes);

}  // namespace fpx::bench
