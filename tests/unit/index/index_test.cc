#include "index/index.h"

#include <doctest/doctest.h>

#include "oci/sha256.h"

namespace spegel::index {
namespace {

oci::Digest D(const std::string& seed) {
  return *oci::Digest::Parse("sha256:" + oci::Sha256::HashHex(seed));
}

ImageWalk Walk(const std::string& name, const std::string& target,
               std::vector<std::string> blobs, std::optional<std::string> tag = std::nullopt) {
  ImageWalk w{name, D(target), std::move(tag), {}, {}};
  w.blobs.push_back({D(target), BlobInfo{10, "application/vnd.oci.image.manifest.v1+json",
                                         BlobKind::kManifest}});
  for (const auto& b : blobs) w.blobs.push_back({D(b), BlobInfo{5, "x", BlobKind::kLayer}});
  return w;
}

TEST_CASE("index: a blob stays while any image references it") {
  Index index;
  index.PutImage(Walk("r/a:1", "ma", {"shared", "only-a"}, "r/a:1"));
  index.PutImage(Walk("r/b:1", "mb", {"shared"}, "r/b:1"));
  CHECK(index.blob_count() == 4);
  CHECK(index.RemoveImage("r/a:1"));
  CHECK(index.FindBlob(D("shared")) != nullptr);
  CHECK(index.FindBlob(D("only-a")) == nullptr);
  CHECK(index.FindBlob(D("ma")) == nullptr);
  CHECK_FALSE(index.ResolveTag("r/a:1").has_value());
  CHECK(index.ResolveTag("r/b:1") == D("mb"));
  CHECK_FALSE(index.RemoveImage("r/a:1"));
  CHECK(index.RemoveImage("r/b:1"));
  CHECK(index.blob_count() == 0);
  CHECK(index.tag_count() == 0);
}

TEST_CASE("index: replacing a walk moves references, duplicates count once") {
  Index index;
  index.PutImage(Walk("img", "m1", {"l1", "l1", "l2"}, "r/x:1"));
  CHECK(index.blob_count() == 3);
  index.PutImage(Walk("img", "m2", {"l2", "l3"}, "r/x:1"));
  CHECK(index.FindBlob(D("m1")) == nullptr);
  CHECK(index.FindBlob(D("l1")) == nullptr);
  CHECK(index.FindBlob(D("l3")) != nullptr);
  CHECK(index.ResolveTag("r/x:1") == D("m2"));
  CHECK(index.RemoveImage("img"));
  CHECK(index.blob_count() == 0);
}

TEST_CASE("index: a removed blob is dropped from every walk and refcounts stay exact") {
  Index index;
  index.PutImage(Walk("a", "ma", {"l"}));
  index.PutImage(Walk("b", "mb", {"l"}));
  CHECK(index.RemoveBlob(D("l")));
  CHECK(index.FindBlob(D("l")) == nullptr);
  CHECK(index.ImagesWaitingFor(D("l")).size() == 2);
  // The blob comes back (re-pulled) and one image is re-walked; removing the other image must
  // not drop it.
  index.PutImage(Walk("b", "mb", {"l"}));
  index.RemoveImage("a");
  CHECK(index.FindBlob(D("l")) != nullptr);
  CHECK_FALSE(index.RemoveBlob(D("unknown")));
}

TEST_CASE("index: tags shared by two image names survive removal of one") {
  Index index;
  index.PutImage(Walk("r/x:1", "m", {}, "r/x:1"));
  index.PutImage(Walk("r/x:1@sha256:abc", "m", {}, "r/x:1"));
  index.RemoveImage("r/x:1");
  CHECK(index.ResolveTag("r/x:1") == D("m"));
}

TEST_CASE("index: tag keys by repository and tag across registries") {
  Index index;
  index.PutImage(Walk("docker.io/library/nginx:1", "m1", {}, "docker.io/library/nginx:1"));
  index.PutImage(Walk("ghcr.io/library/nginx:1", "m2", {}, "ghcr.io/library/nginx:1"));
  index.PutImage(Walk("ghcr.io/x/library/nginx:1", "m3", {}, "ghcr.io/x/library/nginx:1"));
  index.PutImage(Walk("docker.io/library/nginx:2", "m4", {}, "docker.io/library/nginx:2"));
  CHECK(index.TagsOfRepository("docker.io", "library/nginx") == std::vector<std::string>{"1", "2"});
  CHECK(index.TagsOfRepository("", "library/nginx") == std::vector<std::string>{"1", "2"});
  CHECK(index.TagsOfRepository("ghcr.io", "library/nginx") == std::vector<std::string>{"1"});
  CHECK(index.TagsOfRepository("ghcr.io", "x/library/nginx") == std::vector<std::string>{"1"});
  CHECK(index.TagsOfRepository("", "library").empty());
  auto keys = index.TagKeysForRepoTag("library/nginx", "1");
  CHECK(keys.size() == 2);
  CHECK(index.TagKeysForRepoTag("library/nginx", "3").empty());
}

TEST_CASE("index: reset replaces everything and JSON lists it sorted") {
  Index index;
  index.PutImage(Walk("old", "mo", {"lo"}));
  std::vector<ImageWalk> walks;
  walks.push_back(Walk("new", "mn", {"ln"}, "r/n:1"));
  index.Reset(std::move(walks));
  CHECK(index.image_count() == 1);
  CHECK(index.FindBlob(D("lo")) == nullptr);
  std::string json;
  index.AppendJson(&json);
  CHECK(json.find("\"name\":\"new\"") != std::string::npos);
  CHECK(json.find("\"ref\":\"r/n:1\"") != std::string::npos);
  CHECK(json.find(D("ln").str()) != std::string::npos);
  CHECK(json.find("\"kind\":\"manifest\"") != std::string::npos);
}

}  // namespace
}  // namespace spegel::index
