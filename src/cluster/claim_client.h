// ClaimClient: the asking side of pull coalescing, the PullCoordinator the registry uses
// (ClusterNode forwards to it). The owner side is the ClaimTable (claim_table.h).
//
// A key's claim owner is its first owner (rendezvous order) that is this node or a member not
// avoided; the first owner when all are avoided. A claim goes there within claim_timeout_ms:
//   * this node: answered by the local owner side (its own ClaimTable), without a message;
//   * another node: a claim message over the RouterTransport. An owner that fails the request is
//     reported to the Membership, so it is avoided from now on, for claims and progress alike;
//     every node that cannot reach it moves to the same next owner, where their claims still
//     coalesce. That next owner is asked within the same budget, owner_attempts owners in all;
//   * no owner known, no owner left to ask, or the budget spent: kDecline (no coalescing).
// Progress reports go to each key's claim owner, one message per owner; best effort.
//
// Ownership and threading: owned by ClusterNode (by the test or simulation there); the
// scheduler's thread only (the loop thread). Every `done` and `on_revoked` runs on that thread,
// never inline, and none runs after this object is destroyed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "cluster/claim_table.h"
#include "cluster/pull_coordinator.h"
#include "cluster/router.h"
#include "loop/liveness.h"
#include "membership/membership.h"
#include "membership/scheduler.h"

namespace spegel::cluster {

struct ClaimClientOptions {
  // A claim's budget (--mirror-claim-timeout), failovers included; also each message's timeout.
  uint64_t claim_timeout_ms = 250;
  // Owners a claim may ask in turn, within claim_timeout_ms: as many as a key has owners by
  // default, so a key whose first two owners are down still coalesces at the third.
  size_t owner_attempts = 3;
};

struct ClaimClientStats {
  uint64_t requests = 0;   // Claim() calls.
  uint64_t messages = 0;   // Claim messages sent to other nodes, failovers included.
  uint64_t failovers = 0;  // Claims asked again at the next owner.
};

class ClaimClient : public PullCoordinator {
 public:
  // The owners of `key`, best first, this node included when it is one (Router::OwnersOf).
  using OwnersFn = std::function<std::vector<std::string>(std::string_view key)>;
  // This node's own owner side, for the keys whose claim owner it is. Both answer inline.
  struct LocalOwner {
    // This node's claim of `key` (RouterService::AnswerClaim with this node as the asker).
    std::function<ClaimAnswer(const std::string& key, bool can_serve,
                              const std::vector<std::string>& avoid)>
        claim;
    // This node's progress report (ClaimTable::Report); false when its fetch was revoked.
    std::function<bool(const ProgressReport& report)> report;
  };

  // REQUIRES: scheduler, membership and transport outlive this object; `self_id` is this node's.
  ClaimClient(Scheduler* scheduler, Membership* membership, RouterTransport* transport,
              std::string self_id, OwnersFn owners, LocalOwner local,
              ClaimClientOptions options = {});
  ~ClaimClient() override;
  ClaimClient(const ClaimClient&) = delete;
  ClaimClient& operator=(const ClaimClient&) = delete;

  // PullCoordinator (pull_coordinator.h), with the owner choice and failover above.
  void Claim(const std::string& key, bool can_serve, const std::vector<std::string>& avoid,
             std::function<void(ClaimAnswer)> done) override;
  void ReportProgress(std::vector<ProgressReport> reports,
                      std::function<void(const std::string& key)> on_revoked) override;

  // The node is stopping: later claims are kDecline without a message, and progress reports are
  // dropped. Claims in flight finish as they would have.
  void Stop() { stopped_ = true; }
  // This node now goes by `node_id` (a collision resolved by renaming it).
  void SetSelfId(std::string node_id) { self_id_ = std::move(node_id); }

  // The claim owner of `key` now (see above); empty when the key has no owners.
  std::string OwnerOf(std::string_view key) const;
  ClaimClientStats stats() const { return stats_; }

 private:
  struct PendingClaim;

  void Ask(uint64_t id);
  void OnOwnerAnswer(uint64_t id, const std::string& owner_id, Result<ClaimAnswer> answer);
  // Hands `answer` to the claim's `done` and forgets the claim; no-op if it finished already.
  void Finish(uint64_t id, ClaimAnswer answer);
  // Runs `fn` in a later turn of the scheduler; dropped if this object goes first.
  void Later(std::function<void()> fn);

  Scheduler* scheduler_;
  Membership* membership_;
  RouterTransport* transport_;
  std::string self_id_;
  OwnersFn owners_;
  LocalOwner local_;
  ClaimClientOptions options_;
  ClaimClientStats stats_;
  bool stopped_ = false;
  std::unordered_map<uint64_t, std::unique_ptr<PendingClaim>> pending_;  // In flight, by id.
  uint64_t next_claim_ = 1;
  std::unordered_map<uint64_t, std::unique_ptr<ScheduledTask>> deferred_;  // Later() calls.
  uint64_t next_deferred_ = 1;
  Liveness liveness_;  // Transport callbacks do nothing once this object is gone.
};

}  // namespace spegel::cluster
