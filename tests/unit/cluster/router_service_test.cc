// Router API tests: RouterService behind a real http::Server on 127.0.0.1 driven by
// HttpRouterTransport and raw http::Fetch calls, and the Bootstrapper against other nodes'
// services on the same loop (the wire format alone: router_wire_test.cc). Loopback only; every wait
// is bounded; every test ends with no open handle on the loop.
#include "cluster/router_service.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/http_router_transport.h"
#include "cluster/router_wire.h"
#include "fakes/loop_util.h"
#include "fakes/loopback_ports.h"
#include "http/client.h"
#include "http/server.h"
#include "loop/loop.h"
#include "membership/bootstrapper.h"
#include "unit/cluster/announce_bodies.h"

namespace spegel::cluster {
namespace {

using spegel::cluster::testing::AnnounceBodyOfSize;
using spegel::cluster::testing::AnnounceBodyWithKeys;
using spegel::testing::OpenHandles;
using spegel::testing::RefusedPort;
using spegel::testing::RunFor;
using spegel::testing::RunUntil;
using spegel::testing::SilentListener;

const std::string kKey = "sha256:" + std::string(64, 'c');
const std::string kSecret = "router test secret, 32 bytes ...";

// Counts the requests a node's router address received, then hands them to the service (and
// the heads to be accepted to its AcceptHead).
class CountingHandler : public http::Handler {
 public:
  explicit CountingHandler(http::Handler* inner) : inner_(inner) {}
  int requests = 0;
  int heads_refused = 0;
  void Handle(http::Request& request, http::ResponseWriter& writer) override {
    ++requests;
    inner_->Handle(request, writer);
  }
  http::HeadVerdict AcceptHead(const http::Request& head) override {
    http::HeadVerdict verdict = inner_->AcceptHead(head);
    if (!verdict.accepted()) ++heads_refused;
    return verdict;
  }

 private:
  http::Handler* inner_;
};

// One node's router side on 127.0.0.1:<port>, as the node wiring builds it.
struct Node {
  Node(Loop* l, const std::string& id, const auth::PeerAuth& auth = {},
       uint16_t registry_port = 5000)
      : loop(l),
        scheduler(l),
        membership(&scheduler, id),
        transport(l, &self, auth),
        router(&scheduler, &membership, &transport, Provider{id, "", registry_port}),
        service(&router, &membership, &self, auth, 60'000, &claims, &scheduler),
        counting(&service) {
    server = std::make_unique<http::Server>(l, &counting, RouterServerOptions());
    auto address = http::ParseListenAddress("127.0.0.1:0");
    REQUIRE(address.ok());
    auto bound = server->Listen(*address);
    REQUIRE(bound.ok());
    port = *bound;
    self.node_id = id;
    self.incarnation = 7;
    self.registry_port = registry_port;
    self.router_port = port;
    // As the node wiring sets it: hellos only from listed addresses (every node here is on
    // 127.0.0.1, the listing a static source would make).
    membership.set_admit_unlisted_hellos(false);
    membership.SetListed(MemberSource::kStatic, {"127.0.0.1"});
  }
  ~Node() {
    bool down = false;
    server->Shutdown(200, [&] { down = true; });
    CHECK(RunUntil(loop, [&] { return down; }));
  }

  // This node as a member seen by others.
  Member AsMember() const {
    Member m;
    m.info = self;
    m.info.addresses = {"127.0.0.1"};
    return m;
  }

  Loop* loop;
  LoopScheduler scheduler;
  MemberInfo self;
  Membership membership;
  HttpRouterTransport transport;
  Router router;
  ClaimTable claims;
  RouterService service;
  CountingHandler counting;
  std::unique_ptr<http::Server> server;
  uint16_t port = 0;
};

// The calling side: a transport of a node that has no service of its own.
struct Caller {
  Caller(Loop* l, const std::string& id, auth::PeerAuth auth = {}, uint16_t registry_port = 6000)
      : loop(l), transport(l, &self, std::move(auth)) {
    self.node_id = id;
    self.incarnation = 3;
    self.addresses = {"10.9.9.9"};  // Never sent: receivers use the socket address.
    self.registry_port = registry_port;
    self.router_port = 6001;
  }
  Status Announce(const Member& owner, const AnnounceBatch& batch) {
    std::optional<Status> out;
    transport.Announce(owner, batch, [&](Status s) { out = std::move(s); });
    CHECK(!out.has_value());  // Never inline.
    REQUIRE(RunUntil(loop, [&] { return out.has_value(); }));
    return *out;
  }
  Result<std::vector<Provider>> Lookup(const Member& owner, const std::string& key) {
    std::optional<Result<std::vector<Provider>>> out;
    transport.Lookup(owner, key,
                     [&](Result<std::vector<Provider>> r) { out.emplace(std::move(r)); });
    CHECK(!out.has_value());
    REQUIRE(RunUntil(loop, [&] { return out.has_value(); }));
    return std::move(*out);
  }
  Result<ClaimAnswer> Claim(const Member& owner, const std::string& key, bool can_serve = true,
                            std::vector<std::string> avoid = {}) {
    std::optional<Result<ClaimAnswer>> out;
    transport.Claim(owner, ClaimRequest{key, can_serve, std::move(avoid)}, 1000,
                    [&](Result<ClaimAnswer> r) { out.emplace(std::move(r)); });
    CHECK(!out.has_value());
    REQUIRE(RunUntil(loop, [&] { return out.has_value(); }));
    return std::move(*out);
  }
  Result<std::vector<std::string>> Progress(const Member& owner,
                                            const std::vector<ProgressReport>& reports) {
    std::optional<Result<std::vector<std::string>>> out;
    transport.Progress(owner, reports,
                       [&](Result<std::vector<std::string>> r) { out.emplace(std::move(r)); });
    CHECK(!out.has_value());
    REQUIRE(RunUntil(loop, [&] { return out.has_value(); }));
    return std::move(*out);
  }
  Result<MemberInfo> Hello(uint16_t port) {
    std::optional<Result<MemberInfo>> out;
    transport.Hello("127.0.0.1", port, [&](Result<MemberInfo> r) { out.emplace(std::move(r)); });
    CHECK(!out.has_value());
    REQUIRE(RunUntil(loop, [&] { return out.has_value(); }));
    return std::move(*out);
  }

