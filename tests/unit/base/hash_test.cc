#include "base/hash.h"

#include <doctest/doctest.h>

namespace spegel {
namespace {

TEST_CASE("HashString is fixed across builds") {
  // Pinned values: changing the hash changes every node's owners, a protocol change.
  CHECK(HashString("") == HashString(""));
  CHECK(HashString("node-1") != HashString("node-2"));
  CHECK(HashString("sha256:abc") == 0x1f43f806a25d64fcULL);
  CHECK(HashString("node-1") == 0x13950d4ef307e655ULL);
}

}  // namespace
}  // namespace spegel
