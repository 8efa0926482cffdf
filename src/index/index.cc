#include "index/index.h"

#include <algorithm>

#include "base/json_escape.h"

namespace spegel::index {

std::string_view BlobKindName(BlobKind kind) {
  switch (kind) {
    case BlobKind::kIndex: return "index";
    case BlobKind::kManifest: return "manifest";
    case BlobKind::kConfig: return "config";
    case BlobKind::kLayer: return "layer";
  }
  return "layer";
}

void Index::AddWalkRefs(const ImageWalk& walk) {
  for (const auto& [digest, info] : walk.blobs) {
    BlobEntry& entry = blobs_[digest];
    // The newest walk's view wins for metadata; sizes of one digest cannot differ.
    entry.info = info;
    ++entry.refs;
  }
  if (walk.tag_key) tags_[*walk.tag_key] = walk.name;
}

void Index::DropWalkRefs(const ImageWalk& walk) {
  for (const auto& [digest, info] : walk.blobs) {
    auto it = blobs_.find(digest);
    if (it == blobs_.end()) continue;
    if (--it->second.refs <= 0) blobs_.erase(it);
  }
  if (walk.tag_key) {
    auto it = tags_.find(*walk.tag_key);
    if (it != tags_.end() && it->second == walk.name) tags_.erase(it);
  }
}

void Index::Reset(std::vector<ImageWalk> walks) {
  ++generation_;
  images_.clear();
  blobs_.clear();
  tags_.clear();
  for (auto& walk : walks) PutImage(std::move(walk));
}

void Index::PutImage(ImageWalk walk) {
  ++generation_;
  auto it = images_.find(walk.name);
  if (it != images_.end()) {
    DropWalkRefs(it->second);
    images_.erase(it);
  }
  // Keep the invariant "each walk lists a digest once" whatever the caller passed.
  std::vector<std::pair<oci::Digest, BlobInfo>> unique;
  unique.reserve(walk.blobs.size());
  for (auto& entry : walk.blobs) {
    const bool seen = std::any_of(unique.begin(), unique.end(),
                                  [&](const auto& u) { return u.first == entry.first; });
    if (!seen) unique.push_back(std::move(entry));
  }
  walk.blobs = std::move(unique);
  AddWalkRefs(walk);
  std::string name = walk.name;
  images_.emplace(std::move(name), std::move(walk));
}

bool Index::RemoveImage(const std::string& name) {
  ++generation_;
  auto it = images_.find(name);
  if (it == images_.end()) return false;
  DropWalkRefs(it->second);
  images_.erase(it);
  // Another image may carry the same tag key (e.g. "x:v1" and "x:v1@sha256:…").
  for (const auto& [other_name, walk] : images_) {
    if (walk.tag_key && tags_.find(*walk.tag_key) == tags_.end()) tags_[*walk.tag_key] = other_name;
  }
  return true;
}

bool Index::RemoveBlob(const oci::Digest& digest) {
  ++generation_;
  const bool known = blobs_.erase(digest) > 0;
  for (auto& [name, walk] : images_) {
    auto it = std::find_if(walk.blobs.begin(), walk.blobs.end(),
                           [&](const auto& b) { return b.first == digest; });
    if (it == walk.blobs.end()) continue;
    walk.blobs.erase(it);
    walk.absent.push_back(digest);
  }
  return known;
}

const BlobInfo* Index::FindBlob(const oci::Digest& digest) const {
  auto it = blobs_.find(digest);
  return it == blobs_.end() ? nullptr : &it->second.info;
}

std::optional<oci::Digest> Index::ResolveTag(std::string_view tag_key) const {
  auto it = tags_.find(tag_key);
  if (it == tags_.end()) return std::nullopt;
  auto image = images_.find(it->second);
  if (image == images_.end()) return std::nullopt;
  return image->second.target;
}

std::vector<std::string> Index::TagKeysForRepoTag(std::string_view repository,
                                                  std::string_view tag) const {
  std::string suffix = "/";
  suffix.append(repository);
  suffix.push_back(':');
  suffix.append(tag);
  std::vector<std::string> keys;
  for (const auto& [key, name] : tags_) {
    if (key.size() > suffix.size() &&
        key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0 &&
        key.find('/') == key.size() - suffix.size()) {
      keys.push_back(key);
    }
  }
  return keys;
}

std::vector<std::string> Index::TagsOfRepository(std::string_view registry,
                                                 std::string_view repository) const {
  std::vector<std::string> tags;
  for (const auto& [key, name] : tags_) {
    // key = "<registry>/<repository>:<tag>"; registries contain no '/', tags no ':' or '/'.
    const size_t slash = key.find('/');
    const size_t colon = key.rfind(':');
    if (slash == std::string::npos || colon == std::string::npos || colon < slash) continue;
    if (!registry.empty() && std::string_view(key).substr(0, slash) != registry) continue;
    if (std::string_view(key).substr(slash + 1, colon - slash - 1) != repository) continue;
    tags.push_back(key.substr(colon + 1));
  }
  std::sort(tags.begin(), tags.end());
  tags.erase(std::unique(tags.begin(), tags.end()), tags.end());
  return tags;
}

std::vector<std::string> Index::ImagesWaitingFor(const oci::Digest& digest) const {
  std::vector<std::string> names;
  for (const auto& [name, walk] : images_) {
    if (std::find(walk.absent.begin(), walk.absent.end(), digest) != walk.absent.end()) {
      names.push_back(name);
    }
  }
  return names;
}

std::vector<std::string> Index::ImagesReferencing(const oci::Digest& digest) const {
  std::vector<std::string> names;
  for (const auto& [name, walk] : images_) {
    for (const auto& b : walk.blobs) {
      if (b.first == digest) {
        names.push_back(name);
        break;
      }
    }
  }
  return names;
}

void Index::AppendJson(std::string* out) const {
  out->append("\"images\":[");
  bool first = true;
  for (const auto& [name, walk] : images_) {
    if (!first) out->push_back(',');
    first = false;
    out->append("{\"name\":");
    AppendJsonString(out, name);
    out->append(",\"target\":");
    AppendJsonString(out, walk.target.str());
    out->append(",\"blobs\":");
    out->append(std::to_string(walk.blobs.size()));
    out->append(",\"absent\":");
    out->append(std::to_string(walk.absent.size()));
    out->push_back('}');
  }
  out->append("],\"blobs\":[");
  std::vector<const std::pair<const oci::Digest, BlobEntry>*> sorted;
  sorted.reserve(blobs_.size());
  for (const auto& entry : blobs_) sorted.push_back(&entry);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->first < b->first; });
  first = true;
  for (const auto* entry : sorted) {
    if (!first) out->push_back(',');
    first = false;
    out->append("{\"digest\":");
    AppendJsonString(out, entry->first.str());
    out->append(",\"size\":");
    out->append(std::to_string(entry->second.info.size));
    out->append(",\"media_type\":");
    AppendJsonString(out, entry->second.info.media_type);
    out->append(",\"kind\":\"");
    out->append(BlobKindName(entry->second.info.kind));
    out->append("\",\"refs\":");
    out->append(std::to_string(entry->second.refs));
    out->push_back('}');
  }
  out->append("],\"tags\":[");
  first = true;
  for (const auto& [key, name] : tags_) {
    auto image = images_.find(name);
    if (image == images_.end()) continue;
    if (!first) out->push_back(',');
    first = false;
    out->append("{\"ref\":");
    AppendJsonString(out, key);
    out->append(",\"digest\":");
    AppendJsonString(out, image->second.target.str());
    out->append(",\"image\":");
    AppendJsonString(out, name);
    out->push_back('}');
  }
  out->push_back(']');
}

}  // namespace spegel::index
