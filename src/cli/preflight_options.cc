#include "cli/preflight_options.h"

#include "cli/configuration_options.h"

namespace spegel::cli {

node::PreflightOptions PreflightFlags::ToOptions() const {
  node::PreflightOptions o;
  // Spegel writes into the first entry of a config_path list: that is the directory to check.
  o.registry_config_path = containerd_registry_config_path;
  if (!TakeFirstConfigPathEntry(&o.registry_config_path).ok()) {
    o.registry_config_path = containerd_registry_config_path;
  }
  o.containerd_config = containerd_config;
  return o;
}

void AddPreflightFlags(FlagSet* flags, PreflightFlags* target, bool with_skip) {
  flags->AddRequiredString("containerd-registry-config-path",
                           &target->containerd_registry_config_path,
                           "Directory where Spegel's hosts.toml files are written (containerd's "
                           "registry config_path must include it).");
  flags->AddRequiredString("containerd-config", &target->containerd_config,
                           "containerd's config file: read for the containerd 2.x settings and "
                           "named in error messages.");
  if (with_skip) {
    flags->AddBool("skip-preflight", &target->skip_preflight,
                   "Start without checking containerd's configuration.");
  }
}

Result<PreflightCommandOptions> ParsePreflightOptions(const std::vector<std::string>& args,
                                                      const EnvLookup& env, bool* help,
                                                      std::string* usage) {
  PreflightCommandOptions o;
  FlagSet flags("preflight",
                "Checks that containerd is configured so Spegel can work (registry config_path, "
                "discard_unpacked_layers, the containerd 2.1 transfer service) and says exactly "
                "what to change. Exit 0: fine; 1: misconfigured, or containerd unreachable.");
  flags.AddRequiredString("containerd-sock", &o.containerd_sock, "containerd's gRPC socket.");
  AddPreflightFlags(&flags, &o.preflight, /*with_skip=*/false);
  flags.AddDuration("containerd-timeout", &o.timeout, "Deadline of each call to containerd.");
  flags.AddLogLevel(&o.log_level, &o.level);
  if (Status st = flags.ParseOrUsage(args, env, help, usage); !st.ok()) return st;
  if (*help) return o;
  if (o.timeout.count() <= 0) {
    return Status::InvalidArgument("--containerd-timeout must be positive");
  }
  return o;
}

}  // namespace spegel::cli
