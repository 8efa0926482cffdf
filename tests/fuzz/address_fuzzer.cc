// Fuzzes the address text readers (base/ip_literal.h, http/address.h), which read flags, URLs,
// multiaddrs from bootstrap documents and provider addresses from other nodes, each on every
// input. Invariants: no crash; errors are InvalidArgument (with a bounded message where the
// parser promises one); whatever is accepted is written back (canonical IP, "[v6]:port",
// multiaddr, listen address, Host authority) as text that parses to the same value; text with a
// NUL byte is never accepted (inet_pton would read only up to it).
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "base/ip_literal.h"
#include "http/address.h"

namespace {

namespace http = spegel::http;
using spegel::IpFamily;

void Check(bool condition) {
  if (!condition) std::abort();
}

void CheckError(const spegel::Status& status) {
  Check(status.code() == spegel::Code::kInvalidArgument);
}

// ParseHostPort quotes at most 80 bytes of its input; ParseListenAddress and ParsePeerAddress
// quote all of it (their text is a flag or an address already read by IsIpLiteral).
void CheckBoundedError(const spegel::Status& status) {
  CheckError(status);
  Check(status.message().size() < 512);
}

bool HasNul(std::string_view text) { return text.find('\0') != std::string_view::npos; }

void FuzzIpLiteral(std::string_view text) {
  bool any = false;
  for (IpFamily family : {IpFamily::kV4, IpFamily::kV6}) {
    const std::string canonical = spegel::CanonicalIp(text, family);
    if (canonical.empty()) continue;
    any = true;
    Check(spegel::CanonicalIp(canonical, family) == canonical);
  }
  Check(spegel::IsIpLiteral(text) == any);
  Check(!any || !HasNul(text));
}

void FuzzSplit(std::string_view text) {
  auto split = http::SplitHostPort(text);
  if (!split.ok()) {
    CheckBoundedError(split.status());
    return;
  }
  std::string again = split->bracketed ? "[" + std::string(split->host) + "]"
                                       : std::string(split->host);
  if (split->has_port) again += ":" + std::string(split->port);
  Check(again == text);
}

void FuzzHostPort(std::string_view text) {
  for (bool allow_bare_v6 : {false, true}) {
    auto hp = http::ParseHostPort(text, allow_bare_v6);
    if (!hp.ok()) {
      CheckBoundedError(hp.status());
      continue;
    }
    Check(hp->ip == spegel::CanonicalIp(hp->ip, hp->v6 ? IpFamily::kV6 : IpFamily::kV4));
    Check(!hp->has_port || hp->port != 0);
    std::string written = hp->v6 ? "[" + hp->ip + "]" : hp->ip;
    if (hp->has_port) written += ":" + std::to_string(hp->port);
    auto again = http::ParseHostPort(written, /*allow_bare_v6=*/false);
    Check(again.ok() && again->ip == hp->ip && again->v6 == hp->v6 &&
          again->has_port == hp->has_port && again->port == hp->port);
  }
}

void FuzzMultiaddr(std::string_view text) {
  auto endpoint = http::ParseTcpMultiaddr(text);
  if (!endpoint) return;
  Check(spegel::IsIpLiteral(endpoint->first) && endpoint->second != 0);
  Check(!HasNul(text));
  const bool v6 = endpoint->first.find(':') != std::string::npos;
  auto again = http::ParseTcpMultiaddr(std::string(v6 ? "/ip6/" : "/ip4/") + endpoint->first +
                                       "/tcp/" + std::to_string(endpoint->second));
  Check(again == endpoint);
}

void FuzzListen(std::string_view text) {
  auto address = http::ParseListenAddress(text);
  if (!address.ok()) {
    CheckError(address.status());
    return;
  }
  Check(!HasNul(text));
  auto again = http::ParseListenAddress(address->ToString());
  Check(again.ok() && again->ToString() == address->ToString() &&
        again->port() == address->port() &&
        again->dual_stack_wildcard == address->dual_stack_wildcard);
}

void FuzzPeer(std::string_view text) {
  auto peer = http::ParsePeerAddress(text, 5000);
  if (!peer.ok()) {
    CheckError(peer.status());
    return;
  }
  const int family = peer->address.storage.ss_family;
  Check(family == AF_INET || family == AF_INET6);
  Check(peer->address.port() == 5000);
  Check(!HasNul(text));
  auto authority = http::ParseHostPort(peer->authority, /*allow_bare_v6=*/false);
  Check(authority.ok() && authority->has_port && authority->port == 5000 &&
        authority->v6 == (family == AF_INET6));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  FuzzIpLiteral(text);
  FuzzSplit(text);
  FuzzHostPort(text);
  FuzzMultiaddr(text);
  FuzzListen(text);
  FuzzPeer(text);
  return 0;
}
