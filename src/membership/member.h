// MemberInfo: what one Spegel node says about itself, whichever way it was learned (mDNS TXT/SRV,
// a hello over the router API, a static or DNS-discovered address answered by hello).
//
// Pure data; thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace spegel::cluster {

struct MemberInfo {
  // Stable across restarts of the same node (--node-id, default the host name): rendezvous
  // hashing uses it, so a restart moves no key. 1..63 bytes of [A-Za-z0-9._-].
  std::string node_id;
  // Distinguishes restarts: milliseconds since the epoch at process start. An entry with a higher
  // incarnation replaces a lower one; a lower one is ignored.
  uint64_t incarnation = 0;
  // IP literals (IPv4 dotted or IPv6 without brackets), no ports; the first is preferred.
  std::vector<std::string> addresses;
  uint16_t registry_port = 0;
  uint16_t router_port = 0;
};

// How a member was learned; a member stays while any source keeps refreshing it.
enum class MemberSource : uint8_t { kMdns, kDns, kStatic, kPeer, kHttp };
std::string_view MemberSourceName(MemberSource source);

// 1..63 bytes of [A-Za-z0-9._-], not starting with '.' or '-'.
bool IsValidNodeId(std::string_view id);

// The ids a node whose --node-id was not given moves to, in turn, when another node uses its
// default id (the host name): the host name with a suffix derived from `machine_id` (the contents
// of /etc/machine-id: distinct machines differ), then with `address` (machines cloned with one
// machine-id still differ there). The host part is shortened so that each fits in 63 bytes;
// characters an id may not hold become '-'; an empty input gives no candidate. Pure.
std::vector<std::string> FallbackNodeIds(std::string_view host, std::string_view machine_id,
                                         std::string_view address);

}  // namespace spegel::cluster
