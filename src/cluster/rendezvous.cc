#include "cluster/rendezvous.h"

namespace spegel::cluster {

namespace {

uint64_t Mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

}  // namespace

uint64_t HashString(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return Mix64(h);
}

uint64_t RendezvousScore(uint64_t key_hash, uint64_t node_hash) {
  // The node hash is multiplied by an odd constant first so that the score is not a function of
  // key_hash ^ node_hash alone.
  return Mix64(key_hash ^ (node_hash * 0x9e3779b97f4a7c15ULL));
}

}  // namespace spegel::cluster
