#include "registry/handler.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "cluster/content_locator.h"
#include "cluster/pull_coordinator.h"
#include "fakes/fake_containerd.h"
#include "fakes/fake_writer.h"
#include "fakes/loop_util.h"
#include "http/request_parser.h"

namespace spegel::registry {
namespace {

using testing::FakeWriter;
namespace fs = std::filesystem;

constexpr char kOciManifest[] = "application/vnd.oci.image.manifest.v1+json";

http::Request Parse(const std::string& raw) {
  http::RequestParser parser(http::ParserLimits{});
  auto r = parser.Feed(raw.data(), raw.size());
  REQUIRE(r.event == http::RequestParser::Event::kRequest);
  return parser.TakeRequest();
}

void WriteBlob(const fs::path& root, const std::string& digest, const std::string& bytes) {
  const fs::path dir = root / "blobs" / "sha256";
  fs::create_directories(dir);
  std::ofstream(dir / digest.substr(7), std::ios::binary) << bytes;
}

struct Fixture {
  explicit Fixture(bool readable_root = true) {
    root = fs::temp_directory_path() /
           ("spegel-handler-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
    fs::create_directories(root);
    image = testing::AddTestManifest(&fake, "h", 2);
    fake.AddImage("docker.io/library/app:v1", kOciManifest, image.manifest_digest);
    layer = "layer-h-0";  // AddTestManifest's first layer bytes
    if (readable_root) {
      WriteBlob(root, image.manifest_digest, image.manifest);
      WriteBlob(root, image.config_digest, image.config);
      WriteBlob(root, image.layer_digests[0], layer);
      WriteBlob(root, image.layer_digests[1], "layer-h-1");
    }
    index::SyncerOptions options;
    options.resync_interval = std::chrono::milliseconds(0);
    content = std::make_unique<containerd::ContentStore>(
        &loop, &fake,
        containerd::ContentStoreOptions{
            .content_path = readable_root ? root.string() : "/nonexistent-spegel-root"});
    syncer = std::make_unique<index::Syncer>(&loop, &fake, content.get(), &index, options);
    handler = std::make_unique<RegistryHandler>(&index, syncer.get(), content.get());
    syncer->Start();
    REQUIRE(testing::RunUntil(&loop, [&] { return syncer->ready(); }));
  }
  ~Fixture() {
    handler.reset();
    syncer->Stop();
    content.reset();
    fs::remove_all(root);
  }
  FakeWriter Get(const std::string& target, const std::string& extra_headers = "",
                 const std::string& method = "GET") {
    http::Request request = Parse(method + " " + target + " HTTP/1.1\r\nHost: x\r\n" +
                                  extra_headers + "\r\n");
    FakeWriter writer;
    handler->Handle(request, writer);
    REQUIRE(writer.calls == 1);
    return writer;
  }

  static inline int counter = 0;
  fs::path root;
  Loop loop;
  testing::FakeContainerd fake;
  testing::TestImage image;
  std::string layer;
  index::Index index;
  std::unique_ptr<containerd::ContentStore> content;
  std::unique_ptr<index::Syncer> syncer;
  std::unique_ptr<RegistryHandler> handler;
};

void CheckOciError(const FakeWriter& w, int status, const std::string& code) {
  CHECK(w.status == status);
  CHECK(w.Header("Content-Type") == "application/json");
  if (!w.head_only) {
    CHECK(w.body.find("\"code\":\"" + code + "\"") != std::string::npos);
    CHECK(w.content_length == w.body.size());
  }
}

TEST_CASE_FIXTURE(Fixture, "handler: /v2/ and probes") {
  auto v2 = Get("/v2/");
  CHECK(v2.status == 200);
  CHECK(v2.Header("Docker-Distribution-API-Version") == "registry/2.0");
  CHECK(Get("/readyz").status == 200);
  CHECK(Get("/livez").status == 200);
  auto debug = Get("/debug/index");
  CHECK(debug.body.find(image.config_digest) != std::string::npos);
  CHECK(Get("/nothing").status == 404);
  CHECK(Get("/readyz", "", "POST").status == 405);
}

TEST_CASE_FIXTURE(Fixture, "handler: manifests by tag (ns, path-style, unique) and digest") {
  bool first = true;  // The first answer reads the file; later ones come from the cache.
  for (const std::string& target : std::vector<std::string>{
           "/v2/library/app/manifests/v1?ns=docker.io", "/v2/docker.io/library/app/manifests/v1",
           "/v2/library/app/manifests/v1", "/v2/library/app/manifests/" + image.manifest_digest,
           "/v2/other/repo/manifests/" + image.manifest_digest + "?ns=ghcr.io"}) {
    CAPTURE(target);
    auto w = Get(target);
    CHECK(w.status == 200);
    CHECK(w.file == first);
    first = false;
    CHECK(w.body == image.manifest);
    CHECK(w.Header("Content-Type") == kOciManifest);
    CHECK(w.Header("Docker-Content-Digest") == image.manifest_digest);
  }
  auto head = Get("/v2/library/app/manifests/v1?ns=docker.io", "", "HEAD");
  CHECK(head.head_only);
  CHECK(head.content_length == image.manifest.size());
  CheckOciError(Get("/v2/library/app/manifests/v2?ns=docker.io"), 404, "MANIFEST_UNKNOWN");
  CheckOciError(Get("/v2/library/app/manifests/v1?ns=ghcr.io"), 404, "MANIFEST_UNKNOWN");
  CheckOciError(Get("/v2/library/app/manifests/" + image.config_digest), 404, "MANIFEST_UNKNOWN");
}

TEST_CASE_FIXTURE(Fixture, "handler: tags list") {
  auto w = Get("/v2/library/app/tags/list?ns=docker.io");
  CHECK(w.status == 200);
  CHECK(w.body == "{\"name\":\"library/app\",\"tags\":[\"v1\"]}\n");
  CHECK(Get("/v2/library/app/tags/list").body == w.body);
  CheckOciError(Get("/v2/library/app/tags/list?ns=ghcr.io"), 404, "NAME_UNKNOWN");
  CheckOciError(Get("/v2/library/nope/tags/list"), 404, "NAME_UNKNOWN");
  // The name is echoed as requested (path-style with its registry too).
  CHECK(Get("/v2/docker.io/library/app/tags/list").body ==
        "{\"name\":\"docker.io/library/app\",\"tags\":[\"v1\"]}\n");
}

TEST_CASE_FIXTURE(Fixture, "handler: tags list pages with n and last, and links the next page") {
  for (const char* tag : {"v2", "a0", "v3"}) {
    const std::string name = std::string("docker.io/library/app:") + tag;
    fake.AddImage(name, kOciManifest, image.manifest_digest);
    fake.Emit(containerd::EventKind::kImageCreate, name);
  }
  REQUIRE(testing::RunUntil(&loop, [&] {
    return index.TagsOfRepository("docker.io", "library/app").size() == 4;
  }));
  auto page1 = Get("/v2/library/app/tags/list?n=2");
  CHECK(page1.status == 200);
  CHECK(page1.body == "{\"name\":\"library/app\",\"tags\":[\"a0\",\"v1\"]}\n");
  CHECK(page1.Header("Link") == "</v2/library/app/tags/list?n=2&last=v1>; rel=\"next\"");
  auto page2 = Get("/v2/library/app/tags/list?n=2&last=v1");
  CHECK(page2.body == "{\"name\":\"library/app\",\"tags\":[\"v2\",\"v3\"]}\n");
  CHECK_FALSE(page2.Header("Link").has_value());
  CHECK(Get("/v2/library/app/tags/list?last=v2").body ==
        "{\"name\":\"library/app\",\"tags\":[\"v3\"]}\n");
  CHECK(Get("/v2/library/app/tags/list?last=v3").body ==
        "{\"name\":\"library/app\",\"tags\":[]}\n");
  auto none = Get("/v2/library/app/tags/list?n=0");
  CHECK(none.status == 200);
  CHECK(none.body == "{\"name\":\"library/app\",\"tags\":[]}\n");
  CHECK_FALSE(none.Header("Link").has_value());
  CHECK(Get("/v2/library/app/tags/list?n=99").body ==
        "{\"name\":\"library/app\",\"tags\":[\"a0\",\"v1\",\"v2\",\"v3\"]}\n");
  // ns travels into the next page's link.
  CHECK(Get("/v2/library/app/tags/list?ns=docker.io&n=1").Header("Link") ==
        "</v2/library/app/tags/list?n=1&last=a0&ns=docker.io>; rel=\"next\"");
  for (const char* bad : {"n=-1", "n=x", "n=", "n=99999999999999999999999"}) {
    CAPTURE(bad);
    CheckOciError(Get(std::string("/v2/library/app/tags/list?") + bad), 400,
                  "PAGINATION_NUMBER_INVALID");
  }
}

TEST_CASE_FIXTURE(Fixture, "handler: a tag in two registries is ambiguous without ns") {
  fake.AddImage("ghcr.io/library/app:v1", kOciManifest, image.manifest_digest);
  fake.Emit(containerd::EventKind::kImageCreate, "ghcr.io/library/app:v1");
  REQUIRE(testing::RunUntil(&loop, [&] { return index.tag_count() == 2; }));
  auto w = Get("/v2/library/app/manifests/v1");
  CheckOciError(w, 404, "MANIFEST_UNKNOWN");
  CHECK(w.body.find("ambiguous") != std::string::npos);
  CHECK(Get("/v2/ghcr.io/library/app/manifests/v1").status == 200);
}

TEST_CASE_FIXTURE(Fixture, "handler: blobs with and without Range") {
  const std::string blob = "/v2/library/app/blobs/" + image.layer_digests[0];
  auto full = Get(blob);
  CHECK(full.status == 200);
  CHECK(full.body == layer);
  CHECK(full.Header("Accept-Ranges") == "bytes");
  CHECK(full.Header("Docker-Content-Digest") == image.layer_digests[0]);
  auto part = Get(blob, "Range: bytes=2-4\r\n");
  CHECK(part.status == 206);
  CHECK(part.body == layer.substr(2, 3));
  CHECK(part.Header("Content-Range") == "bytes 2-4/" + std::to_string(layer.size()));
  auto suffix = Get(blob, "Range: bytes=-2\r\n");
  CHECK(suffix.body == layer.substr(layer.size() - 2));
  for (const char* ignored : {"bytes=5-1", "bytes=0-1,3-4", "items=0-1", "bytes=x"}) {
    CAPTURE(ignored);
    auto w = Get(blob, std::string("Range: ") + ignored + "\r\n");
    CHECK(w.status == 200);
    CHECK(w.body == layer);
  }
  for (const char* unsat : {"bytes=-0", "bytes=100-", "bytes=9-9"}) {
    CAPTURE(unsat);
    auto w = Get(blob, std::string("Range: ") + unsat + "\r\n");
    CheckOciError(w, 416, "RANGE_INVALID");
    CHECK(w.Header("Content-Range") == "bytes */" + std::to_string(layer.size()));
    CHECK(w.Header("Docker-Content-Digest") == image.layer_digests[0]);
  }
  // Content-addressed: a manifest is also served from the blob endpoint, like docker-registry.
  CHECK(Get("/v2/x/blobs/" + image.manifest_digest).body == image.manifest);
  CheckOciError(Get("/v2/x/blobs/sha256:" + std::string(64, 'f')), 404, "BLOB_UNKNOWN");
  CheckOciError(Get("/v2/x/blobs/sha256:" + std::string(64, 'f'), "", "HEAD"), 404, "BLOB_UNKNOWN");
}

TEST_CASE_FIXTURE(Fixture, "handler: bad input gets the right OCI error") {
  CheckOciError(Get("/v2/x/blobs/sha256:ABC"), 400, "DIGEST_INVALID");
  CheckOciError(Get("/v2/a/%2e%2e/blobs/" + image.layer_digests[0]), 400, "NAME_INVALID");
  // A reference that is no valid tag names no manifest: 404, as the spec lists for manifests.
  auto bad_tag = Get("/v2/a/manifests/.INVALID_MANIFEST_NAME");
  CheckOciError(bad_tag, 404, "MANIFEST_UNKNOWN");
  CHECK(bad_tag.body.find(".INVALID_MANIFEST_NAME") != std::string::npos);
  CheckOciError(Get("/v2/a/manifests/-x"), 404, "MANIFEST_UNKNOWN");
  CheckOciError(Get("/v2/_catalog"), 404, "NAME_UNKNOWN");
  auto put = Get("/v2/a/manifests/v1", "Content-Length: 0\r\n", "PUT");
  CheckOciError(put, 405, "UNSUPPORTED");
  CHECK(put.Header("Allow") == "GET, HEAD");
}

TEST_CASE_FIXTURE(Fixture, "handler: a blob GC removed is dropped, counted, and (no peer) 404") {
  fs::remove(root / "blobs" / "sha256" / image.layer_digests[1].substr(7));
  CHECK(syncer->blobs_gone() == 0);
  CheckOciError(Get("/v2/x/blobs/" + image.layer_digests[1]), 404, "BLOB_UNKNOWN");
  CHECK(index.FindBlob(*oci::Digest::Parse(image.layer_digests[1])) == nullptr);
  CHECK(syncer->blobs_gone() == 1);
  // Asked again it is a plain miss: counted once.
  CheckOciError(Get("/v2/x/blobs/" + image.layer_digests[1]), 404, "BLOB_UNKNOWN");
  CHECK(syncer->blobs_gone() == 1);
}

TEST_CASE_FIXTURE(Fixture,
                  "handler: a file that does not match the index is dropped and "
                  "answered 404") {
  WriteBlob(root, image.layer_digests[1], "not the indexed bytes");
  CheckOciError(Get("/v2/x/blobs/" + image.layer_digests[1]), 404, "BLOB_UNKNOWN");
  CHECK(index.FindBlob(*oci::Digest::Parse(image.layer_digests[1])) == nullptr);
}

TEST_CASE_FIXTURE(Fixture,
                  "handler: a mirrored request must be signed; mirrored is the header "
                  "name in any case with the value exactly true") {
  const auth::PeerAuth auth("0123456789abcdef0123456789abcdef");
  RegistryHandler signed_only(&index, syncer.get(), content.get(),
                              ClusterMode{nullptr, nullptr, &auth});
  const std::string target = "/v2/library/app/blobs/" + image.layer_digests[0] + "?ns=docker.io";
  auto get = [&](const std::string& headers) {
    http::Request request = Parse("GET " + target + " HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n");
    FakeWriter writer;
    signed_only.Handle(request, writer);
    REQUIRE(writer.calls == 1);
    return writer.status;
  };
  CHECK(get("X-Spegel-Mirrored: true\r\n") == 401);
  CHECK(get("x-spegel-mirrored: true\r\n") == 401);
  CHECK(get("X-SPEGEL-MIRRORED: true\r\n") == 401);
  // Not a peer's fetch, so no signature is asked for (and it would go to peers on a miss).
  CHECK(get("X-Spegel-Mirrored: TRUE\r\n") == 200);
  CHECK(get("") == 200);
  const std::string signature = *auth.Sign("GET", target, "", auth::UnixSeconds());
  CHECK(get("x-spegel-mirrored: true\r\n" + std::string(auth::kAuthHeader) + ": " + signature +
            "\r\n") == 200);
}

// Declines every claim, from the loop (never inline), as an owner that does not coalesce.
class AnsweringCoordinator : public cluster::PullCoordinator {
 public:
  explicit AnsweringCoordinator(Loop* loop) : loop_(loop) {}
  void Claim(const std::string&, bool, const std::vector<std::string>&,
             std::function<void(cluster::ClaimAnswer)> done) override {
    loop_->Post([done = std::move(done)] { done(cluster::ClaimAnswer{}); });
  }
  void ReportProgress(std::vector<cluster::ProgressReport>,
                      std::function<void(const std::string&)>) override {}

