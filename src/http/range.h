// Byte ranges (RFC 9110 §14): a single `Range` request header parsed against a known body size,
// the `Content-Range` values a server sends, and the `Content-Range` of a 206 a client receives.
//
// ParseRange's rule, in order:
//   1. The value (surrounding spaces and tabs trimmed) must be `bytes=` (unit case-insensitive)
//      followed by exactly one range-spec: `S-E`, `S-` or `-N`, with S, E and N plain decimal
//      digits. Anything else (another unit, several ranges, signs, spaces inside, `S-E` with
//      E < S, an empty spec) is kIgnore: RFC 9110 lets a server ignore Range, so the caller
//      serves 200 with the full body.
//   2. A syntactically valid spec is kUnsatisfiable when S >= size, when it is the suffix `-0`,
//      or when size is 0. The caller answers 416 with `Content-Range: bytes */SIZE`.
//   3. Otherwise it is kSatisfiable with the normalised inclusive range [first, last]:
//      `S-E` → [S, min(E, size-1)]; `S-` → [S, size-1]; `-N` → [size-min(N, size), size-1].
//      The caller answers 206 with `Content-Range: bytes first-last/size`.
// Numbers too large for int64 saturate, so they follow the same rule (a huge S is
// unsatisfiable, a huge E or N means "to the end" / "everything").
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace spegel::http {

// An inclusive byte range [first, last] of a body; first <= last.
struct ByteRange {
  int64_t first = 0;
  int64_t last = 0;
  int64_t length() const { return last - first + 1; }
  bool operator==(const ByteRange&) const = default;
};

enum class RangeOutcome {
  kSatisfiable,    // `range` holds the normalised range: answer 206.
  kIgnore,         // Invalid or unsupported header: answer 200 with the whole body.
  kUnsatisfiable,  // Answer 416 with UnsatisfiedContentRange(size).
};

struct RangeResult {
  RangeOutcome outcome = RangeOutcome::kIgnore;
  ByteRange range;  // Meaningful only for kSatisfiable.
};

// REQUIRES: size >= 0.
RangeResult ParseRange(std::string_view header, int64_t size);

// "bytes first-last/size", for a 206 response.
std::string ContentRange(const ByteRange& range, int64_t size);
// "bytes */size", for a 416 response.
std::string UnsatisfiedContentRange(int64_t size);

// The value of a 206 response's `Content-Range`: bytes [first, last] of a body of `size` bytes.
struct ContentRangeValue {
  uint64_t first = 0;
  uint64_t last = 0;
  uint64_t size = 0;
  bool operator==(const ContentRangeValue&) const = default;
};

// Parses exactly `bytes FIRST-LAST/SIZE` (lower-case unit, one space, plain decimals that fit in
// 64 bits, FIRST <= LAST < SIZE). Anything else is nullopt, including the 416 form `bytes */SIZE`
// and an unknown size `*`: a client resuming a body needs to know where the bytes start and that
// the body is the one it was reading.
std::optional<ContentRangeValue> ParseContentRange(std::string_view value);

}  // namespace spegel::http
