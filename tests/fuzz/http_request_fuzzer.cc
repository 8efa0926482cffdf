// Fuzzes the request path of the HTTP server without sockets: arbitrary bytes go through
// RequestParser exactly as a connection feeds them (requests taken one at a time, the rest fed
// again), in chunks whose sizes come from the first input byte, and each request is inspected
// the way a handler would (path, query, header lookups, Range parsing). The parser must never
// crash, never loop, and keep its limits.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "http/range.h"
#include "http/request_parser.h"
#include "http/response.h"

namespace {

void Inspect(const spegel::http::Request& request, spegel::http::ParserLimits limits) {
  if (request.target().size() > limits.max_url_bytes) abort();
  (void)request.path();
  (void)request.query();
  if (auto range = request.Header("Range")) {
    const auto r = spegel::http::ParseRange(*range, 1000);
    if (r.outcome == spegel::http::RangeOutcome::kSatisfiable &&
        (r.range.first < 0 || r.range.last >= 1000 || r.range.first > r.range.last)) {
      abort();
    }
  }
  (void)request.Header("Host");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t chunk = 1 + data[0] % 64;
  const char* bytes = reinterpret_cast<const char*>(data + 1);
  const size_t len = size - 1;

  spegel::http::ParserLimits limits;
  limits.max_header_bytes = 2048;
  limits.max_url_bytes = 512;
  limits.max_body_bytes = 256;
  spegel::http::RequestParser parser(limits);

  // Mimics the connection: bytes arrive `chunk` at a time; unconsumed bytes stay buffered.
  size_t pos = 0;
  size_t available = chunk < len ? chunk : len;
  for (size_t guard = 0; guard < 4 * len + 16; ++guard) {
    const auto r = parser.Feed(bytes + pos, available - pos);
    pos += r.consumed;
    if (pos > available) abort();
    switch (r.event) {
      case spegel::http::RequestParser::Event::kError: {
        const std::string response = spegel::http::ErrorResponse(parser.error_status(),
                                                                 parser.error_reason());
        if (response.empty()) abort();
        return 0;
      }
      case spegel::http::RequestParser::Event::kRequest:
        Inspect(parser.TakeRequest(), limits);
        break;
      case spegel::http::RequestParser::Event::kContinue: break;
      case spegel::http::RequestParser::Event::kNeedMore:
        if (available == len) return 0;
        available = available + chunk < len ? available + chunk : len;
        break;
    }
  }
  abort();  // No progress: the parser looped.
}
