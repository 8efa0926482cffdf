// BlockPool: fixed-size blocks for objects that come and go in bursts (connections and their
// read buffers), carved from chunks mapped with mmap(2) and unmapped once every block in them is
// free again.
//
// Why not malloc: after a burst of thousands of connections, glibc keeps the freed memory
// resident unless it happens to sit at the top of the heap, so what a second burst costs depends
// on where unrelated allocations (an index resync, a log line) landed during the first one. With
// a pool, memory after any number of bursts is what the live blocks need, plus at most one spare
// chunk: a burst leaves nothing behind once its blocks are freed.
//
// Blocks are handed out from partially used chunks first (so chunks fill up and empty ones can be
// returned), then from the one kept spare chunk, then from a new chunk. Pages of a chunk are
// touched only when a block in them is first handed out.
//
// Not thread-safe: one owner, one thread (the loop thread for every pool in this program).
#pragma once

#include <cstddef>

namespace spegel {

class BlockPool {
 public:
  // Blocks of at least `block_size` bytes, aligned to 64 bytes, in chunks of `chunk_bytes`.
  // REQUIRES: chunk_bytes is a power of two, at least the page size, and holds at least one
  // block after the chunk's header.
  BlockPool(size_t block_size, size_t chunk_bytes);
  // REQUIRES: every block was freed. Unmaps every chunk.
  ~BlockPool();
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;

  // An uninitialised block, or nullptr if no chunk could be mapped (out of memory).
  void* Allocate();
  // REQUIRES: `block` came from this pool's Allocate() and was not freed since. nullptr is a no-op.
  void Free(void* block);

  size_t block_size() const { return block_size_; }
  size_t blocks_per_chunk() const { return blocks_per_chunk_; }
  size_t blocks_in_use() const { return blocks_in_use_; }
  // Chunks currently mapped, the spare included.
  size_t chunks_mapped() const { return chunks_mapped_; }
  size_t bytes_mapped() const { return chunks_mapped_ * chunk_bytes_; }

 private:
  struct Chunk;

  Chunk* MapChunk();
  void UnmapChunk(Chunk* chunk);
  Chunk* ChunkOf(void* block) const;
  void LinkPartial(Chunk* chunk);
  void UnlinkPartial(Chunk* chunk);

  size_t block_size_;
  size_t chunk_bytes_;
  size_t first_block_offset_;
  size_t blocks_per_chunk_;
  Chunk* partial_ = nullptr;  // Chunks with some blocks used and some free (doubly linked).
  Chunk* spare_ = nullptr;    // At most one chunk with no block used.
  size_t blocks_in_use_ = 0;
  size_t chunks_mapped_ = 0;
};

}  // namespace spegel
