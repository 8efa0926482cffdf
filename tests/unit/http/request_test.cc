#include "http/request.h"

#include <doctest/doctest.h>

#include "http/request_parser.h"

namespace spegel::http {
namespace {

Request Parse(std::string_view text) {
  RequestParser parser(ParserLimits{});
  const auto r = parser.Feed(text.data(), text.size());
  REQUIRE(r.event == RequestParser::Event::kRequest);
  return parser.TakeRequest();
}

TEST_CASE("Request splits path and query and keeps them undecoded") {
  Request r = Parse(
      "GET /v2/a%2Fb/manifests/latest?ns=docker.io&x=%20 HTTP/1.1\r\nHost: h\r\n\r\n");
  CHECK(r.method() == Method::kGet);
  CHECK(r.method_name() == "GET");
  CHECK(r.target() == "/v2/a%2Fb/manifests/latest?ns=docker.io&x=%20");
  CHECK(r.path() == "/v2/a%2Fb/manifests/latest");
  CHECK(r.query() == "ns=docker.io&x=%20");

  Request plain = Parse("HEAD /v2/ HTTP/1.1\r\n\r\n");
  CHECK(plain.method() == Method::kHead);
  CHECK(plain.path() == "/v2/");
  CHECK(plain.query().empty());
}

TEST_CASE("Request header lookup is case-insensitive and returns the first value") {
  Request r = Parse(
      "GET / HTTP/1.1\r\nX-Spegel-Mirrored: true\r\nRange:  bytes=0-1  \r\nx-dup: 1\r\n"
      "X-Dup: 2\r\nEmpty:\r\n\r\n");
  CHECK(r.Header("x-spegel-mirrored").value() == "true");
  CHECK(r.Header("RANGE").value() == "bytes=0-1");
  CHECK(r.Header("X-DUP").value() == "1");
  REQUIRE(r.Header("empty").has_value());
  CHECK(r.Header("empty").value().empty());
  CHECK_FALSE(r.Header("missing").has_value());
  CHECK(r.headers().size() == 5);
}

TEST_CASE("Request keeps each derived value: derived once per type, stable, copied with it") {
  Request r = Parse("GET /x HTTP/1.1\r\nHost: h\r\n\r\n");
  struct Path {
    std::string value;
  };
  struct Count {
    int value;
  };
  int derivations = 0;
  auto derive_path = [&] {
    ++derivations;
    return Path{std::string(r.path())};
  };
  const Path& first = r.Derived<Path>(derive_path);
  CHECK(first.value == "/x");
  // Another type does not move or replace the first, and the first is not derived again.
  CHECK(r.Derived<Count>([] { return Count{7}; }).value == 7);
  const Path& again = r.Derived<Path>(derive_path);
  CHECK(&again == &first);
  CHECK(derivations == 1);
  CHECK(r.Derived<Count>([] { return Count{8}; }).value == 7);

  const Request copy = r;
  CHECK(copy.Derived<Path>(derive_path).value == "/x");
  CHECK(&copy.Derived<Path>(derive_path) != &first);
  CHECK(derivations == 1);
  // A request parsed afresh has derived nothing.
  const Request fresh = Parse("GET /y HTTP/1.1\r\nHost: h\r\n\r\n");
  CHECK(fresh.Derived<Count>([] { return Count{1}; }).value == 1);
}

TEST_CASE("EqualsIgnoreCase compares ASCII only") {
  CHECK(EqualsIgnoreCase("Content-Length", "content-length"));
  CHECK_FALSE(EqualsIgnoreCase("Content-Length", "content-lengt"));
  CHECK_FALSE(EqualsIgnoreCase("a", "b"));
}

}  // namespace
}  // namespace spegel::http
