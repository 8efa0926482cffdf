// Index: the in-memory view of what this node can serve.
//
//   digest           -> {size, media type, kind}       (every present blob reachable from an image)
//   registry/repo:tag -> digest                         (every image name that is a tagged
//   reference)
//
// The index is built from ImageWalks (one per containerd image record). A blob stays as long as
// at least one walk lists it: deleting an image drops only the keys no remaining image references.
//
// Every mutation reports, at its end, the keys each image gained and lost (its tag key and the
// digests of its present blobs) to one IndexListener: the announcer follows the index through
// these deltas and never recomputes the whole key set.
//
// Threading: not thread-safe; owned by the loop thread. Pure data: no I/O, so it is unit-tested
// directly. Invariant: for every digest d, blobs_[d].refs == number of walks whose `blobs`
// contain d (each walk lists a digest at most once).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "oci/digest.h"

namespace spegel::index {

enum class BlobKind { kIndex, kManifest, kConfig, kLayer };
std::string_view BlobKindName(BlobKind kind);

struct BlobInfo {
  int64_t size = 0;
  std::string media_type;
  BlobKind kind = BlobKind::kLayer;
};

// What walking one image record found.
struct ImageWalk {
  std::string name;                    // containerd image name
  oci::Digest target;                  // the image's target (index or manifest)
  std::optional<std::string> tag_key;  // "registry/repository:tag" when the name has a tag
  // Present blobs reachable from the target, each digest once, root first.
  std::vector<std::pair<oci::Digest, BlobInfo>> blobs;
  // Children named by a present manifest/index but absent from the store (other platforms,
  // deleted layers). Watched so that their later arrival triggers a re-walk.
  std::vector<oci::Digest> absent;
};

// One image's part in a change of the index.
struct ImageKeyChange {
  // The image after the change; for a removed image, as it was. Valid during the callback only.
  const ImageWalk* image = nullptr;
  // Keys the image lists now and did not before, and keys it listed before and does not now.
  // They view strings of the walks (or the removed digest); valid during the callback only.
  std::vector<std::string_view> added;
  std::vector<std::string_view> removed;
};

class IndexListener {
 public:
  virtual ~IndexListener() = default;
  // Runs synchronously at the end of each mutation that changed the keys of at least one image,
  // on the thread that mutated the index, with one entry per such image. Must not mutate the
  // Index.
  virtual void OnKeysChanged(const std::vector<ImageKeyChange>& changes) = 0;
};

// The keys an image contributes: its tag key (if it has one), then its present blobs' digests.
// The views are valid while `walk` is unchanged.
std::vector<std::string_view> KeysOf(const ImageWalk& walk);

class Index {
 public:
  // At most one listener (nullptr: none); it must outlive the Index or be unset first. Set it
  // before the first mutation: changes before it are not replayed.
  void SetListener(IndexListener* listener) { listener_ = listener; }

  // Replaces the whole content with `walks` (a full sync).
  void Reset(std::vector<ImageWalk> walks);
  // Adds or replaces the walk of `walk.name`.
  void PutImage(ImageWalk walk);
  // Removes the image record; its blobs and tag go unless another image references them.
  // Returns false if no such image was indexed.
  bool RemoveImage(const std::string& name);
  // The blob is gone from the content store (a delete event, or found missing when serving):
  // drops it everywhere until a later walk finds it present again. Returns false if unknown.
  bool RemoveBlob(const oci::Digest& digest);

  // nullptr when not indexed. The pointer is valid until the next mutation.
  const BlobInfo* FindBlob(const oci::Digest& digest) const;
  std::optional<oci::Digest> ResolveTag(std::string_view tag_key) const;
  // Every indexed "registry/repository:tag" key whose "repository:tag" part equals `repo_tag`,
  // for requests that name no registry.
  std::vector<std::string> TagKeysForRepoTag(std::string_view repository,
                                             std::string_view tag) const;
  // Sorted, unique tags of `repository` in `registry`; with an empty `registry`, the union over
  // every registry that has the repository.
  std::vector<std::string> TagsOfRepository(std::string_view registry,
                                            std::string_view repository) const;
  // Images whose walk lists `digest` as absent.
  std::vector<std::string> ImagesWaitingFor(const oci::Digest& digest) const;
  // Names of images whose walk lists `digest` as present.
  std::vector<std::string> ImagesReferencing(const oci::Digest& digest) const;

  // Calls `fn` for every indexed image walk, in name order (for metrics that group by registry).
  // `fn` must not mutate the Index.
  template <typename Fn>
  void ForEachImage(Fn&& fn) const {
    for (const auto& [name, walk] : images_) fn(walk);
  }

  // Changes on every mutation.
  uint64_t generation() const { return generation_; }
  size_t image_count() const { return images_.size(); }
  size_t blob_count() const { return blobs_.size(); }
  // Sum of the sizes of every blob in the index (O(blobs)).
  uint64_t blob_bytes() const;
  size_t tag_count() const { return tags_.size(); }

  // Appends JSON arrays for /debug/index: "images":[…],"blobs":[…],"tags":[…] (no braces),
  // sorted by name / digest / key.
  void AppendJson(std::string* out) const;

 private:
  struct BlobEntry {
    BlobInfo info;
    int refs = 0;
  };
  void AddWalkRefs(const ImageWalk& walk);
  void DropWalkRefs(const ImageWalk& walk);
  // Stores `walk` (replacing the walk of its name) and returns the stored copy.
  const ImageWalk& Store(ImageWalk walk);
  // Appends to `changes` what turning `before` into `after` (either may be null) did to the keys.
  static void Diff(const ImageWalk* before, const ImageWalk* after,
                   std::vector<ImageKeyChange>* changes);
  void Notify(const std::vector<ImageKeyChange>& changes);

  std::map<std::string, ImageWalk> images_;               // by image name
  std::unordered_map<oci::Digest, BlobEntry> blobs_;      // by digest
  std::map<std::string, std::string, std::less<>> tags_;  // tag key -> image name owning it
  uint64_t generation_ = 0;
  IndexListener* listener_ = nullptr;
};

}  // namespace spegel::index
