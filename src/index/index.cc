#include "index/index.h"

#include <algorithm>
#include <iterator>

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

std::vector<std::string_view> KeysOf(const ImageWalk& walk) {
  std::vector<std::string_view> keys;
  keys.reserve(walk.blobs.size() + 1);
  if (walk.tag_key) keys.push_back(*walk.tag_key);
  for (const auto& [digest, info] : walk.blobs) keys.push_back(digest.str());
  return keys;
}

void Index::Diff(const ImageWalk* before, const ImageWalk* after,
                 std::vector<ImageKeyChange>* changes) {
  std::vector<std::string_view> old_keys = before ? KeysOf(*before)
                                                  : std::vector<std::string_view>();
  std::vector<std::string_view> new_keys = after ? KeysOf(*after) : std::vector<std::string_view>();
  std::sort(old_keys.begin(), old_keys.end());
  std::sort(new_keys.begin(), new_keys.end());
  ImageKeyChange change;
  change.image = after ? after : before;
  std::set_difference(new_keys.begin(), new_keys.end(), old_keys.begin(), old_keys.end(),
                      std::back_inserter(change.added));
  std::set_difference(old_keys.begin(), old_keys.end(), new_keys.begin(), new_keys.end(),
                      std::back_inserter(change.removed));
  if (!change.added.empty() || !change.removed.empty()) changes->push_back(std::move(change));
}

void Index::Notify(const std::vector<ImageKeyChange>& changes) {
  if (listener_ != nullptr && !changes.empty()) listener_->OnKeysChanged(changes);
}

const ImageWalk& Index::Store(ImageWalk walk) {
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
  return images_.emplace(std::move(name), std::move(walk)).first->second;
}

void Index::Reset(std::vector<ImageWalk> walks) {
  ++generation_;
  // The old walks stay alive until the listener has seen what changed.
  std::map<std::string, ImageWalk> old = std::move(images_);
  images_.clear();
  blobs_.clear();
  tags_.clear();
  // A name listed twice: the last walk wins, as if each were put in turn.
  std::vector<bool> superseded(walks.size(), false);
  {
    std::unordered_map<std::string_view, size_t> last;
    for (size_t i = 0; i < walks.size(); ++i) {
      auto [it, inserted] = last.emplace(walks[i].name, i);
      if (!inserted) {
        superseded[it->second] = true;
        it->second = i;
      }
    }
  }
  std::vector<ImageKeyChange> changes;
  for (size_t i = 0; i < walks.size(); ++i) {
    if (superseded[i]) continue;
    const std::string name = walks[i].name;
    const ImageWalk& stored = Store(std::move(walks[i]));
    auto before = old.find(name);
    Diff(before != old.end() ? &before->second : nullptr, &stored, &changes);
  }
  for (const auto& [name, walk] : old) {
    if (images_.find(name) == images_.end()) Diff(&walk, nullptr, &changes);
  }
  Notify(changes);
}

void Index::PutImage(ImageWalk walk) {
  ++generation_;
  std::optional<ImageWalk> before;
  if (listener_ != nullptr) {
    auto it = images_.find(walk.name);
    if (it != images_.end()) before = it->second;
  }
  const ImageWalk& stored = Store(std::move(walk));
  if (listener_ == nullptr) return;
  std::vector<ImageKeyChange> changes;
  Diff(before ? &*before : nullptr, &stored, &changes);
  Notify(changes);
}

bool Index::RemoveImage(const std::string& name) {
  ++generation_;
  auto it = images_.find(name);
  if (it == images_.end()) return false;
  DropWalkRefs(it->second);
  const ImageWalk removed = std::move(it->second);
  images_.erase(it);
  // Another image may carry the same tag key (e.g. "x:v1" and "x:v1@sha256:…").
  for (const auto& [other_name, walk] : images_) {
    if (walk.tag_key && tags_.find(*walk.tag_key) == tags_.end()) tags_[*walk.tag_key] = other_name;
  }
  std::vector<ImageKeyChange> changes;
  Diff(&removed, nullptr, &changes);
  Notify(changes);
  return true;
}

bool Index::RemoveBlob(const oci::Digest& digest) {
  ++generation_;
  const bool known = blobs_.erase(digest) > 0;
  std::vector<ImageKeyChange> changes;
  for (auto& [name, walk] : images_) {
    auto it = std::find_if(walk.blobs.begin(), walk.blobs.end(),
                           [&](const auto& b) { return b.first == digest; });
    if (it == walk.blobs.end()) continue;
    walk.blobs.erase(it);
    walk.absent.push_back(digest);
    changes.push_back(ImageKeyChange{&walk, {}, {digest.str()}});  // Views the argument.
  }
  Notify(changes);
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

uint64_t Index::blob_bytes() const {
  uint64_t total = 0;
  for (const auto& [digest, entry] : blobs_) total += static_cast<uint64_t>(entry.info.size);
  return total;
}

}  // namespace spegel::index
