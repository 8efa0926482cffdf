#include "base/ip_literal.h"

#include <arpa/inet.h>
#include <netinet/in.h>

namespace spegel {

std::string CanonicalIp(std::string_view text, IpFamily family) {
  // Longer text is no literal of either family, and the bound keeps the copy below small.
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return {};
  // inet_pton reads a C string: a NUL would hide whatever follows it.
  if (text.find('\0') != std::string_view::npos) return {};
  const int af = family == IpFamily::kV4 ? AF_INET : AF_INET6;
  const std::string copy(text);
  unsigned char buf[sizeof(in6_addr)];
  if (inet_pton(af, copy.c_str(), buf) != 1) return {};
  char out[INET6_ADDRSTRLEN];
  if (inet_ntop(af, buf, out, sizeof(out)) == nullptr) return {};
  return out;
}

bool IsIpLiteral(std::string_view text) {
  return !CanonicalIp(text, IpFamily::kV4).empty() || !CanonicalIp(text, IpFamily::kV6).empty();
}

}  // namespace spegel
