// The environment a cli test gives FlagSet: exactly the variables in the map.
#pragma once

#include <map>
#include <string>
#include <utility>

#include "cli/flags.h"

namespace spegel::cli::testing {

inline EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name, std::string* value) {
    auto it = vars.find(name);
    if (it == vars.end()) return false;
    *value = it->second;
    return true;
  };
}

}  // namespace spegel::cli::testing
