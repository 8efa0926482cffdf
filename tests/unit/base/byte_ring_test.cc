#include "base/byte_ring.h"

#include <doctest/doctest.h>

#include <cstring>
#include <string>

namespace spegel {
namespace {

// Drains the ring, oldest first.
std::string Drain(ByteRing& ring) {
  std::string out;
  while (!ring.empty()) {
    const std::string_view part = ring.Readable();
    out.append(part);
    ring.Consume(part.size());
  }
  return out;
}

TEST_CASE("byte ring: capacity is whole pages, and nothing is mapped before the first write") {
  ByteRing ring(100);
  CHECK(ring.capacity() == 4096);
  CHECK(ring.bytes_mapped() == 0);
  CHECK(ring.empty());
  CHECK(ring.Readable().empty());
  CHECK(ring.Append("abc"));
  CHECK(ring.bytes_mapped() == 4096);
  CHECK(Drain(ring) == "abc");
  ring.Release();
  CHECK(ring.bytes_mapped() == 0);
}

TEST_CASE("byte ring: in-place writes through WritableRegion and Commit") {
  ByteRing ring(4096);
  std::span<char> region = ring.WritableRegion(10);
  REQUIRE(region.size() == 10);
  std::memcpy(region.data(), "0123456789", 10);
  CHECK(ring.IsAtWritePosition({region.data(), 10}));
  CHECK_FALSE(ring.IsAtWritePosition({region.data(), 4097}));
  ring.Commit(4);
  CHECK(ring.size() == 4);
  CHECK(ring.IsAtWritePosition({region.data() + 4, 1}));
  CHECK_FALSE(ring.IsAtWritePosition({region.data(), 1}));
  CHECK(ring.Readable() == "0123");
}

TEST_CASE("byte ring: bytes parsed in place past the write position are moved, not lost") {
  ByteRing ring(4096);
  std::span<char> region = ring.WritableRegion(4096);
  std::memcpy(region.data(), "HEADbody", 8);
  // Only "body" belongs in the ring: it starts 4 bytes after the write position.
  CHECK(ring.Append(std::string_view(region.data() + 4, 4)));
  CHECK(ring.Readable() == "body");
}

TEST_CASE("byte ring: wraps around with the right order and contiguous views") {
  ByteRing ring(4096);
  const std::string first(3000, 'a');
  REQUIRE(ring.Append(first));
  ring.Consume(2000);  // 1000 'a' left at offsets 2000..2999.
  const std::string second = std::string(1096, 'b') + std::string(1000, 'c');
  REQUIRE(ring.Append(second));  // Fills to the end, then wraps.
  CHECK(ring.size() == 3096);
  CHECK(ring.free() == 1000);
  // The free space is now contiguous between the wrapped tail and the head.
  CHECK(ring.WritableRegion(1 << 20).size() == 1000);
  CHECK(ring.Readable().size() == 2096);  // Up to the end of the buffer.
  // Views from an offset: before the wrap, at it, after it, and past the end.
  CHECK(ring.ReadableAt(1000) == std::string(1096, 'b'));
  CHECK(ring.ReadableAt(2095) == "b");
  CHECK(ring.ReadableAt(2096) == std::string(1000, 'c'));
  CHECK(ring.ReadableAt(3000) == std::string(96, 'c'));
  CHECK(ring.ReadableAt(3096).empty());
  CHECK_FALSE(ring.Append(std::string(1001, 'x')));
  CHECK(ring.size() == 3096);
  CHECK(Drain(ring) == std::string(1000, 'a') + second);
  // Empty again: the next region starts at offset 0 and spans the whole buffer.
  CHECK(ring.WritableRegion(1 << 20).size() == 4096);
}

TEST_CASE("byte ring: full ring offers no region") {
  ByteRing ring(4096);
  REQUIRE(ring.Append(std::string(4096, 'z')));
  CHECK(ring.WritableRegion(100).empty());
  CHECK_FALSE(ring.IsAtWritePosition({ring.Readable().data(), 1}));
  ring.Consume(100);
  CHECK(ring.WritableRegion(1000).size() == 100);
}

TEST_CASE("byte ring: Reserve grows a wrapped ring and keeps the order") {
  ByteRing ring(4096);
  REQUIRE(ring.Append(std::string(3000, 'a')));
  ring.Consume(2000);
  REQUIRE(ring.Append(std::string(2000, 'b')));  // Wraps.
  REQUIRE(ring.Reserve(3 * 4096));
  CHECK(ring.capacity() == 3 * 4096);
  CHECK(ring.size() == 3000);
  CHECK(ring.Readable().size() == 3000);  // Contiguous again, from offset 0.
  REQUIRE(ring.Append(std::string(5000, 'c')));
  CHECK(Drain(ring) == std::string(1000, 'a') + std::string(2000, 'b') + std::string(5000, 'c'));
  CHECK(ring.Reserve(100));  // Never shrinks.
  CHECK(ring.capacity() == 3 * 4096);
}

TEST_CASE("byte ring: consuming everything keeps an outstanding region valid for Commit") {
  ByteRing ring(4096);
  REQUIRE(ring.Append(std::string(100, 'a')));
  std::span<char> region = ring.WritableRegion(50);
  REQUIRE(region.size() == 50);
  ring.Consume(100);  // Empty now, but the region handed out is still the write position.
  CHECK(ring.IsAtWritePosition({region.data(), 3}));
  std::memcpy(region.data(), "xyz", 3);
  ring.Commit(3);
  CHECK(Drain(ring) == "xyz");
}

}  // namespace
}  // namespace spegel
