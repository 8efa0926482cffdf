// `spegel configuration` and `spegel cleanup`: flags (with environment twins) and the commands.
//
// configuration writes containerd's hosts.toml mirror files (node/hosts_dir.h); cleanup restores
// what was there before. Exit codes: 0 ok, 1 runtime failure (a path that cannot be read or
// written), 2 bad flags or values. Every error message names the offending value or path.
//
// Threading: single-threaded, blocking; run as a one-shot command.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "base/log.h"
#include "base/status.h"
#include "cli/flags.h"
#include "http/address.h"
#include "node/hosts_config.h"

namespace spegel::cli {

// containerd's config_path may be a list ("a:b", containerd 2.2's default): Spegel writes into
// and restores its first entry. Sets `*path` to that entry and returns the list, or returns
// empty when `*path` is one directory. InvalidArgument when the list has no entry.
Result<std::string> TakeFirstConfigPathEntry(std::string* path);

struct ConfigurationOptions {
  std::string containerd_registry_config_path = "/etc/containerd/certs.d";
  std::string config_path_list;  // the list given, when it was one (see TakeFirstConfigPathEntry)
  std::vector<std::string> mirrored_registries;  // raw flag values
  std::vector<std::string> mirror_targets;       // raw flag values
  bool resolve_tags = true;
  std::vector<std::string> private_registries;
  bool prepend_existing = false;
  std::chrono::milliseconds dial_timeout{200};
  std::string basic_auth_dir = "/etc/secrets/basic-auth";
  std::string log_level = "INFO";
  LogLevel level = LogLevel::kInfo;
  // Validated forms of the lists (authorization is filled in by RunConfiguration).
  node::MirrorConfig mirror;
};

struct CleanupOptions {
  std::string containerd_registry_config_path = "/etc/containerd/certs.d";
  std::string config_path_list;
  // Upstream's --addr: after restoring, answer GET /readyz here until SIGTERM (empty = exit).
  std::string addr;
  std::optional<http::Address> address;  // addr, parsed
  std::string log_level = "INFO";
  LogLevel level = LogLevel::kInfo;
};

// `spegel cleanup-wait` (daemon/cleanup_command.h), as upstream's.
struct CleanupWaitOptions {
  std::string probe_endpoint;  // HOST:PORT, [IPV6]:PORT
  std::string probe_host;      // parsed
  uint16_t probe_port = 0;
  int64_t threshold = 3;
  std::chrono::milliseconds period{2000};
  std::chrono::milliseconds timeout{300000};
  std::string log_level = "INFO";
  LogLevel level = LogLevel::kInfo;
};

// Parse `args` (after the subcommand). On --help, `*help` is set and `*usage` holds the text.
// Errors are InvalidArgument naming the flag and value.
Result<ConfigurationOptions> ParseConfigurationOptions(const std::vector<std::string>& args,
                                                       const EnvLookup& env, bool* help,
                                                       std::string* usage);
Result<CleanupOptions> ParseCleanupOptions(const std::vector<std::string>& args,
                                           const EnvLookup& env, bool* help, std::string* usage);
Result<CleanupWaitOptions> ParseCleanupWaitOptions(const std::vector<std::string>& args,
                                                   const EnvLookup& env, bool* help,
                                                   std::string* usage);

// The whole command: parse, act, report on stderr/log; return the process exit code. (cleanup
// and cleanup-wait run a loop: daemon/cleanup_command.h.)
int RunConfigurationCommand(const std::vector<std::string>& args, const EnvLookup& env);

}  // namespace spegel::cli
