#include "base/local_addresses.h"

#include <doctest/doctest.h>

#include <string>

namespace spegel {
namespace {

TEST_CASE("IsLocalAddress: this host's addresses, loopback and unspecified; nothing else") {
  for (const char* local : {"127.0.0.1", "127.3.4.5", "0.0.0.0", "::1", "::", "::ffff:127.0.0.1"}) {
    CAPTURE(local);
    CHECK(IsLocalAddress(local));
  }
  // TEST-NET-1 and the IPv6 documentation prefix are never assigned to a real interface.
  for (const char* other : {"192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1", "fe80::1%lo", ""}) {
    CAPTURE(other);
    CHECK_FALSE(IsLocalAddress(other));
  }
  for (const char* junk : {"localhost", "10.0.0.1:80", "[::1]", "1.2.3", "127.0.0.1 "}) {
    CAPTURE(junk);
    CHECK_FALSE(IsLocalAddress(junk));
  }
  CHECK_FALSE(IsLocalAddress(std::string("127.0.0.1\0x", 11)));
  CHECK_FALSE(IsLocalAddress(std::string(200, '1')));
  // The address the default node id is built from is one of ours, in either spelling.
  const std::string mine = FirstGlobalAddress();
  if (!mine.empty()) {
    CHECK(IsLocalAddress(mine));
    if (mine.find(':') == std::string::npos) CHECK(IsLocalAddress("::ffff:" + mine));
  }
}

}  // namespace
}  // namespace spegel
