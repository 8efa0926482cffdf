#include "http/address.h"

#include <arpa/inet.h>
#include <net/if.h>

#include <vector>

#include "base/ip_literal.h"
#include "base/numbers.h"

namespace spegel::http {

uint16_t Address::port() const {
  if (storage.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
}

std::string Address::ToString() const {
  const std::string port_text = std::to_string(port());
  if (dual_stack_wildcard) return ":" + port_text;
  char buf[INET6_ADDRSTRLEN] = {};
  if (storage.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, buf, sizeof(buf));
    return std::string(buf) + ":" + port_text;
  }
  inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, buf,
            sizeof(buf));
  return "[" + std::string(buf) + "]:" + port_text;
}

std::string Quote(std::string_view s) {
  constexpr size_t kMax = 80;
  std::string out = "\"";
  out.append(s.substr(0, kMax));
  if (s.size() > kMax) out.append("...");
  out.push_back('"');
  return out;
}

namespace {

Address MakeV4(const in_addr& addr, uint16_t port) {
  Address a;
  auto* sin = reinterpret_cast<sockaddr_in*>(&a.storage);
  sin->sin_family = AF_INET;
  sin->sin_addr = addr;
  sin->sin_port = htons(port);
  a.length = sizeof(sockaddr_in);
  return a;
}

Address MakeV6(const in6_addr& addr, uint16_t port, uint32_t scope_id = 0) {
  Address a;
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_addr = addr;
  sin6->sin6_port = htons(port);
  sin6->sin6_scope_id = scope_id;
  a.length = sizeof(sockaddr_in6);
  return a;
}

// A listen port: 0 (any free port) or what ParsePort takes, in at most 5 digits.
bool ParseListenPort(std::string_view text, uint16_t* out) {
  if (text.size() > 5 || !IsAllDigits(text)) return false;
  if (text.find_first_not_of('0') == std::string_view::npos) {
    *out = 0;
    return true;
  }
  return ParsePort(text, out);
}

// The interface index an IPv6 zone names: an interface name, else a decimal index; 0 for none.
uint32_t ZoneIndex(const std::string& zone) {
  if (zone.empty()) return 0;
  if (const uint32_t index = if_nametoindex(zone.c_str()); index != 0) return index;
  uint64_t number = 0;
  // Nine digits always fit in 32 bits.
  if (zone.size() <= 9 && ParseDecimal(zone, &number)) return static_cast<uint32_t>(number);
  return 0;
}

}  // namespace

Result<HostPortText> SplitHostPort(std::string_view text) {
  HostPortText out;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return Status::InvalidArgument("missing ']'");
    out.host = text.substr(1, close - 1);
    out.bracketed = true;
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return Status::InvalidArgument("expected ':port' after ']'");
      out.port = rest.substr(1);
      out.has_port = true;
    }
    return out;
  }
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos || text.find(':', colon + 1) != std::string_view::npos) {
    out.host = text;
    return out;
  }
  out.host = text.substr(0, colon);
  out.port = text.substr(colon + 1);
  out.has_port = true;
  return out;
}

Result<HostPort> ParseHostPort(std::string_view text, bool allow_bare_v6) {
  if (text.empty()) return Status::InvalidArgument("empty address");
  Result<HostPortText> split = SplitHostPort(text);
  if (!split.ok()) return Status::InvalidArgument(split.status().message() + " in " + Quote(text));
  HostPort hp;
  if (split->bracketed) {
    hp.ip = CanonicalIp(split->host, IpFamily::kV6);
    if (hp.ip.empty()) {
      return Status::InvalidArgument(Quote(split->host) + " is not an IPv6 address in " +
                                     Quote(text));
    }
    hp.v6 = true;
  } else if (split->host.find(':') != std::string_view::npos) {
    if (!allow_bare_v6) {
      return Status::InvalidArgument("IPv6 address needs brackets and a port ([addr]:port): " +
                                     Quote(text));
    }
    hp.ip = CanonicalIp(split->host, IpFamily::kV6);
    if (hp.ip.empty()) return Status::InvalidArgument(Quote(text) + " is not an IP address");
    hp.v6 = true;
  } else {
    hp.ip = CanonicalIp(split->host, IpFamily::kV4);
    if (hp.ip.empty()) {
      return Status::InvalidArgument(Quote(split->host) +
                                     " is not an IP address (host names are not allowed) in " +
                                     Quote(text));
    }
  }
  if (split->has_port) {
    if (split->port.size() > 5 || !IsAllDigits(split->port)) {
      return Status::InvalidArgument("bad port " + Quote(split->port) + " in " + Quote(text));
    }
    if (!ParsePort(split->port, &hp.port)) {
      return Status::InvalidArgument("port out of range (1-65535) in " + Quote(text));
    }
    hp.has_port = true;
  }
  return hp;
}

