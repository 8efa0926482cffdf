// Fuzzes response framing on a kept-alive connection, as the pooled client meets it: responses
// follow each other on one byte stream, each parsed by a fresh ResponseParser (one per exchange)
// from the first byte the previous one did not consume, and only while the previous one was
// reusable(). Input: byte 0 sets the read size, byte 1 which of the first 8 requests were HEAD,
// the rest is what the peer sent.
//
// Invariants: a reusable response is complete; its body is exactly its Content-Length (a
// non-HEAD answer that announces one); a response carrying `Connection: close` is never reusable;
// consumed bytes never exceed the input, so no byte belongs to two responses; the sequence ends.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "http/request.h"
#include "http/response_parser.h"

namespace {

bool SaysClose(const spegel::http::ClientResponse& response) {
  for (const auto& h : response.headers) {
    if (spegel::http::EqualsIgnoreCase(h.name, "Connection") &&
        spegel::http::EqualsIgnoreCase(h.value, "close")) {
      return true;
    }
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t chunk = 1 + (data[0] & 0x7f);
  const uint8_t head_mask = data[1];
  const char* bytes = reinterpret_cast<const char*>(data + 2);
  const size_t len = size - 2;

  size_t pos = 0;
  for (int index = 0; index < 64 && pos < len; ++index) {
    const bool head_request = index < 8 && (head_mask >> index) & 1;
    spegel::http::ResponseParser parser(1024, head_request);
    uint64_t body = 0;
    bool ended = false;
    while (pos < len && !ended) {
      const size_t n = chunk < len - pos ? chunk : len - pos;
      const auto r = parser.Feed(bytes + pos, n);
      if (r.consumed > n) abort();
      body += parser.body().size();
      parser.ClearBody();
      pos += r.consumed;
      ended = r.event != spegel::http::ResponseParser::Event::kNeedMore;
      if (r.event == spegel::http::ResponseParser::Event::kNeedMore && r.consumed != n) abort();
    }
    if (!ended) {
      // The stream ended inside this response: EOF. A response that needs the close to end is
      // complete then, but the connection is gone.
      parser.Finish();
      if (parser.reusable() && parser.body_bytes() != body) abort();
      return 0;
    }
    if (!parser.reusable()) return 0;  // The client closes the connection here.
    if (!parser.complete()) abort();
    const auto& response = parser.response();
    if (SaysClose(response)) abort();
    if (response.content_length && !head_request && response.status != 204 &&
        response.status != 304 && body != *response.content_length) {
      abort();
    }
  }
  if (pos > len) abort();
  return 0;
}
