#include "daemon/registry_daemon.h"

#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "auth/basic_auth.h"
#include "auth/peer_auth.h"
#include "base/clock.h"
#include "base/log.h"
#include "cli/command.h"
#include "cluster/announcer.h"
#include "cluster/cluster_node.h"
#include "containerd/content_store.h"
#include "containerd/grpc_client.h"
#include "daemon/preflight_command.h"
#include "http/connection_pool.h"
#include "http/server.h"
#include "index/index.h"
#include "index/syncer.h"
#include "metrics/instrumented_handler.h"
#include "metrics/metrics_handler.h"
#include "metrics/registry.h"
#include "metrics/spegel_metrics.h"
#include "metrics/status.h"
#include "node/preflight.h"
#include "registry/handler.h"
#include "registry/peer_fetch.h"

namespace spegel::daemon {

namespace {}  // namespace

// Every part, in construction order: each one's constructor gets the parts above it.
struct RegistryDaemon::Parts {
  Parts(Loop* loop, const cli::RegistryOptions& options,
        std::unique_ptr<containerd::ContainerdClient> client_in,
        std::optional<auth::Credentials> credentials, auth::PeerAuth peer_auth_in,
        http::ListenSocket registry_socket_in, http::ListenSocket metrics_socket_in,
        cluster::ClusterOptions cluster_options, std::vector<std::string> startup_check)
      : loop(loop),
        options(options),
        peer_connections(loop),
        client(std::move(client_in)),
        peer_auth(std::move(peer_auth_in)),
        content_store(loop, client.get(), ContentOptions(options)),
        syncer(loop, client.get(), &content_store, &index, SyncOptions(options)),
        cluster_node(loop, WithPool(std::move(cluster_options), &peer_connections)),
        announcer(
            [this](const index::ImageWalk& image) {
              return this->options.filters.AllowsImage(image);
            },
            [this](const std::vector<std::string>& add, const std::vector<std::string>& remove) {
              cluster_node.UpdateLocalKeys(add, remove);
            }),
        peer_fetcher(loop, &cluster_node, peer_auth,
                     FetchOptions(options, credentials, &peer_connections)),
        inflight(loop, &cluster_node, &content_store, InflightOptions(options)),
        registry_handler(&index, &syncer, &content_store,
                         registry::ClusterMode{&peer_fetcher, &this->options.filters, &peer_auth,
                                               options.inflight_sharing ? &inflight : nullptr}),
        spegel_metrics(&metrics_registry),
        status_board(loop, &index, &syncer, options.inflight_sharing ? &inflight : nullptr,
                     &cluster_node,
                     metrics::NodeInfo{SPEGEL_VERSION, options.registry_address.ToString(),
                                       options.debug_web_enabled, std::move(startup_check)}),
        registry_socket(std::move(registry_socket_in)),
        metrics_socket(std::move(metrics_socket_in)) {
    if (credentials) {
      auth_handler = std::make_unique<auth::AuthHandler>(&registry_handler, *credentials);
    }
    // Request path: metrics → basic auth (only when configured) → registry.
    front = std::make_unique<metrics::InstrumentedHandler>(
        auth_handler ? static_cast<http::Handler*>(auth_handler.get()) : &registry_handler,
        &spegel_metrics, &status_board);
    server = std::make_unique<http::Server>(loop, front.get(), options.ServerOptions());
    if (metrics_socket.valid()) {
      metrics_handler = std::make_unique<metrics::MetricsHandler>(&metrics_registry, &status_board,
                                                                  &index, &syncer, &measure);
      metrics_server = std::make_unique<http::Server>(loop, metrics_handler.get());
    }
    spegel_metrics.WatchState(&index, &syncer);
    spegel_metrics.WatchIdentity(&cluster_node);
    spegel_metrics.WatchCluster([this] { return cluster_node.member_count(); },
                                &peer_fetcher.stats());
    if (options.inflight_sharing) spegel_metrics.WatchInflight(&inflight);
    status_board.Start();
    // The announced keys follow the index's changes: syncer → index → announcer → router.
    index.SetListener(&announcer);
  }
  ~Parts() { index.SetListener(nullptr); }

