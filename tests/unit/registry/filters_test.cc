#include "registry/filters.h"

#include <doctest/doctest.h>

namespace spegel::registry {

TEST_CASE("registry filters") {
  RegistryFilters all;
  CHECK(all.Allows("docker.io/library/nginx:latest"));

  auto latest = RegistryFilters::Create({}, {":latest$", "^ghcr\\.io/private/"});
  REQUIRE(latest.ok());
  CHECK_FALSE(latest->Allows("docker.io/library/nginx:latest"));
  CHECK(latest->Allows("docker.io/library/nginx:1.25"));
  CHECK(latest->Allows("docker.io/library/nginx"));
  CHECK_FALSE(latest->Allows("ghcr.io/private/app:1"));
  CHECK(latest->Allows("ghcr.io/public/app:1"));

  auto only = RegistryFilters::Create({"https://docker.io", "http://10.0.0.2:5000"}, {});
  REQUIRE(only.ok());
  CHECK(only->Allows("docker.io/library/nginx:1"));
  CHECK(only->Allows("10.0.0.2:5000/demo/x:1"));
  CHECK_FALSE(only->Allows("ghcr.io/a/b:1"));
  CHECK(only->AllowsRegistry("docker.io"));
  CHECK_FALSE(only->AllowsRegistry("quay.io"));

  auto wildcard = RegistryFilters::Create({"_default"}, {});
  REQUIRE(wildcard.ok());
  CHECK(wildcard->Allows("quay.io/a/b:1"));

  auto bad_regex = RegistryFilters::Create({}, {"(unclosed"});
  CHECK(bad_regex.status().code() == Code::kInvalidArgument);
  CHECK(bad_regex.status().message().find("--registry-filters") != std::string::npos);
  CHECK_FALSE(RegistryFilters::Create({"ftp://x"}, {}).ok());
  CHECK_FALSE(RegistryFilters::Create({}, {""}).ok());
}

}  // namespace spegel::registry
