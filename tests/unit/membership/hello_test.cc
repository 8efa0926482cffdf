// Hello body tests (hello.h): the format round-trips, loose bodies parse, bad ones are refused.
#include "membership/hello.h"

#include <doctest/doctest.h>

#include <string>

namespace spegel::cluster {
namespace {

TEST_CASE("hello: format round trip") {
  MemberInfo info;
  info.node_id = "node-1.example";
  info.incarnation = 1712345678901;
  info.addresses = {"10.0.0.1"};
  info.registry_port = 5000;
  info.router_port = 5001;
  const std::string wire = FormatHello(info);
  CHECK(wire == "id=node-1.example\ninc=1712345678901\nregistry=5000\nrouter=5001\n");
  auto parsed = ParseHello(wire);
  REQUIRE(parsed.ok());
  CHECK(parsed->node_id == info.node_id);
  CHECK(parsed->incarnation == info.incarnation);
  CHECK(parsed->registry_port == 5000);
  CHECK(parsed->router_port == 5001);
  CHECK(parsed->addresses.empty());  // Addresses are never part of the format.
  // CRLF, unknown keys, no final newline, any order.
  auto loose = ParseHello("router=2\r\nv=1\r\naddr=10.1.1.1\r\nid=a\r\nregistry=1\r\ninc=0");
  REQUIRE(loose.ok());
  CHECK(loose->node_id == "a");
  CHECK(loose->router_port == 2);
  CHECK(loose->addresses.empty());
}

TEST_CASE("hello: bad bodies are refused") {
  const char* bad[] = {
      "",
      "id=a\ninc=1\nregistry=1\n",                  // no router port
      "id=a\ninc=1\nrouter=1\n",                    // no registry port
      "id=a\nregistry=1\nrouter=1\n",               // no inc
      "inc=1\nregistry=1\nrouter=1\n",              // no id
      "id=bad id\ninc=1\nregistry=1\nrouter=1\n",   // invalid node id
      "id=-a\ninc=1\nregistry=1\nrouter=1\n",       // invalid node id
      "id=a\ninc=x\nregistry=1\nrouter=1\n",        // bad inc
      "id=a\ninc=-1\nregistry=1\nrouter=1\n",       // bad inc
      "id=a\ninc=1\nregistry=0\nrouter=1\n",        // port 0
      "id=a\ninc=1\nregistry=65536\nrouter=1\n",    // port too large
      "id=a\ninc=1\nregistry=1\nrouter=1x\n",       // trailing junk
      "id=a\ninc=1\nregistry=1\nrouter=1\njunk\n",  // line without '='
  };
  for (const char* body : bad) {
    CAPTURE(body);
    auto r = ParseHello(body);
    CHECK(!r.ok());
    if (!r.ok()) CHECK(r.status().code() == Code::kInvalidArgument);
  }
  std::string huge = "id=a\ninc=1\nregistry=1\nrouter=1\n" + std::string(5000, '\n');
  CHECK(!ParseHello(huge).ok());
}

}  // namespace
}  // namespace spegel::cluster
