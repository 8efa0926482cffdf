#include "cluster/rendezvous.h"

namespace spegel::cluster {

uint64_t RendezvousScore(uint64_t key_hash, uint64_t node_hash) {
  // The node hash is multiplied by an odd constant first so that the score is not a function of
  // key_hash ^ node_hash alone.
  return Mix64(key_hash ^ (node_hash * 0x9e3779b97f4a7c15ULL));
}

}  // namespace spegel::cluster
