// spegel: a table of commands; each one's module parses its flags and runs it.
#include <algorithm>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "cli/command.h"
#include "cli/configuration_options.h"
#include "daemon/cleanup_command.h"
#include "daemon/preflight_command.h"
#include "daemon/registry_daemon.h"

namespace {

int RunVersion(const std::vector<std::string>& args) {
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
    printf("Usage: spegel version\n\nPrints the version.\n");
    return 0;
  }
  printf("spegel version %s\n", SPEGEL_VERSION);
  return 0;
}

int RunConfiguration(const std::vector<std::string>& args) {
  return spegel::cli::RunConfigurationCommand(args, spegel::cli::ProcessEnv());
}

struct Command {
  std::string_view name;
  std::string_view summary;  // Empty: not listed in the usage (an alias).
  int (*run)(const std::vector<std::string>& args);
};

constexpr Command kCommands[] = {
    {"registry", "Index this node's containerd content and serve it (the daemon).",
     spegel::daemon::RunRegistryCommand},
    {"configuration", "Write containerd's hosts.toml mirror files (backs up the old ones).",
     RunConfiguration},
    {"cleanup", "Restore the hosts.toml files that configuration backed up.",
     spegel::daemon::RunCleanupCommand},
    {"cleanup-wait", "Wait until every node's cleanup answers /readyz (uninstall hook).",
     spegel::daemon::RunCleanupWaitCommand},
    {"preflight", "Check that containerd is configured so Spegel can work.",
     spegel::daemon::RunPreflightCommand},
    {"version", "Print the version.", RunVersion},
    {"--version", "", RunVersion},
};

std::string Usage() {
  std::string out =
      "Usage: spegel <command> [flags]\n"
      "\n"
      "Spegel is a stateless, cluster-local OCI registry mirror that runs next to containerd.\n"
      "\n"
      "Commands:\n";
  for (const Command& c : kCommands) {
    if (c.summary.empty()) continue;
    std::string name(c.name);
    name.resize(std::max<size_t>(name.size() + 2, 11), ' ');
    out += "  " + name + std::string(c.summary) + "\n";
  }
  out += "\nRun 'spegel <command> --help' for the flags of a command.\n";
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    fputs(Usage().c_str(), args.empty() ? stderr : stdout);
    return args.empty() ? spegel::cli::kExitUsage : spegel::cli::kExitOk;
  }
  const std::string command = args[0];
  args.erase(args.begin());
  for (const Command& c : kCommands) {
    if (c.name == command) return c.run(args);
  }
  fprintf(stderr, "spegel: unknown command \"%s\"\n\n%s", command.c_str(), Usage().c_str());
  return spegel::cli::kExitUsage;
}