std::optional<std::pair<std::string, uint16_t>> ParseTcpMultiaddr(std::string_view text) {
  std::vector<std::string_view> parts;
  while (!text.empty()) {
    if (text.front() != '/') return std::nullopt;
    text.remove_prefix(1);
    const size_t end = text.find('/');
    parts.push_back(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view() : text.substr(end);
  }
  if (parts.size() != 4 && parts.size() != 6) return std::nullopt;
  if (parts.size() == 6 && parts[4] != "p2p") return std::nullopt;
  if (parts[2] != "tcp") return std::nullopt;
  std::optional<IpFamily> family;
  if (parts[0] == "ip4") family = IpFamily::kV4;
  if (parts[0] == "ip6") family = IpFamily::kV6;
  if (!family || CanonicalIp(parts[1], *family).empty()) return std::nullopt;
  uint16_t port = 0;
  if (!ParsePort(parts[3], &port)) return std::nullopt;
  return std::make_pair(std::string(parts[1]), port);
}

Result<Address> ParseListenAddress(std::string_view text) {
  if (text.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument("listen address contains a NUL byte");
  }
  const std::string quoted = "listen address \"" + std::string(text) + "\"";
  Result<HostPortText> split = SplitHostPort(text);
  if (!split.ok()) return Status::InvalidArgument(quoted + ": " + split.status().message());
  if (!split->bracketed && split->host.find(':') != std::string_view::npos) {
    return Status::InvalidArgument(quoted +
                                   ": IPv6 addresses must be in brackets, e.g. \"[::1]:5000\"");
  }
  if (!split->has_port) {
    return Status::InvalidArgument(quoted + ": missing \":PORT\" (e.g. \":5000\")");
  }
  uint16_t port = 0;
  if (!ParseListenPort(split->port, &port)) {
    return Status::InvalidArgument(quoted + ": port must be a number from 0 to 65535");
  }
  const std::string host(split->host);
  if (split->bracketed) {
    in6_addr addr6{};
    if (inet_pton(AF_INET6, host.c_str(), &addr6) != 1) {
      return Status::InvalidArgument(quoted + ": \"" + host + "\" is not an IPv6 address");
    }
    return MakeV6(addr6, port);
  }
  if (host.empty()) {
    Address a = MakeV6(in6addr_any, port);
    a.dual_stack_wildcard = true;
    return a;
  }
  in_addr addr4{};
  if (host == "localhost") {
    addr4.s_addr = htonl(INADDR_LOOPBACK);
    return MakeV4(addr4, port);
  }
  if (inet_pton(AF_INET, host.c_str(), &addr4) != 1) {
    return Status::InvalidArgument(quoted + ": host must be an IPv4 address, [IPv6] address, " +
                                   "\"localhost\" or empty; got \"" + host + "\"");
  }
  return MakeV4(addr4, port);
}

Result<PeerAddress> ParsePeerAddress(std::string_view host_text, uint16_t port) {
  // inet_pton reads a C string: a NUL would hide a tail that would then reach the Host header.
  if (host_text.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument("host contains a NUL byte");
  }
  std::string host(host_text);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string port_text = std::to_string(port);
  in_addr addr4{};
  if (inet_pton(AF_INET, host.c_str(), &addr4) == 1) {
    return PeerAddress{MakeV4(addr4, port), host + ":" + port_text};
  }
  std::string address = host;
  uint32_t scope_id = 0;
  if (const size_t percent = host.find('%'); percent != std::string::npos) {
    address = host.substr(0, percent);
    scope_id = ZoneIndex(host.substr(percent + 1));
    if (scope_id == 0) return Status::InvalidArgument("unknown IPv6 zone in \"" + host + "\"");
  }
  in6_addr addr6{};
  if (inet_pton(AF_INET6, address.c_str(), &addr6) == 1) {
    return PeerAddress{MakeV6(addr6, port, scope_id), "[" + address + "]:" + port_text};
  }
  return Status::InvalidArgument("host \"" + host + "\" is not an IP address (no DNS here)");
}

void FormatPeerAddress(const sockaddr_storage& peer, char (&buf)[INET6_ADDRSTRLEN]) {
  buf[0] = '\0';
  if (peer.ss_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(&peer);
    inet_ntop(AF_INET, &sin->sin_addr, buf, INET6_ADDRSTRLEN);
  } else if (peer.ss_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&peer);
    if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
      inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], buf, INET6_ADDRSTRLEN);
    } else {
      inet_ntop(AF_INET6, &sin6->sin6_addr, buf, INET6_ADDRSTRLEN);
    }
  }
}

}  // namespace spegel::http
