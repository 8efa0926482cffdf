// BodyBudget and RequestBody: where a server keeps request bodies (ServerOptions::
// keep_request_body), and how much of them it holds at once.
//
// A kept body is one contiguous run of bytes (handlers hash it and parse it as one view) in an
// anonymous mapping of its own, sized once: the request's Content-Length, or for a chunked body
// the per-request limit, whose pages cost memory only once bytes are written to them. It is
// neither a growing std::string (which doubles, copying each time, and asks for up to twice the
// body) nor a malloc'd buffer: after glibc frees one allocation of 1 MiB, its dynamic mmap
// threshold moves above that size, later bodies land on the heap, and freed heap memory stays
// resident wherever another allocation sits above it (issue 30: 125 MB after the connections that
// sent the bodies had closed). A mapping is returned to the system when its body is destroyed.
//
// Every byte of room a body may write to is charged to its server's BodyBudget first, rounded up
// to whole pages (what the mapping can make resident): all of a Content-Length body when its head
// is accepted, a chunked body page by page as it grows. The charge goes back when the body is
// destroyed, so the budget bounds the memory that kept bodies hold at any time.
//
// Not thread-safe: a server's loop thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace spegel::http {

class BodyBudget {
 public:
  explicit BodyBudget(uint64_t limit) : limit_(limit) {}
  BodyBudget(const BodyBudget&) = delete;
  BodyBudget& operator=(const BodyBudget&) = delete;

  // Takes `bytes` if that many are left; else takes nothing, counts a refusal and returns false.
  bool Take(uint64_t bytes);
  // REQUIRES: `bytes` were taken and not given back yet.
  void Give(uint64_t bytes);

  uint64_t limit() const { return limit_; }
  uint64_t used() const { return used_; }
  uint64_t refusals() const { return refusals_; }

 private:
  uint64_t limit_;
  uint64_t used_ = 0;
  uint64_t refusals_ = 0;
};

class RequestBody {
 public:
  RequestBody() = default;
  ~RequestBody() { Release(); }
  // A copy holds its own mapping and is charged to no budget. Mapping memory for it is an
  // allocation that cannot fail quietly: the process aborts if it does, as it would for a
  // std::string.
  RequestBody(const RequestBody& other);
  RequestBody& operator=(const RequestBody& other);
  RequestBody(RequestBody&& other) noexcept;
  RequestBody& operator=(RequestBody&& other) noexcept;

  enum class Reserved { kOk, kOverBudget, kNoMemory };
  // Maps room for `capacity` bytes and charges `budget` (none when null) for the first `charge`
  // of them, page-rounded. Nothing is mapped or charged unless the result is kOk.
  // REQUIRES: nothing reserved yet; charge <= capacity.
  Reserved Reserve(uint64_t capacity, BodyBudget* budget, uint64_t charge);

  // Appends `data`, first charging the budget for whatever of it lies beyond what is charged.
  // False, with nothing appended, when the budget refuses or `data` does not fit the capacity.
  bool Append(std::string_view data);

  std::string_view view() const { return {data_, size_}; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  uint64_t capacity() const { return capacity_; }
  // Bytes charged to the budget (page-rounded; 0 without a budget).
  uint64_t charged() const { return charged_; }

 private:
  // Unmaps and gives the charge back; leaves an empty body.
  void Release();
  // Charges the budget up to RoundUp(total, page) bytes. Without a budget always true.
  bool ChargeUpTo(uint64_t total);

  char* data_ = nullptr;  // The mapping: mapped_ bytes, of which size_ are the body.
  size_t size_ = 0;
  uint64_t capacity_ = 0;
  size_t mapped_ = 0;
  BodyBudget* budget_ = nullptr;
  uint64_t charged_ = 0;
};

}  // namespace spegel::http
