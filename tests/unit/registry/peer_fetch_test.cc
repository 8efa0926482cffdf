// PeerFetcher tests over real sockets on 127.0.0.1 only: every peer is spegel's own http::Server
// with a scripted handler (serves the exact bytes, wrong bytes, never answers, breaks or stalls
// mid-body, 404s), the front is another http::Server whose handler hands registry requests to the
// PeerFetcher, and the client is http::Fetch / http::ClientExchange. One Loop; every wait is
// bounded. Every test ends by proving the loop has no open handle left (ASan proves the memory).
#include "registry/peer_fetch.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fakes/loop_util.h"
#include "fakes/loopback_ports.h"
#include "http/client.h"
#include "http/connection_pool.h"
#include "http/range.h"
#include "http/server.h"
#include "loop/loop.h"
#include "oci/digest.h"
#include "oci/sha256.h"
#include "registry/route.h"

namespace spegel::registry {
namespace {

using spegel::testing::OpenHandles;
using spegel::testing::RunFor;
using spegel::testing::RunUntil;
using spegel::testing::SilentListener;

constexpr std::string_view kManifestType = "application/vnd.oci.image.manifest.v1+json";

// Deterministic pseudo-random bytes (xorshift), so blobs do not compress or repeat.
std::string MakeBytes(size_t n, uint32_t seed) {
  std::string out(n, '\0');
  uint64_t x = 0x9E3779B97F4A7C15ull ^ seed;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    out[i] = static_cast<char>(x & 0xff);
  }
  return out;
}

oci::Digest DigestOf(std::string_view data) {
  return oci::Digest::FromSha256(oci::Sha256::Hash(data));
}

// What a peer holds: bytes plus the headers it answers with.
struct Content {
  std::shared_ptr<const std::string> bytes;
  std::string type;
  std::string digest;  // Docker-Content-Digest the peer sends.
};

enum class PeerMode {
  kServe,        // The exact bytes (200, or 206 for a Range).
  kWrongBytes,   // Same length, one byte changed.
  kNeverAnswer,  // Reads the request and never responds.
  kBreak,        // Sends head + break_after bytes, then fails (connection closed mid-body).
  kStall,        // Sends head + break_after bytes, then holds the connection without a byte.
  kNotFound,     // 404.
};

// Streams [first, first + length) of `bytes`, `chunk` per Proceed(), answered inline; fails (or,
// with `stall`, stops answering) once `fail_after` body bytes were sent. Counts every byte it
// produced in *produced.
class CountingSource : public http::BodySource {
 public:
  CountingSource(std::shared_ptr<const std::string> bytes, uint64_t first, uint64_t length,
                 size_t chunk, std::optional<uint64_t> fail_after, uint64_t* produced,
                 bool stall = false)
      : bytes_(std::move(bytes)),
        first_(first),
        length_(length),
        chunk_(chunk),
        fail_after_(fail_after),
        produced_(produced),
        stall_(stall) {}
  void Proceed(http::BodySink& sink) override {
    uint64_t n = std::min<uint64_t>(chunk_, length_ - sent_);
    if (fail_after_) {
      if (sent_ >= *fail_after_) {
        if (!stall_) sink.Fail("test peer breaks mid-body");
        return;
      }
      n = std::min(n, *fail_after_ - sent_);
    }
    const std::string_view data(*bytes_);
    *produced_ += n;
    const uint64_t at = first_ + sent_;
    sent_ += n;
    sink.Write(data.substr(at, n));
  }
  void Stop() override {}

 private:
  std::shared_ptr<const std::string> bytes_;
  uint64_t first_;
  uint64_t length_;
  size_t chunk_;
  std::optional<uint64_t> fail_after_;
  uint64_t* produced_;
  bool stall_;
  uint64_t sent_ = 0;
};

// A scripted peer registry. Content is found by digest string or by tag.
class PeerHandler : public http::Handler {
 public:
  PeerMode mode = PeerMode::kServe;
  uint64_t break_after = 0;
  int break_requests = 1 << 30;  // kBreak applies to this many requests, then kServe.
  size_t chunk = 16 * 1024;
  auth::PeerAuth auth;  // When enabled, requests must be signed (else 401).
  std::map<std::string, Content> content;

  int requests = 0;
  int unauthorized = 0;
  bool all_mirrored = true;  // Every request carried X-Spegel-Mirrored: true.
  std::vector<std::string> methods;
  std::vector<std::string> ranges;  // Range header of each request ("" if none).
  std::vector<std::string> targets;
  uint64_t produced = 0;  // Body bytes handed to the server.

