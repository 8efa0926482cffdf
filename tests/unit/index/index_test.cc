#include "index/index.h"

#include <doctest/doctest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "oci/sha256.h"

namespace spegel::index {
namespace {

oci::Digest D(const std::string& seed) {
  return *oci::Digest::Parse("sha256:" + oci::Sha256::HashHex(seed));
}

ImageWalk Walk(const std::string& name, const std::string& target, std::vector<std::string> blobs,
               std::optional<std::string> tag = std::nullopt) {
  ImageWalk w{name, D(target), std::move(tag), {}, {}};
  w.blobs.push_back(
      {D(target), BlobInfo{10, "application/vnd.oci.image.manifest.v1+json", BlobKind::kManifest}});
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

// Records every OnKeysChanged batch and keeps the set of keys the index's images list, folded
// from the deltas alone (per image), to compare with what the index holds.
class RecordingListener : public IndexListener {
 public:
  void OnKeysChanged(const std::vector<ImageKeyChange>& changes) override {
    ++batches;
    for (const auto& c : changes) {
      REQUIRE(c.image != nullptr);
      auto& keys = by_image[c.image->name];
      for (const auto& k : c.removed) CHECK(keys.erase(std::string(k)) == 1);
      for (const auto& k : c.added) CHECK(keys.insert(std::string(k)).second);
      if (keys.empty()) by_image.erase(c.image->name);
    }
  }
  // What the index itself says each image lists.
  static std::map<std::string, std::set<std::string>> Expected(const Index& index) {
    std::map<std::string, std::set<std::string>> out;
    index.ForEachImage([&](const ImageWalk& w) {
      for (const auto& k : KeysOf(w)) out[w.name].insert(std::string(k));
    });
    return out;
  }
  int batches = 0;
  std::map<std::string, std::set<std::string>> by_image;
};

TEST_CASE("index: every mutation reports the keys each image gained and lost") {
  Index index;
  RecordingListener listener;
  index.SetListener(&listener);
  index.PutImage(Walk("a", "ma", {"l1", "shared"}, "r/a:1"));
  CHECK(listener.batches == 1);
  CHECK(listener.by_image["a"] ==
        std::set<std::string>{"r/a:1", D("ma").str(), D("l1").str(), D("shared").str()});
  index.PutImage(Walk("b", "mb", {"shared"}));
  index.PutImage(Walk("a", "ma2", {"l2", "shared"}, "r/a:1"));  // a replaced: m, l1 -> ma2, l2
  CHECK(listener.by_image == RecordingListener::Expected(index));
  CHECK(index.RemoveBlob(D("shared")));
  CHECK(listener.by_image == RecordingListener::Expected(index));
  CHECK(listener.by_image["b"] == std::set<std::string>{D("mb").str()});
  CHECK(index.RemoveImage("a"));
  CHECK(listener.by_image == RecordingListener::Expected(index));
  CHECK(listener.by_image.count("a") == 0);
  CHECK(listener.batches == 5);
}

TEST_CASE("index: a mutation that changes no keys reports nothing") {
  Index index;
  RecordingListener listener;
  index.SetListener(&listener);
  index.PutImage(Walk("a", "ma", {"l1"}, "r/a:1"));
  index.PutImage(Walk("a", "ma", {"l1"}, "r/a:1"));  // the same walk again (an update event)
  CHECK_FALSE(index.RemoveImage("nope"));
  CHECK_FALSE(index.RemoveBlob(D("unknown")));
  CHECK(listener.batches == 1);
}

TEST_CASE("index: a full sync reports one batch of per-image differences") {
  Index index;
  RecordingListener listener;
  index.SetListener(&listener);
  index.Reset({Walk("a", "ma", {"l1"}, "r/a:1"), Walk("b", "mb", {"l2"}, "r/b:1")});
  CHECK(listener.batches == 1);
  CHECK(listener.by_image == RecordingListener::Expected(index));
  // The same content again: nothing changed, nothing reported.
  index.Reset({Walk("b", "mb", {"l2"}, "r/b:1"), Walk("a", "ma", {"l1"}, "r/a:1")});
  CHECK(listener.batches == 1);
  // b changes, a goes, c comes; c is listed twice and the last walk wins.
  index.Reset({Walk("b", "mb", {"l3"}, "r/b:1"), Walk("c", "mc", {"x"}), Walk("c", "mc", {"l4"})});
  CHECK(listener.batches == 2);
  CHECK(listener.by_image == RecordingListener::Expected(index));
  CHECK(listener.by_image.count("a") == 0);
  CHECK(listener.by_image["c"] == std::set<std::string>{D("mc").str(), D("l4").str()});
  index.Reset({});
  CHECK(listener.by_image.empty());
}

}  // namespace
}  // namespace spegel::index
