#include "daemon/preflight_command.h"

#include <cstdio>
#include <map>

#include "base/log.h"
#include "cli/command.h"
#include "containerd/cri_client.h"
#include "containerd/grpc_client.h"

namespace spegel::daemon {

node::PreflightResult CheckContainerd(const std::string& socket, const cli::PreflightFlags& flags,
                                      std::chrono::milliseconds timeout) {
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
  return cli::RunCommand(
      "preflight", args, cli::ProcessEnv(), &cli::ParsePreflightOptions,
      [](cli::PreflightCommandOptions& options) {
        SetLogLevel(options.level);
        auto result = CheckContainerd(options.containerd_sock, options.preflight, options.timeout);
        switch (result.verdict) {
          case node::PreflightVerdict::kPass:
            printf("containerd is configured for Spegel (containerd %s, config_path %s)\n",
                   result.version.c_str(), result.config_path.c_str());
            return cli::kExitOk;
          case node::PreflightVerdict::kRefuse:
            fprintf(stderr, "spegel preflight: %s\n", result.message.c_str());
            return cli::kExitRuntime;
          case node::PreflightVerdict::kUnverified:
            fprintf(stderr,
                    "spegel preflight: cannot reach containerd at %s, nothing was checked\n",
                    options.containerd_sock.c_str());
            return cli::kExitRuntime;
        }
        return cli::kExitRuntime;
      });
}

}  // namespace spegel::daemon