  void Handle(http::Request& request, http::ResponseWriter& writer) override {
    ++requests;
    methods.emplace_back(request.method_name());
    targets.emplace_back(request.target());
    ranges.emplace_back(request.Header("Range").value_or(""));
    if (request.Header("X-Spegel-Mirrored") != std::optional<std::string_view>("true")) {
      all_mirrored = false;
    }
    if (auth.enabled() && !auth.Verify(request.method_name(), request.target(), request.body(),
                                       request.Header(auth::kAuthHeader), auth::UnixSeconds())
                               .ok()) {
      ++unauthorized;
      writer.Respond(401, {}, "unauthorized\n");
      return;
    }
    if (mode == PeerMode::kNeverAnswer) return;  // The server aborts it at shutdown.
    const RouteResult r = ParseRoute(request.path(), request.query());
    const std::string ref = r.route.digest ? r.route.digest->str() : r.route.tag;
    auto it = content.find(ref);
    if (r.error || it == content.end() || mode == PeerMode::kNotFound) {
      writer.Respond(404, {{"Content-Type", "application/json"}}, "{}");
      return;
    }
    const Content& c = it->second;
    std::shared_ptr<const std::string> bytes = c.bytes;
    if (mode == PeerMode::kWrongBytes) {
      auto wrong = std::make_shared<std::string>(*bytes);
      (*wrong)[wrong->size() / 2] ^= 0x5a;
      bytes = std::move(wrong);
    }
    const uint64_t size = bytes->size();
    http::Headers headers{{"Content-Type", c.type}, {"Docker-Content-Digest", c.digest}};
    if (request.method() == http::Method::kHead) {
      writer.RespondHead(200, std::move(headers), size);
      return;
    }
    int status = 200;
    uint64_t first = 0;
    uint64_t length = size;
    if (auto range = request.Header("Range")) {
      const http::RangeResult parsed = http::ParseRange(*range, static_cast<int64_t>(size));
      if (parsed.outcome == http::RangeOutcome::kSatisfiable) {
        status = 206;
        first = static_cast<uint64_t>(parsed.range.first);
        length = static_cast<uint64_t>(parsed.range.length());
        headers.push_back(
            {"Content-Range", http::ContentRange(parsed.range, static_cast<int64_t>(size))});
      }
    }
    std::optional<uint64_t> fail_after;
    if ((mode == PeerMode::kBreak || mode == PeerMode::kStall) && break_requests > 0) {
      --break_requests;
      fail_after = break_after;
    }
    writer.RespondStream(status, std::move(headers), length,
                         std::make_unique<CountingSource>(std::move(bytes), first, length, chunk,
                                                          fail_after, &produced,
                                                          mode == PeerMode::kStall));
  }
};

// Answers FindProviders with `peers` after `delay_ms` (a Timer), and records ReportBadProvider
// calls.
class FakeDirectory : public cluster::ContentLocator {
 public:
  explicit FakeDirectory(Loop* loop) : loop_(loop) {}
  std::vector<cluster::Provider> peers;
  uint64_t delay_ms = 2;
  std::vector<std::string> keys;  // Every key asked for.
  std::vector<std::string> bad;   // node ids reported.

  void FindProviders(const std::string& key,
                     std::function<void(std::vector<cluster::Provider>)> done) override {
    keys.push_back(key);
    auto timer = std::make_unique<Timer>(loop_);
    timer->Start(delay_ms, 0, [this, done = std::move(done)] { done(peers); });
    timers_.push_back(std::move(timer));
  }
  void ReportBadProvider(const cluster::Provider& peer, std::string_view) override {
    bad.push_back(peer.node_id);
  }
  void DropTimers() { timers_.clear(); }
  int BadCount(const std::string& id) const {
    return static_cast<int>(std::count(bad.begin(), bad.end(), id));
  }

 private:
  Loop* loop_;
  std::vector<std::unique_ptr<Timer>> timers_;
};

// The front: the registry request goes straight to the PeerFetcher (as on a local miss), or, with
// `claimed`, to ServeFrom with the directory's peers (as after a claim).
class FrontHandler : public http::Handler {
 public:
  PeerFetcher* fetcher = nullptr;
  FakeDirectory* directory = nullptr;
  std::optional<ClaimedSources> claimed;
  void Handle(http::Request& request, http::ResponseWriter& writer) override {
    const RouteResult r = ParseRoute(request.path(), request.query());
    if (r.error || (r.route.kind != RouteKind::kManifest && r.route.kind != RouteKind::kBlob)) {
      writer.Respond(400, {}, "bad route\n");
      return;
    }
    std::string key = r.route.digest
                          ? r.route.digest->str()
                          : r.route.registry + "/" + r.route.repository + ":" + r.route.tag;
    if (claimed) {
      fetcher->ServeFrom(request, writer, r.route, std::move(key), directory->peers, *claimed);
      return;
    }
    fetcher->Serve(request, writer, r.route, std::move(key));
  }
};

struct PeerServer {
  PeerHandler handler;
  std::unique_ptr<http::Server> server;
  uint16_t port = 0;
};

struct Reply {
  bool done = false;
  std::optional<Result<http::FetchResult>> result;
  uint64_t elapsed_ms = 0;
  bool ok() const { return result && result->ok(); }
  int status() const { return ok() ? (*result)->response.status : -1; }
  const std::string& body() const { return (*result)->body; }
  std::string Header(std::string_view name) const {
    return ok() ? std::string((*result)->response.Header(name).value_or("")) : "";
  }
};

class Env {
 public:
  // Peers are reached through a keep-alive pool, as the daemon wires it.
  explicit Env(PeerFetchOptions options = {}, auth::PeerAuth auth = {}) {
    pool = std::make_unique<http::ConnectionPool>(&loop);
    if (options.pool == nullptr) options.pool = pool.get();
    fetcher = std::make_unique<PeerFetcher>(&loop, &directory, std::move(auth), options);
    front_handler.fetcher = fetcher.get();
    front_handler.directory = &directory;
    front = std::make_unique<http::Server>(&loop, &front_handler);
    auto address = http::ParseListenAddress("127.0.0.1:0");
    REQUIRE(address.ok());
    auto bound = front->Listen(*address);
    REQUIRE(bound.ok());
    front_port = *bound;
  }
  ~Env() {
    int down = 0;
    if (!front_shut_down) front->Shutdown(200, [&] { ++down; });
    for (auto& p : peers) p->server->Shutdown(200, [&] { ++down; });
    const int want = (front_shut_down ? 0 : 1) + static_cast<int>(peers.size());
    CHECK(RunUntil(&loop, [&] { return down == want; }));
    fetcher.reset();
    pool.reset();
    directory.DropTimers();
    RunFor(&loop, 10);
    CHECK(OpenHandles(&loop) == 0);
  }

