#include "http/address.h"

#include <arpa/inet.h>

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

Address MakeV6(const in6_addr& addr, uint16_t port) {
  Address a;
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_addr = addr;
  sin6->sin6_port = htons(port);
  a.length = sizeof(sockaddr_in6);
  return a;
}

}  // namespace

Result<Address> ParseListenAddress(std::string_view text) {
  const std::string quoted = "listen address \"" + std::string(text) + "\"";
  std::string_view host;
  std::string_view port_text;
  bool bracketed = false;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return Status::InvalidArgument(quoted + ": missing ']' after IPv6 address");
    }
    host = text.substr(1, close - 1);
    const std::string_view rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':') {
      return Status::InvalidArgument(quoted + ": expected \":PORT\" after \"]\"");
    }
    port_text = rest.substr(1);
    bracketed = true;
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return Status::InvalidArgument(quoted + ": missing \":PORT\" (e.g. \":5000\")");
    }
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return Status::InvalidArgument(quoted +
                                     ": IPv6 addresses must be in brackets, e.g. \"[::1]:5000\"");
    }
  }
  uint64_t port = 0;
  if (port_text.size() > 5 || !ParseDecimal(port_text, &port) || port > 65535) {
    return Status::InvalidArgument(quoted + ": port must be a number from 0 to 65535");
  }
  const std::string host_str(host);
  if (bracketed) {
    in6_addr addr6{};
    if (inet_pton(AF_INET6, host_str.c_str(), &addr6) != 1) {
      return Status::InvalidArgument(quoted + ": \"" + host_str + "\" is not an IPv6 address");
    }
    return MakeV6(addr6, static_cast<uint16_t>(port));
  }
  if (host.empty()) {
    Address a = MakeV6(in6addr_any, static_cast<uint16_t>(port));
    a.dual_stack_wildcard = true;
    return a;
  }
  in_addr addr4{};
  if (host == "localhost") {
    addr4.s_addr = htonl(INADDR_LOOPBACK);
    return MakeV4(addr4, static_cast<uint16_t>(port));
  }
  if (inet_pton(AF_INET, host_str.c_str(), &addr4) != 1) {
    return Status::InvalidArgument(quoted + ": host must be an IPv4 address, [IPv6] address, " +
                                   "\"localhost\" or empty; got \"" + host_str + "\"");
  }
  return MakeV4(addr4, static_cast<uint16_t>(port));
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
