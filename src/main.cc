// spegel: wiring only. Parses the subcommand and its flags, builds the objects, runs the loop.
#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/log.h"
#include "cluster/announcer.h"
#include "cluster/cluster_node.h"
#include "auth/peer_auth.h"
#include "cli/configuration_options.h"
#include "cli/preflight_options.h"
#include "cli/registry_options.h"
#include "containerd/cri_client.h"
#include "containerd/grpc_client.h"
#include "http/server.h"
#include "index/index.h"
#include "index/syncer.h"
#include "loop/loop.h"
#include "auth/basic_auth.h"
#include "metrics/instrumented_handler.h"
#include "metrics/metrics_handler.h"
#include "metrics/registry.h"
#include "metrics/spegel_metrics.h"
#include "node/preflight.h"
#include "registry/filters.h"
#include "registry/handler.h"
#include "registry/peer_fetch.h"

namespace {

constexpr char kUsage[] =
    "Usage: spegel <command> [flags]\n"
    "\n"
    "Spegel is a stateless, cluster-local OCI registry mirror that runs next to containerd.\n"
    "\n"
    "Commands:\n"
    "  registry   Index this node's containerd content and serve it (the daemon).\n"
    "  configuration  Write containerd's hosts.toml mirror files (backs up the old ones).\n"
    "  cleanup    Restore the hosts.toml files that configuration backed up.\n"
    "  preflight  Check that containerd is configured so Spegel can work.\n"
    "  version    Print the version.\n"
    "\n"
    "Run 'spegel <command> --help' for the flags of a command.\n";

// Exit codes: 0 ok, 1 runtime failure, 2 bad usage (flags, addresses).
constexpr int kExitUsage = 2;

// Reads containerd's configuration over its socket (version, CRI verbose status) and the config
// file, and judges it; logs the outcome. Blocks for at most a few `timeout`s.
spegel::node::PreflightResult CheckContainerd(const std::string& socket,
                                              const spegel::cli::PreflightFlags& flags,
                                              std::chrono::milliseconds timeout) {
  using namespace spegel;
  containerd::GrpcContainerdClient ctd({socket, "k8s.io", timeout});
  containerd::CriClient cri({socket, timeout});
  node::PreflightSources sources;
  sources.containerd_version = [&]() -> Result<std::string> {
    auto v = ctd.Version();
    if (v.ok()) return v->version;
    auto c = cri.Version();  // a containerd without the Version service still answers CRI
    if (c.ok()) return c->runtime_version;
    return v.status();
  };
  sources.cri_info = [&]() -> Result<std::map<std::string, std::string>> {
    auto st = cri.Status(/*verbose=*/true);
    if (!st.ok()) return st.status();
    return st->info;
  };
  sources.read_file = node::ReadConfigFile;
  return node::RunPreflight(sources, flags.ToOptions());
}

int RunPreflightCommand(const std::vector<std::string>& args) {
  using namespace spegel;
  bool help = false;
  std::string usage;
  auto options = cli::ParsePreflightOptions(args, cli::ProcessEnv(), &help, &usage);
  if (help) {
    fputs(usage.c_str(), stdout);
    return 0;
  }
  if (!options.ok()) {
    fprintf(stderr, "spegel preflight: %s\n", options.status().message().c_str());
    return kExitUsage;
  }
  SetLogLevel(options->level);
  auto result = CheckContainerd(options->containerd_sock, options->preflight, options->timeout);
  switch (result.verdict) {
    case node::PreflightVerdict::kPass:
      printf("containerd is configured for Spegel (containerd %s, config_path %s)\n",
             result.version.c_str(), result.config_path.c_str());
      return 0;
    case node::PreflightVerdict::kRefuse:
      fprintf(stderr, "spegel preflight: %s\n", result.message.c_str());
      return 1;
    case node::PreflightVerdict::kUnverified:
      fprintf(stderr, "spegel preflight: cannot reach containerd at %s, nothing was checked\n",
              options->containerd_sock.c_str());
      return 1;
  }
  return 1;
}

int RunRegistry(const spegel::cli::RegistryOptions& options) {
  using namespace spegel;
  SetLogLevel(options.level);
  // A definite misconfiguration stops here; an unreachable containerd does not (the syncer
  // retries until it answers).
  if (!options.preflight.skip_preflight) {
    auto result = CheckContainerd(options.containerd_sock, options.preflight,
                                  std::chrono::seconds(5));
    if (result.verdict == node::PreflightVerdict::kRefuse) {
      fprintf(stderr, "spegel registry: %s\n", result.message.c_str());
      return 1;
    }
  }
  // Writes to a socket the client closed must fail with EPIPE, not kill the process.
  signal(SIGPIPE, SIG_IGN);
  // glibc gives each thread that allocates its own arena; Spegel's threads (gRPC, sync, reads)
  // allocate little, and separate arenas only strand freed memory.
  mallopt(M_ARENA_MAX, 2);
  // Every client connection is an fd: allow as many as the hard limit permits.
  struct rlimit files;
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }

