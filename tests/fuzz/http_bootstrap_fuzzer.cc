// Fuzzes what HTTP bootstrap reads from outside (membership/http_bootstrap.h): the /id document a
// bootstrap URL returns, the URL itself, and a static multiaddr (http/address.h). Byte 0 picks
// which. Invariants: every address parsed is an IP literal with a port in 1..65535, no
// duplicates; our own /id document parses back to exactly its address; a parsed URL has an IP
// host and a target starting with '/'.
#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "http/address.h"
#include "membership/http_bootstrap.h"

namespace {

bool IsIp(const std::string& ip) {
  unsigned char buf[16];
  return inet_pton(AF_INET, ip.c_str(), buf) == 1 || inet_pton(AF_INET6, ip.c_str(), buf) == 1;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace spegel::cluster;
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 3) {
    case 0: {
      auto peers = ParseBootstrapPeers(text);
      if (!peers.ok()) return 0;
      if (peers->empty()) abort();
      std::set<std::pair<std::string, uint16_t>> seen;
      for (const auto& [ip, port] : *peers) {
        if (!IsIp(ip) || port == 0) abort();
        if (!seen.insert({ip, port}).second) abort();
        // Our own document for any address we accept reads back as that address alone.
        auto again = ParseBootstrapPeers(BootstrapIdDocument({{"n", ip, port}}));
        if (!again.ok() || again->size() != 1 || (*again)[0] != std::make_pair(ip, port)) {
          abort();
        }
      }
      break;
    }
    case 1: {
      auto url = ParseBootstrapUrl(text);
      if (!url.ok()) return 0;
      if (!IsIp(url->host) || url->port == 0 || url->target.empty() || url->target[0] != '/') {
        abort();
      }
      break;
    }
    case 2: {
      auto addr = spegel::http::ParseTcpMultiaddr(text);
      if (addr && (!IsIp(addr->first) || addr->second == 0)) abort();
      break;
    }
  }
  return 0;
}
