#include "cluster/member.h"

#include <doctest/doctest.h>

namespace spegel::cluster {

TEST_CASE("node ids") {
  CHECK(IsValidNodeId("node-1"));
  CHECK(IsValidNodeId("ip-10-0-0-1.eu-west-1.compute.internal"));
  CHECK_FALSE(IsValidNodeId(""));
  CHECK_FALSE(IsValidNodeId("-a"));
  CHECK_FALSE(IsValidNodeId(".a"));
  CHECK_FALSE(IsValidNodeId("a b"));
  CHECK_FALSE(IsValidNodeId(std::string(64, 'a')));
  CHECK(IsValidNodeId(std::string(63, 'a')));
}

}  // namespace spegel::cluster
