// RegistryDaemon: `spegel registry`, the whole node, assembled from its options in one place.
//
//   containerd ─events, walks─▶ Syncer ─▶ Index ─key changes─▶ Announcer ─▶ ClusterNode
//   clients ─▶ Server ─▶ InstrumentedHandler ─▶ [AuthHandler] ─▶ RegistryHandler
//                                                                 └ miss ─▶ PeerFetcher ─▶
//                                                                   ClusterNode (ContentLocator)
//   metrics clients ─▶ metrics Server ─▶ MetricsHandler
//
// Life:
//   Create   binds the registry and metrics listeners first (the cluster needs the registry
//            port), then builds every part with everything it needs in its constructor: no
//            setters, no half-built object. Nothing runs yet; the sockets queue connections.
//   Start    serves both listeners, starts the cluster (membership sources, router API) and the
//            syncer.
//   Stop     the one shutdown sequence: the syncer stops and the index stops reporting to the
//            announcer; both servers drain in-flight responses for up to `drain_ms` while the
//            cluster withdraws this node's keys; `done` runs once everything is closed.
//
// Ownership and threading: owned by RunRegistry; every method on the loop thread. The Loop
// must outlive the daemon; destroy it only after Stop's `done` ran (or if Start was never
// called).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "cli/registry_options.h"
#include "containerd/client.h"
#include "loop/loop.h"

namespace spegel::daemon {

class RegistryDaemon {
 public:
  // InvalidArgument for bad credentials in --basic-auth-dir (a usage error), Unavailable for an
  // address that cannot be bound, FailedPrecondition for an unusable --peer-secret-file; each
  // message names the address or the path. The daemon keeps a copy of `options` and owns
  // `client`. `startup_check` (how the preflight went, one line each) is shown on the status page.
  static Result<std::unique_ptr<RegistryDaemon>> Create(
      Loop* loop, const cli::RegistryOptions& options,
      std::unique_ptr<containerd::ContainerdClient> client,
      std::vector<std::string> startup_check = {});
  ~RegistryDaemon();
  RegistryDaemon(const RegistryDaemon&) = delete;
  RegistryDaemon& operator=(const RegistryDaemon&) = delete;

  // Call once. An error (the router address, an mDNS interface, a DNS resolver) leaves the
  // daemon to be stopped: call Stop, then exit non-zero.
  Status Start();
  // Call once, after Create (whether Start succeeded or not). `done` runs on the loop thread,
  // never inline.
  void Stop(uint64_t drain_ms, std::function<void()> done);

 private:
  struct Parts;
  explicit RegistryDaemon(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

// `spegel registry ARGS`: flags, preflight, process limits, then the daemon on a loop until
// SIGTERM/SIGINT. Returns the exit code: 0 after a graceful stop (or --help), 1 on a runtime
// failure, 2 on bad usage.
int RunRegistryCommand(const std::vector<std::string>& args);

}  // namespace spegel::daemon
