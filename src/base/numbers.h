// Decimal numbers from outside input (flags, headers, wire formats): one strict parser.
//
// Accepted: one or more ASCII digits and nothing else — no sign, space, "0x" or separators.
// Leading zeros are allowed (callers whose grammar forbids them check that themselves).
// Values that do not fit are refused, never wrapped.
#pragma once

#include <cstdint>
#include <string_view>

namespace spegel {

// False (and *out untouched) unless `text` is all digits and its value fits in 64 bits.
bool ParseDecimal(std::string_view text, uint64_t* out);

// True when `text` is non-empty and all digits (whatever its magnitude).
bool IsAllDigits(std::string_view text);

// A TCP/UDP port: decimal 1..65535 (0 is refused: it names no peer).
bool ParsePort(std::string_view text, uint16_t* out);

}  // namespace spegel