  // A peer server on 127.0.0.1 (listed in the directory, in order) holding `content`.
  PeerHandler& AddPeer(const std::string& node_id, PeerMode mode = PeerMode::kServe) {
    auto p = std::make_unique<PeerServer>();
    p->handler.mode = mode;
    p->handler.content = content;
    p->server = std::make_unique<http::Server>(&loop, &p->handler);
    auto address = http::ParseListenAddress("127.0.0.1:0");
    REQUIRE(address.ok());
    auto bound = p->server->Listen(*address);
    REQUIRE(bound.ok());
    p->port = *bound;
    directory.peers.push_back(cluster::Provider{node_id, "127.0.0.1", p->port});
    peers.push_back(std::move(p));
    return peers.back()->handler;
  }

  // Content every peer added afterwards holds.
  std::string AddBlob(size_t size, uint32_t seed) {
    auto bytes = std::make_shared<const std::string>(MakeBytes(size, seed));
    const std::string digest = DigestOf(*bytes).str();
    content[digest] = Content{bytes, "application/octet-stream", digest};
    // Making a large blob takes a while outside the loop: refresh the loop's cached clock, or
    // the next client's timers would start in the past and fire at once.
    uv_update_time(loop.uv());
    return digest;
  }
  std::string AddManifest(const std::string& tag, uint32_t seed) {
    auto bytes = std::make_shared<const std::string>(
        "{\"schemaVersion\":2,\"mediaType\":\"" + std::string(kManifestType) +
        "\",\"config\":{\"digest\":\"sha256:" + std::string(64, 'a') +
        "\",\"size\":" + std::to_string(seed) + "},\"layers\":[]}");
    const std::string digest = DigestOf(*bytes).str();
    Content c{bytes, std::string(kManifestType), digest};
    content[digest] = c;
    if (!tag.empty()) content[tag] = c;
    return digest;
  }
  const std::string& Bytes(const std::string& ref) { return *content.at(ref).bytes; }

  Reply Call(std::string method, std::string target, http::Headers headers = {},
             uint64_t timeout_ms = 8000) {
    Reply reply;
    http::ClientRequest request;
    request.method = std::move(method);
    request.host = "127.0.0.1";
    request.port = front_port;
    request.target = std::move(target);
    request.headers = std::move(headers);
    const uint64_t start = loop.NowMs();
    auto exchange = http::Fetch(&loop, std::move(request), {}, 64 << 20,
                                [&](Result<http::FetchResult> r) {
                                  reply.result.emplace(std::move(r));
                                  reply.done = true;
                                });
    CHECK(RunUntil(
        &loop, [&] { return reply.done; }, timeout_ms));
    reply.elapsed_ms = loop.NowMs() - start;
    return reply;
  }

