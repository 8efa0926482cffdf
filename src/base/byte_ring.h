// ByteRing: a bounded FIFO of bytes in one mmap(2)'d buffer that wraps around, so bytes can be
// written into it in place (a socket read straight into WritableRegion()) and sent from it in
// place (Readable()), with no copy in between and no allocation per cycle.
//
// The buffer is mapped on the first write and unmapped by Release() or destruction, so an idle
// ring costs nothing and a finished one gives its pages back to the kernel at once (malloc would
// keep a freed multi-MiB buffer in the heap once its mmap threshold has risen).
//
// Not thread-safe: one owner, one thread.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

namespace spegel {

class ByteRing {
 public:
  // REQUIRES: capacity > 0. It is rounded up to a whole number of pages.
  explicit ByteRing(size_t capacity);
  ~ByteRing();
  ByteRing(const ByteRing&) = delete;
  ByteRing& operator=(const ByteRing&) = delete;

  size_t capacity() const { return capacity_; }
  size_t size() const { return size_; }
  size_t free() const { return capacity_ - size_; }
  bool empty() const { return size_ == 0; }

  // The free space right after the last byte, contiguous, at most `max` bytes: write into it, then
  // Commit() what was written. Empty when the ring is full or its buffer cannot be mapped. Valid
  // until the next call that changes the ring.
  std::span<char> WritableRegion(size_t max);
  // Adds the `n` bytes written at the start of the last WritableRegion().
  // REQUIRES: n <= the size of that region.
  void Commit(size_t n);
  // Copies `data` in (wrapping as needed). `data` may lie inside this ring's free space (e.g. bytes
  // parsed in place from a WritableRegion() that do not start at its beginning). False, and
  // nothing is taken, when it does not fit or the buffer cannot be mapped.
  bool Append(std::string_view data);
  // True when `data` starts exactly where the next byte goes and fits in the free space there, so
  // Commit(data.size()) takes it without a copy.
  bool IsAtWritePosition(std::string_view data) const;

  // The oldest bytes, as far as they are contiguous: up to the end of the buffer; the rest follows
  // from its start once these are consumed.
  std::string_view Readable() const;
  // The bytes from the `offset`-th oldest on, as far as they are contiguous (Readable() is
  // ReadableAt(0)). Empty when offset >= size().
  std::string_view ReadableAt(size_t offset) const;
  // Drops the `n` oldest bytes. REQUIRES: n <= size(). Does not move the write position, so a
  // region handed out by WritableRegion() stays where the next Commit() expects it.
  void Consume(size_t n);

  // Makes room for at least `capacity` bytes, keeping the content (one copy into a new mapping).
  // False, and nothing changes, when the new buffer cannot be mapped. Invalidates every view.
  bool Reserve(size_t capacity);
  // Unmaps the buffer. REQUIRES: empty().
  void Release();
  // Bytes currently mapped (0 or capacity()).
  size_t bytes_mapped() const { return data_ != nullptr ? capacity_ : 0; }

 private:
  bool Map();
  // Offset where the next byte goes, and the free bytes from there before the head or the end.
  size_t Tail() const;
  size_t ContiguousFree() const;

  char* data_ = nullptr;
  size_t capacity_;
  size_t head_ = 0;  // Offset of the oldest byte.
  size_t size_ = 0;
};

}  // namespace spegel
