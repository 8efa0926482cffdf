// Addresses in text, one home for every layer from http up: the host:port forms flags, URLs and
// wire formats use, the listen address a flag names, the peer a client connects to, and the text
// of an accepted peer's address. Bare IP literals are read by base/ip_literal.h and ports by
// base::ParsePort (base/numbers.h); everything here is built on those two. No name is resolved
// (no DNS), except that a listen address takes "localhost".
//
// Pure functions on plain values; thread-safe.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "base/status.h"

namespace spegel::http {

// A TCP socket address: one to listen on, or a peer's.
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

// `text` in double quotes for an error message, cut after 80 bytes (then "..."), so a huge flag
// or wire value does not make a huge message.
std::string Quote(std::string_view text);

// "host", "host:port", "[host]" or "[host]:port" taken apart, with neither part checked; the
// views point into the text split. Unbracketed text with two or more ':' is all host: a bare IPv6
// literal has no port.
struct HostPortText {
  std::string_view host;  // Without the brackets.
  std::string_view port;  // Empty when !has_port.
  bool bracketed = false;
  bool has_port = false;
};
// InvalidArgument "missing ']'" or "expected ':port' after ']'" (callers add what was parsed).
Result<HostPortText> SplitHostPort(std::string_view text);

// An IP literal with an optional port.
struct HostPort {
  std::string ip;  // Canonical (CanonicalIp), without brackets.
  bool v6 = false;
  bool has_port = false;
  uint16_t port = 0;
};
// "a.b.c.d", "a.b.c.d:port", "[v6]", "[v6]:port" and, when `allow_bare_v6`, "v6" (which has no
// port). A port is 1..65535 in at most 5 digits. Host names and zones are InvalidArgument, as
// are bad ports; the message quotes `text`.
Result<HostPort> ParseHostPort(std::string_view text, bool allow_bare_v6);

// A libp2p multiaddr naming a TCP endpoint: "/ip4/<a>/tcp/<port>" or "/ip6/<a>/tcp/<port>",
// optionally ending in "/p2p/<id>" (the id is not checked). (a as written, port); nullopt for any
// other form (dns4, udp, quic, ...).
std::optional<std::pair<std::string, uint16_t>> ParseTcpMultiaddr(std::string_view text);

// Accepts ":PORT", "IPV4:PORT", "[IPV6]:PORT" and "localhost:PORT" (→ 127.0.0.1; no other name is
// resolved: no DNS at startup). PORT is 0..65535 in at most 5 digits (0 picks a free port).
// Anything else is InvalidArgument with a message naming the problem.
Result<Address> ParseListenAddress(std::string_view text);

// Where a client connects and what its requests name in the Host header.
struct PeerAddress {
  Address address;
  std::string authority;  // "10.0.0.1:5000" or "[fd00::1]:5000": the host as given, no zone.
};
// `host` is an IPv4 literal, or an IPv6 literal with or without brackets which may end in a zone
// ("fe80::1%eth0" or "%2": an interface name, else its index); an IPv4 literal in brackets is
// taken too. InvalidArgument for a zone naming no interface and for anything else (no DNS).
Result<PeerAddress> ParsePeerAddress(std::string_view host, uint16_t port);

// The IP literal of an accepted peer into `buf`, always NUL-terminated; an IPv4-mapped IPv6
// address (a dual-stack listener's IPv4 client) as plain IPv4; empty for other families.
void FormatPeerAddress(const sockaddr_storage& peer, char (&buf)[INET6_ADDRSTRLEN]);

}  // namespace spegel::http