  Loop loop;
  FakeDirectory directory{&loop};
  std::map<std::string, Content> content;
  std::vector<std::unique_ptr<PeerServer>> peers;
  std::unique_ptr<http::ConnectionPool> pool;
  std::unique_ptr<PeerFetcher> fetcher;
  FrontHandler front_handler;
  std::unique_ptr<http::Server> front;
  uint16_t front_port = 0;
  bool front_shut_down = false;  // A test shut the front down itself.
};

std::string BlobTarget(const std::string& digest) { return "/v2/library/app/blobs/" + digest; }
std::string ManifestTarget(const std::string& ref) {
  return "/v2/library/app/manifests/" + ref + "?ns=docker.io";
}

TEST_CASE("peer fetch: blob GET streams the exact bytes with Docker-Content-Digest") {
  Env env;
  const std::string digest = env.AddBlob(300 * 1024 + 17, 1);
  PeerHandler& peer = env.AddPeer("p1");
  Reply r = env.Call("GET", BlobTarget(digest));
  REQUIRE(r.ok());
  CHECK(r.status() == 200);
  CHECK(r.body() == env.Bytes(digest));
  CHECK(r.Header("Docker-Content-Digest") == digest);
  CHECK(r.Header("Content-Type") == "application/octet-stream");
  CHECK(peer.requests == 1);
  CHECK(peer.all_mirrored);
  CHECK(peer.methods == std::vector<std::string>{"GET"});
  REQUIRE(env.directory.keys.size() == 1);
  CHECK(env.directory.keys[0] == digest);
  CHECK(env.directory.bad.empty());
  CHECK(env.fetcher->stats().fetches == 1);
  CHECK(env.fetcher->stats().served == 1);
  CHECK(env.fetcher->stats().failed == 0);
}

TEST_CASE("peer fetch: a large blob goes from peer socket to client socket with no user copy") {
  Env env;
  const uint64_t size = 24ull << 20;
  const std::string digest = env.AddBlob(size, 5);
  env.AddPeer("p1");
  Reply r = env.Call("GET", BlobTarget(digest));
  REQUIRE(r.ok());
  CHECK(r.status() == 200);
  CHECK(r.body() == env.Bytes(digest));
  // The fetch is deleted a loop turn after it ends; its counters are added then.
  REQUIRE(RunUntil(
      &env.loop, [&] { return env.fetcher->stats().peer_bytes == size; }, 5000));
  REQUIRE(RunUntil(
      &env.loop, [&] { return env.fetcher->read_ahead().used() == 0; }, 5000));
  // Only body bytes that arrived in the read with the response head (at most one 16 KiB read)
  // were copied; every later read went into the ring in place.
  const uint64_t copied = env.fetcher->stats().peer_bytes_copied;
  CHECK(copied < (16u << 10));
  MESSAGE("24 MiB through a peer: " << copied << " bytes copied in user space");
}

TEST_CASE("peer fetch: requests to one peer reuse one pooled connection") {
  Env env;
  const std::string blob = env.AddBlob(2 << 20, 41);
  const std::string manifest = env.AddManifest("v1", 42);
  env.AddPeer("p1");
  for (int i = 0; i < 3; ++i) {
    Reply get = env.Call("GET", BlobTarget(blob));
    REQUIRE(get.ok());
    CHECK(get.body() == env.Bytes(blob));
    CHECK(env.Call("HEAD", BlobTarget(blob)).status() == 200);
    CHECK(env.Call("GET", ManifestTarget("v1")).body() == env.Bytes(manifest));
  }
  const http::ConnectionPoolStats stats = env.pool->stats();
  CHECK(stats.returned == 9);
  CHECK(stats.reused == 8);  // Every request after the first found the connection idle.
  CHECK(stats.idle == 1);
  CHECK(stats.retried == 0);
}

TEST_CASE("peer fetch: a hedge's loser closes its connection; the winner's is pooled") {
  Env env;
  const std::string digest = env.AddBlob(100 * 1024, 43);
  env.AddPeer("stuck", PeerMode::kNeverAnswer);
  env.AddPeer("good");
  Reply r = env.Call("GET", BlobTarget(digest));
  REQUIRE(r.ok());
  CHECK(r.body() == env.Bytes(digest));
  CHECK(env.fetcher->stats().hedges >= 1);
  RunFor(&env.loop, 20);
  CHECK(env.pool->stats().returned == 1);
  CHECK(env.pool->stats().idle == 1);
  // The next request goes to the stuck peer first again: it gets a fresh connection (the
  // abandoned one was closed, not kept), and the good peer's pooled one serves the hedge.
  Reply again = env.Call("GET", BlobTarget(digest));
  REQUIRE(again.ok());
  CHECK(again.body() == env.Bytes(digest));
  CHECK(env.pool->stats().reused == 1);
}

TEST_CASE("peer fetch: an empty blob is served after verification") {
  Env env;
  const std::string digest = env.AddBlob(0, 2);
  env.AddPeer("p1");
  Reply r = env.Call("GET", BlobTarget(digest));
  REQUIRE(r.ok());
  CHECK(r.status() == 200);
  CHECK(r.body().empty());
  CHECK(r.Header("Docker-Content-Digest") == digest);
}

TEST_CASE("peer fetch: blob HEAD answers the peer's size without a body") {
  Env env;
  const std::string digest = env.AddBlob(123457, 3);
  PeerHandler& peer = env.AddPeer("p1");
  Reply r = env.Call("HEAD", BlobTarget(digest));
  REQUIRE(r.ok());
  CHECK(r.status() == 200);
  REQUIRE((*r.result)->response.content_length.has_value());
  CHECK(*(*r.result)->response.content_length == 123457);
  CHECK(r.body().empty());
  CHECK(r.Header("Docker-Content-Digest") == digest);
  CHECK(peer.methods == std::vector<std::string>{"HEAD"});
  CHECK(peer.produced == 0);
}

TEST_CASE("peer fetch: manifest by digest, GET and HEAD") {
  Env env;
  const std::string digest = env.AddManifest("", 4);
  PeerHandler& peer = env.AddPeer("p1");
  Reply get = env.Call("GET", ManifestTarget(digest));
  REQUIRE(get.ok());
  CHECK(get.status() == 200);
  CHECK(get.body() == env.Bytes(digest));
  CHECK(get.Header("Docker-Content-Digest") == digest);
  CHECK(get.Header("Content-Type") == kManifestType);
  Reply head = env.Call("HEAD", ManifestTarget(digest));
  REQUIRE(head.ok());
  CHECK(head.status() == 200);
  CHECK(head.body().empty());
  CHECK(*(*head.result)->response.content_length == env.Bytes(digest).size());
  CHECK(head.Header("Docker-Content-Digest") == digest);
  // A manifest's digest can only be checked on its bytes: the peer is asked for them with GET.
  CHECK(peer.methods == std::vector<std::string>{"GET", "GET"});
  CHECK(peer.all_mirrored);
}

TEST_CASE("peer fetch: manifest by tag uses the peer's Docker-Content-Digest (GET and HEAD)") {
  Env env;
  const std::string digest = env.AddManifest("v1", 5);
  PeerHandler& peer = env.AddPeer("p1");
  Reply get = env.Call("GET", ManifestTarget("v1"));
  REQUIRE(get.ok());
  CHECK(get.status() == 200);
  CHECK(get.body() == env.Bytes(digest));
  CHECK(get.Header("Docker-Content-Digest") == digest);
  Reply head = env.Call("HEAD", ManifestTarget("v1"));
  REQUIRE(head.ok());
  CHECK(head.status() == 200);
  CHECK(head.Header("Docker-Content-Digest") == digest);
  CHECK(*(*head.result)->response.content_length == env.Bytes(digest).size());
  REQUIRE(env.directory.keys.size() == 2);
  CHECK(env.directory.keys[0] == "docker.io/library/app:v1");
  // The peer is asked by tag, for the same registry.
  REQUIRE(!peer.targets.empty());
  CHECK(peer.targets[0] == "/v2/library/app/manifests/v1?ns=docker.io");
}

TEST_CASE("peer fetch: a tag whose peer sends no Docker-Content-Digest is not served") {
  Env env;
  env.AddManifest("v1", 6);
  env.content["v1"].digest = "";  // The peer cannot prove what the tag points to.
  PeerHandler& peer = env.AddPeer("p1");
  Reply r = env.Call("GET", ManifestTarget("v1"));
  REQUIRE(r.ok());
  CHECK(r.status() == 404);
  CHECK(peer.requests == 1);
  CHECK(env.directory.BadCount("p1") == 1);
}

TEST_CASE("peer fetch: a client Range gets 206 with exactly that slice") {
  Env env;
  const std::string digest = env.AddBlob(200 * 1000, 7);
  env.AddPeer("p1");
  Reply r = env.Call("GET", BlobTarget(digest), {{"Range", "bytes=70000-150099"}});
  REQUIRE(r.ok());
  CHECK(r.status() == 206);
  CHECK(r.body() == env.Bytes(digest).substr(70000, 80100));
  CHECK(r.Header("Content-Range") == "bytes 70000-150099/200000");
  CHECK(r.Header("Docker-Content-Digest") == digest);
  Reply suffix = env.Call("GET", BlobTarget(digest), {{"Range", "bytes=-10"}});
  REQUIRE(suffix.ok());
  CHECK(suffix.status() == 206);
  CHECK(suffix.body() == env.Bytes(digest).substr(200000 - 10));
  Reply beyond = env.Call("GET", BlobTarget(digest), {{"Range", "bytes=200000-"}});
  REQUIRE(beyond.ok());
  CHECK(beyond.status() == 416);
  CHECK(beyond.Header("Content-Range") == "bytes */200000");
  // The same 416 as a local copy answers (registry/blob_range.h).
  CHECK(beyond.Header("Docker-Content-Digest") == digest);
  CHECK(beyond.body().find("RANGE_INVALID") != std::string::npos);
}

TEST_CASE("peer fetch: no peers is a fast 404 (GET and HEAD, blob and manifest)") {
  Env env;
  const std::string digest = env.AddBlob(1000, 8);
  Reply blob = env.Call("GET", BlobTarget(digest));
  REQUIRE(blob.ok());
  CHECK(blob.status() == 404);
  CHECK(blob.body().find("BLOB_UNKNOWN") != std::string::npos);
  CHECK(blob.elapsed_ms < 500);
  Reply head = env.Call("HEAD", BlobTarget(digest));
  REQUIRE(head.ok());
  CHECK(head.status() == 404);
  Reply manifest = env.Call("GET", ManifestTarget("v9"));
  REQUIRE(manifest.ok());
  CHECK(manifest.status() == 404);
  CHECK(manifest.body().find("MANIFEST_UNKNOWN") != std::string::npos);
  CHECK(manifest.elapsed_ms < 500);
  CHECK(env.fetcher->stats().not_found == 3);
  CHECK(env.fetcher->stats().served == 0);
}

TEST_CASE("peer fetch: a non-sha256 digest is refused with 404 without asking anyone") {
  Env env;
  env.AddPeer("p1");
  Reply r = env.Call("GET", BlobTarget("sha512:" + std::string(128, 'a')));
  REQUIRE(r.ok());
  CHECK(r.status() == 404);
  CHECK(env.directory.keys.empty());
  CHECK(env.peers[0]->handler.requests == 0);
}

TEST_CASE("peer fetch: a peer that never answers is hedged to the next one") {
  Env env;
  const std::string digest = env.AddBlob(100 * 1024, 9);
  PeerHandler& stuck = env.AddPeer("stuck", PeerMode::kNeverAnswer);
  PeerHandler& good = env.AddPeer("good");
  Reply r = env.Call("GET", BlobTarget(digest));
  REQUIRE(r.ok());
  CHECK(r.status() == 200);
  CHECK(r.body() == env.Bytes(digest));
  CHECK(env.fetcher->stats().hedges >= 1);
  CHECK(stuck.requests == 1);
  CHECK(good.requests == 1);
  // Well before the stuck peer's own head timeout (3 s): the hedge delay decided.
  CHECK(r.elapsed_ms < 1500);
}

TEST_CASE("peer fetch: a peer that accepts and never reads is hedged, for a manifest too") {
  Env env;
  SilentListener silent;
  env.directory.peers.push_back(cluster::Provider{"silent", "127.0.0.1", silent.port()});
  const std::string digest = env.AddManifest("v2", 10);
  PeerHandler& good = env.AddPeer("good");
  Reply r = env.Call("GET", ManifestTarget("v2"));
  REQUIRE(r.ok());
  CHECK(r.status() == 200);
  CHECK(r.body() == env.Bytes(digest));
  CHECK(env.fetcher->stats().hedges >= 1);
  CHECK(good.requests == 1);
  CHECK(r.elapsed_ms < 1500);
}

TEST_CASE("peer fetch: every peer silent ends in a 404 within the head timeout, never a hang") {
  PeerFetchOptions options;
  options.blob_head_timeout_ms = 300;
  Env env(options);
  SilentListener a, b;
  env.directory.peers.push_back(cluster::Provider{"a", "127.0.0.1", a.port()});
  env.directory.peers.push_back(cluster::Provider{"b", "127.0.0.1", b.port()});
  const std::string digest = env.AddBlob(10, 11);
  Reply r = env.Call("GET", BlobTarget(digest));
  REQUIRE(r.ok());
  CHECK(r.status() == 404);
  // One round: both head timeouts overlap (the second attempt is a hedge), nobody is asked twice.
  CHECK(r.elapsed_ms < 1000);
  MESSAGE("two silent peers, 300 ms head timeout: 404 after " << r.elapsed_ms << " ms");
  CHECK(env.fetcher->stats().not_found == 1);
}

TEST_CASE("peer fetch: a peer that 404s is skipped for the next one and not reported") {
  Env env;
  const std::string digest = env.AddBlob(50 * 1024, 12);
  PeerHandler& gone = env.AddPeer("gone", PeerMode::kNotFound);
  PeerHandler& good = env.AddPeer("good");
  Reply r = env.Call("GET", BlobTarget(digest));
  REQUIRE(r.ok());
  CHECK(r.status() == 200);
  CHECK(r.body() == env.Bytes(digest));
  CHECK(gone.requests == 1);
  CHECK(good.requests == 1);
  // A 404 only means the peer no longer has it: not a fault.
  CHECK(env.directory.bad.empty());
  const std::string manifest = env.AddManifest("", 13);
  gone.content = env.content;
  good.content = env.content;
  Reply m = env.Call("GET", ManifestTarget(manifest));
  REQUIRE(m.ok());
  CHECK(m.status() == 200);
  CHECK(m.body() == env.Bytes(manifest));
}

TEST_CASE("peer fetch: every peer 404s is a 404") {
  Env env;
  const std::string digest = env.AddBlob(10, 14);
  env.AddPeer("a", PeerMode::kNotFound);
  env.AddPeer("b", PeerMode::kNotFound);
  Reply r = env.Call("GET", BlobTarget(digest));
  REQUIRE(r.ok());
  CHECK(r.status() == 404);
  CHECK(env.peers[0]->handler.requests == 1);
  CHECK(env.peers[1]->handler.requests == 1);
}

TEST_CASE("peer fetch: wrong blob bytes abort the client connection and report the peer") {
  Env env;
  const std::string small = env.AddBlob(1000, 15);
  const std::string large = env.AddBlob(1 << 20, 16);
  env.AddPeer("liar", PeerMode::kWrongBytes);
  for (const std::string& digest : {small, large}) {
    CAPTURE(digest);
    Reply r = env.Call("GET", BlobTarget(digest));
    // Never a complete response with wrong bytes: the head promised the size, the body is cut.
    REQUIRE(r.result.has_value());
    CHECK(!r.result->ok());
    if (!r.result->ok()) CHECK(r.result->status().code() == Code::kDataLoss);
  }
  CHECK(env.directory.BadCount("liar") == 2);
  CHECK(env.fetcher->stats().digest_mismatches == 2);
  CHECK(env.fetcher->stats().failed == 2);
}

TEST_CASE("peer fetch: a slow reader never receives the final bytes of a wrong blob") {
  // The client reads one chunk per 5 ms: the fetcher must still hold back the last bytes.
  Env env;
  const std::string digest = env.AddBlob(512 * 1024, 17);
  env.AddPeer("liar", PeerMode::kWrongBytes);
  http::ClientRequest request;
  request.host = "127.0.0.1";
  request.port = env.front_port;
  request.target = BlobTarget(digest);
  uint64_t received = 0;
  std::optional<Status> done;
  std::unique_ptr<http::ClientExchange> exchange;
  Timer pace(&env.loop);
  http::ClientCallbacks callbacks;
  callbacks.on_head = [](const http::ClientResponse& r) { CHECK(r.status == 200); };
  callbacks.on_data = [&](std::string_view data) {
    received += data.size();
    pace.Start(5, 0, [&] { exchange->ReadMore(); });
  };
  callbacks.on_done = [&](Status s) { done = std::move(s); };
  exchange = http::ClientExchange::Start(&env.loop, request, {}, std::move(callbacks));
  REQUIRE(RunUntil(
      &env.loop, [&] { return done.has_value(); }, 10000));
  CHECK(done->code() == Code::kDataLoss);
  CHECK(received < 512 * 1024);
  CHECK(env.directory.BadCount("liar") == 1);
  exchange.reset();
}

TEST_CASE("peer fetch: a wrong manifest is replaced by the next peer's, invisibly") {
  Env env;
  const std::string digest = env.AddManifest("v3", 18);
  PeerHandler& liar = env.AddPeer("liar", PeerMode::kWrongBytes);
  PeerHandler& good = env.AddPeer("good");
  for (const std::string& ref : {digest, std::string("v3")}) {
    CAPTURE(ref);
    Reply r = env.Call("GET", ManifestTarget(ref));
    REQUIRE(r.ok());
    CHECK(r.status() == 200);
    CHECK(r.body() == env.Bytes(digest));
    CHECK(r.Header("Docker-Content-Digest") == digest);
  }
  CHECK(liar.requests == 2);
  CHECK(good.requests == 2);
  CHECK(env.directory.BadCount("liar") == 2);
  CHECK(env.directory.BadCount("good") == 0);
  CHECK(env.fetcher->stats().digest_mismatches == 2);
}

TEST_CASE("peer fetch: a manifest larger than the limit is not taken") {
  PeerFetchOptions options;
  options.max_manifest_bytes = 64;
  Env env(options);
  const std::string digest = env.AddManifest("", 19);
  REQUIRE(env.Bytes(digest).size() > 64);
  env.AddPeer("big");
  Reply r = env.Call("GET", ManifestTarget(digest));
  REQUIRE(r.ok());
  CHECK(r.status() == 404);
}

TEST_CASE("peer fetch: a stream that breaks mid-body resumes from another peer with Range") {
  Env env;
  const uint64_t size = 1 << 20;
  const std::string digest = env.AddBlob(size, 20);
  PeerHandler& breaker = env.AddPeer("breaker", PeerMode::kBreak);
  breaker.break_after = 300 * 1024;
  PeerHandler& good = env.AddPeer("good");
  Reply r = env.Call("GET", BlobTarget(digest));
  REQUIRE(r.ok());
  CHECK(r.status() == 200);
  CHECK(r.body().size() == size);
  CHECK(r.body() == env.Bytes(digest));
  CHECK(env.fetcher->stats().resumes >= 1);
  CHECK(env.fetcher->stats().failed == 0);
  CHECK(env.directory.BadCount("breaker") == 1);
  REQUIRE(good.ranges.size() == 1);
  // Continues where the first stream broke: at most what the breaker sent, never from 0.
  const std::string& range = good.ranges[0];
  REQUIRE(range.rfind("bytes=", 0) == 0);
  REQUIRE(range.back() == '-');
  const uint64_t offset = std::stoull(range.substr(6));
  CHECK(offset > 0);
  CHECK(offset <= 300 * 1024);
}

TEST_CASE("peer fetch: a broken stream resumes from the same peer when it is the only one") {
  Env env;
  const uint64_t size = 700 * 1024;
  const std::string digest = env.AddBlob(size, 21);
  PeerHandler& flaky = env.AddPeer("flaky", PeerMode::kBreak);
  flaky.break_after = 200 * 1024;
  flaky.break_requests = 1;
  Reply r = env.Call("GET", BlobTarget(digest), {{"Range", "bytes=100-"}});
  REQUIRE(r.ok());
  CHECK(r.status() == 206);
  CHECK(r.body() == env.Bytes(digest).substr(100));
  CHECK(flaky.requests == 2);
  REQUIRE(flaky.ranges.size() == 2);
  CHECK(flaky.ranges[0].empty());  // The whole blob is fetched: every byte must be hashed.
  CHECK(flaky.ranges[1].rfind("bytes=", 0) == 0);
  CHECK(env.fetcher->stats().resumes == 1);
}

TEST_CASE("peer fetch: a resume refused before its head goes round to the next peer at once") {
  Env env;
  const uint64_t size = 1 << 20;
  const std::string digest = env.AddBlob(size, 23);
  PeerHandler& flaky = env.AddPeer("flaky", PeerMode::kBreak);
  flaky.break_after = 200 * 1024;
  flaky.break_requests = 1;
  // The resume goes to the refusing peer, the last one not tried: no hedge follows it, so only
  // the failure itself can start the next attempt (round again, to flaky).
  spegel::testing::RefusedPort refused;
  env.directory.peers.push_back(cluster::Provider{"refused", "127.0.0.1", refused.port()});
  // Far below the peer idle timeout (5 s), after which a stalled fetch would give up.
  Reply r = env.Call("GET", BlobTarget(digest), {}, 3000);
  REQUIRE(r.ok());
  CHECK(r.status() == 200);
  CHECK(r.body() == env.Bytes(digest));
  CHECK(env.directory.BadCount("refused") == 1);
  CHECK(flaky.requests == 2);
  REQUIRE(flaky.ranges.size() == 2);
  CHECK(flaky.ranges[1].rfind("bytes=", 0) == 0);
  CHECK(env.fetcher->stats().failed == 0);
}

TEST_CASE("peer fetch: a stream broken with no peer to resume from aborts the client") {
  Env env;
  const std::string digest = env.AddBlob(600 * 1024, 22);
  PeerHandler& breaker = env.AddPeer("breaker", PeerMode::kBreak);
  breaker.break_after = 50 * 1024;  // Breaks on every request: 6 attempts cannot finish it.
  Reply r = env.Call("GET", BlobTarget(digest));
  REQUIRE(r.result.has_value());
  CHECK(!r.result->ok());
  CHECK(env.fetcher->stats().failed == 1);
  // Bounded: at most max_attempts requests.
  CHECK(breaker.requests <= PeerFetchOptions{}.max_attempts);
  CHECK(breaker.requests >= 2);
}

TEST_CASE("peer fetch: an in-flight source that stalls is reported, and never asked again") {
  // Issue 30: a source sends its head and ten bytes, then holds. The follower's fetch gives up
  // after the idle timeout (its client resumes with Range, claimed afresh), says which source
  // stalled, and reported on the way how far that source's bytes reached.
  PeerFetchOptions options;
  options.idle_timeout_ms = 300;
  Env env(options);
  const std::string digest = env.AddBlob(256 * 1024, 41);
  PeerHandler& stalls = env.AddPeer("stalls", PeerMode::kStall);
  stalls.break_after = 10;
  std::vector<std::string> received;
  std::vector<std::string> failed;
  int finished = 0;
  ClaimedSources claimed;
  claimed.in_flight = true;
  claimed.on_received = [&](const cluster::Provider& peer, uint64_t offset, uint64_t total,
                            bool waiting) {
    received.push_back(peer.node_id + " " + std::to_string(offset) + "/" + std::to_string(total) +
                       (waiting ? " waiting" : ""));
  };
  claimed.on_failed = [&](const cluster::Provider& peer, std::string_view) {
    failed.push_back(peer.node_id);
  };
  claimed.on_finished = [&] { ++finished; };
  env.front_handler.claimed = claimed;
  Reply r = env.Call("GET", BlobTarget(digest));
  REQUIRE(r.result.has_value());
  CHECK(!r.result->ok());  // Ended short: the client resumes elsewhere.
  CHECK(r.elapsed_ms < 2000);
  CHECK(stalls.requests == 1);
  CHECK(failed == std::vector<std::string>{"stalls"});
  CHECK(finished == 1);
  CHECK(std::find(received.begin(), received.end(), "stalls 10/262144 waiting") != received.end());
  // A complete copy's fetch (not in flight) reports failures too, and resumes as usual.
  received.clear();
  failed.clear();
  stalls.break_requests = 1;
  stalls.mode = PeerMode::kStall;
  ClaimedSources have;
  have.on_failed = claimed.on_failed;
  env.front_handler.claimed = have;
  Reply whole = env.Call("GET", BlobTarget(digest));
  REQUIRE(whole.ok());
  CHECK(whole.body() == env.Bytes(digest));
  CHECK(failed == std::vector<std::string>{"stalls"});
  CHECK(received.empty());
}

TEST_CASE("peer fetch: a slow client on a large blob completes and the peer is not read ahead") {
  Env env;
  const uint64_t size = 48ull << 20;
  const std::string digest = env.AddBlob(size, 23);
  PeerHandler& peer = env.AddPeer("p1");
  peer.chunk = 64 * 1024;
  http::ClientRequest request;
  request.host = "127.0.0.1";
  request.port = env.front_port;
  request.target = BlobTarget(digest);
  oci::Sha256 hasher;
  uint64_t received = 0;
  bool paused = false;
  uint64_t produced_early = 0, produced_late = 0, received_at_pause = 0;
  std::optional<Status> done;
  std::unique_ptr<http::ClientExchange> exchange;
  Timer pause(&env.loop);
  http::ClientCallbacks callbacks;
  callbacks.on_head = [](const http::ClientResponse& r) { CHECK(r.status == 200); };
  callbacks.on_data = [&](std::string_view data) {
    hasher.Update(data);
    received += data.size();
    if (!paused && received >= (1u << 20)) {
      // Stop reading for 600 ms: whatever the peer produces meanwhile is what Spegel and the
      // kernel buffer for one stalled client.
      paused = true;
      received_at_pause = received;
      pause.Start(300, 0, [&] {
        produced_early = peer.produced;
        pause.Start(300, 0, [&] {
          produced_late = peer.produced;
          exchange->ReadMore();
        });
      });
      return;
    }
    exchange->ReadMore();
  };
  callbacks.on_done = [&](Status s) { done = std::move(s); };
  exchange = http::ClientExchange::Start(&env.loop, request, {}, std::move(callbacks));
  REQUIRE(RunUntil(
      &env.loop, [&] { return done.has_value(); }, 60000));
  CHECK_MESSAGE(done->ok(), done->message());
  CHECK(received == size);
  CHECK(oci::Digest::FromSha256(hasher.Finish()).str() == digest);
  CHECK(paused);
  // While the client stalled, the peer stopped: nothing more was produced in the second half of
  // the pause, and far less than the blob was produced at all (kernel socket buffers only).
  CHECK(produced_late == produced_early);
  CHECK(produced_late < size / 2);
  MESSAGE("stalled client: " << received_at_pause << " bytes received, " << produced_late
                             << " produced by the peer");
  exchange.reset();
}

TEST_CASE("peer fetch: a client that disconnects mid-stream ends the fetch and its peer call") {
  Env env;
  const std::string digest = env.AddBlob(8 << 20, 24);
  PeerHandler& peer = env.AddPeer("p1");
  http::ClientRequest request;
  request.host = "127.0.0.1";
  request.port = env.front_port;
  request.target = BlobTarget(digest);
  std::unique_ptr<http::ClientExchange> exchange;
  uint64_t received = 0;
  http::ClientCallbacks callbacks;
  callbacks.on_data = [&](std::string_view data) {
    received += data.size();
    exchange.reset();  // Hang up after the first chunk.
  };
  callbacks.on_done = [](Status) {};
  exchange = http::ClientExchange::Start(&env.loop, request, {}, std::move(callbacks));
  REQUIRE(RunUntil(
      &env.loop, [&] { return received > 0; }, 5000));
  CHECK(!exchange);
  // The front notices (its write fails or the peer's stream is cancelled): both sides close.
  CHECK(RunUntil(
      &env.loop,
      [&] {
        return env.front->connection_count() == 0 && env.peers[0]->server->connection_count() == 0;
      },
      5000));
  CHECK(peer.produced < (8u << 20));
  env.fetcher.reset();  // Destroying the fetcher afterwards is safe.
  RunFor(&env.loop, 20);
}

TEST_CASE("peer fetch: destroying the fetcher mid-stream leaves the server to abort the client") {
  Env env;
  const std::string digest = env.AddBlob(8 << 20, 25);
  env.AddPeer("p1");
  http::ClientRequest request;
  request.host = "127.0.0.1";
  request.port = env.front_port;
  request.target = BlobTarget(digest);
  std::unique_ptr<http::ClientExchange> exchange;
  uint64_t received = 0;
  std::optional<Status> done;
  bool drain = false;
  http::ClientCallbacks callbacks;
  callbacks.on_data = [&](std::string_view data) {
    received += data.size();
    if (drain || received < (1u << 20)) exchange->ReadMore();
  };
  callbacks.on_done = [&](Status s) { done = std::move(s); };
  exchange = http::ClientExchange::Start(&env.loop, request, {}, std::move(callbacks));
  REQUIRE(RunUntil(
      &env.loop, [&] { return received >= (1u << 20); }, 5000));
  env.fetcher.reset();
  drain = true;
  exchange->ReadMore();
  // Either the front fails the body at once or its shutdown deadline aborts it: the client never
  // sees a complete response.
  RunFor(&env.loop, 50);
  bool front_down = false;
  env.front_shut_down = true;
  env.front->Shutdown(100, [&] { front_down = true; });
  CHECK(RunUntil(
      &env.loop, [&] { return done.has_value() && front_down; }, 5000));
  REQUIRE(done.has_value());
  CHECK(!done->ok());
  CHECK(received < (8u << 20));
  exchange.reset();
}

TEST_CASE("peer fetch: requests to peers are signed when a peer secret is set") {
  const std::string secret = "0123456789abcdef0123456789abcdef";
  Env env({}, auth::PeerAuth(secret));
  const std::string digest = env.AddBlob(4096, 26);
  PeerHandler& peer = env.AddPeer("p1");
  peer.auth = auth::PeerAuth(secret);
  Reply r = env.Call("GET", BlobTarget(digest));
  REQUIRE(r.ok());
  CHECK(r.status() == 200);
  CHECK(r.body() == env.Bytes(digest));
  CHECK(peer.unauthorized == 0);
  // A peer with another secret refuses: the fetch does not get the bytes.
  peer.auth = auth::PeerAuth("another secret of 32 bytes......");
  Reply refused = env.Call("GET", BlobTarget(digest));
  REQUIRE(refused.ok());
  CHECK(refused.status() == 404);
  CHECK(peer.unauthorized == 1);
}

TEST_CASE("peer fetch: the hedge delay learns from head latencies within its bounds") {
  Env env;
  CHECK(env.fetcher->HedgeDelayMs() == PeerFetcher::kDefaultHedgeMs);
  const std::string digest = env.AddBlob(100, 27);
  env.AddPeer("p1");
  for (int i = 0; i < 10; ++i) {
    Reply r = env.Call("GET", BlobTarget(digest));
    REQUIRE(r.ok());
    CHECK(r.status() == 200);
  }
  // Loopback heads take about a millisecond: the delay drops to the floor.
  CHECK(env.fetcher->HedgeDelayMs() >= PeerFetcher::kMinHedgeMs);
  CHECK(env.fetcher->HedgeDelayMs() < PeerFetcher::kDefaultHedgeMs);
}

}  // namespace
}  // namespace spegel::registry
