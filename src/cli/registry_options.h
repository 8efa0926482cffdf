// Options of `spegel registry`, parsed from flags and their environment twins.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "base/log.h"
#include "base/status.h"
#include "cli/flags.h"
#include "cli/preflight_options.h"
#include "cluster/cluster_node.h"
#include "http/server.h"
#include "membership/http_bootstrap.h"
#include "registry/filters.h"

namespace spegel::cli {

struct RegistryOptions {
  // Where the registry API and the probes listen. Default ":5000" (all addresses).
  std::string registry_addr = ":5000";
  http::Address registry_address;  // registry_addr, parsed
  // Where /metrics, the status page, probes and debug JSON listen. Default ":9090"; empty = off.
  std::string metrics_addr = ":9090";
  http::Address metrics_address;  // metrics_addr, parsed (when not empty)
  // Basic auth for /v2/: files `username` and `password`; neither present = auth off.
  std::string basic_auth_dir = "/etc/secrets/basic-auth";
  std::string containerd_sock = "/run/containerd/containerd.sock";
  std::string containerd_namespace = "k8s.io";
  // Direct blob reads; empty = discover through containerd's Introspection, else gRPC reads.
  std::string containerd_content_path = "/var/lib/containerd/io.containerd.content.v1.content";
  // Full resync period (containerd's GC deletes content without events).
  std::chrono::milliseconds resync_interval{60000};
  std::string log_level = "INFO";
  LogLevel level = LogLevel::kInfo;
  // HTTP limits (see http::ServerOptions for what each does).
  int64_t max_header_bytes = 16 * 1024;
  int64_t max_url_bytes = 8 * 1024;
  int64_t max_connections = 10000;
  std::chrono::milliseconds header_read_timeout{10000};
  std::chrono::milliseconds idle_timeout{60000};
  std::chrono::milliseconds write_stall_timeout{30000};
  // Graceful shutdown bound on SIGTERM.
  std::chrono::milliseconds shutdown_timeout{10000};
  // Cluster (see src/cluster/cluster_node.h).
  std::string node_id;  // default: the host name
  // Without --node-id: the ids to move to, in turn, when another node uses the default one
  // (cluster::FallbackNodeIds over /etc/machine-id and this host's first global address). Empty
  // with --node-id: an explicit id is never renamed.
  std::vector<std::string> node_id_fallbacks;
  std::string router_addr = ":5001";
  http::Address router_address;
  std::vector<std::string> mdns_interfaces;
  int64_t mdns_port = 5353;
  std::string dns_bootstrap_domain;
  std::vector<std::string> dns_resolvers;
  std::chrono::milliseconds dns_refresh_interval{10000};
  std::vector<std::string> static_bootstrap_peers;
  std::vector<std::pair<std::string, uint16_t>> static_peers;  // parsed
  int64_t routing_replicas = 3;
  std::chrono::milliseconds mirror_resolve_timeout{20};
  std::chrono::milliseconds mirror_claim_timeout{250};
  std::chrono::milliseconds announce_ttl{600000};
  std::chrono::milliseconds member_ttl{60000};
  std::vector<std::string> registry_filters;
  std::vector<std::string> mirrored_registries;
  registry::RegistryFilters filters;  // mirrored_registries and registry_filters, built once
  std::string peer_secret_file;
  // Pull coalescing and in-flight sharing (registry/inflight.h, cluster/claim_table.h).
  bool inflight_sharing = true;
  // Upstream Spegel's flags (reference/upstream-spegel.md §1.3, and v0.7.4's), so its users'
  // command lines and environments keep working:
  int64_t mirror_resolve_retries = 3;  // Peers tried per request (PeerFetchOptions::max_peers).
  bool debug_web_enabled = true;       // The status page (/ and /debug/web/).
  std::string bootstrap_kind;          // dns, http, static: checked against the flags given.
  std::string http_bootstrap_addr;     // Serve GET /id here (membership/http_bootstrap.h).
  std::optional<http::Address> http_bootstrap_address;  // parsed
  std::string http_bootstrap_url;  // GET this for seeds; v0.7.4's --http-bootstrap-peer too.
  std::string http_bootstrap_peer;
  std::optional<cluster::BootstrapUrl> bootstrap_url;  // parsed
  std::string http_bootstrap_cert_dir;  // Ignored (no TLS client here), with a warning.
  std::string data_dir;                 // Ignored (libp2p identity), with a warning.
  std::string local_addr;               // Ignored (removed upstream in 2025), with a warning.
  bool resolve_latest_tag = true;       // false = the registry filter ":latest$", as upstream.
  // One line each for flags accepted but ignored, or changed in meaning: logged at WARN at start.
  std::vector<std::string> warnings;
  // Preflight: where Spegel's hosts.toml files are, containerd's config file, --skip-preflight.
  PreflightFlags preflight;

  http::ServerOptions ServerOptions() const;
  // The cluster's options from these flags. The daemon fills in what only it knows: the bound
  // registry port, the incarnation and the peer secret.
  cluster::ClusterOptions ClusterOptions() const;
};

// Parses `args` (after "registry"). On --help, `*help` is set and `*usage` holds the text.
// Errors are InvalidArgument naming the flag.
Result<RegistryOptions> ParseRegistryOptions(const std::vector<std::string>& args,
                                             const EnvLookup& env, bool* help, std::string* usage);

}  // namespace spegel::cli
