// What a node announces to a key's owner, and the limits on it: shared by the router (client
// side), the provider table (owner side) and the wire format (router_wire.h).
//
// Pure data and functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace spegel::cluster {

struct AnnounceBatch {
  std::vector<std::string> add;
  std::vector<std::string> remove;
  uint64_t ttl_ms = 0;  // How long the owner keeps the adds; 0 = the owner's default.
};

inline constexpr size_t kMaxKeyBytes = 512;
inline constexpr size_t kMaxAnnounceKeys = 20'000;  // add + remove per batch.

// A routing key: 1..512 bytes, no ASCII control characters, no space, no DEL.
bool IsValidRoutingKey(std::string_view key);

}  // namespace spegel::cluster
