#include "oci/quote.h"

#include <doctest/doctest.h>

#include <string>

namespace spegel::oci {
namespace {

TEST_CASE("Quote escapes and bounds untrusted text") {
  CHECK(Quote("abc") == "\"abc\"");
  CHECK(Quote("") == "\"\"");
  CHECK(Quote("a\"b\\c") == "\"a\\x22b\\x5cc\"");
  CHECK(Quote(std::string("a\0b\n\x7f\xff", 6)) == "\"a\\x00b\\x0a\\x7f\\xff\"");
  CHECK(Quote(std::string(10, 'x'), 4) == "\"xxxx\"...");
  CHECK(Quote(std::string(4, 'x'), 4) == "\"xxxx\"");
}

}  // namespace
}  // namespace spegel::oci
