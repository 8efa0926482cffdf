// Digest: a validated content digest, "sha256:<64 hex>" or "sha512:<128 hex>".
//
// A Digest can only be made by Parse() (or from raw hash bytes), so every Digest in the program
// is canonical: a known algorithm, the exact hex length, lowercase hex only. That is what makes
// it safe to build file paths from (<content root>/blobs/<algorithm()>/<hex()>): no '/', "..",
// '%', NUL or other byte can reach the path. Two equal digests have equal strings, so str() is
// also the key used by the index and the routing layer.
//
// A plain value: copyable, movable, and safe to share between threads once constructed.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include "base/status.h"

namespace spegel::oci {

class Digest {
 public:
  // Accepts exactly "sha256:" + 64 or "sha512:" + 128 characters of [0-9a-f]. Anything else
  // (empty, no algorithm, unknown algorithm, wrong length, uppercase hex, NUL or path bytes) is
  // InvalidArgument, with a message naming the problem and quoting the input.
  static Result<Digest> Parse(std::string_view text);

  // The digest of raw SHA-256 output (e.g. Sha256::Finish()). Cannot fail.
  static Digest FromSha256(const std::array<uint8_t, 32>& hash);

  // The whole digest, "sha256:<hex>".
  const std::string& str() const { return str_; }
  // "sha256" or "sha512".
  std::string_view algorithm() const { return std::string_view(str_).substr(0, colon_); }
  // The lowercase hex part, 64 or 128 characters.
  std::string_view hex() const { return std::string_view(str_).substr(colon_ + 1); }

  friend bool operator==(const Digest& a, const Digest& b) { return a.str_ == b.str_; }
  friend std::strong_ordering operator<=>(const Digest& a, const Digest& b) {
    return a.str_.compare(b.str_) <=> 0;
  }

 private:
  Digest(std::string str, size_t colon) : str_(std::move(str)), colon_(colon) {}

  std::string str_;
  size_t colon_;  // Index of ':' in str_.
};

}  // namespace spegel::oci

template <>
struct std::hash<spegel::oci::Digest> {
  size_t operator()(const spegel::oci::Digest& d) const noexcept {
    return std::hash<std::string>()(d.str());
  }
};
