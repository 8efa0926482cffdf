// ForEachLine: the line rule of the text bodies nodes exchange (the router API's,
// cluster/router_wire.h, and the hello's, membership/hello.h): lines end at "\n", a "\r" before it
// is dropped, empty lines are skipped, and a last line without "\n" counts.
//
// Pure; thread-safe.
#pragma once

#include <cstddef>
#include <string_view>

namespace spegel {

// Calls fn(line) for each line of `body` in order until fn returns false; returns false if it
// did. The views point into `body`.
template <typename Fn>
bool ForEachLine(std::string_view body, Fn&& fn) {
  while (!body.empty()) {
    const size_t nl = body.find('\n');
    std::string_view line = body.substr(0, nl);
    body = nl == std::string_view::npos ? std::string_view() : body.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (!fn(line)) return false;
  }
  return true;
}

}  // namespace spegel
