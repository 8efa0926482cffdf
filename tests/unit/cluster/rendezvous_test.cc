#include "cluster/rendezvous.h"

#include <doctest/doctest.h>

#include <set>
#include <string>

#include "base/hash.h"

namespace spegel::cluster {

TEST_CASE("RendezvousScore spreads the top node evenly") {
  constexpr int kNodes = 10;
  constexpr int kKeys = 20'000;
  int wins[kNodes] = {};
  for (int k = 0; k < kKeys; ++k) {
    uint64_t kh = HashString("sha256:" + std::to_string(k));
    int best = 0;
    uint64_t best_score = 0;
    for (int n = 0; n < kNodes; ++n) {
      uint64_t s = RendezvousScore(kh, HashString("node-" + std::to_string(n)));
      if (s > best_score) {
        best_score = s;
        best = n;
      }
    }
    ++wins[best];
  }
  for (int n = 0; n < kNodes; ++n) {
    CHECK(wins[n] > kKeys / kNodes * 8 / 10);
    CHECK(wins[n] < kKeys / kNodes * 12 / 10);
  }
}

TEST_CASE("RendezvousScore depends on both arguments") {
  std::set<uint64_t> scores;
  for (int i = 0; i < 100; ++i) {
    scores.insert(RendezvousScore(HashString("k"), HashString(std::to_string(i))));
    scores.insert(RendezvousScore(HashString(std::to_string(i)), HashString("k")));
  }
  CHECK(scores.size() == 200);
}

}  // namespace spegel::cluster
