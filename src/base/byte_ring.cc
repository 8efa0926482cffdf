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

}  // namespace

ByteRing::ByteRing(size_t capacity) : capacity_(RoundUpToPages(capacity)) { assert(capacity > 0); }

ByteRing::~ByteRing() {
  if (data_ != nullptr) munmap(data_, capacity_);
}

bool ByteRing::Map() {
  if (data_ != nullptr) return true;
  void* p = mmap(nullptr, capacity_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return false;
  data_ = static_cast<char*>(p);
  return true;
}

std::span<char> ByteRing::WritableRegion(size_t max) {
  if (size_ == capacity_ || !Map()) return {};
  if (size_ == 0) head_ = 0;  // Start over at offset 0: the region is as large as it can be.
  const size_t tail = (head_ + size_) % capacity_;
  const size_t contiguous = tail >= head_ ? capacity_ - tail : head_ - tail;
  return {data_ + tail, std::min(contiguous, max)};
}

void ByteRing::Commit(size_t n) {
  assert(n <= free());
  size_ += n;
}

bool ByteRing::IsAtWritePosition(std::string_view data) const {
  if (data_ == nullptr || size_ == capacity_) return false;
  const size_t tail = (head_ + size_) % capacity_;
  const size_t contiguous = tail >= head_ ? capacity_ - tail : head_ - tail;
  return data.data() == data_ + tail && data.size() <= contiguous;
}

bool ByteRing::Append(std::string_view data) {
  if (data.size() > free() || !Map()) return false;
  size_t done = 0;
  while (done < data.size()) {
    const size_t tail = (head_ + size_) % capacity_;
    const size_t room = tail >= head_ ? capacity_ - tail : head_ - tail;
    const size_t n = std::min(room, data.size() - done);
    // memmove: the source may be free space of this very buffer, ahead of the tail.
    std::memmove(data_ + tail, data.data() + done, n);
    size_ += n;
    done += n;
  }
  return true;
}

std::string_view ByteRing::Readable() const {
  if (size_ == 0) return {};
  return {data_ + head_, std::min(size_, capacity_ - head_)};
}

void ByteRing::Consume(size_t n) {
  assert(n <= size_);
  size_ -= n;
  head_ = (head_ + n) % capacity_;
}

bool ByteRing::Reserve(size_t capacity) {
  capacity = RoundUpToPages(capacity);
  if (capacity <= capacity_) return true;
  void* p = mmap(nullptr, capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return false;
  auto* bigger = static_cast<char*>(p);
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
