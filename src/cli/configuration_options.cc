#include "cli/configuration_options.h"

#include <algorithm>
#include <cstdio>

#include "base/numbers.h"
#include "cli/command.h"
#include "node/hosts_dir.h"

namespace spegel::cli {

Result<std::string> TakeFirstConfigPathEntry(std::string* path) {
  if (path->find(':') == std::string::npos) return std::string();
  std::string list = *path;
  size_t start = 0;
  while (start <= list.size()) {
    const size_t colon = list.find(':', start);
    const size_t end = colon == std::string::npos ? list.size() : colon;
    if (end > start) {
      *path = list.substr(start, end - start);
      return list;
    }
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return Status::InvalidArgument("--containerd-registry-config-path \"" + list +
                                 "\" lists no directory");
}

Result<ConfigurationOptions> ParseConfigurationOptions(const std::vector<std::string>& args,
                                                       const EnvLookup& env, bool* help,
                                                       std::string* usage) {
  ConfigurationOptions o;
  FlagSet flags("configuration",
                "Writes containerd's registry mirror configuration (<path>/<host>/hosts.toml) so "
                "that pulls try this node's Spegel first. What was in <path> is moved to "
                "<path>/_backup once; 'spegel cleanup' restores it.");
  flags.AddRequiredString("containerd-registry-config-path", &o.containerd_registry_config_path,
                          "containerd's registry config_path directory.");
  flags.AddList("mirrored-registries", &o.mirrored_registries,
                "Registry URLs to mirror (https://docker.io, http://host:5000); empty, _default "
                "or * = every registry.");
  flags.AddList("mirror-targets", &o.mirror_targets,
                "URLs of this node's Spegel, tried in order (required).");
  flags.AddBool("resolve-tags", &o.resolve_tags,
                "Let the mirrors resolve tags (capability 'resolve'), not only digests.");
  flags.AddList("private-registries", &o.private_registries,
                "Registry URLs whose tags the mirrors must not resolve (capability 'pull' only): "
                "containerd resolves them at the registry with the pod's credentials, blobs still "
                "come from the mirrors. Each gets its own hosts.toml.");
  flags.AddBool("prepend-existing", &o.prepend_existing,
                "Keep the [host] entries of the existing hosts.toml after Spegel's.");
  flags.AddDuration("dial-timeout", &o.dial_timeout,
                    "dial_timeout written for each mirror (containerd 2.1+ honours it); 0 = none.");
  flags.AddString("basic-auth-dir", &o.basic_auth_dir,
                  "Directory with 'username' and 'password' files; if either exists, an "
                  "Authorization header is written for the mirrors.");
  flags.AddLogLevel(&o.log_level, &o.level);

  if (Status st = flags.ParseOrUsage(args, env, help, usage); !st.ok()) return st;
  if (*help) return o;
  if (o.dial_timeout.count() < 0) {
    return Status::InvalidArgument("--dial-timeout must not be negative");
  }
  auto list = TakeFirstConfigPathEntry(&o.containerd_registry_config_path);
  if (!list.ok()) return list.status();
  o.config_path_list = std::move(*list);
  auto registries = node::ParseMirroredRegistries(o.mirrored_registries);
  if (!registries.ok()) {
    return Status::InvalidArgument("--mirrored-registries: " + registries.status().message());
  }
  auto targets = node::ParseMirrorTargets(o.mirror_targets);
  if (!targets.ok()) {
    return Status::InvalidArgument(targets.status().message().rfind("--mirror-targets", 0) == 0
                                       ? targets.status().message()
                                       : "--mirror-targets: " + targets.status().message());
  }
  auto private_registries = node::ParsePrivateRegistries(o.private_registries);
  if (!private_registries.ok()) return private_registries.status();
  for (auto& url : *private_registries) {
    o.mirror.pull_only.insert(url.DirName());
    const bool listed = std::any_of(registries->begin(), registries->end(), [&](const auto& r) {
      return !r.wildcard && r.DirName() == url.DirName();
    });
    if (!listed) registries->push_back(std::move(url));
  }
  o.mirror.registries = std::move(*registries);
  o.mirror.targets = std::move(*targets);
  o.mirror.resolve_tags = o.resolve_tags;
  o.mirror.prepend_existing = o.prepend_existing;
  o.mirror.dial_timeout = o.dial_timeout;
  return o;
}

Result<CleanupOptions> ParseCleanupOptions(const std::vector<std::string>& args,
                                           const EnvLookup& env, bool* help, std::string* usage) {
  CleanupOptions o;
  FlagSet flags("cleanup",
                "Removes Spegel's hosts.toml files and moves <path>/_backup back into place. "
                "Does nothing when there is no _backup.");
  flags.AddRequiredString("containerd-registry-config-path", &o.containerd_registry_config_path,
                          "containerd's registry config_path directory.");
  flags.AddString("addr", &o.addr,
                  "After restoring, answer GET /readyz with 200 here until SIGTERM (upstream's "
                  "uninstall hook waits for it). Empty = exit at once.");
  flags.AddLogLevel(&o.log_level, &o.level);
  if (Status st = flags.ParseOrUsage(args, env, help, usage); !st.ok()) return st;
  if (*help) return o;
  auto list = TakeFirstConfigPathEntry(&o.containerd_registry_config_path);
  if (!list.ok()) return list.status();
  o.config_path_list = std::move(*list);
  if (!o.addr.empty()) {
    auto address = http::ParseListenAddress(o.addr);
    if (!address.ok()) return Status::InvalidArgument("--addr: " + address.status().message());
    o.address = *address;
  }
  return o;
}

Result<CleanupWaitOptions> ParseCleanupWaitOptions(const std::vector<std::string>& args,
                                                   const EnvLookup& env, bool* help,
                                                   std::string* usage) {
  CleanupWaitOptions o;
  FlagSet flags("cleanup-wait",
                "Waits until every address of HOST answers GET /readyz with 200 on PORT, "
                "--threshold rounds in a row (upstream's uninstall hook Pod).");
  flags.AddRequiredString("probe-endpoint", &o.probe_endpoint,
                          "HOST:PORT of the cleanup DaemonSet's headless Service.");
  flags.AddInt("threshold", &o.threshold, 1, 1000,
               "Rounds in a row in which every address is ready.");
  flags.AddDuration("period", &o.period, "Time between rounds; the first runs at once.");
  flags.AddDuration("timeout", &o.timeout, "Give up (exit 1) after this long.");
  flags.AddLogLevel(&o.log_level, &o.level);
  if (Status st = flags.ParseOrUsage(args, env, help, usage); !st.ok()) return st;
  if (*help) return o;
  const std::string& e = o.probe_endpoint;
  size_t colon = std::string::npos;
  if (!e.empty() && e.front() == '[') {
    const size_t close = e.find(']');
    if (close != std::string::npos && close + 1 < e.size() && e[close + 1] == ':') {
      o.probe_host = e.substr(1, close - 1);
      colon = close + 1;
    }
  } else {
    colon = e.rfind(':');
    if (colon != std::string::npos) o.probe_host = e.substr(0, colon);
  }
  uint64_t port = 0;
  if (colon == std::string::npos || o.probe_host.empty() ||
      !ParseDecimal(std::string_view(e).substr(colon + 1), &port) || port == 0 || port > 65535) {
    return Status::InvalidArgument("--probe-endpoint \"" + e + "\": expected HOST:PORT");
  }
  o.probe_port = static_cast<uint16_t>(port);
  if (o.period.count() <= 0 || o.timeout.count() <= 0) {
    return Status::InvalidArgument("--period and --timeout must be positive");
  }
  return o;
}

int RunConfigurationCommand(const std::vector<std::string>& args, const EnvLookup& env) {
  return RunCommand("configuration", args, env, &ParseConfigurationOptions,
                    [](ConfigurationOptions& options) {
                      SetLogLevel(options.level);
                      if (!options.config_path_list.empty()) {
                        LOG_INFO("config_path is a list: hosts.toml files go into its first entry")
                            .Str("config_path", options.config_path_list)
                            .Str("path", options.containerd_registry_config_path);
                      }
                      auto authorization = node::ReadBasicAuthorization(options.basic_auth_dir);
                      if (!authorization.ok()) {
                        fprintf(stderr, "spegel configuration: basic auth: %s\n",
                                authorization.status().message().c_str());
                        return kExitRuntime;
                      }
                      options.mirror.authorization = *authorization;
                      auto result = node::ApplyMirrorConfig(options.containerd_registry_config_path,
                                                            options.mirror);
                      if (!result.ok()) {
                        fprintf(stderr, "spegel configuration: %s\n",
                                result.status().message().c_str());
                        return kExitRuntime;
                      }
                      LOG_INFO("mirror configuration written")
                          .Str("path", options.containerd_registry_config_path)
                          .Int("hosts", static_cast<int64_t>(result->written.size()))
                          .Int("backed_up", static_cast<int64_t>(result->backed_up.size()))
                          .Bool("basic_auth", !authorization->empty());
                      return kExitOk;
                    });
}

}  // namespace spegel::cli
