#include "http/request_parser.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace spegel::http {
namespace {

using Event = RequestParser::Event;

// Feeds `text` and collects every request; stops at the first error and returns its status
// (0 when none).
struct Run {
  std::vector<Request> requests;
  int continues = 0;
  int error = 0;
};

Run FeedAll(std::string_view text, ParserLimits limits = {}, size_t chunk = 0) {
  RequestParser parser(limits);
  Run run;
  size_t pos = 0;
  size_t available = chunk == 0 ? text.size() : std::min(chunk, text.size());
  for (int guard = 0; guard < 100000; ++guard) {
    const auto r = parser.Feed(text.data() + pos, available - pos);
    pos += r.consumed;
    if (r.event == Event::kError) {
      run.error = parser.error_status();
      return run;
    }
    if (r.event == Event::kRequest) run.requests.push_back(parser.TakeRequest());
    if (r.event == Event::kContinue) ++run.continues;
    if (r.event == Event::kNeedMore) {
      if (available == text.size()) return run;
      available = chunk == 0 ? text.size() : std::min(available + chunk, text.size());
    }
  }
  FAIL("parser did not make progress");
  return run;
}

TEST_CASE("Pipelined requests stop exactly at each request boundary") {
  const std::string a = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string b = "HEAD /b HTTP/1.1\r\n\r\n";
  const std::string all = a + b + "GET /c HTTP/1.1\r\n\r\n";
  RequestParser parser(ParserLimits{});
  auto r = parser.Feed(all.data(), all.size());
  CHECK(r.event == Event::kRequest);
  CHECK(r.consumed == a.size());
  CHECK(parser.TakeRequest().target() == "/a");
  r = parser.Feed(all.data() + a.size(), all.size() - a.size());
  CHECK(r.event == Event::kRequest);
  CHECK(r.consumed == b.size());
  CHECK(parser.TakeRequest().method() == Method::kHead);
  const size_t off = a.size() + b.size();
  r = parser.Feed(all.data() + off, all.size() - off);
  CHECK(r.event == Event::kRequest);
  CHECK(r.consumed == all.size() - off);
  CHECK(parser.TakeRequest().target() == "/c");
}

TEST_CASE("Byte-at-a-time feeding yields the same requests") {
  const std::string text =
      "GET /v2/x?ns=a HTTP/1.1\r\nHost: h\r\nRange: bytes=0-1\r\n\r\nGET /y HTTP/1.1\r\n\r\n";
  const Run run = FeedAll(text, {}, 1);
  REQUIRE(run.requests.size() == 2);
  CHECK(run.requests[0].target() == "/v2/x?ns=a");
  CHECK(run.requests[0].Header("range").value() == "bytes=0-1");
  CHECK(run.requests[1].target() == "/y");
  CHECK(run.error == 0);
}

TEST_CASE("Keep-alive follows the version and Connection header") {
  CHECK(FeedAll("GET / HTTP/1.1\r\n\r\n").requests.at(0).keep_alive());
  CHECK_FALSE(FeedAll("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").requests.at(0).keep_alive());
  const Run r10 = FeedAll("GET / HTTP/1.0\r\n\r\n");
  CHECK_FALSE(r10.requests.at(0).keep_alive());
  CHECK(r10.requests.at(0).version_minor() == 0);
  CHECK(FeedAll("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").requests.at(0).keep_alive());
  // `close` wins wherever it appears, also next to `keep-alive` (llhttp alone keeps an HTTP/1.0
  // connection then).
  for (const char* connection :
       {"Connection: keep-alive\r\nConnection: close\r\n", "Connection: close, keep-alive\r\n",
        "Connection: close\r\nConnection: keep-alive\r\n"}) {
    for (const char* version : {"1.0", "1.1"}) {
      const std::string text = std::string("GET / HTTP/") + version + "\r\n" + connection + "\r\n";
      CAPTURE(text);
      CHECK_FALSE(FeedAll(text).requests.at(0).keep_alive());
    }
  }
}

TEST_CASE("Limits map to 414, 431 and 413") {
  ParserLimits limits;
  limits.max_url_bytes = 32;
  limits.max_header_bytes = 128;
  limits.max_body_bytes = 10;
  CHECK(FeedAll("GET /" + std::string(32, 'a') + " HTTP/1.1\r\n\r\n", limits).error == 414);
  CHECK(FeedAll("GET /" + std::string(31, 'a') + " HTTP/1.1\r\n\r\n", limits).error == 0);
  CHECK(FeedAll("GET / HTTP/1.1\r\nX: " + std::string(200, 'v') + "\r\n\r\n", limits).error == 431);
  // Many small headers add up, and the limit holds even if the head never ends.
  std::string many = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 40; ++i) many += "A: b\r\n";
  CHECK(FeedAll(many, limits).error == 431);
  CHECK(FeedAll("GET / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", limits).error == 413);
  CHECK(FeedAll("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n"
                "0\r\n\r\n",
                limits)
            .error == 413);
}

