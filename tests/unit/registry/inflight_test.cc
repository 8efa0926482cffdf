// Inflight (registry/inflight.h) serving a growing ingest file to real HTTP clients on loopback:
// a content directory laid out as containerd writes an ingest (containerd/ingest.h), grown by the
// test while a reader streams it; a fake PullCoordinator records claims and progress reports.
// Checks: the head goes out at once and bytes as they land; the last byte waits for the hash or
// the commit; a removed ingest or wrong bytes end the reader short (never a complete wrong body);
// ranges beyond the file wait; the fan-out bound; reports of fetching, done and failed.
#include "registry/inflight.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fakes/fake_containerd.h"
#include "fakes/fake_writer.h"
#include "fakes/loop_util.h"
#include "http/client.h"
#include "http/request_parser.h"
#include "http/server.h"
#include "oci/sha256.h"

namespace spegel::registry {
namespace {

namespace fs = std::filesystem;
using spegel::testing::OpenHandles;
using spegel::testing::RunFor;
using spegel::testing::RunUntil;

constexpr std::string_view kNs = "k8s.io";

std::string MakeBlob(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    s[i] = static_cast<char>(x >> 24);
  }
  return s;
}

oci::Digest DigestOf(const std::string& bytes) {
  return *oci::Digest::Parse("sha256:" + oci::Sha256::HashHex(bytes));
}

class FakeCoordinator : public cluster::PullCoordinator {
 public:
  explicit FakeCoordinator(Loop* loop) : loop_(loop) {}
  void Claim(const std::string& key, bool can_serve, const std::vector<std::string>& avoid,
             std::function<void(cluster::ClaimAnswer)> done) override {
    std::string claim = key + (can_serve ? " serve" : " noserve");
    for (const std::string& id : avoid) claim += " avoid=" + id;
    claims.push_back(std::move(claim));
    loop_->Post([done = std::move(done), a = answer] { done(a); });
  }
  void ReportProgress(std::vector<cluster::ProgressReport> reports,
                      std::function<void(const std::string&)> on_revoked) override {
    for (auto& r : reports) {
      if (revoke) loop_->Post([on_revoked, key = r.key] { on_revoked(key); });
      this->reports.push_back(std::string(cluster::ProgressStateName(r.state)) + " " +
                              std::to_string(r.offset) + "/" + std::to_string(r.total) +
                              (r.source.empty() ? "" : " from " + r.source));
    }
  }
  bool Reported(const std::string& what) const {
    for (const auto& r : reports) {
      if (r.rfind(what, 0) == 0) return true;
    }
    return false;
  }
  cluster::ClaimAnswer answer;
  bool revoke = false;
  std::vector<std::string> claims;
  std::vector<std::string> reports;

