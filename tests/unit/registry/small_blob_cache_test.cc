#include "registry/small_blob_cache.h"

#include <doctest/doctest.h>

#include "oci/sha256.h"

namespace spegel::registry {
namespace {

oci::Digest D(const std::string& s) {
  return *oci::Digest::Parse("sha256:" + oci::Sha256::HashHex(s));
}
std::shared_ptr<const std::string> Bytes(size_t n) { return std::make_shared<std::string>(n, 'x'); }

TEST_CASE("small blob cache: bounded by bytes, least recently used goes first") {
  SmallBlobCache cache(100, 60);
  cache.Insert(D("a"), Bytes(40));
  cache.Insert(D("b"), Bytes(40));
  CHECK(cache.Find(D("a")) != nullptr);  // a is now the most recent
  cache.Insert(D("c"), Bytes(40));       // evicts b
  CHECK(cache.Find(D("b")) == nullptr);
  CHECK(cache.Find(D("a")) != nullptr);
  CHECK(cache.Find(D("c")) != nullptr);
  CHECK(cache.bytes() == 80);
  cache.Insert(D("big"), Bytes(61));  // above the per-entry bound: ignored
  CHECK(cache.Find(D("big")) == nullptr);
  cache.Insert(D("a"), Bytes(10));  // replacing keeps the byte count exact
  CHECK(cache.bytes() == 50);
  cache.Erase(D("c"));
  CHECK(cache.size() == 1);
  CHECK(cache.bytes() == 10);
}

}  // namespace
}  // namespace spegel::registry
