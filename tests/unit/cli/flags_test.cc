#include "cli/flags.h"

#include <doctest/doctest.h>

#include <map>

#include "unit/cli/fake_env.h"

namespace spegel::cli {
namespace {

using spegel::cli::testing::Env;

struct Flags {
  std::string sock = "/run/containerd/containerd.sock";
  std::string ns = "k8s.io";
  std::chrono::milliseconds resync{60000};
  int64_t replicas = 3;
  bool resolve = true;
  std::vector<std::string> list{"a"};
  FlagSet set{"registry", "test"};
  Flags() {
    set.AddString("containerd-sock", &sock, "socket");
    set.AddRequiredString("containerd-namespace", &ns, "namespace");
    set.AddDuration("resync-interval", &resync, "resync");
    set.AddInt("routing-replicas", &replicas, 1, 10, "replicas");
    set.AddBool("resolve-tags", &resolve, "resolve");
    set.AddList("mirrored-registries", &list, "registries");
  }
  Status Parse(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    bool help = false;
    return set.Parse(args, Env(std::move(env)), &help);
  }
};

TEST_CASE("flags: defaults, both value forms, env twins and precedence") {
  Flags f;
  REQUIRE(f.Parse({}).ok());
  CHECK(f.sock == "/run/containerd/containerd.sock");
  Flags g;
  REQUIRE(g.Parse({"--containerd-sock", "/tmp/s", "--resync-interval=2s", "--resolve-tags=false"},
                  {{"CONTAINERD_SOCK", "/env"}, {"CONTAINERD_NAMESPACE", "other"}})
              .ok());
  CHECK(g.sock == "/tmp/s");
  CHECK(g.ns == "other");
  CHECK(g.resync == std::chrono::milliseconds(2000));
  CHECK_FALSE(g.resolve);
  Flags h;
  REQUIRE(
      h.Parse({"--resolve-tags", "--mirrored-registries", "x,y", "--mirrored-registries=z"}).ok());
  CHECK(h.resolve);
  CHECK(h.list == std::vector<std::string>{"x", "y", "z"});
}

TEST_CASE("flags: a list item keeps a comma written as \\, (a regex such as a{1,3})") {
  Flags f;
  REQUIRE(
      f.Parse({"--mirrored-registries", "a{1\\,3}$,b", "--mirrored-registries", "c\\d,,"}).ok());
  CHECK(f.list == std::vector<std::string>{"a{1,3}$", "b", "c\\d"});
  Flags e;  // the environment twin reads the same way
  REQUIRE(e.Parse({}, {{"MIRRORED_REGISTRIES", ":v[0-9]{1\\,2}$,:latest$"}}).ok());
  CHECK(e.list == std::vector<std::string>{":v[0-9]{1,2}$", ":latest$"});
}

TEST_CASE("flags: bad values name the flag") {
  Flags f;
  Status st = f.Parse({"--resync-interval", "5x"});
  CHECK(st.code() == Code::kInvalidArgument);
  CHECK(st.message().find("--resync-interval") != std::string::npos);
  CHECK(Flags().Parse({"--containerd-namespace="}).message().find("--containerd-namespace") !=
        std::string::npos);
  CHECK(Flags().Parse({"--routing-replicas", "0"}).message().find("between 1 and 10") !=
        std::string::npos);
  CHECK(Flags().Parse({"--routing-replicas", "3x"}).code() == Code::kInvalidArgument);
  CHECK(Flags().Parse({"--resolve-tags=maybe"}).code() == Code::kInvalidArgument);
  CHECK(Flags().Parse({"--nope"}).message().find("unknown flag --nope") != std::string::npos);
  CHECK(Flags().Parse({"positional"}).code() == Code::kInvalidArgument);
  CHECK(Flags().Parse({"--containerd-sock"}).message().find("needs a value") != std::string::npos);
  Status env_st = Flags().Parse({}, {{"RESYNC_INTERVAL", "soon"}});
  CHECK(env_st.message().find("RESYNC_INTERVAL") != std::string::npos);
}

TEST_CASE("flags: durations") {
  CHECK(*ParseDuration("20ms") == std::chrono::milliseconds(20));
  CHECK(*ParseDuration("1.5s") == std::chrono::milliseconds(1500));
  CHECK(*ParseDuration("2m") == std::chrono::milliseconds(120000));
  CHECK(*ParseDuration("1h") == std::chrono::milliseconds(3600000));
  CHECK(*ParseDuration("500us") == std::chrono::milliseconds(1));
  CHECK(*ParseDuration("0") == std::chrono::milliseconds(0));
  for (const char* bad : {"", "5", "s", "5x", "1e3s", "-1s", "ms", "1..2s", "99999999999999h"}) {
    CAPTURE(bad);
    CHECK_FALSE(ParseDuration(bad).ok());
  }
}

TEST_CASE("flags: help and usage") {
  Flags f;
  bool help = false;
  REQUIRE(f.set.Parse({"--containerd-sock", "x", "--help"}, Env({}), &help).ok());
  CHECK(help);
  const std::string usage = f.set.Usage();
  CHECK(usage.find("--resync-interval") != std::string::npos);
  CHECK(usage.find("RESYNC_INTERVAL") != std::string::npos);
  CHECK(usage.find("default \"1m\"") == std::string::npos);
  CHECK(usage.find("default \"60s\"") != std::string::npos);
}

}  // namespace
}  // namespace spegel::cli
