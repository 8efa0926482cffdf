// FlagSet: command-line flags with environment-variable twins, for one subcommand.
//
// Every flag `--some-name` has the twin `SOME_NAME`. Precedence: command line, then environment,
// then the default. Accepted forms: `--name value`, `--name=value`; booleans also `--name` alone.
// List flags take comma-separated values (and may be repeated). A value that does not parse is an
// InvalidArgument whose message names the flag (or its variable) and the value; callers exit 2.
//
// Threading: single-threaded use at start-up. Targets passed to the Add* methods must outlive
// Parse().
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/log.h"
#include "base/status.h"

namespace spegel::cli {

// Looks up an environment variable; returns false when unset. Injected for tests.
using EnvLookup = std::function<bool(const std::string& name, std::string* value)>;
EnvLookup ProcessEnv();

// Parses "20ms", "1.5s", "2m", "1h", "500us" (a bare number is rejected: the unit matters).
Result<std::chrono::milliseconds> ParseDuration(std::string_view text);

class FlagSet {
 public:
  FlagSet(std::string command, std::string summary);

  void AddString(std::string name, std::string* target, std::string help);
  // A string that must not be empty.
  void AddRequiredString(std::string name, std::string* target, std::string help);
  void AddDuration(std::string name, std::chrono::milliseconds* target, std::string help);
  void AddInt(std::string name, int64_t* target, int64_t min, int64_t max, std::string help);
  void AddBool(std::string name, bool* target, std::string help);
  void AddList(std::string name, std::vector<std::string>* target, std::string help);
  // Any further validation (runs after the value was stored); its error is reported for the flag.
  void AddValidator(const std::string& name,
                    std::function<Status(const std::string& raw)> validate);

  // Parses `args` (without the program and subcommand names). `*help` is set when --help or -h
  // was given (then nothing else is checked).
  Status Parse(const std::vector<std::string>& args, const EnvLookup& env, bool* help);
  // Parse() for a Parse*Options function: on --help also fills `*usage` (and returns Ok).
  Status ParseOrUsage(const std::vector<std::string>& args, const EnvLookup& env, bool* help,
                      std::string* usage);
  // Usage text: the command, its summary, and each flag with its variable, default and help.
  std::string Usage() const;

  static std::string EnvName(std::string_view flag_name);

  // --log-level (DEBUG, INFO, WARN or ERROR) into `*raw`, validated into `*level`.
  void AddLogLevel(std::string* raw, LogLevel* level);

 private:
  enum class Kind { kString, kRequiredString, kDuration, kInt, kBool, kList };
  struct Flag {
    std::string name;
    Kind kind;
    void* target;
    int64_t min = 0;
    int64_t max = 0;
    std::string help;
    std::string default_text;
    std::function<Status(const std::string&)> validate;
  };
  Flag* Find(std::string_view name);
  void Add(Flag flag);
  Status Apply(Flag& flag, const std::string& value, const std::string& source);

  std::string command_;
  std::string summary_;
  std::vector<Flag> flags_;
};

}  // namespace spegel::cli