 private:
  Loop* loop_;
};

// Knows no provider of anything; counts the lookups.
class EmptyLocator : public cluster::ContentLocator {
 public:
  explicit EmptyLocator(Loop* loop) : loop_(loop) {}
  void FindProviders(const std::string&,
                     std::function<void(std::vector<cluster::Provider>)> done) override {
    ++lookups;
    loop_->Post([done = std::move(done)] { done({}); });
  }
  void ReportBadProvider(const cluster::Provider&, std::string_view) override {}
  int lookups = 0;

 private:
  Loop* loop_;
};

TEST_CASE_FIXTURE(Fixture, "handler: a claim answered after the client went away does nothing") {
  AnsweringCoordinator coordinator(&loop);
  EmptyLocator locator(&loop);
  Inflight inflight(&loop, &coordinator, content.get());
  PeerFetcher fetcher(&loop, &locator, auth::PeerAuth());
  RegistryHandler clustered(&index, syncer.get(), content.get(),
                            ClusterMode{&fetcher, nullptr, nullptr, &inflight});
  const std::string raw = "GET /v2/library/app/blobs/sha256:" + std::string(64, 'e') +
                          "?ns=docker.io HTTP/1.1\r\nHost: x\r\n\r\n";
  auto claims_answered = [&](uint64_t n) {
    return testing::RunUntil(&loop, [&] { return inflight.stats().claims_decline == n; });
  };

  // The client stays: the claim's answer sends the miss on to a lookup, which finds nobody.
  {
    http::Request request = Parse(raw);
    FakeWriter writer;
    clustered.Handle(request, writer);
    CHECK(writer.calls == 0);  // Waiting for the claim.
    REQUIRE(testing::RunUntil(&loop, [&] { return writer.calls == 1; }));
    CheckOciError(writer, 404, "BLOB_UNKNOWN");
    CHECK(locator.lookups == 1);
  }

  // The client goes away while the claim is out: its answer neither looks up nor responds.
  http::Request request = Parse(raw);
  FakeWriter writer;
  clustered.Handle(request, writer);
  Liveness::Token token = writer.LivenessToken();
  CHECK(token.alive());
  writer.ClientGone();
  CHECK_FALSE(token.alive());
  REQUIRE(claims_answered(2));
  testing::RunFor(&loop, 20);
  CHECK(writer.calls == 0);
  CHECK(locator.lookups == 1);

  // The writer and request are destroyed while the claim is out (the exchange ended with them):
  // the answer touches neither.
  {
    http::Request gone_request = Parse(raw);
    FakeWriter gone;
    clustered.Handle(gone_request, gone);
  }
  REQUIRE(claims_answered(3));
  testing::RunFor(&loop, 20);
  CHECK(locator.lookups == 1);
}

class CollectSink : public http::BodySink {
 public:
  void Write(std::string_view data) override {
    body.append(data);
    answered = true;
  }
  void Lend(std::string_view data) override { Write(data); }
  void SendFile(int fd, uint64_t offset, uint64_t length) override {
    Write(testing::ReadFileRange(fd, offset, length));
  }
  void Fail(std::string_view) override { failed = answered = true; }
  std::string body;
  bool answered = false;
  bool failed = false;
};

TEST_CASE("handler: without a readable content dir, bodies stream through containerd") {
  Fixture f(/*readable_root=*/false);
  CHECK(f.syncer->content_root().empty());
  auto w = f.Get("/v2/x/blobs/" + f.image.layer_digests[0], "Range: bytes=1-\r\n");
  REQUIRE(w.stream);
  CHECK(w.status == 206);
  CHECK(w.content_length == f.layer.size() - 1);
  CollectSink sink;
  w.source->Proceed(sink);
  REQUIRE(testing::RunUntil(&f.loop, [&] { return sink.answered; }));
  CHECK_FALSE(sink.failed);
  CHECK(sink.body == f.layer.substr(1));
  w.source->Stop();
}

}  // namespace
}  // namespace spegel::registry
