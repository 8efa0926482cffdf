// Walker: turns containerd's image records into ImageWalks (what each image makes servable).
//
// A walk starts at the image's target and follows index -> manifests -> config + layers, reading
// and parsing every manifest/index it reaches. A child that is absent from the content store
// (another platform, a deleted layer) is recorded as absent and not followed. Content that does
// not parse (garbage JSON, wrong schema) is logged with its digest and skipped; it never fails
// the walk of other images or the sync.
//
// Threading: blocking (gRPC and file reads). Use one Walker from one worker thread at a time;
// never from the loop thread. Manifests are immutable by digest, so parsed children are cached
// across walks; the cache is pruned to the present content at every full sync.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "containerd/client.h"
#include "containerd/content_store.h"
#include "index/index.h"
#include "oci/digest.h"

namespace spegel::index {

struct SyncResult {
  std::vector<ImageWalk> walks;
  size_t images_listed = 0;
  size_t images_skipped = 0;
  size_t content_listed = 0;
};

class Walker {
 public:
  // Manifests and indexes larger than this are not read (they cannot be real manifests).
  static constexpr int64_t kMaxManifestBytes = 4 << 20;

  // Manifests and indexes are read from `directory` when it has their files, else through
  // `client`'s Content.Read (containerd::ReadWholeBlob).
  explicit Walker(containerd::ContainerdClient* client,
                  containerd::ContentDirectory directory = {});
  // The directory later reads use (a full sync discovers it again).
  void set_content_directory(containerd::ContentDirectory directory) {
    directory_ = std::move(directory);
  }

  // Lists every image and every blob, and walks each image against that snapshot.
  // Fails only when containerd cannot be listed; bad images are skipped and logged.
  Result<SyncResult> SyncAll();

  // Walks one image by name against the live store. NotFound when the image record is gone;
  // InvalidArgument when the name is not an indexable reference.
  Result<ImageWalk> WalkImageByName(const std::string& name);

 private:
  struct Parsed {
    bool ok = false;  // false: not a parsable manifest/index (logged once)
    BlobKind kind = BlobKind::kManifest;
    std::string media_type;
    // Children with their kinds (manifests of an index; config + layers of a manifest).
    std::vector<std::pair<containerd::Descriptor, BlobKind>> children;
  };
  // Presence lookup: size of the blob if present.
  using Presence = std::function<std::optional<int64_t>(const oci::Digest&)>;

  // Classifies an image name. Returns the tag key (may be empty) or an error for names that
  // are not indexable.
  static Result<std::string> TagKeyForName(const std::string& name);
  Result<ImageWalk> Walk(const containerd::ImageRecord& record, const Presence& present);
  const Parsed& ParseBlob(const oci::Digest& digest, const std::string& media_type);

  containerd::ContainerdClient* client_;
  containerd::ContentDirectory directory_;
  std::unordered_map<oci::Digest, Parsed> parsed_cache_;
};

// Logs why an image record is not indexed: DEBUG for CRI's "sha256:<id>" records and images
// whose content is gone, WARN for names that are not references and broken targets.
void LogSkippedImage(const std::string& name, const Status& status);

}  // namespace spegel::index
