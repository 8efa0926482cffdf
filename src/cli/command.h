// The frame every one-shot `spegel <command>` shares: exit codes, --help, and bad-flag errors.
//
// Threading: single-threaded, at start-up.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "base/status.h"
#include "cli/flags.h"

namespace spegel::cli {

// Exit codes of every command.
constexpr int kExitOk = 0;
constexpr int kExitRuntime =
    1;                         // The command ran and failed (unreachable socket, unwritable path).
constexpr int kExitUsage = 2;  // Bad flags or values; nothing was done.

// The signature of every Parse*Options: on --help, `*help` is set and `*usage` holds the text.
template <typename Options>
using ParseOptionsFn = Result<Options> (*)(const std::vector<std::string>& args,
                                           const EnvLookup& env, bool* help, std::string* usage);

// Parses `args` with `parse`. --help prints the usage on stdout and returns kExitOk; a parse
// error prints "spegel <name>: <message>" on stderr and returns kExitUsage; otherwise returns
// run(options), the command's exit code.
template <typename Options, typename Run>
int RunCommand(const char* name, const std::vector<std::string>& args, const EnvLookup& env,
               ParseOptionsFn<Options> parse, Run run) {
  bool help = false;
  std::string usage;
  Result<Options> options = parse(args, env, &help, &usage);
  if (help) {
    fputs(usage.c_str(), stdout);
    return kExitOk;
  }
  if (!options.ok()) {
    fprintf(stderr, "spegel %s: %s\n", name, options.status().message().c_str());
    return kExitUsage;
  }
  return run(*options);
}

}  // namespace spegel::cli
