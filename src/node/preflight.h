// Preflight: decides whether this node's containerd can work with Spegel at all, and if not says
// exactly what to change.
//
// Spegel is useless (containerd never asks it, or it has nothing to serve) when:
//   * the CRI registry `config_path` is unset, or does not include the certs.d directory where
//     Spegel writes hosts.toml files (containerd then never reads them);
//   * `discard_unpacked_layers` is true (containerd deletes compressed layers after unpacking);
//   * containerd >= 2.1 hands CRI pulls to the transfer service, which ignores hosts.toml, because
//     `use_local_image_pull` is not true.
// Sources, in order of trust: the CRI `Status` verbose info (the effective configuration; on 1.x
// its "config" JSON holds registry.configPath and containerd.discardUnpackedLayers), then the
// config file (the only place for the 2.x keys such as `use_local_image_pull`), then containerd's
// defaults. The version decides which 2.x rules apply and which config schema a fix names
// (version 2: plugins."io.containerd.grpc.v1.cri"; version 3:
// plugins."io.containerd.cri.v1.images").
//
// Only a definite misconfiguration refuses. When containerd cannot be reached, nothing is judged
// (kUnverified): `spegel registry` logs it and goes on (its syncer retries), because a host whose
// containerd starts later must not be kept down by preflight. What cannot be told for sure (an
// unreadable config file, an unknown version) becomes a warning.
//
// Every external effect is injected (PreflightSources) so tests run on text samples; production
// wires the CRI and containerd clients in main.cc. Threading: plain functions, blocking only as
// long as the sources block; call them at start-up, not on the loop thread.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"

namespace spegel::node {

struct PreflightOptions {
  // The certs.d directory where Spegel writes <host>/hosts.toml.
  std::string registry_config_path = "/etc/containerd/certs.d";
  // containerd's config file: read for the 2.x keys and named in messages.
  std::string containerd_config = "/etc/containerd/config.toml";
};

// What was learned about containerd; each part may have failed on its own.
struct ContainerdFacts {
  // containerd's version, e.g. "1.6.20~ds1" or "v2.1.4".
  Result<std::string> version = Status::Unavailable("not asked");
  // CRI RuntimeService.Status(verbose) info: key -> JSON document.
  Result<std::map<std::string, std::string>> cri_info = Status::Unavailable("not asked");
  // The config file's text; NotFound when the file does not exist.
  Result<std::string> config_text = Status::Unavailable("not asked");
};

enum class PreflightVerdict {
  kPass,        // Nothing definite is wrong (warnings may still say what could not be checked).
  kRefuse,      // A definite misconfiguration: Spegel must not start.
  kUnverified,  // containerd could not be reached: nothing was judged.
};

struct PreflightResult {
  PreflightVerdict verdict = PreflightVerdict::kPass;
  // kRefuse: the whole explanation, several lines: what is wrong, in which file, the exact lines
  // to add, and that containerd must be restarted. Otherwise empty.
  std::string message;
  // One line each; things that may be wrong but could not be decided.
  std::vector<std::string> warnings;
  // For logs: the detected version ("" if unknown) and the config_path in effect ("" if unset
  // or unknown).
  std::string version;
  std::string config_path;
};

// The decision, from facts alone (no I/O).
PreflightResult EvaluatePreflight(const ContainerdFacts& facts, const PreflightOptions& options);

// Where facts come from. Each function blocks with its own deadline and returns an error value
// rather than throwing; Unavailable / DeadlineExceeded mean containerd is not answering.
struct PreflightSources {
  std::function<Result<std::string>()> containerd_version;
  std::function<Result<std::map<std::string, std::string>>()> cri_info;
  std::function<Result<std::string>(const std::string& path)> read_file;
};

ContainerdFacts GatherContainerdFacts(const PreflightSources& sources,
                                      const PreflightOptions& options);

// Gathers, evaluates and logs (one JSON line: "preflight passed", "preflight refused" at ERROR
// with the message, or "preflight could not reach containerd" at WARN; each warning at WARN).
PreflightResult RunPreflight(const PreflightSources& sources, const PreflightOptions& options);

// Reads a config file of at most kMaxConfigBytes. NotFound if it does not exist; InvalidArgument
// if it is not a regular file or too large; PermissionDenied / Unavailable for other errors.
inline constexpr size_t kMaxConfigBytes = 4 << 20;
Result<std::string> ReadConfigFile(const std::string& path);

}  // namespace spegel::node
