#include "registry/route.h"

#include <doctest/doctest.h>

namespace spegel::registry {
namespace {

const std::string kHex(64, 'a');
const std::string kDigest = "sha256:" + kHex;

TEST_CASE("route: api version, manifests by tag and digest, blobs") {
  CHECK(ParseRoute("/v2/", "").route.kind == RouteKind::kApiVersion);
  CHECK(ParseRoute("/v2", "").route.kind == RouteKind::kApiVersion);

  auto tag = ParseRoute("/v2/library/nginx/manifests/1.27", "ns=docker.io");
  REQUIRE_FALSE(tag.error);
  CHECK(tag.route.kind == RouteKind::kManifest);
  CHECK(tag.route.registry == "docker.io");
  CHECK(tag.route.repository == "library/nginx");
  CHECK(tag.route.tag == "1.27");
  CHECK_FALSE(tag.route.digest);

  auto by_digest = ParseRoute("/v2/demo/s/manifests/" + kDigest, "ns=127.0.0.1%3A5000");
  REQUIRE_FALSE(by_digest.error);
  CHECK(by_digest.route.registry == "127.0.0.1:5000");
  CHECK(by_digest.route.digest->str() == kDigest);

  auto blob = ParseRoute("/v2/a/b/c/blobs/" + kDigest, "");
  REQUIRE_FALSE(blob.error);
  CHECK(blob.route.kind == RouteKind::kBlob);
  CHECK(blob.route.registry.empty());
  CHECK(blob.route.repository == "a/b/c");
}

TEST_CASE("route: path-style registries and ns normalisation") {
  auto p = ParseRoute("/v2/docker.io/library/nginx/manifests/1.27", "");
  REQUIRE_FALSE(p.error);
  CHECK(p.route.registry == "docker.io");
  CHECK(p.route.repository == "library/nginx");
  auto port = ParseRoute("/v2/127.0.0.1:5000/demo/x/manifests/v1", "");
  REQUIRE_FALSE(port.error);
  CHECK(port.route.registry == "127.0.0.1:5000");
  CHECK(port.route.repository == "demo/x");
  auto local = ParseRoute("/v2/localhost/x/blobs/" + kDigest, "");
  CHECK(local.route.registry == "localhost");
  // ns wins, and the name is then the repository exactly.
  auto both = ParseRoute("/v2/library/nginx/manifests/1", "ns=index.docker.io&x=1");
  CHECK(both.route.registry == "docker.io");
  // A plain first component is a repository component, not a registry.
  auto plain = ParseRoute("/v2/library/nginx/manifests/1", "");
  CHECK(plain.route.registry.empty());
  CHECK(plain.route.repository == "library/nginx");
}

TEST_CASE("route: invalid names, digests, tags and ns are refused with the right error") {
  struct Case {
    std::string path, query;
    RouteError error;
  };
  const Case cases[] = {
      {"/v2/a/../b/blobs/" + kDigest, "", RouteError::kNameInvalid},
      {"/v2/a/%2e%2e/b/blobs/" + kDigest, "", RouteError::kNameInvalid},
      {"/v2/a%2fb/blobs/" + kDigest, "", RouteError::kNameInvalid},
      {"/v2/UPPER/blobs/" + kDigest, "", RouteError::kNameInvalid},
      {"/v2//blobs/" + kDigest, "", RouteError::kNameInvalid},
      {"/v2/a/blobs/md5:abc", "", RouteError::kDigestInvalid},
      {"/v2/a/blobs/sha256:" + std::string(63, 'a'), "", RouteError::kDigestInvalid},
      {"/v2/a/blobs/sha256:" + std::string(64, 'A'), "", RouteError::kDigestInvalid},
      {"/v2/a/blobs/sha256:..%2f..%2fetc", "", RouteError::kDigestInvalid},
      {"/v2/a/blobs/latest", "", RouteError::kDigestInvalid},
      {"/v2/a/manifests/-bad", "", RouteError::kTagInvalid},
      {"/v2/a/manifests/" + std::string(129, 't'), "", RouteError::kTagInvalid},
      {"/v2/a/manifests/v1", "ns=%zz", RouteError::kNameInvalid},
      {"/v2/a/manifests/v1", "ns=a%2", RouteError::kNameInvalid},
      {"/v2/a/manifests/v1", "ns=bad host", RouteError::kNameInvalid},
      {"/v2/a/manifests/v1", "ns=%2e%2e%2f", RouteError::kNameInvalid},
  };
  for (const auto& c : cases) {
    CAPTURE(c.path);
    CAPTURE(c.query);
    auto r = ParseRoute(c.path, c.query);
    REQUIRE(r.error.has_value());
    CHECK(*r.error == c.error);
    CHECK_FALSE(r.message.empty());
  }
}

TEST_CASE("route: paths outside the pull API are unknown") {
  auto tags = ParseRoute("/v2/docker.io/library/a/tags/list", "");
  CHECK(tags.route.kind == RouteKind::kTagsList);
  CHECK(tags.route.registry == "docker.io");
  CHECK(tags.route.repository == "library/a");
  CHECK(ParseRoute("/v2/A/tags/list", "").error.has_value());
  for (const char* path :
       {"/", "/v1/", "/v2/_catalog", "/v2/a/tags", "/v2/a/blobs/uploads/", "/readyz", "/v2x"}) {
    CAPTURE(path);
    auto r = ParseRoute(path, "");
    if (std::string(path) == "/v2/a/blobs/uploads/") {
      // "uploads/" is not a digest.
      CHECK(r.error.has_value());
    } else {
      CHECK(r.route.kind == RouteKind::kUnknown);
    }
  }
}

TEST_CASE("route: query parameters are percent-decoded, first wins") {
  auto v = QueryParam("a=1&ns=127.0.0.1%3A5000&ns=other", "ns");
  REQUIRE(v.ok());
  CHECK(**v == "127.0.0.1:5000");
  CHECK_FALSE(QueryParam("a=1", "ns")->has_value());
  CHECK(**QueryParam("ns", "ns") == "");
  CHECK_FALSE(QueryParam("ns=%4", "ns").ok());
}

}  // namespace
}  // namespace spegel::registry