TEST_CASE("Small request bodies are drained and the next request follows") {
  const Run run = FeedAll(
      "GET /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\n"
      "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /c HTTP/1.1\r\n\r\n");
  CHECK(run.error == 0);
  REQUIRE(run.requests.size() == 3);
  CHECK(run.requests[1].target() == "/b");
  CHECK(run.requests[2].target() == "/c");
}

// A gate that refuses heads whose target is /refuse and remembers what it was asked.
class TestGate : public BodyGate {
 public:
  HeadVerdict AdmitHead(Request& head) override {
    ++asked;
    body_seen_empty = head.body().empty();
    if (head.target() == "/refuse") return HeadVerdict::Refuse(401, "not you");
    return {};
  }
  int asked = 0;
  bool body_seen_empty = false;
};

ParserLimits KeepBodies(uint64_t max_body_bytes) {
  ParserLimits limits;
  limits.max_body_bytes = max_body_bytes;
  limits.keep_body = true;
  return limits;
}

TEST_CASE("Kept bodies: the gate sees each head with a body before any body byte") {
  TestGate gate;
  BodyBudget budget(1 << 20);
  RequestParser parser(KeepBodies(64 * 1024), &gate, &budget);
  const std::string refused = "POST /refuse HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
  const auto r = parser.Feed(refused.data(), refused.size());
  CHECK(r.event == Event::kError);
  CHECK(parser.error_status() == 401);
  CHECK(parser.error_reason() == "not you");
  CHECK(gate.asked == 1);
  CHECK(gate.body_seen_empty);
  CHECK(budget.used() == 0);
  // A refused head that asked for 100-continue gets no Continue, only the refusal.
  RequestParser waiting(KeepBodies(64 * 1024), &gate, &budget);
  const std::string expect =
      "POST /refuse HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n";
  CHECK(waiting.Feed(expect.data(), expect.size()).event == Event::kError);
  // No body, no question; discarded bodies (keep_body off) are not asked about either.
  RequestParser plain(KeepBodies(64 * 1024), &gate, &budget);
  for (const std::string text :
       {"GET /refuse HTTP/1.1\r\n\r\n", "POST /refuse HTTP/1.1\r\nContent-Length: 0\r\n\r\n"}) {
    CHECK(plain.Feed(text.data(), text.size()).event == Event::kRequest);
    CHECK(plain.TakeRequest().target() == "/refuse");
  }
  RequestParser discarding(ParserLimits{}, &gate, &budget);
  const std::string small = "POST /refuse HTTP/1.1\r\nContent-Length: 2\r\n\r\nok";
  CHECK(discarding.Feed(small.data(), small.size()).event == Event::kRequest);
  CHECK(gate.asked == 2);
}

TEST_CASE("Kept bodies: charged whole from the head, given back with the request") {
  TestGate gate;
  BodyBudget budget(64 * 1024);
  RequestParser parser(KeepBodies(64 * 1024), &gate, &budget);
  const std::string head = "POST /a HTTP/1.1\r\nContent-Length: 5000\r\n\r\n";
  auto r = parser.Feed(head.data(), head.size());
  CHECK(r.event == Event::kNeedMore);
  CHECK(budget.used() == 8192);  // Page-rounded: what the body's room can hold resident.
  const std::string body(5000, 'b');
  r = parser.Feed(body.data(), body.size());
  REQUIRE(r.event == Event::kRequest);
  {
    const Request request = parser.TakeRequest();
    CHECK(request.body() == body);
    CHECK(budget.used() == 8192);
  }
  CHECK(budget.used() == 0);
  // A body larger than what is left is refused from its head: 503, nothing charged.
  RequestParser holder(KeepBodies(64 * 1024), &gate, &budget);
  const std::string big = "POST /a HTTP/1.1\r\nContent-Length: 60000\r\n\r\n";
  CHECK(holder.Feed(big.data(), big.size()).event == Event::kNeedMore);
  CHECK(budget.used() == 61440);
  RequestParser late(KeepBodies(64 * 1024), &gate, &budget);
  CHECK(late.Feed(head.data(), head.size()).event == Event::kError);
  CHECK(late.error_status() == 503);
  CHECK(budget.used() == 61440);
  CHECK(budget.refusals() == 1);
  // A request given up halfway gives its charge back at once.
  holder.DropPartialRequest();
  CHECK(budget.used() == 0);
  // Above the per-request limit it is 413, before the gate is asked.
  const int asked = gate.asked;
  RequestParser over(KeepBodies(1000), &gate, &budget);
  CHECK(over.Feed(head.data(), head.size()).event == Event::kError);
  CHECK(over.error_status() == 413);
  CHECK(gate.asked == asked);
}

