#include "base/numbers.h"

namespace spegel {

bool IsAllDigits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool ParseDecimal(std::string_view text, uint64_t* out) {
  if (!IsAllDigits(text)) return false;
  uint64_t value = 0;
  for (char c : text) {
    const auto digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return false;
    value = value * 10 + digit;
  }
  *out = value;
  return true;
}

bool ParsePort(std::string_view text, uint16_t* out) {
  uint64_t value = 0;
  if (!ParseDecimal(text, &value) || value == 0 || value > 65535) return false;
  *out = static_cast<uint16_t>(value);
  return true;
}

}  // namespace spegel
