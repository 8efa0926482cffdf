#include "cluster/announcer.h"

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include "oci/sha256.h"

namespace spegel::cluster {
namespace {

oci::Digest D(const std::string& seed) {
  return *oci::Digest::Parse("sha256:" + oci::Sha256::HashHex(seed));
}

index::ImageWalk Walk(const std::string& name, std::vector<std::string> blobs,
                      std::optional<std::string> tag = std::nullopt) {
  // The image's own manifest (named after the image) is its first blob, as a walk lists it.
  index::ImageWalk w{name, D(name), std::move(tag), {}, {}};
  w.blobs.push_back({D(name), index::BlobInfo{10, "m", index::BlobKind::kManifest}});
  for (const auto& b : blobs) {
    w.blobs.push_back({D(b), index::BlobInfo{5, "x", index::BlobKind::kLayer}});
  }
  return w;
}

// An index wired to an announcer whose sink folds every call into `announced`.
struct Env {
  explicit Env(Announcer::Policy policy)
      : announcer(std::move(policy), [this](const std::vector<std::string>& add,
                                            const std::vector<std::string>& remove) {
          ++calls;
          for (const auto& k : remove) CHECK(announced.erase(k) == 1);
          for (const auto& k : add) CHECK(announced.insert(k).second);
        }) {
    index.SetListener(&announcer);
  }
  ~Env() { index.SetListener(nullptr); }

  // What a full recomputation over the allowed images would announce.
  std::set<std::string> Recomputed(const Announcer::Policy& policy) const {
    std::set<std::string> keys;
    index.ForEachImage([&](const index::ImageWalk& w) {
      if (!policy(w)) return;
      for (const auto& k : index::KeysOf(w)) keys.insert(std::string(k));
    });
    return keys;
  }

  index::Index index;
  std::set<std::string> announced;
  int calls = 0;
  Announcer announcer;
};

bool AllowAll(const index::ImageWalk&) { return true; }
bool NotPrivate(const index::ImageWalk& w) { return w.name.rfind("private/", 0) != 0; }

TEST_CASE("announcer: announces the keys of every image and withdraws what no image lists") {
  Env env(AllowAll);
  env.index.PutImage(Walk("a", {"l1", "shared"}, "r/a:1"));
  env.index.PutImage(Walk("b", {"shared"}));
  CHECK(env.announced == env.Recomputed(AllowAll));
  CHECK(env.announced.count("r/a:1") == 1);
  CHECK(env.index.RemoveImage("a"));
  CHECK(env.announced == env.Recomputed(AllowAll));
  CHECK(env.announced.count(D("shared").str()) == 1);  // b still lists it
  CHECK(env.announced.count(D("l1").str()) == 0);
  CHECK(env.index.RemoveBlob(D("shared")));
  CHECK(env.announced == std::set<std::string>{D("b").str()});
  CHECK(env.announcer.key_count() == 1);
}

TEST_CASE(
    "announcer: the policy filters images, not keys: a layer shared with an allowed image "
    "stays announced") {
  Env env(NotPrivate);
  env.index.PutImage(Walk("private/x", {"secret", "base"}, "r/private/x:1"));
  CHECK(env.announced.empty());
  CHECK(env.calls == 0);
  env.index.PutImage(Walk("public/y", {"base"}, "r/public/y:1"));
  CHECK(env.announced == env.Recomputed(NotPrivate));
  CHECK(env.announced.count(D("base").str()) == 1);
  CHECK(env.announced.count(D("secret").str()) == 0);
  env.index.RemoveImage("private/x");
  CHECK(env.announced.count(D("base").str()) == 1);
  env.index.RemoveImage("public/y");
  CHECK(env.announced.empty());
}

TEST_CASE("announcer: a key that moves between images in one sync is neither added nor removed") {
  Env env(AllowAll);
  env.index.Reset({Walk("a", {"moving"}), Walk("b", {"other"})});
  const int calls = env.calls;
  const std::set<std::string> before = env.announced;
  // "moving" leaves a and joins c in the same full sync; a's own digest goes, c's comes.
  env.index.Reset({Walk("b", {"other"}), Walk("c", {"moving"})});
  CHECK(env.calls == calls + 1);
  CHECK(env.announced == env.Recomputed(AllowAll));
  CHECK(env.announced.count(D("moving").str()) == 1);
  // A sync with nothing new calls nobody.
  env.index.Reset({Walk("b", {"other"}), Walk("c", {"moving"})});
  CHECK(env.calls == calls + 1);
  CHECK(before.count(D("a").str()) == 1);
}

TEST_CASE("announcer: many images, random churn, always equal to a full recomputation") {
  Env env(NotPrivate);
  uint32_t state = 12345;
  auto next = [&state] {
    state = state * 1103515245u + 12345u;
    return (state >> 8) % 1000;
  };
  for (int step = 0; step < 2000; ++step) {
    const std::string name = (next() % 4 == 0 ? "private/" : "public/") +
                             std::to_string(next() % 50);
    const uint32_t op = next() % 10;
    if (op < 6) {
      std::vector<std::string> blobs;
      for (uint32_t i = 0, n = next() % 6; i < n; ++i) {
        blobs.push_back("l" + std::to_string(next() % 40));
      }
      std::optional<std::string> tag;
      if (next() % 2) tag = "r/" + name + ":1";
      env.index.PutImage(Walk(name, blobs, tag));
    } else if (op < 9) {
      env.index.RemoveImage(name);
    } else {
      env.index.RemoveBlob(D("l" + std::to_string(next() % 40)));
    }
    if (step % 100 == 0) REQUIRE(env.announced == env.Recomputed(NotPrivate));
  }
  CHECK(env.announced == env.Recomputed(NotPrivate));
  CHECK(env.announcer.key_count() == env.announced.size());
}

}  // namespace
}  // namespace spegel::cluster