 private:
  Loop* loop_;
};

// Serves GET /<digest> from the Inflight, 404 when it has no copy; GET /m/<digest> as a manifest
// (404 "none" when not expected, 404 "expired" when the wait ran out).
class ServeHandler : public http::Handler {
 public:
  Inflight* inflight = nullptr;
  void Handle(http::Request& request, http::ResponseWriter& writer) override {
    const std::string path(request.path());
    if (path.rfind("/m/", 0) == 0) {
      auto digest = oci::Digest::Parse(path.substr(3));
      if (!digest.ok() || !inflight->ServeManifest(request, writer, *digest, [&writer] {
            writer.Respond(404, {}, "expired\n");
          })) {
        writer.Respond(404, {}, "none\n");
      }
      return;
    }
    auto digest = oci::Digest::Parse(path.substr(1));
    if (!digest.ok() || !inflight->Serve(request, writer, *digest)) {
      writer.Respond(404, {}, "none\n");
    }
  }
};

struct Env {
  explicit Env(InflightOptions options = {}) {
    root = fs::temp_directory_path() /
           ("spegel-inflight-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
    fs::create_directories(root / "blobs" / "sha256");
    content.SetDirectory(containerd::ContentDirectory(root.string()));
    if (options.poll_ms == InflightOptions{}.poll_ms) options.poll_ms = 5;
    options.report_ms = 40;
    inflight = std::make_unique<Inflight>(&loop, &coordinator, &content, options);
    handler.inflight = inflight.get();
    server = std::make_unique<http::Server>(&loop, &handler);
    auto address = http::ParseListenAddress("127.0.0.1:0");
    REQUIRE(address.ok());
    auto bound = server->Listen(*address);
    REQUIRE(bound.ok());
    port = *bound;
  }
  ~Env() {
    bool down = false;
    server->Shutdown(200, [&] { down = true; });
    CHECK(RunUntil(&loop, [&] { return down; }));
    inflight.reset();
    RunFor(&loop, 10);
    CHECK(OpenHandles(&loop) == 0);
    fs::remove_all(root);
  }
  // containerd starts ingesting `digest` of `total` bytes.
  fs::path StartIngest(const oci::Digest& digest, uint64_t total) {
    const std::string ref = containerd::LayerIngestRef(kNs, digest);
    const fs::path dir(containerd::IngestDirFor(containerd::ContentDirectory(root.string()), ref));
    fs::create_directories(dir);
    std::ofstream(dir / "ref") << ref;
    std::ofstream(dir / "total") << total;
    std::ofstream(dir / "data", std::ios::binary).flush();
    return dir;
  }
  static void Grow(const fs::path& dir, std::string_view bytes) {
    std::ofstream(dir / "data", std::ios::binary | std::ios::app) << bytes;
  }
  void Commit(const fs::path& dir, const oci::Digest& d) {
    fs::rename(dir / "data", root / "blobs" / "sha256" / std::string(d.hex()));
    fs::remove_all(dir);
  }

  // A GET of `digest` (with `range`) that collects the body.
  struct Reader {
    std::optional<Result<http::FetchResult>> result;
    std::unique_ptr<http::ClientExchange> exchange;
    bool done() const { return result.has_value(); }
  };
  std::unique_ptr<Reader> Get(const oci::Digest& digest, std::string range = "",
                              std::string prefix = "/") {
    auto reader = std::make_unique<Reader>();
    http::ClientRequest request;
    request.host = "127.0.0.1";
    request.port = port;
    request.target = prefix + digest.str();
    if (!range.empty()) request.headers.push_back({"Range", range});
    http::ClientOptions options;
    options.idle_timeout_ms = 10'000;
    Reader* raw = reader.get();
    reader->exchange = http::Fetch(&loop, std::move(request), options, 64 << 20,
                                   [raw](Result<http::FetchResult> r) {
                                     raw->result.emplace(std::move(r));
                                   });
    return reader;
  }

  static inline int counter = 0;
  Loop loop;
  fs::path root;
  spegel::testing::FakeContainerd containerd;
  containerd::ContentStore content{&loop, &containerd, {}};
  FakeCoordinator coordinator{&loop};
  std::unique_ptr<Inflight> inflight;
  ServeHandler handler;
  std::unique_ptr<http::Server> server;
  uint16_t port = 0;
};

TEST_CASE("inflight: a reader streams a growing ingest; the last byte waits for the hash") {
  Env env;
  const std::string blob = MakeBlob(3 << 20, 1);
  const oci::Digest d = DigestOf(blob);
  const fs::path dir = env.StartIngest(d, blob.size());
  env.inflight->Offer(d, cluster::ProgressState::kFetching);
  auto reader = env.Get(d);
  RunFor(&env.loop, 50);
  CHECK_FALSE(reader->done());  // Head sent, nothing to read yet: it waits.
  Env::Grow(dir, std::string_view(blob).substr(0, 1 << 20));
  RunFor(&env.loop, 50);
  CHECK(env.coordinator.Reported("fetching"));
  Env::Grow(dir, std::string_view(blob).substr(1 << 20));
  REQUIRE(RunUntil(&env.loop, [&] { return reader->done(); }));
  REQUIRE(reader->result->ok());
  CHECK((*reader->result)->response.status == 200);
  CHECK((*reader->result)->response.Header("Docker-Content-Digest") ==
        std::optional<std::string_view>(d.str()));
  CHECK((*reader->result)->body == blob);
  REQUIRE(RunUntil(&env.loop, [&] { return env.coordinator.Reported("done"); }));
  CHECK(env.inflight->stats().bytes_served == blob.size());
  CHECK(env.inflight->stats().readers == 1);
}

TEST_CASE("inflight: containerd's commit of the same inode releases the end too") {
  Env env;
  const std::string blob = MakeBlob(100 << 10, 2);
  const oci::Digest d = DigestOf(blob);
  const fs::path dir = env.StartIngest(d, blob.size());
  env.inflight->Offer(d, cluster::ProgressState::kFetching);
  Env::Grow(dir, blob);
  env.Commit(dir, d);
  auto reader = env.Get(d);
  REQUIRE(RunUntil(&env.loop, [&] { return reader->done(); }));
  REQUIRE(reader->result->ok());
  CHECK((*reader->result)->body == blob);
}

TEST_CASE("inflight: a removed ingest ends the reader short, and is reported failed") {
  Env env;
  const std::string blob = MakeBlob(2 << 20, 3);
  const oci::Digest d = DigestOf(blob);
  const fs::path dir = env.StartIngest(d, blob.size());
  env.inflight->Offer(d, cluster::ProgressState::kFetching);
  auto reader = env.Get(d);
  Env::Grow(dir, std::string_view(blob).substr(0, 1 << 20));
  RunFor(&env.loop, 50);
  fs::remove_all(dir);  // The pull failed: containerd's GC removes the ingest.
  REQUIRE(RunUntil(&env.loop, [&] { return reader->done(); }));
  CHECK_FALSE(reader->result->ok());  // A body shorter than its length: never complete.
  REQUIRE(RunUntil(&env.loop, [&] { return env.coordinator.Reported("failed"); }));
  // A new reader is not served from a dead copy.
  auto late = env.Get(d);
  REQUIRE(RunUntil(&env.loop, [&] { return late->done(); }));
  REQUIRE(late->result->ok());
  CHECK((*late->result)->response.status == 404);
}

TEST_CASE("inflight: wrong bytes never reach the end of a reader") {
  Env env;
  const std::string blob = MakeBlob(200 << 10, 4);
  const oci::Digest d = DigestOf(blob);
  std::string wrong = blob;
  wrong[1000] ^= 1;
  const fs::path dir = env.StartIngest(d, blob.size());
  env.inflight->Offer(d, cluster::ProgressState::kFetching);
  auto reader = env.Get(d);
  Env::Grow(dir, wrong);
  REQUIRE(RunUntil(&env.loop, [&] { return reader->done(); }));
  CHECK_FALSE(reader->result->ok());
  CHECK(env.inflight->stats().digest_mismatches == 1);
  REQUIRE(RunUntil(&env.loop, [&] { return env.coordinator.Reported("failed"); }));
}

TEST_CASE("inflight: a range beyond the file waits for it; a stalled source ends the reader") {
  InflightOptions options;
  options.reader_stall_ms = 300;
  Env env(options);
  const std::string blob = MakeBlob(2 << 20, 5);
  const oci::Digest d = DigestOf(blob);
  const fs::path dir = env.StartIngest(d, blob.size());
  env.inflight->Offer(d, cluster::ProgressState::kFetching);
  auto ranged = env.Get(d, "bytes=1500000-");
  RunFor(&env.loop, 100);
  CHECK_FALSE(ranged->done());
  Env::Grow(dir, blob);
  REQUIRE(RunUntil(&env.loop, [&] { return ranged->done(); }));
  REQUIRE(ranged->result->ok());
  CHECK((*ranged->result)->response.status == 206);
  CHECK((*ranged->result)->body == blob.substr(1500000));
  CHECK((*ranged->result)->response.Header("Content-Range") ==
        "bytes 1500000-" + std::to_string(blob.size() - 1) + "/" + std::to_string(blob.size()));
  // Beyond the end: the same 416 a complete copy answers (registry/blob_range.h), not a 404.
  auto beyond = env.Get(d, "bytes=" + std::to_string(blob.size()) + "-");
  REQUIRE(RunUntil(&env.loop, [&] { return beyond->done(); }));
  REQUIRE(beyond->result->ok());
  CHECK((*beyond->result)->response.status == 416);
  CHECK((*beyond->result)->response.Header("Content-Range") ==
        "bytes */" + std::to_string(blob.size()));
  CHECK((*beyond->result)->response.Header("Docker-Content-Digest") == d.str());
  CHECK((*beyond->result)->body.find("RANGE_INVALID") != std::string::npos);

  const std::string other = MakeBlob(1 << 20, 6);
  const oci::Digest od = DigestOf(other);
  const fs::path odir = env.StartIngest(od, other.size());
  env.inflight->Offer(od, cluster::ProgressState::kFollowing);
  Env::Grow(odir, std::string_view(other).substr(0, 1000));
  auto stalled = env.Get(od);
  REQUIRE(RunUntil(
      &env.loop, [&] { return stalled->done(); }, 3000));
  CHECK_FALSE(stalled->result->ok());
  CHECK(env.inflight->stats().readers_failed >= 1);
  CHECK(env.coordinator.Reported("following 1000/"));
}

TEST_CASE("inflight: at most fanout readers per copy; a revoked fetch takes no new readers") {
  InflightOptions options;
  options.fanout = 2;
  Env env(options);
  const std::string blob = MakeBlob(1 << 20, 7);
  const oci::Digest d = DigestOf(blob);
  const fs::path dir = env.StartIngest(d, blob.size());
  env.inflight->Offer(d, cluster::ProgressState::kFetching);
  auto a = env.Get(d);
  auto b = env.Get(d);
  RunFor(&env.loop, 50);
  auto c = env.Get(d);
  REQUIRE(RunUntil(&env.loop, [&] { return c->done(); }));
  REQUIRE(c->result->ok());
  CHECK((*c->result)->response.status == 404);
  CHECK(env.inflight->stats().refused == 1);
  Env::Grow(dir, blob);
  REQUIRE(RunUntil(&env.loop, [&] { return a->done() && b->done(); }));
  CHECK((*a->result)->body == blob);
  CHECK((*b->result)->body == blob);

  const std::string other = MakeBlob(1 << 20, 8);
  const oci::Digest od = DigestOf(other);
  env.StartIngest(od, other.size());
  env.coordinator.revoke = true;
  env.inflight->Offer(od, cluster::ProgressState::kFetching);
  RunFor(&env.loop, 150);  // A report, and its revocation.
  auto refused = env.Get(od);
  REQUIRE(RunUntil(&env.loop, [&] { return refused->done(); }));
  CHECK((*refused->result)->response.status == 404);
}

TEST_CASE("inflight: a reader that caught up with a revoked fetch ends short at once") {
  InflightOptions options;
  options.reader_stall_ms = 60'000;  // Not the stall limit: the revocation ends it.
  Env env(options);
  const std::string blob = MakeBlob(1 << 20, 9);
  const oci::Digest d = DigestOf(blob);
  const fs::path dir = env.StartIngest(d, blob.size());
  env.inflight->Offer(d, cluster::ProgressState::kFetching);
  Env::Grow(dir, std::string_view(blob).substr(0, 100 << 10));
  auto reader = env.Get(d);
  RunFor(&env.loop, 60);
  CHECK_FALSE(reader->done());    // It has the first 100 KiB and waits for more.
  env.coordinator.revoke = true;  // The next progress report hears it was revoked.
  REQUIRE(RunUntil(&env.loop, [&] { return reader->done(); }));
  CHECK_FALSE(reader->result->ok());  // A short body: the connection closed early.
  CHECK(env.inflight->stats().readers_failed == 1);
}

TEST_CASE("inflight: no content directory, nothing offered; claims say so") {
  Env env;
  env.content.SetDirectory(containerd::ContentDirectory());
  CHECK_FALSE(env.inflight->can_serve());
  const std::string blob = MakeBlob(1000, 9);
  const oci::Digest d = DigestOf(blob);
  env.inflight->Offer(d, cluster::ProgressState::kFetching);
  CHECK(env.inflight->stats().sources == 0);
  std::optional<cluster::ClaimAnswer> answer;
  env.inflight->Claim(d, [&](cluster::ClaimAnswer a) { answer = std::move(a); });
  CHECK_FALSE(answer);  // Never inline.
  REQUIRE(RunUntil(&env.loop, [&] { return answer.has_value(); }));
  REQUIRE(env.coordinator.claims.size() == 1);
  CHECK(env.coordinator.claims[0] == d.str() + " noserve");
}

TEST_CASE("inflight: a follow stream is reported as reading; a source that broke is avoided") {
  Env env;
  const oci::Digest d = DigestOf(MakeBlob(1000, 7));
  const cluster::Provider n1{"n1", "10.0.0.1", 5000};
  const cluster::Provider n2{"n2", "10.0.0.2", 5000};
  ClaimedSources follow = env.inflight->Watch(d, /*in_flight=*/true);
  REQUIRE(follow.in_flight);
  follow.on_received(n1, 10, 1000, true);
  REQUIRE(RunUntil(&env.loop, [&] { return env.coordinator.Reported("reading 10/1000 from n1"); }));
  // While it waits for its own client, the stream says nothing of its source.
  follow.on_received(n1, 500, 1000, false);
  RunFor(&env.loop, 50);
  env.coordinator.reports.clear();
  RunFor(&env.loop, 150);
  CHECK_FALSE(env.coordinator.Reported("reading"));
  // The source stalls: the stream ends, and the source is avoided for the key from now on.
  follow.on_received(n1, 500, 1000, true);
  follow.on_failed(n1, "idle timeout");
  follow.on_finished();
  env.coordinator.reports.clear();
  RunFor(&env.loop, 150);
  CHECK_FALSE(env.coordinator.Reported("reading"));
  CHECK(env.inflight->Avoided(d.str()) == std::vector<std::string>{"n1"});
  CHECK(env.inflight->stats().sources_avoided == 1);
  // The next claim names it; a follow answer that still names only it is a decline, and other
  // sources in an answer stay.
  std::optional<cluster::ClaimAnswer> answer;
  env.coordinator.answer = cluster::ClaimAnswer{cluster::ClaimVerdict::kFollow, {n1}};
  env.inflight->Claim(d, [&](cluster::ClaimAnswer a) { answer = std::move(a); });
  REQUIRE(RunUntil(&env.loop, [&] { return answer.has_value(); }));
  CHECK(env.coordinator.claims.back() == d.str() + " serve avoid=n1");
  CHECK(answer->verdict == cluster::ClaimVerdict::kDecline);
  answer.reset();
  env.coordinator.answer = cluster::ClaimAnswer{cluster::ClaimVerdict::kFollow, {n1, n2}};
  env.inflight->Claim(d, [&](cluster::ClaimAnswer a) { answer = std::move(a); });
  REQUIRE(RunUntil(&env.loop, [&] { return answer.has_value(); }));
  CHECK(answer->verdict == cluster::ClaimVerdict::kFollow);
  CHECK(answer->nodes == std::vector<cluster::Provider>{n2});
  // A complete copy's fetch is watched for failures only.
  ClaimedSources have = env.inflight->Watch(d, /*in_flight=*/false);
  CHECK_FALSE(have.in_flight);
  CHECK_FALSE(have.on_received);
  have.on_failed(n2, "digest mismatch");
  CHECK(env.inflight->Avoided(d.str()) == std::vector<std::string>{"n1", "n2"});
  // Other keys avoid nothing; avoidance ends after avoid_ms.
  CHECK(env.inflight->Avoided(DigestOf("other").str()).empty());
}

TEST_CASE("inflight: an ingest that appears a little later is still offered") {
  Env env;
  const std::string blob = MakeBlob(64 << 10, 10);
  const oci::Digest d = DigestOf(blob);
  env.inflight->Offer(d, cluster::ProgressState::kFollowing);
  RunFor(&env.loop, 150);
  CHECK(env.inflight->stats().sources == 0);
  const fs::path dir = env.StartIngest(d, blob.size());
  REQUIRE(RunUntil(&env.loop, [&] { return env.inflight->stats().sources == 1; }));
  Env::Grow(dir, blob);
  auto reader = env.Get(d);
  REQUIRE(RunUntil(&env.loop, [&] { return reader->done(); }));
  CHECK((*reader->result)->body == blob);
}

TEST_CASE("inflight: destroyed with a reader waiting, the reader ends short") {
  Env env;
  const std::string blob = MakeBlob(1 << 20, 11);
  const oci::Digest d = DigestOf(blob);
  const fs::path dir = env.StartIngest(d, blob.size());
  env.inflight->Offer(d, cluster::ProgressState::kFetching);
  Env::Grow(dir, std::string_view(blob).substr(0, 1000));
  auto reader = env.Get(d);
  RunFor(&env.loop, 50);
  CHECK_FALSE(reader->done());
  env.inflight.reset();
  REQUIRE(RunUntil(&env.loop, [&] { return reader->done(); }));
  CHECK_FALSE(reader->result->ok());
}

TEST_CASE("inflight: a peer's manifest GET waits for our containerd's committed copy") {
  InflightOptions options;
  options.manifest_wait_ms = 150;
  Env env(options);
  const std::string config = "{}";
  const std::string manifest =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
      R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
      DigestOf(config).str() + R"(","size":2},"layers":[]})";
  const oci::Digest d = DigestOf(manifest);
  const fs::path blob_path = env.root / "blobs" / "sha256" / std::string(d.hex());

  // Not fetched by us: not ours to answer.
  auto unexpected = env.Get(d, "", "/m/");
  REQUIRE(RunUntil(&env.loop, [&] { return unexpected->done(); }));
  REQUIRE(unexpected->result->ok());
  CHECK((*unexpected->result)->body == "none\n");

  // Fetched by us: the GET waits, and gets the document once it is committed.
  env.inflight->ExpectManifest(d);
  auto reader = env.Get(d, "", "/m/");
  RunFor(&env.loop, 40);
  CHECK_FALSE(reader->done());
  std::ofstream(blob_path, std::ios::binary) << manifest;
  REQUIRE(RunUntil(&env.loop, [&] { return reader->done(); }));
  REQUIRE(reader->result->ok());
  CHECK((*reader->result)->response.status == 200);
  CHECK((*reader->result)->body == manifest);
  CHECK((*reader->result)->response.Header("Content-Type") ==
        std::optional<std::string_view>("application/vnd.oci.image.manifest.v1+json"));
  CHECK((*reader->result)->response.Header("Docker-Content-Digest") ==
        std::optional<std::string_view>(d.str()));
  CHECK(env.inflight->stats().manifests_served == 1);

  // Never committed within the wait: 404, so the peer goes upstream in time.
  const oci::Digest never = DigestOf(manifest + " ");
  env.inflight->ExpectManifest(never);
  auto late = env.Get(never, "", "/m/");
  REQUIRE(RunUntil(&env.loop, [&] { return late->done(); }));
  REQUIRE(late->result->ok());
  CHECK((*late->result)->body == "expired\n");

  // A committed file whose bytes are not what its name says is never served.
  const std::string other = manifest + "\n";
  const oci::Digest liar = DigestOf(other);
  std::ofstream(env.root / "blobs" / "sha256" / std::string(liar.hex()), std::ios::binary)
      << manifest;
  env.inflight->ExpectManifest(liar);
  auto bad = env.Get(liar, "", "/m/");
  REQUIRE(RunUntil(&env.loop, [&] { return bad->done(); }));
  REQUIRE(bad->result->ok());
  CHECK((*bad->result)->body == "expired\n");
  CHECK(env.inflight->stats().manifests_expired == 2);
}

