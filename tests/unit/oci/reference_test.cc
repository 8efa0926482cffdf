#include "oci/reference.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace spegel::oci {
namespace {

const std::string kDigest = "sha256:" + std::string(64, 'a');
const std::string kOtherDigest = "sha256:" + std::string(64, 'b');

// "registry|repository|tag|digest" for a successful parse, or "ERROR" (after checking the code).
std::string Show(const Result<Reference>& r) {
  if (!r.ok()) {
    CHECK(r.status().code() == Code::kInvalidArgument);
    return "ERROR";
  }
  return r->registry + "|" + r->repository + "|" + r->tag + "|" +
         (r->digest ? r->digest->str() : "");
}

struct Case {
  std::string input;
  std::string want;
};

TEST_CASE("ParseImageName accepts fully qualified containerd names") {
  const std::vector<Case> cases = {
      {"docker.io/library/nginx:1.27", "docker.io|library/nginx|1.27|"},
      {"docker.io/library/ubuntu:latest", "docker.io|library/ubuntu|latest|"},
      {"example.com:2135/foo/bar:v1", "example.com:2135|foo/bar|v1|"},
      {"127.0.0.1/demo/s:v1", "127.0.0.1|demo/s|v1|"},
      {"127.0.0.1:5000/demo/s:v1", "127.0.0.1:5000|demo/s|v1|"},
      {"[::1]:5000/a:b", "[::1]:5000|a|b|"},
      {"[::1]:8080/foo/bar:x", "[::1]:8080|foo/bar|x|"},
      {"[fe80::1]/a:b", "[fe80::1]|a|b|"},
      {"localhost/x:y", "localhost|x|y|"},
      {"localhost:5000/x:y", "localhost:5000|x|y|"},
      {"registry:5000/team/app:1.0", "registry:5000|team/app|1.0|"},
      {"123456789012.dkr.ecr.eu-west-1.amazonaws.com/repo/app:2024.01",
       "123456789012.dkr.ecr.eu-west-1.amazonaws.com|repo/app|2024.01|"},
      {"public.ecr.aws/eks-distro/kubernetes/pause:v1.29.0-eks-1-29-1",
       "public.ecr.aws|eks-distro/kubernetes/pause|v1.29.0-eks-1-29-1|"},
      {"ghcr.io/a/b@" + kDigest, "ghcr.io|a/b||" + kDigest},
      {"ghcr.io/a/b:v1@" + kDigest, "ghcr.io|a/b|v1|" + kDigest},
      {"quay.io/a--b/c__d/e.f-g_h:TAG_1.0-rc", "quay.io|a--b/c__d/e.f-g_h|TAG_1.0-rc|"},
      {"EXAMPLE.com/a:b", "example.com|a|b|"},
      {"index.docker.io/library/nginx:1", "docker.io|library/nginx|1|"},
      {"registry-1.docker.io/library/nginx:1", "docker.io|library/nginx|1|"},
      {"docker.io/nginx:1", "docker.io|nginx|1|"},  // Fully qualified names are taken as written.
  };
  for (const Case& c : cases) {
    INFO("input: ", c.input);
    CHECK(Show(ParseImageName(c.input)) == c.want);
  }
}

TEST_CASE("ParseImageName rejects non-references without crashing") {
  const std::vector<std::string> bad = {
      "",
      "sha256:" + std::string(64, 'a'),                    // CRI image id record
      "nginx",                                             // missing registry
      "nginx:1.27",                                        // missing registry
      "library/nginx:1.27",                                // first component is not a host
      "https://docker.io/library/nginx:1",                 // scheme
      "http://127.0.0.1:5000/a:b",                         // scheme
      "docker.io/library/nginx",                           // no tag, no digest
      "::1/a:b",                                           // IPv6 without brackets
      "fe80::1:5000/a:b",                                  // IPv6 without brackets
      "[::1/a:b",                                          // unterminated bracket
      "[::g]/a:b",                                         // invalid IPv6
      "[::1]x/a:b",                                        // junk after bracket
      "docker.io/Library/nginx:1",                         // uppercase repository
      "docker.io/library/NGINX:1",                         // uppercase repository
      "docker.io/a___b:1",                                 // three underscores
      "docker.io/a.-b:1",                                  // mixed separator
      "docker.io/a..b:1",                                  // double dot
      "docker.io/-a:1",                                    // leading separator
      "docker.io/a-:1",                                    // trailing separator
      "docker.io/a//b:1",                                  // empty component
      "docker.io/a/:1",                                    // trailing slash
      "docker.io/:1",                                      // empty repository
      "docker.io/a:",                                      // empty tag
      "docker.io/a:.tag",                                  // tag starts with '.'
      "docker.io/a:" + std::string(129, 't'),              // tag too long
      "docker.io/a@sha256:abc",                            // short digest
      "docker.io/a@md5:d41d8cd98f00b204e9800998ecf8427e",  // unknown algorithm
      "docker.io/a:b@" + kDigest + "@" + kDigest,          // two digests
      "docker.io/a%2fb:1",                                 // percent
      "docker.io/a b:1",                                   // space
      "docker.io/a:b\n",                                   // newline
      std::string("docker.io/a\0b:c", 15),                 // NUL
      "example.com:0/a:b",                                 // port 0
      "example.com:65536/a:b",                             // port too big
      "example.com:080/a:b",                               // leading zero
      "example.com:/a:b",                                  // empty port
      "-example.com/a:b",                                  // label starts with '-'
      "exa_mple.com/a:b",                                  // underscore in host
      "1.2.3.999/a:b",                                     // not an IPv4 address
      "docker.io/" + std::string(250, 'a') + ":1",         // name longer than 255
      std::string(5000, 'a'),                              // long garbage
  };
  for (const std::string& input : bad) {
    INFO("input: ", input);
    CHECK(Show(ParseImageName(input)) == "ERROR");
  }
}

TEST_CASE("ParseImageName error messages name the problem") {
  CHECK(ParseImageName("nginx:1").status().message().find("missing registry") != std::string::npos);
  CHECK(ParseImageName("docker.io/Nginx:1").status().message().find("lowercase") !=
        std::string::npos);
  CHECK(ParseImageName("::1/a:b").status().message().find("brackets") != std::string::npos);
  CHECK(ParseImageName("https://x.io/a:b").status().message().find("scheme") != std::string::npos);
  CHECK(ParseImageName("docker.io/a___b:1").status().message().find("separator") !=
        std::string::npos);
}

TEST_CASE("Name length limit is exactly 255 bytes for registry/repository") {
  const std::string registry = "docker.io";  // 9 bytes + '/'
  CHECK(ParseImageName(registry + "/" + std::string(245, 'a') + ":1").ok());
  CHECK_FALSE(ParseImageName(registry + "/" + std::string(246, 'a') + ":1").ok());
  CHECK(IsValidRepository(std::string(255, 'a')));
  CHECK_FALSE(IsValidRepository(std::string(256, 'a')));
}

TEST_CASE("ParseImageName with the image target digest") {
  const Digest target = Digest::Parse(kDigest).value();
  CHECK(Show(ParseImageName("docker.io/library/nginx:1", target)) ==
        "docker.io|library/nginx|1|" + kDigest);
  CHECK(Show(ParseImageName("docker.io/library/nginx:1@" + kDigest, target)) ==
        "docker.io|library/nginx|1|" + kDigest);
  CHECK(Show(ParseImageName("docker.io/library/nginx@" + kDigest, target)) ==
        "docker.io|library/nginx||" + kDigest);
  // Digest mismatch between the name and the target.
  Result<Reference> mismatch = ParseImageName("docker.io/library/nginx:1@" + kOtherDigest, target);
  CHECK(Show(mismatch) == "ERROR");
  CHECK(mismatch.status().message().find("differs") != std::string::npos);
  CHECK(Show(ParseImageName("docker.io/library/nginx@" + kOtherDigest, target)) == "ERROR");
  // A bad name stays bad.
  CHECK(Show(ParseImageName("sha256:" + std::string(64, 'a'), target)) == "ERROR");
}

TEST_CASE("TagKey and ToString round-trip") {
  Reference r = ParseImageName("[::1]:5000/a/b:v1@" + kDigest).value();
  CHECK(r.TagKey() == "[::1]:5000/a/b:v1");
  CHECK(r.ToString() == "[::1]:5000/a/b:v1@" + kDigest);
  CHECK(ParseImageName(r.ToString()).value() == r);
  Reference d = ParseImageName("ghcr.io/x@" + kDigest).value();
  CHECK(d.ToString() == "ghcr.io/x@" + kDigest);
  Reference t = ParseImageName("index.docker.io/library/nginx:1").value();
  CHECK(t.ToString() == "docker.io/library/nginx:1");
}

TEST_CASE("ParseNormalizedName applies Docker's defaults") {
  const std::vector<Case> cases = {
      {"ubuntu", "docker.io|library/ubuntu|latest|"},
      {"ubuntu:22.04", "docker.io|library/ubuntu|22.04|"},
      {"foo/bar", "docker.io|foo/bar|latest|"},
      {"foo/bar/baz:1", "docker.io|foo/bar/baz|1|"},
      {"docker.io/ubuntu", "docker.io|library/ubuntu|latest|"},
      {"index.docker.io/ubuntu", "docker.io|library/ubuntu|latest|"},
      {"index.docker.io/foo/bar:1", "docker.io|foo/bar|1|"},
      {"localhost/x", "localhost|x|latest|"},
      {"localhost:5000/x", "localhost:5000|x|latest|"},
      {"example.com/x", "example.com|x|latest|"},
      {"[::1]:8080/x:y", "[::1]:8080|x|y|"},
      {"ubuntu@" + kDigest, "docker.io|library/ubuntu||" + kDigest},
      {"ubuntu:1@" + kDigest, "docker.io|library/ubuntu|1|" + kDigest},
  };
  for (const Case& c : cases) {
    INFO("input: ", c.input);
    CHECK(Show(ParseNormalizedName(c.input)) == c.want);
  }
  for (const std::string& bad :
       {std::string(""), std::string("Ubuntu"), std::string("https://docker.io/ubuntu"),
        std::string("ubuntu:"), std::string("a___b"), std::string("::1/a"),
        std::string("ubuntu@sha256:abc")}) {
    INFO("input: ", bad);
    CHECK(Show(ParseNormalizedName(bad)) == "ERROR");
  }
}

TEST_CASE("IsValidRepository follows the OCI name grammar") {
  for (const char* good : {"a", "a/b", "a0/b1/c2", "a.b", "a_b", "a__b", "a-b", "a--b", "a---b",
                           "library/nginx", "a.b_c__d-e--f/g"}) {
    INFO(good);
    CHECK(IsValidRepository(good));
  }
  for (const char* bad :
       {"",   "A",  "aB", "a___b", "a..b", "a._b", "a-.b", "a_-b",  "_a", "a_",     ".a",
        "a.", "/a", "a/", "a//b",  "a b",  "a:b",  "a@b",  "a%2fb", "..", "a/../b", "a/./b"}) {
    INFO(bad);
    CHECK_FALSE(IsValidRepository(bad));
  }
}

TEST_CASE("IsValidTag") {
  CHECK(IsValidTag("latest"));
  CHECK(IsValidTag("_"));
  CHECK(IsValidTag("V1.2.3-rc_1"));
  CHECK(IsValidTag(std::string(128, 'a')));
  CHECK_FALSE(IsValidTag(std::string(129, 'a')));
  CHECK_FALSE(IsValidTag(""));
  CHECK_FALSE(IsValidTag(".a"));
  CHECK_FALSE(IsValidTag("-a"));
  CHECK_FALSE(IsValidTag("a/b"));
  CHECK_FALSE(IsValidTag("a:b"));
  CHECK_FALSE(IsValidTag("a+b"));
}

TEST_CASE("NormalizeRegistryHost") {
  const std::vector<Case> good = {
      {"docker.io", "docker.io"},
      {"Docker.IO", "docker.io"},
      {"index.docker.io", "docker.io"},
      {"registry-1.docker.io", "docker.io"},
      {"index.docker.io:443", "index.docker.io:443"},
      {"example.com:2135", "example.com:2135"},
      {"127.0.0.1", "127.0.0.1"},
      {"127.0.0.1:5000", "127.0.0.1:5000"},
      {"[::1]", "[::1]"},
      {"[::1]:8080", "[::1]:8080"},
      {"[FE80::1]:65535", "[fe80::1]:65535"},
      {"localhost", "localhost"},
      {"registry", "registry"},
      {"registry:5000", "registry:5000"},
      {"a-b.c", "a-b.c"},
  };
  for (const Case& c : good) {
    INFO("input: ", c.input);
    Result<std::string> r = NormalizeRegistryHost(c.input);
    REQUIRE(r.ok());
    CHECK(*r == c.want);
    CHECK(NormalizeRegistryHost(*r).value() == *r);  // Idempotent.
  }
  for (const char* bad :
       {"",        ":",       ":5000",  "::1",       "::1:5000", "[::1", "[]",
        "[::1]:",  "[::1]:0", "[::1]x", "[1.2.3.4]", "a:b",      "a:0",  "a:65536",
        "a:00080", "a:+80",   "-a",     "a-",        "a..b",     ".a",   "a.",
        "a_b",     "a/b",     "a b",    "1.2.3.256", "10.1"}) {
    INFO("input: ", bad);
    Result<std::string> r = NormalizeRegistryHost(bad);
    CHECK_FALSE(r.ok());
    if (!r.ok()) CHECK(r.status().code() == Code::kInvalidArgument);
  }
  CHECK_FALSE(NormalizeRegistryHost(std::string(64, 'a') + ".com").ok());  // Label over 63.
  CHECK(NormalizeRegistryHost(std::string(63, 'a') + ".com").ok());
}

}  // namespace
}  // namespace spegel::oci
