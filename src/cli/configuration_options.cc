#include "cli/configuration_options.h"

#include <cstdio>

#include "cli/command.h"
#include "node/hosts_dir.h"

namespace spegel::cli {
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
  flags.AddLogLevel(&o.log_level, &o.level);
  if (Status st = flags.ParseOrUsage(args, env, help, usage); !st.ok()) return st;
  return o;
}

int RunConfigurationCommand(const std::vector<std::string>& args, const EnvLookup& env) {
  return RunCommand("configuration", args, env, &ParseConfigurationOptions,
                    [](ConfigurationOptions& options) {
                      SetLogLevel(options.level);
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

int RunCleanupCommand(const std::vector<std::string>& args, const EnvLookup& env) {
  return RunCommand("cleanup", args, env, &ParseCleanupOptions, [](CleanupOptions& options) {
    SetLogLevel(options.level);
    auto result = node::RestoreMirrorConfig(options.containerd_registry_config_path);
    if (!result.ok()) {
      fprintf(stderr, "spegel cleanup: %s\n", result.status().message().c_str());
      return kExitRuntime;
    }
    if (!result->had_backup) {
      LOG_INFO("no backup to restore, skipping cleanup")
          .Str("path", options.containerd_registry_config_path);
    }
    return kExitOk;
  });
}

}  // namespace spegel::cli
