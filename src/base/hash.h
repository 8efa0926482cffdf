// HashString: the 64-bit string hash every node must agree on. Rendezvous routing hashes keys and
// node ids with it (cluster/rendezvous.h, which also scores with Mix64), membership keeps each
// member's node hash, and a fallback node id is derived from it (membership/member.h). Both
// functions are fixed: every node and every build must compute the same value for the same bytes,
// so changing either is a wire-protocol change.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

namespace spegel {

// SplitMix64's avalanche finalizer: every input bit affects every output bit.
uint64_t Mix64(uint64_t x);

// 64-bit FNV-1a over the bytes, then Mix64.
uint64_t HashString(std::string_view s);

}  // namespace spegel