  auto client = containerd::NewGrpcContainerdClient(
      {options.containerd_sock, options.containerd_namespace, std::chrono::seconds(10)});
  if (!client.ok()) {
    fprintf(stderr, "spegel registry: %s\n", client.status().message().c_str());
    return kExitUsage;
  }

  Loop loop;
  index::Index index;
  index::SyncerOptions sync_options;
  sync_options.resync_interval = options.resync_interval;
  sync_options.content_path = options.containerd_content_path;
  index::Syncer syncer(&loop, client->get(), &index, sync_options);
  auto credentials = auth::LoadCredentials(options.basic_auth_dir);
  if (!credentials.ok()) {
    fprintf(stderr, "spegel registry: basic auth: %s\n", credentials.status().message().c_str());
    return kExitUsage;
  }
  registry::RegistryHandler handler(&loop, &index, &syncer, client->get());
  // Request path: metrics → basic auth (only when configured) → registry.
  std::unique_ptr<auth::AuthHandler> auth;
  if (credentials->has_value()) {
    auth = std::make_unique<auth::AuthHandler>(&handler, std::move(**credentials));
  }
  metrics::Registry metrics_registry;
  metrics::SpegelMetrics spegel_metrics(&metrics_registry);
  spegel_metrics.WatchState(&index, &syncer);
  metrics::InstrumentedHandler front(auth ? static_cast<http::Handler*>(auth.get()) : &handler,
                                     &spegel_metrics);
  http::Server server(&loop, &front, options.ServerOptions());

  auto port = server.Listen(options.registry_address);
  if (!port.ok()) {
    LOG_ERROR("cannot listen")
        .Str("addr", options.registry_addr)
        .Str("error", port.status().ToString());
    return 1;
  }
  std::unique_ptr<metrics::MetricsHandler> metrics_handler;
  std::unique_ptr<http::Server> metrics_server;
  int metrics_port = -1;
  if (!options.metrics_addr.empty()) {
    metrics_handler = std::make_unique<metrics::MetricsHandler>(
        &metrics_registry, &spegel_metrics, &index, &syncer,
        metrics::NodeInfo{SPEGEL_VERSION, options.registry_address.ToString()});
    metrics_server = std::make_unique<http::Server>(&loop, metrics_handler.get());
    auto bound = metrics_server->Listen(options.metrics_address);
    if (!bound.ok()) {
      LOG_ERROR("cannot listen")
          .Str("metrics_addr", options.metrics_addr)
          .Str("error", bound.status().ToString());
      // The registry server is listening: close it before returning.
      server.Shutdown(0, [&] { loop.Stop(); });
      metrics_server.reset();
      loop.Run();
      return 1;
    }
    metrics_port = *bound;
  }

  // The cluster: membership, routing and peer fetch.
  auto filters = registry::RegistryFilters::Create(options.mirrored_registries,
                                                   options.registry_filters);
  auth::PeerAuth peer_auth;
  Status cluster_error = filters.ok() ? Status::Ok() : filters.status();
  if (cluster_error.ok() && !options.peer_secret_file.empty()) {
    auto loaded = auth::PeerAuth::FromFile(options.peer_secret_file);
    if (loaded.ok()) {
      peer_auth = std::move(*loaded);
    } else {
      cluster_error = loaded.status();
    }
  }
  cluster::ClusterOptions cluster_options;
  cluster_options.node_id = options.node_id;
  cluster_options.incarnation = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
  cluster_options.router_address = options.router_address;
  cluster_options.registry_port = *port;
  cluster_options.mdns_interfaces = options.mdns_interfaces;
  cluster_options.mdns_port = static_cast<uint16_t>(options.mdns_port);
  cluster_options.dns_domain = options.dns_bootstrap_domain;
  cluster_options.dns_resolvers = options.dns_resolvers;
  cluster_options.dns_interval_ms = static_cast<uint64_t>(options.dns_refresh_interval.count());
  cluster_options.static_peers = options.static_peers;
  cluster_options.replicas = static_cast<size_t>(options.routing_replicas);
  cluster_options.resolve_timeout_ms = static_cast<uint64_t>(options.mirror_resolve_timeout.count());
  cluster_options.announce_ttl_ms = static_cast<uint64_t>(options.announce_ttl.count());
  cluster_options.member_ttl_ms = static_cast<uint64_t>(options.member_ttl.count());
  cluster_options.auth = peer_auth;
  cluster::ClusterNode cluster_node(&loop, std::move(cluster_options));
  if (cluster_error.ok()) cluster_error = cluster_node.Start();
  if (!cluster_error.ok()) {
    LOG_ERROR("cannot start the cluster").Str("error", cluster_error.ToString());
    fprintf(stderr, "spegel registry: %s\n", cluster_error.message().c_str());
    auto pending = std::make_shared<int>(metrics_server ? 3 : 2);
    auto one_done = [&, pending] {
      if (--*pending == 0) loop.Stop();
    };
    server.Shutdown(0, one_done);
    if (metrics_server) metrics_server->Shutdown(0, one_done);
    cluster_node.Stop(one_done);
    loop.Run();
    return 1;
  }
  registry::PeerFetchOptions fetch_options;
  if (auth) fetch_options.authorization = auth::BasicAuthorization(auth->credentials());
  registry::PeerFetcher peer_fetcher(&loop, &cluster_node, peer_auth, fetch_options);
  handler.SetCluster(&peer_fetcher, &*filters, &peer_auth);
  if (metrics_handler) metrics_handler->SetCluster(&cluster_node);
  spegel_metrics.WatchCluster([&cluster_node] { return cluster_node.member_count(); },
                              &peer_fetcher.stats());
  // The announced keys follow the index's changes: syncer → index → announcer → router.
  cluster::Announcer announcer(
      [&filters](const index::ImageWalk& image) { return filters->AllowsImage(image); },
      [&cluster_node](const std::vector<std::string>& add, const std::vector<std::string>& remove) {
        cluster_node.UpdateLocalKeys(add, remove);
      });
  index.SetListener(&announcer);

