#include "index/walker.h"

#include <doctest/doctest.h>

#include "fakes/fake_containerd.h"

namespace spegel::index {
namespace {

using testing::AddTestManifest;
using testing::DescriptorJson;
using testing::FakeContainerd;

constexpr char kOciManifest[] = "application/vnd.oci.image.manifest.v1+json";
constexpr char kOciIndex[] = "application/vnd.oci.image.index.v1+json";

bool Has(const ImageWalk& w, const std::string& digest) {
  for (const auto& b : w.blobs) {
    if (b.first.str() == digest) return true;
  }
  return false;
}

struct Fixture {
  FakeContainerd fake;
  Walker walker{&fake};
};

TEST_CASE_FIXTURE(Fixture, "walker: OCI manifest image with tag") {
  auto t = AddTestManifest(&fake, "a", 3);
  fake.AddImage("docker.io/library/a:1", kOciManifest, t.manifest_digest);
  auto result = walker.SyncAll();
  REQUIRE(result.ok());
  REQUIRE(result->walks.size() == 1);
  const ImageWalk& w = result->walks[0];
  CHECK(w.tag_key == "docker.io/library/a:1");
  CHECK(w.blobs.size() == 5);
  CHECK(w.blobs[0].second.kind == BlobKind::kManifest);
  CHECK(w.blobs[0].second.size == static_cast<int64_t>(t.manifest.size()));
  CHECK(Has(w, t.config_digest));
  for (const auto& l : t.layer_digests) CHECK(Has(w, l));
}

TEST_CASE_FIXTURE(Fixture, "walker: Docker schema2 image, digest-only name has no tag") {
  auto t = AddTestManifest(&fake, "d", 2, /*docker=*/true);
  fake.AddImage("127.0.0.1:5000/demo/d@" + t.manifest_digest,
                "application/vnd.docker.distribution.manifest.v2+json", t.manifest_digest);
  auto w = walker.WalkImageByName("127.0.0.1:5000/demo/d@" + t.manifest_digest);
  REQUIRE(w.ok());
  CHECK_FALSE(w->tag_key.has_value());
  CHECK(w->blobs.size() == 4);
  CHECK(w->blobs[1].second.kind == BlobKind::kConfig);
  CHECK(w->blobs[1].second.media_type == "application/vnd.docker.container.image.v1+json");
}

TEST_CASE_FIXTURE(Fixture, "walker: multi-platform index with an absent platform and layer") {
  auto amd = AddTestManifest(&fake, "amd64", 2, false, /*skip_layer=*/1);
  // The arm64 manifest is named by the index but never stored.
  const std::string arm_manifest = "{\"schemaVersion\":2,\"arm\":1}";
  const std::string arm_digest = "sha256:" + oci::Sha256::HashHex(arm_manifest);
  const std::string index_json =
      std::string("{\"schemaVersion\":2,\"mediaType\":\"") + kOciIndex + "\",\"manifests\":[" +
      DescriptorJson(kOciManifest, amd.manifest_digest, amd.manifest.size()) + "," +
      DescriptorJson(kOciManifest, arm_digest, arm_manifest.size()) + "]}";
  const std::string index_digest = fake.AddBlob(index_json);
  fake.AddImage("ghcr.io/org/multi:v1", kOciIndex, index_digest);
  auto w = walker.WalkImageByName("ghcr.io/org/multi:v1");
  REQUIRE(w.ok());
  CHECK(w->blobs.size() == 4);  // index, amd64 manifest, config, layer 0
  CHECK(w->blobs[0].second.kind == BlobKind::kIndex);
  CHECK(Has(*w, amd.layer_digests[0]));
  CHECK_FALSE(Has(*w, amd.layer_digests[1]));
  CHECK_FALSE(Has(*w, arm_digest));
  CHECK(w->absent.size() == 2);
}

TEST_CASE_FIXTURE(Fixture, "walker: garbage and wrong-schema manifests are skipped, others kept") {
  auto good = AddTestManifest(&fake, "good", 1);
  fake.AddImage("docker.io/library/good:1", kOciManifest, good.manifest_digest);
  const std::string garbage = fake.AddBlob("{this is not json");
  fake.AddImage("docker.io/library/garbage:1", kOciManifest, garbage);
  const std::string wrong = fake.AddBlob("{\"schemaVersion\":2,\"layers\":\"nope\"}");
  fake.AddImage("docker.io/library/wrong:1", kOciManifest, wrong);
  fake.AddImage("not a ref", kOciManifest, good.manifest_digest);
  fake.AddImage("sha256:" + std::string(64, 'a'), kOciManifest, good.manifest_digest);
  fake.AddImage("docker.io/library/gone:1", kOciManifest, "sha256:" + std::string(64, 'b'));
  fake.AddImage("docker.io/library/baddigest:1", kOciManifest, "md5:1234");
  auto result = walker.SyncAll();
  REQUIRE(result.ok());
  REQUIRE(result->walks.size() == 1);
  CHECK(result->walks[0].name == "docker.io/library/good:1");
  CHECK(result->images_skipped == 6);
  CHECK(result->images_listed == 7);
}

TEST_CASE_FIXTURE(Fixture,
                  "walker: an unavailable containerd fails the sync, a gone image is NotFound") {
  fake.SetAvailable(false);
  CHECK(walker.SyncAll().status().code() == Code::kUnavailable);
  fake.SetAvailable(true);
  CHECK(walker.WalkImageByName("docker.io/library/none:1").status().IsNotFound());
}

TEST_CASE_FIXTURE(Fixture, "walker: reads oversized manifests never, and nested cycles terminate") {
  // An index that lists itself cannot loop.
  const std::string self_index_prefix = "{\"schemaVersion\":2,\"manifests\":[]}";
  const std::string d = fake.AddBlob(self_index_prefix);
  fake.AddImage("docker.io/library/empty:1", kOciIndex, d);
  auto w = walker.WalkImageByName("docker.io/library/empty:1");
  REQUIRE(w.ok());
  CHECK(w->blobs.size() == 1);
  const std::string huge(Walker::kMaxManifestBytes + 1, ' ');
  const std::string hd = fake.AddBlob(huge);
  fake.AddImage("docker.io/library/huge:1", kOciManifest, hd);
  CHECK_FALSE(walker.WalkImageByName("docker.io/library/huge:1").ok());
}

}  // namespace
}  // namespace spegel::index
