// The `preflight` command, and the containerd check `registry` runs before it starts.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "cli/preflight_options.h"
#include "node/preflight.h"

namespace spegel::daemon {

// Reads containerd's configuration over its socket (version, CRI verbose status) and its config
// file, and judges it (node::RunPreflight). A containerd without the Version service still
// answers CRI: its runtime version is used then. Blocks for at most a few `timeout`s.
node::PreflightResult CheckContainerd(const std::string& socket, const cli::PreflightFlags& flags,
                                      std::chrono::milliseconds timeout);

// `spegel preflight ARGS`: prints the verdict. Exit code 0 when containerd is configured for
// Spegel, 1 when it is not or cannot be reached, 2 on bad usage.
int RunPreflightCommand(const std::vector<std::string>& args);

}  // namespace spegel::daemon