  Loop* loop;
  MemberInfo self;
  HttpRouterTransport transport;
};

// A raw request to 127.0.0.1:port; returns the status (or -1 when the exchange failed).
int Raw(Loop* loop, uint16_t port, std::string method, std::string target, http::Headers headers,
        std::string body, std::string* response_body = nullptr) {
  http::ClientRequest request;
  request.method = std::move(method);
  request.host = "127.0.0.1";
  request.port = port;
  request.target = std::move(target);
  request.headers = std::move(headers);
  request.body = std::move(body);
  std::optional<Result<http::FetchResult>> out;
  auto exchange = http::Fetch(loop, std::move(request), {}, 1 << 20,
                              [&](Result<http::FetchResult> r) { out.emplace(std::move(r)); });
  REQUIRE(RunUntil(loop, [&] { return out.has_value(); }));
  if (!out->ok()) return -1;
  if (response_body != nullptr) *response_body = (*out)->body;
  return (*out)->response.status;
}

http::Headers AnnounceHeaders(const std::string& node = "client",
                              const std::string& port = "6000") {
  return {{"X-Spegel-Node", node}, {"X-Spegel-Registry-Port", port}};
}

// ---------------------------------------------------------------------------------------------
// RouterService over HTTP

TEST_CASE("router service: announce registers the sender at its socket address; lookup finds it") {
  Loop loop;
  {
    Node owner(&loop, "owner");
    Caller client(&loop, "client");
    AnnounceBatch batch;
    batch.ttl_ms = 60'000;
    batch.add = {kKey, "docker.io/library/app:v1"};
    CHECK(client.Announce(owner.AsMember(), batch).ok());
    const std::vector<Provider> expected{{"client", "127.0.0.1", 6000}};
    CHECK(owner.router.HandleLookup(kKey) == expected);
    CHECK(owner.router.HandleLookup("docker.io/library/app:v1") == expected);

    auto found = client.Lookup(owner.AsMember(), kKey);
    REQUIRE(found.ok());
    CHECK(*found == expected);
    // A tag key travels percent-encoded and comes back intact.
    auto tag = client.Lookup(owner.AsMember(), "docker.io/library/app:v1");
    REQUIRE(tag.ok());
    CHECK(*tag == expected);
    CHECK(owner.service.rejected() == 0);
    auto missing = client.Lookup(owner.AsMember(), "sha256:" + std::string(64, 'e'));
    REQUIRE(missing.ok());
    CHECK(missing->empty());
    // The owner's own entry (it provides the key too) has no address at the owner: the answer
    // carries kSelfAddress, and the asker puts the address it reached the owner at in its place.
    const std::string own = "sha256:" + std::string(64, 'd');
    owner.router.SetLocalKeys({own});
    REQUIRE(RunUntil(&loop, [&] { return !owner.router.HandleLookup(own).empty(); }));
    auto own_found = client.Lookup(owner.AsMember(), own);
    REQUIRE(own_found.ok());
    CHECK(*own_found == std::vector<Provider>{{"owner", "127.0.0.1", 5000}});

    // Whatever the request claims besides the headers the protocol defines, the address is the
    // socket's.
    http::Headers forged = AnnounceHeaders("forger", "7000");
    forged.push_back({"X-Forwarded-For", "10.6.6.6"});
    forged.push_back({"X-Spegel-Address", "10.6.6.6"});
    forged.push_back({"Forwarded", "for=10.6.6.6"});
    const std::string other = "sha256:" + std::string(64, 'f');
    CHECK(Raw(&loop, owner.port, "POST", "/cluster/v1/announce", forged,
              "ttl=1000\n+" + other + "\n") == 204);
    CHECK(owner.router.HandleLookup(other) == std::vector<Provider>{{"forger", "127.0.0.1", 7000}});

    // Removes withdraw.
    AnnounceBatch remove;
    remove.remove = {kKey};
    CHECK(client.Announce(owner.AsMember(), remove).ok());
    CHECK(owner.router.HandleLookup(kKey).empty());
  }
  CHECK(OpenHandles(&loop) == 0);
}

TEST_CASE("router service: claims over HTTP: one fetcher, followers told where, revocation") {
  Loop loop;
  {
    Node owner(&loop, "owner");
    Caller a(&loop, "a", {}, 6000);
    Caller b(&loop, "b", {}, 6100);
    Result<ClaimAnswer> first = a.Claim(owner.AsMember(), kKey);
    REQUIRE(first.ok());
    CHECK(first->verdict == ClaimVerdict::kFetch);
    Result<ClaimAnswer> second = b.Claim(owner.AsMember(), kKey);
    REQUIRE(second.ok());
    REQUIRE(second->verdict == ClaimVerdict::kFollow);
    // The fetcher at the address its claim came from, with its registry port.
    CHECK(second->nodes.front() == Provider{"a", "127.0.0.1", 6000});
    // Progress: the fetcher's report is accepted; a report claiming to fetch from b is revoked.
    Result<std::vector<std::string>> ok = a.Progress(owner.AsMember(),
                                                     {{kKey, ProgressState::kFetching, 100, 1000}});
    REQUIRE(ok.ok());
    CHECK(ok->empty());
    Result<std::vector<std::string>> revoked =
        b.Progress(owner.AsMember(), {{kKey, ProgressState::kFetching, 100, 1000}});
    REQUIRE(revoked.ok());
    CHECK(*revoked == std::vector<std::string>{kKey});
    // The owner itself as the source: the asker fills in the owner's address.
    const std::string other = "sha256:" + std::string(64, 'e');
    owner.claims.Claim(other, Provider{"owner", "", 5000}, {}, true, owner.scheduler.NowMs());
    Result<ClaimAnswer> from_owner = b.Claim(owner.AsMember(), other);
    REQUIRE(from_owner.ok());
    REQUIRE(from_owner->verdict == ClaimVerdict::kFollow);
    CHECK(from_owner->nodes.front() == Provider{"owner", "127.0.0.1", 5000});
    // Complete copies in the provider table: have.
    AnnounceBatch batch;
    batch.ttl_ms = 60'000;
    batch.add = {kKey};
    CHECK(Caller(&loop, "c", {}, 6200).Announce(owner.AsMember(), batch).ok());
    Result<ClaimAnswer> have = b.Claim(owner.AsMember(), kKey);
    REQUIRE(have.ok());
    CHECK(have->verdict == ClaimVerdict::kHave);
    CHECK(have->nodes.front().node_id == "c");
    // Malformed claims and progress are refused; the service keeps serving.
    CHECK(Raw(&loop, owner.port, "POST", std::string(kClaimPath), AnnounceHeaders(), "key=\n") ==
          400);
    CHECK(Raw(&loop, owner.port, "POST", std::string(kProgressPath), AnnounceHeaders(),
              "done x\n") == 400);
    CHECK(Raw(&loop, owner.port, "POST", std::string(kClaimPath), {}, "key=" + kKey + "\n") == 400);
    CHECK(a.Claim(owner.AsMember(), kKey)->verdict == ClaimVerdict::kHave);
  }
  RunFor(&loop, 10);
  CHECK(OpenHandles(&loop) == 0);
}

TEST_CASE("router service: only members claim; a member's complaint ends a stalled fetch") {
  // Issue 30, row 3, over HTTP: the owner's table takes part only for its members (and itself).
  Loop loop;
  {
    Node owner(&loop, "owner");
    owner.claims = ClaimTable(ClaimOptions{}, [&owner](std::string_view id) {
      return owner.membership.IsSelfOrMember(id);
    });
    Caller stranger(&loop, "stranger", {}, 6000);
    Caller a(&loop, "a", {}, 6100);
    Caller b(&loop, "b", {}, 6200);
    // Never said hello: declined, and its reports do nothing.
    Result<ClaimAnswer> refused = stranger.Claim(owner.AsMember(), kKey);
    REQUIRE(refused.ok());
    CHECK(refused->verdict == ClaimVerdict::kDecline);
    Result<std::vector<std::string>> ignored =
        stranger.Progress(owner.AsMember(), {{kKey, ProgressState::kFetching, 100, 1000}});
    REQUIRE(ignored.ok());
    CHECK(*ignored == std::vector<std::string>{kKey});
    CHECK(owner.claims.stats().keys == 0);
    // Members say hello from their own address (one node per address and router port).
    a.self.router_port = 6101;
    b.self.router_port = 6201;
    REQUIRE(a.Hello(owner.port).ok());
    REQUIRE(b.Hello(owner.port).ok());
    CHECK(a.Claim(owner.AsMember(), kKey)->verdict == ClaimVerdict::kFetch);
    Result<ClaimAnswer> follow = b.Claim(owner.AsMember(), kKey);
    REQUIRE(follow.ok());
    REQUIRE(follow->verdict == ClaimVerdict::kFollow);
    CHECK(follow->nodes.front().node_id == "a");
    // The owner itself is a member of its own claims.
    const std::string other = "sha256:" + std::string(64, 'e');
    CHECK(owner.service.AnswerClaim(other, Provider{"owner", "", 5000}, true).verdict ==
          ClaimVerdict::kFetch);
    // a claims progress it never serves; b received ten bytes, then its stream stalled. Its
    // re-claim names a: nobody else saw a advance, so a loses the claim for good and b fetches.
    CHECK(a.Progress(owner.AsMember(), {{kKey, ProgressState::kFetching, 500, 1000}})->empty());
    CHECK(b.Progress(owner.AsMember(), {{kKey, ProgressState::kReading, 10, 1000, "a"}})->empty());
    Result<ClaimAnswer> again = b.Claim(owner.AsMember(), kKey, true, {"a"});
    REQUIRE(again.ok());
    CHECK(again->verdict == ClaimVerdict::kFetch);
    CHECK(owner.claims.stats().banned == 1);
    CHECK(*a.Progress(owner.AsMember(), {{kKey, ProgressState::kFetching, 900, 1000}}) ==
          std::vector<std::string>{kKey});
    Result<ClaimAnswer> back = a.Claim(owner.AsMember(), kKey);
    REQUIRE(back.ok());
    REQUIRE(back->verdict == ClaimVerdict::kFollow);
    CHECK(back->nodes.front().node_id == "b");
    CHECK(owner.claims.stats().strangers == 2);
  }
  RunFor(&loop, 10);
  CHECK(OpenHandles(&loop) == 0);
}

TEST_CASE("router service: a hello from an address no source names gets 403 and asks DNS again") {
  Loop loop;
  {
    Node owner(&loop, "owner");
    owner.membership.SetListed(MemberSource::kStatic, {});
    int asked = 0;
    owner.service.SetOnUnlistedHello([&] { ++asked; });
    Caller client(&loop, "client");
    auto reply = client.Hello(owner.port);
    REQUIRE_FALSE(reply.ok());
    CHECK(reply.status().message().find("403") != std::string::npos);
    CHECK(owner.membership.Find("client") == nullptr);
    CHECK(owner.membership.unlisted_refused() == 1);
    CHECK(asked == 1);
    // Once the DNS answer names the address, the same hello is taken.
    owner.membership.SetListed(MemberSource::kDns, {"10.0.0.9", "127.0.0.1"});
    REQUIRE(client.Hello(owner.port).ok());
    CHECK(owner.membership.Find("client") != nullptr);
    CHECK(asked == 1);
  }
  RunFor(&loop, 10);
  CHECK(OpenHandles(&loop) == 0);
}

TEST_CASE("router service: hello makes the sender a member at its socket address") {
  Loop loop;
  {
    Node owner(&loop, "owner");
    Caller client(&loop, "client");
    auto reply = client.Hello(owner.port);
    REQUIRE(reply.ok());
    CHECK(reply->node_id == "owner");
    CHECK(reply->incarnation == 7);
    CHECK(reply->router_port == owner.port);
    CHECK(reply->registry_port == 5000);
    CHECK(reply->addresses == std::vector<std::string>{"127.0.0.1"});
    const Member* m = owner.membership.Find("client");
    REQUIRE(m != nullptr);
    CHECK(m->info.addresses == std::vector<std::string>{"127.0.0.1"});
    CHECK(m->info.incarnation == 3);
    CHECK(m->info.registry_port == 6000);
    CHECK(m->info.router_port == 6001);
    // A hello carrying the receiver's own id is answered but never makes self a member.
    std::string body;
    CHECK(Raw(&loop, owner.port, "POST", "/cluster/v1/hello", {},
              "id=owner\ninc=9\nregistry=1\nrouter=2\n", &body) == 200);
    CHECK(body.find("id=owner\n") != std::string::npos);
    CHECK(owner.membership.Find("owner") == nullptr);
    CHECK(owner.membership.size() == 1);
  }
  CHECK(OpenHandles(&loop) == 0);
}

TEST_CASE("router service: calls under a member's id from an address it is not bound to get 409") {
  Loop loop;
  {
    Node owner(&loop, "owner");
    MemberInfo ghost;
    ghost.node_id = "ghost";
    ghost.incarnation = 5;
    ghost.addresses = {"10.9.0.1"};  // Where the real node said hello from.
    ghost.registry_port = 5000;
    ghost.router_port = 5001;
    REQUIRE(owner.membership.Observe(ghost, MemberSource::kStatic, 60'000) == Observed::kJoined);
    AnnounceBatch batch;
    batch.add.push_back(kKey);
    // Every call under "ghost" from 127.0.0.1 (the forger) is refused and changes nothing.
    std::string body;
    CHECK(Raw(&loop, owner.port, "POST", std::string(kAnnouncePath), AnnounceHeaders("ghost"),
              FormatAnnounce(batch), &body) == 409);
    CHECK(body.find("not bound") != std::string::npos);
    AnnounceBatch withdraw;
    withdraw.remove.push_back(kKey);
    CHECK(Raw(&loop, owner.port, "POST", std::string(kAnnouncePath), AnnounceHeaders("ghost"),
              FormatAnnounce(withdraw)) == 409);
    CHECK(Raw(&loop, owner.port, "POST", std::string(kClaimPath), AnnounceHeaders("ghost"),
              FormatClaimRequest(ClaimRequest{kKey, true})) == 409);
    ProgressReport report;
    report.key = kKey;
    report.offset = 10;
    CHECK(Raw(&loop, owner.port, "POST", std::string(kProgressPath), AnnounceHeaders("ghost"),
              FormatProgress({report})) == 409);
    CHECK(Raw(&loop, owner.port, "POST", std::string(kHelloPath), {},
              "id=ghost\ninc=99999\nregistry=1\nrouter=2\n") == 409);
    CHECK(owner.router.HandleLookup(kKey).empty());
    const Member* m = owner.membership.Find("ghost");
    REQUIRE(m != nullptr);
    CHECK(m->info.addresses == std::vector<std::string>{"10.9.0.1"});
    CHECK(m->info.incarnation == 5);
    CHECK(owner.membership.foreign_refused() == 5);
    // The same calls under an id no member has still pass (who may join at all is the peer
    // secret's business).
    CHECK(Raw(&loop, owner.port, "POST", std::string(kAnnouncePath), AnnounceHeaders("newcomer"),
              FormatAnnounce(batch)) == 204);
  }
  CHECK(OpenHandles(&loop) == 0);
}

TEST_CASE("router service: with a peer secret, unsigned requests get 401 and signed ones pass") {
  Loop loop;
  {
    Node owner(&loop, "owner", auth::PeerAuth(kSecret));
    Caller unsigned_client(&loop, "nosig");
    Caller wrong(&loop, "wrong", auth::PeerAuth("another secret, also 32 bytes..."));
    Caller signed_client(&loop, "client", auth::PeerAuth(kSecret));
    AnnounceBatch batch;
    batch.add = {kKey};

    Status refused = unsigned_client.Announce(owner.AsMember(), batch);
    CHECK(!refused.ok());
    CHECK(refused.message().find("401") != std::string::npos);
    CHECK(!wrong.Announce(owner.AsMember(), batch).ok());
    CHECK(!unsigned_client.Lookup(owner.AsMember(), kKey).ok());
    CHECK(!unsigned_client.Hello(owner.port).ok());
    CHECK(owner.router.HandleLookup(kKey).empty());
    CHECK(owner.membership.size() == 0);
    CHECK(Raw(&loop, owner.port, "GET", "/cluster/v1/lookup?key=" + kKey, {}, "") == 401);

    CHECK(signed_client.Announce(owner.AsMember(), batch).ok());
    auto found = signed_client.Lookup(owner.AsMember(), kKey);
    REQUIRE(found.ok());
    CHECK(*found == std::vector<Provider>{{"client", "127.0.0.1", 6000}});
    CHECK(signed_client.Hello(owner.port).ok());
    CHECK(owner.membership.Find("client") != nullptr);

    // A signature is bound to its target: replayed on another key it is refused.
    const auth::PeerAuth auth(kSecret);
    const std::string signed_target = "/cluster/v1/lookup?key=" + kKey;
    auto header = auth.Sign("GET", signed_target, "", auth::UnixSeconds());
    REQUIRE(header.has_value());
    CHECK(Raw(&loop, owner.port, "GET", signed_target, {{std::string(auth::kAuthHeader), *header}},
              "") == 200);
    CHECK(Raw(&loop, owner.port, "GET", "/cluster/v1/lookup?key=sha256:" + std::string(64, '0'),
              {{std::string(auth::kAuthHeader), *header}}, "") == 401);
    // And to its body.
    auto announce_sig = auth.Sign("POST", "/cluster/v1/announce", "ttl=1\n+a\n",
                                  auth::UnixSeconds());
    http::Headers tampered = AnnounceHeaders("client");
    tampered.push_back({std::string(auth::kAuthHeader), *announce_sig});
    CHECK(Raw(&loop, owner.port, "POST", "/cluster/v1/announce", tampered, "ttl=1\n+b\n") == 401);
    CHECK(owner.router.HandleLookup("b").empty());
    // A stale signature.
    auto stale = auth.Sign("GET", signed_target, "", auth::UnixSeconds() - 3600);
    CHECK(Raw(&loop, owner.port, "GET", signed_target, {{std::string(auth::kAuthHeader), *stale}},
              "") == 401);
    CHECK(owner.service.rejected() >= 8);
  }
  CHECK(OpenHandles(&loop) == 0);
}

TEST_CASE("router service: a head it would refuse is refused before its body is read") {
  // Issue 30: 1 MiB announces without credentials were read whole before they were refused.
  Loop loop;
  {
    Node owner(&loop, "owner", auth::PeerAuth(kSecret));
    const auth::PeerAuth auth(kSecret);
    const std::string announce(kAnnouncePath);
    const std::string big = AnnounceBodyOfSize(kMaxAnnounceBodyBytes);
    const int64_t now = auth::UnixSeconds();
    auto signed_by = [&](const std::string& body, int64_t at, http::Headers headers) {
      headers.push_back({std::string(auth::kAuthHeader), *auth.Sign("POST", announce, body, at)});
      return headers;
    };
    http::Headers malformed = AnnounceHeaders();
    malformed.push_back({std::string(auth::kAuthHeader), "12:zz"});
    struct Case {
      std::string method, target;
      http::Headers headers;
      int status;
    };
    const std::vector<Case> cases = {
        {"POST", announce, AnnounceHeaders(), 401},                              // no X-Spegel-Auth
        {"POST", announce, malformed, 401},                                      // malformed
        {"POST", announce, signed_by(big, now - 3600, AnnounceHeaders()), 401},  // stale
        {"POST", announce, signed_by(big, now, {}), 400},  // no sender headers
        {"POST", "/cluster/v1/nope", signed_by(big, now, AnnounceHeaders()), 404},
        {"PUT", announce, signed_by(big, now, AnnounceHeaders()), 405},
    };
    for (const Case& c : cases) {
      CAPTURE(c.method);
      CAPTURE(c.target);
      CHECK(Raw(&loop, owner.port, c.method, c.target, c.headers, big) == c.status);
      CHECK(owner.server->buffered_body_bytes() == 0);
    }
    CHECK(owner.counting.heads_refused == static_cast<int>(cases.size()));
    CHECK(owner.counting.requests == 0);
    // A head that looks right has its body read, and the signature over it checked.
    CHECK(Raw(&loop, owner.port, "POST", announce, signed_by("ttl=1\n+a\n", now, AnnounceHeaders()),
              big) == 401);
    CHECK(owner.counting.requests == 1);
    CHECK(Raw(&loop, owner.port, "POST", announce, signed_by(big, now, AnnounceHeaders()), big) ==
          204);
    CHECK(owner.counting.requests == 2);
    CHECK(owner.server->buffered_body_bytes() == 0);
    CHECK(owner.service.rejected() == cases.size());  // Not the 404; the HMAC's 401 is one.
  }
  CHECK(OpenHandles(&loop) == 0);
}

TEST_CASE("router service: malformed requests get 4xx and the service keeps serving") {
  Loop loop;
  {
    Node owner(&loop, "owner");
    const uint16_t port = owner.port;
    const std::string announce = "/cluster/v1/announce";
    const std::string good_body = "ttl=1000\n+" + kKey + "\n";
    struct Case {
      std::string method, target;
      http::Headers headers;
      std::string body;
      int status;
    };
    const std::vector<Case> cases = {
        {"POST", announce, {}, good_body, 400},                             // no headers
        {"POST", announce, {{"X-Spegel-Node", "client"}}, good_body, 400},  // no port
        {"POST", announce, AnnounceHeaders("bad id"), good_body, 400},
        {"POST", announce, AnnounceHeaders("client", "0"), good_body, 400},
        {"POST", announce, AnnounceHeaders("client", "70000"), good_body, 400},
        {"POST", announce, AnnounceHeaders("client", "5x"), good_body, 400},
        {"POST", announce, AnnounceHeaders("owner"), good_body, 409},  // the receiver's own id
        {"POST", announce, AnnounceHeaders(), "garbage", 400},
        {"POST", announce, AnnounceHeaders(), "", 400},
        {"POST", announce, AnnounceHeaders(), "+" + kKey + "\n", 400},  // no ttl line
        {"POST", announce, AnnounceHeaders(), AnnounceBodyWithKeys(kMaxAnnounceKeys + 1), 400},
        {"POST", announce, AnnounceHeaders(), "ttl=1\n+" + std::string(513, 'k') + "\n", 400},
        {"POST", announce, AnnounceHeaders(), AnnounceBodyOfSize(kMaxAnnounceBodyBytes + 1), 413},
        {"GET", announce, AnnounceHeaders(), "", 405},
        {"POST", "/cluster/v1/lookup?key=" + kKey, {}, "", 405},
        {"GET", "/cluster/v1/lookup", {}, "", 400},
        {"GET", "/cluster/v1/lookup?key=", {}, "", 400},
        {"GET", "/cluster/v1/lookup?key=%zz", {}, "", 400},
        {"GET", "/cluster/v1/lookup?key=%4", {}, "", 400},
        {"GET", "/cluster/v1/lookup?key=a%20b", {}, "", 400},
        {"GET", "/cluster/v1/lookup?key=a%0Ab", {}, "", 400},
        {"GET", "/cluster/v1/lookup?key=" + std::string(513, 'k'), {}, "", 400},
        {"POST", "/cluster/v1/hello", {}, "", 400},
        {"POST", "/cluster/v1/hello", {}, "id=a\n", 400},
        {"POST", "/cluster/v1/hello", {}, std::string(3000, 'x'), 400},
        {"GET", "/cluster/v1/hello", {}, "", 405},
        {"GET", "/cluster/v1/nope", {}, "", 404},
        {"GET", "/", {}, "", 404},
    };
    for (const Case& c : cases) {
      CAPTURE(c.method);
      CAPTURE(c.target.substr(0, 80));
      CAPTURE(c.body.substr(0, 40));
      CHECK(Raw(&loop, port, c.method, c.target, c.headers, c.body) == c.status);
    }
    CHECK(owner.router.HandleLookup(kKey).empty());
    CHECK(owner.membership.size() == 0);
    CHECK(owner.service.rejected() >= 20);
    // Still serving: a body of exactly 1 MiB is accepted, then a normal announce and lookup.
    CHECK(Raw(&loop, port, "POST", announce, AnnounceHeaders(),
              AnnounceBodyOfSize(kMaxAnnounceBodyBytes)) == 204);
    CHECK(Raw(&loop, port, "POST", announce, AnnounceHeaders(), good_body) == 204);
    std::string body;
    CHECK(Raw(&loop, port, "GET", "/cluster/v1/lookup?key=" + kKey, {}, "", &body) == 200);
    CHECK(body == "client 127.0.0.1 6000\n");
    CHECK(Raw(&loop, port, "GET", "/cluster/v1/lookup?key=sha256:" + std::string(64, '1'), {},
              "") == 404);
  }
  CHECK(OpenHandles(&loop) == 0);
}

TEST_CASE("router service: transport errors reach the callback, never inline") {
  Loop loop;
  {
    Caller client(&loop, "client");
    RefusedPort refused;
    Member dead;
    dead.info.node_id = "dead";
    dead.info.addresses = {"127.0.0.1"};
    dead.info.router_port = refused.port();
    CHECK(!client.Announce(dead, AnnounceBatch{{kKey}, {}, 0}).ok());
    CHECK(!client.Lookup(dead, kKey).ok());
    CHECK(!client.Hello(refused.port()).ok());
    Member nowhere;
    nowhere.info.node_id = "nowhere";
    CHECK(client.Announce(nowhere, AnnounceBatch{{kKey}, {}, 0}).code() == Code::kUnavailable);
    CHECK(!client.Lookup(nowhere, kKey).ok());
    CHECK(client.transport.in_flight() == 0);
  }
  CHECK(OpenHandles(&loop) == 0);
}

TEST_CASE("router service: a silent owner times out; destroying the transport cancels calls") {
  Loop loop;
  SilentListener silent;
  Member owner;
  owner.info.node_id = "silent";
  owner.info.addresses = {"127.0.0.1"};
  owner.info.router_port = silent.port();
  {
    MemberInfo self{"client", 1, {}, 6000, 6001};
    PeerClientOptions options;
    options.lookup_timeout_ms = 200;
    HttpRouterTransport transport(&loop, &self, auth::PeerAuth(), options);
    std::optional<Result<std::vector<Provider>>> out;
    transport.Lookup(owner, kKey,
                     [&](Result<std::vector<Provider>> r) { out.emplace(std::move(r)); });
    REQUIRE(RunUntil(
        &loop, [&] { return out.has_value(); }, 3000));
    CHECK(!out->ok());
    CHECK(out->status().code() == Code::kDeadlineExceeded);
    CHECK(transport.in_flight() == 0);
  }
  {
    MemberInfo self{"client", 1, {}, 6000, 6001};
    auto transport = std::make_unique<HttpRouterTransport>(&loop, &self, auth::PeerAuth());
    int calls = 0;
    transport->Lookup(owner, kKey, [&](const Result<std::vector<Provider>>&) { ++calls; });
    transport->Announce(owner, AnnounceBatch{{kKey}, {}, 0}, [&](const Status&) { ++calls; });
    transport->Hello("127.0.0.1", silent.port(), [&](const Result<MemberInfo>&) { ++calls; });
    CHECK(transport->in_flight() == 3);
    RunFor(&loop, 30);
    transport.reset();
    RunFor(&loop, 50);
    CHECK(calls == 0);
  }
  CHECK(OpenHandles(&loop) == 0);
}

// ---------------------------------------------------------------------------------------------
// Bootstrapper

TEST_CASE("router service: bootstrap seeds become members through hello, both ways") {
  Loop loop;
  {
    Node a(&loop, "a");
    Node b(&loop, "b", {}, 5002);
    Node c(&loop, "c", {}, 5003);
    Bootstrapper bootstrap(&loop, &a.membership, &a.transport, BootstrapOptions{});
    bootstrap.SetSeeds(MemberSource::kStatic, {{"127.0.0.1", b.port}, {"127.0.0.1", c.port}});
    CHECK(a.transport.in_flight() == 2);
    REQUIRE(RunUntil(&loop, [&] { return a.membership.size() == 2; }));
    const Member* mb = a.membership.Find("b");
    REQUIRE(mb != nullptr);
    CHECK(mb->info.addresses == std::vector<std::string>{"127.0.0.1"});
    CHECK(mb->info.router_port == b.port);
    CHECK(mb->info.registry_port == 5002);
    CHECK(static_cast<unsigned>(mb->sources) ==
          (1u << static_cast<unsigned>(MemberSource::kStatic)));
    REQUIRE(a.membership.Find("c") != nullptr);
    CHECK(a.membership.Find("c")->info.router_port == c.port);
    // The hellos made `a` a member of b and c, at its socket address.
    REQUIRE(b.membership.Find("a") != nullptr);
    CHECK(b.membership.Find("a")->info.addresses == std::vector<std::string>{"127.0.0.1"});
    CHECK(b.membership.Find("a")->info.router_port == a.port);
    CHECK(c.membership.Find("a") != nullptr);
    CHECK(a.transport.in_flight() == 0);
  }
  CHECK(OpenHandles(&loop) == 0);
}

TEST_CASE("router service: bootstrap recognises its own address and stops saying hello to it") {
  Loop loop;
  {
    Node a(&loop, "a");
    BootstrapOptions options;
    options.hello_retry_min_ms = 50;
    Bootstrapper bootstrap(&loop, &a.membership, &a.transport, options);
    bootstrap.SetSeeds(MemberSource::kDns, {{"127.0.0.1", a.port}});
    CHECK(a.transport.in_flight() == 1);
    REQUIRE(RunUntil(&loop, [&] { return a.transport.in_flight() == 0; }));
    CHECK(a.counting.requests == 1);
    CHECK(a.membership.size() == 0);
    RunFor(&loop, 120);  // Past the retry time: a non-self seed would be asked again.
    for (auto source : {MemberSource::kDns, MemberSource::kStatic}) {
      bootstrap.SetSeeds(source, {{"127.0.0.1", a.port}});
      CHECK(a.transport.in_flight() == 0);
    }
    RunFor(&loop, 20);
    CHECK(a.counting.requests == 1);
    CHECK(a.membership.size() == 0);
  }
  CHECK(OpenHandles(&loop) == 0);
}

TEST_CASE("router service: bootstrap backs off a dead seed, doubling up to the maximum") {
  Loop loop;
  {
    Node a(&loop, "a");
    RefusedPort dead;
    BootstrapOptions options;
    options.hello_retry_min_ms = 200;
    options.hello_retry_max_ms = 400;
    Bootstrapper bootstrap(&loop, &a.membership, &a.transport, options);
    const std::vector<std::pair<std::string, uint16_t>> seeds{{"127.0.0.1", dead.port()}};
    auto round = [&] {
      bootstrap.SetSeeds(MemberSource::kStatic, seeds);
      const bool sent = a.transport.in_flight() == 1;
      REQUIRE(RunUntil(&loop, [&] { return a.transport.in_flight() == 0; }));
      return sent;
    };
    CHECK(round());   // t=0: hello, refused; backoff 200 ms.
    CHECK(!round());  // At once: waits.
    RunFor(&loop, 260);
    CHECK(round());  // t≈260: hello again; backoff 400 ms.
    RunFor(&loop, 260);
    CHECK(!round());  // 260 < 400: waits.
    RunFor(&loop, 200);
    CHECK(round());  // t≈460 after the second failure: hello; backoff stays 400 (max).
    RunFor(&loop, 260);
    CHECK(!round());
    RunFor(&loop, 200);
    CHECK(round());
    CHECK(a.membership.size() == 0);
  }
  CHECK(OpenHandles(&loop) == 0);
}

TEST_CASE("router service: a DNS seed that is already a member is refreshed without a hello") {
  Loop loop;
  {
    Node a(&loop, "a");
    Node b(&loop, "b");
    BootstrapOptions options;
    options.hello_retry_min_ms = 50;
    Bootstrapper bootstrap(&loop, &a.membership, &a.transport, options);
    bootstrap.SetSeeds(MemberSource::kDns, {{"127.0.0.1", b.port}});
    REQUIRE(RunUntil(&loop, [&] { return a.membership.Find("b") != nullptr; }));
    CHECK(b.counting.requests == 1);
    RunFor(&loop, 100);
    const uint64_t expires = a.membership.Find("b")->expires_at_ms;
    bootstrap.SetSeeds(MemberSource::kDns, {{"127.0.0.1", b.port}});
    CHECK(a.transport.in_flight() == 0);
    CHECK(a.membership.Find("b")->expires_at_ms > expires);  // The DNS answer is the evidence.
    // A static seed has no other liveness source: it is asked again once its retry time passed.
    bootstrap.SetSeeds(MemberSource::kStatic, {{"127.0.0.1", b.port}});
    CHECK(a.transport.in_flight() == 1);
    REQUIRE(RunUntil(&loop, [&] { return a.transport.in_flight() == 0; }));
    CHECK(b.counting.requests == 2);
  }
  CHECK(OpenHandles(&loop) == 0);
}

TEST_CASE("router service: a bootstrapper destroyed with hellos in flight is never called back") {
  Loop loop;
  {
    Node a(&loop, "a");
    SilentListener silent;
    auto bootstrap = std::make_unique<Bootstrapper>(&loop, &a.membership, &a.transport,
                                                    BootstrapOptions{});
    bootstrap->SetSeeds(MemberSource::kStatic, {{"127.0.0.1", silent.port()}});
    CHECK(a.transport.in_flight() == 1);
    RunFor(&loop, 20);
    bootstrap.reset();
    RunFor(&loop, 20);
    CHECK(a.membership.size() == 0);
  }
  CHECK(OpenHandles(&loop) == 0);
}

}  // namespace
}  // namespace spegel::cluster
