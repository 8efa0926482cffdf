#include "base/numbers.h"

#include <doctest/doctest.h>

namespace spegel {
namespace {

TEST_CASE("ParseDecimal accepts digits only and refuses what does not fit") {
  uint64_t v = 7;
  CHECK(ParseDecimal("0", &v));
  CHECK(v == 0);
  CHECK(ParseDecimal("00042", &v));
  CHECK(v == 42);
  CHECK(ParseDecimal("18446744073709551615", &v));
  CHECK(v == UINT64_MAX);
  v = 7;
  for (const char* bad : {"", "18446744073709551616", "99999999999999999999", "-1", "+1", " 1",
                          "1 ", "1_000", "0x10", "1e3", "12a"}) {
    CAPTURE(bad);
    CHECK_FALSE(ParseDecimal(bad, &v));
    CHECK(v == 7);  // untouched
  }
  CHECK(IsAllDigits("123456789012345678901234567890"));
  CHECK_FALSE(IsAllDigits(""));
  CHECK_FALSE(IsAllDigits("12-"));
}

TEST_CASE("ParsePort is 1..65535") {
  uint16_t p = 0;
  CHECK(ParsePort("1", &p));
  CHECK(p == 1);
  CHECK(ParsePort("65535", &p));
  CHECK(p == 65535);
  CHECK(ParsePort("05000", &p));
  CHECK(p == 5000);
  for (const char* bad : {"0", "65536", "", "-1", "5000x", "99999999999999999999"}) {
    CAPTURE(bad);
    CHECK_FALSE(ParsePort(bad, &p));
  }
}

}  // namespace
}  // namespace spegel
