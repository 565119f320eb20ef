// A loopback TCP port for a broker endpoint that must stay fixed across
// restarts (tests and bench/ write it into the broker's config).
//
// The port is taken from below the kernel's ephemeral range
// (net.ipv4.ip_local_port_range). A port the kernel hands out for `bind(0)`
// comes from that range, and once released it can go at once to any outgoing
// connection on the machine, before the broker binds it: a CI run failed that
// way with "Address already in use". Below the range, only another program
// binding the same port on purpose can take it.
//
// Header-only, with no test framework, so bench/ can use it too.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <random>

namespace fpx::test {

// Returns 0 when no free port was found.
inline int unused_loopback_port() {
  int ephemeral_low = 32768;  // Linux's default, if /proc cannot be read
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> ephemeral_low;
  const int high = ephemeral_low - 1;
  if (high < 2000) return 0;  // no room below the ephemeral range
  const int low = high > 12000 ? high - 10000 : 1024;
  std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<int> pick(low, high);
  for (int attempt = 0; attempt < 200; ++attempt) {
    const int port = pick(random);
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    const bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    if (free) return port;
  }
  return 0;
}

}  // namespace fpx::test
