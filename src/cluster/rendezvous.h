// Rendezvous (highest-random-weight) hashing: the owners of a key are the members with the highest
// RendezvousScore(HashString(key), HashString(node_id)) (HashString: base/hash.h). Both functions
// are fixed: every node and every build must compute the same owners, so changing them is a
// wire-protocol change.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>

#include "base/hash.h"

namespace spegel::cluster {

// A well-mixed 64-bit score of the pair; higher wins. Ties (practically impossible) are broken by
// node id, see OwnerBefore in router.h.
uint64_t RendezvousScore(uint64_t key_hash, uint64_t node_hash);

}  // namespace spegel::cluster
