#include "membership/member.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

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

TEST_CASE("member: fallback ids: machine-id suffix, then address; valid and at most 63 bytes") {
  const auto ids = FallbackNodeIds("edge", "0123456789abcdef0123456789abcdef", "10.213.20.11");
  REQUIRE(ids.size() == 2);
  CHECK(ids[0].rfind("edge-", 0) == 0);
  CHECK(ids[0].size() == 5 + 8);
  CHECK(ids[1] == "edge-10-213-20-11");
  // Stable: the same machine-id gives the same suffix; another gives another.
  CHECK(FallbackNodeIds("edge", "0123456789abcdef0123456789abcdef", "")[0] == ids[0]);
  CHECK(FallbackNodeIds("edge", "fedcba9876543210fedcba9876543210", "")[0] != ids[0]);
  CHECK(FallbackNodeIds("edge", "", "fd00::1") == std::vector<std::string>{"edge-fd00--1"});
  CHECK(FallbackNodeIds("", "m", "10.0.0.1").empty());
  CHECK(FallbackNodeIds("edge", "", "").empty());
  const std::string long_host(63, 'h');
  for (const std::string& id : FallbackNodeIds(long_host, "m", "2001:db8::1234:5678:9abc:def0")) {
    CAPTURE(id);
    CHECK(IsValidNodeId(id));
    CHECK(id.size() <= 63);
  }
}

}  // namespace spegel::cluster
