#include "registry/small_blob_cache.h"

namespace spegel::registry {

std::shared_ptr<const std::string> SmallBlobCache::Find(const oci::Digest& digest) {
  auto it = entries_.find(digest);
  if (it == entries_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  return it->second.bytes;
}

void SmallBlobCache::Insert(const oci::Digest& digest, std::shared_ptr<const std::string> bytes) {
  if (bytes == nullptr || bytes->size() > max_entry_bytes_ || bytes->size() > capacity_bytes_) {
    return;
  }
  Erase(digest);
  while (bytes_ + bytes->size() > capacity_bytes_ && !lru_.empty()) Erase(lru_.back());
  lru_.push_front(digest);
  bytes_ += bytes->size();
  entries_.emplace(digest, Entry{std::move(bytes), lru_.begin()});
}

void SmallBlobCache::Erase(const oci::Digest& digest) {
  auto it = entries_.find(digest);
  if (it == entries_.end()) return;
  bytes_ -= it->second.bytes->size();
  lru_.erase(it->second.lru);
  entries_.erase(it);
}

}  // namespace spegel::registry