  static index::SyncerOptions SyncOptions(const cli::RegistryOptions& options) {
    index::SyncerOptions o;
    o.resync_interval = options.resync_interval;
    return o;
  }
  static containerd::ContentStoreOptions ContentOptions(const cli::RegistryOptions& options) {
    containerd::ContentStoreOptions o;
    o.content_path = options.containerd_content_path;
    return o;
  }
  // Peers may require the cluster's basic auth on /v2 as well: send ours.
  static registry::PeerFetchOptions FetchOptions(const cli::RegistryOptions& options,
                                                 const std::optional<auth::Credentials>& c,
                                                 http::ConnectionPool* pool) {
    registry::PeerFetchOptions o;
    o.max_peers = static_cast<size_t>(options.mirror_resolve_retries);
    if (c) o.authorization = auth::BasicAuthorization(*c);
    o.pool = pool;
    return o;
  }
  static registry::InflightOptions InflightOptions(const cli::RegistryOptions& options) {
    registry::InflightOptions o;
    o.containerd_namespace = options.containerd_namespace;
    return o;
  }
  static cluster::ClusterOptions WithPool(cluster::ClusterOptions o, http::ConnectionPool* pool) {
    o.pool = pool;
    return o;
  }

  Loop* loop;
  const cli::RegistryOptions options;
  // Keep-alive connections to peers, shared by router calls and peer fetches; outlives both.
  http::ConnectionPool peer_connections;
  std::unique_ptr<containerd::ContainerdClient> client;
  const auth::PeerAuth peer_auth;
  containerd::ContentStore content_store;
  index::Index index;
  index::Syncer syncer;
  cluster::ClusterNode cluster_node;
  cluster::Announcer announcer;
  registry::PeerFetcher peer_fetcher;
  registry::Inflight inflight;
  registry::RegistryHandler registry_handler;
  std::unique_ptr<auth::AuthHandler> auth_handler;
  metrics::Registry metrics_registry;
  metrics::SpegelMetrics spegel_metrics;
  metrics::StatusBoard status_board;  // Before the servers: their callbacks report to it.
  metrics::Measure measure{loop, &peer_fetcher};
  std::unique_ptr<metrics::InstrumentedHandler> front;
  std::unique_ptr<http::Server> server;
  std::unique_ptr<metrics::MetricsHandler> metrics_handler;
  std::unique_ptr<http::Server> metrics_server;
  http::ListenSocket registry_socket;
  http::ListenSocket metrics_socket;
  bool stopping = false;
};

Result<std::unique_ptr<RegistryDaemon>> RegistryDaemon::Create(
    Loop* loop, const cli::RegistryOptions& options,
    std::unique_ptr<containerd::ContainerdClient> client, std::vector<std::string> startup_check) {
  auto credentials = auth::LoadCredentials(options.basic_auth_dir);
  if (!credentials.ok()) {
    return Status::InvalidArgument("basic auth: " + credentials.status().message());
  }
  auto registry_socket = http::ListenSocket::Bind(options.registry_address,
                                                  options.ServerOptions().backlog);
  if (!registry_socket.ok()) {
    LOG_ERROR("cannot listen")
        .Str("addr", options.registry_addr)
        .Str("error", registry_socket.status().ToString());
    return registry_socket.status();
  }
  http::ListenSocket metrics_socket;
  if (!options.metrics_addr.empty()) {
    auto bound = http::ListenSocket::Bind(options.metrics_address);
    if (!bound.ok()) {
      LOG_ERROR("cannot listen")
          .Str("metrics_addr", options.metrics_addr)
          .Str("error", bound.status().ToString());
      return bound.status();
    }
    metrics_socket = std::move(*bound);
  }
  auth::PeerAuth peer_auth;
  if (!options.peer_secret_file.empty()) {
    auto loaded = auth::PeerAuth::FromFile(options.peer_secret_file);
    if (!loaded.ok()) {
      LOG_ERROR("cannot start the cluster").Str("error", loaded.status().ToString());
      return Status::FailedPrecondition(loaded.status().message());
    }
    peer_auth = std::move(*loaded);
  }
  cluster::ClusterOptions cluster_options = options.ClusterOptions();
  cluster_options.incarnation = UnixNowMs();
  cluster_options.registry_port = registry_socket->port();
  cluster_options.auth = peer_auth;
  auto parts = std::make_unique<Parts>(loop, options, std::move(client), std::move(*credentials),
                                       std::move(peer_auth), std::move(*registry_socket),
                                       std::move(metrics_socket), std::move(cluster_options),
                                       std::move(startup_check));
  return std::unique_ptr<RegistryDaemon>(new RegistryDaemon(std::move(parts)));
}

RegistryDaemon::RegistryDaemon(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

RegistryDaemon::~RegistryDaemon() = default;

Status RegistryDaemon::Start() {
  Parts& p = *parts_;
  const uint16_t port = p.registry_socket.port();
  auto served = p.server->Listen(std::move(p.registry_socket));
  if (!served.ok()) return served.status();
  int metrics_port = -1;
  if (p.metrics_server) {
    metrics_port = p.metrics_socket.port();
    auto bound = p.metrics_server->Listen(std::move(p.metrics_socket));
    if (!bound.ok()) return bound.status();
  }
  Status cluster_error = p.cluster_node.Start();
  if (!cluster_error.ok()) {
    LOG_ERROR("cannot start the cluster").Str("error", cluster_error.ToString());
    return cluster_error;
  }
  LOG_INFO("spegel registry started")
      .Str("version", SPEGEL_VERSION)
      .Str("registry_addr", p.options.registry_address.ToString())
      .Int("port", port)
      .Str("metrics_addr",
           p.options.metrics_addr.empty() ? "" : p.options.metrics_address.ToString())
      .Int("metrics_port", metrics_port)
      .Str("basic_auth", p.auth_handler ? "on" : "off")
      .Str("containerd_sock", p.options.containerd_sock)
      .Str("containerd_namespace", p.options.containerd_namespace)
      .Str("node_id", p.options.node_id)
      .Int("router_port", p.cluster_node.router_port());
  p.syncer.Start();
  return Status::Ok();
}

void RegistryDaemon::Stop(uint64_t drain_ms, std::function<void()> done) {
  Parts& p = *parts_;
  if (p.stopping) return;
  p.stopping = true;
  p.syncer.Stop();
  p.index.SetListener(nullptr);
  // Both servers and the cluster drain; `done` runs when the last one is done.
  auto pending = std::make_shared<int>(p.metrics_server ? 3 : 2);
  auto one_done = [pending, done = std::move(done)] {
    if (--*pending == 0) done();
  };
  p.server->Shutdown(drain_ms, one_done);
  p.cluster_node.Stop(one_done);
  if (p.metrics_server) p.metrics_server->Shutdown(drain_ms, one_done);
}

namespace {

int RunRegistry(const cli::RegistryOptions& options) {
  SetLogLevel(options.level);
  for (const std::string& warning : options.warnings) LOG_WARN(warning);
  // A definite misconfiguration stops here; an unreachable containerd does not (the syncer
  // retries until it answers).
  std::vector<std::string> startup_check;  // For the status page.
  if (!options.preflight.skip_preflight) {
    auto result = CheckContainerd(options.containerd_sock, options.preflight,
                                  std::chrono::seconds(5));
    if (result.verdict == node::PreflightVerdict::kRefuse) {
      fprintf(stderr, "spegel registry: %s\n", result.message.c_str());
      return 1;
    }
    startup_check.push_back(result.verdict == node::PreflightVerdict::kPass
                                ? "passed"
                                : "not done: containerd did not answer at start");
    for (const std::string& w : result.warnings) startup_check.push_back("warning: " + w);
  } else {
    startup_check.push_back("skipped (--skip-preflight)");
  }
  for (const std::string& w : options.warnings) startup_check.push_back("flag: " + w);
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
    return cli::kExitUsage;
  }
  Loop loop;
  auto created = RegistryDaemon::Create(&loop, options, std::move(*client),
                                        std::move(startup_check));
  if (!created.ok()) {
    fprintf(stderr, "spegel registry: %s\n", created.status().message().c_str());
    return created.status().code() == Code::kInvalidArgument ? cli::kExitUsage : cli::kExitRuntime;
  }
  std::unique_ptr<RegistryDaemon> daemon = std::move(*created);
  std::vector<std::unique_ptr<SignalWatcher>> signals;
  auto stop = [&](uint64_t drain_ms) {
    daemon->Stop(drain_ms, [&] {
      for (auto& s : signals) s->Stop();
      loop.Stop();
    });
  };
  if (Status started = daemon->Start(); !started.ok()) {
    fprintf(stderr, "spegel registry: %s\n", started.message().c_str());
    stop(0);
    loop.Run();
    return 1;
  }
  auto shutdown = [&] {
    LOG_INFO("shutting down");
    stop(static_cast<uint64_t>(options.shutdown_timeout.count()));
  };
  signals.push_back(std::make_unique<SignalWatcher>(&loop, SIGTERM, shutdown));
  signals.push_back(std::make_unique<SignalWatcher>(&loop, SIGINT, shutdown));
  loop.Run();
  signals.clear();
  daemon.reset();
  LOG_INFO("exit gracefully");
  return 0;
}

}  // namespace

int RunRegistryCommand(const std::vector<std::string>& args) {
  return cli::RunCommand("registry", args, cli::ProcessEnv(), &cli::ParseRegistryOptions,
                         [](cli::RegistryOptions& options) { return RunRegistry(options); });
}

}  // namespace spegel::daemon
