#include "base/block_pool.h"

#include <sanitizer/asan_interface.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cassert>
#include <cstdint>
#include <new>

namespace spegel {

// The header at the start of every chunk. Blocks follow at first_block_offset_. A freed block
// holds the next free block's address in its first bytes.
struct BlockPool::Chunk {
  Chunk* prev = nullptr;
  Chunk* next = nullptr;
  void* free_list = nullptr;
  size_t used = 0;    // Blocks handed out and not freed.
  size_t carved = 0;  // Blocks ever handed out from this chunk (the rest were never touched).
};

namespace {

constexpr size_t kAlignment = 64;

size_t RoundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }

}  // namespace

BlockPool::BlockPool(size_t block_size, size_t chunk_bytes)
    : block_size_(RoundUp(block_size < sizeof(void*) ? sizeof(void*) : block_size, kAlignment)),
      chunk_bytes_(chunk_bytes),
      first_block_offset_(RoundUp(sizeof(Chunk), kAlignment)),
      blocks_per_chunk_(0) {
  assert((chunk_bytes & (chunk_bytes - 1)) == 0);
  assert(chunk_bytes >= static_cast<size_t>(sysconf(_SC_PAGESIZE)));
  assert(chunk_bytes >= first_block_offset_ + block_size_);
  blocks_per_chunk_ = (chunk_bytes_ - first_block_offset_) / block_size_;
}

BlockPool::~BlockPool() {
  assert(blocks_in_use_ == 0);
  while (partial_ != nullptr) {
    Chunk* chunk = partial_;
    UnlinkPartial(chunk);
    UnmapChunk(chunk);
  }
  if (spare_ != nullptr) UnmapChunk(spare_);
}

BlockPool::Chunk* BlockPool::MapChunk() {
  // Map twice the size and trim, so the chunk is aligned to its size and ChunkOf() is a mask.
  const size_t span = 2 * chunk_bytes_;
  void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + chunk_bytes_ - 1) & ~(chunk_bytes_ - 1);
  if (aligned > start) munmap(raw, aligned - start);
  const uintptr_t end = aligned + chunk_bytes_;
  if (start + span > end) munmap(reinterpret_cast<void*>(end), start + span - end);
  ++chunks_mapped_;
  auto* chunk = new (reinterpret_cast<void*>(aligned)) Chunk();
  ASAN_POISON_MEMORY_REGION(reinterpret_cast<char*>(chunk) + first_block_offset_,
                            chunk_bytes_ - first_block_offset_);
  return chunk;
}

void BlockPool::UnmapChunk(Chunk* chunk) {
  ASAN_UNPOISON_MEMORY_REGION(chunk, chunk_bytes_);
  chunk->~Chunk();
  munmap(chunk, chunk_bytes_);
  --chunks_mapped_;
}

BlockPool::Chunk* BlockPool::ChunkOf(void* block) const {
  return reinterpret_cast<Chunk*>(reinterpret_cast<uintptr_t>(block) & ~(chunk_bytes_ - 1));
}

void BlockPool::LinkPartial(Chunk* chunk) {
  chunk->prev = nullptr;
  chunk->next = partial_;
  if (partial_ != nullptr) partial_->prev = chunk;
  partial_ = chunk;
}

void BlockPool::UnlinkPartial(Chunk* chunk) {
  if (chunk->prev != nullptr) chunk->prev->next = chunk->next;
  if (chunk->next != nullptr) chunk->next->prev = chunk->prev;
  if (partial_ == chunk) partial_ = chunk->next;
  chunk->prev = chunk->next = nullptr;
}

void* BlockPool::Allocate() {
  Chunk* chunk = partial_;
  if (chunk == nullptr) {
    chunk = spare_ != nullptr ? spare_ : MapChunk();
    if (chunk == nullptr) return nullptr;
    spare_ = nullptr;
    LinkPartial(chunk);
  }
  void* block;
  if (chunk->free_list != nullptr) {
    block = chunk->free_list;
    ASAN_UNPOISON_MEMORY_REGION(block, sizeof(void*));
    chunk->free_list = *static_cast<void**>(block);
  } else {
    block = reinterpret_cast<char*>(chunk) + first_block_offset_ + chunk->carved * block_size_;
    ++chunk->carved;
  }
  ASAN_UNPOISON_MEMORY_REGION(block, block_size_);
  ++chunk->used;
  ++blocks_in_use_;
  if (chunk->used == blocks_per_chunk_) UnlinkPartial(chunk);
  return block;
}

void BlockPool::Free(void* block) {
  if (block == nullptr) return;
  Chunk* chunk = ChunkOf(block);
  assert(chunk->used > 0 && blocks_in_use_ > 0);
  const bool was_full = chunk->used == blocks_per_chunk_;
  *static_cast<void**>(block) = chunk->free_list;
  chunk->free_list = block;
  ASAN_POISON_MEMORY_REGION(block, block_size_);
  --chunk->used;
  --blocks_in_use_;
  if (chunk->used == 0) {
    if (!was_full) UnlinkPartial(chunk);
    if (spare_ == nullptr) {
      spare_ = chunk;
    } else {
      UnmapChunk(chunk);
    }
  } else if (was_full) {
    LinkPartial(chunk);
  }
}

}  // namespace spegel
