#include "cli/registry_options.h"

#include <unistd.h>

#include <fstream>

#include "base/local_addresses.h"
#include "membership/dns_discovery.h"
#include "membership/member.h"
#include "registry/filters.h"

namespace spegel::cli {

http::ServerOptions RegistryOptions::ServerOptions() const {
  http::ServerOptions o;
  o.max_header_bytes = static_cast<size_t>(max_header_bytes);
  o.max_url_bytes = static_cast<size_t>(max_url_bytes);
  o.max_connections = static_cast<size_t>(max_connections);
  o.header_read_timeout_ms = static_cast<uint64_t>(header_read_timeout.count());
  o.keepalive_idle_timeout_ms = static_cast<uint64_t>(idle_timeout.count());
  o.write_stall_timeout_ms = static_cast<uint64_t>(write_stall_timeout.count());
  return o;
}

namespace {

// /etc/machine-id's first line, or empty.
std::string ReadMachineId() {
  std::ifstream in("/etc/machine-id");
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
  return line;
}

}  // namespace

cluster::ClusterOptions RegistryOptions::ClusterOptions() const {
  cluster::ClusterOptions o;
  o.node_id = node_id;
  o.fallback_node_ids = node_id_fallbacks;
  o.router_address = router_address;
  o.mdns_interfaces = mdns_interfaces;
  o.mdns_port = static_cast<uint16_t>(mdns_port);
  o.dns_domain = dns_bootstrap_domain;
  o.dns_resolvers = dns_resolvers;
  o.dns_interval_ms = static_cast<uint64_t>(dns_refresh_interval.count());
  o.static_peers = static_peers;
  o.http_bootstrap_address = http_bootstrap_address;
  o.http_bootstrap_url = bootstrap_url;
  o.replicas = static_cast<size_t>(routing_replicas);
  o.resolve_timeout_ms = static_cast<uint64_t>(mirror_resolve_timeout.count());
  o.claim_timeout_ms = static_cast<uint64_t>(mirror_claim_timeout.count());
  o.announce_ttl_ms = static_cast<uint64_t>(announce_ttl.count());
  o.member_ttl_ms = static_cast<uint64_t>(member_ttl.count());
  return o;
}

namespace {

// Upstream's flags that have no twin of their own here: what they mean in this project, or a
// warning saying why they are ignored.
Status ApplyUpstreamFlags(RegistryOptions& o) {
  if (!o.http_bootstrap_addr.empty()) {
    auto address = http::ParseListenAddress(o.http_bootstrap_addr);
    if (!address.ok()) {
      return Status::InvalidArgument("--http-bootstrap-addr: " + address.status().message());
    }
    o.http_bootstrap_address = *address;
  }
  if (!o.http_bootstrap_peer.empty()) {
    if (o.http_bootstrap_url.empty()) o.http_bootstrap_url = o.http_bootstrap_peer;
    o.warnings.push_back(
        "--http-bootstrap-peer is upstream v0.7.4's name; read as "
        "--http-bootstrap-url");
  }
  if (!o.http_bootstrap_url.empty()) {
    auto url = cluster::ParseBootstrapUrl(o.http_bootstrap_url);
    if (url.ok()) {
      o.bootstrap_url = *url;
    } else if (url.status().code() == Code::kUnimplemented) {
      o.warnings.push_back("--http-bootstrap-url ignored: " + url.status().message());
    } else {
      return Status::InvalidArgument("--http-bootstrap-url: " + url.status().message());
    }
  }
  if (!o.http_bootstrap_cert_dir.empty()) {
    o.warnings.push_back(
        "--http-bootstrap-cert-dir ignored: this build has no TLS client; "
        "bootstrap URLs are plain http");
  }
  if (!o.data_dir.empty()) {
    o.warnings.push_back(
        "--data-dir ignored: it held upstream's libp2p identity key; this "
        "project keeps no state on disk");
  }
  if (!o.local_addr.empty()) {
    o.warnings.push_back(
        "--local-addr ignored: upstream removed it in 2025; peers are reached "
        "at the address they say hello from");
  }
  if (!o.resolve_latest_tag) o.registry_filters.push_back(":latest$");
  const std::string& kind = o.bootstrap_kind;
  if (kind == "kubernetes") {
    o.warnings.push_back(
        "--bootstrap-kind=kubernetes ignored: upstream removed the leader-election "
        "bootstrap; use --dns-bootstrap-domain with a headless Service");
  } else if (kind == "dns") {
    if (o.dns_bootstrap_domain.empty()) {
      o.warnings.push_back("--bootstrap-kind=dns without --dns-bootstrap-domain: no DNS discovery");
    }
  } else if (kind == "http") {
    if (!o.bootstrap_url && !o.http_bootstrap_address) {
      o.warnings.push_back(
          "--bootstrap-kind=http without --http-bootstrap-url or "
          "--http-bootstrap-addr: no http bootstrap");
    }
  } else if (kind == "static") {
    if (o.static_peers.empty()) {
      o.warnings.push_back("--bootstrap-kind=static without --static-bootstrap-peers: no peers");
    }
  } else if (!kind.empty()) {
    return Status::InvalidArgument("--bootstrap-kind \"" + kind +
                                   "\": unknown bootstrap kind (dns, http or static)");
  }
  return Status::Ok();
}

}  // namespace

Result<RegistryOptions> ParseRegistryOptions(const std::vector<std::string>& args,
                                             const EnvLookup& env, bool* help, std::string* usage) {
  RegistryOptions o;
  FlagSet flags("registry",
                "Runs the registry mirror: indexes this node's containerd content store and "
                "serves it over the OCI distribution API.");
  flags.AddString("registry-addr", &o.registry_addr,
                  "Address of the registry API and probes: :PORT, IP:PORT or [IPv6]:PORT.");
  flags.AddValidator("registry-addr", [&o](const std::string& raw) {
    auto address = http::ParseListenAddress(raw);
    if (!address.ok()) return address.status();
    o.registry_address = *address;
    return Status::Ok();
  });
  flags.AddString("metrics-addr", &o.metrics_addr,
                  "Address of /metrics, the status page (/), probes and debug JSON: :PORT, "
                  "IP:PORT or [IPv6]:PORT; empty = no metrics server.");
  flags.AddValidator("metrics-addr", [&o](const std::string& raw) {
    if (raw.empty()) return Status::Ok();
    auto address = http::ParseListenAddress(raw);
    if (!address.ok()) return address.status();
    o.metrics_address = *address;
    return Status::Ok();
  });
  flags.AddString("basic-auth-dir", &o.basic_auth_dir,
                  "Directory with the files username and password required (HTTP Basic) on "
                  "/v2/; auth is off when neither file exists.");
  flags.AddRequiredString("containerd-sock", &o.containerd_sock, "containerd's gRPC socket.");
  flags.AddRequiredString("containerd-namespace", &o.containerd_namespace,
                          "containerd namespace whose images are mirrored.");
  AddPreflightFlags(&flags, &o.preflight, /*with_skip=*/true);
  flags.AddString("containerd-content-path", &o.containerd_content_path,
                  "containerd's content store directory, read directly; empty = ask "
                  "containerd, falling back to reads over gRPC.");
  flags.AddDuration("resync-interval", &o.resync_interval,
                    "Period of the full resync with containerd (0 = never).");
  flags.AddLogLevel(&o.log_level, &o.level);
  flags.AddInt("max-header-bytes", &o.max_header_bytes, 1024, 1 << 20,
               "Largest request head; above it 431.");
  flags.AddInt("max-url-bytes", &o.max_url_bytes, 256, 1 << 20,
               "Longest request target; above it 414.");
  flags.AddInt("max-connections", &o.max_connections, 1, 1000000,
               "Open client connections; more are closed at once.");
  flags.AddDuration("header-read-timeout", &o.header_read_timeout,
                    "Time a client has to send a whole request head; then 408.");
  flags.AddDuration("idle-timeout", &o.idle_timeout, "Idle keep-alive connections close after it.");
  flags.AddDuration("write-stall-timeout", &o.write_stall_timeout,
                    "A client that reads nothing of a response for this long is disconnected.");
  flags.AddDuration("shutdown-timeout", &o.shutdown_timeout,
                    "On SIGTERM, in-flight responses get this long to finish.");
  flags.AddString("node-id", &o.node_id,
                  "This node's stable id in the cluster (1-63 of [A-Za-z0-9._-]); default: the "
                  "host name. In Kubernetes set it from spec.nodeName.");
  flags.AddString("router-addr", &o.router_addr,
                  "Address of the router API other nodes announce to and look up on: :PORT, "
                  "IP:PORT or [IPv6]:PORT.");
  flags.AddValidator("router-addr", [&o](const std::string& raw) {
    auto address = http::ParseListenAddress(raw);
    if (!address.ok()) return address.status();
    o.router_address = *address;
    return Status::Ok();
  });
  flags.AddList("mdns-interfaces", &o.mdns_interfaces,
                "Interfaces to announce and discover nodes on with mDNS (_spegel._tcp.local); "
                "default none (multicast only where asked for).");
  flags.AddInt("mdns-port", &o.mdns_port, 1, 65535,
               "UDP port of mDNS (5353; tests may change it).");
  flags.AddString("dns-bootstrap-domain", &o.dns_bootstrap_domain,
                  "Name whose A/AAAA records are the nodes (a headless Service with "
                  "publishNotReadyAddresses); empty = no DNS discovery.");
  flags.AddList("dns-resolvers", &o.dns_resolvers,
                "DNS servers for --dns-bootstrap-domain: ip[:port],…; default: /etc/resolv.conf.");
  flags.AddValidator("dns-resolvers", [](const std::string& raw) {
    auto parsed = cluster::ParseResolvers(raw);
    return parsed.ok() ? Status::Ok() : parsed.status();
  });
  flags.AddDuration("dns-refresh-interval", &o.dns_refresh_interval,
                    "How often the bootstrap domain and static peers are re-resolved.");
  flags.AddList("static-bootstrap-peers", &o.static_bootstrap_peers,
                "Other nodes' router addresses, ip:port,… ([ipv6]:port), or upstream's "
                "/ip4/IP/tcp/PORT/p2p/ID.");
  flags.AddValidator("static-bootstrap-peers", [&o](const std::string& raw) {
    auto parsed = cluster::ParseStaticPeers(raw);
    if (!parsed.ok()) return parsed.status();
    o.static_peers = *parsed;
    return Status::Ok();
  });
  flags.AddInt("routing-replicas", &o.routing_replicas, 1, 8,
               "Owners per key: nodes that track who has it.");
  flags.AddDuration("mirror-resolve-timeout", &o.mirror_resolve_timeout,
                    "Longest wait for a lookup of content not on this node; then 404 so "
                    "containerd goes upstream.");
  flags.AddDuration("mirror-claim-timeout", &o.mirror_claim_timeout,
                    "Longest wait for the owner's answer to a claim (pull coalescing); then the "
                    "pull goes on without coalescing. Longer than the lookup's: a claim not "
                    "answered costs an extra download.");
  flags.AddBool("inflight-sharing", &o.inflight_sharing,
                "Coalesce pulls of a blob no node has yet: one node downloads it and the others "
                "stream it from that download while it runs (true/false).");
  flags.AddDuration("announce-ttl", &o.announce_ttl,
                    "How long owners keep this node's announcements; refreshed at half of it.");
  flags.AddDuration("member-ttl", &o.member_ttl,
                    "A member learned through DNS, static peers or hello that is not seen again "
                    "for this long is dropped.");
  flags.AddList("registry-filters", &o.registry_filters,
                "Regexes (ECMAScript) on registry/repository:tag; matching references are neither "
                "announced nor served, e.g. :latest$. Comma-separated and repeatable; write a "
                "comma inside a regex as \\, (e.g. :v[0-9]{1\\,2}$).");
  flags.AddList("mirrored-registries", &o.mirrored_registries,
                "Registries announced and served (URLs, e.g. https://docker.io); empty = all.");
  // Upstream's flags.
  flags.AddInt("mirror-resolve-retries", &o.mirror_resolve_retries, 1, 20,
               "Peers tried per request (hedges and resumes included), as upstream.");
  flags.AddBool("debug-web-enabled", &o.debug_web_enabled,
                "Serve the status page on the metrics address (/ and /debug/web/).");
  flags.AddString("bootstrap-kind", &o.bootstrap_kind,
                  "Upstream's discovery switch: dns, http or static. Here every source whose "
                  "flags are set runs; the kind is checked against them.");
  flags.AddString("http-bootstrap-addr", &o.http_bootstrap_addr,
                  "Serve GET /id (this node's router address, upstream's JSON) here, for other "
                  "nodes' --http-bootstrap-url. Empty = off.");
  flags.AddString("http-bootstrap-url", &o.http_bootstrap_url,
                  "http://IP[:PORT]/PATH of a bootstrap document (another node's /id): its "
                  "addresses are said hello to, re-read every --dns-refresh-interval.");
  flags.AddString("http-bootstrap-peer", &o.http_bootstrap_peer,
                  "Upstream v0.7.4's name for --http-bootstrap-url.");
  flags.AddString("http-bootstrap-cert-dir", &o.http_bootstrap_cert_dir,
                  "Accepted for upstream compatibility and ignored: no TLS client here.");
  flags.AddString("data-dir", &o.data_dir,
                  "Accepted for upstream compatibility and ignored: it held libp2p's key.");
  flags.AddString("local-addr", &o.local_addr,
                  "Accepted for upstream compatibility (removed there in 2025) and ignored.");
  flags.AddBool("resolve-latest-tag", &o.resolve_latest_tag,
                "false = do not serve :latest tags (the same as --registry-filters ':latest$').");
  flags.AddString("peer-secret-file", &o.peer_secret_file,
                  "File holding a shared secret (≥ 16 bytes): router API calls and peer fetches "
                  "are signed with it and unsigned ones refused. Empty = off.");

  // The default address must parse too: run the validator once on it.
  auto default_address = http::ParseListenAddress(o.registry_addr);
  if (default_address.ok()) o.registry_address = *default_address;
  auto default_metrics = http::ParseListenAddress(o.metrics_addr);
  if (default_metrics.ok()) o.metrics_address = *default_metrics;
  auto default_router = http::ParseListenAddress(o.router_addr);
  if (default_router.ok()) o.router_address = *default_router;

  if (Status st = flags.ParseOrUsage(args, env, help, usage); !st.ok()) return st;
  if (*help) return o;
  for (auto* d :
       {&o.header_read_timeout, &o.idle_timeout, &o.write_stall_timeout, &o.dns_refresh_interval,
        &o.mirror_resolve_timeout, &o.mirror_claim_timeout, &o.announce_ttl, &o.member_ttl}) {
    if (d->count() <= 0) return Status::InvalidArgument("timeouts and intervals must be positive");
  }
  if (o.node_id.empty()) {
    char host[256] = {};
    if (gethostname(host, sizeof(host) - 1) == 0) o.node_id = host;
    if (cluster::IsValidNodeId(o.node_id)) {
      o.node_id_fallbacks = cluster::FallbackNodeIds(o.node_id, ReadMachineId(),
                                                     FirstGlobalAddress());
    }
  }
  if (!cluster::IsValidNodeId(o.node_id)) {
    return Status::InvalidArgument("--node-id \"" + o.node_id +
                                   "\": use 1-63 of [A-Za-z0-9._-], not starting with . or -");
  }
  if (Status st = ApplyUpstreamFlags(o); !st.ok()) return st;
  auto filters = registry::RegistryFilters::Create(o.mirrored_registries, o.registry_filters);
  if (!filters.ok()) return filters.status();
  o.filters = std::move(*filters);
  return o;
}

}  // namespace spegel::cli
