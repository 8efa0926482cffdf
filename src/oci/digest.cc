#include "oci/digest.h"

#include <string>

#include "oci/quote.h"

namespace spegel::oci {
namespace {

struct Algorithm {
  std::string_view name;
  size_t hex_length;
};

constexpr Algorithm kAlgorithms[] = {{"sha256", 64}, {"sha512", 128}};

// The longest algorithm name we look for before giving up on finding ':'; keeps the error for a
// long colon-free input precise ("missing algorithm") without scanning megabytes.
constexpr size_t kMaxAlgorithmSearch = 32;

Status Invalid(std::string_view text, std::string_view problem) {
  std::string m = "invalid digest ";
  m += Quote(text);
  m += ": ";
  m += problem;
  return Status::InvalidArgument(std::move(m));
}

}  // namespace

Result<Digest> Digest::Parse(std::string_view text) {
  if (text.empty()) return Status::InvalidArgument("invalid digest: empty");
  const size_t colon = text.substr(0, kMaxAlgorithmSearch).find(':');
  if (colon == std::string_view::npos) {
    return Invalid(text, "missing algorithm prefix (want sha256:<64 hex> or sha512:<128 hex>)");
  }
  const std::string_view name = text.substr(0, colon);
  const Algorithm* algorithm = nullptr;
  for (const Algorithm& a : kAlgorithms) {
    if (a.name == name) algorithm = &a;
  }
  if (algorithm == nullptr) {
    return Invalid(text, "unsupported algorithm " + Quote(name) + " (want sha256 or sha512)");
  }
  const std::string_view hex = text.substr(colon + 1);
  for (size_t i = 0; i < hex.size(); ++i) {
    const char c = hex[i];
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) continue;
    if (c >= 'A' && c <= 'F') {
      return Invalid(text, "uppercase hex at offset " + std::to_string(colon + 1 + i) +
                               " (hex must be lowercase)");
    }
    return Invalid(text, "invalid character " + Quote(hex.substr(i, 1)) + " at offset " +
                             std::to_string(colon + 1 + i) + " (hex must be [0-9a-f])");
  }
  if (hex.size() != algorithm->hex_length) {
    return Invalid(text, std::string(name) + " hex must be " +
                             std::to_string(algorithm->hex_length) + " characters, got " +
                             std::to_string(hex.size()));
  }
  return Digest(std::string(text), colon);
}

Digest Digest::FromSha256(const std::array<uint8_t, 32>& hash) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s = "sha256:";
  s.reserve(7 + 64);
  for (const uint8_t b : hash) {
    s += kHex[b >> 4];
    s += kHex[b & 0xf];
  }
  return Digest(std::move(s), 6);
}

}  // namespace spegel::oci
