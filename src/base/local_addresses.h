// This host's own IP addresses, as the kernel lists them now (getifaddrs): the one place that
// asks, for the default node id's address suffix (cli) and for telling this node's looped-back
// messages from another node's (membership).
//
// Both functions read the interface list on every call (no cache: addresses come and go). They
// are thread-safe and block only for the netlink round trip getifaddrs makes.
#pragma once

#include <string>
#include <string_view>

namespace spegel {

// The first IPv4 address that is not loopback or link-local, in interface order; else the first
// such IPv6 address; else empty. inet_ntop's text.
std::string FirstGlobalAddress();

// True when `ip` (an IP literal; an IPv6 one may carry a "%zone", and an IPv4-mapped IPv6 one
// counts as its IPv4 address) is the unspecified address, a loopback address, or an address of
// one of this host's interfaces. False for anything else, text that is not an IP literal
// included, and when the interface list cannot be read.
bool IsLocalAddress(std::string_view ip);

}  // namespace spegel