TEST_CASE("inflight: a manifest wait whose client went away is dropped unanswered") {
  InflightOptions options;
  options.manifest_wait_ms = 150;
  Env env(options);
  const std::string manifest =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
      R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
      DigestOf("{}").str() + R"(","size":2},"layers":[]})";
  const oci::Digest d = DigestOf(manifest);
  const oci::Digest never = DigestOf(manifest + " ");
  env.inflight->ExpectManifest(d);
  env.inflight->ExpectManifest(never);
  http::RequestParser parser(http::ParserLimits{});
  const std::string raw = "GET /m/" + d.str() + " HTTP/1.1\r\nHost: x\r\n\r\n";
  REQUIRE(parser.Feed(raw.data(), raw.size()).event == http::RequestParser::Event::kRequest);
  http::Request request = parser.TakeRequest();
  int not_found = 0;
  spegel::testing::FakeWriter committed_later;
  REQUIRE(env.inflight->ServeManifest(request, committed_later, d, [&] { ++not_found; }));
  spegel::testing::FakeWriter never_committed;
  REQUIRE(env.inflight->ServeManifest(request, never_committed, never, [&] { ++not_found; }));
  CHECK(committed_later.calls == 0);

  committed_later.ClientGone();
  never_committed.ClientGone();
  std::ofstream(env.root / "blobs" / "sha256" / std::string(d.hex()), std::ios::binary) << manifest;
  RunFor(&env.loop, 300);  // Past the commit and the wait's deadline.
  CHECK(committed_later.calls == 0);
  CHECK(never_committed.calls == 0);
  CHECK(not_found == 0);
  CHECK(env.inflight->stats().manifests_served == 0);
  CHECK(env.inflight->stats().manifests_expired == 0);
}

TEST_CASE("inflight: growth wakes a waiting reader through inotify, not the poll") {
  InflightOptions options;
  options.poll_ms = 60'000;  // The backup poll never runs within this test.
  options.unwatched_poll_ms = 60'000;
  options.hash_after_full_ms = 0;
  Env env(options);
  const std::string blob = MakeBlob(300 << 10, 10);
  const oci::Digest d = DigestOf(blob);
  const fs::path dir = env.StartIngest(d, blob.size());
  env.inflight->Offer(d, cluster::ProgressState::kFetching);
  auto reader = env.Get(d);
  RunFor(&env.loop, 50);
  CHECK_FALSE(reader->done());
  Env::Grow(dir, blob);  // All of it: the end then waits for the commit (or a hash).
  env.Commit(dir, d);
  REQUIRE(RunUntil(
      &env.loop, [&] { return reader->done(); }, 3000));
  REQUIRE(reader->result->ok());
  CHECK((*reader->result)->body == blob);
}

}  // namespace
}  // namespace spegel::registry
