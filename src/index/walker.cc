#include "index/walker.h"

#include <deque>
#include <optional>
#include <unordered_set>

#include "base/log.h"
#include "oci/manifest.h"
#include "oci/media_types.h"
#include "oci/reference.h"

namespace spegel::index {

Walker::Walker(containerd::ContainerdClient* client, containerd::ContentDirectory directory)
    : client_(client), directory_(std::move(directory)) {}

Result<std::string> Walker::TagKeyForName(const std::string& name) {
  auto ref = oci::ParseImageName(name);
  if (!ref.ok()) return ref.status();
  if (ref->tag.empty()) return std::string();
  return ref->TagKey();
}

const Walker::Parsed& Walker::ParseBlob(const oci::Digest& digest, const std::string& media_type) {
  auto cached = parsed_cache_.find(digest);
  if (cached != parsed_cache_.end()) return cached->second;

  static const Parsed kTransientFailure{};
  Parsed parsed;
  auto data = containerd::ReadWholeBlob(client_, directory_, digest, kMaxManifestBytes);
  if (!data.ok()) {
    LOG_WARN("cannot read manifest")
        .Str("digest", digest.str())
        .Str("error", data.status().ToString());
    if (data.status().code() != Code::kResourceExhausted) return kTransientFailure;
  } else {
    auto manifest = oci::ParseManifest(*data, media_type);
    if (!manifest.ok()) {
      LOG_WARN("skipping content that is not a valid manifest")
          .Str("digest", digest.str())
          .Str("media_type", media_type)
          .Str("error", manifest.status().ToString());
    } else {
      parsed.ok = true;
      parsed.media_type = manifest->media_type;
      if (manifest->kind == oci::ManifestKind::kIndex) {
        parsed.kind = BlobKind::kIndex;
        for (const auto& m : manifest->manifests) {
          parsed.children.push_back(
              {containerd::Descriptor{m.media_type, m.digest.str(), m.size}, BlobKind::kManifest});
        }
      } else {
        parsed.kind = BlobKind::kManifest;
        if (manifest->config) {
          const auto& c = *manifest->config;
          parsed.children.push_back(
              {containerd::Descriptor{c.media_type, c.digest.str(), c.size}, BlobKind::kConfig});
        }
        for (const auto& l : manifest->layers) {
          parsed.children.push_back(
              {containerd::Descriptor{l.media_type, l.digest.str(), l.size}, BlobKind::kLayer});
        }
      }
    }
  }
  return parsed_cache_.emplace(digest, std::move(parsed)).first->second;
}

Result<ImageWalk> Walker::Walk(const containerd::ImageRecord& record, const Presence& present) {
  auto tag_key = TagKeyForName(record.name);
  if (!tag_key.ok()) return tag_key.status();
  auto target = oci::Digest::Parse(record.target.digest);
  if (!target.ok()) {
    return Status::InvalidArgument("image " + record.name +
                                   " has an invalid target digest: " + target.status().message());
  }

  ImageWalk walk{record.name, *target, std::nullopt, {}, {}};
  if (!tag_key->empty()) walk.tag_key = *tag_key;

  struct Node {
    containerd::Descriptor desc;
    oci::Digest digest;
    BlobKind kind;
    int depth;
  };
  // Nested indexes are legal but shallow in practice; the bound stops hostile cycles.
  constexpr int kMaxDepth = 8;
  std::deque<Node> queue;
  queue.push_back({record.target, *target, BlobKind::kManifest, 0});
  std::unordered_set<oci::Digest> seen;
  while (!queue.empty()) {
    Node node = std::move(queue.front());
    queue.pop_front();
    if (!seen.insert(node.digest).second) continue;
    const std::optional<int64_t> size = present(node.digest);
    if (!size) {
      walk.absent.push_back(node.digest);
      continue;
    }
    if (node.kind == BlobKind::kConfig || node.kind == BlobKind::kLayer) {
      walk.blobs.push_back({node.digest, BlobInfo{*size, node.desc.media_type, node.kind}});
      continue;
    }
    const Parsed& parsed = ParseBlob(node.digest, node.desc.media_type);
    if (!parsed.ok) {
      if (node.depth == 0) {
        return Status::InvalidArgument("image " + record.name + ": target " + target->str() +
                                       " is not a readable, valid manifest or index");
      }
      continue;
    }
    walk.blobs.push_back({node.digest, BlobInfo{*size, parsed.media_type, parsed.kind}});
    if (node.depth >= kMaxDepth) continue;
    for (const auto& [child, kind] : parsed.children) {
      auto child_digest = oci::Digest::Parse(child.digest);
      if (!child_digest.ok()) continue;  // ParseManifest already validated; defensive.
      queue.push_back({child, *child_digest, kind, node.depth + 1});
    }
  }
  if (walk.blobs.empty()) {
    return Status::NotFound("image " + record.name + ": target " + target->str() +
                            " is not in the content store");
  }
  return walk;
}

Result<SyncResult> Walker::SyncAll() {
  auto content = client_->ListContent();
  if (!content.ok()) return content.status();
  auto images = client_->ListImages();
  if (!images.ok()) return images.status();

  std::unordered_map<oci::Digest, int64_t> sizes;
  sizes.reserve(content->size());
  for (const auto& info : *content) {
    auto digest = oci::Digest::Parse(info.digest);
    if (digest.ok()) sizes.emplace(std::move(*digest), info.size);
  }
  // Drop cached parses of content that is gone, so the cache never outgrows the store.
  for (auto it = parsed_cache_.begin(); it != parsed_cache_.end();) {
    it = sizes.count(it->first) ? std::next(it) : parsed_cache_.erase(it);
  }

  const Presence present = [&sizes](const oci::Digest& d) -> std::optional<int64_t> {
    auto it = sizes.find(d);
    if (it == sizes.end()) return std::nullopt;
    return it->second;
  };
  SyncResult result;
  result.images_listed = images->size();
  result.content_listed = content->size();
  for (const auto& record : *images) {
    auto walk = Walk(record, present);
    if (walk.ok()) {
      result.walks.push_back(std::move(*walk));
      continue;
    }
    ++result.images_skipped;
    LogSkippedImage(record.name, walk.status());
  }
  return result;
}

Result<ImageWalk> Walker::WalkImageByName(const std::string& name) {
  auto record = client_->GetImage(name);
  if (!record.ok()) return record.status();
  const Presence present = [this](const oci::Digest& d) -> std::optional<int64_t> {
    auto info = client_->Info(d.str());
    if (!info.ok()) return std::nullopt;
    return info->size;
  };
  return Walk(*record, present);
}

void LogSkippedImage(const std::string& name, const Status& status) {
  // CRI keeps a "sha256:<image id>" record next to every named image; it adds nothing.
  const bool image_id_record = name.rfind("sha256:", 0) == 0;
  if (image_id_record || status.IsNotFound()) {
    LOG_DEBUG("image not indexed").Str("image", name).Str("reason", status.ToString());
  } else {
    LOG_WARN("skipping image").Str("image", name).Str("reason", status.ToString());
  }
}

}  // namespace spegel::index
