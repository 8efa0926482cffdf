// Fuzzes the HTTP client's response path without sockets: arbitrary bytes go through
// ResponseParser exactly as the client feeds them (reads of a few bytes, body taken after each
// Feed, EOF at the end), with the read size and the HEAD flag taken from the first input byte.
// The parser must never crash or loop, never produce more body than it was given, keep its head
// limit, and after kComplete never produce more.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "http/response_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t chunk = 1 + (data[0] & 0x3f);
  const bool head_request = (data[0] & 0x40) != 0;
  const char* bytes = reinterpret_cast<const char*>(data + 1);
  const size_t len = size - 1;

  constexpr size_t kMaxHead = 1024;
  spegel::http::ResponseParser parser(kMaxHead, head_request);
  uint64_t body_total = 0;
  size_t pos = 0;
  bool done = false;
  while (pos < len && !done) {
    const size_t n = chunk < len - pos ? chunk : len - pos;
    const auto r = parser.Feed(bytes + pos, n);
    if (r.consumed > n) abort();
    if (parser.body().size() > n) abort();  // Decoded body never exceeds the input.
    body_total += parser.body().size();
    parser.ClearBody();
    switch (r.event) {
      case spegel::http::ResponseParser::Event::kNeedMore:
        if (r.consumed != n) abort();
        break;
      case spegel::http::ResponseParser::Event::kComplete:
      case spegel::http::ResponseParser::Event::kError: done = true; break;
    }
    pos += r.consumed;
  }
  if (!done) parser.Finish();
  if (body_total != parser.body_bytes()) abort();
  if (parser.head_complete()) {
    const auto& response = parser.response();
    if (response.status < 200 || response.status > 599) abort();
    size_t head_bytes = 0;
    for (const auto& h : response.headers) head_bytes += h.name.size() + h.value.size();
    if (head_bytes > kMaxHead) abort();
    (void)response.Header("Content-Type");
    if (head_request && body_total != 0) abort();
    if (parser.complete() && response.content_length && !head_request && response.status != 204 &&
        response.status != 304 && body_total != *response.content_length) {
      abort();
    }
  }
  if (parser.complete()) {
    // Terminal: nothing more is consumed.
    if (parser.Feed("HTTP/1.1 200 OK\r\n\r\n", 19).consumed != 0) abort();
  }
  return 0;
}
