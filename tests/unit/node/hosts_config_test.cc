#include "node/hosts_config.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "auth/basic_auth.h"

namespace spegel::node {
namespace {

const std::string kMark = std::string(kSpegelMarker) + "\n";

MirrorConfig Config(std::vector<std::string> registries, std::vector<std::string> targets) {
  MirrorConfig c;
  auto r = ParseMirroredRegistries(registries);
  REQUIRE(r.ok());
  c.registries = *r;
  auto t = ParseMirrorTargets(targets);
  REQUIRE(t.ok());
  c.targets = *t;
  return c;
}

std::string Render(const MirrorConfig& c, size_t i = 0, std::string_view existing = "") {
  REQUIRE(i < c.registries.size());
  return RenderHostsToml(c.registries[i], c, existing);
}

TEST_CASE("ParseRegistryUrl accepts http(s) host[:port] and normalises") {
  struct Case {
    const char* in;
    const char* url;
    const char* dir;
  };
  const Case cases[] = {
      {"https://docker.io", "https://docker.io", "docker.io"},
      {"https://docker.io/", "https://docker.io", "docker.io"},
      {"HTTP://foo:5000", "http://foo:5000", "foo:5000"},
      {"http://127.0.0.1:5000", "http://127.0.0.1:5000", "127.0.0.1:5000"},
      {"http://[::1]:5000", "http://[::1]:5000", "[::1]:5000"},
      {"http://[fd00::1]", "http://[fd00::1]", "[fd00::1]"},
      {"https://my_registry.example.com", "https://my_registry.example.com",
       "my_registry.example.com"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.in);
    auto url = ParseRegistryUrl(c.in, false, false);
    REQUIRE(url.ok());
    CHECK(url->ToString() == c.url);
    CHECK(url->DirName() == c.dir);
  }
}

TEST_CASE("ParseRegistryUrl rejects bad URLs with a message naming the value") {
  const char* bad[] = {"docker.io",
                       "ftp://docker.io",
                       "https://",
                       "https://user:pw@x",
                       "https://x/v2",
                       "https://x?a=b",
                       "https://x#f",
                       "http://x:",
                       "http://x:0",
                       "http://x:65536",
                       "http://x:12a",
                       "http://-x",
                       "http://x y",
                       "http://[::1",
                       "http://[::1]x",
                       "http://[zz::1]:80",
                       "http://fd00::1:30020",
                       "http://_backup",
                       "http://_default",
                       "",
                       "https://x//"};
  for (const char* text : bad) {
    CAPTURE(text);
    auto url = ParseRegistryUrl(text, false, false);
    REQUIRE_FALSE(url.ok());
    CHECK(url.status().code() == Code::kInvalidArgument);
    CHECK(url.status().message().find(std::string("\"") + text + "\"") != std::string::npos);
  }
}

TEST_CASE("wildcards: allowed for registries only; the IPv6 fix-up for targets") {
  CHECK(ParseRegistryUrl("_default", true, false)->wildcard);
  CHECK(ParseRegistryUrl("*", true, false)->DirName() == "_default");
  CHECK_FALSE(ParseRegistryUrl("*", false, true).ok());
  auto fixed = ParseRegistryUrl("http://fd00::1:30020", false, true);
  REQUIRE(fixed.ok());
  CHECK(fixed->ToString() == "http://[fd00::1]:30020");
}

TEST_CASE("ParseMirroredRegistries and ParseMirrorTargets") {
  auto empty = ParseMirroredRegistries({});
  REQUIRE(empty.ok());
  REQUIRE(empty->size() == 1);
  CHECK(empty->front().wildcard);

  auto two_wild = ParseMirroredRegistries({"_default", "*"});
  REQUIRE_FALSE(two_wild.ok());
  CHECK(two_wild.status().message().find("more than one wildcard") != std::string::npos);

  auto dup = ParseMirroredRegistries({"https://docker.io", "http://docker.io"});
  REQUIRE_FALSE(dup.ok());
  CHECK(dup.status().message().find("\"http://docker.io\" twice") != std::string::npos);

  auto wild_target = ParseMirrorTargets({"http://127.0.0.1:5000", "_default"});
  REQUIRE_FALSE(wild_target.ok());
  CHECK(wild_target.status().message().find("wildcard \"_default\"") != std::string::npos);

  auto none = ParseMirrorTargets({});
  REQUIRE_FALSE(none.ok());
  CHECK(none.status().message().find("--mirror-targets is required") != std::string::npos);

  auto ordered = ParseMirrorTargets({"http://127.0.0.2:5000", "http://127.0.0.1:5000"});
  REQUIRE(ordered.ok());
  CHECK((*ordered)[0].ToString() == "http://127.0.0.2:5000");
}

TEST_CASE("RenderHostsToml: several targets, docker.io mapped to registry-1") {
  auto c = Config({"https://docker.io", "http://foo.bar:5000"},
                  {"http://127.0.0.1:5000", "http://127.0.0.2:5000"});
  CHECK(Render(c, 0) == kMark +
                            "server = 'https://registry-1.docker.io'\n"
                            "\n"
                            "[host.'http://127.0.0.1:5000']\n"
                            "capabilities = ['pull', 'resolve']\n"
                            "dial_timeout = '200ms'\n"
                            "\n"
                            "[host.'http://127.0.0.2:5000']\n"
                            "capabilities = ['pull', 'resolve']\n"
                            "dial_timeout = '200ms'\n");
  CHECK(Render(c, 1) == kMark +
                            "server = 'http://foo.bar:5000'\n"
                            "\n"
                            "[host.'http://127.0.0.1:5000']\n"
                            "capabilities = ['pull', 'resolve']\n"
                            "dial_timeout = '200ms'\n"
                            "\n"
                            "[host.'http://127.0.0.2:5000']\n"
                            "capabilities = ['pull', 'resolve']\n"
                            "dial_timeout = '200ms'\n");
  CHECK(c.registries[0].DirName() == "docker.io");
  CHECK(c.registries[1].DirName() == "foo.bar:5000");
}

TEST_CASE("RenderHostsToml: a private registry's mirrors pull but never resolve tags") {
  auto c = Config({"https://docker.io", "https://registry.corp.example"},
                  {"http://127.0.0.1:5000"});
  auto priv = ParsePrivateRegistries({"https://registry.corp.example"});
  REQUIRE(priv.ok());
  c.pull_only.insert((*priv)[0].DirName());
  CHECK(Render(c, 0).find("capabilities = ['pull', 'resolve']\n") != std::string::npos);
  CHECK(Render(c, 1) == kMark +
                            "server = 'https://registry.corp.example'\n"
                            "\n"
                            "[host.'http://127.0.0.1:5000']\n"
                            "capabilities = ['pull']\n"
                            "dial_timeout = '200ms'\n");
  CHECK_FALSE(ParsePrivateRegistries({"_default"}).ok());
  CHECK_FALSE(ParsePrivateRegistries({"https://a.example", "http://a.example"}).ok());
  CHECK(ParsePrivateRegistries({}).ok());
}

TEST_CASE("RenderHostsToml: _default implicit and explicit has no server") {
  const std::string want = kMark +
                           "[host.'http://127.0.0.1:5000']\n"
                           "capabilities = ['pull', 'resolve']\n"
                           "dial_timeout = '200ms'\n";
  for (auto registries : std::vector<std::vector<std::string>>{{}, {"_default"}, {"*"}}) {
    auto c = Config(registries, {"http://127.0.0.1:5000"});
    REQUIRE(c.registries.size() == 1);
    CHECK(c.registries[0].DirName() == "_default");
    CHECK(Render(c) == want);
  }
}

TEST_CASE("RenderHostsToml: resolve off, no dial timeout, basic auth") {
  auto c = Config({"http://127.0.0.1:5001"}, {"http://127.0.0.1:5000", "http://[::1]:5000"});
  c.resolve_tags = false;
  c.dial_timeout = std::chrono::milliseconds(0);
  c.authorization = auth::BasicAuthorization({"hello", "world"});
  CHECK(c.authorization == "Basic aGVsbG86d29ybGQ=");
  CHECK(Render(c) == kMark +
                         "server = 'http://127.0.0.1:5001'\n"
                         "\n"
                         "[host.'http://127.0.0.1:5000']\n"
                         "capabilities = ['pull']\n"
                         "[host.'http://127.0.0.1:5000'.header]\n"
                         "Authorization = 'Basic aGVsbG86d29ybGQ='\n"
                         "\n"
                         "[host.'http://[::1]:5000']\n"
                         "capabilities = ['pull']\n"
                         "[host.'http://[::1]:5000'.header]\n"
                         "Authorization = 'Basic aGVsbG86d29ybGQ='\n");
}

TEST_CASE("BasicAuthorization base64 padding") {
  CHECK(auth::BasicAuthorization({"", ""}) == "Basic Og==");
  CHECK(auth::BasicAuthorization({"a", ""}) == "Basic YTo=");
  CHECK(auth::BasicAuthorization({"ab", ""}) == "Basic YWI6");
  CHECK(auth::BasicAuthorization({"user", ""}) == "Basic dXNlcjo=");
}

TEST_CASE("RenderHostsToml: existing host tables follow after a blank line") {
  auto c = Config({"https://docker.io"}, {"http://127.0.0.1:5000"});
  CHECK(Render(c, 0, "[host.'https://mirror.corp']\ncapabilities = ['pull']") ==
        kMark +
            "server = 'https://registry-1.docker.io'\n"
            "\n"
            "[host.'http://127.0.0.1:5000']\n"
            "capabilities = ['pull', 'resolve']\n"
            "dial_timeout = '200ms'\n"
            "\n"
            "[host.'https://mirror.corp']\n"
            "capabilities = ['pull']\n");
  CHECK(IsSpegelHostsToml(Render(c)));
  CHECK_FALSE(IsSpegelHostsToml("server = 'x'\n" + kMark));
}

TEST_CASE("ExtractHostTables keeps [host] tables verbatim and in order") {
  const std::string text =
      "# user comment\n"
      "server = \"https://registry-1.docker.io\"\n"
      "capabilities = [\n"
      "  \"pull\",   # [host.'not a header']\n"
      "  \"resolve\",\n"
      "]\n"
      "\n"
      "[host.\"https://mirror-a\"]\n"
      "  capabilities = [\"pull\", \"resolve\"]\n"
      "  ca = \"ca.crt\"\n"
      "  [host.\"https://mirror-a\".header]\n"
      "    x-custom = ['a', \"b]\"]\n"
      "\n"
      "[header]\n"
      "  x-root = '''\n"
      "[host.'inside a string']\n"
      "'''\n"
      "\n"
      "[ \"host\" . 'https://mirror-b' ]\n"
      "  skip_verify = true\n"
      "\n\n";
  auto got = ExtractHostTables(text);
  REQUIRE(got.ok());
  CHECK(*got ==
        "[host.\"https://mirror-a\"]\n"
        "  capabilities = [\"pull\", \"resolve\"]\n"
        "  ca = \"ca.crt\"\n"
        "  [host.\"https://mirror-a\".header]\n"
        "    x-custom = ['a', \"b]\"]\n"
        "\n"
        "[ \"host\" . 'https://mirror-b' ]\n"
        "  skip_verify = true");
}

TEST_CASE("ExtractHostTables: none, and text it cannot delimit") {
  CHECK(*ExtractHostTables("") == "");
  CHECK(*ExtractHostTables("server = 'https://x'\n") == "");
  CHECK(*ExtractHostTables("[hostx]\na = 1\n[[host]]\nb = 2\n") == "");
  CHECK(*ExtractHostTables("[host.'a']\nx = \"\"\"\nmulti\n\"\"\"\n") ==
        "[host.'a']\nx = \"\"\"\nmulti\n\"\"\"");
  const char* bad[] = {"server = 'x\n[host.'a']\n", "[host.'a'\n", "x = \"\"\"\nopen\n",
                       "x = [1,\n[host.'a']\n"};
  for (const char* text : bad) {
    CAPTURE(text);
    CHECK_FALSE(ExtractHostTables(text).ok());
  }
  CHECK_FALSE(ExtractHostTables(std::string("[host.'a']\n\0", 12)).ok());
}

}  // namespace
}  // namespace spegel::node
