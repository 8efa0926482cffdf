#include "http/range.h"

#include <cassert>
#include <limits>

#include "base/numbers.h"
#include "http/request.h"

namespace spegel::http {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

// Parses a non-empty run of decimal digits, saturating at kMax. False if `s` is empty or holds
// anything but digits.
bool ParseDigits(std::string_view s, int64_t* out) {
  if (!IsAllDigits(s)) return false;
  uint64_t v = 0;
  *out = ParseDecimal(s, &v) && v < static_cast<uint64_t>(kMax) ? static_cast<int64_t>(v) : kMax;
  return true;
}

bool StartsWithBytesUnit(std::string_view s) {
  static constexpr std::string_view kUnit = "bytes=";
  if (s.size() < kUnit.size()) return false;
  for (size_t i = 0; i < kUnit.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kUnit[i]) return false;
  }
  return true;
}

}  // namespace

RangeResult ParseRange(std::string_view header, int64_t size) {
  assert(size >= 0);
  RangeResult ignore;  // kIgnore
  std::string_view v = TrimOws(header);
  if (!StartsWithBytesUnit(v)) return ignore;
  v.remove_prefix(6);
  const size_t dash = v.find('-');
  if (dash == std::string_view::npos) return ignore;
  const std::string_view first_text = v.substr(0, dash);
  const std::string_view last_text = v.substr(dash + 1);

  RangeResult unsatisfiable{RangeOutcome::kUnsatisfiable, {}};
  if (first_text.empty()) {
    // Suffix range `-N`.
    int64_t n = 0;
    if (!ParseDigits(last_text, &n)) return ignore;
    if (n == 0 || size == 0) return unsatisfiable;
    const int64_t len = n < size ? n : size;
    return {RangeOutcome::kSatisfiable, {size - len, size - 1}};
  }
  int64_t first = 0;
  if (!ParseDigits(first_text, &first)) return ignore;
  int64_t last = kMax;
  if (!last_text.empty()) {
    if (!ParseDigits(last_text, &last)) return ignore;
    if (last < first) return ignore;
  }
  if (first >= size) return unsatisfiable;
  if (last > size - 1) last = size - 1;
  return {RangeOutcome::kSatisfiable, {first, last}};
}

std::string ContentRange(const ByteRange& range, int64_t size) {
  return "bytes " + std::to_string(range.first) + "-" + std::to_string(range.last) + "/" +
         std::to_string(size);
}

std::string UnsatisfiedContentRange(int64_t size) { return "bytes */" + std::to_string(size); }

std::optional<ContentRangeValue> ParseContentRange(std::string_view value) {
  static constexpr std::string_view kUnit = "bytes ";
  if (value.substr(0, kUnit.size()) != kUnit) return std::nullopt;
  value.remove_prefix(kUnit.size());
  const size_t dash = value.find('-');
  const size_t slash = value.find('/');
  if (dash == std::string_view::npos || slash == std::string_view::npos || dash > slash) {
    return std::nullopt;
  }
  ContentRangeValue parsed;
  if (!ParseDecimal(value.substr(0, dash), &parsed.first) ||
      !ParseDecimal(value.substr(dash + 1, slash - dash - 1), &parsed.last) ||
      !ParseDecimal(value.substr(slash + 1), &parsed.size) || parsed.last < parsed.first ||
      parsed.last >= parsed.size) {
    return std::nullopt;
  }
  return parsed;
}

}  // namespace spegel::http
