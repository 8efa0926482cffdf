// Rendezvous (highest-random-weight) hashing: the owners of a key are the members with the highest
// RendezvousScore(HashString(key), HashString(node_id)). Both functions are fixed: every node and
// every build must compute the same owners, so changing them is a wire-protocol change.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

namespace spegel::cluster {

// 64-bit FNV-1a over the bytes, then a 64-bit avalanche finalizer (SplitMix64's).
uint64_t HashString(std::string_view s);

// A well-mixed 64-bit score of the pair; higher wins. Ties (practically impossible) are broken by
// node id, see OwnerBefore in router.h.
uint64_t RendezvousScore(uint64_t key_hash, uint64_t node_hash);

}  // namespace spegel::cluster