TEST_CASE("Kept bodies: a chunked body is charged as it grows") {
  BodyBudget budget(8192);
  const std::string head = "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string chunk = "1000\r\n" + std::string(4096, 'c') + "\r\n";
  {
    RequestParser parser(KeepBodies(64 * 1024), nullptr, &budget);
    CHECK(parser.Feed(head.data(), head.size()).event == Event::kNeedMore);
    CHECK(budget.used() == 0);
    const std::string two = chunk + chunk + "0\r\n\r\n";
    REQUIRE(parser.Feed(two.data(), two.size()).event == Event::kRequest);
    CHECK(budget.used() == 8192);
    CHECK(parser.TakeRequest().body() == std::string(8192, 'c'));
    CHECK(budget.used() == 0);
  }
  // The third page does not fit: 503, and what the body held goes back.
  RequestParser parser(KeepBodies(64 * 1024), nullptr, &budget);
  const std::string three = head + chunk + chunk + chunk;
  CHECK(parser.Feed(three.data(), three.size()).event == Event::kError);
  CHECK(parser.error_status() == 503);
  CHECK(budget.used() == 0);
}

TEST_CASE("Content-Length with Transfer-Encoding is rejected") {
  CHECK(FeedAll("GET / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
                "0\r\n\r\n")
            .error == 400);
  CHECK(
      FeedAll("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n").error ==
      400);
  CHECK(FeedAll("GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n").error == 400);
  CHECK(FeedAll("GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n").error == 400);
}

TEST_CASE("Expect: 100-continue pauses before the body") {
  const std::string head = "GET / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
  RequestParser parser(ParserLimits{});
  auto r = parser.Feed(head.data(), head.size());
  CHECK(r.event == Event::kContinue);
  CHECK(r.consumed == head.size());
  r = parser.Feed("ok", 2);
  CHECK(r.event == Event::kRequest);
  // Without a body there is nothing to continue.
  const Run none = FeedAll("GET / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n");
  CHECK(none.continues == 0);
  CHECK(none.requests.size() == 1);
  CHECK(FeedAll("GET / HTTP/1.1\r\nExpect: something\r\n\r\n").error == 417);
  // Too large: 413 instead of 100.
  ParserLimits small;
  small.max_body_bytes = 1;
  CHECK(FeedAll(head, small).error == 413);
}

TEST_CASE("Malformed request lines and methods") {
  CHECK(FeedAll("FOO / HTTP/1.1\r\n\r\n").error == 501);
  CHECK(FeedAll("CONNECT host:443 HTTP/1.1\r\n\r\n").error == 501);
  CHECK(FeedAll("\x16\x03\x01\x02\x00").error == 400);
  CHECK(FeedAll("GET / HTTP/1.1\r\nBad Header: x\r\n\r\n").error == 400);
  CHECK(FeedAll("GET / HTTP/2.0\r\n\r\n").error == 505);
  CHECK(FeedAll("GET / HTTP/1.1\rX\r\n\r\n").error == 400);  // Broken line end, not a version.
  CHECK(FeedAll("GET / FTP/1.1\r\n\r\n").error == 400);
  CHECK(FeedAll("GET  HTTP/1.1\r\n\r\n").error == 400);
  const Run post = FeedAll("POST /x HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  REQUIRE(post.requests.size() == 1);
  CHECK(post.requests[0].method() == Method::kPost);
  const Run other = FeedAll("PROPFIND /x HTTP/1.1\r\n\r\n");
  REQUIRE(other.requests.size() == 1);
  CHECK(other.requests[0].method() == Method::kOther);
  CHECK(other.requests[0].method_name() == "PROPFIND");
}

TEST_CASE("Errors are sticky") {
  RequestParser parser(ParserLimits{});
  const std::string bad = "BAD\x01 / HTTP/1.1\r\n\r\n";
  CHECK(parser.Feed(bad.data(), bad.size()).event == Event::kError);
  const std::string good = "GET / HTTP/1.1\r\n\r\n";
  const auto r = parser.Feed(good.data(), good.size());
  CHECK(r.event == Event::kError);
  CHECK(r.consumed == 0);
  CHECK(parser.error_status() == 400);
  CHECK_FALSE(parser.error_reason().empty());
}

TEST_CASE("in_message tracks a partial request") {
  RequestParser parser(ParserLimits{});
  CHECK_FALSE(parser.in_message());
  parser.Feed("GET / HT", 8);
  CHECK(parser.in_message());
  const auto r = parser.Feed("TP/1.1\r\n\r\n", 10);
  CHECK(r.event == Event::kRequest);
  CHECK_FALSE(parser.in_message());
}

}  // namespace
}  // namespace spegel::http
