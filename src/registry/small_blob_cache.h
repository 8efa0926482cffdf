// SmallBlobCache: the bytes of recently served small blobs (manifests, indexes, configs), by
// digest. Content is immutable per digest, so an entry never goes stale; a hit saves the
// open/fstat/sendfile/close of the content-store file and lets head and body leave in one send.
// Whether a digest may be served at all is still the index's decision: callers consult the
// cache only for digests the index holds.
//
// Bounded by total bytes (least recently used entries go first). Loop thread only.
#pragma once

#include <cstddef>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>

#include "oci/digest.h"

namespace spegel::registry {

class SmallBlobCache {
 public:
  // Blobs larger than max_entry_bytes are never cached.
  SmallBlobCache(size_t capacity_bytes, size_t max_entry_bytes)
      : capacity_bytes_(capacity_bytes), max_entry_bytes_(max_entry_bytes) {}

  // nullptr on a miss. The pointer stays valid while the caller holds it.
  std::shared_ptr<const std::string> Find(const oci::Digest& digest);
  void Insert(const oci::Digest& digest, std::shared_ptr<const std::string> bytes);
  void Erase(const oci::Digest& digest);

  size_t max_entry_bytes() const { return max_entry_bytes_; }
  size_t bytes() const { return bytes_; }
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::shared_ptr<const std::string> bytes;
    std::list<oci::Digest>::iterator lru;
  };
  const size_t capacity_bytes_;
  const size_t max_entry_bytes_;
  size_t bytes_ = 0;
  std::list<oci::Digest> lru_;  // most recently used first
  std::unordered_map<oci::Digest, Entry> entries_;
};

}  // namespace spegel::registry
