// Writing JSON by hand: the one string escaper every JSON producer (logs, debug pages, error
// bodies) uses. Input bytes that are not valid UTF-8 are replaced by U+FFFD so the output is
// always valid JSON, whatever a client or an image name contained.
#pragma once

#include <string>
#include <string_view>

namespace spegel {

// Appends `s` to `out` as a quoted JSON string.
void AppendJsonString(std::string* out, std::string_view s);

inline std::string JsonString(std::string_view s) {
  std::string out;
  AppendJsonString(&out, s);
  return out;
}

}  // namespace spegel
