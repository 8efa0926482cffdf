// CriClient: a small blocking client of containerd's CRI plugin (Kubernetes CRI API, runtime.v1)
// over containerd's socket. Spegel uses it at startup to read the runtime's version and its CRI
// configuration (verbose Status info, e.g. the "config" key with registry.configPath).
//
// Only the calls Spegel needs; tests use the fuller `cri` tool (tests/tools/cri.cc). Each call has
// a deadline of `timeout`. Thread-safe; construction never blocks.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"

namespace spegel::containerd {

struct CriVersion {
  std::string version;              // CRI API version, e.g. "0.1.0".
  std::string runtime_name;         // "containerd".
  std::string runtime_version;      // e.g. "1.6.20~ds1".
  std::string runtime_api_version;  // "v1".
};

struct CriCondition {
  std::string type;  // "RuntimeReady", "NetworkReady".
  bool status = false;
  std::string reason;
  std::string message;
};

struct CriStatus {
  std::vector<CriCondition> conditions;
  // Only filled for verbose calls. Values are JSON documents; containerd 1.6 puts its CRI plugin
  // configuration under "config".
  std::map<std::string, std::string> info;
};

class CriClient {
 public:
  struct Options {
    std::string socket_path;                    // Required.
    std::chrono::milliseconds timeout{10'000};  // Per-call deadline.
  };

  // REQUIRES: !options.socket_path.empty()
  explicit CriClient(Options options);
  ~CriClient();
  CriClient(const CriClient&) = delete;
  CriClient& operator=(const CriClient&) = delete;

  // RuntimeService.Version. Unimplemented if containerd's CRI plugin is disabled or too old to
  // serve runtime.v1.
  Result<CriVersion> Version();
  // RuntimeService.Status; `verbose` also fills CriStatus::info.
  Result<CriStatus> Status(bool verbose);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace spegel::containerd
