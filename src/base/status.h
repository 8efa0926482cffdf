// Status and Result<T>: errors as values on every path that handles outside input.
//
// A Status is a code plus a human-readable message. OK carries no message and costs one enum.
// Result<T> holds either a T or a non-OK Status. Both are plain values: copyable, movable, and
// safe to hand between threads once constructed.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace spegel {

// X-macro: code name. The registry layer maps codes to HTTP status and OCI error code in one table
// (src/registry/errors.h); nothing else switches on codes for presentation.
#define SPEGEL_STATUS_CODES(X) \
  X(kOk)                       \
  X(kInvalidArgument)          \
  X(kNotFound)                 \
  X(kAlreadyExists)            \
  X(kPermissionDenied)         \
  X(kResourceExhausted)        \
  X(kFailedPrecondition)       \
  X(kUnavailable)              \
  X(kDeadlineExceeded)         \
  X(kCancelled)                \
  X(kDataLoss)                 \
  X(kUnimplemented)            \
  X(kInternal)

enum class Code {
#define SPEGEL_X(name) name,
  SPEGEL_STATUS_CODES(SPEGEL_X)
#undef SPEGEL_X
};

// Returns the code's name without the leading 'k', e.g. "NotFound".
std::string_view CodeName(Code code);

class Status {
 public:
  Status() = default;  // OK
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status PermissionDenied(std::string m) { return {Code::kPermissionDenied, std::move(m)}; }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status FailedPrecondition(std::string m) {
    return {Code::kFailedPrecondition, std::move(m)};
  }
  static Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status DeadlineExceeded(std::string m) { return {Code::kDeadlineExceeded, std::move(m)}; }
  static Status DataLoss(std::string m) { return {Code::kDataLoss, std::move(m)}; }
  static Status ResourceExhausted(std::string m) {
    return {Code::kResourceExhausted, std::move(m)};
  }
  static Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }
  static Status Cancelled(std::string m) { return {Code::kCancelled, std::move(m)}; }
  static Status Unimplemented(std::string m) { return {Code::kUnimplemented, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  const std::string& message() const { return message_; }
  // "NotFound: message" (or "OK").
  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// Either a value or a non-OK Status. Constructing from an OK Status is a programming error.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design, like absl::StatusOr
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  // REQUIRES: ok()
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  // OK when a value is held.
  Status status() const { return ok() ? Status() : std::get<Status>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace spegel
