// `spegel registry` accepts every flag of upstream Spegel's `registry` (v0.7.4 and main, and the
// historical ones users may still pass; reference/upstream-spegel.md §1.3) on the command line and
// as its environment twin. Each row checks what the flag does here, or that it is ignored with a
// warning naming it; a flag nobody knows is still an error naming it.
#include "cli/registry_options.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "unit/cli/fake_env.h"

namespace spegel::cli {
namespace {

using spegel::cli::testing::Env;

Result<RegistryOptions> Parse(std::vector<std::string> args,
                              std::map<std::string, std::string> env = {}) {
  bool help = false;
  std::string usage;
  args.insert(args.end(), {"--node-id", "n1"});
  return ParseRegistryOptions(args, Env(std::move(env)), &help, &usage);
}

bool Warns(const RegistryOptions& o, const std::string& flag) {
  return std::any_of(o.warnings.begin(), o.warnings.end(),
                     [&](const std::string& w) { return w.find(flag) != std::string::npos; });
}

struct UpstreamFlag {
  std::string flag;   // without "--"
  std::string value;  // "" for a boolean given alone
  std::function<bool(const RegistryOptions&)> effect;
};

TEST_CASE("registry options: every upstream registry flag, as a flag and as its variable") {
  const std::vector<UpstreamFlag> flags = {
      {"registry-addr", "127.0.0.1:5010",
       [](const RegistryOptions& o) { return o.registry_address.port() == 5010; }},
      {"router-addr", ":5011",
       [](const RegistryOptions& o) { return o.router_address.port() == 5011; }},
      {"metrics-addr", ":9091",
       [](const RegistryOptions& o) { return o.metrics_address.port() == 9091; }},
      {"containerd-sock", "/run/x.sock",
       [](const RegistryOptions& o) { return o.containerd_sock == "/run/x.sock"; }},
      {"containerd-namespace", "moby",
       [](const RegistryOptions& o) { return o.containerd_namespace == "moby"; }},
      {"containerd-content-path", "/c",
       [](const RegistryOptions& o) { return o.containerd_content_path == "/c"; }},
      {"data-dir", "/var/lib/spegel",
       [](const RegistryOptions& o) { return Warns(o, "--data-dir"); }},
      {"mirrored-registries", "https://docker.io",
       [](const RegistryOptions& o) { return o.mirrored_registries.size() == 1; }},
      {"registry-filters", ":latest$",
       [](const RegistryOptions& o) { return o.registry_filters.size() == 1; }},
      {"mirror-resolve-timeout", "35ms",
       [](const RegistryOptions& o) { return o.mirror_resolve_timeout.count() == 35; }},
      {"mirror-resolve-retries", "5",
       [](const RegistryOptions& o) { return o.mirror_resolve_retries == 5; }},
      {"debug-web-enabled", "false", [](const RegistryOptions& o) { return !o.debug_web_enabled; }},
      {"bootstrap-kind", "static",  // with no static peers: accepted, and said so
       [](const RegistryOptions& o) { return Warns(o, "--bootstrap-kind=static"); }},
      {"dns-bootstrap-domain", "spegel.ns.svc",
       [](const RegistryOptions& o) { return o.dns_bootstrap_domain == "spegel.ns.svc"; }},
      {"http-bootstrap-addr", ":5002",
       [](const RegistryOptions& o) {
         return o.http_bootstrap_address && o.http_bootstrap_address->port() == 5002 &&
                o.ClusterOptions().http_bootstrap_address.has_value();
       }},
      {"http-bootstrap-url", "http://10.0.0.1:5002/id",
       [](const RegistryOptions& o) {
         return o.bootstrap_url && o.bootstrap_url->host == "10.0.0.1" &&
                o.ClusterOptions().http_bootstrap_url.has_value();
       }},
      {"http-bootstrap-peer", "http://10.0.0.2:5002/id",  // v0.7.4
       [](const RegistryOptions& o) {
         return o.bootstrap_url && o.bootstrap_url->host == "10.0.0.2" &&
                Warns(o, "--http-bootstrap-peer");
       }},
      {"http-bootstrap-cert-dir", "/certs",
       [](const RegistryOptions& o) { return Warns(o, "--http-bootstrap-cert-dir"); }},
      {"static-bootstrap-peers", "/ip4/10.0.0.3/tcp/5001/p2p/12D3KooWabc",
       [](const RegistryOptions& o) {
         return o.static_peers.size() == 1 && o.static_peers[0].first == "10.0.0.3" &&
                o.static_peers[0].second == 5001;
       }},
      {"log-level", "DEBUG", [](const RegistryOptions& o) { return o.level == LogLevel::kDebug; }},
      // Historical: removed upstream, still in some users' manifests.
      {"containerd-registry-config-path", "/etc/containerd/certs.d",
       [](const RegistryOptions& o) {
         return o.preflight.containerd_registry_config_path == "/etc/containerd/certs.d";
       }},
      {"local-addr", "10.0.0.9:5000",
       [](const RegistryOptions& o) { return Warns(o, "--local-addr"); }},
      {"resolve-latest-tag", "false",
       [](const RegistryOptions& o) {
         return std::count(o.registry_filters.begin(), o.registry_filters.end(), ":latest$") == 1;
       }},
  };
  for (const UpstreamFlag& f : flags) {
    CAPTURE(f.flag);
    auto by_flag = Parse({"--" + f.flag + "=" + f.value});
    REQUIRE(by_flag.ok());
    CHECK(f.effect(*by_flag));
    auto by_env = Parse({}, {{FlagSet::EnvName(f.flag), f.value}});
    REQUIRE(by_env.ok());
    CHECK(f.effect(*by_env));
  }
}

TEST_CASE("registry options: bootstrap kinds, ignored forms and unknown flags") {
  auto dns = Parse({"--bootstrap-kind", "dns", "--dns-bootstrap-domain", "spegel.ns.svc"});
  REQUIRE(dns.ok());
  CHECK(dns->warnings.empty());
  auto lonely = Parse({"--bootstrap-kind", "http"});
  REQUIRE(lonely.ok());
  CHECK(Warns(*lonely, "--bootstrap-kind=http"));
  auto kubernetes = Parse({"--bootstrap-kind", "kubernetes"});
  REQUIRE(kubernetes.ok());
  CHECK(Warns(*kubernetes, "--bootstrap-kind=kubernetes"));
  auto bogus = Parse({"--bootstrap-kind", "gossip"});
  REQUIRE_FALSE(bogus.ok());
  CHECK(bogus.status().message().find("unknown bootstrap kind") != std::string::npos);
  auto https = Parse({"--http-bootstrap-url", "https://10.0.0.1/id"});
  REQUIRE(https.ok());
  CHECK_FALSE(https->bootstrap_url.has_value());
  CHECK(Warns(*https, "--http-bootstrap-url"));
  auto named = Parse({"--http-bootstrap-url", "http://spegel-bootstrap/id"});
  REQUIRE_FALSE(named.ok());
  CHECK(named.status().message().find("--http-bootstrap-url") != std::string::npos);
  auto bad_addr = Parse({"--http-bootstrap-addr", "nonsense"});
  REQUIRE_FALSE(bad_addr.ok());
  CHECK(bad_addr.status().message().find("--http-bootstrap-addr") != std::string::npos);
  auto unknown = Parse({"--no-such-flag", "1"});
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.status().message().find("--no-such-flag") != std::string::npos);
  auto defaults = Parse({});
  REQUIRE(defaults.ok());
  CHECK(defaults->warnings.empty());
  CHECK(defaults->mirror_resolve_retries == 3);
  CHECK(defaults->debug_web_enabled);
}

}  // namespace
}  // namespace spegel::cli
