// Fuzzes the request path of the HTTP server without sockets: arbitrary bytes go through
// RequestParser exactly as a connection feeds them (requests taken one at a time, the rest fed
// again), in chunks whose sizes come from the first input byte, and each request is inspected
// the way a handler would (path, query, header lookups, Range parsing). The parser must never
// crash, never loop, and keep its limits.
//
// Bit 6 of the first byte keeps bodies (as the router's server does), behind a gate that refuses
// heads with an X-Refuse header and a budget of one page; bit 7 holds each request until the next
// one is taken (an exchange still being answered), so the budget also refuses. Kept bodies must
// stay within the limit, the gate must see no body byte, and every charge must come back.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "http/range.h"
#include "http/request_parser.h"
#include "http/response.h"

namespace {

class Gate : public spegel::http::BodyGate {
 public:
  spegel::http::HeadVerdict AdmitHead(spegel::http::Request& head) override {
    if (!head.body().empty()) abort();
    if (head.Header("X-Refuse")) return spegel::http::HeadVerdict::Refuse(401, "refused");
    return {};
  }
};

void Inspect(const spegel::http::Request& request, spegel::http::ParserLimits limits) {
  if (request.target().size() > limits.max_url_bytes) abort();
  if (request.body().size() > (limits.keep_body ? limits.max_body_bytes : 0)) abort();
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

// Feeds `bytes` as a connection would.
void Run(const char* bytes, size_t len, size_t chunk, bool hold,
         const spegel::http::ParserLimits& limits, spegel::http::BodyGate* gate,
         spegel::http::BodyBudget* budget) {
  spegel::http::Request held;
  spegel::http::RequestParser parser(limits, gate, budget);

  // Mimics the connection: bytes arrive `chunk` at a time; unconsumed bytes stay buffered.
  size_t pos = 0;
  size_t available = chunk < len ? chunk : len;
  for (size_t guard = 0; guard < 4 * len + 16; ++guard) {
    const auto r = parser.Feed(bytes + pos, available - pos);
    pos += r.consumed;
    if (pos > available) abort();
    if (budget->used() > budget->limit()) abort();
    switch (r.event) {
      case spegel::http::RequestParser::Event::kError: {
        const std::string response = spegel::http::ErrorResponse(parser.error_status(),
                                                                 parser.error_reason());
        if (response.empty()) abort();
        return;
      }
      case spegel::http::RequestParser::Event::kRequest: {
        spegel::http::Request request = parser.TakeRequest();
        Inspect(request, limits);
        if (hold) held = std::move(request);
        break;
      }
      case spegel::http::RequestParser::Event::kContinue: break;
      case spegel::http::RequestParser::Event::kNeedMore:
        if (available == len) return;
        available = available + chunk < len ? available + chunk : len;
        break;
    }
  }
  abort();  // No progress: the parser looped.
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t chunk = 1 + data[0] % 64;
  const bool keep_body = (data[0] & 0x40) != 0;
  const bool hold = (data[0] & 0x80) != 0;

  spegel::http::ParserLimits limits;
  limits.max_header_bytes = 2048;
  limits.max_url_bytes = 512;
  limits.max_body_bytes = 256;
  limits.keep_body = keep_body;
  Gate gate;
  spegel::http::BodyBudget budget(4096);
  Run(reinterpret_cast<const char*>(data + 1), size - 1, chunk, hold, limits, &gate, &budget);
  if (budget.used() != 0) abort();  // Every charge came back with its request.
  return 0;
}
