#include "base/ip_literal.h"

#include <doctest/doctest.h>

#include <string>

namespace spegel {
namespace {

TEST_CASE("CanonicalIp reads one family and writes inet_ntop's text") {
  CHECK(CanonicalIp("10.0.0.1", IpFamily::kV4) == "10.0.0.1");
  CHECK(CanonicalIp("0.0.0.0", IpFamily::kV4) == "0.0.0.0");
  CHECK(CanonicalIp("FD00:0:0::1", IpFamily::kV6) == "fd00::1");
  CHECK(CanonicalIp("::ffff:10.0.0.1", IpFamily::kV6) == "::ffff:10.0.0.1");
  CHECK(CanonicalIp("0:0:0:0:0:0:0:1", IpFamily::kV6) == "::1");
  // The other family's literal is not one of this family.
  CHECK(CanonicalIp("10.0.0.1", IpFamily::kV6).empty());
  CHECK(CanonicalIp("::1", IpFamily::kV4).empty());
  for (const char* v4 : {"", "10.0.0", "10.0.0.256", "010.0.0.1", "10.0.0.1 ", " 10.0.0.1",
                         "10.0.0.1:80", "0x0a.0.0.1", "localhost"}) {
    CAPTURE(v4);
    CHECK(CanonicalIp(v4, IpFamily::kV4).empty());
  }
  for (const char* v6 :
       {"", "[::1]", "fd00:::1", "fe80::1%eth0", "fe80::1%1", "::1 ", "::g", "1:2:3:4:5:6:7:8:9"}) {
    CAPTURE(v6);
    CHECK(CanonicalIp(v6, IpFamily::kV6).empty());
  }
  CHECK(CanonicalIp(std::string(100, '1'), IpFamily::kV4).empty());
}

TEST_CASE("IsIpLiteral: IPv4 or IPv6, no brackets, port or zone") {
  for (const char* yes : {"127.0.0.1", "10.0.0.255", "::1", "fd00::1", "::ffff:10.0.0.1"}) {
    CAPTURE(yes);
    CHECK(IsIpLiteral(yes));
  }
  for (const char* no : {"", "localhost", "[::1]", "10.0.0.1:5000", "10.0.0", "1.2.3.4 ",
                         "fe80::1%eth0", "999.0.0.1"}) {
    CAPTURE(no);
    CHECK(!IsIpLiteral(no));
  }
  CHECK(!IsIpLiteral(std::string(100, '1')));
}

}  // namespace
}  // namespace spegel
