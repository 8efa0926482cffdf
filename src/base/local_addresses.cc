#include "base/local_addresses.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <cstring>

namespace spegel {

namespace {

// An address in one comparable form: IPv4 as 4 bytes, IPv6 as 16 (IPv4-mapped ones as IPv4).
struct RawAddress {
  int family = 0;
  unsigned char bytes[16] = {};
};

bool ParseRaw(std::string_view text, RawAddress* out) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN + 16) return false;
  if (text.find('\0') != std::string_view::npos) return false;
  std::string s(text.substr(0, text.find('%')));
  if (inet_pton(AF_INET, s.c_str(), out->bytes) == 1) {
    out->family = AF_INET;
    return true;
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, s.c_str(), &v6) != 1) return false;
  if (IN6_IS_ADDR_V4MAPPED(&v6)) {
    out->family = AF_INET;
    std::memcpy(out->bytes, &v6.s6_addr[12], 4);
  } else {
    out->family = AF_INET6;
    std::memcpy(out->bytes, v6.s6_addr, 16);
  }
  return true;
}

bool Same(const RawAddress& a, const sockaddr* sa) {
  if (sa->sa_family != a.family) return false;
  if (a.family == AF_INET) {
    return std::memcmp(&reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, a.bytes, 4) == 0;
  }
  return std::memcmp(&reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, a.bytes, 16) == 0;
}

}  // namespace

std::string FirstGlobalAddress() {
  ifaddrs* addrs = nullptr;
  if (getifaddrs(&addrs) != 0) return "";
  std::string v4, v6;
  for (ifaddrs* it = addrs; it != nullptr; it = it->ifa_next) {
    if (it->ifa_addr == nullptr || (it->ifa_flags & IFF_LOOPBACK) != 0) continue;
    char text[INET6_ADDRSTRLEN] = {};
    if (it->ifa_addr->sa_family == AF_INET && v4.empty()) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(it->ifa_addr);
      const uint32_t ip = ntohl(sin->sin_addr.s_addr);
      if ((ip >> 16) == 0xa9fe) continue;  // 169.254/16
      inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
      v4 = text;
    } else if (it->ifa_addr->sa_family == AF_INET6 && v6.empty()) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(it->ifa_addr);
      if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr)) continue;
      inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text));
      v6 = text;
    }
  }
  freeifaddrs(addrs);
  return v4.empty() ? v6 : v4;
}

bool IsLocalAddress(std::string_view ip) {
  RawAddress want;
  if (!ParseRaw(ip, &want)) return false;
  if (want.family == AF_INET) {
    if (want.bytes[0] == 127) return true;
    if (want.bytes[0] == 0 && want.bytes[1] == 0 && want.bytes[2] == 0 && want.bytes[3] == 0) {
      return true;
    }
  } else {
    in6_addr v6;
    std::memcpy(v6.s6_addr, want.bytes, 16);
    if (IN6_IS_ADDR_LOOPBACK(&v6) || IN6_IS_ADDR_UNSPECIFIED(&v6)) return true;
  }
  ifaddrs* addrs = nullptr;
  if (getifaddrs(&addrs) != 0) return false;
  bool found = false;
  for (ifaddrs* it = addrs; it != nullptr && !found; it = it->ifa_next) {
    if (it->ifa_addr != nullptr) found = Same(want, it->ifa_addr);
  }
  freeifaddrs(addrs);
  return found;
}

}  // namespace spegel
