// Address text (http/address.h): host:port split, IP literals with and without brackets, ports,
// zones, multiaddrs, listen addresses and the peers a client connects to. No sockets are opened.
#include "http/address.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <net/if.h>

#include <optional>
#include <string>
#include <utility>

#include "base/ip_literal.h"

namespace spegel::http {
namespace {

// "ip", "ip:port", "[v6]" or "[v6]:port" for a HostPort, so one CHECK states a whole parse.
std::string Show(const HostPort& hp) {
  std::string out = hp.v6 ? "[" + hp.ip + "]" : hp.ip;
  if (hp.has_port) out += ":" + std::to_string(hp.port);
  return out;
}

std::string ShowSplit(std::string_view text) {
  Result<HostPortText> s = SplitHostPort(text);
  if (!s.ok()) return "error: " + s.status().message();
  std::string out = s->bracketed ? "[" + std::string(s->host) + "]" : std::string(s->host);
  if (s->has_port) out += " port=" + std::string(s->port);
  return out;
}

TEST_CASE("SplitHostPort takes the forms apart without judging them") {
  CHECK(ShowSplit("10.0.0.1:5000") == "10.0.0.1 port=5000");
  CHECK(ShowSplit("10.0.0.1") == "10.0.0.1");
  CHECK(ShowSplit("node-1:x") == "node-1 port=x");
  CHECK(ShowSplit(":5000") == " port=5000");
  CHECK(ShowSplit("10.0.0.1:") == "10.0.0.1 port=");
  CHECK(ShowSplit("[fd00::1]:5000") == "[fd00::1] port=5000");
  CHECK(ShowSplit("[fd00::1]") == "[fd00::1]");
  CHECK(ShowSplit("[]:1") == "[] port=1");
  // Two or more ':' without brackets: all host, since a bare IPv6 literal has no port.
  CHECK(ShowSplit("fd00::1:53") == "fd00::1:53");
  CHECK(ShowSplit("") == "");
  CHECK(ShowSplit("[fd00::1") == "error: missing ']'");
  CHECK(ShowSplit("[fd00::1]5000") == "error: expected ':port' after ']'");
}

TEST_CASE("ParseHostPort reads IP literals with an optional port, canonically") {
  struct Good {
    const char* text;
    bool allow_bare_v6;
    const char* want;
  };
  const Good good[] = {
      {"10.0.0.1", false, "10.0.0.1"},
      {"10.0.0.1:5001", false, "10.0.0.1:5001"},
      {"10.0.0.1:1", false, "10.0.0.1:1"},
      {"10.0.0.1:65535", false, "10.0.0.1:65535"},
      {"10.0.0.1:05001", false, "10.0.0.1:5001"},  // leading zeros, within 5 digits
      {"[fd00::1]", false, "[fd00::1]"},
      {"[fd00::1]:5001", false, "[fd00::1]:5001"},
      {"[FD00:0:0::1]:5001", false, "[fd00::1]:5001"},
      {"[::ffff:10.0.0.1]:7", false, "[::ffff:10.0.0.1]:7"},
      {"[::]:80", false, "[::]:80"},
      {"fd00::A", true, "[fd00::a]"},
      {"fd00::1:53", true, "[fd00::1:53]"},  // a bare IPv6 literal never has a port
  };
  for (const Good& g : good) {
    CAPTURE(g.text);
    Result<HostPort> hp = ParseHostPort(g.text, g.allow_bare_v6);
    REQUIRE(hp.ok());
    CHECK(Show(*hp) == g.want);
  }
  const char* bad[] = {
      "",                 // empty
      "10.0.0.1:",        // empty port
      "10.0.0.1:0",       // port 0
      "10.0.0.1:65536",   // too big
      "10.0.0.1:123456",  // too long
      "10.0.0.1:000080",  // more than 5 digits, even if the value fits
      "10.0.0.1:-1",      // sign
      "10.0.0.1:+5",      // sign
      "10.0.0.1: 80",     // space
      "10.0.0.1:80 ",     // space
      "10.0.0.1:50 01",   // inner space
      " 10.0.0.1:80",     // space
      "10.0.0.1:0x50",    // hex
      "node1:5001",       // host names are not allowed
      "localhost",
      "example.com",
      "10.0.0.256:5001",
      "10.0.0:5001",
      "010.0.0.1:5001",  // leading zero (ambiguous octal)
      "fd00::1:5001",    // IPv6 without brackets
      "fd00::1",
      "[fd00::1]5001",
      "[fd00::1:5001",
      "[fd00::1]:",
      "[fd00::1]:0",
      "[fd00::1]:65536",
      "[10.0.0.1]:5001",      // brackets around IPv4
      "[fe80::1%eth0]:5001",  // zone ids are not supported here
      "[]:5001",
      "[node1]:5001",
  };
  for (const char* b : bad) {
    CAPTURE(b);
    Result<HostPort> hp = ParseHostPort(b, /*allow_bare_v6=*/false);
    REQUIRE_FALSE(hp.ok());
    CHECK(hp.status().code() == Code::kInvalidArgument);
    CHECK_FALSE(hp.status().message().empty());
  }
  for (const char* b : {"fd00:::1:2", "fe80::1%eth0", "node1", "1.2.3.4 :53", "10.0.0.1:53:1"}) {
    CAPTURE(b);
    CHECK_FALSE(ParseHostPort(b, /*allow_bare_v6=*/true).ok());
  }
  // The message names the problem and the text, bounded.
  CHECK(ParseHostPort("node2:5001", false).status().message().find("node2") != std::string::npos);
  CHECK(ParseHostPort("10.0.0.1:0", false).status().message().find("1-65535") != std::string::npos);
  CHECK(ParseHostPort("10.0.0.1:x", false).status().message().find("bad port") !=
        std::string::npos);
  CHECK(ParseHostPort(std::string(100000, 'x'), false).status().message().size() < 400);
}

TEST_CASE("ParseTcpMultiaddr reads /ip4 and /ip6 TCP multiaddrs only") {
  using Endpoint = std::optional<std::pair<std::string, uint16_t>>;
  CHECK(ParseTcpMultiaddr("/ip4/10.0.0.1/tcp/5001") == Endpoint({"10.0.0.1", 5001}));
  CHECK(ParseTcpMultiaddr("/ip4/10.0.0.1/tcp/5001/p2p/x") == Endpoint({"10.0.0.1", 5001}));
  CHECK(ParseTcpMultiaddr("/ip6/fd00::1/tcp/1") == Endpoint({"fd00::1", 1}));
  // The address as written, not canonicalised.
  CHECK(ParseTcpMultiaddr("/ip6/FD00::1/tcp/65535") == Endpoint({"FD00::1", 65535}));
  for (const char* bad :
       {"", "/", "ip4/10.0.0.1/tcp/5001", "/ip4/10.0.0.1/tcp/5001/ws", "/ip4/10.0.0.1/tcp/5001/p2p",
        "/ip4/10.0.0.1/udp/5001", "/ip4/fd00::1/tcp/5001", "/ip6/10.0.0.1/tcp/5001",
        "/dns4/x/tcp/1", "/ip4/10.0.0.1/tcp/0", "/ip4/10.0.0.1/tcp/65536", "/ip4/10.0.0.1/tcp/",
        "/ip4/10.0.0.1/tcp/-1", "/ip4/999.0.0.1/tcp/1", "/ip4//tcp/1",
        "/ip4/10.0.0.1/tcp/5001/p2p/x/y", "/ip4/10.0.0.1/tcp/5001/"}) {
    CAPTURE(bad);
    CHECK_FALSE(ParseTcpMultiaddr(bad).has_value());
  }
}

TEST_CASE("ParseListenAddress accepts the documented forms") {
  struct Good {
    const char* text;
    const char* canonical;
    uint16_t port;
  };
  const Good good[] = {
      {":5000", ":5000", 5000},
      {"0.0.0.0:5000", "0.0.0.0:5000", 5000},
      {"127.0.0.1:0", "127.0.0.1:0", 0},
      {"[::1]:5000", "[::1]:5000", 5000},
      {"[::]:5000", "[::]:5000", 5000},
      {"localhost:5000", "127.0.0.1:5000", 5000},
      {"10.1.2.3:65535", "10.1.2.3:65535", 65535},
  };
  for (const Good& g : good) {
    CAPTURE(g.text);
    const auto a = ParseListenAddress(g.text);
    REQUIRE(a.ok());
    CHECK(a->ToString() == g.canonical);
    CHECK(a->port() == g.port);
  }
  CHECK(ParseListenAddress(":5000")->dual_stack_wildcard);
  CHECK_FALSE(ParseListenAddress("[::]:5000")->dual_stack_wildcard);

  const char* bad[] = {"",          "5000",           ":",        ":65536",       ":-1",
                       ":50a",      "example.com:80", "::1:5000", "[::1]",        "[::1]5000",
                       "[::1:5000", "[zz]:1",         "1.2.3:80", "1.2.3.4.5:80", "localhost",
                       ":123456",   "127.0.0.1: 80"};
  for (const char* text : bad) {
    CAPTURE(text);
    const auto a = ParseListenAddress(text);
    CHECK_FALSE(a.ok());
    CHECK(a.status().code() == Code::kInvalidArgument);
    CHECK(a.status().message().find("listen address") != std::string::npos);
  }
  CHECK(ParseListenAddress("example.com:80").status().message().find("example.com") !=
        std::string::npos);
}

TEST_CASE("ParseListenAddress: ports are 0..65535 in at most 5 digits") {
  for (const char* text : {":0", ":00000", ":1", ":05000", ":65535"}) {
    CAPTURE(text);
    CHECK(ParseListenAddress(text).ok());
  }
  CHECK(ParseListenAddress(":00000")->port() == 0);
  CHECK(ParseListenAddress(":05000")->port() == 5000);
  for (const char* text :
       {":", ":65536", ":000000", ":005000", ":+1", ":-0", ": 1", ":1 ", ":1e3", "1.2.3.4:"}) {
    CAPTURE(text);
    CHECK_FALSE(ParseListenAddress(text).ok());
  }
}

TEST_CASE("ParsePeerAddress: the socket address and the Host authority of an IP literal") {
  struct Good {
    const char* host;
    int family;
    const char* authority;
  };
  const Good good[] = {
      {"10.0.0.1", AF_INET, "10.0.0.1:5000"},
      {"[10.0.0.1]", AF_INET, "10.0.0.1:5000"},  // brackets around IPv4 are taken here
      {"::1", AF_INET6, "[::1]:5000"},
      {"[::1]", AF_INET6, "[::1]:5000"},
      {"FD00:0::1", AF_INET6, "[FD00:0::1]:5000"},  // the host as given
      {"::ffff:10.0.0.1", AF_INET6, "[::ffff:10.0.0.1]:5000"},
  };
  for (const Good& g : good) {
    CAPTURE(g.host);
    Result<PeerAddress> peer = ParsePeerAddress(g.host, 5000);
    REQUIRE(peer.ok());
    CHECK(peer->address.storage.ss_family == g.family);
    CHECK(peer->address.port() == 5000);
    CHECK(peer->authority == g.authority);
  }
  for (const char* bad : {"", "[]", "example.com", "localhost", "10.0.0", "10.0.0.256", "[::1",
                          "::1]", "[[::1]]", "10.0.0.1:5000", "[::1]:5000", " 10.0.0.1"}) {
    CAPTURE(bad);
    Result<PeerAddress> peer = ParsePeerAddress(bad, 5000);
    REQUIRE_FALSE(peer.ok());
    CHECK(peer.status().code() == Code::kInvalidArgument);
    CHECK(peer.status().message().find("not an IP address") != std::string::npos);
  }
}

TEST_CASE("ParsePeerAddress: an IPv6 zone is an interface name or index, left out of the Host") {
  const unsigned lo = if_nametoindex("lo");
  if (lo != 0) {
    for (const char* host : {"fe80::1%lo", "[fe80::1%lo]"}) {
      CAPTURE(host);
      Result<PeerAddress> peer = ParsePeerAddress(host, 80);
      REQUIRE(peer.ok());
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&peer->address.storage);
      CHECK(sin6->sin6_scope_id == lo);
      CHECK(peer->authority == "[fe80::1]:80");
    }
  }
  Result<PeerAddress> by_index = ParsePeerAddress("fe80::1%7", 80);
  REQUIRE(by_index.ok());
  CHECK(reinterpret_cast<const sockaddr_in6*>(&by_index->address.storage)->sin6_scope_id == 7);
  for (const char* bad :
       {"fe80::1%nosuchiface0", "fe80::1%", "fe80::1%0", "fe80::1%1234567890", "fe80::1%-1"}) {
    CAPTURE(bad);
    Result<PeerAddress> peer = ParsePeerAddress(bad, 80);
    REQUIRE_FALSE(peer.ok());
    CHECK(peer.status().message().find("zone") != std::string::npos);
  }
  // A zone on an IPv4 literal names an interface but leaves no IPv6 literal.
  if (lo != 0) CHECK_FALSE(ParsePeerAddress("10.0.0.1%lo", 80).ok());
}

TEST_CASE("FormatPeerAddress writes IPv4-mapped IPv6 as IPv4") {
  char buf[INET6_ADDRSTRLEN];
  sockaddr_storage storage{};
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&storage);
  sin6->sin6_family = AF_INET6;
  REQUIRE(inet_pton(AF_INET6, "::ffff:10.1.2.3", &sin6->sin6_addr) == 1);
  FormatPeerAddress(storage, buf);
  CHECK(std::string(buf) == "10.1.2.3");
  REQUIRE(inet_pton(AF_INET6, "fd00::1", &sin6->sin6_addr) == 1);
  FormatPeerAddress(storage, buf);
  CHECK(std::string(buf) == "fd00::1");
  auto* sin = reinterpret_cast<sockaddr_in*>(&storage);
  sin->sin_family = AF_INET;
  REQUIRE(inet_pton(AF_INET, "192.0.2.1", &sin->sin_addr) == 1);
  FormatPeerAddress(storage, buf);
  CHECK(std::string(buf) == "192.0.2.1");
  storage.ss_family = AF_UNIX;
  FormatPeerAddress(storage, buf);
  CHECK(std::string(buf).empty());
}

}  // namespace
TEST_CASE("address: text with a NUL byte is never an address") {
  using namespace std::string_literals;
  CHECK(spegel::CanonicalIp("10.0.0.1\0junk"s, spegel::IpFamily::kV4).empty());
  CHECK_FALSE(spegel::IsIpLiteral("fd00::1\0"s));
  CHECK_FALSE(ParseListenAddress("127.0.0.1\0:5000"s).ok());
  CHECK_FALSE(ParsePeerAddress("10.0.0.1\0evil.example"s, 5000).ok());
  CHECK_FALSE(ParseTcpMultiaddr("/ip4/10.0.0.1\0x/tcp/5001"s).has_value());
}

}  // namespace spegel::http
