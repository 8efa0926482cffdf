#include "index/syncer.h"

#include <doctest/doctest.h>

#include "fakes/fake_containerd.h"
#include "fakes/loop_util.h"

namespace spegel::index {
namespace {

using containerd::EventKind;
using testing::AddTestManifest;
using testing::FakeContainerd;
using testing::RunUntil;

constexpr char kOciManifest[] = "application/vnd.oci.image.manifest.v1+json";

oci::Digest D(const std::string& s) { return *oci::Digest::Parse(s); }

struct Fixture {
  Fixture() {
    SyncerOptions options;
    options.resync_interval = std::chrono::milliseconds(0);
    options.backoff_min = std::chrono::milliseconds(5);
    options.backoff_max = std::chrono::milliseconds(20);
    syncer = std::make_unique<Syncer>(&loop, &fake, &content, &index, options);
  }
  ~Fixture() { syncer->Stop(); }
  Loop loop;
  FakeContainerd fake;
  containerd::ContentStore content{&loop, &fake, {}};
  Index index;
  std::unique_ptr<Syncer> syncer;
};

TEST_CASE_FIXTURE(Fixture, "syncer: full sync, then live create and delete events") {
  auto a = AddTestManifest(&fake, "a", 2);
  fake.AddImage("docker.io/library/a:1", kOciManifest, a.manifest_digest);
  syncer->Start();
  REQUIRE(RunUntil(&loop, [&] { return syncer->ready(); }));
  CHECK(index.ResolveTag("docker.io/library/a:1") == D(a.manifest_digest));
  CHECK(index.blob_count() == 4);

  auto b = AddTestManifest(&fake, "b", 1);
  fake.AddImage("docker.io/library/b:1", kOciManifest, b.manifest_digest);
  fake.Emit(EventKind::kImageCreate, "docker.io/library/b:1");
  REQUIRE(RunUntil(&loop, [&] { return index.ResolveTag("docker.io/library/b:1").has_value(); }));
  CHECK(index.FindBlob(D(b.layer_digests[0])) != nullptr);

  fake.RemoveImage("docker.io/library/a:1");
  fake.Emit(EventKind::kImageDelete, "docker.io/library/a:1");
  REQUIRE(RunUntil(&loop, [&] { return !index.ResolveTag("docker.io/library/a:1"); }));
  CHECK(index.FindBlob(D(a.config_digest)) == nullptr);

  fake.Emit(EventKind::kContentDelete, b.layer_digests[0]);
  REQUIRE(RunUntil(&loop, [&] { return index.FindBlob(D(b.layer_digests[0])) == nullptr; }));
}

TEST_CASE_FIXTURE(Fixture, "syncer: a create then delete in quick succession leaves nothing") {
  syncer->Start();
  REQUIRE(RunUntil(&loop, [&] { return syncer->ready(); }));
  auto c = AddTestManifest(&fake, "c", 1);
  fake.AddImage("docker.io/library/c:1", kOciManifest, c.manifest_digest);
  fake.Emit(EventKind::kImageCreate, "docker.io/library/c:1");
  fake.Emit(EventKind::kImageDelete, "docker.io/library/c:1");
  fake.RemoveImage("docker.io/library/c:1");
  // Let every posted result land.
  RunUntil(
      &loop, [] { return false; }, 100);
  CHECK_FALSE(index.ResolveTag("docker.io/library/c:1").has_value());
  CHECK(index.blob_count() == 0);
}

TEST_CASE_FIXTURE(Fixture, "syncer: stream loss makes it not ready, reconnect resyncs") {
  syncer->Start();
  REQUIRE(RunUntil(&loop, [&] { return syncer->ready(); }));
  fake.SetAvailable(false);
  REQUIRE(RunUntil(&loop, [&] { return !syncer->ready(); }));
  // Changes while disconnected (no events seen) must show after the resync.
  auto d = AddTestManifest(&fake, "d", 1);
  fake.AddImage("docker.io/library/d:1", kOciManifest, d.manifest_digest);
  fake.SetAvailable(true);
  REQUIRE(RunUntil(&loop, [&] { return syncer->ready(); }));
  CHECK(index.ResolveTag("docker.io/library/d:1") == D(d.manifest_digest));
  CHECK(syncer->reconnects() == 1);
  CHECK(fake.subscribe_calls() >= 2);
}

TEST_CASE_FIXTURE(Fixture, "syncer: not ready while containerd is absent at start") {
  fake.SetAvailable(false);
  syncer->Start();
  RunUntil(
      &loop, [] { return false; }, 60);
  CHECK_FALSE(syncer->ready());
  CHECK(fake.subscribe_calls() >= 2);  // keeps retrying
  fake.SetAvailable(true);
  REQUIRE(RunUntil(&loop, [&] { return syncer->ready(); }));
}

TEST_CASE_FIXTURE(Fixture, "syncer: a blob the registry finds missing leaves the index") {
  auto e = AddTestManifest(&fake, "e", 1);
  fake.AddImage("docker.io/library/e:1", kOciManifest, e.manifest_digest);
  syncer->Start();
  REQUIRE(RunUntil(&loop, [&] { return syncer->ready(); }));
  syncer->BlobMissing(D(e.layer_digests[0]));
  CHECK(index.FindBlob(D(e.layer_digests[0])) == nullptr);
  CHECK(index.FindBlob(D(e.config_digest)) != nullptr);
}

}  // namespace
}  // namespace spegel::index
