// registry::RequestContext: derived once per request, the same facts for every handler of the
// chain. The mirrored test is the one metrics and the registry once disagreed on: the header
// name matches in any case, the value only as exactly "true".
#include "registry/request_context.h"

#include <doctest/doctest.h>

#include "http/request_parser.h"

namespace spegel::registry {
namespace {

http::Request Parse(const std::string& target, const std::string& headers = "") {
  const std::string raw = "GET " + target + " HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n";
  http::RequestParser parser(http::ParserLimits{});
  auto r = parser.Feed(raw.data(), raw.size());
  REQUIRE(r.event == http::RequestParser::Event::kRequest);
  return parser.TakeRequest();
}

TEST_CASE("request context: api requests carry their parsed route, others none") {
  const std::string digest = "sha256:" + std::string(64, 'a');
  http::Request blob = Parse("/v2/lib/a/blobs/" + digest + "?ns=docker.io");
  const RequestContext& c = RequestContext::Of(blob);
  CHECK(c.api);
  CHECK(c.route.route.kind == RouteKind::kBlob);
  CHECK(c.route.route.registry == "docker.io");
  CHECK(c.route.route.repository == "lib/a");
  CHECK(c.route.route.digest->str() == digest);
  CHECK_FALSE(c.route.error.has_value());

  http::Request version = Parse("/v2");
  CHECK(RequestContext::Of(version).api);
  CHECK(RequestContext::Of(version).route.route.kind == RouteKind::kApiVersion);

  http::Request bad = Parse("/v2/x/blobs/sha256:ABC");
  CHECK(RequestContext::Of(bad).route.error == RouteError::kDigestInvalid);

  for (const char* other : {"/readyz", "/v2x", "/debug/index", "/"}) {
    CAPTURE(other);
    http::Request r = Parse(other);
    CHECK_FALSE(RequestContext::Of(r).api);
    CHECK(RequestContext::Of(r).route.route.kind == RouteKind::kUnknown);
  }
}

TEST_CASE("request context: derived once, the same object for every later reader") {
  http::Request r = Parse("/v2/lib/a/manifests/v1", "X-Spegel-Mirrored: true\r\n");
  const RequestContext& first = RequestContext::Of(r);
  const RequestContext& second = RequestContext::Of(r);
  CHECK(&first == &second);
  CHECK(first.mirrored);
}

TEST_CASE("request context: mirrored by header name in any case, value exactly \"true\"") {
  for (const char* header : {"X-Spegel-Mirrored: true", "x-spegel-mirrored: true",
                             "X-SPEGEL-MIRRORED: true", "x-Spegel-MIRRORED:   true  "}) {
    CAPTURE(header);
    http::Request r = Parse("/v2/lib/a/manifests/v1", std::string(header) + "\r\n");
    CHECK(RequestContext::Of(r).mirrored);
  }
  for (const char* header :
       {"X-Spegel-Mirrored: TRUE", "X-Spegel-Mirrored: True", "X-Spegel-Mirrored: false",
        "X-Spegel-Mirrored: 1", "X-Spegel-Mirrored:", "X-Spegel-Mirrored-Not: true"}) {
    CAPTURE(header);
    http::Request r = Parse("/v2/lib/a/manifests/v1", std::string(header) + "\r\n");
    CHECK_FALSE(RequestContext::Of(r).mirrored);
  }
  http::Request none = Parse("/v2/lib/a/manifests/v1");
  CHECK_FALSE(RequestContext::Of(none).mirrored);
}

}  // namespace
}  // namespace spegel::registry
