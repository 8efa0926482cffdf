// Announce bodies for tests of the router wire format and service (router_wire.h).
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>

namespace spegel::cluster::testing {

// An announce body of exactly `size` bytes: ttl line, then keys of about 500 bytes.
inline std::string AnnounceBodyOfSize(size_t size) {
  std::string body = "ttl=1000\n";
  int i = 0;
  while (body.size() < size) {
    const size_t remaining = size - body.size();
    size_t line = std::min<size_t>(remaining, 500);
    if (remaining - line > 0 && remaining - line < 8) line -= 8;  // Keep the last line usable.
    std::string key = "k" + std::to_string(i++);
    key.resize(line - 2, 'a');
    body += "+" + key + "\n";
  }
  return body;
}

inline std::string AnnounceBodyWithKeys(size_t keys) {
  std::string body = "ttl=1000\n";
  for (size_t i = 0; i < keys; ++i) body += "+k" + std::to_string(i) + "\n";
  return body;
}

}  // namespace spegel::cluster::testing
