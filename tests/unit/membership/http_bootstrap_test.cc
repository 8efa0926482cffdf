// HTTP bootstrap (membership/http_bootstrap.h): upstream's /id document read and written, bootstrap
// URLs and multiaddrs parsed strictly, and the handler and client talking over loopback: the
// client hands on the address the handler names, and a failing URL keeps failing quietly.
#include "membership/http_bootstrap.h"

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fakes/loop_util.h"
#include "fakes/loopback_ports.h"
#include "http/server.h"
#include "loop/loop.h"

namespace spegel::cluster {
namespace {

using spegel::testing::OpenHandles;
using spegel::testing::RefusedPort;
using spegel::testing::RunFor;
using spegel::testing::RunUntil;
using Peers = std::vector<std::pair<std::string, uint16_t>>;

TEST_CASE("http bootstrap: URLs are http://IP[:PORT][/PATH]") {
  auto v4 = ParseBootstrapUrl("http://10.0.0.1:5002/id");
  REQUIRE(v4.ok());
  CHECK(v4->host == "10.0.0.1");
  CHECK(v4->port == 5002);
  CHECK(v4->target == "/id");
  auto bare = ParseBootstrapUrl("http://10.0.0.1");
  REQUIRE(bare.ok());
  CHECK(bare->port == 80);
  CHECK(bare->target == "/id");
  auto v6 = ParseBootstrapUrl("http://[fd00::1]:5002/bootstrap?x=1");
  REQUIRE(v6.ok());
  CHECK(v6->host == "fd00::1");
  CHECK(v6->target == "/bootstrap?x=1");
  CHECK(ParseBootstrapUrl("https://10.0.0.1/id").status().code() == Code::kUnimplemented);
  for (const char* bad : {"10.0.0.1:5002", "http://spegel.local/id", "http://10.0.0.1:0/",
                          "http://10.0.0.1:65536/", "http://10.0.0.1:/", "http://[fd00::1/",
                          "http://[10.0.0.1]/", "http://10.0.0.1/a b", "ftp://10.0.0.1/"}) {
    CAPTURE(bad);
    CHECK(ParseBootstrapUrl(bad).status().code() == Code::kInvalidArgument);
  }
}

TEST_CASE("http bootstrap: upstream's AddrInfo documents; our own reads back") {
  auto upstream = ParseBootstrapPeers(
      R"([{"ID":"12D3KooWabc","Addrs":["/ip4/10.0.0.1/tcp/5001","/dns4/x/tcp/1",)"
      R"("/ip6/fd00::1/tcp/5001/p2p/12D3KooWabc","/ip4/10.0.0.1/udp/5001"]},)"
      R"({"ID":"","Addrs":["/ip4/10.0.0.1/tcp/5001","/ip4/10.0.0.2/tcp/6001"]}])");
  REQUIRE(upstream.ok());
  CHECK(*upstream == Peers{{"10.0.0.1", 5001}, {"fd00::1", 5001}, {"10.0.0.2", 6001}});
  // Bounded in entries.
  auto four =
      ParseBootstrapPeers(R"([{"Addrs":["/ip4/1.1.1.1/tcp/1"]},{"Addrs":["/ip4/1.1.1.2/tcp/2"]},)"
                          R"({"Addrs":["/ip4/1.1.1.3/tcp/3"]},{"Addrs":["/ip4/1.1.1.4/tcp/4"]}])",
                          3);
  REQUIRE(four.ok());
  CHECK(four->size() == 3);
  for (const char* bad :
       {"", "{}", "[", "[{}]", R"([{"Addrs":["/dns4/x/tcp/1"]}])",
        R"([{"Addrs":"/ip4/1.1.1.1/tcp/1"}])", R"([{"Addrs":["/ip4/1.1.1.1/tcp/0"]}])",
        R"([{"Addrs":["/ip4/999.1.1.1/tcp/1"]}])"}) {
    CAPTURE(bad);
    CHECK_FALSE(ParseBootstrapPeers(bad).ok());
  }
  CHECK_FALSE(ParseBootstrapPeers(std::string(70 << 10, ' ')).ok());
  auto ours = ParseBootstrapPeers(
      BootstrapIdDocument({{"node-1", "fd00::7", 5001}, {"node-2", "10.0.0.4", 5001}}));
  REQUIRE(ours.ok());
  CHECK(*ours == Peers{{"fd00::7", 5001}, {"10.0.0.4", 5001}});
  CHECK(BootstrapIdDocument({{"node-1", "10.0.0.3", 5001}}) ==
        "[{\"ID\":\"node-1\",\"Addrs\":[\"/ip4/10.0.0.3/tcp/5001\"]}]\n");
}

TEST_CASE("http bootstrap: the client hands on the address the handler names") {
  Loop loop;
  const std::string self_id = "node-a";
  HttpBootstrapHandler handler(&self_id, 4242, [] {
    return std::vector<BootstrapEntry>{{"node-b", "10.9.9.9", 4243}};
  });
  auto server = std::make_unique<http::Server>(&loop, &handler);
  auto address = http::ParseListenAddress("127.0.0.1:0");
  REQUIRE(address.ok());
  auto port = server->Listen(*address);
  REQUIRE(port.ok());
  std::vector<Peers> rounds;
  auto client = std::make_unique<HttpBootstrapClient>(&loop,
                                                      BootstrapUrl{"127.0.0.1", *port, "/id"}, 50,
                                                      [&](const Peers& peers) {
                                                        rounds.push_back(peers);
                                                      });
  client->Start();
  REQUIRE(RunUntil(&loop, [&] { return rounds.size() >= 2; }));  // Now, and again each interval.
  CHECK(rounds[0] == Peers{{"127.0.0.1", 4242}, {"10.9.9.9", 4243}});
  CHECK(client->failures() == 0);

  // A path that is not /id: 404, a failure; the peers handed on before stay the caller's.
  auto wrong = std::make_unique<HttpBootstrapClient>(&loop,
                                                     BootstrapUrl{"127.0.0.1", *port, "/nope"}, 50,
                                                     [&](const Peers&) {
                                                       FAIL("no peers from a 404");
                                                     });
  wrong->Start();
  REQUIRE(RunUntil(&loop, [&] { return wrong->failures() >= 2; }));
  CHECK(wrong->answers() == 0);
  // Nothing listening: also just failures.
  RefusedPort nobody;
  auto refused = std::make_unique<HttpBootstrapClient>(
      &loop, BootstrapUrl{"127.0.0.1", nobody.port(), "/id"}, 50,
      [&](const Peers&) { FAIL("no peers from a refused port"); });
  refused->Start();
  REQUIRE(RunUntil(&loop, [&] { return refused->failures() >= 1; }));

  client.reset();
  wrong.reset();
  refused.reset();
  bool down = false;
  server->Shutdown(100, [&] { down = true; });
  REQUIRE(RunUntil(&loop, [&] { return down; }));
  server.reset();
  RunFor(&loop, 10);
  CHECK(OpenHandles(&loop) == 0);
}

}  // namespace
}  // namespace spegel::cluster
