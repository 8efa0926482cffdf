#include "auth/peer_auth.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <vector>

namespace spegel::auth {

TEST_CASE("HMAC-SHA256 matches RFC 4231 test vectors") {
  // Test case 1: key = 0x0b * 20, data = "Hi There".
  CHECK(HmacSha256Hex(std::string(20, '\x0b'), "Hi There") ==
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  // Test case 2: key = "Jefe".
  CHECK(HmacSha256Hex("Jefe", "what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Test case 6: a key longer than the block size is hashed first.
  CHECK(HmacSha256Hex(std::string(131, '\xaa'),
                      "Test Using Larger Than Block-Size Key - Hash Key First") ==
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST_CASE("signed requests verify; anything changed is refused") {
  PeerAuth auth("0123456789abcdef-secret");
  const auto header = auth.Sign("POST", "/cluster/v1/announce", "+sha256:aa\n", 1'000'000);
  REQUIRE(header);
  CHECK(auth.Verify("POST", "/cluster/v1/announce", "+sha256:aa\n", *header, 1'000'010).ok());
  CHECK(auth.Verify("POST", "/cluster/v1/announce", "+sha256:ab\n", *header, 1'000'000).code() ==
        Code::kPermissionDenied);
  CHECK_FALSE(auth.Verify("GET", "/cluster/v1/announce", "+sha256:aa\n", *header, 1'000'000).ok());
  CHECK_FALSE(auth.Verify("POST", "/cluster/v1/lookup", "+sha256:aa\n", *header, 1'000'000).ok());
  CHECK_FALSE(auth.Verify("POST", "/cluster/v1/announce", "+sha256:aa\n", *header, 1'000'061).ok());
  CHECK_FALSE(auth.Verify("POST", "/cluster/v1/announce", "", std::nullopt, 1'000'000).ok());
  for (const std::string& bad :
       std::vector<std::string>{"", ":", "1:", "x:" + std::string(64, 'a'),
                                "1:" + std::string(63, 'a'),
                                "10000000000000:" + std::string(64, 'a')}) {
    CHECK_FALSE(auth.Verify("GET", "/", "", bad, 1).ok());
  }
  PeerAuth other("another-secret-of-16+");
  CHECK_FALSE(
      other.Verify("POST", "/cluster/v1/announce", "+sha256:aa\n", *header, 1'000'000).ok());
  PeerAuth disabled;
  CHECK_FALSE(disabled.Sign("GET", "/", "", 1));
  CHECK(disabled.Verify("GET", "/", "", std::nullopt, 1).ok());
}

TEST_CASE("secret files") {
  const std::string path = "/tmp/spegel-peer-auth-test-" + std::to_string(::getpid());
  { std::ofstream(path) << "short\n"; }
  CHECK(PeerAuth::FromFile(path).status().code() == Code::kInvalidArgument);
  { std::ofstream(path) << "a-long-enough-secret-value\n"; }
  auto loaded = PeerAuth::FromFile(path);
  REQUIRE(loaded.ok());
  CHECK(loaded->enabled());
  CHECK(PeerAuth("a-long-enough-secret-value").Sign("GET", "/", "", 5) ==
        loaded->Sign("GET", "/", "", 5));
  { std::ofstream(path) << std::string(5000, 'x'); }
  CHECK_FALSE(PeerAuth::FromFile(path).ok());
  std::remove(path.c_str());
  CHECK_FALSE(PeerAuth::FromFile(path).ok());
}

}  // namespace spegel::auth
