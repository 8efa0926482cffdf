// Addresses of the HTTP server: the listen address a flag names, and the text of a peer's.
//
// Pure functions on plain values; thread-safe.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace spegel::http {

// A TCP address to listen on.
struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;
  // ":PORT" (no host): IPv6 wildcard with IPV6_V6ONLY off, so IPv4 clients are served too; falls
  // back to the IPv4 wildcard on hosts without IPv6.
  bool dual_stack_wildcard = false;

  uint16_t port() const;
  // "127.0.0.1:5000", "[::1]:5000", ":5000".
  std::string ToString() const;
};

// Accepts ":PORT", "IPV4:PORT", "[IPV6]:PORT" and "localhost:PORT" (→ 127.0.0.1; no other name is
// resolved: no DNS at startup). PORT is 0..65535 in decimal (0 picks a free port). Anything else
// is InvalidArgument with a message naming the problem.
Result<Address> ParseListenAddress(std::string_view text);

// The IP literal of an accepted peer into `buf`, always NUL-terminated; an IPv4-mapped IPv6
// address (a dual-stack listener's IPv4 client) as plain IPv4; empty for other families.
void FormatPeerAddress(const sockaddr_storage& peer, char (&buf)[INET6_ADDRSTRLEN]);

}  // namespace spegel::http
