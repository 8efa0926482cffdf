// Flags of `spegel preflight`, and the preflight flags `spegel registry` shares with it.
//
// Shared: --containerd-registry-config-path (the certs.d directory Spegel writes hosts.toml
// into; default /etc/containerd/certs.d) and --containerd-config (containerd's config file, read
// for the 2.x keys and named in messages; default /etc/containerd/config.toml). `registry` also
// has --skip-preflight for hosts where the check cannot run. Each has its environment twin.
//
// Threading: single-threaded use at start-up.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "base/log.h"
#include "base/status.h"
#include "cli/flags.h"
#include "node/preflight.h"

namespace spegel::cli {

struct PreflightFlags {
  std::string containerd_registry_config_path = "/etc/containerd/certs.d";
  std::string containerd_config = "/etc/containerd/config.toml";
  bool skip_preflight = false;  // only `registry` has the flag

  node::PreflightOptions ToOptions() const;
};

// Registers the shared flags on `flags` (and --skip-preflight when `with_skip`), writing into
// `target`, which must outlive flags->Parse().
void AddPreflightFlags(FlagSet* flags, PreflightFlags* target, bool with_skip);

struct PreflightCommandOptions {
  std::string containerd_sock = "/run/containerd/containerd.sock";
  // Deadline of each call to containerd.
  std::chrono::milliseconds timeout{5000};
  std::string log_level = "INFO";
  LogLevel level = LogLevel::kInfo;
  PreflightFlags preflight;
};

// Parses `args` (after "preflight"). On --help, `*help` is set and `*usage` holds the text.
// Errors are InvalidArgument naming the flag.
Result<PreflightCommandOptions> ParsePreflightOptions(const std::vector<std::string>& args,
                                                      const EnvLookup& env, bool* help,
                                                      std::string* usage);

}  // namespace spegel::cli
