// PullCoordinator: what the cluster offers the registry for pull coalescing (claim_table.h): ask
// the primary owner of a key who downloads it, and report how this node's in-flight copies grow.
// ClaimClient implements it over the router API (claims and progress in router_wire.h);
// ClusterNode forwards to its ClaimClient.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "cluster/claim_table.h"

namespace spegel::cluster {

class PullCoordinator {
 public:
  virtual ~PullCoordinator() = default;
  // Claims `key` at its primary owner. `can_serve`: this node can serve its in-flight bytes to
  // peers. `avoid`: node ids whose stream of `key` broke or stalled here (the owner hands them
  // out no more, and bans them unless other readers see them advance). `done` runs once on the
  // loop thread, never inline, within the coordinator's budget; an owner that cannot be reached
  // in time, or refuses, is kDecline (behave as without coalescing).
  virtual void Claim(const std::string& key, bool can_serve, const std::vector<std::string>& avoid,
                     std::function<void(ClaimAnswer)> done) = 0;
  // Sends `reports` to their keys' primary owners (best effort). `on_revoked` runs on the loop
  // thread, never inline, once for each key whose fetch an owner revoked.
  virtual void ReportProgress(std::vector<ProgressReport> reports,
                              std::function<void(const std::string& key)> on_revoked) = 0;
};

}  // namespace spegel::cluster
