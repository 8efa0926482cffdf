#include "http/response_parser.h"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

namespace spegel::http {
namespace {

struct Parsed {
  ResponseParser::Event event = ResponseParser::Event::kNeedMore;
  size_t consumed = 0;
  std::string body;
};

// Feeds `text` in pieces of `step` bytes (0 = all at once), collecting the body, until the
// parser stops needing more.
Parsed FeedAll(ResponseParser& parser, std::string_view text, size_t step = 0) {
  Parsed out;
  if (step == 0) step = text.empty() ? 1 : text.size();
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t n = std::min(step, text.size() - pos);
    const auto r = parser.Feed(text.data() + pos, n);
    out.body += parser.body();
    CHECK(parser.body().size() <= n);  // Never more body than input.
    parser.ClearBody();
    pos += r.consumed;
    out.consumed = pos;
    out.event = r.event;
    if (r.event != ResponseParser::Event::kNeedMore) break;
  }
  return out;
}

TEST_CASE("ResponseParser: Content-Length body, headers, consumed stops at the end") {
  ResponseParser p(16 * 1024, false);
  const std::string text =
      "HTTP/1.1 200 OK\r\nContent-Type:  text/plain \r\nX-A: b\r\nContent-Length: 5\r\n\r\n"
      "helloEXTRA";
  const Parsed r = FeedAll(p, text);
  CHECK(r.event == ResponseParser::Event::kComplete);
  CHECK(r.consumed == text.size() - 5);
  CHECK(r.body == "hello");
  REQUIRE(p.head_complete());
  CHECK(p.response().status == 200);
  REQUIRE(p.response().content_length.has_value());
  CHECK(*p.response().content_length == 5);
  CHECK(p.response().Header("content-type") == std::optional<std::string_view>("text/plain"));
  CHECK(p.response().Header("x-a") == std::optional<std::string_view>("b"));
  CHECK_FALSE(p.response().Header("missing").has_value());
  CHECK(p.body_bytes() == 5);
  // Complete is terminal and consumes nothing more.
  const auto again = p.Feed("x", 1);
  CHECK(again.event == ResponseParser::Event::kComplete);
  CHECK(again.consumed == 0);
}

TEST_CASE("ResponseParser: byte-by-byte feeding gives the same result") {
  ResponseParser p(16 * 1024, false);
  const Parsed r = FeedAll(p, "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nabc", 1);
  CHECK(r.event == ResponseParser::Event::kComplete);
  CHECK(r.body == "abc");
  CHECK(p.response().status == 404);
}

TEST_CASE("ResponseParser: chunked body is decoded; trailers are dropped") {
  const std::string text =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n";
  for (size_t step : {size_t{0}, size_t{1}, size_t{3}}) {
    ResponseParser q(16 * 1024, false);
    const Parsed r = FeedAll(q, text, step);
    CHECK(r.event == ResponseParser::Event::kComplete);
    CHECK(r.body == "hello, world");
    CHECK_FALSE(q.response().content_length.has_value());
    CHECK_FALSE(q.response().Header("X-Trailer").has_value());
  }
}

TEST_CASE("ResponseParser: interim 1xx responses are skipped; 101 is refused") {
  ResponseParser p(16 * 1024, false);
  const Parsed r =
      FeedAll(p,
              "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n"
              "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok");
  CHECK(r.event == ResponseParser::Event::kComplete);
  CHECK(p.response().status == 201);
  CHECK_FALSE(p.response().Header("Link").has_value());
  CHECK(r.body == "ok");

  ResponseParser q(16 * 1024, false);
  const Parsed u = FeedAll(q,
                           "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n"
                           "Connection: upgrade\r\n\r\n");
  CHECK(u.event == ResponseParser::Event::kError);
  CHECK(q.error().code() == Code::kDataLoss);
}

TEST_CASE("ResponseParser: HEAD responses have no body whatever they announce") {
  ResponseParser p(16 * 1024, true);
  const std::string text = "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n";
  const Parsed r = FeedAll(p, text + "HTTP/1.1 200 OK");
  CHECK(r.event == ResponseParser::Event::kComplete);
  CHECK(r.consumed == text.size());
  CHECK(r.body.empty());
  REQUIRE(p.response().content_length.has_value());
  CHECK(*p.response().content_length == 1234);
}

TEST_CASE("ResponseParser: `Connection: close` anywhere makes a response not reusable") {
  // Issue 30 (row 6b): llhttp keeps an HTTP/1.0 connection that says both `keep-alive` and
  // `close`, and the pool parked a connection its peer was closing.
  for (const char* connection :
       {"Connection: keep-alive\r\nConnection: close\r\n", "Connection: close, keep-alive\r\n",
        "Connection: keep-alive, close\r\n", "Connection: close\r\nConnection: keep-alive\r\n"}) {
    for (const char* version : {"1.0", "1.1"}) {
      ResponseParser p(16 * 1024, false);
      const std::string text = std::string("HTTP/") + version + " 200 OK\r\n" + connection +
                               "Content-Length: 1\r\n\r\na";
      CAPTURE(text);
      CHECK(FeedAll(p, text).event == ResponseParser::Event::kComplete);
      CHECK(p.complete());
      CHECK_FALSE(p.reusable());
    }
  }
  ResponseParser kept(16 * 1024, false);
  CHECK(FeedAll(kept, "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\na")
            .event == ResponseParser::Event::kComplete);
  CHECK(kept.reusable());
}

TEST_CASE("ResponseParser: 204 and 304 have no body") {
  for (const char* text :
       {"HTTP/1.1 204 No Content\r\n\r\n", "HTTP/1.1 304 Not Modified\r\n\r\n"}) {
    ResponseParser p(16 * 1024, false);
    const Parsed r = FeedAll(p, text);
    CHECK(r.event == ResponseParser::Event::kComplete);
    CHECK(r.body.empty());
  }
}

TEST_CASE("ResponseParser: a close-delimited body completes at EOF") {
  ResponseParser p(16 * 1024, false);
  const Parsed r = FeedAll(p, "HTTP/1.1 200 OK\r\n\r\nuntil close");
  CHECK(r.event == ResponseParser::Event::kNeedMore);
  CHECK(r.body == "until close");
  CHECK_FALSE(p.response().content_length.has_value());
  CHECK(p.Finish() == ResponseParser::Event::kComplete);
  CHECK(p.complete());
}

TEST_CASE("ResponseParser: EOF before the end is an error naming what was missing") {
  {
    ResponseParser p(16 * 1024, false);
    CHECK(p.Finish() == ResponseParser::Event::kError);
    CHECK(p.error().code() == Code::kDataLoss);
    CHECK(p.error().message().find("before any response byte") != std::string::npos);
  }
  {
    ResponseParser p(16 * 1024, false);
    FeedAll(p, "HTTP/1.1 200 OK\r\nContent-Le");
    CHECK(p.Finish() == ResponseParser::Event::kError);
    CHECK(p.error().message().find("inside the response head") != std::string::npos);
  }
  {
    ResponseParser p(16 * 1024, false);
    FeedAll(p, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    CHECK(p.Finish() == ResponseParser::Event::kError);
    CHECK(p.error().message().find("after 3 of 10 body bytes") != std::string::npos);
  }
  {
    ResponseParser p(16 * 1024, false);
    FeedAll(p, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab");
    CHECK(p.Finish() == ResponseParser::Event::kError);
    CHECK(p.error().code() == Code::kDataLoss);
  }
}

TEST_CASE("ResponseParser: malformed responses are errors, and errors are terminal") {
  const char* cases[] = {
      "garbage\r\n\r\n",
      "HTTP/2.0 200 OK\r\n\r\n",
      "HTTP/1.1 2000 OK\r\n\r\n",
      "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
      "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n",
  };
  for (const char* text : cases) {
    CAPTURE(text);
    ResponseParser p(16 * 1024, false);
    const Parsed r = FeedAll(p, text);
    CHECK(r.event == ResponseParser::Event::kError);
    CHECK_FALSE(p.error().ok());
    const auto again = p.Feed("HTTP/1.1 200 OK\r\n\r\n", 19);
    CHECK(again.event == ResponseParser::Event::kError);
    CHECK(again.consumed == 0);
  }
}

TEST_CASE("ResponseParser: head and trailer limits") {
  {
    ResponseParser p(64, false);
    const Parsed r = FeedAll(p, "HTTP/1.1 200 OK\r\nX-Long: " + std::string(100, 'a') + "\r\n\r\n",
                             7);
    CHECK(r.event == ResponseParser::Event::kError);
    CHECK(p.error().code() == Code::kResourceExhausted);
  }
  {
    // Many small headers add up.
    std::string text = "HTTP/1.1 200 OK\r\n";
    for (int i = 0; i < 20; ++i) text += "A: b\r\n";
    ResponseParser p(64, false);
    CHECK(FeedAll(p, text).event == ResponseParser::Event::kError);
  }
  {
    // The exact boundary: "OK" (2) + 3 * ("X" "y" + 4) + ("Content-Length" "0" + 4) = 39.
    const std::string text = "HTTP/1.1 200 OK\r\nX: y\r\nX: y\r\nX: y\r\nContent-Length: 0\r\n\r\n";
    ResponseParser p(38, false);
    CHECK(FeedAll(p, text).event == ResponseParser::Event::kError);
    ResponseParser q(39, false);
    CHECK(FeedAll(q, text).event == ResponseParser::Event::kComplete);
  }
  {
    // Endless trailers are refused too.
    std::string text = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n";
    for (int i = 0; i < 100; ++i) text += "T: v\r\n";
    ResponseParser p(128, false);
    const Parsed r = FeedAll(p, text);
    CHECK(r.event == ResponseParser::Event::kError);
    CHECK(p.error().code() == Code::kResourceExhausted);
    CHECK(p.error().message().find("trailers") != std::string::npos);
  }
  {
    // Endless interim responses never grow the head budget beyond one head.
    std::string text;
    for (int i = 0; i < 1000; ++i) text += "HTTP/1.1 100 Continue\r\n\r\n";
    ResponseParser p(64, false);
    CHECK(FeedAll(p, text).event == ResponseParser::Event::kNeedMore);
    CHECK_FALSE(p.head_complete());
  }
}

}  // namespace
}  // namespace spegel::http
