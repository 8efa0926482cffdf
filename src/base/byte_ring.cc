#include "base/byte_ring.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cstring>

namespace spegel {
namespace {

size_t RoundUpToPages(size_t n) {
  const auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return (n + page - 1) / page * page;
}

// Anonymous read-write pages, or nullptr.
char* MapPages(size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : static_cast<char*>(p);
}

}  // namespace

ByteRing::ByteRing(size_t capacity) : capacity_(RoundUpToPages(capacity)) { assert(capacity > 0); }

ByteRing::~ByteRing() {
  if (data_ != nullptr) munmap(data_, capacity_);
}

bool ByteRing::Map() {
  if (data_ == nullptr) data_ = MapPages(capacity_);
  return data_ != nullptr;
}

size_t ByteRing::Tail() const { return (head_ + size_) % capacity_; }

size_t ByteRing::ContiguousFree() const {
  if (size_ == capacity_) return 0;
  const size_t tail = Tail();
  return tail >= head_ ? capacity_ - tail : head_ - tail;
}

std::span<char> ByteRing::WritableRegion(size_t max) {
  if (size_ == capacity_ || !Map()) return {};
  if (size_ == 0) head_ = 0;  // Start over at offset 0: the region is as large as it can be.
  return {data_ + Tail(), std::min(ContiguousFree(), max)};
}

void ByteRing::Commit(size_t n) {
  assert(n <= free());
  size_ += n;
}

bool ByteRing::IsAtWritePosition(std::string_view data) const {
  if (data_ == nullptr || size_ == capacity_) return false;
  return data.data() == data_ + Tail() && data.size() <= ContiguousFree();
}

bool ByteRing::Append(std::string_view data) {
  if (data.size() > free() || !Map()) return false;
  size_t done = 0;
  while (done < data.size()) {
    const size_t n = std::min(ContiguousFree(), data.size() - done);
    // memmove: the source may be free space of this very buffer, ahead of the tail.
    std::memmove(data_ + Tail(), data.data() + done, n);
    size_ += n;
    done += n;
  }
  return true;
}

std::string_view ByteRing::Readable() const { return ReadableAt(0); }

std::string_view ByteRing::ReadableAt(size_t offset) const {
  if (offset >= size_) return {};
  const size_t at = (head_ + offset) % capacity_;
  return {data_ + at, std::min(size_ - offset, capacity_ - at)};
}

void ByteRing::Consume(size_t n) {
  assert(n <= size_);
  size_ -= n;
  head_ = (head_ + n) % capacity_;
}

bool ByteRing::Reserve(size_t capacity) {
  capacity = RoundUpToPages(capacity);
  if (capacity <= capacity_) return true;
  char* bigger = MapPages(capacity);
  if (bigger == nullptr) return false;
  size_t copied = 0;
  while (copied < size_) {
    const size_t from = (head_ + copied) % capacity_;
    const size_t n = std::min(size_ - copied, capacity_ - from);
    std::memcpy(bigger + copied, data_ + from, n);
    copied += n;
  }
  if (data_ != nullptr) munmap(data_, capacity_);
  data_ = bigger;
  capacity_ = capacity;
  head_ = 0;
  return true;
}

void ByteRing::Release() {
  assert(size_ == 0);
  if (data_ != nullptr) munmap(data_, capacity_);
  data_ = nullptr;
  head_ = 0;
}

}  // namespace spegel
