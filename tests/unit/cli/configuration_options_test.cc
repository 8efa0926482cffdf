#include "cli/configuration_options.h"

#include <doctest/doctest.h>

#include <map>
#include <set>

#include "unit/cli/fake_env.h"

namespace spegel::cli {
namespace {

using spegel::cli::testing::Env;

Result<ConfigurationOptions> Parse(std::vector<std::string> args,
                                   std::map<std::string, std::string> env = {}) {
  bool help = false;
  std::string usage;
  return ParseConfigurationOptions(args, Env(std::move(env)), &help, &usage);
}

TEST_CASE("configuration options: defaults and upstream flag names") {
  auto o = Parse({"--mirror-targets", "http://127.0.0.1:5000"});
  REQUIRE(o.ok());
  CHECK(o->containerd_registry_config_path == "/etc/containerd/certs.d");
  CHECK(o->basic_auth_dir == "/etc/secrets/basic-auth");
  CHECK(o->mirror.resolve_tags);
  CHECK_FALSE(o->mirror.prepend_existing);
  CHECK(o->mirror.dial_timeout == std::chrono::milliseconds(200));
  REQUIRE(o->mirror.registries.size() == 1);
  CHECK(o->mirror.registries[0].wildcard);
  REQUIRE(o->mirror.targets.size() == 1);
  CHECK(o->mirror.targets[0].ToString() == "http://127.0.0.1:5000");

  auto full = Parse({"--containerd-registry-config-path", "/tmp/x", "--mirrored-registries",
                     "https://docker.io,http://127.0.0.1:5001", "--mirror-targets",
                     "http://127.0.0.1:5000", "--mirror-targets", "http://[::1]:5000",
                     "--resolve-tags=false", "--prepend-existing", "--dial-timeout", "0",
                     "--basic-auth-dir", "/tmp/auth"});
  REQUIRE(full.ok());
  CHECK(full->containerd_registry_config_path == "/tmp/x");
  CHECK(full->mirror.registries.size() == 2);
  CHECK(full->mirror.targets.size() == 2);
  CHECK_FALSE(full->mirror.resolve_tags);
  CHECK(full->mirror.prepend_existing);
  CHECK(full->mirror.dial_timeout.count() == 0);
  CHECK(full->basic_auth_dir == "/tmp/auth");
}

TEST_CASE("configuration options: environment twins (CSV lists)") {
  auto o = Parse({}, {{"MIRROR_TARGETS", "http://127.0.0.1:5000,http://127.0.0.2:5000"},
                      {"MIRRORED_REGISTRIES", "https://docker.io"},
                      {"CONTAINERD_REGISTRY_CONFIG_PATH", "/tmp/c"},
                      {"RESOLVE_TAGS", "false"}});
  REQUIRE(o.ok());
  CHECK(o->mirror.targets.size() == 2);
  CHECK(o->mirror.registries[0].DirName() == "docker.io");
  CHECK(o->containerd_registry_config_path == "/tmp/c");
  CHECK_FALSE(o->mirror.resolve_tags);
}

TEST_CASE("configuration options: private registries get a pull-only hosts.toml of their own") {
  auto o = Parse({"--mirror-targets", "http://127.0.0.1:5000", "--private-registries",
                  "https://registry.corp.example,https://ghcr.io"});
  REQUIRE(o.ok());
  // Written next to the wildcard's _default (containerd reads the registry's own dir first).
  REQUIRE(o->mirror.registries.size() == 3);
  CHECK(o->mirror.registries[0].wildcard);
  CHECK(o->mirror.registries[1].DirName() == "registry.corp.example");
  CHECK(o->mirror.pull_only == std::set<std::string>{"registry.corp.example", "ghcr.io"});
  // Already mirrored: not listed twice. The environment twin reads the same.
  auto e = Parse({}, {{"MIRROR_TARGETS", "http://127.0.0.1:5000"},
                      {"MIRRORED_REGISTRIES", "https://ghcr.io"},
                      {"PRIVATE_REGISTRIES", "https://ghcr.io"}});
  REQUIRE(e.ok());
  CHECK(e->mirror.registries.size() == 1);
  CHECK(e->mirror.pull_only.count("ghcr.io") == 1);
  auto bad = Parse({"--mirror-targets", "http://127.0.0.1:5000", "--private-registries", "*"});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("--private-registries") != std::string::npos);
}

TEST_CASE("configuration options: a config_path list writes into its first entry") {
  auto o = Parse({"--mirror-targets", "http://127.0.0.1:5000", "--containerd-registry-config-path",
                  "/etc/containerd/certs.d:/etc/docker/certs.d"});
  REQUIRE(o.ok());
  CHECK(o->containerd_registry_config_path == "/etc/containerd/certs.d");
  CHECK(o->config_path_list == "/etc/containerd/certs.d:/etc/docker/certs.d");
  auto one = Parse({"--mirror-targets", "http://127.0.0.1:5000"});
  REQUIRE(one.ok());
  CHECK(one->config_path_list.empty());
  std::string path = "::/x:";
  auto list = TakeFirstConfigPathEntry(&path);
  REQUIRE(list.ok());
  CHECK(path == "/x");
  std::string none = ":::";
  CHECK_FALSE(TakeFirstConfigPathEntry(&none).ok());
  CHECK_FALSE(
      Parse({"--mirror-targets", "http://127.0.0.1:5000", "--containerd-registry-config-path", ":"})
          .ok());
}

TEST_CASE("configuration options: bad values are errors naming the value") {
  struct Case {
    std::vector<std::string> args;
    const char* needle;
  };
  const Case cases[] = {
      {{}, "--mirror-targets is required"},
      {{"--mirror-targets", "127.0.0.1:5000"}, "\"127.0.0.1:5000\""},
      {{"--mirror-targets", "*"}, "wildcard \"*\""},
      {{"--mirror-targets", "http://a", "--mirrored-registries", "https://docker.io/v2"},
       "\"https://docker.io/v2\""},
      {{"--mirror-targets", "http://a", "--mirrored-registries", "_default,*"}, "wildcard"},
      {{"--mirror-targets", "http://a", "--dial-timeout", "fast"}, "fast"},
      {{"--mirror-targets", "http://a", "--containerd-registry-config-path", ""},
       "containerd-registry-config-path"},
      {{"--mirror-targets", "http://a", "--bogus"}, "--bogus"},
  };
  for (const auto& c : cases) {
    auto o = Parse(c.args);
    REQUIRE_FALSE(o.ok());
    CAPTURE(o.status().message());
    CHECK(o.status().code() == Code::kInvalidArgument);
    CHECK(o.status().message().find(c.needle) != std::string::npos);
  }
}

TEST_CASE("cleanup options") {
  bool help = false;
  std::string usage;
  auto o = ParseCleanupOptions({}, Env({}), &help, &usage);
  REQUIRE(o.ok());
  CHECK(o->containerd_registry_config_path == "/etc/containerd/certs.d");
  auto h = ParseCleanupOptions({"--help"}, Env({}), &help, &usage);
  CHECK(help);
  CHECK(usage.find("--containerd-registry-config-path") != std::string::npos);
  CHECK_FALSE(ParseCleanupOptions({"--mirror-targets", "x"}, Env({}), &help, &usage).ok());
}

TEST_CASE("cleanup and cleanup-wait options: upstream's hook flags") {
  bool help = false;
  std::string usage;
  auto cleanup = ParseCleanupOptions({"--addr", ":8080"}, Env({}), &help, &usage);
  REQUIRE(cleanup.ok());
  REQUIRE(cleanup->address.has_value());
  CHECK(cleanup->address->port() == 8080);
  CHECK_FALSE(ParseCleanupOptions({"--addr", "nonsense"}, Env({}), &help, &usage).ok());
  auto wait = ParseCleanupWaitOptions(
      {}, Env({{"PROBE_ENDPOINT", "spegel-cleanup.ns:8080"}, {"THRESHOLD", "5"}}), &help, &usage);
  REQUIRE(wait.ok());
  CHECK(wait->probe_host == "spegel-cleanup.ns");
  CHECK(wait->probe_port == 8080);
  CHECK(wait->threshold == 5);
  CHECK(wait->period.count() == 2000);
  auto v6 = ParseCleanupWaitOptions({"--probe-endpoint", "[fd00::1]:8080"}, Env({}), &help, &usage);
  REQUIRE(v6.ok());
  CHECK(v6->probe_host == "fd00::1");
  for (const char* bad : {"host", "host:", "host:0", "host:70000", ":8080", "[fd00::1]"}) {
    CAPTURE(bad);
    CHECK_FALSE(ParseCleanupWaitOptions({"--probe-endpoint", bad}, Env({}), &help, &usage).ok());
  }
  CHECK_FALSE(ParseCleanupWaitOptions({}, Env({}), &help, &usage).ok());  // required
}

}  // namespace
}  // namespace spegel::cli
