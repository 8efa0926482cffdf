// Upstream Spegel's uninstall hooks, which its Helm chart runs as a post-delete DaemonSet and Pod:
//
//   spegel cleanup [--containerd-registry-config-path P] [--addr :8080]
//       restores the hosts.toml files `configuration` backed up (cli/configuration_options.h);
//       with --addr it then answers GET /readyz with 200 on that address until SIGTERM or
//       SIGINT, so the chart's Pod can see that every node's cleanup ran.
//   spegel cleanup-wait --probe-endpoint HOST:PORT [--threshold 3] [--period 2s] [--timeout 5m]
//       resolves HOST (A and AAAA: the headless Service of the cleanup DaemonSet), GETs
//       http://IP:PORT/readyz on every address (at most 10 at a time, 1 s each) once a period,
//       and exits 0 after `threshold` rounds in a row in which every address answered 200; a
//       round with none, or a failing one, resets the count. Exits 1 after --timeout.
//
// Both run one libuv loop on the calling thread (http::Server, http::Fetch, uv_getaddrinfo);
// they block until done. Exit codes: 0 ok, 1 runtime failure, 2 bad flags.
#pragma once

#include <string>
#include <vector>

namespace spegel::daemon {

int RunCleanupCommand(const std::vector<std::string>& args);
int RunCleanupWaitCommand(const std::vector<std::string>& args);

}  // namespace spegel::daemon
