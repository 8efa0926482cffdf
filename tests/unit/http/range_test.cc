#include "http/range.h"

#include <doctest/doctest.h>

#include <string>

namespace spegel::http {
namespace {

struct Row {
  const char* header;
  int64_t size;
  RangeOutcome outcome;
  int64_t first;
  int64_t last;
};

TEST_CASE("ParseRange follows the documented table") {
  const auto kOk = RangeOutcome::kSatisfiable;
  const auto kIgn = RangeOutcome::kIgnore;
  const auto kUns = RangeOutcome::kUnsatisfiable;
  const Row rows[] = {
      // Satisfiable: S-E, S-, -N, clamping.
      {"bytes=0-0", 1000, kOk, 0, 0},
      {"bytes=0-499", 1000, kOk, 0, 499},
      {"bytes=500-999", 1000, kOk, 500, 999},
      {"bytes=900-1500", 1000, kOk, 900, 999},
      {"bytes=999-", 1000, kOk, 999, 999},
      {"bytes=0-", 1000, kOk, 0, 999},
      {"bytes=-1", 1000, kOk, 999, 999},
      {"bytes=-1000", 1000, kOk, 0, 999},
      {"bytes=-5000", 1000, kOk, 0, 999},
      {"bytes=0-99999999999999999999999", 1000, kOk, 0, 999},
      {"bytes=-99999999999999999999999", 10, kOk, 0, 9},
      {"BYTES=1-2", 10, kOk, 1, 2},
      {"  bytes=1-2\t", 10, kOk, 1, 2},
      {"bytes=5-5", 6, kOk, 5, 5},
      // Unsatisfiable: first >= size, suffix -0, empty body.
      {"bytes=1000-", 1000, kUns, 0, 0},
      {"bytes=1000-2000", 1000, kUns, 0, 0},
      {"bytes=99999999999999999999999-", 1000, kUns, 0, 0},
      {"bytes=-0", 1000, kUns, 0, 0},
      {"bytes=0-0", 0, kUns, 0, 0},
      {"bytes=-1", 0, kUns, 0, 0},
      // Ignored: syntax, units, multiple ranges, reversed.
      {"", 1000, kIgn, 0, 0},
      {"bytes=", 1000, kIgn, 0, 0},
      {"bytes=-", 1000, kIgn, 0, 0},
      {"bytes=5-1", 1000, kIgn, 0, 0},
      {"bytes=0-1,3-4", 1000, kIgn, 0, 0},
      {"bytes=0-1, 3-4", 1000, kIgn, 0, 0},
      {"bytes=a-b", 1000, kIgn, 0, 0},
      {"bytes=1-b", 1000, kIgn, 0, 0},
      {"bytes=+1-2", 1000, kIgn, 0, 0},
      {"bytes=-+1", 1000, kIgn, 0, 0},
      {"bytes= 1-2", 1000, kIgn, 0, 0},
      {"bytes=1 -2", 1000, kIgn, 0, 0},
      {"bytes=1--2", 1000, kIgn, 0, 0},
      {"bytes 1-2", 1000, kIgn, 0, 0},
      {"items=1-2", 1000, kIgn, 0, 0},
      {"bytes=12", 1000, kIgn, 0, 0},
      {"byte=1-2", 1000, kIgn, 0, 0},
  };
  for (const Row& row : rows) {
    CAPTURE(row.header);
    CAPTURE(row.size);
    const RangeResult r = ParseRange(row.header, row.size);
    CHECK(r.outcome == row.outcome);
    if (row.outcome == kOk) {
      CHECK(r.range.first == row.first);
      CHECK(r.range.last == row.last);
      CHECK(r.range.length() == row.last - row.first + 1);
    }
  }
}

TEST_CASE("Content-Range formatting") {
  CHECK(ContentRange({900, 999}, 1000) == "bytes 900-999/1000");
  CHECK(ContentRange({0, 0}, 1) == "bytes 0-0/1");
  CHECK(UnsatisfiedContentRange(1000) == "bytes */1000");
  CHECK(UnsatisfiedContentRange(0) == "bytes */0");
}

TEST_CASE("ParseContentRange reads a 206's bytes FIRST-LAST/SIZE and refuses everything else") {
  CHECK(ParseContentRange("bytes 0-0/1") == ContentRangeValue{0, 0, 1});
  CHECK(ParseContentRange("bytes 900-999/1000") == ContentRangeValue{900, 999, 1000});
  CHECK(ParseContentRange("bytes 5-5/6") == ContentRangeValue{5, 5, 6});
  CHECK(ParseContentRange("bytes 0-18446744073709551614/18446744073709551615") ==
        ContentRangeValue{0, 18446744073709551614ull, 18446744073709551615ull});
  // It round-trips what this server sends.
  CHECK(ParseContentRange(ContentRange({900, 999}, 1000)) == ContentRangeValue{900, 999, 1000});

  for (const char* bad : {
           "",                                // empty
           "bytes",                           // no range
           "bytes ",                          // no range
           "bytes */1000",                    // the 416 form
           "bytes 0-9/*",                     // unknown size
           "bytes 0-9",                       // no size
           "bytes 0/10",                      // no dash
           "bytes 9-0/10",                    // last < first
           "bytes 0-10/10",                   // last beyond the body
           "bytes 0-0/0",                     // an empty body has no bytes
           "bytes -1-9/10",                   // sign
           "bytes +1-9/10",                   // sign
           "bytes  0-9/10",                   // two spaces
           "bytes 0 -9/10",                   // space inside
           "bytes 0-9/10 ",                   // trailing space
           "Bytes 0-9/10",                    // unit is case-sensitive here
           "bytes=0-9/10",                    // the request form
           "items 0-9/10",                    // another unit
           "bytes 0-9/1/0",                   // two slashes
           "bytes 0-9-/10",                   // two dashes
           "bytes 0x0-9/10",                  // hex
           "bytes 0-9/18446744073709551616",  // does not fit in 64 bits
       }) {
    CAPTURE(bad);
    CHECK(ParseContentRange(bad) == std::nullopt);
  }
}

}  // namespace
}  // namespace spegel::http