  LOG_INFO("spegel registry started")
      .Str("version", SPEGEL_VERSION)
      .Str("registry_addr", options.registry_address.ToString())
      .Int("port", *port)
      .Str("metrics_addr", options.metrics_addr.empty() ? "" : options.metrics_address.ToString())
      .Int("metrics_port", metrics_port)
      .Str("basic_auth", auth ? "on" : "off")
      .Str("containerd_sock", options.containerd_sock)
      .Str("containerd_namespace", options.containerd_namespace)
      .Str("node_id", options.node_id)
      .Int("router_port", cluster_node.router_port());
  syncer.Start();

  bool shutting_down = false;
  std::vector<std::unique_ptr<SignalWatcher>> signals;
  auto shutdown = [&] {
    if (shutting_down) return;
    shutting_down = true;
    LOG_INFO("shutting down");
    syncer.Stop();
    index.SetListener(nullptr);
    // Both servers and the cluster drain; the loop stops when the last one is done.
    auto pending = std::make_shared<int>(metrics_server ? 3 : 2);
    auto one_done = [&, pending] {
      if (--*pending > 0) return;
      for (auto& s : signals) s->Stop();
      loop.Stop();
    };
    server.Shutdown(static_cast<uint64_t>(options.shutdown_timeout.count()), one_done);
    cluster_node.Stop(one_done);
    if (metrics_server) {
      metrics_server->Shutdown(static_cast<uint64_t>(options.shutdown_timeout.count()), one_done);
    }
  };
  signals.push_back(std::make_unique<SignalWatcher>(&loop, SIGTERM, shutdown));
  signals.push_back(std::make_unique<SignalWatcher>(&loop, SIGINT, shutdown));

  loop.Run();
  signals.clear();
  LOG_INFO("exit gracefully");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? kExitUsage : 0;
  }
  const std::string command = args[0];
  args.erase(args.begin());
  if (command == "version" || command == "--version") {
    if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
      printf("Usage: spegel version\n\nPrints the version.\n");
      return 0;
    }
    printf("spegel version %s\n", SPEGEL_VERSION);
    return 0;
  }
  if (command == "configuration") {
    return spegel::cli::RunConfigurationCommand(args, spegel::cli::ProcessEnv());
  }
  if (command == "cleanup") {
    return spegel::cli::RunCleanupCommand(args, spegel::cli::ProcessEnv());
  }
  if (command == "preflight") return RunPreflightCommand(args);
  if (command == "registry") {
    bool help = false;
    std::string usage;
    auto options = spegel::cli::ParseRegistryOptions(args, spegel::cli::ProcessEnv(), &help, &usage);
    if (help) {
      fputs(usage.c_str(), stdout);
      return 0;
    }
    if (!options.ok()) {
      fprintf(stderr, "spegel registry: %s\n", options.status().message().c_str());
      return kExitUsage;
    }
    return RunRegistry(*options);
  }
  fprintf(stderr, "spegel: unknown command \"%s\"\n\n%s", command.c_str(), kUsage);
  return kExitUsage;
}
