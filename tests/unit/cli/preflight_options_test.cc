#include "cli/preflight_options.h"

#include <doctest/doctest.h>

#include <map>

#include "unit/cli/fake_env.h"

namespace spegel::cli {
namespace {

using spegel::cli::testing::Env;

TEST_CASE("preflight options: defaults") {
  bool help = false;
  std::string usage;
  auto o = ParsePreflightOptions({}, Env({}), &help, &usage);
  REQUIRE(o.ok());
  CHECK_FALSE(help);
  CHECK(o->containerd_sock == "/run/containerd/containerd.sock");
  CHECK(o->timeout == std::chrono::milliseconds(5000));
  node::PreflightOptions p = o->preflight.ToOptions();
  CHECK(p.registry_config_path == "/etc/containerd/certs.d");
  CHECK(p.containerd_config == "/etc/containerd/config.toml");
}

TEST_CASE("preflight options: flags and environment twins") {
  bool help = false;
  std::string usage;
  auto o = ParsePreflightOptions({"--containerd-config=/srv/c.toml", "--containerd-sock",
                                  "/run/k0s/containerd.sock", "--containerd-timeout", "2s"},
                                 Env({{"CONTAINERD_REGISTRY_CONFIG_PATH", "/etc/k0s/certs.d"},
                                      {"CONTAINERD_CONFIG", "/ignored/because/flag.toml"}}),
                                 &help, &usage);
  REQUIRE(o.ok());
  CHECK(o->preflight.containerd_config == "/srv/c.toml");
  CHECK(o->preflight.containerd_registry_config_path == "/etc/k0s/certs.d");
  CHECK(o->containerd_sock == "/run/k0s/containerd.sock");
  CHECK(o->timeout == std::chrono::milliseconds(2000));
}

TEST_CASE("preflight options: errors name the flag; --skip-preflight only on registry") {
  bool help = false;
  std::string usage;
  auto empty = ParsePreflightOptions({"--containerd-config="}, Env({}), &help, &usage);
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.status().message().find("containerd-config") != std::string::npos);
  auto zero = ParsePreflightOptions({"--containerd-timeout", "0s"}, Env({}), &help, &usage);
  REQUIRE_FALSE(zero.ok());
  CHECK(zero.status().message().find("containerd-timeout") != std::string::npos);
  CHECK_FALSE(ParsePreflightOptions({"--skip-preflight"}, Env({}), &help, &usage).ok());

  FlagSet flags("registry", "test");
  PreflightFlags target;
  AddPreflightFlags(&flags, &target, /*with_skip=*/true);
  REQUIRE(flags.Parse({"--skip-preflight"}, Env({}), &help).ok());
  CHECK(target.skip_preflight);
  PreflightFlags env_target;
  FlagSet env_flags("registry", "test");
  AddPreflightFlags(&env_flags, &env_target, /*with_skip=*/true);
  REQUIRE(env_flags.Parse({}, Env({{"SKIP_PREFLIGHT", "true"}}), &help).ok());
  CHECK(env_target.skip_preflight);
}

TEST_CASE("preflight options: --help returns the usage") {
  bool help = false;
  std::string usage;
  auto o = ParsePreflightOptions({"--help"}, Env({}), &help, &usage);
  CHECK(help);
  CHECK(usage.find("--containerd-registry-config-path") != std::string::npos);
  CHECK(usage.find("CONTAINERD_CONFIG") != std::string::npos);
}

}  // namespace
}  // namespace spegel::cli
