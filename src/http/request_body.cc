#include "http/request_body.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cassert>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace spegel::http {
namespace {

uint64_t RoundUpToPage(uint64_t n) {
  static const auto page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  return (n + page - 1) / page * page;
}

}  // namespace

bool BodyBudget::Take(uint64_t bytes) {
  if (bytes > limit_ - used_) {
    ++refusals_;
    return false;
  }
  used_ += bytes;
  return true;
}

void BodyBudget::Give(uint64_t bytes) {
  assert(bytes <= used_);
  used_ -= bytes;
}

RequestBody::RequestBody(const RequestBody& other) { *this = other; }

RequestBody& RequestBody::operator=(const RequestBody& other) {
  if (this == &other) return *this;
  Release();
  if (other.size_ == 0) return *this;
  if (Reserve(other.size_, nullptr, 0) != Reserved::kOk) std::abort();
  std::memcpy(data_, other.data_, other.size_);
  size_ = other.size_;
  return *this;
}

RequestBody::RequestBody(RequestBody&& other) noexcept { *this = std::move(other); }

RequestBody& RequestBody::operator=(RequestBody&& other) noexcept {
  if (this == &other) return *this;
  Release();
  data_ = std::exchange(other.data_, nullptr);
  size_ = std::exchange(other.size_, 0);
  capacity_ = std::exchange(other.capacity_, 0);
  mapped_ = std::exchange(other.mapped_, 0);
  budget_ = std::exchange(other.budget_, nullptr);
  charged_ = std::exchange(other.charged_, 0);
  return *this;
}

RequestBody::Reserved RequestBody::Reserve(uint64_t capacity, BodyBudget* budget, uint64_t charge) {
  assert(data_ == nullptr && capacity_ == 0 && charged_ == 0 && charge <= capacity);
  const uint64_t charged = budget != nullptr ? RoundUpToPage(charge) : 0;
  if (charged > 0 && !budget->Take(charged)) return Reserved::kOverBudget;
  const uint64_t length = RoundUpToPage(capacity);
  void* mapping = nullptr;
  if (length > 0) {
    // MAP_NORESERVE: room for a chunked body is mostly never written; only the budget-charged
    // pages are.
    mapping = mmap(nullptr, length, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mapping == MAP_FAILED) {
      if (charged > 0) budget->Give(charged);
      return Reserved::kNoMemory;
    }
  }
  data_ = static_cast<char*>(mapping);
  capacity_ = capacity;
  mapped_ = length;
  budget_ = budget;
  charged_ = charged;
  return Reserved::kOk;
}

bool RequestBody::ChargeUpTo(uint64_t total) {
  if (budget_ == nullptr) return true;
  const uint64_t target = RoundUpToPage(total);
  if (target <= charged_) return true;
  if (!budget_->Take(target - charged_)) return false;
  charged_ = target;
  return true;
}

bool RequestBody::Append(std::string_view data) {
  if (data.empty()) return true;
  if (data.size() > capacity_ - size_) return false;
  if (!ChargeUpTo(size_ + data.size())) return false;
  std::memcpy(data_ + size_, data.data(), data.size());
  size_ += data.size();
  return true;
}

void RequestBody::Release() {
  if (data_ != nullptr) munmap(data_, mapped_);
  if (budget_ != nullptr && charged_ > 0) budget_->Give(charged_);
  data_ = nullptr;
  size_ = 0;
  capacity_ = 0;
  mapped_ = 0;
  budget_ = nullptr;
  charged_ = 0;
}

}  // namespace spegel::http
