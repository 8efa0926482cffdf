#include "base/block_pool.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <set>
#include <vector>

namespace spegel {
namespace {

constexpr size_t kChunk = 64 * 1024;

TEST_CASE("BlockPool hands out distinct, aligned, writable blocks") {
  BlockPool pool(100, kChunk);
  CHECK(pool.block_size() == 128);  // Rounded up to 64-byte alignment.
  std::set<uintptr_t> seen;
  std::vector<void*> blocks;
  for (int i = 0; i < 1000; ++i) {
    void* b = pool.Allocate();
    REQUIRE(b != nullptr);
    CHECK(reinterpret_cast<uintptr_t>(b) % 64 == 0);
    std::memset(b, i & 0xff, 100);
    CHECK(seen.insert(reinterpret_cast<uintptr_t>(b)).second);
    blocks.push_back(b);
  }
  // Each block kept its own bytes: no two overlap.
  for (int i = 0; i < 1000; ++i) {
    CHECK(static_cast<unsigned char*>(blocks[i])[99] == (i & 0xff));
  }
  CHECK(pool.blocks_in_use() == 1000);
  const size_t per_chunk = pool.blocks_per_chunk();
  CHECK(pool.chunks_mapped() == (1000 + per_chunk - 1) / per_chunk);
  for (void* b : blocks) pool.Free(b);
  CHECK(pool.blocks_in_use() == 0);
}

TEST_CASE("BlockPool returns empty chunks to the system and keeps one spare") {
  BlockPool pool(1024, kChunk);
  const size_t per_chunk = pool.blocks_per_chunk();
  REQUIRE(per_chunk >= 2);
  for (int round = 0; round < 4; ++round) {
    CAPTURE(round);
    std::vector<void*> blocks;
    for (size_t i = 0; i < 10 * per_chunk; ++i) blocks.push_back(pool.Allocate());
    CHECK(pool.chunks_mapped() == 10);
    // Free in an interleaved order, so chunks empty out in no particular sequence.
    for (size_t i = 0; i < blocks.size(); i += 2) pool.Free(blocks[i]);
    CHECK(pool.chunks_mapped() == 10);  // Every chunk still has a live block.
    for (size_t i = 1; i < blocks.size(); i += 2) pool.Free(blocks[i]);
    CHECK(pool.blocks_in_use() == 0);
    CHECK(pool.chunks_mapped() == 1);  // The spare.
    CHECK(pool.bytes_mapped() == kChunk);
  }
}

TEST_CASE("BlockPool fills partly used chunks before the spare or a new chunk") {
  BlockPool pool(1024, kChunk);
  const size_t per_chunk = pool.blocks_per_chunk();
  std::vector<void*> blocks;
  for (size_t i = 0; i < 3 * per_chunk; ++i) blocks.push_back(pool.Allocate());
  REQUIRE(pool.chunks_mapped() == 3);
  // Empty the first chunk entirely (it becomes the spare) and free one block of the third.
  for (size_t i = 0; i < per_chunk; ++i) pool.Free(blocks[i]);
  pool.Free(blocks[2 * per_chunk]);
  CHECK(pool.chunks_mapped() == 3);
  // The next block reuses the third chunk's free slot, not the spare.
  void* again = pool.Allocate();
  CHECK(again == blocks[2 * per_chunk]);
  blocks[2 * per_chunk] = again;
  // Then the spare is used before anything new is mapped.
  void* from_spare = pool.Allocate();
  CHECK(pool.chunks_mapped() == 3);
  pool.Free(from_spare);
  for (size_t i = per_chunk; i < blocks.size(); ++i) pool.Free(blocks[i]);
  CHECK(pool.chunks_mapped() == 1);
}

TEST_CASE("BlockPool with one block per chunk") {
  BlockPool pool(16 * 1024, 32 * 1024);
  CHECK(pool.blocks_per_chunk() == 1);
  void* a = pool.Allocate();
  void* b = pool.Allocate();
  CHECK(pool.chunks_mapped() == 2);
  pool.Free(a);
  CHECK(pool.chunks_mapped() == 2);  // a's chunk is the spare.
  pool.Free(b);
  CHECK(pool.chunks_mapped() == 1);
  pool.Free(nullptr);
  CHECK(pool.blocks_in_use() == 0);
}

}  // namespace
}  // namespace spegel
